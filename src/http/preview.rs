//! `GET /api/clip/:id/preview`: the JPEG preview of an unencrypted image clip (see
//! `service::preview`), and `GET /metrics`, the Prometheus exposition text.

use super::clips::{begin, fail};
use super::guard::Class;
use super::{ApiError, Ctx, Response, State};
use http::{HeaderValue, StatusCode};
use std::net::IpAddr;

/// `GET /api/clip/:id/preview`. Never consumes.
pub async fn preview(state: State, ip: IpAddr, raw: String) -> Result<Response, ApiError> {
    let id = begin(&state, ip, Class::Lookup, &raw)?;
    let jpeg = state
        .qopy
        .preview(id)
        .await
        .map_err(|e| fail(&state, ip, &id, e, Ctx::Clip))?;
    let len = jpeg.len();
    let mut r = Response::new(jpeg.into());
    let h = r.headers_mut();
    h.insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("image/jpeg"),
    );
    h.insert(http::header::CONTENT_LENGTH, HeaderValue::from(len));
    // The clip may expire or be deleted at any time: no shared or long-lived copies.
    h.insert(
        http::header::CACHE_CONTROL,
        HeaderValue::from_static("private, max-age=60"),
    );
    h.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    Ok(r)
}

/// `GET /metrics`.
pub async fn metrics(state: State) -> Result<Response, ApiError> {
    // The store's figures are read while encoding: on the blocking pool.
    let st = state.clone();
    let text = tokio::task::spawn_blocking(move || st.metrics.encode().map_err(|e| e.to_string()))
        .await
        .unwrap_or_else(|e| Err(e.to_string()));
    let text = text.map_err(|e| {
        tracing::error!(error = %e, "metrics encoding failed");
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Internal server error",
            "Something went wrong",
        )
    })?;
    let mut r = Response::new(text.into());
    let h = r.headers_mut();
    h.insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/openmetrics-text; version=1.0.0; charset=utf-8"),
    );
    h.insert(
        http::header::CACHE_CONTROL,
        HeaderValue::from_static("no-store"),
    );
    Ok(r)
}
