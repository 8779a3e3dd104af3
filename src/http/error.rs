//! HTTP errors: one exhaustive mapping from service errors to statuses and stable JSON bodies
//! `{"error": ..., "message": ...}` (`crate::api::ErrorBody`) with the original's wording, and
//! the errors of the HTTP layer itself (unknown route, wrong method, bodies too large, bad
//! headers). Every error answer is made here; errors are logged once, here.

use super::Response;
use crate::service::ServiceError;
use http::StatusCode;
use serde_json::{json, Value};

/// Which family of routes produced an error; it picks the original's wording.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ctx {
    /// `/api/upload/*`.
    Upload,
    /// `DELETE /api/upload/:id` (the original's own wording for a missing session).
    Cancel,
    /// `/api/clip/*`.
    Clip,
    /// `/api/file/*`.
    File,
    /// `/api/admin/*`.
    Admin,
    /// `/api/dropbox/*`.
    Dropbox,
}

/// The `Retry-After` of a 503 for an unavailable object store: long enough for its
/// client's own retries to have been worth giving up, short enough for a phone to wait.
const STORE_RETRY_AFTER_SECS: u64 = 5;

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

    /// A 404 for a path no route has.
    pub fn not_found() -> ApiError {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "Not found",
            "The requested resource was not found",
        )
    }

    /// A 405 for a route's path with another method.
    pub fn method_not_allowed() -> ApiError {
        ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "Method not allowed",
            "This route does not accept that method",
        )
    }

    /// A 413 for a JSON body over the size limit.
    pub fn payload_too_large() -> ApiError {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "Payload too large",
            "The request body is too large",
        )
    }

    /// A 400 for a body that could not be read (the client went away).
    pub fn body_unreadable() -> ApiError {
        ApiError::validation("The request body could not be read")
    }

    /// A 400 for a malformed multipart body.
    pub fn malformed_multipart(e: impl std::fmt::Display) -> ApiError {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "Upload error",
            format!("Malformed multipart body: {e}"),
        )
    }

    /// A 400 for a multipart chunk body with a file field other than `chunk`.
    pub fn unexpected_file() -> ApiError {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "Unexpected file",
            "File field not expected",
        )
    }

    /// A 400 for a one-shot multipart body without a `file` field.
    pub fn no_file() -> ApiError {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "No file provided",
            "Send the content in a multipart field named file (curl -F file=@x)",
        )
    }

    /// A 400 for a raw download of an end-to-end encrypted clip.
    pub fn encrypted_clip() -> ApiError {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "Encrypted clip",
            "This clip is end-to-end encrypted: open its link in a browser, or download the \
             ciphertext with POST /api/file/:id",
        )
    }

    /// A 401 for a wrong admin password at `POST /api/admin/auth`.
    pub fn admin_login_failed() -> ApiError {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "Authentication failed",
            "Invalid admin password",
        )
    }

    /// A 403 for a request from an origin that is not allowed.
    pub fn origin_forbidden() -> ApiError {
        ApiError::new(
            StatusCode::FORBIDDEN,
            "Origin not allowed",
            "Requests from this origin are not allowed",
        )
    }

    /// A 421 for a request whose `Host` is not one of the server's names.
    pub fn misdirected() -> ApiError {
        ApiError::new(
            StatusCode::MISDIRECTED_REQUEST,
            "Misdirected request",
            "This server does not answer to that host name. Use its address, or add the name to \
             allowed_hosts.",
        )
    }

    /// A 408 for a request body that fell behind the minimum rate or its deadline.
    pub fn body_too_slow(message: String) -> ApiError {
        ApiError::new(
            StatusCode::REQUEST_TIMEOUT,
            "Request body too slow",
            message,
        )
    }

    /// A 416 for a `Range` past the end of `len` bytes, with `Content-Range: bytes */len`.
    pub fn range_not_satisfiable(len: u64) -> Response {
        let mut resp = ApiError::new(
            StatusCode::RANGE_NOT_SATISFIABLE,
            "Range not satisfiable",
            format!("The content has {len} bytes"),
        )
        .into_response();
        if let Ok(v) = http::HeaderValue::from_str(&format!("bytes */{len}")) {
            resp.headers_mut().insert(http::header::CONTENT_RANGE, v);
        }
        resp
    }

    /// A 500 whose cause is logged, never shown.
    pub fn internal(cause: impl std::fmt::Display) -> ApiError {
        tracing::error!(error = %cause, "request failed");
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Internal server error",
            "Something went wrong",
        )
    }

    /// A 401 for `GET /api/clip/:id` of a clip with an access code.
    pub fn use_post_for_access_code() -> ApiError {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "Access code required",
            "This clip requires an access code. Use POST request with access code.",
        )
        .with(json!({ "requiresAccessCode": true }))
    }

    /// The 410 of the obsolete `GET /api/file/:id`.
    pub fn legacy_download() -> ApiError {
        ApiError::new(
            StatusCode::GONE,
            "Unauthenticated downloads disabled",
            "File downloads now require authentication. Please use the web interface.",
        )
        .with(json!({
            "hint": "This security measure prevents unauthorized access to encrypted files."
        }))
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
                match ctx {
                    Ctx::Cancel => "Invalid upload session",
                    _ => "Invalid or expired upload session",
                },
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
            S::InvalidPublicKey(m) => ApiError::new(
                C::BAD_REQUEST,
                "invalid_public_key",
                format!("publicKey must be an uncompressed P-256 point (65 bytes) in base64url without padding: {m}"),
            ),
            S::InvalidWrappedKey(m) => ApiError::new(C::BAD_REQUEST, "invalid_wrapped_key", m),
            S::NotAllowedInDropbox(m) => ApiError::new(C::BAD_REQUEST, "not_allowed_in_dropbox", m),
            S::DropboxNotFound => ApiError::new(
                C::NOT_FOUND,
                "not_found",
                "The drop box does not exist or has expired",
            ),
            S::DropboxExpired => {
                ApiError::new(C::GONE, "expired", "The drop box has expired")
            }
            S::DropboxFull(n) => ApiError::new(
                C::CONFLICT,
                "dropbox_full",
                format!("The drop box holds its most items ({n}); try again when the receiver has taken some"),
            ),
            S::DropboxTooLarge(free) => ApiError::new(
                C::PAYLOAD_TOO_LARGE,
                "dropbox_too_large",
                format!("The drop box has room for {free} more bytes"),
            ),
            S::DropItemNotFound => ApiError::new(
                C::NOT_FOUND,
                "not_found",
                "The drop box has no such item",
            ),
            S::OwnerRequired => ApiError::new(
                C::FORBIDDEN,
                "owner_required",
                "Send the drop box's owner token in X-Qopy-Owner",
            ),
            S::StoreUnavailable(m) => {
                // Logged at the edge like other failures, without object names' secrets
                // (object_store's messages carry the bucket and key, never credentials).
                tracing::warn!(error = %m, ?ctx, "object store unavailable");
                let mut e = ApiError::new(
                    C::SERVICE_UNAVAILABLE,
                    "storage_unavailable",
                    "The storage behind this server is unavailable; nothing was lost, try again shortly",
                );
                e.retry_after = Some(STORE_RETRY_AFTER_SECS);
                e
            }
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
        let mut resp = super::json_status(self.status, &body);
        if let Some(secs) = self.retry_after {
            resp.headers_mut()
                .insert(http::header::RETRY_AFTER, http::HeaderValue::from(secs));
        }
        resp
    }
}
