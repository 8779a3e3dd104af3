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

use crate::http::body::{into_server_body, ServerBody};
use crate::http::guard::{check_origin, misdirected, security_headers, OriginCheck};
use crate::http::{ApiError, PeerAddr, Response, State};
use http::{HeaderValue, Method, StatusCode};
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::{watch, Semaphore};
use tokio::task::JoinSet;
use tower_service::Service;
use warp::filters::BoxedFilter;

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
            "content-type, authorization, x-qopy-expiry, x-qopy-one-time, x-qopy-quick-share",
        ),
    );
    h.insert("access-control-max-age", HeaderValue::from_static("600"));
    r
}

/// Why a request body was cut off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cut {
    /// Fewer bytes than `min_upload_rate` asks for arrived in a window.
    TooSlow,
    /// The body's overall deadline passed.
    Deadline,
}

/// A request body that counts the bytes read from it into the metrics (a chunked upload has
/// no `Content-Length` to count) and holds the client to a minimum rate and an overall
/// deadline. Every body, whatever the route: in each window of `min_upload_rate` at least
/// its byte count must arrive (or the body end), and the whole body must arrive within
/// `header_read_timeout` plus its declared length at the minimum rate. A body that falls
/// behind ends with an error, and the request is answered 408 with the connection closed.
/// The clock starts when the handler first reads the body, and runs only while the handler
/// waits for the client: time the server spends between reads (waiting for a disk writer,
/// say) moves the windows and the deadline forward, so the server's own pauses are never
/// counted against a client.
struct GuardedBody {
    inner: Incoming,
    state: State,
    rate: Option<crate::config::UploadRate>,
    budget: Option<Duration>,
    /// Set when reading starts: the end of the current window and the overall deadline.
    clock: Option<BodyClock>,
    cut: Arc<std::sync::OnceLock<Cut>>,
}

struct BodyClock {
    /// When the last piece was handed to the handler (it has not asked for more since).
    handed_at: Option<tokio::time::Instant>,
    window_end: tokio::time::Instant,
    in_window: u64,
    deadline: Option<tokio::time::Instant>,
    timer: std::pin::Pin<Box<tokio::time::Sleep>>,
    /// What the timer is set to (re-arming it costs a trip to the timer wheel).
    armed: tokio::time::Instant,
}

/// The overall time a body of `len` bytes gets (see [`GuardedBody`]).
fn body_budget(cfg: &crate::config::Config, len: Option<u64>) -> Option<Duration> {
    let base = cfg.header_read_timeout;
    match (cfg.min_upload_rate, len) {
        (Some(r), Some(len)) => {
            let per_byte = r.per.as_secs_f64() / r.bytes.max(1) as f64;
            Some(base + Duration::from_secs_f64((len as f64 * per_byte).min(1e9)))
        }
        // Without a length the windows alone bound it; without a rate only small bodies are.
        (Some(_), None) => None,
        (None, Some(len)) if len <= crate::http::MAX_JSON_BODY as u64 => Some(base),
        (None, _) => None,
    }
}

impl BodyClock {
    /// The handler asks for more: the time since it was handed the last piece was the
    /// server's, so the windows and the deadline move forward by it.
    fn resume(&mut self) {
        if let Some(t) = self.handed_at.take() {
            let gap = tokio::time::Instant::now().saturating_duration_since(t);
            self.window_end += gap;
            if let Some(d) = &mut self.deadline {
                *d += gap;
            }
        }
    }
}

impl GuardedBody {
    fn new(inner: Incoming, state: State, len: Option<u64>) -> GuardedBody {
        let cfg = &state.qopy.config;
        GuardedBody {
            rate: cfg.min_upload_rate,
            budget: body_budget(cfg, len),
            inner,
            state,
            clock: None,
            cut: Arc::default(),
        }
    }

    /// Checks the rate and the deadline; `Some` when the body must be cut off. Re-arms the
    /// timer for the next check.
    fn check(&mut self, cx: &mut std::task::Context<'_>) -> Option<Cut> {
        use std::future::Future;
        let far = Duration::from_secs(365 * 86_400);
        let now = tokio::time::Instant::now();
        let (rate, budget) = (self.rate, self.budget);
        let clock = self.clock.get_or_insert_with(|| {
            let window_end = now + rate.map_or(far, |r| r.per);
            let deadline = budget.map(|b| now + b);
            BodyClock {
                handed_at: None,
                window_end,
                in_window: 0,
                deadline,
                timer: Box::pin(tokio::time::sleep_until(window_end)),
                armed: window_end,
            }
        });
        loop {
            let now = tokio::time::Instant::now();
            if clock.deadline.is_some_and(|d| now >= d) {
                return Some(Cut::Deadline);
            }
            if now >= clock.window_end {
                match rate {
                    Some(r) if clock.in_window < r.bytes => return Some(Cut::TooSlow),
                    _ => {
                        clock.window_end += rate.map_or(far, |r| r.per);
                        clock.in_window = 0;
                    }
                }
            }
            let next = clock
                .deadline
                .map_or(clock.window_end, |d| d.min(clock.window_end));
            if next != clock.armed {
                clock.timer.as_mut().reset(next);
                clock.armed = next;
            }
            if clock.timer.as_mut().poll(cx).is_pending() {
                return None;
            }
        }
    }
}

impl http_body::Body for GuardedBody {
    type Data = bytes::Bytes;
    type Error = crate::http::body::BoxError;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<bytes::Bytes>, Self::Error>>> {
        use std::task::Poll;
        if self.cut.get().is_some() {
            return Poll::Ready(Some(Err("request body cut off".into())));
        }
        if let Some(c) = &mut self.clock {
            c.resume();
        }
        match std::pin::Pin::new(&mut self.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(f))) => {
                if let Some(d) = f.data_ref() {
                    let n = d.len() as u64;
                    self.state.metrics.add_bytes_in(n);
                    if let Some(c) = &mut self.clock {
                        c.in_window += n;
                        c.handed_at = Some(tokio::time::Instant::now());
                    }
                }
                Poll::Ready(Some(Ok(f)))
            }
            Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(e.into()))),
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => match self.check(cx) {
                None => Poll::Pending,
                Some(cut) => {
                    let _ = self.cut.set(cut);
                    Poll::Ready(Some(Err(match cut {
                        Cut::TooSlow => "request body slower than min_upload_rate".into(),
                        Cut::Deadline => "request body deadline passed".into(),
                    })))
                }
            },
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

/// The answer to a request whose body was cut off: 408, and the connection is closed.
fn cut_response(cut: Cut, cfg: &crate::config::Config) -> Response {
    let message = match (cut, cfg.min_upload_rate) {
        (Cut::TooSlow, Some(r)) => format!(
            "The request body was slower than the minimum rate of {} bytes per {} s; try again on a faster connection",
            r.bytes,
            r.per.as_secs_f64()
        ),
        _ => "The request body did not arrive in time".to_string(),
    };
    let mut r = ApiError::new(
        StatusCode::REQUEST_TIMEOUT,
        "Request body too slow",
        message,
    )
    .into_response();
    r.headers_mut()
        .insert(http::header::CONNECTION, HeaderValue::from_static("close"));
    r
}

async fn handle<S>(
    state: State,
    filter: S,
    peer: std::net::SocketAddr,
    tls: bool,
    req: http::Request<Incoming>,
) -> Result<http::Response<ServerBody>, Infallible>
where
    S: Service<http::Request<GuardedBody>, Response = Response, Error = Infallible>,
{
    let started = std::time::Instant::now();
    let method = req.method().clone();
    let route = crate::metrics::route_template(&method, req.uri().path());
    let st = state.clone();
    let len = req
        .headers()
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok());
    let req = req.map(|inner| GuardedBody::new(inner, st, len));
    let cut = req.body().cut.clone();
    let mut resp = respond(state.clone(), filter, peer, req).await?;
    if let Some(&c) = cut.get() {
        tracing::debug!(?c, "request body cut off");
        resp = into_server_body(cut_response(c, &state.qopy.config));
        security_headers(resp.headers_mut());
    }
    if tls {
        // Only over TLS: browsers ignore HSTS received over plain http anyway (RFC 6797 §8.1).
        resp.headers_mut().insert(
            http::header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000"),
        );
    }
    let m = &state.metrics;
    m.record(&method, route, resp.status().as_u16(), started.elapsed());
    if let Some(n) = http_body::Body::size_hint(resp.body()).exact() {
        m.add_bytes_out(n);
    }
    Ok(resp)
}

async fn respond<S>(
    state: State,
    mut filter: S,
    peer: std::net::SocketAddr,
    mut req: http::Request<GuardedBody>,
) -> Result<http::Response<ServerBody>, Infallible>
where
    S: Service<http::Request<GuardedBody>, Response = Response, Error = Infallible>,
{
    req.extensions_mut().insert(PeerAddr(peer));
    // DNS rebinding: a Host the server is not known by is refused before any other work.
    if !state.hosts.allows(req.headers()) {
        let mut resp = into_server_body(misdirected());
        security_headers(resp.headers_mut());
        return Ok(resp);
    }
    let origin = check_origin(&state.qopy.config, req.headers());
    let resp = match &origin {
        OriginCheck::Forbidden => ApiError::new(
            StatusCode::FORBIDDEN,
            "Origin not allowed",
            "Requests from this origin are not allowed",
        )
        .into_response(),
        OriginCheck::Allowed(o) if req.method() == Method::OPTIONS => preflight(o),
        OriginCheck::SameOrigin if req.method() == Method::OPTIONS => {
            let mut r = Response::new(Default::default());
            *r.status_mut() = StatusCode::NO_CONTENT;
            r
        }
        _ => {
            let answer = match crate::http::fast::serve(&state, peer, &req).await {
                Some(answer) => answer,
                None => filter.call(req).await,
            };
            match answer {
                Ok(r) => r,
                Err(never) => match never {},
            }
        }
    };
    let mut resp = into_server_body(resp);
    if let OriginCheck::Allowed(o) = &origin {
        if let Ok(v) = HeaderValue::from_str(o) {
            resp.headers_mut().insert("access-control-allow-origin", v);
        }
        resp.headers_mut()
            .insert(http::header::VARY, HeaderValue::from_static("Origin"));
    }
    security_headers(resp.headers_mut());
    Ok(resp)
}

/// Serves `routes` on `listener` until `shutdown` turns true.
pub async fn serve(
    listener: TcpListener,
    state: State,
    routes: BoxedFilter<(Response,)>,
    mut shutdown: watch::Receiver<bool>,
) {
    let cfg = &state.qopy.config;
    let slots = Arc::new(Semaphore::new(cfg.max_connections));
    let per_address = Arc::new(PerAddress::new(cfg));
    let mut conns = JoinSet::new();
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(cfg.header_read_timeout)
        .keep_alive(true);
    let idle_timeout = cfg.idle_timeout;
    let header_read_timeout = cfg.header_read_timeout;
    let filter = warp::service(routes);
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
            _ = shutdown.changed() => break,
        };
        while conns.try_join_next().is_some() {}
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
        let f = filter.clone();
        let activity = Arc::new(Activity::default());
        let seen = activity.clone();
        let acceptor = state.tls.as_ref().map(|t| t.acceptor.clone());
        let is_tls = acceptor.is_some();
        let svc = hyper::service::service_fn(move |req| {
            seen.touch();
            handle(st.clone(), f.clone(), peer, is_tls, req)
        });
        let builder = builder.clone();
        let mut stop = shutdown.clone();
        conns.spawn(async move {
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
                    _ = stop.changed(), if !closing => {
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
        });
    }
    drop(listener);
    let drained =
        tokio::time::timeout(DRAIN, async { while conns.join_next().await.is_some() {} }).await;
    if drained.is_err() {
        tracing::warn!("dropping connections still open after the drain period");
        conns.abort_all();
        while conns.join_next().await.is_some() {}
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

/// Counts the connections of each client address (an IPv6 /64 is one address), so that one
/// address cannot hold more than `max_connections_per_address`. Trusted proxies, which carry
/// every client behind them, are not limited.
struct PerAddress {
    limit: Option<usize>,
    exempt: Vec<crate::config::IpNet>,
    open: parking_lot::Mutex<std::collections::HashMap<std::net::IpAddr, usize>>,
}

/// One admitted connection; gives its place back when dropped.
struct AddressSlot {
    owner: Arc<PerAddress>,
    key: Option<std::net::IpAddr>,
}

impl PerAddress {
    fn new(cfg: &crate::config::Config) -> PerAddress {
        PerAddress {
            limit: cfg.max_connections_per_address,
            exempt: cfg.trusted_proxies.clone(),
            open: Default::default(),
        }
    }

    /// The address a connection counts against: IPv4 as is (also when mapped into IPv6),
    /// IPv6 by its /64.
    fn key(ip: std::net::IpAddr) -> std::net::IpAddr {
        match ip {
            std::net::IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => v4.into(),
                None => {
                    let s = v6.segments();
                    std::net::Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0).into()
                }
            },
            v4 => v4,
        }
    }

    fn admit(self: Arc<Self>, ip: std::net::IpAddr) -> Option<AddressSlot> {
        let Some(limit) = self.limit else {
            return Some(AddressSlot {
                owner: self,
                key: None,
            });
        };
        if self.exempt.iter().any(|n| n.contains(ip)) {
            return Some(AddressSlot {
                owner: self,
                key: None,
            });
        }
        let key = Self::key(ip);
        {
            let mut open = self.open.lock();
            let n = open.entry(key).or_insert(0);
            if *n >= limit {
                return None;
            }
            *n += 1;
        }
        Some(AddressSlot {
            owner: self,
            key: Some(key),
        })
    }
}

impl Drop for AddressSlot {
    fn drop(&mut self) {
        if let Some(key) = self.key {
            let mut open = self.owner.open.lock();
            if let Some(n) = open.get_mut(&key) {
                *n -= 1;
                if *n == 0 {
                    open.remove(&key);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connections_count_per_address_and_ipv6_slash_64() {
        let mut cfg = crate::config::Config::defaults();
        cfg.max_connections_per_address = Some(2);
        cfg.trusted_proxies = vec![crate::config::IpNet::parse("10.0.0.1").unwrap()];
        let pa = Arc::new(PerAddress::new(&cfg));
        let ip = |s: &str| s.parse::<std::net::IpAddr>().unwrap();
        let a1 = pa.clone().admit(ip("192.0.2.1")).unwrap();
        let _a2 = pa.clone().admit(ip("::ffff:192.0.2.1")).unwrap();
        assert!(pa.clone().admit(ip("192.0.2.1")).is_none());
        assert!(pa.clone().admit(ip("192.0.2.2")).is_some());
        drop(a1);
        assert!(pa.clone().admit(ip("192.0.2.1")).is_some());
        let _b1 = pa.clone().admit(ip("2001:db8:1:2::1")).unwrap();
        let _b2 = pa.clone().admit(ip("2001:db8:1:2:ffff::9")).unwrap();
        assert!(pa.clone().admit(ip("2001:db8:1:2::77")).is_none());
        assert!(pa.clone().admit(ip("2001:db8:1:3::1")).is_some());
        let proxies: Vec<_> = (0..5).map(|_| pa.clone().admit(ip("10.0.0.1"))).collect();
        assert!(proxies.iter().all(Option::is_some));
    }
}
