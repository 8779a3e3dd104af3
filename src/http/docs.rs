//! The OpenAPI operation of each route of the route table (`table.rs` names them): its
//! summary, parameters, request body and every status its handler can answer, and the
//! parameters and error responses the operations share. Bodies refer to the contract's types
//! (`crate::api`), whose schemas are generated.

use super::openapi::{error, json_body, json_ok, param, response};
use crate::api;
use serde_json::{json, Value};

/// The parameters, responses and security scheme the paths share.
pub fn shared_components() -> Value {
    let clip_id = json!({
        "type": "string",
        "pattern": "^[A-Z0-9]{6}$|^[A-Z0-9]{10}$",
        "example": "K7Q2ZP9M4X"
    });
    json!({
        "securitySchemes": {
            "adminBearer": {
                "type": "http",
                "scheme": "bearer",
                "description": "The configured admin_token (QOPY_ADMIN_TOKEN or --admin-token)"
            }
        },
        "parameters": {
            "ClipId": {
                "name": "id", "in": "path", "required": true,
                "description": "Clip ID: 10 characters, or 6 for Quick Share",
                "schema": clip_id
            },
            "UploadId": {
                "name": "uploadId", "in": "path", "required": true,
                "description": "Upload session ID (the session's only capability)",
                "schema": { "type": "string", "pattern": "^[0-9A-Fa-f]{16}$" }
            },
            "ChunkNumber": {
                "name": "chunkNumber", "in": "path", "required": true,
                "description": "Chunk number, from 0 to totalChunks - 1",
                "schema": { "type": "integer", "minimum": 0 }
            },
            "IfNoneMatch": {
                "name": "If-None-Match", "in": "header", "required": false,
                "description": "An ETag from an earlier answer; a match gives 304",
                "schema": { "type": "string" }
            },
            "Range": {
                "name": "Range", "in": "header", "required": false,
                "description": "One byte range (`bytes=first-`, `bytes=first-last` or `bytes=-n`) to resume; several ranges or a malformed one get the whole content",
                "schema": { "type": "string", "example": "bytes=1048576-" }
            },
            "IfRange": {
                "name": "If-Range", "in": "header", "required": false,
                "description": "The ETag of the first answer: a range is sent only while it matches, else the whole content",
                "schema": { "type": "string" }
            },
            "BoxId": {
                "name": "id", "in": "path", "required": true,
                "description": "Drop-box ID: 8 characters of Crockford base32 (any letter case)",
                "schema": { "type": "string", "pattern": "^[0-9A-HJKMNP-TV-Za-hjkmnp-tv-z]{8}$", "example": "7K2QZP9M" }
            },
            "Owner": {
                "name": "X-Qopy-Owner", "in": "header", "required": true,
                "description": "The drop box's owner token, as its creation answered it (missing or wrong: 403 owner_required)",
                "schema": { "type": "string", "pattern": "^[0-9a-f]{64}$" }
            },
            "Claim": {
                "name": "X-Qopy-Claim", "in": "header", "required": false,
                "description": "The claim token the first answer of a one-time or download-limited clip carried: with it, and only with it, its reader resumes within claim_window",
                "schema": { "type": "string", "pattern": "^[0-9a-f]{48}$" }
            }
        },
        "responses": {
            "BadRequest": error("Validation failed (the message says which field and why)"),
            "RateLimited": {
                "description": "Too many requests, or too many failed lookups or wrong admin credentials from this address (or from everyone)",
                "headers": {
                    "Retry-After": {
                        "description": "Seconds to wait",
                        "schema": { "type": "integer" }
                    }
                },
                "content": { "application/json": { "schema": super::openapi::schema::<api::ErrorBody>() } }
            },
            "InsufficientStorage": error("The free-disk reserve or the storage quota would be crossed"),
            "InternalError": error("Storage or database failure"),
            "AdminUnauthorized": error("Missing or wrong bearer token (`Unauthorized`); a wrong one counts against the admin-login budget"),
            "AdminDisabled": error("No admin_token is configured (`Admin API disabled`)"),
            "Page": {
                "description": "An HTML page of the browser client (revalidated on every load)",
                "headers": { "ETag": { "schema": { "type": "string" } } },
                "content": { "text/html": { "schema": { "type": "string" } } }
            },
            "NotModified": { "description": "The ETag in If-None-Match still matches" }
        }
    })
}

/// One operation.
pub(super) fn op(tag: &str, id: &str, summary: &str, params: &[&str], responses: Value) -> Value {
    let parameters: Vec<Value> = params.iter().map(|p| param(p)).collect();
    let mut o = json!({
        "tags": [tag],
        "operationId": id,
        "summary": summary,
        "responses": responses,
    });
    if !parameters.is_empty() {
        o["parameters"] = Value::Array(parameters);
    }
    o
}

/// Adds a request body to an operation.
pub(super) fn with_body(mut o: Value, body: Value) -> Value {
    o["requestBody"] = body;
    o
}

/// Marks an operation as needing the admin token.
fn admin(mut o: Value) -> Value {
    o["security"] = json!([{ "adminBearer": [] }]);
    o
}

/// Adds a description to an operation.
pub(super) fn describe(mut o: Value, text: &str) -> Value {
    o["description"] = Value::String(text.to_string());
    o
}

/// The body of a chunk upload: a raw body or a multipart form with a binary `chunk` field.
fn chunk_body() -> Value {
    json!({
        "required": true,
        "description": "The chunk's bytes, at most chunkSize + 1024 bytes",
        "content": {
            "application/octet-stream": {
                "schema": { "type": "string", "format": "binary" }
            },
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["chunk"],
                    "properties": {
                        "chunk": { "type": "string", "format": "binary" },
                        "chunkNumber": { "type": "string", "description": "Ignored" },
                        "chunkIndex": { "type": "string", "description": "Ignored" }
                    }
                },
                "encoding": { "chunk": { "contentType": "application/octet-stream" } }
            }
        }
    })
}

fn chunk_op(id: &str) -> Value {
    let o = op(
        "uploads",
        id,
        "Store one chunk",
        &["UploadId", "ChunkNumber"],
        json!({
            "200": json_ok::<api::ChunkResponse>("Chunk stored (or an identical re-send)"),
            "400": error("Bad upload ID or chunk number, chunk number out of range, empty body \
                (`No chunk file provided`), body cut short, malformed multipart, or an \
                unexpected file field"),
            "404": error("Upload session not found"),
            "409": error("A different chunk was already stored under this number"),
            "413": error("Chunk too large"),
            "429": response("RateLimited"),
            "507": response("InsufficientStorage"),
            "500": response("InternalError"),
        }),
    );
    describe(
        with_body(o, chunk_body()),
        "Streams the body to disk. Chunks may arrive in any order and in parallel. POST and \
         PUT behave the same.",
    )
}

/// `/clip/{id}` and `/file/{id}`: the app page for a well-formed ID, or the raw bytes of an
/// unencrypted clip for a client that does not accept HTML.
fn deep_link(id: &str, what: &str) -> Value {
    let mut o = op(
        "pages",
        id,
        &format!("The app page for a {what} link (`#secret` stays in the browser)"),
        &["ClipId", "IfNoneMatch"],
        json!({
            "200": {
                "description": "The app page; or, for a client whose Accept lacks text/html, \
                    the bytes of an unencrypted (one-shot) clip that is not one-time",
                "content": {
                    "text/html": { "schema": { "type": "string" } },
                    "application/octet-stream": { "schema": { "type": "string", "format": "binary" } }
                }
            },
            "304": response("NotModified"),
            "404": error("Not a well-formed clip ID (any letter case is accepted)"),
            "409": { "description": "An unencrypted one-time clip asked for without text/html: \
                        a plain-text hint to `curl -X POST` the URL (a GET never consumes)",
                     "content": { "text/plain": { "schema": { "type": "string" } } } },
            "429": response("RateLimited"),
        }),
    );
    if let Some(p) = o["parameters"].as_array_mut() {
        p.push(json!({ "name": "Accept", "in": "header", "required": false,
            "description": "With text/html (a browser): always the app page",
            "schema": { "type": "string" } }));
    }
    describe(
        o,
        "The ID may be in any letter case here; the page normalises it. Encrypted clips and \
         unknown IDs always get the page.",
    )
}

/// The responses of the admin routes that need the token.
fn admin_responses(ok: Value) -> Value {
    json!({
        "200": ok,
        "401": response("AdminUnauthorized"),
        "429": response("RateLimited"),
        "503": response("AdminDisabled"),
        "500": response("InternalError"),
    })
}

/// `PUT /{asset}`: a one-shot upload named by the path (the parameter shares the asset route's
/// name, since OpenAPI forbids two templates of the same shape).
pub fn put_named() -> Value {
    let mut o = oneshot_op(
        "putOneShotNamed",
        "One-shot upload of the raw body, named by the path (`curl -T notes.txt host/`)",
        false,
        &[],
    );
    if let Some(p) = o["parameters"].as_array_mut() {
        p.insert(
            0,
            json!({ "name": "asset", "in": "path", "required": true,
            "description": "The file name (percent-encoded)", "schema": { "type": "string" } }),
        );
    }
    o
}

/// `/{asset}`: any other embedded file.
pub fn asset() -> Value {
    let mut o = op(
        "pages",
        "asset",
        "An embedded file of the browser client (scripts, styles, images)",
        &[],
        json!({
            "200": { "description": "The file, with an ETag and a day's cache lifetime",
                     "headers": { "ETag": { "schema": { "type": "string" } } },
                     "content": { "*/*": { "schema": { "type": "string", "format": "binary" } } } },
            "304": response("NotModified"),
            "404": error("No such file"),
        }),
    );
    o["parameters"] = json!([
        { "name": "asset", "in": "path", "required": true, "schema": { "type": "string" } },
        param("IfNoneMatch"),
    ]);
    describe(
        o,
        "`asset` is a path below the asset root and may contain `/`; segments \
        starting with `.` are refused.",
    )
}

/// The body and options of a one-shot upload.
fn oneshot_op(id: &str, summary: &str, multipart: bool, params: &[&str]) -> Value {
    let mut content = json!({
        "application/octet-stream": { "schema": { "type": "string", "format": "binary" } }
    });
    if multipart {
        content["multipart/form-data"] = json!({
            "schema": {
                "type": "object",
                "required": ["file"],
                "properties": { "file": { "type": "string", "format": "binary" } }
            }
        });
    }
    let mut o = op(
        "oneshot",
        id,
        summary,
        params,
        json!({
            "200": {
                "description": "The clip URL as plain text with a trailing newline (also in Location)",
                "headers": {
                    "Location": { "schema": { "type": "string" } },
                    "X-Qopy-Expires-At": { "schema": { "type": "integer" } }
                },
                "content": { "text/plain": { "schema": { "type": "string" } } }
            },
            "400": error("Bad option, bad file name, empty body, body cut short, malformed \
                multipart or no `file` field"),
            "413": error("Larger than max_file_size (`File too large`); nothing is kept"),
            "429": response("RateLimited"),
            "507": response("InsufficientStorage"),
            "500": response("InternalError"),
        }),
    );
    let mut parameters = o["parameters"].as_array().cloned().unwrap_or_default();
    parameters.extend([
        json!({ "name": "expiry", "in": "query", "required": false,
                "description": "Lifetime name (one of expiry_options); also header X-Qopy-Expiry",
                "schema": { "type": "string", "example": "1hr" } }),
        json!({ "name": "oneTime", "in": "query", "required": false,
                "description": "1/true: deleted by its first POST download; also header X-Qopy-One-Time",
                "schema": { "type": "string", "example": "1" } }),
        json!({ "name": "maxDownloads", "in": "query", "required": false,
                "description": "1 to 1000: the clip goes after that many POST downloads; also header X-Qopy-Max-Downloads",
                "schema": { "type": "integer", "minimum": 1, "maximum": 1000 } }),
        json!({ "name": "quickShare", "in": "query", "required": false,
                "description": "1/true: 6-character ID, 5 minutes; also header X-Qopy-Quick-Share",
                "schema": { "type": "string", "example": "1" } }),
    ]);
    o["parameters"] = Value::Array(parameters);
    describe(
        with_body(o, json!({ "required": true, "content": content })),
        "Streams the body into a clip that is NOT end-to-end encrypted (marked `encrypted: \
         false`). The answer URL gives the bytes back to `curl` (see GET /file/{id}).",
    )
}

/// `POST /clip/{id}` and `POST /file/{id}`: raw download of an unencrypted clip.
fn raw_post(id: &str) -> Value {
    describe(
        op(
            "oneshot",
            id,
            "Download an unencrypted clip's bytes, claiming a download of a one-time or limited clip",
            &["ClipId", "Range", "IfRange", "Claim"],
            json!({
                "200": { "description": "The bytes, with the download headers (and X-Qopy-Claim as for POST /api/file/{id})",
                         "content": { "application/octet-stream": { "schema": { "type": "string", "format": "binary" } } } },
                "206": { "description": "The one byte range asked for",
                         "content": { "application/octet-stream": { "schema": { "type": "string", "format": "binary" } } } },
                "416": error("`Range not satisfiable`: the range starts past the end"),
                "400": error("Malformed ID, or `Encrypted clip` (use the browser or POST /api/file/{id})"),
                "404": error("File not found or expired"),
                "410": error("A one-time clip consumed by a concurrent download"),
                "429": response("RateLimited"),
                "500": response("InternalError"),
            }),
        ),
        "`curl -X POST URL` for the URL a one-shot upload answered. Like POST /api/file/{id}, it \
         claims a download of a one-time or limited clip.",
    )
}

/// `GET /health`.
pub fn health() -> Value {
    op(
        "health",
        "health",
        "Liveness with a database check and storage figures",
        &[],
        json!({
            "200": json_ok::<api::Health>("Healthy"),
            "503": json_ok::<api::Health>("The database check failed or stalled (`status` is `ERROR`)"),
        }),
    )
}

/// `GET /api/health`.
pub fn api_health() -> Value {
    op(
        "health",
        "apiHealth",
        "Liveness",
        &[],
        json!({
            "200": json_ok::<api::ApiHealth>("Alive"),
        }),
    )
}

/// `GET /ping`.
pub fn ping() -> Value {
    op(
        "health",
        "ping",
        "Ping",
        &[],
        json!({ "200": json_ok::<api::Ping>("Pong") }),
    )
}

/// `GET /api/config`.
pub fn config() -> Value {
    op(
        "health",
        "config",
        "Access-code salt and the limits a client needs",
        &[],
        json!({
            "200": json_ok::<api::PublicConfig>("Public configuration"),
        }),
    )
}

/// `GET /api/tls`.
pub fn tls() -> Value {
    op(
        "health",
        "tls",
        "Built-in HTTPS: mode and certificate fingerprint",
        &[],
        json!({
            "200": json_ok::<api::TlsInfo>("The `tls` mode and the SHA-256 fingerprint of the certificate"),
        }),
    )
}

/// `GET /metrics`.
pub fn metrics() -> Value {
    op(
        "health",
        "metrics",
        "Prometheus metrics (text exposition format)",
        &[],
        json!({
            "200": { "description": "Requests by route template and status, latency histograms, \
                        bytes in and out, clips and sessions live, sweeper runs, cache hits and \
                        misses, storage used and free",
                     "content": { "application/openmetrics-text": { "schema": { "type": "string" } } } },
        }),
    )
}

/// `GET /api/openapi.json`.
pub fn openapi() -> Value {
    op(
        "health",
        "openapi",
        "This document",
        &[],
        json!({
            "200": { "description": "The OpenAPI 3.0.3 document",
                     "content": { "application/json": { "schema": { "type": "object" } } } },
        }),
    )
}

/// `POST /api/upload/initiate`.
pub fn initiate() -> Value {
    with_body(
        op(
            "uploads",
            "initiateUpload",
            "Create an upload session",
            &[],
            json!({
                "200": json_ok::<api::InitiateResponse>("Session created (sending into a drop box: its place there reserved, and expiresAt the box's)"),
                "400": error("`Validation failed` (the message says which field and why; filesize is required with dropbox), `invalid_wrapped_key` (wrappedKey missing with dropbox, malformed, not 94-300 bytes, or given without dropbox), or `not_allowed_in_dropbox` (quickShare, hasPassword, oneTime or maxDownloads with dropbox)"),
                "404": error("`not_found`: no such drop box"),
                "409": error("`dropbox_full`: the drop box holds its most items, arrived and reserved"),
                "410": error("`expired`: the drop box has expired"),
                "413": error("Declared filesize is 0 or above the maximum (`File too large`), or above what the drop box has left (`dropbox_too_large`)"),
                "429": response("RateLimited"),
                "507": response("InsufficientStorage"),
                "500": response("InternalError"),
            }),
        ),
        json_body::<api::InitiateRequest>(true),
    )
}

/// `POST /api/upload/chunk/{uploadId}/{chunkNumber}`.
pub fn chunk_post() -> Value {
    chunk_op("uploadChunk")
}

/// `PUT /api/upload/chunk/{uploadId}/{chunkNumber}`.
pub fn chunk_put() -> Value {
    chunk_op("putChunk")
}

/// `POST /api/upload/complete/{uploadId}`.
pub fn complete() -> Value {
    describe(
        with_body(
            op(
                "uploads",
                "completeUpload",
                "Turn a complete session into a clip",
                &["UploadId"],
                json!({
                    "200": json_ok::<api::CompleteResponse>("Clip created; its lifetime starts now"),
                    "400": error("Validation failed, or `Upload incomplete` with `missingChunks`"),
                    "404": error("Upload session not found, a stored chunk is missing (`File not found on storage`), or the drop box it sends into is gone (`not_found`)"),
                    "410": error("`expired`: the drop box it sends into has expired"),
                    "413": error("The stored chunks exceed the maximum size (`File too large`)"),
                    "500": response("InternalError"),
                }),
            ),
            json_body::<api::CompleteRequest>(false),
        ),
        "The size is computed from the stored chunks. \
        An empty body is `{}`. With requiresAccessCode true, accessCodeHash is required (but \
        a drop-box item takes no access code: 400 `not_allowed_in_dropbox`). A drop-box item \
        becomes the box's next item and wakes the box's long polls.",
    )
}

/// `GET /api/upload/{uploadId}/status`.
pub fn status() -> Value {
    op(
        "uploads",
        "uploadStatus",
        "Progress of a session, with the chunk numbers received (for resume)",
        &["UploadId"],
        json!({
            "200": json_ok::<api::UploadStatus>("Session status"),
            "400": response("BadRequest"),
            "404": error("Upload session not found"),
            "500": response("InternalError"),
        }),
    )
}

/// `DELETE /api/upload/{uploadId}`.
pub fn cancel() -> Value {
    op(
        "uploads",
        "cancelUpload",
        "Cancel a session and delete its chunks",
        &["UploadId"],
        json!({
            "200": json_ok::<api::SuccessMessage>("`Upload cancelled successfully`"),
            "400": response("BadRequest"),
            "404": error("Upload session not found"),
            "500": response("InternalError"),
        }),
    )
}

/// `GET /api/clip/{id}/preview`.
pub fn preview() -> Value {
    describe(op("clips", "clipPreview", "JPEG preview of an unencrypted image clip (never consumes)", &["ClipId"], json!({
        "200": { "description": "A JPEG (quality 85) fitting inside 800x600, never enlarged; cached",
                 "content": { "image/jpeg": { "schema": { "type": "string", "format": "binary" } } } },
        "400": response("BadRequest"),
        "404": error("Clip not found or expired"),
        "415": error("`Preview unavailable`: encrypted, one-time, or not a supported image"),
        "422": error("`Image refused`: over the decoding limits (dimensions, memory) or undecodable"),
        "429": response("RateLimited"),
        "500": response("InternalError"),
    })), "Decoded under limits (at most 12000x12000 pixels, 256 MiB), so a decompression bomb is refused.")
}

/// `GET /api/clip/{id}/info`.
pub fn clip_info() -> Value {
    op(
        "clips",
        "clipInfo",
        "Clip metadata (never consumes)",
        &["ClipId"],
        json!({
            "200": json_ok::<api::ClipInfo>("Metadata"),
            "400": response("BadRequest"),
            "404": error("Clip not found or expired"),
            "429": response("RateLimited"),
            "500": response("InternalError"),
        }),
    )
}

/// `GET /api/clip/{id}`.
pub fn get_clip() -> Value {
    op(
        "clips",
        "getClip",
        "Clip descriptor for a clip without access code",
        &["ClipId"],
        json!({
            "200": json_ok::<api::ClipDescriptor>("Descriptor"),
            "400": response("BadRequest"),
            "401": error("`Access code required`, with `requiresAccessCode: true`: use POST"),
            "404": error("Clip not found or expired"),
            "429": response("RateLimited"),
            "500": response("InternalError"),
        }),
    )
}

/// `POST /api/clip/{id}`.
pub fn post_clip() -> Value {
    with_body(
        op(
            "clips",
            "openClip",
            "Clip descriptor, checking the access code",
            &["ClipId"],
            json!({
                "200": json_ok::<api::ClipDescriptor>("Descriptor"),
                "400": response("BadRequest"),
                "401": error("`Access code required` (with `requiresAccessCode: true`) or `Access denied`"),
                "404": error("Clip not found or expired"),
                "429": response("RateLimited"),
                "500": response("InternalError"),
            }),
        ),
        json_body::<api::AccessCodeRequest>(false),
    )
}

/// `GET /api/file/{id}/info`.
pub fn file_info() -> Value {
    op(
        "clips",
        "fileInfo",
        "File clip metadata (never consumes)",
        &["ClipId"],
        json!({
            "200": json_ok::<api::FileInfo>("Metadata"),
            "400": response("BadRequest"),
            "404": error("File not found, expired, or not a file clip"),
            "429": response("RateLimited"),
            "500": response("InternalError"),
        }),
    )
}

/// `POST /api/file/{id}`.
pub fn download() -> Value {
    describe(
        with_body(
            op(
                "clips",
                "download",
                "Download the content",
                &["ClipId", "Range", "IfRange", "Claim"],
                json!({
                    "200": {
                        "description": "The stored bytes (ciphertext unless X-Qopy-Encrypted is false)",
                        "headers": {
                            "Content-Disposition": { "schema": { "type": "string" } },
                            "ETag": { "description": "Strong validator of the content", "schema": { "type": "string" } },
                            "X-Qopy-Claim": { "description": "Only on the answer that claimed a download of a one-time or download-limited clip: the token that resumes it", "schema": { "type": "string" } },
                            "X-Qopy-Encrypted": { "schema": { "type": "string", "enum": ["true", "false"] } }
                        },
                        "content": { "application/octet-stream": { "schema": { "type": "string", "format": "binary" } } }
                    },
                    "400": response("BadRequest"),
                    "401": error("`Access code required` (with `requiresAccessCode: true`) or `Access denied`"),
                    "404": error("File not found or expired, its stored bytes are missing, its downloads are all claimed, or the claim token is unknown or past its window"),
                    "206": {
                        "description": "The one byte range `Range` asked for (`Content-Range: bytes first-last/length`); for a one-time or limited clip, to the claim's reader",
                        "content": { "application/octet-stream": { "schema": { "type": "string", "format": "binary" } } }
                    },
                    "410": error("A one-time file already consumed by a concurrent download"),
                    "416": error("`Range not satisfiable`: the range starts past the end (`Content-Range: bytes */length`)"),
                    "429": response("RateLimited"),
                    "500": response("InternalError"),
                }),
            ),
            json_body::<api::AccessCodeRequest>(false),
        ),
        "The only request that claims a download of a one-time or download-limited clip; the \
         claim is durable before the first byte is sent, and the clip goes when the last claim \
         has ended (its reader received the last byte, or claim_window passed).",
    )
}

/// `GET /api/file/{id}`.
pub fn legacy_get() -> Value {
    op(
        "clips",
        "legacyDownload",
        "Obsolete unauthenticated download: always 410",
        &["ClipId"],
        json!({
            "410": error("`Unauthenticated downloads disabled`, with a `hint`"),
            "429": response("RateLimited"),
        }),
    )
}

/// `POST /api/admin/auth`.
pub fn admin_auth() -> Value {
    with_body(
        op(
            "admin",
            "adminAuth",
            "Check the admin password (the token)",
            &[],
            json!({
                "200": json_ok::<api::SuccessMessage>("`Authentication successful`"),
                "400": error("password must be 1-128 characters"),
                "401": error("`Authentication failed`"),
                "429": response("RateLimited"),
                "503": response("AdminDisabled"),
            }),
        ),
        json_body::<api::AdminAuthRequest>(true),
    )
}

/// `GET /api/admin/stats`.
pub fn admin_stats() -> Value {
    admin(op(
        "admin",
        "adminStats",
        "Statistics",
        &[],
        admin_responses(json_ok::<api::AdminStats>("Statistics")),
    ))
}

/// `GET /api/admin/clips`.
pub fn admin_clips() -> Value {
    admin(op(
        "admin",
        "adminClips",
        "The 20 newest clips, IDs shortened",
        &[],
        admin_responses(json!({
            "description": "Newest first",
            "content": { "application/json": { "schema": {
                "type": "array", "items": super::openapi::schema::<api::AdminClip>()
            } } }
        })),
    ))
}

/// `GET /api/admin/system`.
pub fn admin_system() -> Value {
    admin(op(
        "admin",
        "adminSystem",
        "System figures",
        &[],
        admin_responses(json_ok::<api::AdminSystem>("System figures")),
    ))
}

/// `POST /api/admin/sweep`.
pub fn admin_sweep() -> Value {
    admin(op(
        "admin",
        "adminSweep",
        "Run a full sweep now",
        &[],
        admin_responses(json_ok::<api::SweepResponse>("What the sweep removed")),
    ))
}

/// `GET /`.
pub fn index_page() -> Value {
    op(
        "pages",
        "indexPage",
        "The app page",
        &["IfNoneMatch"],
        json!({
            "200": response("Page"),
            "304": response("NotModified"),
        }),
    )
}

/// `POST /share-target`.
pub fn share_target() -> Value {
    describe(
        op(
            "pages",
            "shareTarget",
            "The share target (manifest `share_target`) when no service worker took the POST: always refused",
            &[],
            json!({
                "400": {
                    "description": "Sharing into Qopy needs HTTPS (the app's service worker keeps what is shared in the browser): an HTML page when the request accepts text/html, else the JSON error. The body is read and dropped, never stored",
                    "content": {
                        "text/html": { "schema": { "type": "string" } },
                        "application/json": { "schema": super::openapi::schema::<api::ErrorBody>() }
                    }
                },
            }),
        ),
        "On an HTTPS origin where the app page was opened once, `/share-worker.js` answers \
        this POST in the browser (303 to `/?share=ID`) and the server never sees it.",
    )
}

/// `GET /clip/{id}`.
pub fn clip_page() -> Value {
    deep_link("clipPage", "text")
}

/// `GET /file/{id}`.
pub fn file_page() -> Value {
    deep_link("filePage", "file")
}

/// `POST /clip/{id}`.
pub fn clip_raw() -> Value {
    raw_post("clipRaw")
}

/// `POST /file/{id}`.
pub fn file_raw() -> Value {
    raw_post("fileRaw")
}

/// `PUT /`.
pub fn put_oneshot() -> Value {
    oneshot_op(
        "putOneShot",
        "One-shot upload of the raw body (`curl -T file host/`, `curl -T - host/`)",
        false,
        &[],
    )
}

/// `POST /`.
pub fn post_oneshot() -> Value {
    oneshot_op("postOneShot", "One-shot upload: multipart field `file` (`curl -F file=@x host/`) or a raw body (`--data-binary @-`)", true, &[])
}

/// `GET /admin`.
pub fn admin_page() -> Value {
    op(
        "pages",
        "adminPage",
        "The admin dashboard",
        &["IfNoneMatch"],
        json!({
            "200": response("Page"),
            "304": response("NotModified"),
            "503": { "description": "No admin_token configured: an HTML notice",
                     "content": { "text/html": { "schema": { "type": "string" } } } },
        }),
    )
}
