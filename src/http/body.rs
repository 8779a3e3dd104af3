//! Bodies: responses are `http::Response<ServerBody>`, of one piece ([`full`]) or a clip's
//! content ([`streaming_response`]): streamed without copying from slices of memory-mapped
//! chunk files, or piece by piece from the chunk objects of a bucket; request bodies reach
//! the service as streams of `Bytes` ([`body_stream`]).

use super::Response;
use crate::service::{Content, ContentError, ServiceError};
use bytes::{Buf, Bytes};
use futures_util::stream::BoxStream;
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

/// A response whose body is `content`, in order (maps sent without copying).
pub fn streaming_response(content: Content) -> Response {
    content_response(content, None)
}

/// [`streaming_response`] that calls `sent` once the connection has been handed the last
/// byte (not when the body is dropped before that: the client went away).
pub fn streaming_response_then(content: Content, sent: impl FnOnce() + Send + 'static) -> Response {
    content_response(content, Some(Box::new(sent)))
}

fn content_response(content: Content, sent: Option<Box<dyn FnOnce() + Send>>) -> Response {
    let remaining = content.len();
    let source = match content {
        Content::Mapped(parts) => Source::Parts(parts.into()),
        objects => Source::Stream(objects.into_stream()),
    };
    let body = PartsBody {
        source,
        pending: None,
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
    source: Source,
    /// The rest of a piece longer than a frame, sent before anything else.
    pending: Option<Bytes>,
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

/// Where a content body's bytes come from.
enum Source {
    /// Slices of maps, in order.
    Parts(VecDeque<Bytes>),
    /// Pieces of objects as the store sends them.
    Stream(BoxStream<'static, Result<Bytes, ContentError>>),
}

impl Body for PartsBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        loop {
            let next = match (self.pending.take(), &mut self.source) {
                (Some(rest), _) => Some(rest),
                (None, Source::Parts(parts)) => parts.pop_front(),
                (None, Source::Stream(stream)) => match stream.poll_next_unpin(cx) {
                    Poll::Pending => return Poll::Pending,
                    Poll::Ready(Some(Ok(piece))) => Some(piece),
                    Poll::Ready(Some(Err(e))) => {
                        // The connection is cut short: a client resumes with `Range`.
                        tracing::warn!(error = %e, "content stream failed");
                        return Poll::Ready(Some(Err(Box::new(e))));
                    }
                    Poll::Ready(None) => None,
                },
            };
            let Some(mut part) = next else {
                if self.remaining > 0 {
                    return Poll::Ready(Some(Err(
                        "the store sent fewer bytes than recorded".into()
                    )));
                }
                return Poll::Ready(None);
            };
            if (part.len() as u64) > self.remaining {
                return Poll::Ready(Some(Err("the store sent more bytes than recorded".into())));
            }
            if part.is_empty() {
                continue;
            }
            if part.len() > MAX_FRAME {
                self.pending = Some(part.split_off(MAX_FRAME));
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
