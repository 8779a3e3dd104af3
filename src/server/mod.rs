//! The accept loop (with the TLS handshake when the `tls` key asks for HTTPS; HSTS is then
//! added to every response). warp 0.4's own server has no header-read timeout and no connection cap,
//! so connections are accepted here, given `TCP_NODELAY` (small answers must not wait for a
//! delayed ACK), capped in number (overall and per client address), and served by hyper's
//! HTTP/1 with a timer. Every request body is held to a minimum rate and a deadline. Every request
//! passes the origin check and gets the security headers here, so no route can forget them;
//! streaming bodies prepared by handlers are swapped in here too, and every request is
//! counted into the metrics (route template, status, latency, bytes in and out). A connection that starts no
//! request for `idle_timeout` is closed (after any response in progress). Shutdown stops
//! accepting, lets open requests finish for a while, then drops what is left.

mod body;
mod per_address;

use body::{cut_response, GuardedBody};
use per_address::PerAddress;

use crate::http::body::ServerBody;
use crate::http::guard::{
    check_origin, misdirected, opener_policy, opener_policy_applies, security_headers, OriginCheck,
};
use crate::http::{ApiError, Response, State};
use http::{HeaderValue, Method, StatusCode};
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// How long open connections get to finish after shutdown starts.
const DRAIN: Duration = Duration::from_secs(10);

fn preflight(origin: &str) -> Response {
    let mut r = Response::new(Default::default());
    *r.status_mut() = StatusCode::NO_CONTENT;
    let h = r.headers_mut();
    if let Ok(v) = HeaderValue::from_str(origin) {
        h.insert("access-control-allow-origin", v);
    }
    h.insert(
        "access-control-allow-methods",
        HeaderValue::from_static("GET, POST, PUT, DELETE, OPTIONS"),
    );
    h.insert(
        "access-control-allow-headers",
        HeaderValue::from_static(
            "content-type, authorization, range, if-range, x-qopy-claim, x-qopy-expiry, \
             x-qopy-one-time, x-qopy-max-downloads, x-qopy-quick-share, x-qopy-owner",
        ),
    );
    h.insert("access-control-max-age", HeaderValue::from_static("600"));
    r
}

async fn handle(
    state: State,
    peer: std::net::SocketAddr,
    conn: crate::net::ConnFd,
    tls: bool,
    req: http::Request<Incoming>,
) -> Result<http::Response<ServerBody>, Infallible> {
    let started = std::time::Instant::now();
    let method = req.method().clone();
    // Looked up once: the label for the metrics, the route for the dispatch.
    let found = crate::http::table::find(&method, req.uri().path());
    let st = state.clone();
    let len = req
        .headers()
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok());
    let https = tls
        || state
            .qopy
            .config()
            .public_url
            .as_deref()
            .is_some_and(|u| u.starts_with("https://"));
    let coop = opener_policy_applies(https, req.headers());
    let req = req.map(|inner| GuardedBody::new(inner, st, len));
    let cut = req.body().cut.clone();
    let mut resp = respond(state.clone(), peer, conn, req, found).await?;
    if let Some(&c) = cut.get() {
        tracing::debug!(?c, "request body cut off");
        resp = cut_response(c, state.qopy.config());
        security_headers(resp.headers_mut());
    }
    if coop {
        opener_policy(resp.headers_mut());
    }
    if tls {
        // Only over TLS: browsers ignore HSTS received over plain http anyway (RFC 6797 §8.1).
        resp.headers_mut().insert(
            http::header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000"),
        );
    }
    let m = &state.metrics;
    m.record(
        method.as_str(),
        found.label(),
        resp.status().as_u16(),
        started.elapsed(),
    );
    if let Some(n) = http_body::Body::size_hint(resp.body()).exact() {
        m.add_bytes_out(n);
    }
    Ok(resp)
}

async fn respond(
    state: State,
    peer: std::net::SocketAddr,
    conn: crate::net::ConnFd,
    req: http::Request<GuardedBody>,
    found: crate::http::table::Found,
) -> Result<http::Response<ServerBody>, Infallible> {
    // DNS rebinding: a Host the server is not known by is refused before any other work.
    if !state.hosts.allows(req.headers()) {
        let mut resp = misdirected();
        security_headers(resp.headers_mut());
        return Ok(resp);
    }
    let mut origin = check_origin(state.qopy.config(), req.headers());
    if matches!(origin, OriginCheck::Forbidden) && found.any_origin() {
        origin = OriginCheck::SameOrigin;
    }
    let mut resp = match &origin {
        OriginCheck::Forbidden => ApiError::origin_forbidden().into_response(),
        OriginCheck::Allowed(o) if req.method() == Method::OPTIONS => preflight(o),
        OriginCheck::SameOrigin if req.method() == Method::OPTIONS => {
            let mut r = Response::new(Default::default());
            *r.status_mut() = StatusCode::NO_CONTENT;
            r
        }
        _ => crate::http::dispatch(state.clone(), peer, conn, req, found).await,
    };
    if let OriginCheck::Allowed(o) = &origin {
        if let Ok(v) = HeaderValue::from_str(o) {
            resp.headers_mut().insert("access-control-allow-origin", v);
        }
        resp.headers_mut()
            .insert(http::header::VARY, HeaderValue::from_static("Origin"));
        // What a cross-origin script may read of a download, to resume it.
        resp.headers_mut().insert(
            "access-control-expose-headers",
            HeaderValue::from_static(
                "content-range, etag, accept-ranges, x-qopy-claim, x-qopy-encrypted",
            ),
        );
    }
    security_headers(resp.headers_mut());
    Ok(resp)
}

/// Serves the route table on `listener` until `shutdown` is cancelled, then drains: open
/// connections finish their requests in progress for up to [`DRAIN`], and what is left is
/// dropped.
pub async fn serve(listener: TcpListener, state: State, shutdown: CancellationToken) {
    let cfg = state.qopy.config();
    let slots = Arc::new(Semaphore::new(cfg.max_connections));
    let per_address = Arc::new(PerAddress::new(cfg));
    // Every connection's task; `dropped` ends those still open after the drain period.
    let conns = TaskTracker::new();
    let dropped = CancellationToken::new();
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(cfg.header_read_timeout)
        .keep_alive(true);
    let idle_timeout = cfg.idle_timeout;
    let header_read_timeout = cfg.header_read_timeout;
    loop {
        let (stream, peer) = tokio::select! {
            r = listener.accept() => match r {
                Ok(x) => x,
                Err(e) => {
                    // EMFILE and friends: wait a little instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = shutdown.cancelled() => break,
        };
        // One address may not take every slot: its extra connections are closed at once.
        let Some(mine) = per_address.clone().admit(peer.ip()) else {
            tracing::debug!("per-address connection limit reached; refusing a connection");
            drop(stream);
            continue;
        };
        let Ok(permit) = slots.clone().try_acquire_owned() else {
            tracing::warn!("connection limit reached; refusing a connection");
            drop(stream);
            continue;
        };
        let _ = stream.set_nodelay(true);
        let st = state.clone();
        let activity = Arc::new(Activity::default());
        let seen = activity.clone();
        let acceptor = state.tls.as_ref().map(|t| t.acceptor.clone());
        let is_tls = acceptor.is_some();
        let fd = crate::net::ConnFd(std::os::fd::AsRawFd::as_raw_fd(&stream));
        let svc = hyper::service::service_fn(move |req: http::Request<Incoming>| {
            seen.touch();
            handle(st.clone(), peer, fd, is_tls, req)
        });
        let builder = builder.clone();
        let stop = shutdown.clone();
        let dropped = dropped.clone();
        let conn = async move {
            let _permit = (permit, mine);
            // The TLS handshake holds the connection's slot and has its own deadline.
            let io: Box<dyn Io> = match acceptor {
                None => Box::new(stream),
                Some(acceptor) => {
                    let hs = crate::tls::HANDSHAKE_TIMEOUT;
                    match tokio::time::timeout(hs, acceptor.accept(stream)).await {
                        Ok(Ok(tls)) => Box::new(tls),
                        Ok(Err(e)) => {
                            tracing::debug!(error = %e, %peer, "TLS handshake failed");
                            return;
                        }
                        Err(_) => {
                            tracing::debug!(%peer, "TLS handshake timed out");
                            return;
                        }
                    }
                }
            };
            let conn = builder.serve_connection(TokioIo::new(io), svc);
            // hyper starts its header timer only with the first byte (hyperium/hyper#3962), so
            // a connection that sends nothing would stay open until `idle_timeout`: the first
            // request's headers must arrive within `header_read_timeout` of the accept (of the
            // handshake's end, over TLS).
            let first_deadline = tokio::time::Instant::now() + header_read_timeout;
            tokio::pin!(conn);
            let mut closing = false;
            loop {
                let idle_left = idle_timeout.saturating_sub(activity.idle_for());
                tokio::select! {
                    r = conn.as_mut() => {
                        if let Err(e) = r {
                            tracing::debug!(error = %e, "connection ended with an error");
                        }
                        return;
                    }
                    _ = tokio::time::sleep_until(first_deadline), if !activity.started() => {
                        if !activity.started() {
                            tracing::debug!("no request headers in time; closing the connection");
                            return;
                        }
                    }
                    _ = stop.cancelled(), if !closing => {
                        closing = true;
                        conn.as_mut().graceful_shutdown();
                    }
                    _ = tokio::time::sleep(idle_left), if !closing => {
                        if activity.idle_for() >= idle_timeout {
                            // Ends the connection once any response in progress is sent.
                            closing = true;
                            conn.as_mut().graceful_shutdown();
                        }
                    }
                }
            }
        };
        conns.spawn(async move {
            tokio::select! {
                () = conn => {}
                () = dropped.cancelled() => {}
            }
        });
    }
    drop(listener);
    conns.close();
    if tokio::time::timeout(DRAIN, conns.wait()).await.is_err() {
        tracing::warn!("dropping connections still open after the drain period");
        dropped.cancel();
        conns.wait().await;
    }
}

/// A client connection's byte stream: plain TCP or TLS over it.
trait Io: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send {}
impl<T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send> Io for T {}

/// When a connection last started a request.
struct Activity {
    born: std::time::Instant,
    last_ms: std::sync::atomic::AtomicU64,
    started: std::sync::atomic::AtomicBool,
}

impl Default for Activity {
    fn default() -> Self {
        Activity {
            born: std::time::Instant::now(),
            last_ms: std::sync::atomic::AtomicU64::new(0),
            started: std::sync::atomic::AtomicBool::new(false),
        }
    }
}

impl Activity {
    fn touch(&self) {
        let now = self.born.elapsed().as_millis() as u64;
        self.last_ms
            .store(now, std::sync::atomic::Ordering::Relaxed);
        self.started
            .store(true, std::sync::atomic::Ordering::Relaxed);
    }

    /// Whether a request has started on this connection.
    fn started(&self) -> bool {
        self.started.load(std::sync::atomic::Ordering::Relaxed)
    }

    fn idle_for(&self) -> Duration {
        let last = self.last_ms.load(std::sync::atomic::Ordering::Relaxed);
        self.born
            .elapsed()
            .saturating_sub(Duration::from_millis(last))
    }
}
