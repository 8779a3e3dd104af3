//! The most frequent small requests, `GET /api/clip/:id/info` and `GET /api/file/:id/info`
//! (a page polls them, and every shared link starts with one), dispatched without walking
//! warp's route table. They run the same handlers as the table does, with the same client
//! address and the same answers; anything unusual about a request (another method, an ID
//! that is not plain letters and digits, a header warp would refuse) leaves it to the table.

use super::{attributed_ip, clips, finish, Response, State};
use http::Method;
use std::convert::Infallible;
use std::net::SocketAddr;

/// A route served here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hot {
    /// `GET /api/clip/:id/info`.
    ClipInfo,
    /// `GET /api/file/:id/info`.
    FileInfo,
}

/// The hot route a request is for, with its raw ID, if it is one.
pub fn hot_route<B>(req: &http::Request<B>) -> Option<(Hot, &str)> {
    if req.method() != Method::GET {
        return None;
    }
    let rest = req.uri().path().strip_prefix("/api/")?;
    let (route, rest) = if let Some(r) = rest.strip_prefix("clip/") {
        (Hot::ClipInfo, r)
    } else {
        (Hot::FileInfo, rest.strip_prefix("file/")?)
    };
    let id = rest.strip_suffix("/info")?;
    if id.is_empty() || !id.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return None;
    }
    Some((route, id))
}

/// Answers a request for a hot route; `None` leaves it to the route table.
pub async fn serve<B>(
    state: &State,
    peer: SocketAddr,
    req: &http::Request<B>,
) -> Option<Result<Response, Infallible>> {
    let (route, id) = hot_route(req)?;
    let xff = match req.headers().get("x-forwarded-for") {
        None => None,
        // warp's header filter refuses a value that is not visible ASCII: let it.
        Some(v) => Some(v.to_str().ok()?),
    };
    let ip = attributed_ip(state.qopy.config(), peer.ip(), xff);
    let id = id.to_string();
    Some(match route {
        Hot::ClipInfo => finish(clips::clip_info(state.clone(), ip, id).await),
        Hot::FileInfo => finish(clips::file_info(state.clone(), ip, id).await),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(method: Method, uri: &str) -> http::Request<()> {
        http::Request::builder()
            .method(method)
            .uri(uri)
            .body(())
            .unwrap()
    }

    #[test]
    fn only_plain_info_requests_are_hot() {
        assert_eq!(
            hot_route(&req(Method::GET, "/api/clip/ABC123/info")),
            Some((Hot::ClipInfo, "ABC123"))
        );
        assert_eq!(
            hot_route(&req(Method::GET, "/api/file/ABCDEFGHJK/info?x=1")),
            Some((Hot::FileInfo, "ABCDEFGHJK"))
        );
        for (m, uri) in [
            (Method::POST, "/api/clip/ABC123/info"),
            (Method::HEAD, "/api/clip/ABC123/info"),
            (Method::GET, "/api/clip/ABC123"),
            (Method::GET, "/api/clip//info"),
            (Method::GET, "/api/clip/AB%2F12/info"),
            (Method::GET, "/api/clip/A/B/info"),
            (Method::GET, "/api/clip/ABC123/info/"),
            (Method::GET, "/api/upload/ABC123/info"),
            (Method::GET, "/clip/ABC123/info"),
        ] {
            assert_eq!(hot_route(&req(m.clone(), uri)), None, "{m} {uri}");
        }
    }
}
