//! Upload routes: initiate, chunk (multipart field `chunk` or a raw body, by POST or PUT),
//! complete, status and cancel. Chunk bodies are streamed to disk as they arrive.

use super::body::body_stream;
use super::guard::Class;
use super::{base_url, ok_json, parse_json, ApiError, Ctx, Response, State};
use crate::model::{ContentKind, UploadId};
use crate::service::{CompleteRequest, InitiateRequest, ServiceError};
use bytes::{Buf, Bytes};
use futures_util::{Stream, StreamExt};
use serde::Deserialize;
use serde_json::{json, Value};
use std::net::IpAddr;

/// A JSON boolean, or the strings/numbers express-validator's loose `isBoolean` accepted.
fn loose_bool(v: &Option<Value>, field: &str) -> Result<bool, ApiError> {
    match v {
        None | Some(Value::Null) => Ok(false),
        Some(Value::Bool(b)) => Ok(*b),
        Some(Value::String(s)) if s == "true" || s == "1" => Ok(true),
        Some(Value::String(s)) if s == "false" || s == "0" => Ok(false),
        Some(Value::Number(n)) if n.as_u64() == Some(1) => Ok(true),
        Some(Value::Number(n)) if n.as_u64() == Some(0) => Ok(false),
        _ => Err(ApiError::validation(format!("{field} must be a boolean"))),
    }
}

/// A JSON positive integer (or a string holding one, as some scripts send).
fn loose_u64(v: &Option<Value>, field: &str) -> Result<Option<u64>, ApiError> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n
            .as_u64()
            .map(Some)
            .ok_or_else(|| ApiError::validation(format!("{field} must be a positive integer"))),
        Some(Value::String(s)) => s
            .parse()
            .map(Some)
            .map_err(|_| ApiError::validation(format!("{field} must be a positive integer"))),
        _ => Err(ApiError::validation(format!(
            "{field} must be a positive integer"
        ))),
    }
}

fn opt_string(v: &Option<Value>, field: &str) -> Result<Option<String>, ApiError> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        _ => Err(ApiError::validation(format!("{field} must be a string"))),
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct InitiateBody {
    filename: Option<Value>,
    filesize: Option<Value>,
    total_chunks: Option<Value>,
    mime_type: Option<Value>,
    expiration: Option<Value>,
    has_password: Option<Value>,
    one_time: Option<Value>,
    quick_share: Option<Value>,
    is_text_content: Option<Value>,
    content_type: Option<Value>,
}

/// `POST /api/upload/initiate`.
pub async fn initiate(state: State, ip: IpAddr, body: Bytes) -> Result<Response, ApiError> {
    state.limits.check(Class::Initiate, ip)?;
    let b: InitiateBody = parse_json(&body)?;
    let filename = opt_string(&b.filename, "filename")?
        .ok_or_else(|| ApiError::validation("filename is required"))?;
    let content_type = opt_string(&b.content_type, "contentType")?;
    let is_text_content = loose_bool(&b.is_text_content, "isTextContent")?;
    let text = match content_type.as_deref() {
        None | Some("text") => true,
        Some("file") => false,
        Some(_) => return Err(ApiError::validation("contentType must be text or file")),
    } || is_text_content;
    let req = InitiateRequest {
        filename,
        filesize: loose_u64(&b.filesize, "filesize")?,
        total_chunks: loose_u64(&b.total_chunks, "totalChunks")?,
        mime: opt_string(&b.mime_type, "mimeType")?,
        expiration: opt_string(&b.expiration, "expiration")?,
        has_password: loose_bool(&b.has_password, "hasPassword")?,
        one_time: loose_bool(&b.one_time, "oneTime")?,
        quick_share: loose_bool(&b.quick_share, "quickShare")?,
        text,
    };
    let quick_share = req.quick_share;
    let one_time = req.one_time;
    let r = state
        .qopy
        .initiate(req)
        .await
        .map_err(|e| ApiError::from_service(e, Ctx::Upload))?;
    let id = r.upload_id.to_hex();
    Ok(ok_json(json!({
        "success": true,
        "uploadId": id,
        "chunkSize": r.chunk_size,
        "totalChunks": r.total_chunks,
        "uploadUrl": format!("/api/upload/chunk/{id}"),
        "expiresAt": r.expires_at,
        "quickShare": quick_share,
        "oneTime": one_time,
    })))
}

fn parse_upload_id(s: &str) -> Result<UploadId, ApiError> {
    UploadId::parse(s)
        .ok_or_else(|| ApiError::validation("uploadId must be 16 hexadecimal characters"))
}

/// `POST|PUT /api/upload/chunk/:uploadId/:n`, multipart (field `chunk`) or raw body.
pub async fn chunk<S, B>(
    state: State,
    ip: IpAddr,
    upload: String,
    n: String,
    content_type: Option<String>,
    content_length: Option<u64>,
    body: S,
) -> Result<Response, ApiError>
where
    S: Stream<Item = Result<B, warp::Error>> + Send + Unpin + 'static,
    B: Buf + Send + 'static,
{
    state.limits.check(Class::Chunk, ip)?;
    let id = parse_upload_id(&upload)?;
    let n: u64 = n
        .parse()
        .map_err(|_| ApiError::validation("chunkNumber must be a non-negative integer"))?;
    let q = &state.qopy;
    let err = |e| ApiError::from_service(e, Ctx::Upload);
    let multipart = content_type
        .as_deref()
        .and_then(|ct| multer::parse_boundary(ct).ok());
    if let Some(len) = content_length {
        // Refuse an oversized raw body before reading it (multipart adds its framing).
        let framing = if multipart.is_some() { 16 * 1024 } else { 0 };
        let limit = q.config().chunk_size + crate::service::CHUNK_SLACK + framing;
        if len > limit {
            return Err(err(ServiceError::ChunkTooLarge(limit - framing)));
        }
    }
    let n = u32::try_from(n).unwrap_or(u32::MAX) as u64;
    let r = match multipart {
        Some(boundary) => {
            let stream = body.map(|r| r.map(|mut b| b.copy_to_bytes(b.remaining())));
            let constraints = multer::Constraints::new().size_limit(
                multer::SizeLimit::new().whole_stream(q.config().chunk_size + 64 * 1024),
            );
            let mut form = multer::Multipart::with_constraints(stream, boundary, constraints);
            let too_large = || {
                err(ServiceError::ChunkTooLarge(
                    q.config().chunk_size + crate::service::CHUNK_SLACK,
                ))
            };
            let mut outcome = None;
            loop {
                let field = match form.next_field().await {
                    Ok(Some(f)) => f,
                    Ok(None) => break,
                    Err(multer::Error::StreamSizeExceeded { .. }) => return Err(too_large()),
                    Err(e) => {
                        return Err(ApiError::new(
                            http::StatusCode::BAD_REQUEST,
                            "Upload error",
                            format!("Malformed multipart body: {e}"),
                        ))
                    }
                };
                if field.name() == Some("chunk") && outcome.is_none() {
                    outcome = Some(q.put_chunk(id, n, body_stream(field)).await.map_err(err)?);
                } else if field.file_name().is_some() {
                    return Err(ApiError::new(
                        http::StatusCode::BAD_REQUEST,
                        "Unexpected file",
                        "File field not expected",
                    ));
                }
                // Other text fields (chunkNumber, chunkIndex) are ignored, as by the original.
            }
            outcome.ok_or_else(|| err(ServiceError::NoChunk))?
        }
        None => q.put_chunk(id, n, body_stream(body)).await.map_err(err)?,
    };
    Ok(ok_json(json!({
        "success": true,
        "chunkNumber": r.n,
        "received": true,
        "uploadedChunks": r.received,
        "totalChunks": r.total,
    })))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CompleteBody {
    access_code_hash: Option<Value>,
    requires_access_code: Option<Value>,
    is_text_upload: Option<Value>,
    password: Option<Value>,
}

/// `POST /api/upload/complete/:uploadId`.
pub async fn complete(
    state: State,
    upload: String,
    host: Option<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let id = parse_upload_id(&upload)?;
    let b: CompleteBody = parse_json(&body)?;
    // The original's "new system" body when any of its fields is present, else the legacy
    // rule where `password` carries the hash.
    let new_system = b.access_code_hash.is_some()
        || b.requires_access_code.is_some()
        || b.is_text_upload.is_some();
    let access_hash = if new_system {
        if loose_bool(&b.requires_access_code, "requiresAccessCode")? {
            Some(
                opt_string(&b.access_code_hash, "accessCodeHash")?.ok_or_else(|| {
                    ApiError::validation(
                        "accessCodeHash is required when requiresAccessCode is true",
                    )
                })?,
            )
        } else {
            None
        }
    } else {
        opt_string(&b.password, "password")?.filter(|p| !p.is_empty())
    };
    let done = state
        .qopy
        .complete(id, CompleteRequest { access_hash })
        .await
        .map_err(|e| ApiError::from_service(e, Ctx::Upload))?;
    let c = done.clip;
    let prefix = match c.kind {
        ContentKind::Text => "clip",
        ContentKind::File => "file",
    };
    let url = format!("{}/{prefix}/{}", base_url(&state, host.as_deref()), c.id);
    Ok(ok_json(json!({
        "success": true,
        "clipId": c.id.as_str(),
        "url": url,
        "filename": crate::names::for_output(&c.filename),
        "size": c.size,
        "expiresAt": c.expires_at,
        "quickShare": c.quick_share,
        "oneTime": c.one_time,
        "hasPassword": c.access.is_some(),
        "isFile": true,
    })))
}

/// `GET /api/upload/:uploadId/status`.
pub async fn status(state: State, upload: String) -> Result<Response, ApiError> {
    let id = parse_upload_id(&upload)?;
    let s = state
        .qopy
        .status(id)
        .await
        .map_err(|e| ApiError::from_service(e, Ctx::Upload))?;
    let total = s.session.total_chunks;
    let uploaded = s.received.len() as u32;
    Ok(ok_json(json!({
        "success": true,
        "uploadId": id.to_hex(),
        "status": if uploaded >= total { "ready" } else { "uploading" },
        "uploadedChunks": uploaded,
        "totalChunks": total,
        "progress": (100 * uploaded as u64).checked_div(total as u64).unwrap_or(0),
        "receivedChunks": s.received.iter().map(|(n, _)| n).collect::<Vec<_>>(),
        // Size and SHA-256 of each stored chunk, so a resuming client can check that what it
        // would send again is what the server already has (and so that it never resumes a
        // session with a different file).
        "chunks": s.received.iter().map(|(n, c)| json!({
            "n": n,
            "size": c.len,
            "sha256": hex::encode(c.sha256),
        })).collect::<Vec<_>>(),
        "chunkSize": s.session.chunk_size,
        "expiration": s.session.lifetime_ms,
        "quickShare": s.session.quick_share,
        "oneTime": s.session.one_time,
    })))
}

/// `DELETE /api/upload/:uploadId`.
pub async fn cancel(state: State, upload: String) -> Result<Response, ApiError> {
    let id = parse_upload_id(&upload)?;
    state.qopy.cancel(id).await.map_err(|e| match e {
        ServiceError::UploadNotFound => ApiError::new(
            http::StatusCode::NOT_FOUND,
            "Upload session not found",
            "Invalid upload session",
        ),
        e => ApiError::from_service(e, Ctx::Upload),
    })?;
    Ok(ok_json(
        json!({ "success": true, "message": "Upload cancelled successfully" }),
    ))
}
