//! Health and public configuration: `GET /health` (with real figures and a database check),
//! `GET /api/health`, `GET /ping`, `GET /api/config` and `GET /api/tls`.

use super::{json_response, ok_json, Response, State};
use http::StatusCode;
use serde_json::json;
use std::time::SystemTime;

/// The version reported by health endpoints.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

fn timestamp() -> String {
    humantime::format_rfc3339_millis(SystemTime::now()).to_string()
}

/// `GET /health`: liveness plus a database read, with storage figures.
pub async fn health(state: State) -> Result<Response, std::convert::Infallible> {
    let q = &state.qopy;
    let uptime = q.started.elapsed().as_secs_f64();
    let db = q.store.counter(crate::store::counter::STORED_BYTES);
    let free = q.blobs.free_space().ok();
    Ok(match db {
        Ok(stored) => ok_json(json!({
            "status": "OK",
            "uptime": uptime,
            "timestamp": timestamp(),
            "version": VERSION,
            "database": "connected",
            "clips": q.store.clip_count(),
            "uploadSessions": q.store.session_count(),
            "storedBytes": stored,
            "freeDiskBytes": free,
        })),
        Err(e) => {
            tracing::error!(error = %e, "health check: database failed");
            json_response(
                StatusCode::SERVICE_UNAVAILABLE,
                &json!({
                    "status": "ERROR",
                    "uptime": uptime,
                    "timestamp": timestamp(),
                    "version": VERSION,
                    "database": "disconnected",
                    "error": "Database health check failed",
                }),
            )
        }
    })
}

/// `GET /api/health`: liveness only.
pub async fn api_health(state: State) -> Result<Response, std::convert::Infallible> {
    Ok(ok_json(json!({
        "status": "OK",
        "uptime": state.qopy.started.elapsed().as_secs_f64(),
        "timestamp": timestamp(),
        "version": VERSION,
    })))
}

/// `GET /ping`.
pub async fn ping(state: State) -> Result<Response, std::convert::Infallible> {
    Ok(ok_json(json!({
        "pong": true,
        "timestamp": timestamp(),
        "uptime": state.qopy.started.elapsed().as_secs_f64(),
    })))
}

/// `GET /api/tls`: whether the server speaks HTTPS itself, how, and the SHA-256 fingerprint
/// of its certificate (so a self-signed one can be checked against the start-up output).
pub async fn tls(state: State) -> Result<Response, std::convert::Infallible> {
    let mode = state
        .tls
        .as_ref()
        .map_or(crate::config::TlsMode::Off, |t| t.mode);
    Ok(ok_json(json!({
        "enabled": state.tls.is_some(),
        "mode": mode.as_str(),
        "fingerprintSha256": state.tls.as_ref().map(|t| t.fingerprint.clone()),
    })))
}

/// `GET /api/config`: the access-code salt and the limits a client needs.
pub async fn config(state: State) -> Result<Response, std::convert::Infallible> {
    let q = &state.qopy;
    let c = &q.config;
    let expiry: Vec<_> = c
        .expiry_options
        .iter()
        .map(|(name, ms)| json!({ "name": name, "ms": ms }))
        .collect();
    Ok(ok_json(json!({
        "pbkdf2Salt": q.pbkdf2_salt,
        "chunkSize": c.chunk_size,
        "maxFileSize": c.max_file_size,
        "maxTextChars": c.max_text_chars,
        "maxChunks": q.max_chunks(),
        "expiryOptions": expiry,
        "defaultExpiry": c.default_expiry,
        "quickShareExpiryMs": crate::service::QUICK_SHARE_LIFETIME_MS,
    })))
}
