//! Serving a request: look it up in the route table, check its route's limit, and run its
//! handler with a [`Req`]: the state, the attributed client address, the path parameters, the
//! head and the body. An unknown path is a 404 and a known path with another method a 405,
//! both with the JSON error body.

use super::table::{self, Found, Limit};
use super::{ApiError, Response, State, MAX_JSON_BODY};
use bytes::{Bytes, BytesMut};
use futures_util::stream::BoxStream;
use futures_util::StreamExt;
use http::HeaderMap;
use std::collections::HashMap;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;

/// A request body, as a stream of pieces.
pub type BodyStream = BoxStream<'static, Result<Bytes, super::body::BoxError>>;

/// What a handler returns.
pub type HandlerFuture = Pin<Box<dyn Future<Output = Result<Response, ApiError>> + Send>>;

/// A handler of the route table.
pub type Handler = fn(Req) -> HandlerFuture;

/// One request, as a handler sees it.
pub struct Req {
    /// Everything the server shares.
    pub state: State,
    /// The address the request is attributed to (see [`super::attributed_ip`]).
    pub ip: IpAddr,
    params: table::Params,
    head: http::request::Parts,
    conn: crate::net::ConnFd,
    /// In a mutex only so that a `&Req` may be held across an await (the stream is `Send`,
    /// not `Sync`); it is only ever taken through `&mut self`.
    body: parking_lot::Mutex<Option<BodyStream>>,
}

impl Req {
    /// The `i`-th path parameter, raw (not percent-decoded).
    pub fn param(&self, i: usize) -> &str {
        self.params.get(self.head.uri.path(), i)
    }

    /// The request headers.
    pub fn headers(&self) -> &HeaderMap {
        &self.head.headers
    }

    /// The socket of the connection the request came on.
    pub fn conn(&self) -> crate::net::ConnFd {
        self.conn
    }

    /// A header as text; a value that is not visible ASCII is a 400, as a malformed header.
    pub fn header(&self, name: &str) -> Result<Option<&str>, ApiError> {
        match self.head.headers.get(name) {
            None => Ok(None),
            Some(v) => v
                .to_str()
                .map(Some)
                .map_err(|_| ApiError::validation(format!("Invalid header: {name}"))),
        }
    }

    /// A header as owned text (see [`Req::header`]).
    pub fn header_owned(&self, name: &str) -> Result<Option<String>, ApiError> {
        Ok(self.header(name)?.map(str::to_string))
    }

    /// The query string's pairs (later duplicates win).
    pub fn query(&self) -> HashMap<String, String> {
        form_urlencoded::parse(self.head.uri.query().unwrap_or("").as_bytes())
            .into_owned()
            .collect()
    }

    /// Takes the body (empty the second time).
    pub fn body(&mut self) -> BodyStream {
        self.body
            .get_mut()
            .take()
            .unwrap_or_else(|| futures_util::stream::empty().boxed())
    }

    /// Reads a small body whole: at most [`MAX_JSON_BODY`] bytes (413 beyond), with or
    /// without a `Content-Length` (a bare `curl -X POST` sends none).
    pub async fn small_body(&mut self) -> Result<Bytes, ApiError> {
        let len = self
            .header(http::header::CONTENT_LENGTH.as_str())?
            .map(|v| v.parse::<u64>())
            .transpose()
            .map_err(|_| ApiError::validation("Invalid header: content-length"))?;
        if len.is_some_and(|l| l > MAX_JSON_BODY as u64) {
            return Err(ApiError::payload_too_large());
        }
        let mut body = self.body();
        let mut out = BytesMut::new();
        while let Some(piece) = body.next().await {
            let piece = piece.map_err(|_| ApiError::body_unreadable())?;
            if out.len() + piece.len() > MAX_JSON_BODY {
                return Err(ApiError::payload_too_large());
            }
            out.extend_from_slice(&piece);
        }
        Ok(out.freeze())
    }
}

/// Serves one request, which the route table resolved to `found` (see [`table::find`]).
pub async fn dispatch<B>(
    state: State,
    peer: SocketAddr,
    conn: crate::net::ConnFd,
    req: http::Request<B>,
    found: Found,
) -> Response
where
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<super::body::BoxError>,
{
    let (head, body) = req.into_parts();
    let (route, params) = match found {
        Found::Route(route, params) => (route, params),
        Found::WrongMethod(_) => return ApiError::method_not_allowed().into_response(),
        Found::NotFound => return ApiError::not_found().into_response(),
    };
    let xff = head.headers.get("x-forwarded-for");
    let ip = match super::attributed_ip(state.qopy.config(), peer.ip(), xff) {
        Ok(ip) => ip,
        Err(e) => return e.into_response(),
    };
    let checked = match route.limit {
        Limit::None => Ok(()),
        Limit::Rate(class) => state.limits.check(class, ip),
        Limit::Admin => state.limits.check_admin_not_blocked(ip),
    };
    if let Err(e) = checked {
        return e.into_response();
    }
    let body = http_body_util::BodyDataStream::new(body)
        .map(|r| r.map_err(Into::into))
        .boxed();
    let req = Req {
        state,
        ip,
        params,
        head,
        conn,
        body: parking_lot::Mutex::new(Some(body)),
    };
    (route.handler)(req)
        .await
        .unwrap_or_else(ApiError::into_response)
}
