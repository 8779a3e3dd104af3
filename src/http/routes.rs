//! The route table: every endpoint of the server in one place, each boxed (which keeps
//! compile times down), path before method so an unknown path is a 404 and a known path
//! with the wrong method a 405.

use super::{
    admin, assets, client_ip, clips, error, finish, health, oneshot, openapi, preview, small_body,
    uploads, with_state, Response, State,
};
use std::collections::HashMap;
use warp::filters::BoxedFilter;
use warp::Filter;

type Route = BoxedFilter<(Response,)>;

/// All routes, with warp's rejections turned into JSON errors.
pub fn routes(state: State) -> BoxedFilter<(Response,)> {
    let s = || with_state(state.clone());
    let ip = || client_ip(state.clone());
    let auth = || warp::header::optional::<String>("authorization");
    let host = || warp::header::optional::<String>("host");

    let table: Vec<Route> = vec![
        // Health and configuration.
        warp::path!("health")
            .and(warp::get())
            .and(s())
            .and_then(health::health)
            .boxed(),
        warp::path!("api" / "health")
            .and(warp::get())
            .and(s())
            .and_then(health::api_health)
            .boxed(),
        warp::path!("ping")
            .and(warp::get())
            .and(s())
            .and_then(health::ping)
            .boxed(),
        warp::path!("api" / "config")
            .and(warp::get())
            .and(s())
            .and_then(health::config)
            .boxed(),
        warp::path!("api" / "tls")
            .and(warp::get())
            .and(s())
            .and_then(health::tls)
            .boxed(),
        warp::path!("metrics")
            .and(warp::get())
            .and(s())
            .and_then(|st| async move { finish(preview::metrics(st).await) })
            .boxed(),
        warp::path!("api" / "openapi.json")
            .and(warp::get())
            .and_then(openapi::serve)
            .boxed(),
        // Uploads.
        warp::path!("api" / "upload" / "initiate")
            .and(warp::post())
            .and(s())
            .and(ip())
            .and(small_body())
            .and_then(|st, ip, b| async move { finish(uploads::initiate(st, ip, b).await) })
            .boxed(),
        warp::path!("api" / "upload" / "chunk" / String / String)
            .and(warp::post().or(warp::put()).unify())
            .and(s())
            .and(ip())
            .and(warp::header::optional::<String>("content-type"))
            .and(warp::header::optional::<u64>("content-length"))
            .and(warp::body::stream())
            .and_then(|id, n, st, ip, ct, cl, body| async move {
                let body = futures_util::StreamExt::boxed(body);
                finish(uploads::chunk(st, ip, id, n, ct, cl, body).await)
            })
            .boxed(),
        warp::path!("api" / "upload" / "complete" / String)
            .and(warp::post())
            .and(s())
            .and(host())
            .and(small_body())
            .and_then(|id, st, h, b| async move { finish(uploads::complete(st, id, h, b).await) })
            .boxed(),
        warp::path!("api" / "upload" / String / "status")
            .and(warp::get())
            .and(s())
            .and_then(|id, st| async move { finish(uploads::status(st, id).await) })
            .boxed(),
        warp::path!("api" / "upload" / String)
            .and(warp::delete())
            .and(s())
            .and_then(|id, st| async move { finish(uploads::cancel(st, id).await) })
            .boxed(),
        // Clips and files.
        warp::path!("api" / "clip" / String / "preview")
            .and(warp::get())
            .and(s())
            .and(ip())
            .and_then(|id, st, ip| async move { finish(preview::preview(st, ip, id).await) })
            .boxed(),
        warp::path!("api" / "clip" / String / "info")
            .and(warp::get())
            .and(s())
            .and(ip())
            .and_then(|id, st, ip| async move { finish(clips::clip_info(st, ip, id).await) })
            .boxed(),
        warp::path!("api" / "clip" / String)
            .and(warp::get())
            .and(s())
            .and(ip())
            .and_then(|id, st, ip| async move { finish(clips::get_clip(st, ip, id).await) })
            .boxed(),
        warp::path!("api" / "clip" / String)
            .and(warp::post())
            .and(s())
            .and(ip())
            .and(small_body())
            .and_then(|id, st, ip, b| async move { finish(clips::post_clip(st, ip, id, b).await) })
            .boxed(),
        warp::path!("api" / "file" / String / "info")
            .and(warp::get())
            .and(s())
            .and(ip())
            .and_then(|id, st, ip| async move { finish(clips::file_info(st, ip, id).await) })
            .boxed(),
        warp::path!("api" / "file" / String)
            .and(warp::post())
            .and(s())
            .and(ip())
            .and(small_body())
            .and_then(|id, st, ip, b| async move { finish(clips::download(st, ip, id, b).await) })
            .boxed(),
        warp::path!("api" / "file" / String)
            .and(warp::get())
            .and(s())
            .and(ip())
            .and_then(|_id: String, st, ip| async move { finish(clips::legacy_get(st, ip).await) })
            .boxed(),
        // Admin.
        warp::path!("api" / "admin" / "auth")
            .and(warp::post())
            .and(s())
            .and(ip())
            .and(small_body())
            .and_then(|st, ip, b| async move { finish(admin::auth(st, ip, b).await) })
            .boxed(),
        warp::path!("api" / "admin" / "stats")
            .and(warp::get())
            .and(s())
            .and(ip())
            .and(auth())
            .and_then(|st, ip, a| async move { finish(admin::stats(st, ip, a).await) })
            .boxed(),
        warp::path!("api" / "admin" / "clips")
            .and(warp::get())
            .and(s())
            .and(ip())
            .and(auth())
            .and_then(|st, ip, a| async move { finish(admin::clips(st, ip, a).await) })
            .boxed(),
        warp::path!("api" / "admin" / "system")
            .and(warp::get())
            .and(s())
            .and(ip())
            .and(auth())
            .and_then(|st, ip, a| async move { finish(admin::system(st, ip, a).await) })
            .boxed(),
        warp::path!("api" / "admin" / "sweep")
            .and(warp::post())
            .and(s())
            .and(ip())
            .and(auth())
            .and_then(|st, ip, a| async move { finish(admin::sweep_now(st, ip, a).await) })
            .boxed(),
        // Pages and assets.
        warp::path::end()
            .and(warp::get())
            .and(warp::header::optional::<String>("if-none-match"))
            .and_then(|inm| async move { finish(assets::page("index.html", inm)) })
            .boxed(),
        // The app page, or the raw bytes of an unencrypted clip for non-browsers.
        warp::path!("clip" / String)
            .or(warp::path!("file" / String))
            .unify()
            .and(warp::get())
            .and(s())
            .and(ip())
            .and(warp::header::optional::<String>("accept"))
            .and(host())
            .and(warp::header::optional::<String>("if-none-match"))
            .and_then(|id: String, st, ip, accept, h, inm| async move {
                finish(oneshot::get(st, ip, id, accept, h, inm).await)
            })
            .boxed(),
        warp::path!("clip" / String)
            .or(warp::path!("file" / String))
            .unify()
            .and(warp::post())
            .and(s())
            .and(ip())
            .and_then(|id: String, st, ip| async move {
                finish(oneshot::post_download(st, ip, id).await)
            })
            .boxed(),
        // One-shot uploads for scripts: PUT / or /:filename, POST / (multipart or raw).
        warp::path::end()
            .and(warp::put())
            .and(s())
            .and(ip())
            .and(warp::query::<HashMap<String, String>>())
            .and(warp::header::headers_cloned())
            .and(warp::body::stream())
            .and_then(|st, ip, q, h, body| async move {
                finish(oneshot::put(st, ip, None, q, h, futures_util::StreamExt::boxed(body)).await)
            })
            .boxed(),
        // Only PUT, and not over a name the table already serves: a GET of an unknown
        // one-segment path stays a 404 and `PUT /health` a 405.
        warp::path!(String)
            .and(warp::method())
            .and_then(|name: String, m: http::Method| async move {
                if m == http::Method::PUT && !oneshot::is_reserved(&name) {
                    Ok(name)
                } else {
                    Err(warp::reject::not_found())
                }
            })
            .and(s())
            .and(ip())
            .and(warp::query::<HashMap<String, String>>())
            .and(warp::header::headers_cloned())
            .and(warp::body::stream())
            .and_then(|name, st, ip, q, h, body| async move {
                let body = futures_util::StreamExt::boxed(body);
                finish(oneshot::put(st, ip, Some(name), q, h, body).await)
            })
            .boxed(),
        warp::path::end()
            .and(warp::post())
            .and(s())
            .and(ip())
            .and(warp::query::<HashMap<String, String>>())
            .and(warp::header::headers_cloned())
            .and(warp::body::stream())
            .and_then(|st, ip, q, h, body| async move {
                finish(oneshot::post(st, ip, q, h, futures_util::StreamExt::boxed(body)).await)
            })
            .boxed(),
        warp::path!("admin")
            .and(warp::get())
            .and(s())
            .and(warp::header::optional::<String>("if-none-match"))
            .and_then(|st, inm| async move { finish(assets::admin_page(st, inm)) })
            .boxed(),
        // Matches any path, so the method is checked after the asset: an unknown path is a
        // 404 whatever the method, a known asset with a method other than GET a 405.
        warp::path::tail()
            .and(warp::method())
            .and(warp::header::optional::<String>("if-none-match"))
            .and_then(|tail: warp::path::Tail, m: http::Method, inm| async move {
                match assets::asset(tail.as_str(), inm) {
                    Some(r) if m == http::Method::GET => Ok(r),
                    Some(_) => Ok(error::ApiError::new(
                        http::StatusCode::METHOD_NOT_ALLOWED,
                        "Method not allowed",
                        "This route does not accept that method",
                    )
                    .into_response()),
                    None => Err(warp::reject::not_found()),
                }
            })
            .boxed(),
    ];
    let mut iter = table.into_iter();
    let first = iter
        .next()
        .unwrap_or_else(|| unreachable!("the table is not empty"));
    iter.fold(first, |acc, r| acc.or(r).unify().boxed())
        .recover(error::recover)
        .unify()
        .boxed()
}
