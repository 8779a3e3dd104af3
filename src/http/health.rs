//! Health and public configuration: `GET /health` (with real figures and a database check),
//! `GET /api/health`, `GET /ping`, `GET /api/config` and `GET /api/tls`.

use super::{json_response, ok_json, Response, State};
use http::StatusCode;
use serde_json::json;
use std::time::{Duration, SystemTime};

/// The version reported by health endpoints.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

fn timestamp() -> String {
    humantime::format_rfc3339_millis(SystemTime::now()).to_string()
}

/// How long `/health`'s write-and-flush probe may take before the store counts as stuck.
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// How long `/health` waits for its storage figures (null when they take longer).
const FIGURES_TIMEOUT: Duration = Duration::from_secs(5);

/// `GET /health`: liveness with a real write to the database made durable (a probe with a
/// deadline of [`PROBE_TIMEOUT`]), and storage figures. 503 when the database fails or is
/// stuck, so a supervisor's health check sees it.
pub async fn health(state: State) -> Result<Response, std::convert::Infallible> {
    let q = state.qopy.clone();
    let uptime = q.uptime().as_secs_f64();
    let now = q.now();
    let slot = state.health_probe.clone();
    let probe = tokio::time::timeout(PROBE_TIMEOUT, async {
        // The write keeps the slot until it returns, even after this deadline passes.
        let slot = slot
            .acquire_owned()
            .await
            .map_err(|e| crate::service::ServiceError::Task(e.to_string()))?;
        q.blocking(move |q| {
            let _slot = slot;
            q.write_probe(now)
        })
        .await?;
        q.flush().await?;
        Ok::<_, crate::service::ServiceError>(())
    })
    .await;
    let failure = match probe {
        Ok(Ok(())) => {
            // The figures scan whole trees: outside the probe's deadline, with their own.
            let figures =
                tokio::time::timeout(FIGURES_TIMEOUT, q.blocking(|q| Ok(q.figures()))).await;
            let (stored, clips, sessions, free) = match figures {
                Ok(Ok(f)) => (
                    f.stored_bytes,
                    Some(f.clips),
                    Some(f.upload_sessions),
                    f.free_disk_bytes,
                ),
                _ => (None, None, None, None),
            };
            return Ok(ok_json(json!({
                "status": "OK",
                "uptime": uptime,
                "timestamp": timestamp(),
                "version": VERSION,
                "database": "connected",
                "clips": clips,
                "uploadSessions": sessions,
                "storedBytes": stored,
                "freeDiskBytes": free,
            })));
        }
        Ok(Err(e)) => {
            tracing::error!(error = %e, "health check: database failed");
            ("disconnected", "Database health check failed")
        }
        Err(_) => {
            tracing::error!(
                timeout_ms = PROBE_TIMEOUT.as_millis() as u64,
                "health check: a database write was not durable in time"
            );
            ("stalled", "Database write did not complete in time")
        }
    };
    Ok(json_response(
        StatusCode::SERVICE_UNAVAILABLE,
        &json!({
            "status": "ERROR",
            "uptime": uptime,
            "timestamp": timestamp(),
            "version": VERSION,
            "database": failure.0,
            "error": failure.1,
        }),
    ))
}

/// `GET /api/health`: liveness only.
pub async fn api_health(state: State) -> Result<Response, std::convert::Infallible> {
    Ok(ok_json(json!({
        "status": "OK",
        "uptime": state.qopy.uptime().as_secs_f64(),
        "timestamp": timestamp(),
        "version": VERSION,
    })))
}

/// `GET /ping`.
pub async fn ping(state: State) -> Result<Response, std::convert::Infallible> {
    Ok(ok_json(json!({
        "pong": true,
        "timestamp": timestamp(),
        "uptime": state.qopy.uptime().as_secs_f64(),
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
    let c = q.config();
    let expiry: Vec<_> = c
        .expiry_options
        .iter()
        .map(|(name, ms)| json!({ "name": name, "ms": ms }))
        .collect();
    Ok(ok_json(json!({
        "pbkdf2Salt": q.pbkdf2_salt(),
        "chunkSize": c.chunk_size,
        "maxFileSize": c.max_file_size,
        "maxTextChars": c.max_text_chars,
        "maxChunks": q.max_chunks(),
        "expiryOptions": expiry,
        "defaultExpiry": c.default_expiry,
        "quickShareExpiryMs": crate::service::QUICK_SHARE_LIFETIME_MS,
    })))
}
