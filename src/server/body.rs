//! The guard every request body passes through: it counts the bytes into the metrics and
//! holds the client to `min_upload_rate` and an overall deadline, whatever the route.

use crate::http::{ApiError, Response, State};
use http::HeaderValue;
use hyper::body::Incoming;
use std::sync::Arc;
use std::time::Duration;

/// Why a request body was cut off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Cut {
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
pub(super) struct GuardedBody {
    inner: Incoming,
    state: State,
    rate: Option<crate::config::UploadRate>,
    budget: Option<Duration>,
    /// Set when reading starts: the end of the current window and the overall deadline.
    clock: Option<BodyClock>,
    pub(super) cut: Arc<std::sync::OnceLock<Cut>>,
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
    pub(super) fn new(inner: Incoming, state: State, len: Option<u64>) -> GuardedBody {
        let cfg = state.qopy.config();
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
pub(super) fn cut_response(cut: Cut, cfg: &crate::config::Config) -> Response {
    let message = match (cut, cfg.min_upload_rate) {
        (Cut::TooSlow, Some(r)) => format!(
            "The request body was slower than the minimum rate of {} bytes per {} s; try again on a faster connection",
            r.bytes,
            r.per.as_secs_f64()
        ),
        _ => "The request body did not arrive in time".to_string(),
    };
    let mut r = ApiError::body_too_slow(message).into_response();
    r.headers_mut()
        .insert(http::header::CONNECTION, HeaderValue::from_static("close"));
    r
}
