//! `GET /metrics`: the Prometheus exposition text of `crate::metrics`.

use super::{respond, ApiError, Req, Response};
use http::header::{CACHE_CONTROL, CONTENT_TYPE};
use http::StatusCode;

/// `GET /metrics`.
pub async fn metrics(r: Req) -> Result<Response, ApiError> {
    // The store's figures are read while encoding: on the blocking pool.
    let state = r.state.clone();
    let text =
        tokio::task::spawn_blocking(move || state.metrics.encode().map_err(|e| e.to_string()))
            .await
            .unwrap_or_else(|e| Err(e.to_string()))
            .map_err(ApiError::internal)?;
    Ok(respond(
        StatusCode::OK,
        text,
        &[
            (
                CONTENT_TYPE,
                "application/openmetrics-text; version=1.0.0; charset=utf-8",
            ),
            (CACHE_CONTROL, "no-store"),
        ],
    ))
}
