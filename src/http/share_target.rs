//! `POST /share-target`: where an installed Qopy's share sheet posts what another app shares
//! (the manifest's `share_target`). The app's service worker (`/share-worker.js`) answers
//! that POST inside the browser, so what is shared reaches the server only once the page has
//! encrypted it. A POST that arrives here was not taken by the worker: the origin is plain
//! HTTP (no service workers there), or the app page was never opened in this browser. It is
//! answered with a 400 that says so (a page for a browser, JSON otherwise), and its body is
//! read and dropped, never stored.

use super::{respond, ApiError, Req, Response};
use futures_util::StreamExt;
use http::header::{CACHE_CONTROL, CONTENT_TYPE};
use http::StatusCode;

/// The most bytes of the body read (and dropped) before answering: a browser still sending
/// would otherwise see its connection reset rather than the explanation. Past that the
/// answer goes out and the connection closes.
const DRAIN_LIMIT: usize = 16 * 1024 * 1024;

/// The explanation, in the JSON answer and on the page.
pub const MESSAGE: &str = "Sharing into Qopy needs HTTPS: the app page's service worker \
takes what is shared and keeps it in the browser until the page has encrypted it, and \
browsers run service workers only on secure origins. Serve Qopy over HTTPS (the built-in tls \
setting or a reverse proxy), open its page once, and share again. Nothing was stored.";

const PAGE: &str = "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
<title>Sharing needs HTTPS — Qopy</title><link rel=\"stylesheet\" href=\"/css/app.css\">\
</head><body><main class=\"card\" id=\"main\"><h1>Sharing into Qopy needs HTTPS</h1>\
<p>Sharing into Qopy needs HTTPS: the app page's service worker takes what is shared and \
keeps it in the browser until the page has encrypted it, and browsers run service workers \
only on secure origins.</p><p>Serve Qopy over HTTPS (the built-in <code>tls</code> setting \
or a reverse proxy), open its page once, and share again. Nothing was stored.</p>\
<p><a href=\"/\">Open Qopy</a></p></main></body></html>";

/// Reads up to [`DRAIN_LIMIT`] bytes of the body and drops them.
async fn drain(r: &mut Req) {
    let mut body = r.body();
    let mut read = 0usize;
    while read <= DRAIN_LIMIT {
        match body.next().await {
            Some(Ok(piece)) => read += piece.len(),
            _ => break,
        }
    }
}

/// `POST /share-target`: always a 400 with the explanation.
pub async fn refuse(mut r: Req) -> Result<Response, ApiError> {
    let wants_html = r
        .headers()
        .get(http::header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("text/html"));
    drain(&mut r).await;
    if wants_html {
        return Ok(respond(
            StatusCode::BAD_REQUEST,
            PAGE,
            &[
                (CONTENT_TYPE, "text/html; charset=utf-8"),
                (CACHE_CONTROL, "no-store"),
            ],
        ));
    }
    Err(ApiError::new(
        StatusCode::BAD_REQUEST,
        "Sharing needs HTTPS",
        MESSAGE,
    ))
}
