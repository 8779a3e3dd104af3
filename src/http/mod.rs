//! The HTTP layer. `table` is the route table, every route declared once; `dispatch` serves
//! a request from it; each resource has its own file of handlers, which take a
//! [`dispatch::Req`] and return `Result<Response, ApiError>`; `error` maps errors to statuses;
//! `guard` holds the cross-cutting rules (Host check, origin check, security headers, rate
//! limits); `body` lets a handler hand a zero-copy streaming body to the server loop; the
//! bodies themselves are the contract's types (`crate::api`), and `openapi` derives the
//! OpenAPI document from the table and those types.

pub mod admin;
pub mod assets;
pub mod body;
pub mod clips;
pub mod dispatch;
pub mod docs;
pub mod docs_dropbox;
pub mod dropbox;
pub mod error;
pub mod guard;
pub mod health;
pub mod metrics;
pub mod oneshot;
pub mod openapi;
pub mod preview;
pub mod share_target;
pub mod table;
pub mod uploads;

pub use dispatch::{dispatch, Req};
pub use error::{ApiError, Ctx};

use crate::service::Qopy;
use guard::Limits;
use http::header::{CACHE_CONTROL, CONTENT_TYPE};
use http::StatusCode;
use serde::de::DeserializeOwned;
use std::net::IpAddr;
use std::sync::Arc;

/// A response, as the server loop sends it.
pub type Response = http::Response<body::ServerBody>;

/// Everything a handler needs.
pub struct AppState {
    /// The application core.
    pub qopy: Arc<Qopy>,
    /// Rate limiters.
    pub limits: Limits,
    /// The host names requests may be addressed to (the DNS-rebinding check).
    pub hosts: guard::AllowedHosts,
    /// Prometheus metrics, recorded by the server loop.
    pub metrics: crate::metrics::Metrics,
    /// Built-in HTTPS, when the `tls` key is not off.
    pub tls: Option<crate::tls::Tls>,
    /// One `/health` probe write at a time: on a stuck store, health checks queue here
    /// instead of each taking a blocking thread.
    pub health_probe: Arc<tokio::sync::Semaphore>,
}

/// Shared handle to the state.
pub type State = Arc<AppState>;

/// A response with a status, a body and fixed headers.
pub fn respond(
    status: StatusCode,
    body: impl Into<bytes::Bytes>,
    headers: &[(http::HeaderName, &'static str)],
) -> Response {
    let mut resp = Response::new(body::full(body));
    *resp.status_mut() = status;
    let h = resp.headers_mut();
    for (name, value) in headers {
        h.insert(name.clone(), http::HeaderValue::from_static(value));
    }
    resp
}

/// `X-Content-Type-Options`, on answers whose bytes a browser must not sniff.
pub const NOSNIFF: http::HeaderName = http::HeaderName::from_static("x-content-type-options");

/// A JSON response with a status, serialized straight from a value.
pub fn json_status<T: serde::Serialize + ?Sized>(status: StatusCode, body: &T) -> Response {
    let bytes = serde_json::to_vec(body).unwrap_or_else(|_| b"{}".to_vec());
    respond(
        status,
        bytes,
        &[
            (CONTENT_TYPE, "application/json; charset=utf-8"),
            (CACHE_CONTROL, "no-store"),
        ],
    )
}

/// A 200 JSON response.
pub fn json<T: serde::Serialize + ?Sized>(body: &T) -> Response {
    json_status(StatusCode::OK, body)
}

/// The address a request from `peer` is attributed to: the connecting peer, or the first
/// untrusted address in `X-Forwarded-For` (from the right) when the peer is a trusted proxy.
pub fn attributed_ip(
    config: &crate::config::Config,
    peer: IpAddr,
    xff: Option<&http::HeaderValue>,
) -> Result<IpAddr, ApiError> {
    let trusted = &config.trusted_proxies;
    let is_trusted = |ip: IpAddr| trusted.iter().any(|n| n.contains(ip));
    // The header is read only from a trusted proxy: from anyone else it is ignored, even
    // when it is not text.
    if !is_trusted(peer) {
        return Ok(peer);
    }
    let Some(xff) = xff else { return Ok(peer) };
    let xff = xff
        .to_str()
        .map_err(|_| ApiError::validation("Invalid header: x-forwarded-for"))?;
    let mut client = peer;
    for hop in xff.rsplit(',') {
        match hop.trim().parse::<IpAddr>() {
            Ok(ip) => {
                client = ip;
                if !is_trusted(ip) {
                    break;
                }
            }
            Err(_) => break,
        }
    }
    Ok(client)
}

/// The largest JSON body accepted.
pub const MAX_JSON_BODY: usize = 64 * 1024;

/// Parses a JSON body; an empty body is `{}`. Malformed JSON and wrong types are a 400 that
/// says what is wrong.
pub fn parse_json<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    let body = if body.iter().all(|b| b.is_ascii_whitespace()) {
        b"{}".as_slice()
    } else {
        body
    };
    serde_json::from_slice(body)
        .map_err(|e| ApiError::validation(format!("Invalid JSON body: {e}")))
}

/// The `scheme://host` prefix of links in answers: `public_url`, or the request's Host.
pub fn base_url(state: &AppState, host: Option<&str>) -> String {
    if let Some(url) = &state.qopy.config().public_url {
        return url.clone();
    }
    let host = host
        .filter(|h| {
            !h.is_empty()
                && h.bytes()
                    .all(|c| c.is_ascii_alphanumeric() || b".-:[]_".contains(&c))
        })
        .unwrap_or("localhost");
    let scheme = if state.tls.is_some() { "https" } else { "http" };
    format!("{scheme}://{host}")
}
