//! Zero-copy streaming response bodies. warp 0.4 offers no public way to build a streaming
//! body, so a handler returns an empty warp response carrying a [`StreamParts`] extension,
//! and the server loop swaps in a body that yields those parts (slices of memory-mapped
//! chunk files) without copying them.

use super::Response;
use crate::service::ServiceError;
use bytes::{Buf, Bytes};
use futures_util::{Stream, StreamExt};
use http_body::{Body, Frame, SizeHint};
use http_body_util::{combinators::UnsyncBoxBody, BodyExt};
use parking_lot::Mutex;
use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

/// Errors a response body can produce.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The body type the server loop sends.
pub type ServerBody = UnsyncBoxBody<Bytes, BoxError>;

/// The largest piece handed to the connection at once.
const MAX_FRAME: usize = 2 * 1024 * 1024;

/// Parts of a body waiting to be sent; cloneable so it can live in response extensions.
#[derive(Clone)]
pub struct StreamParts(Arc<Mutex<Option<Vec<Bytes>>>>);

/// A response whose body is `parts`, in order, sent without copying.
pub fn streaming_response(parts: Vec<Bytes>) -> Response {
    let mut resp = Response::new(Default::default());
    resp.extensions_mut()
        .insert(StreamParts(Arc::new(Mutex::new(Some(parts)))));
    resp
}

struct PartsBody {
    parts: VecDeque<Bytes>,
    remaining: u64,
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

/// Converts a warp response into what the server sends, swapping in a streaming body when
/// the handler asked for one.
pub fn into_server_body(resp: Response) -> http::Response<ServerBody> {
    let (mut head, body) = resp.into_parts();
    if let Some(StreamParts(slot)) = head.extensions.remove::<StreamParts>() {
        if let Some(parts) = slot.lock().take() {
            let remaining = parts.iter().map(|p| p.len() as u64).sum();
            let body = PartsBody {
                parts: parts.into(),
                remaining,
            };
            return http::Response::from_parts(head, body.boxed_unsync());
        }
    }
    http::Response::from_parts(
        head,
        body.map_err(|e| Box::new(e) as BoxError).boxed_unsync(),
    )
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
