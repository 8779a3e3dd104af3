//! Clip and file routes: metadata (`info`), the clip descriptor (GET, or POST with an access
//! code), file metadata, and the content download (`POST /api/file/:id`, the only request
//! that consumes a one-time clip). Failed lookups and wrong access codes count against the
//! failure budgets.

use super::body::streaming_response;
use super::{json, parse_json, ApiError, Ctx, Req, Response, State, NOSNIFF};
use crate::api;
use crate::model::{ClipId, ClipMeta, ContentKind};
use crate::service::ServiceError;
use bytes::Bytes;
use http::header::{CACHE_CONTROL, CONTENT_DISPOSITION, CONTENT_LENGTH, CONTENT_TYPE};
use http::HeaderValue;
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
    Ok(json(&api::ClipInfo {
        clip_id: c.id.as_str().to_string(),
        content_type: c.kind.as_str().to_string(),
        encrypted: !c.plaintext,
        expires_at: c.expires_at,
        has_password: has_password(&c),
        one_time: c.one_time,
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
        one_time: c.one_time,
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
        one_time: c.one_time,
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

/// `POST /api/file/:id`: the content, streamed from the mapped chunk files.
pub async fn download(mut r: Req) -> Result<Response, ApiError> {
    let (id, code) = with_access_code(&mut r).await?;
    let d = r
        .state
        .qopy
        .download(id, code)
        .await
        .map_err(|e| fail(&r.state, r.ip, &id, e, Ctx::File))?;
    Ok(content_response(d))
}

/// The streaming response of a download, with its headers.
pub fn content_response(d: crate::service::Download) -> Response {
    let len = d.len();
    let name = disposition(&d.clip.filename);
    let mut resp = streaming_response(d.parts);
    let h = resp.headers_mut();
    for (name, value) in [
        (CONTENT_TYPE, "application/octet-stream"),
        (CACHE_CONTROL, "no-cache, no-store, must-revalidate"),
        (NOSNIFF, "nosniff"),
        (ENCRYPTED, if d.clip.plaintext { "false" } else { "true" }),
    ] {
        h.insert(name, HeaderValue::from_static(value));
    }
    h.insert(CONTENT_LENGTH, HeaderValue::from(len));
    if let Ok(v) = HeaderValue::from_str(&name) {
        h.insert(CONTENT_DISPOSITION, v);
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
    use super::disposition;

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
