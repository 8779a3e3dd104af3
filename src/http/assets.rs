//! The browser client's files, compiled into the binary with rust-embed. Pages are revalidated
//! on every load (`no-cache` with an ETag); other assets carry an ETag from their content hash
//! and a day's cache lifetime. Deep links `/clip/:id` and `/file/:id` serve the app page.

use super::{ApiError, Req, Response};
use http::{HeaderValue, StatusCode};
use rust_embed::RustEmbed;

#[derive(RustEmbed)]
#[folder = "assets/"]
struct Assets;

fn etag_of(file: &rust_embed::EmbeddedFile) -> String {
    format!("\"{}\"", hex::encode(&file.metadata.sha256_hash()[..12]))
}

fn respond(path: &str, if_none_match: Option<String>) -> Option<Response> {
    let file = Assets::get(path)?;
    let etag = etag_of(&file);
    let is_page = path.ends_with(".html");
    let cache = if is_page {
        "no-cache"
    } else {
        "public, max-age=86400"
    };
    let mut resp = if if_none_match.as_deref() == Some(etag.as_str()) {
        let mut r = Response::new(Default::default());
        *r.status_mut() = StatusCode::NOT_MODIFIED;
        r
    } else {
        let mut r = Response::new(super::body::full(file.data.into_owned()));
        let mime = mime_guess::from_path(path).first_or_octet_stream();
        let ct = if mime.type_() == "text" || mime.subtype() == "javascript" {
            format!("{mime}; charset=utf-8")
        } else {
            mime.to_string()
        };
        if let Ok(v) = HeaderValue::from_str(&ct) {
            r.headers_mut().insert(http::header::CONTENT_TYPE, v);
        }
        r
    };
    let h = resp.headers_mut();
    h.insert(http::header::CACHE_CONTROL, HeaderValue::from_static(cache));
    if let Ok(v) = HeaderValue::from_str(&etag) {
        h.insert(http::header::ETAG, v);
    }
    Some(resp)
}

/// A page by file name.
pub fn page(name: &str, if_none_match: Option<String>) -> Result<Response, ApiError> {
    respond(name, if_none_match).ok_or_else(ApiError::not_found)
}

/// `GET /`: the app page.
pub async fn index(r: Req) -> Result<Response, ApiError> {
    page("index.html", r.header_owned("if-none-match")?)
}

/// `/clip/:id` and `/file/:id`: the app page for a well-formed ID (any letter case).
pub fn deep_link(id: &str, if_none_match: Option<String>) -> Result<Response, ApiError> {
    let ok = (id.len() == 6 || id.len() == 10) && id.bytes().all(|c| c.is_ascii_alphanumeric());
    if !ok {
        return Err(ApiError::not_found());
    }
    page("index.html", if_none_match)
}

/// `/admin`: the dashboard, or 503 when no admin token is configured.
pub async fn admin_page(r: Req) -> Result<Response, ApiError> {
    if r.state.qopy.config().admin_token.is_none() {
        return Ok(super::respond(
            StatusCode::SERVICE_UNAVAILABLE,
            "<!doctype html><title>Qopy admin</title><p>The admin dashboard is disabled: set \
             admin_token (QOPY_ADMIN_TOKEN or --admin-token) to enable it.</p>",
            &[(http::header::CONTENT_TYPE, "text/html; charset=utf-8")],
        ));
    }
    page("admin.html", r.header_owned("if-none-match")?)
}

/// True when `path` names an embedded file that may be served by its path (no directory
/// listing, no parent references, no hidden files).
pub fn is_servable(path: &str) -> bool {
    !path.is_empty()
        && !path
            .split('/')
            .any(|seg| seg.is_empty() || seg.starts_with('.'))
        && exists(path)
}

/// `GET /{asset}`: any other embedded file by path (the route table matched it by
/// [`is_servable`]).
pub async fn asset(r: Req) -> Result<Response, ApiError> {
    respond(r.param(0), r.header_owned("if-none-match")?).ok_or_else(ApiError::not_found)
}

/// True when `path` names an embedded file.
pub fn exists(path: &str) -> bool {
    Assets::get(path).is_some()
}
