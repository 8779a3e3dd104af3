//! `GET /metrics`: the Prometheus exposition text of `crate::metrics`.

use super::{ApiError, Req, Response};
use http::HeaderValue;

/// `GET /metrics`.
pub async fn metrics(r: Req) -> Result<Response, ApiError> {
    // The store's figures are read while encoding: on the blocking pool.
    let state = r.state.clone();
    let text =
        tokio::task::spawn_blocking(move || state.metrics.encode().map_err(|e| e.to_string()))
            .await
            .unwrap_or_else(|e| Err(e.to_string()))
            .map_err(ApiError::internal)?;
    let mut resp = Response::new(text.into());
    let h = resp.headers_mut();
    h.insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/openmetrics-text; version=1.0.0; charset=utf-8"),
    );
    h.insert(
        http::header::CACHE_CONTROL,
        HeaderValue::from_static("no-store"),
    );
    Ok(resp)
}
