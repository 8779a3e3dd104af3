//! The route table: every endpoint of the server, declared once, as data. Each [`Route`] has
//! its method, its path template (in OpenAPI's `{name}` form), its handler, the rate-limit class
//! the dispatcher checks before the handler runs, and its OpenAPI operation. Everything else
//! that knows the routes is derived from this table: the dispatch (`dispatch.rs`), the metrics
//! label of a request ([`label`]), the names a one-shot `PUT /:filename` may not take
//! ([`is_reserved`]), the OpenAPI paths (`openapi.rs`) and the test that compares them with
//! the README.

use super::dispatch::{Handler, Req};
use super::guard::Class;
use super::{
    admin, assets, clips, docs, docs_dropbox, dropbox, health, metrics, oneshot, openapi, preview,
    uploads,
};
use http::Method;
use serde_json::Value;

/// How a route's path template matches a request path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// Segment by segment: literals must be equal, `{name}` takes any non-empty segment.
    Exact,
    /// One segment that no other route and no embedded file owns (`PUT /:filename`).
    Unreserved,
    /// Any path naming an embedded file, of any depth (`/{asset}`).
    Asset,
}

/// What the dispatcher checks before the handler runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    /// Nothing (the handler may still check a class itself).
    None,
    /// One of the per-address rate limits.
    Rate(Class),
    /// The admin budget: refused while the address (or the server) is blocked for wrong
    /// admin credentials.
    Admin,
}

/// One route.
pub struct Route {
    /// The method.
    pub method: Method,
    /// The path template, `{name}` for a parameter.
    pub path: &'static str,
    /// How [`Route::path`] matches.
    pub shape: Shape,
    /// Checked by the dispatcher before the handler.
    pub limit: Limit,
    /// The handler.
    pub handler: Handler,
    /// The OpenAPI operation.
    pub doc: fn() -> Value,
    /// Served whatever the request's `Origin` (no 403 for a foreign or `null` one): only for
    /// a route that changes nothing and tells nothing, which browsers reach with
    /// `Origin: null` (a form posted under `Referrer-Policy: no-referrer`, a share sheet).
    pub any_origin: bool,
}

/// Makes a [`Handler`] of an `async fn(Req) -> Result<Response, ApiError>`.
macro_rules! h {
    ($f:path) => {
        |r: Req| -> super::dispatch::HandlerFuture { Box::pin($f(r)) }
    };
}

const fn route(
    method: Method,
    path: &'static str,
    limit: Limit,
    handler: Handler,
    doc: fn() -> Value,
) -> Route {
    Route {
        method,
        path,
        shape: Shape::Exact,
        limit,
        handler,
        doc,
        any_origin: false,
    }
}

const fn shaped(shape: Shape, mut r: Route) -> Route {
    r.shape = shape;
    r
}

const fn any_origin(mut r: Route) -> Route {
    r.any_origin = true;
    r
}

const GET: Method = Method::GET;
const POST: Method = Method::POST;
const PUT: Method = Method::PUT;
const DELETE: Method = Method::DELETE;
const NONE: Limit = Limit::None;
const INITIATE: Limit = Limit::Rate(Class::Initiate);
const CHUNK: Limit = Limit::Rate(Class::Chunk);
const LOOKUP: Limit = Limit::Rate(Class::Lookup);
const DOWNLOAD: Limit = Limit::Rate(Class::Download);
const ADMIN: Limit = Limit::Admin;

/// Every route, in the order a request is matched against them (the first whose path and
/// method match serves it).
#[rustfmt::skip]
pub static ROUTES: &[Route] = &[
    // Health and configuration.
    route(GET, "/health", NONE, h!(health::health), docs::health),
    route(GET, "/api/health", NONE, h!(health::api_health), docs::api_health),
    route(GET, "/ping", NONE, h!(health::ping), docs::ping),
    route(GET, "/api/config", NONE, h!(health::config), docs::config),
    route(GET, "/api/tls", NONE, h!(health::tls), docs::tls),
    route(GET, "/metrics", NONE, h!(metrics::metrics), docs::metrics),
    route(GET, "/api/openapi.json", NONE, h!(openapi::serve), docs::openapi),
    // Uploads.
    route(POST, "/api/upload/initiate", INITIATE, h!(uploads::initiate), docs::initiate),
    route(POST, "/api/upload/chunk/{uploadId}/{chunkNumber}", CHUNK, h!(uploads::chunk), docs::chunk_post),
    route(PUT, "/api/upload/chunk/{uploadId}/{chunkNumber}", CHUNK, h!(uploads::chunk), docs::chunk_put),
    route(POST, "/api/upload/complete/{uploadId}", NONE, h!(uploads::complete), docs::complete),
    route(GET, "/api/upload/{uploadId}/status", NONE, h!(uploads::status), docs::status),
    route(DELETE, "/api/upload/{uploadId}", NONE, h!(uploads::cancel), docs::cancel),
    // Clips and files.
    route(GET, "/api/clip/{id}/preview", LOOKUP, h!(preview::preview), docs::preview),
    route(GET, "/api/clip/{id}/info", LOOKUP, h!(clips::clip_info), docs::clip_info),
    route(GET, "/api/clip/{id}", LOOKUP, h!(clips::get_clip), docs::get_clip),
    route(POST, "/api/clip/{id}", LOOKUP, h!(clips::post_clip), docs::post_clip),
    route(GET, "/api/file/{id}/info", DOWNLOAD, h!(clips::file_info), docs::file_info),
    route(POST, "/api/file/{id}", DOWNLOAD, h!(clips::download), docs::download),
    route(GET, "/api/file/{id}", DOWNLOAD, h!(clips::legacy_get), docs::legacy_get),
    // Drop boxes (sending into one goes through the upload routes).
    route(POST, "/api/dropbox", INITIATE, h!(dropbox::create), docs_dropbox::create),
    route(GET, "/api/dropbox/{id}", LOOKUP, h!(dropbox::info), docs_dropbox::info),
    route(DELETE, "/api/dropbox/{id}", LOOKUP, h!(dropbox::delete), docs_dropbox::delete),
    route(GET, "/api/dropbox/{id}/items", LOOKUP, h!(dropbox::items), docs_dropbox::items),
    route(DELETE, "/api/dropbox/{id}/items/{clipId}", LOOKUP, h!(dropbox::delete_item), docs_dropbox::delete_item),
    // Admin.
    route(POST, "/api/admin/auth", ADMIN, h!(admin::auth), docs::admin_auth),
    route(GET, "/api/admin/stats", ADMIN, h!(admin::stats), docs::admin_stats),
    route(GET, "/api/admin/clips", ADMIN, h!(admin::clips), docs::admin_clips),
    route(GET, "/api/admin/system", ADMIN, h!(admin::system), docs::admin_system),
    route(POST, "/api/admin/sweep", ADMIN, h!(admin::sweep_now), docs::admin_sweep),
    // Pages, and the raw bytes of unencrypted clips for non-browsers (the lookup limit is
    // the handler's: a browser asking for the page is not a lookup).
    route(GET, "/", NONE, h!(assets::index), docs::index_page),
    route(GET, "/clip/{id}", NONE, h!(oneshot::get), docs::clip_page),
    route(GET, "/file/{id}", NONE, h!(oneshot::get), docs::file_page),
    route(GET, "/drop/{id}", NONE, h!(dropbox::page), docs_dropbox::page),
    route(POST, "/clip/{id}", DOWNLOAD, h!(oneshot::post_download), docs::clip_raw),
    route(POST, "/file/{id}", DOWNLOAD, h!(oneshot::post_download), docs::file_raw),
    // One-shot uploads for scripts: PUT / or /:filename, POST / (multipart or raw).
    route(PUT, "/", INITIATE, h!(oneshot::put), docs::put_oneshot),
    shaped(Shape::Unreserved, route(PUT, "/{asset}", INITIATE, h!(oneshot::put), docs::put_named)),
    route(POST, "/", INITIATE, h!(oneshot::post), docs::post_oneshot),
    route(GET, "/admin", NONE, h!(assets::admin_page), docs::admin_page),
    // The share target's POST, when the app's service worker did not take it (plain HTTP).
    any_origin(route(POST, "/share-target", NONE, h!(super::share_target::refuse), docs::share_target)),
    shaped(Shape::Asset, route(GET, "/{asset}", NONE, h!(assets::asset), docs::asset)),
];

/// The outcome of looking a request up in the table.
#[derive(Debug, Clone, Copy)]
pub enum Found {
    /// A route serves it, with where its raw (undecoded) path parameters are in the path.
    Route(&'static Route, Params),
    /// A route has this path, but none this method.
    WrongMethod(&'static Route),
    /// No route has this path.
    NotFound,
}

impl Found {
    /// The metrics label: the route's template, never client input; `other` for a path no
    /// route has.
    pub fn label(&self) -> &'static str {
        match self {
            Found::Route(r, _) | Found::WrongMethod(r) => r.path,
            Found::NotFound => "other",
        }
    }

    /// Whether the route that serves this request takes any `Origin` ([`Route::any_origin`]).
    pub fn any_origin(&self) -> bool {
        matches!(self, Found::Route(r, _) if r.any_origin)
    }
}

impl std::fmt::Debug for Route {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.method, self.path)
    }
}

/// Where a template's parameters are in the request path (byte ranges), in order.
#[derive(Debug, Default, Clone, Copy)]
pub struct Params {
    items: [(usize, usize); 2],
    len: usize,
}

impl Params {
    fn push(&mut self, path: &str, segment: &str) {
        if self.len < self.items.len() {
            let start = segment.as_ptr() as usize - path.as_ptr() as usize;
            self.items[self.len] = (start, start + segment.len());
        }
        self.len += 1;
    }

    /// The `i`-th parameter of `path` (the path these were found in); empty when there is none.
    pub fn get<'a>(&self, path: &'a str, i: usize) -> &'a str {
        match self.items.get(i) {
            Some(&(start, end)) if i < self.len => path.get(start..end).unwrap_or(""),
            _ => "",
        }
    }
}

/// The most segments a template has.
const MAX_SEGMENTS: usize = 5;

/// The segments of a path, split once: the leading `/` dropped, and one trailing `/` (so
/// `/health/` is `/health`, as warp matched it). A path with more segments than any template
/// has is `long` (only the asset route can serve it).
struct Segments<'a> {
    items: [&'a str; MAX_SEGMENTS],
    len: usize,
    long: bool,
}

impl<'a> Segments<'a> {
    fn of(path: &'a str) -> Segments<'a> {
        let mut s = Segments {
            items: [""; MAX_SEGMENTS],
            len: 0,
            long: false,
        };
        let p = path.strip_prefix('/').unwrap_or(path);
        if p.is_empty() {
            return s;
        }
        for seg in p.strip_suffix('/').unwrap_or(p).split('/') {
            if s.len == MAX_SEGMENTS {
                s.long = true;
                break;
            }
            s.items[s.len] = seg;
            s.len += 1;
        }
        s
    }

    fn as_slice(&self) -> &[&'a str] {
        &self.items[..self.len]
    }
}

impl Route {
    /// Whether this route (whose template is split into `want`) matches the request path
    /// `path` (split into `have`).
    fn matches(&self, want: &Segments<'_>, path: &str, have: &Segments<'_>) -> Option<Params> {
        let mut params = Params::default();
        match self.shape {
            Shape::Exact => {
                if have.long || want.len != have.len {
                    return None;
                }
                for (w, h) in want.as_slice().iter().zip(have.as_slice()) {
                    if w.starts_with('{') && !h.is_empty() {
                        params.push(path, h);
                    } else if w != h {
                        return None;
                    }
                }
                Some(params)
            }
            Shape::Unreserved => match have.as_slice() {
                [name] if !have.long && !name.is_empty() && !is_reserved(name) => {
                    params.push(path, name);
                    Some(params)
                }
                _ => None,
            },
            Shape::Asset => {
                let tail = path.strip_prefix('/').unwrap_or(path);
                assets::is_servable(tail).then(|| {
                    params.push(path, tail);
                    params
                })
            }
        }
    }
}

/// The routes with their templates split, split once.
fn routes() -> &'static [(&'static Route, Segments<'static>)] {
    static SPLIT: std::sync::OnceLock<Vec<(&'static Route, Segments<'static>)>> =
        std::sync::OnceLock::new();
    SPLIT.get_or_init(|| ROUTES.iter().map(|r| (r, Segments::of(r.path))).collect())
}

/// Looks a request up.
pub fn find(method: &Method, path: &str) -> Found {
    let have = Segments::of(path);
    let mut other_method = None;
    for (route, want) in routes() {
        // `PUT /:filename` claims no path for other methods: `GET /notes.txt` is a 404.
        if route.shape == Shape::Unreserved && route.method != method {
            continue;
        }
        if let Some(params) = route.matches(want, path, &have) {
            if route.method == method {
                return Found::Route(route, params);
            }
            other_method.get_or_insert(*route);
        }
    }
    other_method.map_or(Found::NotFound, Found::WrongMethod)
}

/// True for a one-segment name another route serves (`health`, `api`, `clip`...) or an
/// embedded file, which `PUT /:filename` leaves to that route (and its 405).
pub fn is_reserved(name: &str) -> bool {
    routes()
        .iter()
        .filter(|(r, _)| r.shape == Shape::Exact)
        .any(|(_, want)| want.as_slice().first() == Some(&name))
        || assets::exists(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_find_their_route() {
        let at = |m: Method, p: &str| match find(&m, p) {
            Found::Route(r, params) => format!("{} {} {}", r.method, r.path, params.get(p, 0)),
            Found::WrongMethod(r) => format!("405 {}", r.path),
            Found::NotFound => "404".into(),
        };
        assert_eq!(
            at(GET, "/api/clip/ABC123/info"),
            "GET /api/clip/{id}/info ABC123"
        );
        assert_eq!(
            at(GET, "/api/clip/ABC123/info/"),
            "GET /api/clip/{id}/info ABC123"
        );
        assert_eq!(at(GET, "/api/clip//info"), "404");
        assert_eq!(at(GET, "/health"), "GET /health ");
        assert_eq!(at(GET, "/"), "GET / ");
        assert_eq!(at(GET, "//"), "404");
        assert_eq!(at(PUT, "/health"), "405 /health");
        assert_eq!(at(PUT, "/api"), "404");
        assert_eq!(at(PUT, "/notes.txt"), "PUT /{asset} notes.txt");
        assert_eq!(at(GET, "/notes.txt"), "404");
        assert_eq!(at(POST, "/index.html"), "405 /{asset}");
        assert_eq!(at(GET, "/js/qr.js"), "GET /{asset} js/qr.js");
        assert_eq!(at(POST, "/share-target"), "POST /share-target ");
        assert!(find(&POST, "/share-target").any_origin());
        assert!(!find(&GET, "/share-target").any_origin());
        let any: Vec<_> = ROUTES.iter().filter(|r| r.any_origin).collect();
        assert_eq!(format!("{any:?}"), "[POST /share-target]");
        assert_eq!(at(GET, "/share-target"), "405 /share-target");
        assert_eq!(
            at(GET, "/manifest.webmanifest"),
            "GET /{asset} manifest.webmanifest"
        );
        assert_eq!(at(Method::HEAD, "/health"), "405 /health");
        assert_eq!(at(DELETE, "/api/clip/ABC123"), "405 /api/clip/{id}");
        assert_eq!(
            at(DELETE, "/api/dropbox/7K2QZP9M/items/ABCDEFGHIJ"),
            "DELETE /api/dropbox/{id}/items/{clipId} 7K2QZP9M"
        );
        assert_eq!(at(GET, "/drop/7k2qzp9m"), "GET /drop/{id} 7k2qzp9m");
        assert_eq!(
            at(PUT, "/api/upload/chunk/0123456789ABCDEF/3"),
            "PUT /api/upload/chunk/{uploadId}/{chunkNumber} 0123456789ABCDEF"
        );
    }

    #[test]
    fn labels_hide_ids_and_names() {
        let label = |m: &Method, p: &str| find(m, p).label();
        assert_eq!(label(&GET, "/api/clip/ABC123/info"), "/api/clip/{id}/info");
        assert_eq!(label(&PUT, "/secret-name.txt"), "/{asset}");
        assert_eq!(label(&GET, "/secret-name.txt"), "other");
        assert_eq!(label(&GET, "/a/b/c/d/e/f/g"), "other");
        assert_eq!(label(&GET, "/file/ABCDEFGHIJ"), "/file/{id}");
    }

    #[test]
    fn reserved_names_come_from_the_table() {
        for name in [
            "health",
            "ping",
            "metrics",
            "admin",
            "api",
            "clip",
            "file",
            "drop",
            "index.html",
            "share-target",
            "manifest.webmanifest",
        ] {
            assert!(is_reserved(name), "{name}");
        }
        assert!(!is_reserved("notes.txt"));
    }
}
