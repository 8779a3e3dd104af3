//! One-shot upload routes for scripts, and the raw reading of what they create.
//!
//! - `PUT /` and `PUT /:filename` with the raw body (`curl -T file host/`, `curl -T - host/`),
//!   `POST /` with a multipart field `file` (`curl -F file=@x host/`) or a raw body
//!   (`curl --data-binary @- host/`). Options come from the query (`expiry`, `oneTime`,
//!   `quickShare`) or the headers `X-Qopy-Expiry`, `X-Qopy-One-Time`, `X-Qopy-Quick-Share`.
//!   The answer is the clip URL as plain text with a trailing newline.
//! - `GET /file/:id` (and `/clip/:id`) from a client that does not accept HTML gets the bytes
//!   of an unencrypted clip. A one-time clip is never consumed by a GET (link scanners and
//!   previews send GETs): the answer is a 409 with a plain-text hint to `curl -X POST` the URL,
//!   and `POST /file/:id` downloads and consumes it. Browsers, encrypted clips and unknown IDs
//!   keep getting the app page, exactly as before.

use super::body::body_stream;
use super::clips::{begin, content_response, fail, CLAIM};
use super::guard::Class;
use super::{assets, base_url, respond, ApiError, Ctx, Req, Response, State};
use crate::model::ClipId;
use crate::service::{OneShotRequest, ServiceError};
use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use http::header::{CACHE_CONTROL, CONTENT_TYPE};
use http::{HeaderMap, HeaderValue, StatusCode};
use std::collections::HashMap;

fn header<'a>(h: &'a HeaderMap, name: &str) -> Option<&'a str> {
    h.get(name).and_then(|v| v.to_str().ok()).map(str::trim)
}

fn flag(v: Option<&str>, name: &str) -> Result<bool, ApiError> {
    match v.map(str::to_ascii_lowercase).as_deref() {
        None | Some("") | Some("0") | Some("false") | Some("no") | Some("off") => Ok(false),
        Some("1") | Some("true") | Some("yes") | Some("on") => Ok(true),
        Some(_) => Err(ApiError::validation(format!(
            "{name} must be 1, 0, true, false, yes or no"
        ))),
    }
}

/// The options of a one-shot upload, query parameters first, then headers.
fn options(
    query: &HashMap<String, String>,
    headers: &HeaderMap,
    filename: Option<String>,
) -> Result<OneShotRequest, ApiError> {
    let q = |names: &[&str]| names.iter().find_map(|n| query.get(*n).map(String::as_str));
    Ok(OneShotRequest {
        filename,
        mime: header(headers, "content-type").map(str::to_string),
        expiry: q(&["expiry", "expiration"])
            .or_else(|| header(headers, "x-qopy-expiry"))
            .map(str::to_string),
        max_downloads: crate::model::download_limit(
            flag(
                q(&["oneTime", "one_time"]).or_else(|| header(headers, "x-qopy-one-time")),
                "oneTime",
            )?,
            match q(&["maxDownloads", "max_downloads"])
                .or_else(|| header(headers, "x-qopy-max-downloads"))
            {
                None | Some("") => None,
                Some(v) => Some(v.parse().map_err(|_| {
                    ApiError::validation("maxDownloads must be an integer from 1 to 1000")
                })?),
            },
        )
        .map_err(ApiError::validation)?,
        quick_share: flag(
            q(&["quickShare", "quick_share"]).or_else(|| header(headers, "x-qopy-quick-share")),
            "quickShare",
        )?,
        content_length: header(headers, "content-length").and_then(|v| v.parse().ok()),
    })
}

fn text(status: StatusCode, body: String) -> Response {
    respond(
        status,
        body,
        &[
            (CONTENT_TYPE, "text/plain; charset=utf-8"),
            (CACHE_CONTROL, "no-store"),
        ],
    )
}

async fn store<S>(
    state: &State,
    host: Option<&str>,
    req: OneShotRequest,
    body: S,
) -> Result<Response, ApiError>
where
    S: Stream<Item = Result<Bytes, ServiceError>> + Unpin + Send,
{
    let clip = state
        .qopy
        .oneshot(req, body)
        .await
        .map_err(|e| ApiError::from_service(e, Ctx::Upload))?;
    let url = format!("{}/file/{}", base_url(state, host), clip.id);
    let mut r = text(StatusCode::OK, format!("{url}\n"));
    let h = r.headers_mut();
    h.insert("x-qopy-expires-at", HeaderValue::from(clip.expires_at));
    if let Ok(v) = HeaderValue::from_str(&url) {
        h.insert(http::header::LOCATION, v);
    }
    Ok(r)
}

/// `PUT /` and `PUT /:filename`: the raw body is the content.
pub async fn put(mut r: Req) -> Result<Response, ApiError> {
    let raw = r.param(0);
    let filename = if raw.is_empty() {
        None
    } else {
        Some(
            percent_encoding::percent_decode_str(raw)
                .decode_utf8()
                .map_err(|_| ApiError::validation("the file name must be UTF-8"))?
                .into_owned(),
        )
    };
    let req = options(&r.query(), r.headers(), filename)?;
    let body = body_stream(r.body());
    store(&r.state, header(r.headers(), "host"), req, body).await
}

/// `POST /`: multipart with a `file` field, or a raw body.
pub async fn post(mut r: Req) -> Result<Response, ApiError> {
    let body = r.body();
    let (state, query, headers) = (&r.state, r.query(), r.headers());
    let host = header(headers, "host");
    let boundary = header(headers, "content-type").and_then(|ct| multer::parse_boundary(ct).ok());
    let Some(boundary) = boundary else {
        let req = options(&query, headers, None)?;
        return store(state, host, req, body_stream(body)).await;
    };
    let mut req = options(&query, headers, None)?;
    // The multipart framing is not content: the length limit applies to the part.
    req.content_length = None;
    let limit = state.qopy.max_oneshot_size();
    let constraints = multer::Constraints::new()
        .size_limit(multer::SizeLimit::new().whole_stream(limit.saturating_add(64 * 1024)));
    let mut form = multer::Multipart::with_constraints(body, boundary, constraints);
    let malformed = |e: multer::Error| match e {
        multer::Error::StreamSizeExceeded { .. } => {
            ApiError::from_service(ServiceError::TooLarge(limit), Ctx::Upload)
        }
        e => ApiError::malformed_multipart(e),
    };
    while let Some(field) = form.next_field().await.map_err(malformed)? {
        if field.name() != Some("file") {
            continue;
        }
        req.filename = field.file_name().map(str::to_string);
        if let Some(m) = field.content_type() {
            req.mime = Some(m.to_string());
        }
        let part = field.map(|r| {
            r.map_err(|e| match e {
                multer::Error::StreamSizeExceeded { .. } => ServiceError::TooLarge(limit),
                e => {
                    tracing::debug!(error = %e, "one-shot multipart read failed");
                    ServiceError::Interrupted
                }
            })
        });
        return store(state, host, req, part).await;
    }
    Err(ApiError::no_file())
}

/// True when the client takes HTML (a browser), so it gets the app page.
fn wants_html(accept: Option<&str>) -> bool {
    accept.is_some_and(|a| a.contains("text/html") || a.contains("application/xhtml"))
}

/// `GET /file/:id` and `GET /clip/:id`: the app page, or the bytes of an unencrypted clip for
/// a client that does not accept HTML. Never consumes.
pub async fn get(r: Req) -> Result<Response, ApiError> {
    let raw = r.param(0);
    let if_none_match = r.header_owned("if-none-match")?;
    let page = || assets::deep_link(raw, if_none_match.clone());
    if wants_html(r.header("accept")?) {
        return page();
    }
    if crate::model::ClipId::parse(raw).is_err() {
        return page();
    }
    // A non-browser GET can tell an unencrypted clip from anything else, so it is a lookup:
    // rate-limited, and a miss counts against the failed-lookup budget (Quick Share IDs are
    // short enough to guess at).
    let (state, ip) = (&r.state, r.ip);
    state.limits.check(Class::Lookup, ip)?;
    let id = begin(&r)?;
    let clip = match state.qopy.live_clip(&id).await {
        Ok(c) => c,
        Err(e) => {
            let _ = fail(state, ip, &id, e, Ctx::File);
            return page();
        }
    };
    if !clip.plaintext {
        return page();
    }
    state.limits.check(Class::Download, ip)?;
    if clip.max_downloads.is_some() {
        let url = format!("{}/file/{}", base_url(state, r.header("host")?), clip.id);
        let what = if clip.one_time() {
            "a one-time clip: the download that reads it deletes it"
        } else {
            "a clip with a download limit: every download counts"
        };
        return Ok(text(
            StatusCode::CONFLICT,
            format!(
                "This is {what}, and a GET never does (link previews and scanners send GETs).\n\
                 To download it, send a POST to the same URL: curl -X POST {url}\n"
            ),
        ));
    }
    raw_download(&r, id).await
}

/// The bytes of an unencrypted clip (a download of a limited clip is claimed, or resumed
/// with its claim token).
async fn raw_download(r: &Req, id: ClipId) -> Result<Response, ApiError> {
    let token = r.header_owned(CLAIM.as_str())?;
    let d = r
        .state
        .qopy
        .download(id, None, token)
        .await
        .map_err(|e| fail(&r.state, r.ip, &id, e, Ctx::File))?;
    if !d.clip.plaintext {
        return Err(ApiError::encrypted_clip());
    }
    Ok(content_response(d, r))
}

/// `POST /file/:id` and `POST /clip/:id`: the bytes of an unencrypted clip, consuming a
/// one-time clip (as `POST /api/file/:id` does).
pub async fn post_download(r: Req) -> Result<Response, ApiError> {
    let id = begin(&r)?;
    let (state, ip) = (&r.state, r.ip);
    // A claimant resumes past the lookup: its clip is hidden from everybody else.
    if r.header(CLAIM.as_str())?.is_none() {
        let clip = state
            .qopy
            .live_clip(&id)
            .await
            .map_err(|e| fail(state, ip, &id, e, Ctx::File))?;
        if !clip.plaintext {
            return Err(ApiError::encrypted_clip());
        }
    }
    raw_download(&r, id).await
}
