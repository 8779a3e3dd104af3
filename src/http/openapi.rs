//! `GET /api/openapi.json`: the OpenAPI 3.0.3 description of every route of the route table.
//! The document is static, so it is built and serialized once and then served from memory.
//! The paths live in `openapi_paths`; this file holds the shared components (schemas,
//! parameters, error responses, the admin bearer scheme) and the serving.

use super::Response;
use bytes::Bytes;
use serde_json::{json, Value};
use std::sync::OnceLock;

/// The serialized document, built on first use.
static DOCUMENT: OnceLock<Bytes> = OnceLock::new();

/// Serves the document.
pub async fn serve() -> Result<Response, std::convert::Infallible> {
    let body = DOCUMENT
        .get_or_init(|| Bytes::from(serde_json::to_vec(&document()).unwrap_or_default()))
        .clone();
    let mut resp = Response::new(body.into());
    let h = resp.headers_mut();
    h.insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json; charset=utf-8"),
    );
    h.insert(
        http::header::CACHE_CONTROL,
        http::HeaderValue::from_static("no-cache"),
    );
    Ok(resp)
}

/// The whole document as a JSON value.
pub fn document() -> Value {
    json!({
        "openapi": "3.0.3",
        "info": {
            "title": "Qopy",
            "version": super::health::VERSION,
            "description": "Self-hosted sharing of end-to-end encrypted text and files that \
                expire. Content is encrypted in the browser; the server stores ciphertext. \
                Every error answer is JSON `{\"error\", \"message\"}`, sometimes with extra \
                fields. A request whose `Host` is not one of the server's names (an IP \
                literal, `localhost`, the `public_url` host, the TLS certificate's names, the \
                machine's name or `allowed_hosts`) is refused with 421 `Misdirected request` \
                before anything else. A request whose `Origin` is not the server's own (or a \
                configured extra origin) is refused with 403 `Origin not allowed`; `OPTIONS` \
                preflights answer 204. An unknown path is 404 and a known path with another method 405, \
                both with the error body. A JSON body over 64 KiB is 413. Rate-limited \
                requests get 429 with `Retry-After`.",
            "license": { "name": "MIT" }
        },
        "tags": [
            { "name": "health", "description": "Liveness and public configuration" },
            { "name": "uploads", "description": "Chunked upload sessions" },
            { "name": "clips", "description": "Clip metadata and content" },
            { "name": "oneshot", "description": "Single-request uploads and raw downloads for scripts (not end-to-end encrypted)" },
            { "name": "admin", "description": "Admin API (disabled without admin_token)" },
            { "name": "pages", "description": "The browser client" }
        ],
        "paths": super::openapi_paths::paths(),
        "components": components(),
    })
}

/// A `$ref` to a schema.
pub(super) fn schema(name: &str) -> Value {
    json!({ "$ref": format!("#/components/schemas/{name}") })
}

/// A `$ref` to a shared parameter.
pub(super) fn param(name: &str) -> Value {
    json!({ "$ref": format!("#/components/parameters/{name}") })
}

/// A `$ref` to a shared response.
pub(super) fn response(name: &str) -> Value {
    json!({ "$ref": format!("#/components/responses/{name}") })
}

/// A JSON response with a schema from the components.
pub(super) fn json_ok(description: &str, name: &str) -> Value {
    json!({
        "description": description,
        "content": { "application/json": { "schema": schema(name) } }
    })
}

/// An error response with the standard error body.
pub(super) fn error(description: &str) -> Value {
    json_ok(description, "Error")
}

/// A required JSON request body with a schema from the components.
pub(super) fn json_body(name: &str, required: bool) -> Value {
    json!({
        "required": required,
        "content": { "application/json": { "schema": schema(name) } }
    })
}

fn int(description: &str) -> Value {
    json!({ "type": "integer", "format": "int64", "minimum": 0, "description": description })
}

fn string(description: &str) -> Value {
    json!({ "type": "string", "description": description })
}

fn boolean(description: &str) -> Value {
    json!({ "type": "boolean", "description": description })
}

fn number(description: &str) -> Value {
    json!({ "type": "number", "description": description })
}

/// The schema of an answer object: every property is always present, except `optional`.
fn answer(properties: Value, optional: &[&str]) -> Value {
    let required: Vec<String> = properties
        .as_object()
        .map(|m| {
            m.keys()
                .filter(|k| !optional.contains(&k.as_str()))
                .cloned()
                .collect()
        })
        .unwrap_or_default();
    json!({ "type": "object", "required": required, "properties": properties })
}

/// The components: the shared parameters, responses and security scheme of the paths, and
/// the schemas of the bodies.
fn components() -> Value {
    let mut c = super::openapi_paths::shared_components();
    c["schemas"] = schemas();
    c
}

fn schemas() -> Value {
    let loose_bool = "A boolean; the strings \"true\"/\"false\"/\"1\"/\"0\" and the numbers 1/0 \
        are accepted too";
    json!({
            "Error": {
                "type": "object",
                "required": ["error", "message"],
                "properties": {
                    "error": string("Stable short code, e.g. `Upload incomplete`"),
                    "message": string("Human-readable explanation"),
                    "missingChunks": {
                        "type": "array", "items": { "type": "integer" },
                        "description": "Complete: the chunk numbers not received"
                    },
                    "requiresAccessCode": boolean("The clip needs an access code"),
                    "hint": string("Extra explanation (obsolete GET /api/file/{id})")
                }
            },
            "InitiateRequest": {
                "type": "object",
                "required": ["filename"],
                "properties": {
                    "filename": {
                        "type": "string", "minLength": 1, "maxLength": 255,
                        "description": "Cleaned by the file-name rule: format characters removed, white space trimmed, control characters, U+2028/U+2029, / and \\ made _; 1-255 characters once cleaned, not . or .."
                    },
                    "filesize": int("Declared size in bytes (a numeric string is accepted)"),
                    "totalChunks": int("Chunk count; from filesize when absent, else 1"),
                    "mimeType": { "type": "string", "maxLength": 100 },
                    "expiration": string("An expiry name from GET /api/config, e.g. `1hr`"),
                    "hasPassword": boolean(loose_bool),
                    "oneTime": boolean(loose_bool),
                    "quickShare": boolean(loose_bool),
                    "isTextContent": boolean(loose_bool),
                    "contentType": {
                        "type": "string", "enum": ["text", "file"],
                        "description": "Defaults to text"
                    }
                }
            },
            "InitiateResponse": answer(json!({
                "success": { "type": "boolean", "enum": [true] },
                "uploadId": { "type": "string", "pattern": "^[0-9A-F]{16}$" },
                "chunkSize": int("Bytes per chunk"),
                "totalChunks": int("Chunk count"),
                "uploadUrl": string("`/api/upload/chunk/{uploadId}`"),
                "expiresAt": int("Expiry if completed now, ms since the epoch"),
                "quickShare": { "type": "boolean" },
                "oneTime": { "type": "boolean" }
            }), &[]),
            "ChunkResponse": answer(json!({
                "success": { "type": "boolean", "enum": [true] },
                "chunkNumber": int("The chunk stored"),
                "received": { "type": "boolean", "enum": [true] },
                "uploadedChunks": int("Distinct chunks received so far"),
                "totalChunks": int("Announced chunk count")
            }), &[]),
            "CompleteRequest": {
                "type": "object",
                "properties": {
                    "requiresAccessCode": boolean(loose_bool),
                    "accessCodeHash": {
                        "type": "string", "pattern": "^[0-9a-f]{128}$",
                        "description": "PBKDF2-HMAC-SHA512(code, pbkdf2Salt, 600000, 64) in hex; \
                            required when requiresAccessCode is true"
                    },
                    "isTextUpload": boolean(loose_bool),
                    "password": string("Legacy: the access-code hash, used only when none of \
                        the other fields is present")
                }
            },
            "CompleteResponse": answer(json!({
                "success": { "type": "boolean", "enum": [true] },
                "clipId": schema_inline_clip_id(),
                "url": string("Share link: `{base}/clip/{id}` or `{base}/file/{id}`"),
                "filename": { "type": "string" },
                "size": int("Bytes stored (sum of the chunks)"),
                "expiresAt": int("ms since the epoch"),
                "quickShare": { "type": "boolean" },
                "oneTime": { "type": "boolean" },
                "hasPassword": { "type": "boolean" },
                "isFile": { "type": "boolean" }
            }), &[]),
            "UploadStatus": answer(json!({
                "success": { "type": "boolean", "enum": [true] },
                "uploadId": { "type": "string" },
                "status": { "type": "string", "enum": ["uploading", "ready"] },
                "uploadedChunks": int("Distinct chunks received"),
                "totalChunks": int("Announced chunk count"),
                "progress": int("Percent, 0-100"),
                "receivedChunks": {
                    "type": "array", "items": { "type": "integer" },
                    "description": "Chunk numbers received, ascending (for resume)"
                },
                "chunks": {
                    "type": "array",
                    "description": "Each stored chunk's size and SHA-256, so a resuming client can check it is sending the same file",
                    "items": { "type": "object", "properties": {
                        "n": { "type": "integer" },
                        "size": { "type": "integer" },
                        "sha256": { "type": "string", "pattern": "^[0-9a-f]{64}$" }
                    } }
                },
                "chunkSize": int("Bytes per chunk"),
                "expiration": int("Lifetime the clip will get at completion, in ms"),
                "quickShare": { "type": "boolean" },
                "oneTime": { "type": "boolean" }
            }), &[]),
            "SuccessMessage": answer(json!({ "success": { "type": "boolean", "enum": [true] }, "message": { "type": "string" } }), &[]),
            "ClipInfo": answer(json!({
                "success": { "type": "boolean", "enum": [true] },
                "clipId": schema_inline_clip_id(),
                "contentType": { "type": "string", "enum": ["text", "file"] },
                "expiresAt": int("ms since the epoch"),
                "oneTime": { "type": "boolean" },
                "hasPassword": { "type": "boolean" },
                "quickShare": { "type": "boolean" },
                "encrypted": { "type": "boolean" }
            }), &[]),
            "ClipDescriptor": answer(json!({
                "success": { "type": "boolean", "enum": [true] },
                "contentType": { "type": "string", "enum": ["text", "file"] },
                "redirectTo": string("`/api/file/{id}`: where to POST for the content"),
                "filename": { "type": "string" },
                "filesize": int("Bytes"),
                "mimeType": { "type": "string" },
                "expiresAt": int("ms since the epoch"),
                "oneTime": { "type": "boolean" },
                "encrypted": { "type": "boolean" },
                "isTextFile": boolean("Present (true) for text clips")
            }), &["isTextFile"]),
            "AccessCodeRequest": {
                "type": "object",
                "properties": {
                    "accessCode": string("The access-code hash (128 lowercase hex) when the \
                        clip has one; may be omitted otherwise")
                }
            },
            "FileInfo": answer(json!({
                "success": { "type": "boolean", "enum": [true] },
                "clipId": schema_inline_clip_id(),
                "filename": { "type": "string" },
                "filesize": int("Bytes"),
                "mimeType": { "type": "string" },
                "expiresAt": int("ms since the epoch"),
                "oneTime": { "type": "boolean" },
                "hasPassword": { "type": "boolean" },
                "encrypted": { "type": "boolean" }
            }), &[]),
            "AdminAuthRequest": {
                "type": "object",
                "required": ["password"],
                "properties": { "password": { "type": "string", "minLength": 1, "maxLength": 128 } }
            },
            "AdminStats": answer(json!({
                "totalClips": int("Clips ever created"),
                "activeClips": int("Clips stored now"),
                "totalAccesses": int("Content downloads"),
                "passwordClips": int("Clips with an access code"),
                "passwordPercentage": int("Percent of totalClips"),
                "quickShareClips": int("Quick Share clips"),
                "quickSharePercentage": int("Percent of totalClips"),
                "oneTimeClips": int("One-time clips"),
                "normalClips": int("Other clips"),
                "activeUploads": int("Open upload sessions"),
                "storedBytes": int("Bytes of stored content"),
                "cacheHits": int("Metadata cache hits"),
                "cacheMisses": int("Metadata cache misses"),
                "lastUpdated": int("ms since the epoch")
            }), &[]),
            "AdminClip": answer(json!({
                "clip_id": string("Shortened ID: it cannot be used to fetch the clip"),
                "created_at": int("ms since the epoch"),
                "expiration_time": int("ms since the epoch"),
                "is_expired": { "type": "boolean" },
                "access_count": int("Downloads"),
                "has_password": { "type": "boolean" },
                "one_time": { "type": "boolean" },
                "quick_share": { "type": "boolean" },
                "content_type": { "type": "string", "enum": ["text", "file"] },
                "size": int("Bytes")
            }), &[]),
            "AdminSystem": answer(json!({
                "status": { "type": "string", "enum": ["OK"] },
                "version": { "type": "string" },
                "environment": { "type": "string" },
                "database": { "type": "string" },
                "lastCleanup": { "type": "integer", "nullable": true,
                    "description": "Last sweep, ms since the epoch; null before the first" },
                "sweeps": int("Sweeps run"),
                "currentTime": int("ms since the epoch"),
                "uptime": number("Seconds since start"),
                "databaseBytes": int("Size of the database on disk"),
                "freeDiskBytes": { "type": "integer", "nullable": true },
                "minFreeDisk": int("Configured free-disk reserve"),
                "maxStorage": { "type": "integer", "nullable": true,
                    "description": "Configured storage quota; null when unlimited" }
            }), &[]),
            "SweepResponse": answer(json!({
                "success": { "type": "boolean", "enum": [true] },
                "report": answer(json!({
                    "expiredClips": int("Expired clips removed"),
                    "abandonedSessions": int("Abandoned upload sessions removed"),
                    "orphans": int("Unowned files and directories removed")
                }), &[])
            }), &[]),
            "Health": answer(json!({
                "status": { "type": "string", "enum": ["OK", "ERROR"] },
                "uptime": number("Seconds since start"),
                "timestamp": { "type": "string", "format": "date-time" },
                "version": { "type": "string" },
                "database": { "type": "string", "enum": ["connected", "disconnected"] },
                "clips": int("Clips stored (when OK)"),
                "uploadSessions": int("Open upload sessions (when OK)"),
                "storedBytes": int("Bytes of stored content (when OK)"),
                "freeDiskBytes": { "type": "integer", "nullable": true },
                "error": string("What failed (when ERROR)")
            }), &["clips", "uploadSessions", "storedBytes", "freeDiskBytes", "error"]),
            "ApiHealth": answer(json!({
                "status": { "type": "string", "enum": ["OK"] },
                "uptime": number("Seconds since start"),
                "timestamp": { "type": "string", "format": "date-time" },
                "version": { "type": "string" }
            }), &[]),
            "Ping": answer(json!({
                "pong": { "type": "boolean", "enum": [true] },
                "timestamp": { "type": "string", "format": "date-time" },
                "uptime": number("Seconds since start")
            }), &[]),
            "PublicConfig": answer(json!({
                "pbkdf2Salt": string("Salt of client-side access-code hashing"),
                "chunkSize": int("Bytes per chunk"),
                "maxFileSize": int("Bytes"),
                "maxTextChars": int("Characters"),
                "maxChunks": int("Largest chunk count a session may announce"),
                "expiryOptions": {
                    "type": "array",
                    "items": answer(json!({
                        "name": { "type": "string" }, "ms": int("Lifetime in ms")
                    }), &[])
                },
                "defaultExpiry": { "type": "string" },
                "quickShareExpiryMs": int("Lifetime of Quick Share clips")
            }), &[]),
            "TlsInfo": answer(json!({
                "enabled": boolean("Whether this server speaks HTTPS itself (the `tls` key)"),
                "mode": { "type": "string", "enum": ["off", "files", "self-signed"] },
                "fingerprintSha256": {
                    "type": "string", "nullable": true,
                    "description": "SHA-256 of the certificate (DER), uppercase hex pairs joined by `:`; null when off",
                    "example": "AB:CD:..."
                }
            }), &[])
    })
}

fn schema_inline_clip_id() -> Value {
    json!({ "type": "string", "pattern": "^[A-Z0-9]{6}$|^[A-Z0-9]{10}$" })
}

#[cfg(test)]
mod tests {
    use super::document;

    #[test]
    fn document_lists_every_route() {
        let bytes = serde_json::to_vec(&document()).unwrap();
        let doc: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(doc["openapi"], "3.0.3");
        // Every (path, method) of `routes.rs`, in table order.
        let expected = [
            ("/health", "get"),
            ("/api/health", "get"),
            ("/ping", "get"),
            ("/api/config", "get"),
            ("/api/tls", "get"),
            ("/metrics", "get"),
            ("/api/openapi.json", "get"),
            ("/api/upload/initiate", "post"),
            ("/api/upload/chunk/{uploadId}/{chunkNumber}", "post"),
            ("/api/upload/chunk/{uploadId}/{chunkNumber}", "put"),
            ("/api/upload/complete/{uploadId}", "post"),
            ("/api/upload/{uploadId}/status", "get"),
            ("/api/upload/{uploadId}", "delete"),
            ("/api/clip/{id}/preview", "get"),
            ("/api/clip/{id}/info", "get"),
            ("/api/clip/{id}", "get"),
            ("/api/clip/{id}", "post"),
            ("/api/file/{id}/info", "get"),
            ("/api/file/{id}", "post"),
            ("/api/file/{id}", "get"),
            ("/api/admin/auth", "post"),
            ("/api/admin/stats", "get"),
            ("/api/admin/clips", "get"),
            ("/api/admin/system", "get"),
            ("/api/admin/sweep", "post"),
            ("/", "get"),
            ("/clip/{id}", "get"),
            ("/file/{id}", "get"),
            ("/clip/{id}", "post"),
            ("/file/{id}", "post"),
            ("/", "put"),
            ("/{asset}", "put"),
            ("/", "post"),
            ("/admin", "get"),
            ("/{asset}", "get"),
        ];
        let paths = doc["paths"].as_object().unwrap();
        for (path, method) in expected {
            let op = &paths.get(path).unwrap_or_else(|| panic!("{path} missing"))[method];
            assert!(op.is_object(), "{method} {path} missing");
            assert!(
                op["responses"].is_object(),
                "{method} {path} has no responses"
            );
        }
        let documented: usize = paths.values().map(|p| p.as_object().unwrap().len()).sum();
        assert_eq!(
            documented,
            expected.len(),
            "a path is documented but not routed"
        );
        // Every $ref points at a component that exists.
        let text = String::from_utf8(bytes).unwrap();
        for piece in text.split("\"$ref\":\"#/components/").skip(1) {
            let target = &piece[..piece.find('"').unwrap()];
            let (kind, name) = target.split_once('/').unwrap();
            assert!(
                doc["components"][kind][name].is_object(),
                "dangling $ref {target}"
            );
        }
    }

    /// The README's API table and the OpenAPI document list the same (method, path) pairs.
    #[test]
    fn readme_table_matches_the_document() {
        let readme = include_str!("../../README.md");
        let mut from_readme = Vec::new();
        for line in readme.lines() {
            let cells: Vec<&str> = line.split('|').map(str::trim).collect();
            if cells.len() < 4
                || !cells[1]
                    .chars()
                    .all(|c| c.is_ascii_uppercase() || c == ',' || c == ' ')
                || cells[1].is_empty()
                || cells[1] == "Method"
            {
                continue;
            }
            let path = cells[2].trim_matches('`');
            if !path.starts_with('/') {
                continue;
            }
            // `:name` in the README is `{name}` in OpenAPI (`/:asset` is `/{asset}`).
            let path: String = path
                .split('/')
                .map(|seg| match seg.strip_prefix(':') {
                    Some(name) => format!("{{{name}}}"),
                    None => seg.to_string(),
                })
                .collect::<Vec<_>>()
                .join("/");
            for method in cells[1].split(',') {
                from_readme.push((path.clone(), method.trim().to_lowercase()));
            }
        }
        let doc = document();
        let mut from_doc = Vec::new();
        for (path, ops) in doc["paths"].as_object().unwrap() {
            for method in ops.as_object().unwrap().keys() {
                from_doc.push((path.clone(), method.clone()));
            }
        }
        from_readme.sort();
        from_doc.sort();
        assert_eq!(from_readme, from_doc);
    }
}
