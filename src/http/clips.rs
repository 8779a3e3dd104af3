//! Clip and file routes: metadata (`info`), the clip descriptor (GET, or POST with an access
//! code), file metadata, and the content download (`POST /api/file/:id`, the only request
//! that consumes a one-time clip). Failed lookups and wrong access codes count against the
//! failure budgets.

use super::body::streaming_response;
use super::guard::Class;
use super::{ok_json, parse_json, serialized_json, ApiError, Ctx, Response, State};
use crate::model::{ClipId, ClipMeta, ContentKind};
use crate::service::ServiceError;
use bytes::Bytes;
use http::{HeaderValue, StatusCode};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::net::IpAddr;

fn parse_id(s: &str) -> Result<ClipId, ApiError> {
    ClipId::parse(s).map_err(ApiError::validation)
}

/// Checks the limits of a lookup, parses the ID, and returns whether it is guessable.
pub(super) fn begin(
    state: &State,
    ip: IpAddr,
    class: Class,
    raw: &str,
) -> Result<ClipId, ApiError> {
    state.limits.check(class, ip)?;
    let id = parse_id(raw)?;
    state.limits.check_not_blocked(ip, id.is_quick())?;
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

/// `GET /api/clip/:id/info`. Never consumes.
pub async fn clip_info(state: State, ip: IpAddr, raw: String) -> Result<Response, ApiError> {
    let id = begin(&state, ip, Class::Lookup, &raw)?;
    let c = state
        .qopy
        .live_clip(&id)
        .await
        .map_err(|e| fail(&state, ip, &id, e, Ctx::Clip))?;
    Ok(serialized_json(&ClipInfo {
        clip_id: c.id.as_str(),
        content_type: c.kind.as_str(),
        encrypted: !c.plaintext,
        expires_at: c.expires_at,
        has_password: has_password(&c),
        one_time: c.one_time,
        quick_share: c.quick_share,
        success: true,
    }))
}

/// The body of `GET /api/clip/:id/info`, the most frequent request: serialized straight
/// from this struct (fields in the alphabetical order of the other JSON bodies).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ClipInfo<'a> {
    clip_id: &'a str,
    content_type: &'static str,
    encrypted: bool,
    expires_at: u64,
    has_password: bool,
    one_time: bool,
    quick_share: bool,
    success: bool,
}

fn descriptor(c: &ClipMeta) -> Value {
    let mut v = json!({
        "success": true,
        "contentType": c.kind.as_str(),
        "redirectTo": format!("/api/file/{}", c.id),
        "filename": crate::names::for_output(&c.filename),
        "filesize": c.size,
        "mimeType": c.mime,
        "expiresAt": c.expires_at,
        "oneTime": c.one_time,
        "encrypted": !c.plaintext,
    });
    if c.kind == ContentKind::Text {
        v["isTextFile"] = json!(true);
    }
    v
}

/// `GET /api/clip/:id`: the descriptor, or 401 when an access code is needed.
pub async fn get_clip(state: State, ip: IpAddr, raw: String) -> Result<Response, ApiError> {
    let id = begin(&state, ip, Class::Lookup, &raw)?;
    let c = state
        .qopy
        .live_clip(&id)
        .await
        .map_err(|e| fail(&state, ip, &id, e, Ctx::Clip))?;
    if c.access.is_some() {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "Access code required",
            "This clip requires an access code. Use POST request with access code.",
        )
        .with(json!({ "requiresAccessCode": true })));
    }
    Ok(ok_json(descriptor(&c)))
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

/// `POST /api/clip/:id` with `{accessCode}`.
pub async fn post_clip(
    state: State,
    ip: IpAddr,
    raw: String,
    body: Bytes,
) -> Result<Response, ApiError> {
    let id = begin(&state, ip, Class::Lookup, &raw)?;
    let code = access_code(&body)?;
    if code.is_some() {
        // Access codes are guessable: while the server-wide failure budget is used up, no
        // address may try one.
        state.limits.check_not_blocked(ip, true)?;
    }
    let c = state
        .qopy
        .open_clip(&id, code.as_deref())
        .await
        .map_err(|e| fail(&state, ip, &id, e, Ctx::Clip))?;
    Ok(ok_json(descriptor(&c)))
}

/// `GET /api/file/:id/info` (file clips only).
pub async fn file_info(state: State, ip: IpAddr, raw: String) -> Result<Response, ApiError> {
    let id = begin(&state, ip, Class::Download, &raw)?;
    let c = state
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
        .map_err(|e| fail(&state, ip, &id, e, Ctx::File))?;
    Ok(ok_json(json!({
        "success": true,
        "clipId": c.id.as_str(),
        "filename": crate::names::for_output(&c.filename),
        "filesize": c.size,
        "mimeType": c.mime,
        "expiresAt": c.expires_at,
        "oneTime": c.one_time,
        "hasPassword": has_password(&c),
        "encrypted": !c.plaintext,
    })))
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
pub async fn download(
    state: State,
    ip: IpAddr,
    raw: String,
    body: Bytes,
) -> Result<Response, ApiError> {
    let id = begin(&state, ip, Class::Download, &raw)?;
    let code = access_code(&body)?;
    if code.is_some() {
        // Access codes are guessable: while the server-wide failure budget is used up, no
        // address may try one.
        state.limits.check_not_blocked(ip, true)?;
    }
    let d = state
        .qopy
        .download(id, code)
        .await
        .map_err(|e| fail(&state, ip, &id, e, Ctx::File))?;
    Ok(content_response(d))
}

/// The streaming response of a download, with its headers.
pub fn content_response(d: crate::service::Download) -> Response {
    let len = d.len();
    let name = disposition(&d.clip.filename);
    let mut resp = streaming_response(d.parts);
    let h = resp.headers_mut();
    h.insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    h.insert(http::header::CONTENT_LENGTH, HeaderValue::from(len));
    if let Ok(v) = HeaderValue::from_str(&name) {
        h.insert(http::header::CONTENT_DISPOSITION, v);
    }
    h.insert(
        http::header::CACHE_CONTROL,
        HeaderValue::from_static("no-cache, no-store, must-revalidate"),
    );
    h.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        "x-qopy-encrypted",
        HeaderValue::from_static(if d.clip.plaintext { "false" } else { "true" }),
    );
    resp
}

/// `GET /api/file/:id`: obsolete, always 410.
pub async fn legacy_get(state: State, ip: IpAddr) -> Result<Response, ApiError> {
    state.limits.check(Class::Download, ip)?;
    Err(ApiError::new(
        StatusCode::GONE,
        "Unauthenticated downloads disabled",
        "File downloads now require authentication. Please use the web interface.",
    )
    .with(
        json!({ "hint": "This security measure prevents unauthorized access to encrypted files." }),
    ))
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
