//! `GET /api/openapi.json`: the OpenAPI 3.0.3 description of every route of the route table.
//! The document is static, so it is built and serialized once and then served from memory.
//! It is derived: the paths from the route table (`table.rs`), each with the operation its
//! entry names (`docs.rs`), and the schemas from the contract's types (`crate::api`).

use super::dispatch::Req;
use super::{ApiError, Response};
use bytes::Bytes;
use serde_json::{json, Value};
use std::sync::OnceLock;
use utoipa::ToSchema;

/// The serialized document, built on first use.
static DOCUMENT: OnceLock<Bytes> = OnceLock::new();

/// Serves the document.
pub async fn serve(_: Req) -> Result<Response, ApiError> {
    let body = DOCUMENT
        .get_or_init(|| Bytes::from(serde_json::to_vec(&document()).unwrap_or_default()))
        .clone();
    let mut resp = Response::new(super::body::full(body));
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
            { "name": "dropboxes", "description": "Drop boxes: a receiver's public key that senders upload items into" },
            { "name": "admin", "description": "Admin API (disabled without admin_token)" },
            { "name": "pages", "description": "The browser client" }
        ],
        "paths": paths(),
        "components": components(),
    })
}

/// A `$ref` to the schema of a contract type.
pub(super) fn schema<T: ToSchema<'static>>() -> Value {
    json!({ "$ref": format!("#/components/schemas/{}", T::schema().0) })
}

/// A `$ref` to a shared parameter.
pub(super) fn param(name: &str) -> Value {
    json!({ "$ref": format!("#/components/parameters/{name}") })
}

/// A `$ref` to a shared response.
pub(super) fn response(name: &str) -> Value {
    json!({ "$ref": format!("#/components/responses/{name}") })
}

/// A JSON response whose body is a contract type.
pub(super) fn json_ok<T: ToSchema<'static>>(description: &str) -> Value {
    json!({
        "description": description,
        "content": { "application/json": { "schema": schema::<T>() } }
    })
}

/// An error response with the standard error body.
pub(super) fn error(description: &str) -> Value {
    json_ok::<crate::api::ErrorBody>(description)
}

/// A JSON request body of a contract type.
pub(super) fn json_body<T: ToSchema<'static>>(required: bool) -> Value {
    json!({
        "required": required,
        "content": { "application/json": { "schema": schema::<T>() } }
    })
}

/// The components: the parameters, responses and security scheme the operations share, and
/// the schemas generated from the contract's types.
fn components() -> Value {
    let mut c = super::docs::shared_components();
    let schemas: serde_json::Map<String, Value> = crate::api::schemas()
        .into_iter()
        .map(|(name, s)| {
            (
                name.to_string(),
                serde_json::to_value(s).unwrap_or_default(),
            )
        })
        .collect();
    c["schemas"] = Value::Object(schemas);
    c
}

/// The paths: every route of the table, its operation under its method.
fn paths() -> Value {
    let mut paths = serde_json::Map::new();
    for route in super::table::ROUTES {
        let item = paths
            .entry(route.path.to_string())
            .or_insert_with(|| Value::Object(Default::default()));
        item[route.method.as_str().to_ascii_lowercase().as_str()] = (route.doc)();
    }
    Value::Object(paths)
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
            ("/api/dropbox", "post"),
            ("/api/dropbox/{id}", "get"),
            ("/api/dropbox/{id}", "delete"),
            ("/api/dropbox/{id}/items", "get"),
            ("/api/dropbox/{id}/items/{clipId}", "delete"),
            ("/api/admin/auth", "post"),
            ("/api/admin/stats", "get"),
            ("/api/admin/clips", "get"),
            ("/api/admin/system", "get"),
            ("/api/admin/sweep", "post"),
            ("/", "get"),
            ("/clip/{id}", "get"),
            ("/file/{id}", "get"),
            ("/drop/{id}", "get"),
            ("/clip/{id}", "post"),
            ("/file/{id}", "post"),
            ("/", "put"),
            ("/{asset}", "put"),
            ("/", "post"),
            ("/admin", "get"),
            ("/share-target", "post"),
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
