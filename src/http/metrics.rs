//! `GET /metrics`: the Prometheus exposition text of `crate::metrics`.

use super::{respond, ApiError, Req, Response};
use http::header::{CACHE_CONTROL, CONTENT_TYPE};
use http::StatusCode;

/// `GET /metrics`.
pub async fn metrics(r: Req) -> Result<Response, ApiError> {
    // The store's figures are read while encoding: on the blocking pool, as the core's work
    // (so shutdown waits for it).
    let state = r.state.clone();
    let text = r
        .state
        .qopy
        .blocking(move |_| {
            state
                .metrics
                .encode()
                .map_err(|e| crate::service::ServiceError::Task(e.to_string()))
        })
        .await
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
