//! Health and public configuration: `GET /health` (with real figures and a database check),
//! `GET /api/health`, `GET /ping`, `GET /api/config` and `GET /api/tls`.

use super::{json, json_status, ApiError, Req, Response};
use crate::api;
use http::StatusCode;
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
pub async fn health(r: Req) -> Result<Response, ApiError> {
    let state = r.state;
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
            return Ok(json(&api::Health {
                clips: Some(clips.map(|n| n as u64)),
                database: "connected".into(),
                error: None,
                free_disk_bytes: Some(free),
                status: "OK".into(),
                stored_bytes: Some(stored),
                timestamp: timestamp(),
                upload_sessions: Some(sessions.map(|n| n as u64)),
                uptime,
                version: VERSION.into(),
            }));
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
    Ok(json_status(
        StatusCode::SERVICE_UNAVAILABLE,
        &api::Health {
            database: failure.0.into(),
            error: Some(failure.1.into()),
            status: "ERROR".into(),
            timestamp: timestamp(),
            uptime,
            version: VERSION.into(),
            ..Default::default()
        },
    ))
}

/// `GET /api/health`: liveness only.
pub async fn api_health(r: Req) -> Result<Response, ApiError> {
    Ok(json(&api::ApiHealth {
        status: "OK".into(),
        timestamp: timestamp(),
        uptime: r.state.qopy.uptime().as_secs_f64(),
        version: VERSION.into(),
    }))
}

/// `GET /ping`.
pub async fn ping(r: Req) -> Result<Response, ApiError> {
    Ok(json(&api::Ping {
        pong: true,
        timestamp: timestamp(),
        uptime: r.state.qopy.uptime().as_secs_f64(),
    }))
}

/// `GET /api/tls`: whether the server speaks HTTPS itself, how, and the SHA-256 fingerprint
/// of its certificate (so a self-signed one can be checked against the start-up output).
pub async fn tls(r: Req) -> Result<Response, ApiError> {
    let tls = r.state.tls.as_ref();
    let mode = tls.map_or(crate::config::TlsMode::Off, |t| t.mode);
    Ok(json(&api::TlsInfo {
        enabled: tls.is_some(),
        fingerprint_sha256: tls.map(|t| t.fingerprint.clone()),
        mode: mode.as_str().into(),
    }))
}

/// `GET /api/config`: the access-code salt and the limits a client needs.
pub async fn config(r: Req) -> Result<Response, ApiError> {
    let q = &r.state.qopy;
    let c = q.config();
    Ok(json(&api::PublicConfig {
        chunk_size: c.chunk_size,
        default_expiry: c.default_expiry.clone(),
        expiry_options: c
            .expiry_options
            .iter()
            .map(|(name, ms)| api::ExpiryOption {
                ms: *ms,
                name: name.clone(),
            })
            .collect(),
        max_chunks: q.max_chunks(),
        max_file_size: c.max_file_size,
        max_text_chars: c.max_text_chars,
        pbkdf2_salt: q.pbkdf2_salt().to_string(),
        quick_share_expiry_ms: crate::service::QUICK_SHARE_LIFETIME_MS,
    }))
}
