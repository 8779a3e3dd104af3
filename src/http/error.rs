//! HTTP errors: one exhaustive mapping from service errors to statuses and stable JSON bodies
//! `{"error": ..., "message": ...}` with the original's wording, and one `recover` for warp's
//! own rejections (unknown route, wrong method, bodies too large). Errors are logged once, here.

use super::Response;
use crate::service::ServiceError;
use http::StatusCode;
use serde_json::{json, Value};
use std::convert::Infallible;
use warp::Rejection;

/// Which family of routes produced an error; it picks the original's wording.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ctx {
    /// `/api/upload/*`.
    Upload,
    /// `/api/clip/*`.
    Clip,
    /// `/api/file/*`.
    File,
    /// `/api/admin/*`.
    Admin,
}

/// An error answer.
#[derive(Debug, Clone)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// Stable short code (the original's `error` strings).
    pub error: &'static str,
    /// Human-readable explanation.
    pub message: String,
    /// Extra fields merged into the body.
    pub extra: Option<Value>,
    /// Seconds for `Retry-After`.
    pub retry_after: Option<u64>,
}

impl ApiError {
    /// An error with a status, code and message.
    pub fn new(status: StatusCode, error: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            error,
            message: message.into(),
            extra: None,
            retry_after: None,
        }
    }

    /// A 400 "Validation failed".
    pub fn validation(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, "Validation failed", message)
    }

    /// A 429 with `Retry-After`.
    pub fn too_many(error: &'static str, message: &str, retry_after: u64) -> ApiError {
        let mut e = ApiError::new(StatusCode::TOO_MANY_REQUESTS, error, message);
        e.retry_after = Some(retry_after.max(1));
        e
    }

    /// Adds extra body fields.
    pub fn with(mut self, extra: Value) -> ApiError {
        self.extra = Some(extra);
        self
    }

    /// Maps a service error for a family of routes. Every variant is listed: adding one
    /// fails to compile until it has a status.
    pub fn from_service(e: ServiceError, ctx: Ctx) -> ApiError {
        use ServiceError as S;
        use StatusCode as C;
        let not_found = |ctx| match ctx {
            Ctx::File => ApiError::new(
                C::NOT_FOUND,
                "File not found",
                "The requested file does not exist or has expired",
            ),
            _ => ApiError::new(
                C::NOT_FOUND,
                "Clip not found",
                "The requested clip does not exist or has expired",
            ),
        };
        let err = match e {
            S::Validation(m) => ApiError::validation(m),
            S::UploadNotFound => ApiError::new(
                C::NOT_FOUND,
                "Upload session not found",
                "Invalid or expired upload session",
            ),
            S::ChunkOutOfRange(total) => ApiError::new(
                C::BAD_REQUEST,
                "Invalid chunk number",
                format!("Chunk number must be less than {total}"),
            ),
            S::ChunkConflict => ApiError::new(
                C::CONFLICT,
                "Chunk already uploaded",
                "A different chunk has already been uploaded under this number",
            ),
            S::NoChunk => ApiError::new(
                C::BAD_REQUEST,
                "No chunk file provided",
                "Chunk file is required",
            ),
            S::ChunkTooLarge(max) => ApiError::new(
                C::PAYLOAD_TOO_LARGE,
                "Chunk too large",
                format!("A chunk may hold at most {max} bytes"),
            ),
            S::Incomplete(missing) => {
                let shown: Vec<String> = missing.iter().take(20).map(|n| n.to_string()).collect();
                ApiError::new(
                    C::BAD_REQUEST,
                    "Upload incomplete",
                    format!("Missing chunks: {}", shown.join(", ")),
                )
                .with(json!({ "missingChunks": missing }))
            }
            S::TooLarge(max) => ApiError::new(
                C::PAYLOAD_TOO_LARGE,
                "File too large",
                format!("The content may be at most {max} bytes"),
            ),
            S::NotFound => not_found(ctx),
            S::ContentMissing => ApiError::new(
                C::NOT_FOUND,
                "File not found on storage",
                "The file has been removed from storage",
            ),
            S::Consumed => ApiError::new(
                C::GONE,
                "File no longer available",
                "This one-time file has already been accessed",
            ),
            S::AccessCodeRequired => ApiError::new(
                C::UNAUTHORIZED,
                "Access code required",
                match ctx {
                    Ctx::File => "This file requires an access code",
                    _ => "This clip requires an access code",
                },
            )
            .with(json!({ "requiresAccessCode": true })),
            S::AccessDenied => {
                ApiError::new(C::UNAUTHORIZED, "Access denied", "Invalid access code")
            }
            S::InsufficientStorage(m) => {
                ApiError::new(C::INSUFFICIENT_STORAGE, "Insufficient storage", m)
            }
            S::Interrupted => ApiError::new(
                C::BAD_REQUEST,
                "Upload interrupted",
                "The request body ended early or could not be read",
            ),
            S::NoPreview(m) => ApiError::new(C::UNSUPPORTED_MEDIA_TYPE, "Preview unavailable", m),
            S::ImageRefused(m) => ApiError::new(C::UNPROCESSABLE_ENTITY, "Image refused", m),
            S::AdminDisabled => ApiError::new(
                C::SERVICE_UNAVAILABLE,
                "Admin API disabled",
                "Set admin_token (QOPY_ADMIN_TOKEN or --admin-token) to enable the admin API",
            ),
            S::AdminDenied => ApiError::new(C::UNAUTHORIZED, "Unauthorized", "Invalid admin token"),
            e @ (S::Store(_) | S::Blob(_) | S::Task(_)) => {
                tracing::error!(error = %e, ?ctx, "request failed");
                ApiError::new(
                    C::INTERNAL_SERVER_ERROR,
                    "Internal server error",
                    "Something went wrong",
                )
            }
        };
        if err.status.is_client_error() {
            tracing::debug!(
                status = err.status.as_u16(),
                error = err.error,
                "request refused"
            );
        }
        err
    }

    /// The JSON response.
    pub fn into_response(self) -> Response {
        let mut body = json!({ "error": self.error, "message": self.message });
        if let (Some(Value::Object(extra)), Some(obj)) = (self.extra, body.as_object_mut()) {
            for (k, v) in extra {
                obj.insert(k, v);
            }
        }
        let mut resp = super::json_response(self.status, &body);
        if let Some(secs) = self.retry_after {
            resp.headers_mut()
                .insert(http::header::RETRY_AFTER, http::HeaderValue::from(secs));
        }
        resp
    }
}

/// A JSON body over the size limit.
#[derive(Debug)]
pub struct BodyTooLarge;
impl warp::reject::Reject for BodyTooLarge {}

/// A body that could not be read (the client went away).
#[derive(Debug)]
pub struct BodyUnreadable;
impl warp::reject::Reject for BodyUnreadable {}

/// Turns warp's own rejections into the same JSON shape.
pub async fn recover(r: Rejection) -> Result<Response, Infallible> {
    use warp::reject;
    let e = if r.is_not_found() {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "Not found",
            "The requested resource was not found",
        )
    } else if r.find::<reject::PayloadTooLarge>().is_some() || r.find::<BodyTooLarge>().is_some() {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "Payload too large",
            "The request body is too large",
        )
    } else if r.find::<reject::LengthRequired>().is_some() {
        ApiError::new(
            StatusCode::LENGTH_REQUIRED,
            "Length required",
            "A Content-Length header is required",
        )
    } else if r.find::<reject::UnsupportedMediaType>().is_some() {
        ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "Unsupported media type",
            "Send application/json",
        )
    } else if let Some(h) = r.find::<reject::InvalidHeader>() {
        ApiError::validation(format!("Invalid header: {}", h.name()))
    } else if let Some(h) = r.find::<reject::MissingHeader>() {
        ApiError::validation(format!("Missing header: {}", h.name()))
    } else if r.find::<BodyUnreadable>().is_some() {
        ApiError::validation("The request body could not be read")
    } else if r.find::<reject::InvalidQuery>().is_some() {
        ApiError::validation("Invalid query string")
    } else if r.find::<reject::MethodNotAllowed>().is_some() {
        // Checked last: every other rejection comes from a route whose path and method
        // matched, which says more than another route's method mismatch on the same path.
        ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "Method not allowed",
            "This route does not accept that method",
        )
    } else {
        tracing::warn!(rejection = ?r, "unhandled rejection");
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "Bad request",
            "The request could not be processed",
        )
    };
    Ok(e.into_response())
}
