//! Clip and file routes: metadata (`info`), the clip descriptor (GET, or POST with an access
//! code), file metadata, and the content download (`POST /api/file/:id`, the only request
//! that claims a download of a one-time or limited clip; its answer carries the claim token
//! in `X-Qopy-Claim`, which resumes it). Failed lookups and wrong access codes count against
//! the failure budgets.

use super::body::{streaming_response, streaming_response_then};
use super::{json, parse_json, ApiError, Ctx, Req, Response, State, NOSNIFF};
use crate::api;
use crate::model::{ClipId, ClipMeta, ContentKind};
use crate::net::Delivery;
use crate::service::Content;
use crate::service::ServiceError;
use bytes::Bytes;
use http::header::{ACCEPT_RANGES, CACHE_CONTROL, CONTENT_DISPOSITION, CONTENT_LENGTH};
use http::header::{CONTENT_RANGE, CONTENT_TYPE, ETAG};
use http::{HeaderMap, HeaderValue, StatusCode};
use serde::Deserialize;
use serde_json::Value;
use std::net::IpAddr;

fn parse_id(s: &str) -> Result<ClipId, ApiError> {
    ClipId::parse(s).map_err(ApiError::validation)
}

/// Parses the clip ID of a lookup (whose rate limit the route table checked) and refuses it
/// while the address is blocked for failed lookups.
pub(super) fn begin(r: &Req) -> Result<ClipId, ApiError> {
    let id = parse_id(r.param(0))?;
    r.state.limits.check_not_blocked(r.ip, id.is_quick())?;
    Ok(id)
}

/// Maps a service error and counts it as a failure when it is one an attacker learns from.
pub(super) fn fail(state: &State, ip: IpAddr, id: &ClipId, e: ServiceError, ctx: Ctx) -> ApiError {
    if matches!(e, ServiceError::NotFound | ServiceError::AccessDenied) {
        state
            .limits
            .record_failure(ip, id.is_quick() || matches!(e, ServiceError::AccessDenied));
    }
    ApiError::from_service(e, ctx)
}

fn has_password(c: &ClipMeta) -> bool {
    !c.quick_share && c.access.is_some()
}

/// The clip a lookup names, live; a miss counts against the failure budget.
async fn live(r: &Req, ctx: Ctx) -> Result<std::sync::Arc<ClipMeta>, ApiError> {
    let id = begin(r)?;
    r.state
        .qopy
        .live_clip(&id)
        .await
        .map_err(|e| fail(&r.state, r.ip, &id, e, ctx))
}

/// `GET /api/clip/:id/info`. Never consumes.
pub async fn clip_info(r: Req) -> Result<Response, ApiError> {
    let c = live(&r, Ctx::Clip).await?;
    let left = r
        .state
        .qopy
        .downloads_left(&c)
        .await
        .map_err(|e| ApiError::from_service(e, Ctx::Clip))?;
    Ok(json(&api::ClipInfo {
        clip_id: c.id.as_str().to_string(),
        content_type: c.kind.as_str().to_string(),
        downloads_remaining: left,
        encrypted: !c.plaintext,
        expires_at: c.expires_at,
        has_password: has_password(&c),
        max_downloads: c.max_downloads,
        one_time: c.one_time(),
        quick_share: c.quick_share,
        success: true,
    }))
}

fn descriptor(c: &ClipMeta) -> Response {
    json(&api::ClipDescriptor {
        content_type: c.kind.as_str().to_string(),
        encrypted: !c.plaintext,
        expires_at: c.expires_at,
        filename: crate::names::for_output(&c.filename),
        filesize: c.size,
        is_text_file: (c.kind == ContentKind::Text).then_some(true),
        mime_type: c.mime.clone(),
        one_time: c.one_time(),
        redirect_to: format!("/api/file/{}", c.id),
        success: true,
    })
}

/// `GET /api/clip/:id`: the descriptor, or 401 when an access code is needed.
pub async fn get_clip(r: Req) -> Result<Response, ApiError> {
    let c = live(&r, Ctx::Clip).await?;
    if c.access.is_some() {
        return Err(ApiError::use_post_for_access_code());
    }
    Ok(descriptor(&c))
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct AccessBody {
    access_code: Option<Value>,
}

fn access_code(body: &Bytes) -> Result<Option<String>, ApiError> {
    let b: AccessBody = parse_json(body)?;
    match b.access_code {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(ApiError::validation("accessCode must be a string")),
    }
}

/// The clip ID and the access code of a request with an `{accessCode}` body. Access codes
/// are guessable: while the server-wide failure budget is used up, no address may try one.
async fn with_access_code(r: &mut Req) -> Result<(ClipId, Option<String>), ApiError> {
    let id = begin(r)?;
    let code = access_code(&r.small_body().await?)?;
    if code.is_some() {
        r.state.limits.check_not_blocked(r.ip, true)?;
    }
    Ok((id, code))
}

/// `POST /api/clip/:id` with `{accessCode}`.
pub async fn post_clip(mut r: Req) -> Result<Response, ApiError> {
    let (id, code) = with_access_code(&mut r).await?;
    let c = r
        .state
        .qopy
        .open_clip(&id, code.as_deref())
        .await
        .map_err(|e| fail(&r.state, r.ip, &id, e, Ctx::Clip))?;
    Ok(descriptor(&c))
}

/// `GET /api/file/:id/info` (file clips only).
pub async fn file_info(r: Req) -> Result<Response, ApiError> {
    let id = begin(&r)?;
    let c = r
        .state
        .qopy
        .live_clip(&id)
        .await
        .and_then(|c| {
            if c.kind == ContentKind::File {
                Ok(c)
            } else {
                Err(ServiceError::NotFound)
            }
        })
        .map_err(|e| fail(&r.state, r.ip, &id, e, Ctx::File))?;
    Ok(json(&api::FileInfo {
        clip_id: c.id.as_str().to_string(),
        encrypted: !c.plaintext,
        expires_at: c.expires_at,
        filename: crate::names::for_output(&c.filename),
        filesize: c.size,
        has_password: has_password(&c),
        mime_type: c.mime.clone(),
        one_time: c.one_time(),
        success: true,
    }))
}

/// A file name safe inside a quoted `Content-Disposition` value: the name rule of
/// [`crate::names`] (also for records stored before it), less double quotes, at most 255
/// characters, `download` if nothing is left. Non-ASCII goes into the RFC 5987 `filename*`
/// form.
pub fn disposition(name: &str) -> String {
    // A quote would end the quoted form early: it goes before the rule, which then trims
    // what it leaves.
    let unquoted: String = name.chars().filter(|c| *c != '"').collect();
    let cleaned = crate::names::for_output(&unquoted);
    let ascii: String = cleaned
        .chars()
        .map(|c| if c.is_ascii() { c } else { '_' })
        .collect();
    let mut out = format!("attachment; filename=\"{ascii}\"");
    if ascii != cleaned {
        // Everything but letters, digits and `-._~` is escaped (a subset of RFC 5987's
        // attr-char, so every reader takes it).
        const ATTR: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
            .remove(b'-')
            .remove(b'.')
            .remove(b'_')
            .remove(b'~');
        let encoded = percent_encoding::utf8_percent_encode(&cleaned, ATTR);
        out.push_str(&format!("; filename*=UTF-8''{encoded}"));
    }
    out
}

/// `X-Qopy-Claim`: the token of a download claim, sent with the answer that took it and
/// by its reader to resume.
pub(super) const CLAIM: http::HeaderName = http::HeaderName::from_static("x-qopy-claim");

/// `POST /api/file/:id`: the content, streamed from the mapped chunk files.
pub async fn download(mut r: Req) -> Result<Response, ApiError> {
    let (id, code) = with_access_code(&mut r).await?;
    let token = r.header_owned(CLAIM.as_str())?;
    let d = r
        .state
        .qopy
        .download(id, code, token)
        .await
        .map_err(|e| fail(&r.state, r.ip, &id, e, Ctx::File))?;
    Ok(content_response(d, &r))
}

/// A strong validator of a clip's content: its bytes never change while its ID, creation
/// time and size stay the same. Hashed, so the ID does not appear in caches' keys.
fn etag(c: &ClipMeta) -> String {
    use sha2::Digest;
    let mut h = sha2::Sha256::new();
    h.update(c.id.as_str().as_bytes());
    h.update(c.created_at.to_le_bytes());
    h.update(c.size.to_le_bytes());
    format!("\"{}\"", hex::encode(&h.finalize()[..12]))
}

/// What a `Range` header asks of `len` bytes (RFC 9110 §14): `None` for the whole content (no
/// header, not one `bytes=` range, a malformed one, or an `If-Range` that does not match
/// `etag`); `Some(None)` when the range is unsatisfiable; else the first and last byte.
fn requested_range(headers: &HeaderMap, len: u64, etag: &str) -> Option<Option<(u64, u64)>> {
    let range = headers.get(http::header::RANGE)?.to_str().ok()?;
    if let Some(v) = headers.get(http::header::IF_RANGE) {
        if v.as_bytes() != etag.as_bytes() {
            return None;
        }
    }
    let spec = range.trim().strip_prefix("bytes=")?.trim();
    let (first, last) = spec.split_once('-')?;
    let number = |s: &str| -> Option<u64> {
        let s = s.trim();
        (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse().ok())
            .flatten()
    };
    if first.trim().is_empty() {
        // A suffix: the last n bytes.
        let n = number(last)?;
        return Some((n > 0 && len > 0).then(|| (len - n.min(len), len - 1)));
    }
    let start = number(first)?;
    let end = match last.trim() {
        "" => u64::MAX,
        l => number(l)?,
    };
    if end < start {
        return None;
    }
    Some((start < len).then(|| (start, end.min(len - 1))))
}

/// The streaming response of a download, with its headers: the whole content, or the one
/// byte range the request's `Range` asks for (206; 416 when it is past the end). A download
/// of a limited clip carries its claim: a new one's token goes in `X-Qopy-Claim`, and the
/// claim ends once the reader has received the content's last byte: once the connection has
/// been handed it and the peer's TCP has acknowledged everything (a connection broken
/// before that leaves the claim open, to be resumed).
pub fn content_response(d: crate::service::Download, r: &Req) -> Response {
    let request = r.headers();
    let len = d.len();
    let name = disposition(&d.clip.filename);
    let tag = etag(&d.clip);
    let mut claim = d.claim;
    let token = claim.as_mut().and_then(|c| c.new_token.take());
    let range = match requested_range(request, len, &tag) {
        // The answer that took a claim must reach its reader with the token: whole, not 416.
        Some(None) if token.is_some() => None,
        r => r,
    };
    // A claim ends with the answer that carries the last byte (an empty content: any answer).
    let ends = match range {
        None | Some(None) => true,
        Some(Some((_, last))) => last + 1 == len,
    };
    let body = |content: Content| match claim.filter(|_| ends) {
        Some(c) => {
            let delivery = Delivery::of(r.conn()).ok();
            let patience = r.state.qopy.config().claim_window;
            streaming_response_then(content, move || {
                c.finish_when(async move {
                    match delivery {
                        Some(d) => d.delivered(patience).await,
                        None => true,
                    }
                })
            })
        }
        None => streaming_response(content),
    };
    let (mut resp, sent) = match range {
        None => (body(d.content), len),
        Some(None) => return ApiError::range_not_satisfiable(len),
        Some(Some((first, last))) => {
            let mut resp = body(d.content.slice(first, last));
            *resp.status_mut() = StatusCode::PARTIAL_CONTENT;
            let value = format!("bytes {first}-{last}/{len}");
            if let Ok(v) = HeaderValue::from_str(&value) {
                resp.headers_mut().insert(CONTENT_RANGE, v);
            }
            (resp, last - first + 1)
        }
    };
    let h = resp.headers_mut();
    for (name, value) in [
        (CONTENT_TYPE, "application/octet-stream"),
        (CACHE_CONTROL, "no-cache, no-store, must-revalidate"),
        (NOSNIFF, "nosniff"),
        (ENCRYPTED, if d.clip.plaintext { "false" } else { "true" }),
        (ACCEPT_RANGES, "bytes"),
    ] {
        h.insert(name, HeaderValue::from_static(value));
    }
    h.insert(CONTENT_LENGTH, HeaderValue::from(sent));
    if let Ok(v) = HeaderValue::from_str(&name) {
        h.insert(CONTENT_DISPOSITION, v);
    }
    if let Ok(v) = HeaderValue::from_str(&tag) {
        h.insert(ETAG, v);
    }
    if let Some(v) = token.and_then(|t| HeaderValue::from_str(&t).ok()) {
        h.insert(CLAIM, v);
    }
    resp
}

/// `X-Qopy-Encrypted`: whether a download's bytes are end-to-end encrypted.
const ENCRYPTED: http::HeaderName = http::HeaderName::from_static("x-qopy-encrypted");

/// `GET /api/file/:id`: obsolete, always 410.
pub async fn legacy_get(_: Req) -> Result<Response, ApiError> {
    Err(ApiError::legacy_download())
}

#[cfg(test)]
mod tests {
    use super::{disposition, requested_range};
    use http::HeaderMap;

    fn range(value: &str, if_range: Option<&str>, len: u64) -> Option<Option<(u64, u64)>> {
        let mut h = HeaderMap::new();
        h.insert(http::header::RANGE, value.parse().unwrap());
        if let Some(v) = if_range {
            h.insert(http::header::IF_RANGE, v.parse().unwrap());
        }
        requested_range(&h, len, "\"tag\"")
    }

    #[test]
    fn ranges_are_read_as_rfc_9110_says() {
        for (value, len, want) in [
            ("bytes=0-9", 100, Some(Some((0, 9)))),
            ("bytes=10-", 100, Some(Some((10, 99)))),
            ("bytes=90-200", 100, Some(Some((90, 99)))),
            ("bytes=-10", 100, Some(Some((90, 99)))),
            ("bytes=-500", 100, Some(Some((0, 99)))),
            ("bytes=99-99", 100, Some(Some((99, 99)))),
            // Unsatisfiable: 416.
            ("bytes=100-", 100, Some(None)),
            ("bytes=-0", 100, Some(None)),
            ("bytes=0-", 0, Some(None)),
            // Not one well-formed byte range: the whole content.
            ("bytes=5-1", 100, None),
            ("bytes=0-1,5-6", 100, None),
            ("items=0-1", 100, None),
            ("bytes=a-b", 100, None),
            ("bytes=-", 100, None),
            ("bytes=+1-2", 100, None),
        ] {
            assert_eq!(range(value, None, len), want, "{value} of {len}");
        }
        assert_eq!(range("bytes=0-9", Some("\"tag\""), 100), Some(Some((0, 9))));
        assert_eq!(range("bytes=0-9", Some("\"old\""), 100), None);
        assert_eq!(requested_range(&HeaderMap::new(), 100, "\"tag\""), None);
    }

    #[test]
    fn disposition_is_safe() {
        assert_eq!(disposition("a.txt"), "attachment; filename=\"a.txt\"");
        assert_eq!(disposition("../x\"y\r\n"), "attachment; filename=\".._xy\"");
        assert_eq!(disposition(""), "attachment; filename=\"download\"");
        assert_eq!(disposition("\r\n"), "attachment; filename=\"download\"");
        assert_eq!(disposition("\"\""), "attachment; filename=\"download\"");
        // Stored before the name rule: bidi and other format characters never get out.
        assert_eq!(
            disposition("\u{202E}txt.exe"),
            "attachment; filename=\"txt.exe\""
        );
        assert_eq!(
            disposition("a\u{2066}b\u{200D}c\0d"),
            "attachment; filename=\"abc_d\""
        );
        assert!(disposition("grüße.txt").contains("filename*=UTF-8''gr%C3%BC%C3%9Fe.txt"));
        assert_eq!(
            disposition(&"a".repeat(400)).len(),
            "attachment; filename=\"\"".len() + 255
        );
    }
}
