//! Upload routes: initiate, chunk (multipart field `chunk` or a raw body, by POST or PUT),
//! complete, status and cancel. Chunk bodies are streamed to disk as they arrive.

use super::body::body_stream;
use super::{base_url, json, parse_json, ApiError, Ctx, Req, Response};
use crate::api;
use crate::model::{ContentKind, UploadId};
use crate::service::{CompleteRequest, InitiateRequest, ServiceError};
use serde::Deserialize;
use serde_json::Value;

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
    max_downloads: Option<Value>,
    quick_share: Option<Value>,
    is_text_content: Option<Value>,
    content_type: Option<Value>,
    dropbox: Option<Value>,
    wrapped_key: Option<Value>,
}

/// `POST /api/upload/initiate`.
pub async fn initiate(mut r: Req) -> Result<Response, ApiError> {
    let b: InitiateBody = parse_json(&r.small_body().await?)?;
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
        max_downloads: crate::model::download_limit(
            loose_bool(&b.one_time, "oneTime")?,
            loose_u64(&b.max_downloads, "maxDownloads")?,
        )
        .map_err(ApiError::validation)?,
        quick_share: loose_bool(&b.quick_share, "quickShare")?,
        text,
        dropbox: opt_string(&b.dropbox, "dropbox")?,
        wrapped_key: opt_string(&b.wrapped_key, "wrappedKey").map_err(|e| {
            ApiError::new(
                http::StatusCode::BAD_REQUEST,
                "invalid_wrapped_key",
                e.message,
            )
        })?,
    };
    let quick_share = req.quick_share;
    let one_time = req.max_downloads == Some(1);
    let started = r.state.qopy.initiate(req).await.map_err(upload_error)?;
    let id = started.upload_id.to_hex();
    Ok(json(&api::InitiateResponse {
        chunk_size: started.chunk_size,
        expires_at: started.expires_at,
        one_time,
        quick_share,
        success: true,
        total_chunks: started.total_chunks as u64,
        upload_url: format!("/api/upload/chunk/{id}"),
        upload_id: id,
    }))
}

/// A service error of an upload route.
fn upload_error(e: ServiceError) -> ApiError {
    ApiError::from_service(e, Ctx::Upload)
}

fn parse_upload_id(s: &str) -> Result<UploadId, ApiError> {
    UploadId::parse(s)
        .ok_or_else(|| ApiError::validation("uploadId must be 16 hexadecimal characters"))
}

/// `POST|PUT /api/upload/chunk/:uploadId/:n`, multipart (field `chunk`) or raw body.
pub async fn chunk(mut r: Req) -> Result<Response, ApiError> {
    let id = parse_upload_id(r.param(0))?;
    let n: u64 = r
        .param(1)
        .parse()
        .map_err(|_| ApiError::validation("chunkNumber must be a non-negative integer"))?;
    let content_type = r.header_owned("content-type")?;
    let content_length = r
        .header("content-length")?
        .and_then(|v| v.parse::<u64>().ok());
    let body = r.body();
    let q = &r.state.qopy;
    let err = upload_error;
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
    let stored = match multipart {
        Some(boundary) => {
            let constraints = multer::Constraints::new().size_limit(
                multer::SizeLimit::new().whole_stream(q.config().chunk_size + 64 * 1024),
            );
            let mut form = multer::Multipart::with_constraints(body, boundary, constraints);
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
                    Err(e) => return Err(ApiError::malformed_multipart(e)),
                };
                if field.name() == Some("chunk") && outcome.is_none() {
                    outcome = Some(q.put_chunk(id, n, body_stream(field)).await.map_err(err)?);
                } else if field.file_name().is_some() {
                    return Err(ApiError::unexpected_file());
                }
                // Other text fields (chunkNumber, chunkIndex) are ignored, as by the original.
            }
            outcome.ok_or_else(|| err(ServiceError::NoChunk))?
        }
        None => q.put_chunk(id, n, body_stream(body)).await.map_err(err)?,
    };
    Ok(json(&api::ChunkResponse {
        chunk_number: stored.n as u64,
        received: true,
        success: true,
        total_chunks: stored.total as u64,
        uploaded_chunks: stored.received as u64,
    }))
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
pub async fn complete(mut r: Req) -> Result<Response, ApiError> {
    let id = parse_upload_id(r.param(0))?;
    let host = r.header_owned("host")?;
    let b: CompleteBody = parse_json(&r.small_body().await?)?;
    let state = &r.state;
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
    let request = CompleteRequest { access_hash };
    let done = state
        .qopy
        .complete(id, request)
        .await
        .map_err(upload_error)?;
    let c = done.clip;
    let prefix = match c.kind {
        ContentKind::Text => "clip",
        ContentKind::File => "file",
    };
    Ok(json(&api::CompleteResponse {
        clip_id: c.id.as_str().to_string(),
        expires_at: c.expires_at,
        filename: crate::names::for_output(&c.filename),
        has_password: c.access.is_some(),
        is_file: true,
        one_time: c.one_time(),
        quick_share: c.quick_share,
        size: c.size,
        success: true,
        url: format!("{}/{prefix}/{}", base_url(state, host.as_deref()), c.id),
    }))
}

/// `GET /api/upload/:uploadId/status`.
pub async fn status(r: Req) -> Result<Response, ApiError> {
    let id = parse_upload_id(r.param(0))?;
    let s = r.state.qopy.status(id).await.map_err(upload_error)?;
    let total = s.session.total_chunks;
    let uploaded = s.received.len() as u32;
    Ok(json(&api::UploadStatus {
        chunk_size: s.session.chunk_size,
        // Size and SHA-256 of each stored chunk, so a resuming client can check that what it
        // would send again is what the server already has (and so that it never resumes a
        // session with a different file).
        chunks: s
            .received
            .iter()
            .map(|(n, c)| api::StoredChunk {
                n: *n,
                sha256: hex::encode(c.sha256),
                size: c.len,
            })
            .collect(),
        expiration: s.session.lifetime_ms,
        one_time: s.session.max_downloads == Some(1),
        progress: (100 * uploaded as u64)
            .checked_div(total as u64)
            .unwrap_or(0),
        quick_share: s.session.quick_share,
        received_chunks: s.received.iter().map(|(n, _)| *n).collect(),
        status: if uploaded >= total {
            "ready"
        } else {
            "uploading"
        }
        .to_string(),
        success: true,
        total_chunks: total,
        upload_id: id.to_hex(),
        uploaded_chunks: uploaded,
    }))
}

/// `DELETE /api/upload/:uploadId`.
pub async fn cancel(r: Req) -> Result<Response, ApiError> {
    let id = parse_upload_id(r.param(0))?;
    r.state
        .qopy
        .cancel(id)
        .await
        .map_err(|e| ApiError::from_service(e, Ctx::Cancel))?;
    Ok(json(&api::SuccessMessage {
        message: "Upload cancelled successfully".into(),
        success: true,
    }))
}
