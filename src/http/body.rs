//! Bodies: responses are `http::Response<ServerBody>`, of one piece ([`full`]) or streamed
//! without copying from slices of memory-mapped chunk files ([`streaming_response`]); request
//! bodies reach the service as streams of `Bytes` ([`body_stream`]).

use super::Response;
use crate::service::ServiceError;
use bytes::{Buf, Bytes};
use futures_util::{Stream, StreamExt};
use http_body::{Body, Frame, SizeHint};
use http_body_util::{combinators::UnsyncBoxBody, BodyExt};
use std::collections::VecDeque;
use std::pin::Pin;
use std::task::{Context, Poll};

/// Errors a response body can produce.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The body type the server loop sends.
pub type ServerBody = UnsyncBoxBody<Bytes, BoxError>;

/// The largest piece handed to the connection at once.
const MAX_FRAME: usize = 2 * 1024 * 1024;

/// A response whose body is `parts`, in order, sent without copying.
pub fn streaming_response(parts: Vec<Bytes>) -> Response {
    parts_response(parts, None)
}

/// [`streaming_response`] that calls `sent` once the connection has been handed the last
/// byte (not when the body is dropped before that: the client went away).
pub fn streaming_response_then(
    parts: Vec<Bytes>,
    sent: impl FnOnce() + Send + 'static,
) -> Response {
    parts_response(parts, Some(Box::new(sent)))
}

fn parts_response(parts: Vec<Bytes>, sent: Option<Box<dyn FnOnce() + Send>>) -> Response {
    let remaining = parts.iter().map(|p| p.len() as u64).sum();
    let body = PartsBody {
        parts: parts.into(),
        remaining,
        sent,
    };
    Response::new(body.boxed_unsync())
}

/// A body of one piece.
pub fn full(bytes: impl Into<Bytes>) -> ServerBody {
    http_body_util::Full::new(bytes.into())
        .map_err(|never| match never {})
        .boxed_unsync()
}

struct PartsBody {
    parts: VecDeque<Bytes>,
    remaining: u64,
    sent: Option<Box<dyn FnOnce() + Send>>,
}

impl Drop for PartsBody {
    fn drop(&mut self) {
        // The connection drops the body after taking its last frame (it may not poll for
        // the end), or early when the client went away.
        if self.remaining == 0 {
            if let Some(sent) = self.sent.take() {
                sent();
            }
        }
    }
}

impl Body for PartsBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        loop {
            let Some(mut part) = self.parts.pop_front() else {
                return Poll::Ready(None);
            };
            if part.is_empty() {
                continue;
            }
            if part.len() > MAX_FRAME {
                let rest = part.split_off(MAX_FRAME);
                self.parts.push_front(rest);
            }
            self.remaining -= part.len() as u64;
            return Poll::Ready(Some(Ok(Frame::data(part))));
        }
    }

    fn is_end_stream(&self) -> bool {
        self.remaining == 0
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.remaining)
    }
}

/// A request body as the service takes it: whole `Bytes` pieces, a read failure (the client
/// went away, or the server's body deadline cut it off) as `Interrupted`.
pub fn body_stream<S, B, E>(
    body: S,
) -> impl Stream<Item = Result<Bytes, ServiceError>> + Unpin + Send
where
    S: Stream<Item = Result<B, E>> + Unpin + Send,
    B: Buf + Send,
    E: std::fmt::Display,
{
    body.map(|r| {
        r.map(|mut b| b.copy_to_bytes(b.remaining())).map_err(|e| {
            tracing::debug!(error = %e, "request body read failed");
            ServiceError::Interrupted
        })
    })
}
