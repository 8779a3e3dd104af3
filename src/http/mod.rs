//! The only place that knows warp. `routes` is the route table; each resource has its own
//! file of handlers, which return `Result<Response, ApiError>` instead of rejecting; `error`
//! maps errors to statuses; `guard` holds the cross-cutting rules (Host check, origin
//! check, security headers, rate limits); `body` lets a handler hand a zero-copy streaming body to the server
//! loop, which warp 0.4 has no public way to build.

pub mod admin;
pub mod assets;
pub mod body;
pub mod clips;
pub mod error;
pub mod fast;
pub mod guard;
pub mod health;
pub mod oneshot;
pub mod openapi;
pub mod openapi_paths;
pub mod preview;
pub mod routes;
pub mod uploads;

pub use error::{ApiError, Ctx};
pub use routes::routes;

use crate::service::Qopy;
use guard::Limits;
use http::StatusCode;
use serde::de::DeserializeOwned;
use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use warp::Filter;

/// warp's response type.
pub type Response = warp::reply::Response;

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

/// The connecting peer's address, inserted into each request by the server loop.
#[derive(Debug, Clone, Copy)]
pub struct PeerAddr(pub SocketAddr);

/// A JSON response with a status.
pub fn json_response(status: StatusCode, body: &serde_json::Value) -> Response {
    json_bytes_response(
        status,
        serde_json::to_vec(body).unwrap_or_else(|_| b"{}".to_vec()),
    )
}

/// A 200 JSON response serialized straight from a value (no intermediate `Value`).
pub fn serialized_json<T: serde::Serialize>(body: &T) -> Response {
    json_bytes_response(
        StatusCode::OK,
        serde_json::to_vec(body).unwrap_or_else(|_| b"{}".to_vec()),
    )
}

fn json_bytes_response(status: StatusCode, bytes: Vec<u8>) -> Response {
    let mut resp = Response::new(bytes.into());
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json; charset=utf-8"),
    );
    resp.headers_mut().insert(
        http::header::CACHE_CONTROL,
        http::HeaderValue::from_static("no-store"),
    );
    resp
}

/// A 200 JSON response.
pub fn ok_json(body: serde_json::Value) -> Response {
    json_response(StatusCode::OK, &body)
}

/// Turns a handler result into a response.
pub fn finish(r: Result<Response, ApiError>) -> Result<Response, Infallible> {
    Ok(r.unwrap_or_else(ApiError::into_response))
}

/// Passes the state to a handler.
pub fn with_state(state: State) -> impl Filter<Extract = (State,), Error = Infallible> + Clone {
    warp::any().map(move || state.clone())
}

/// The address a request is attributed to: the connecting peer, or the first untrusted
/// address in `X-Forwarded-For` (from the right) when the peer is a trusted proxy.
pub fn client_ip(
    state: State,
) -> impl Filter<Extract = (IpAddr,), Error = warp::Rejection> + Clone {
    warp::ext::optional::<PeerAddr>()
        .and(warp::header::optional::<String>("x-forwarded-for"))
        .map(move |peer: Option<PeerAddr>, xff: Option<String>| {
            let peer = peer
                .map(|p| p.0.ip())
                .unwrap_or(IpAddr::from([127, 0, 0, 1]));
            attributed_ip(state.qopy.config(), peer, xff.as_deref())
        })
}

/// The address a request from `peer` is attributed to (see [`client_ip`]).
pub fn attributed_ip(config: &crate::config::Config, peer: IpAddr, xff: Option<&str>) -> IpAddr {
    let trusted = &config.trusted_proxies;
    let is_trusted = |ip: IpAddr| trusted.iter().any(|n| n.contains(ip));
    if !is_trusted(peer) {
        return peer;
    }
    let Some(xff) = xff else { return peer };
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
    client
}

/// The largest JSON body accepted.
pub const MAX_JSON_BODY: usize = 64 * 1024;

/// Reads a small body (at most [`MAX_JSON_BODY`] bytes) as bytes, with or without a
/// `Content-Length` (a bare `curl -X POST` sends none).
pub fn small_body() -> impl Filter<Extract = (bytes::Bytes,), Error = warp::Rejection> + Clone {
    warp::header::optional::<u64>("content-length")
        .and(warp::body::stream())
        .and_then(|len: Option<u64>, body| async move {
            if len.is_some_and(|l| l > MAX_JSON_BODY as u64) {
                return Err(warp::reject::custom(error::BodyTooLarge));
            }
            let mut body = std::pin::pin!(body);
            let mut out = bytes::BytesMut::new();
            while let Some(piece) = futures_util::StreamExt::next(&mut body).await {
                let piece: Result<_, warp::Error> = piece;
                let piece = piece.map_err(|_| warp::reject::custom(error::BodyUnreadable))?;
                if out.len() + bytes::Buf::remaining(&piece) > MAX_JSON_BODY {
                    return Err(warp::reject::custom(error::BodyTooLarge));
                }
                bytes::BufMut::put(&mut out, piece);
            }
            Ok::<_, warp::Rejection>(out.freeze())
        })
}

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
