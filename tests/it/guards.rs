//! Cross-cutting rules through HTTP: health endpoints (with security headers), unknown
//! routes and wrong methods, the origin check (CORS), the admin API and its figures, and the
//! rate limits (initiate, lookups, failed lookups, trusted proxies, Quick Share, guessed admin
//! tokens).

use crate::harness::*;
use qopy::config::{IpNet, Rate};
use serde_json::{json, Value};
use std::time::Duration;

fn header(h: &reqwest::header::HeaderMap, k: &str) -> String {
    h.get(k)
        .unwrap_or_else(|| panic!("missing header {k}"))
        .to_str()
        .unwrap()
        .to_string()
}

/// Asserts the security headers every response must carry.
fn assert_security_headers(h: &reqwest::header::HeaderMap, what: &str) {
    let csp = h
        .get("content-security-policy")
        .unwrap_or_else(|| panic!("{what}: no Content-Security-Policy"))
        .to_str()
        .unwrap();
    assert!(csp.contains("script-src 'self'"), "{what}: {csp}");
    assert_eq!(header(h, "referrer-policy"), "no-referrer", "{what}");
    assert_eq!(header(h, "x-content-type-options"), "nosniff", "{what}");
    let xfo = header(h, "x-frame-options");
    assert!(xfo == "DENY" || xfo == "SAMEORIGIN", "{what}: {xfo}");
}

fn rate(count: u32, secs: u64) -> Rate {
    Rate {
        count,
        per: Duration::from_secs(secs),
    }
}

/// Uploads a small text clip; returns its ID.
async fn text_clip(s: &TestServer, init: Value, complete: Value) -> String {
    let mut body = json!({ "contentType": "text", "filename": "t.txt" });
    if let (Some(b), Some(extra)) = (body.as_object_mut(), init.as_object()) {
        for (k, v) in extra {
            b.insert(k.clone(), v.clone());
        }
    }
    let v = s.upload(b"some text", body, complete).await;
    v["clipId"].as_str().unwrap().to_string()
}

/// A wrong admin token (as long as a real one).
const WRONG_TOKEN: &str = "wrong-token-wrong-token";

/// A server with the rate limits on, after `adjust` set the budgets the test needs.
async fn limited(adjust: impl FnOnce(&mut qopy::config::Config)) -> TestServer {
    TestServer::start_with(|c| {
        c.rate_limits = true;
        adjust(c);
    })
    .await
}

/// [`limited`] behind a trusted reverse proxy on 127.0.0.1: budgets go by the right-most
/// untrusted `X-Forwarded-For` hop.
async fn proxied(adjust: impl FnOnce(&mut qopy::config::Config)) -> TestServer {
    limited(|c| {
        c.trusted_proxies = vec![IpNet::parse("127.0.0.1/32").unwrap()];
        adjust(c);
    })
    .await
}

/// Uploads a small text clip behind the access code `access_hash(seed)`; returns its ID.
async fn coded_clip(s: &TestServer, seed: u8) -> String {
    let complete = json!({ "accessCodeHash": access_hash(seed), "requiresAccessCode": true });
    text_clip(s, json!({}), complete).await
}

/// Opens a clip (`POST /api/clip/:id`) with the access code `access_hash(seed)`.
async fn open_with_code(s: &TestServer, id: &str, seed: u8) -> (u16, Value) {
    s.post_json(
        &format!("/api/clip/{id}"),
        json!({ "accessCode": access_hash(seed) }),
    )
    .await
}

/// GET clip info from a given `X-Forwarded-For`; returns (status, JSON).
async fn info_from(s: &TestServer, id: &str, xff: &str) -> (u16, Value) {
    let (status, _, v) = s
        .get(&format!("/api/clip/{id}/info"))
        .header("x-forwarded-for", xff)
        .full_answer()
        .await;
    (status, v)
}

/// Polls the admin stats until `field` reaches `want` (writes after a download are
/// asynchronous) or a second passes; returns the stats.
async fn stats_until(s: &TestServer, field: &str, want: u64) -> Value {
    let mut v = Value::Null;
    for _ in 0..200 {
        let (status, stats) = s.admin_get("/api/admin/stats").await;
        assert_eq!(status, 200);
        v = stats;
        if v[field].as_u64() == Some(want) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    v
}

// ---- health ----------------------------------------------------------------------------

/// Regression: the original registered its health endpoints before helmet, so they carried
/// no security headers (§3.1, §12.1.20).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_endpoints_without_security_headers_bug() {
    let s = TestServer::start().await;
    let (status, h, v) = s.get("/health").full_answer().await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["status"], json!("OK"));
    assert_eq!(v["database"], json!("connected"));
    assert!(v["uptime"].is_number(), "{v}");
    assert_security_headers(&h, "/health");

    let (status, h, v) = s.get("/api/health").full_answer().await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["status"], json!("OK"));
    assert!(v["uptime"].is_number(), "{v}");
    assert_security_headers(&h, "/api/health");

    let (status, h, v) = s.get("/ping").full_answer().await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["pong"], json!(true));
    assert_security_headers(&h, "/ping");

    // Errors carry them too.
    let (_, h, _) = s.get("/api/clip/NOSUCHCLIP/info").full_answer().await;
    assert_security_headers(&h, "404");
    s.stop().await;
}

// ---- routing ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_route_is_404_json_and_wrong_method_405_json() {
    let s = TestServer::start().await;
    for path in [
        "/api/nothing-here",
        "/api/clip",
        "/ABC123",
        "/no/such/page.html",
    ] {
        let (status, h, v) = s.get(path).full_answer().await;
        assert_eq!(status, 404, "{path}: {v}");
        assert_eq!(v["error"], json!("Not found"), "{path}: {v}");
        assert!(header(&h, "content-type").starts_with("application/json"));
    }
    for (method, path) in [
        (reqwest::Method::DELETE, "/api/clip/ABCDEFGHIJ/info"),
        (reqwest::Method::POST, "/health"),
        (reqwest::Method::PUT, "/api/clip/ABCDEFGHIJ"),
        (reqwest::Method::GET, "/api/upload/initiate"),
    ] {
        let (status, h, v) = s.request(method.clone(), path).full_answer().await;
        assert_eq!(status, 405, "{method} {path}: {v}");
        assert!(v["error"].is_string(), "{method} {path}: {v}");
        assert!(header(&h, "content-type").starts_with("application/json"));
    }
    s.stop().await;
}

// ---- CORS ------------------------------------------------------------------------------

/// Regression for the original's §8.2 / §12.1.7: a foreign Origin made the cors callback
/// throw, which the error handler turned into a 500.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn foreign_origin_cors_500_bug() {
    let s = TestServer::start().await;
    let id = text_clip(&s, json!({}), json!({})).await;
    let evil = "https://evil.example";

    let (status, h, v) = s
        .get(&format!("/api/clip/{id}/info"))
        .header("origin", evil)
        .full_answer()
        .await;
    assert_eq!(status, 403, "{v}");
    assert!(v["error"].is_string(), "{v}");
    assert!(h.get("access-control-allow-origin").is_none());

    let (status, h, v) = s
        .post("/api/upload/initiate")
        .header("origin", evil)
        .json(&json!({ "filename": "a.txt" }))
        .full_answer()
        .await;
    assert_eq!(status, 403, "{v}");
    assert!(v["error"].is_string(), "{v}");
    assert!(h.get("access-control-allow-origin").is_none());
    assert_security_headers(&h, "403");

    let (status, _, _) = s
        .request(reqwest::Method::OPTIONS, "/api/upload/initiate")
        .header("origin", evil)
        .header("access-control-request-method", "POST")
        .full_answer()
        .await;
    assert_eq!(status, 403);

    // A refused download consumed nothing.
    let (status, _, _) = s
        .post(&format!("/api/file/{id}"))
        .header("origin", "null")
        .json(&json!({}))
        .full_answer()
        .await;
    assert_eq!(status, 403);
    assert_eq!(s.download_bytes(&id, None).await.0, 200);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn same_origin_is_allowed() {
    let s = TestServer::start().await;
    // reqwest sends Host: 127.0.0.1:PORT, which is exactly `base` without the scheme.
    let own = s.base.clone();
    let (status, _, v) = s
        .post("/api/upload/initiate")
        .header("origin", &own)
        .json(&json!({ "filename": "a.txt" }))
        .full_answer()
        .await;
    assert_eq!(status, 200, "{v}");
    assert!(v["uploadId"].is_string());
    let (status, _, _) = s
        .get("/api/config")
        .header("origin", &own)
        .full_answer()
        .await;
    assert_eq!(status, 200);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn configured_origin_gets_cors_headers_and_preflight() {
    let s =
        TestServer::start_with(|c| c.cors_origins = vec!["https://friend.example".into()]).await;
    let (status, h, v) = s
        .post("/api/upload/initiate")
        .header("origin", "https://friend.example")
        .json(&json!({ "filename": "a.txt" }))
        .full_answer()
        .await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(
        header(&h, "access-control-allow-origin"),
        "https://friend.example"
    );

    let (status, h, _) = s
        .request(reqwest::Method::OPTIONS, "/api/upload/initiate")
        .header("origin", "https://friend.example")
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", "content-type")
        .full_answer()
        .await;
    assert_eq!(status, 204);
    let methods = header(&h, "access-control-allow-methods");
    assert!(methods.contains("POST"), "{methods}");
    assert_eq!(
        header(&h, "access-control-allow-origin"),
        "https://friend.example"
    );

    // Others are still refused.
    let (status, _, _) = s
        .get("/api/config")
        .header("origin", "https://enemy.example")
        .full_answer()
        .await;
    assert_eq!(status, 403);
    s.stop().await;
}

// ---- admin -----------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_without_token_is_503() {
    let s = TestServer::start_with(|c| c.admin_token = None).await;
    for path in ["/api/admin/stats", "/api/admin/clips", "/api/admin/system"] {
        let (status, _, v) = s.get(path).full_answer().await;
        assert_eq!(status, 503, "{path}: {v}");
        let (status, _, _) = s.get(path).bearer_auth(ADMIN_TOKEN).full_answer().await;
        assert_eq!(status, 503, "{path} with a bearer");
    }
    let (status, _, v) = s
        .post("/api/admin/sweep")
        .bearer_auth(ADMIN_TOKEN)
        .full_answer()
        .await;
    assert_eq!(status, 503, "sweep: {v}");
    let (status, _, v) = s
        .post("/api/admin/auth")
        .json(&json!({ "password": ADMIN_TOKEN }))
        .full_answer()
        .await;
    assert_eq!(status, 503, "auth: {v}");
    let r = s.get("/admin").answer().await;
    assert_eq!(r.status().as_u16(), 503);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_auth_and_bearer() {
    let s = TestServer::start().await;
    let auth = |body: Value| s.post("/api/admin/auth").json(&body).send();
    let r = auth(json!({ "password": ADMIN_TOKEN })).await.unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(r.json::<Value>().await.unwrap()["success"], json!(true));
    let r = auth(json!({ "password": "not-the-admin-token" }))
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 401);
    let r = auth(json!({ "password": ADMIN_TOKEN.to_ascii_uppercase() }))
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 401, "the token is case-sensitive");
    for body in [
        json!({}),
        json!({ "password": "" }),
        json!({ "password": 5 }),
    ] {
        let r = auth(body.clone()).await.unwrap();
        assert_eq!(r.status().as_u16(), 400, "{body}");
    }

    for path in ["/api/admin/stats", "/api/admin/clips", "/api/admin/system"] {
        let (status, _, _) = s.get(path).full_answer().await;
        assert_eq!(status, 401, "{path} without bearer");
        let (status, _, _) = s.get(path).bearer_auth(WRONG_TOKEN).full_answer().await;
        assert_eq!(status, 401, "{path} with a wrong bearer");
        let (status, _, _) = s
            .get(path)
            .header("authorization", ADMIN_TOKEN)
            .full_answer()
            .await;
        assert_eq!(status, 401, "{path} without the Bearer scheme");
        let (status, v) = s.admin_get(path).await;
        assert_eq!(status, 200, "{path}: {v}");
    }
    let (status, _, _) = s.post("/api/admin/sweep").full_answer().await;
    assert_eq!(status, 401);

    let (_, v) = s.admin_get("/api/admin/system").await;
    assert!(v["currentTime"].is_u64(), "{v}");
    assert_eq!(v["status"], json!("OK"));

    let r = s.get("/admin").answer().await;
    assert_eq!(r.status().as_u16(), 200, "the page itself needs no bearer");
    s.stop().await;
}

/// An admin request from a given local address (the server sees it as the peer).
async fn admin_from(
    s: &TestServer,
    from: [u8; 4],
    method: &str,
    path: &str,
    token: &str,
) -> (u16, reqwest::header::HeaderMap, Value) {
    let client = reqwest::Client::builder()
        .no_proxy()
        .local_address(std::net::IpAddr::from(from))
        .build()
        .unwrap();
    let rb = if method == "POST" {
        client.post(s.url(path))
    } else {
        client.get(s.url(path))
    };
    rb.bearer_auth(token).full_answer().await
}

/// A login attempt (`POST /api/admin/auth`) from a given local address.
async fn login_from(s: &TestServer, from: [u8; 4], password: &str) -> u16 {
    let client = reqwest::Client::builder()
        .no_proxy()
        .local_address(std::net::IpAddr::from(from))
        .build()
        .unwrap();
    let r = client
        .post(s.url("/api/admin/auth"))
        .json(&json!({ "password": password }))
        .answer()
        .await;
    r.status().as_u16()
}

const ADMIN_ROUTES: [(&str, &str); 4] = [
    ("GET", "/api/admin/stats"),
    ("GET", "/api/admin/clips"),
    ("GET", "/api/admin/system"),
    ("POST", "/api/admin/sweep"),
];

/// Issue 10: wrong bearer tokens on the admin routes were never limited (25,525 guesses in
/// 3 s). Each route now counts them against the admin-login budget of the address: the guess
/// that uses it up is the last one answered 401; after it the address gets 429 with
/// `Retry-After`, even with the right token, while another address is served.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_bearer_guesses_reach_429_on_every_route() {
    let s = limited(|c| c.limits.admin_auth = rate(3, 600)).await;
    for (i, (method, path)) in ADMIN_ROUTES.into_iter().enumerate() {
        let guesser = [127, 0, 1, i as u8 + 1];
        for n in 0..3 {
            let (status, _, v) = admin_from(&s, guesser, method, path, WRONG_TOKEN).await;
            assert_eq!(status, 401, "{method} {path}, guess {n}: {v}");
        }
        let (status, h, v) = admin_from(&s, guesser, method, path, WRONG_TOKEN).await;
        assert_eq!(status, 429, "{method} {path}: {v}");
        assert_eq!(v["error"], json!("Too many authentication attempts"), "{v}");
        let retry: u64 = header(&h, "retry-after").parse().unwrap();
        assert!((1..=601).contains(&retry), "Retry-After {retry}");
        assert_security_headers(&h, "429");
        // The right token from the blocked address waits too, on every admin route.
        for (m, p) in ADMIN_ROUTES {
            let (status, _, _) = admin_from(&s, guesser, m, p, ADMIN_TOKEN).await;
            assert_eq!(
                status, 429,
                "{m} {p} with the right token after guessing on {path}"
            );
        }
        assert_eq!(login_from(&s, guesser, ADMIN_TOKEN).await, 429);
        // Another address is served.
        let (status, _, v) = admin_from(&s, [127, 0, 2, 1], method, path, ADMIN_TOKEN).await;
        assert_eq!(status, 200, "{method} {path} from another address: {v}");
    }
    // Right tokens cost nothing (the dashboard refreshes every 30 s), and a request without
    // any token guesses nothing.
    for _ in 0..10 {
        let (status, _, _) =
            admin_from(&s, [127, 0, 2, 2], "GET", "/api/admin/stats", ADMIN_TOKEN).await;
        assert_eq!(status, 200);
    }
    let anonymous = reqwest::Client::builder()
        .no_proxy()
        .local_address(std::net::IpAddr::from([127, 0, 2, 2]))
        .build()
        .unwrap();
    for _ in 0..5 {
        let (status, _, _) = anonymous.get(s.url("/api/admin/stats")).full_answer().await;
        assert_eq!(status, 401);
    }
    let (status, _, _) =
        admin_from(&s, [127, 0, 2, 2], "GET", "/api/admin/stats", ADMIN_TOKEN).await;
    assert_eq!(status, 200);
    s.stop().await;
}

/// Wrong passwords at `POST /api/admin/auth` and wrong bearer tokens share one budget.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_logins_and_bearer_tokens_share_a_budget() {
    let s = limited(|c| c.limits.admin_auth = rate(3, 600)).await;
    let from = [127, 0, 3, 1];
    assert_eq!(login_from(&s, from, "not-the-admin-token").await, 401);
    assert_eq!(login_from(&s, from, "still-not-the-token").await, 401);
    let (status, _, _) = admin_from(&s, from, "GET", "/api/admin/system", WRONG_TOKEN).await;
    assert_eq!(status, 401);
    assert_eq!(login_from(&s, from, ADMIN_TOKEN).await, 429);
    let (status, h, _) = admin_from(&s, from, "GET", "/api/admin/stats", ADMIN_TOKEN).await;
    assert_eq!(status, 429);
    assert!(!header(&h, "retry-after").is_empty());
    s.stop().await;
}

/// Once the budget has room again, the right token works from the address that guessed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_budget_recovers() {
    let s = limited(|c| {
        // One guess back every second.
        c.limits.admin_auth = rate(2, 2);
    })
    .await;
    let from = [127, 0, 4, 1];
    for _ in 0..2 {
        let (status, _, _) = admin_from(&s, from, "GET", "/api/admin/stats", WRONG_TOKEN).await;
        assert_eq!(status, 401);
    }
    let (status, h, _) = admin_from(&s, from, "GET", "/api/admin/stats", ADMIN_TOKEN).await;
    assert_eq!(status, 429);
    let retry: u64 = header(&h, "retry-after").parse().unwrap();
    assert!((1..=2).contains(&retry), "Retry-After {retry}");
    tokio::time::sleep(Duration::from_secs(retry)).await;
    let (status, _, v) = admin_from(&s, from, "GET", "/api/admin/stats", ADMIN_TOKEN).await;
    assert_eq!(status, 200, "after Retry-After: {v}");
    s.stop().await;
}

/// Wrong admin credentials from many addresses use up a server-wide budget; then every
/// address waits, even with the right token. Quick Share lookups have a budget of their own
/// and are not affected.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_guesses_share_a_server_wide_budget() {
    let s = limited(|c| {
        c.limits.admin_auth = rate(100, 600);
        c.limits.failed_global = rate(3, 3600);
    })
    .await;
    let (status, _, _) = admin_from(
        &s,
        [127, 0, 5, 1],
        "GET",
        "/api/admin/stats",
        "wrong-token-1-wrong",
    )
    .await;
    assert_eq!(status, 401);
    let (status, _, _) = admin_from(
        &s,
        [127, 0, 5, 2],
        "POST",
        "/api/admin/sweep",
        "wrong-token-2-wrong",
    )
    .await;
    assert_eq!(status, 401);
    assert_eq!(
        login_from(&s, [127, 0, 5, 3], "wrong-password-3").await,
        401
    );
    let (status, h, v) =
        admin_from(&s, [127, 0, 5, 4], "GET", "/api/admin/stats", ADMIN_TOKEN).await;
    assert_eq!(status, 429, "{v}");
    assert!(!header(&h, "retry-after").is_empty());
    assert_eq!(login_from(&s, [127, 0, 5, 5], ADMIN_TOKEN).await, 429);
    let (status, v) = s.get_json("/api/clip/ABC234/info").await;
    assert_eq!(status, 404, "a Quick Share lookup is not refused: {v}");
    s.stop().await;
}

/// Regression for the original's §12.1.13: `total_accesses` counted metadata fetches and
/// `password_protected` counted the initiate-time flag, not real access codes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_stats_misleading_counters_bug() {
    let s = TestServer::start().await;
    let (_, base) = s.admin_get("/api/admin/stats").await;
    for k in [
        "totalClips",
        "oneTimeClips",
        "passwordClips",
        "quickShareClips",
        "totalAccesses",
        "normalClips",
        "activeClips",
    ] {
        assert_eq!(base[k], json!(0), "{k} in {base}");
    }

    // A normal clip, a one-time clip, a clip whose initiate said hasPassword but which got no
    // access code, a clip with a real access code, and a Quick Share.
    let normal = text_clip(&s, json!({}), json!({})).await;
    let once = text_clip(&s, json!({ "oneTime": true }), json!({})).await;
    let flag_only = text_clip(
        &s,
        json!({ "hasPassword": true }),
        json!({ "requiresAccessCode": false }),
    )
    .await;
    let coded = text_clip(
        &s,
        json!({ "hasPassword": true }),
        json!({ "accessCodeHash": access_hash(5), "requiresAccessCode": true }),
    )
    .await;
    let quick = text_clip(&s, json!({ "quickShare": true }), json!({})).await;

    let (status, v) = s.admin_get("/api/admin/stats").await;
    assert_eq!(status, 200);
    assert_eq!(v["totalClips"], json!(5), "{v}");
    assert_eq!(v["activeClips"], json!(5), "{v}");
    assert_eq!(v["oneTimeClips"], json!(1), "{v}");
    assert_eq!(
        v["passwordClips"],
        json!(1),
        "only the real access code counts: {v}"
    );
    assert_eq!(v["quickShareClips"], json!(1), "{v}");
    assert_eq!(v["normalClips"], json!(3), "{v}");
    assert_eq!(v["passwordPercentage"], json!(20), "{v}");

    // Metadata lookups are not accesses.
    for id in [&normal, &once, &flag_only, &quick] {
        for _ in 0..2 {
            assert_eq!(s.get_json(&format!("/api/clip/{id}/info")).await.0, 200);
            assert_eq!(s.get_json(&format!("/api/clip/{id}")).await.0, 200);
            assert_eq!(
                s.post_json(&format!("/api/clip/{id}"), json!({})).await.0,
                200
            );
        }
    }
    assert_eq!(
        s.post_json(
            &format!("/api/clip/{coded}"),
            json!({ "accessCode": access_hash(5) })
        )
        .await
        .0,
        200
    );
    tokio::time::sleep(Duration::from_millis(100)).await;
    let (_, v) = s.admin_get("/api/admin/stats").await;
    assert_eq!(
        v["totalAccesses"],
        json!(0),
        "metadata lookups counted: {v}"
    );

    // Content downloads are.
    assert_eq!(s.download_bytes(&normal, None).await.0, 200);
    assert_eq!(s.download_bytes(&normal, None).await.0, 200);
    assert_eq!(s.download_bytes(&once, None).await.0, 200);
    assert_eq!(s.download_bytes(&coded, Some(&access_hash(5))).await.0, 200);
    // Refused downloads are not.
    assert_eq!(s.download_bytes(&coded, None).await.0, 401);
    assert_eq!(s.download_bytes(&once, None).await.0, 404);
    let v = stats_until(&s, "totalAccesses", 4).await;
    assert_eq!(v["totalAccesses"], json!(4), "{v}");
    tokio::time::sleep(Duration::from_millis(100)).await;
    let (_, v) = s.admin_get("/api/admin/stats").await;
    assert_eq!(v["totalAccesses"], json!(4), "{v}");
    // The one-time clip goes once its reader has it all (a second after the last byte).
    let v = stats_until(&s, "activeClips", 4).await;
    assert_eq!(v["activeClips"], json!(4), "the one-time clip is gone: {v}");
    assert_eq!(
        v["totalClips"],
        json!(5),
        "totalClips counts created clips: {v}"
    );
    s.stop().await;
}

/// The original's `/api/admin/clips` exposed live clip IDs (§12.2.6).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_clips_exposes_live_clip_ids_bug() {
    let s = TestServer::start().await;
    let mut ids = Vec::new();
    for i in 0..22 {
        let init = if i % 5 == 0 {
            json!({ "quickShare": true })
        } else {
            json!({})
        };
        ids.push(text_clip(&s, init, json!({})).await);
    }
    let (status, v) = s.admin_get("/api/admin/clips").await;
    assert_eq!(status, 200, "{v}");
    let list = v.as_array().expect("an array");
    assert_eq!(list.len(), 20, "at most 20 entries");
    for entry in list {
        let shown = entry["clip_id"].as_str().unwrap_or("");
        assert!(
            !ids.iter().any(|id| id == shown),
            "a full clip ID is exposed: {shown}"
        );
        assert!(
            !ids.iter().any(|id| shown.contains(id.as_str())),
            "a full clip ID is embedded: {shown}"
        );
    }
    let body = v.to_string();
    for id in &ids {
        assert!(
            !body.contains(id.as_str()),
            "{id} appears in the admin list"
        );
    }
    s.stop().await;
}

// ---- rate limits -----------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn initiate_limit_429_with_retry_after() {
    let s = limited(|c| c.limits.initiate = rate(3, 60)).await;
    for _ in 0..3 {
        let (status, v) = s
            .post_json("/api/upload/initiate", json!({ "filename": "a" }))
            .await;
        assert_eq!(status, 200, "{v}");
    }
    let (status, h, v) = s
        .post("/api/upload/initiate")
        .json(&json!({ "filename": "a" }))
        .full_answer()
        .await;
    assert_eq!(status, 429, "{v}");
    assert_eq!(v["error"], json!("Too many uploads"), "{v}");
    let retry: u64 = header(&h, "retry-after").parse().unwrap();
    assert!((1..=61).contains(&retry), "Retry-After {retry}");
    assert_security_headers(&h, "429");
    s.stop().await;
}

/// Regression for the original's §8.1 / §12.1.6: the skip predicates compared the full path
/// with the mount-relative one, so chunk uploads were counted by the burst and general limits.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chunk_uploads_counted_by_general_limits_bug() {
    let s = limited(|c| {
        c.chunk_size = 64 * 1024;
        c.limits.initiate = rate(3, 600);
        c.limits.lookup = rate(5, 600);
    })
    .await;
    let data = test_bytes(10 * 64 * 1024, 1);
    let v = s.upload(&data, json!({}), json!({})).await;
    assert_eq!(v["success"], json!(true));
    let id = v["clipId"].as_str().unwrap();
    // The 10 chunks and the completion used none of the lookup budget...
    for i in 0..5 {
        let (status, v) = s.get_json(&format!("/api/clip/{id}/info")).await;
        assert_eq!(status, 200, "lookup {i}: {v}");
    }
    // ...which is real, though.
    let (status, v) = s.get_json(&format!("/api/clip/{id}/info")).await;
    assert_eq!(status, 429, "{v}");
    // And none of the initiate budget: two more initiates fit, the third does not.
    for _ in 0..2 {
        let (status, v) = s
            .post_json("/api/upload/initiate", json!({ "filename": "a" }))
            .await;
        assert_eq!(status, 200, "{v}");
    }
    let (status, _) = s
        .post_json("/api/upload/initiate", json!({ "filename": "a" }))
        .await;
    assert_eq!(status, 429);
    // Downloads have their own budget.
    let (status, body) = s.download_bytes(id, None).await;
    assert_eq!(status, 200);
    assert!(body == data);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_lookups_block_the_address() {
    let s = limited(|c| c.limits.failed_per_address = rate(5, 300)).await;
    let real = text_clip(&s, json!({}), json!({})).await;
    for i in 0..5 {
        let (status, v) = s.get_json(&format!("/api/clip/NOSUCH000{i}/info")).await;
        assert_eq!(status, 404, "failure {i}: {v}");
    }
    for i in 5..8 {
        let (status, v) = s.get_json(&format!("/api/clip/NOSUCH000{i}/info")).await;
        assert_eq!(status, 429, "lookup {i} after 5 failures: {v}");
        assert_eq!(v["error"], json!("Too many failed attempts"), "{v}");
    }
    // Even an existing clip is refused to this address now.
    let (status, h, v) = s.get(&format!("/api/clip/{real}/info")).full_answer().await;
    assert_eq!(status, 429, "{v}");
    assert_eq!(v["error"], json!("Too many failed attempts"));
    assert!(h.get("retry-after").is_some());
    let (status, _) = s.download_bytes(&real, None).await;
    assert_eq!(status, 429, "downloads are refused too");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_access_codes_count_as_failures() {
    let s = limited(|c| c.limits.failed_per_address = rate(3, 300)).await;
    let id = coded_clip(&s, 1).await;
    for seed in 2..5 {
        let (status, _) = open_with_code(&s, &id, seed).await;
        assert_eq!(status, 401);
    }
    // Now even the right code is refused from this address.
    let (status, v) = open_with_code(&s, &id, 1).await;
    assert_eq!(status, 429, "{v}");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spoofed_forwarded_for_does_not_reset_budget() {
    let s = limited(|c| {
        c.limits.failed_per_address = rate(5, 300);
        c.limits.initiate = rate(2, 300);
    })
    .await;
    for i in 0..5 {
        let (status, v) = info_from(&s, &format!("NOSUCH000{i}"), &format!("203.0.113.{i}")).await;
        assert_eq!(status, 404, "{v}");
    }
    for i in 5..9 {
        let (status, v) = info_from(&s, &format!("NOSUCH000{i}"), &format!("198.51.100.{i}")).await;
        assert_eq!(
            status, 429,
            "X-Forwarded-For from an untrusted peer was honoured: {v}"
        );
    }
    // The same for the initiate budget.
    for i in 0..4 {
        let (status, _, _) = s
            .post("/api/upload/initiate")
            .header("x-forwarded-for", format!("192.0.2.{i}"))
            .json(&json!({ "filename": "a" }))
            .full_answer()
            .await;
        assert_eq!(status, if i < 2 { 200 } else { 429 }, "initiate {i}");
    }
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trusted_proxy_forwarded_for_gets_separate_budgets() {
    let s = proxied(|c| {
        c.limits.failed_per_address = rate(5, 300);
        c.limits.initiate = rate(2, 300);
    })
    .await;
    let real = text_clip(&s, json!({}), json!({})).await;
    for i in 0..5 {
        let (status, _) = info_from(&s, &format!("NOSUCH000{i}"), "10.0.0.1").await;
        assert_eq!(status, 404);
    }
    let (status, _) = info_from(&s, &real, "10.0.0.1").await;
    assert_eq!(status, 429, "10.0.0.1 is blocked");
    // Another client behind the same proxy is not.
    let (status, v) = info_from(&s, &real, "10.0.0.2").await;
    assert_eq!(status, 200, "{v}");
    let (status, _) = info_from(&s, "NOSUCH0009", "10.0.0.2").await;
    assert_eq!(status, 404);
    // A spoofed left-most hop does not help: the right-most untrusted hop counts.
    let (status, _) = info_from(&s, &real, "10.9.9.9, 10.0.0.1").await;
    assert_eq!(status, 429);
    // The proxy's own requests (no header) have their own budget too. The clip upload
    // above used one initiate from 127.0.0.1.
    for (xff, want) in [
        ("10.0.0.3", 200),
        ("10.0.0.3", 200),
        ("10.0.0.3", 429),
        ("10.0.0.4", 200),
    ] {
        let (status, _, _) = s
            .post("/api/upload/initiate")
            .header("x-forwarded-for", xff)
            .json(&json!({ "filename": "a" }))
            .full_answer()
            .await;
        assert_eq!(status, want, "initiate from {xff}");
    }
    s.stop().await;
}

/// Regression for the original's dead Quick Share limiter (§8.1, §12.1.6): its skip regex
/// never matched, so 6-character IDs were only limited by the general limits.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dead_quick_share_limiter_bug() {
    let s = proxied(|c| {
        c.limits.lookup = rate(10, 60);
        c.limits.failed_per_address = rate(1000, 300);
        c.limits.failed_global = rate(5, 3600);
    })
    .await;
    let quick = text_clip(&s, json!({ "quickShare": true }), json!({})).await;
    let enhanced = text_clip(&s, json!({}), json!({})).await;
    assert_eq!(quick.len(), 6);

    // The lookup limit applies to 6-character IDs.
    for i in 0..10 {
        let (status, v) = info_from(&s, &quick, "10.1.0.1").await;
        assert_eq!(status, 200, "lookup {i}: {v}");
    }
    let (status, v) = info_from(&s, &quick, "10.1.0.1").await;
    assert_eq!(status, 429, "the 11th Quick Share lookup in a minute: {v}");

    // Guessing Quick Share IDs from many addresses trips the server-wide budget, through
    // info lookups and downloads alike.
    for i in 0..5 {
        let xff = format!("10.2.0.{i}");
        let r = if i % 2 == 0 {
            info_from(&s, &format!("ZZZZZ{i}"), &xff).await.0
        } else {
            s.post(&format!("/api/file/ZZZZZ{i}"))
                .header("x-forwarded-for", xff)
                .json(&json!({}))
                .full_answer()
                .await
                .0
        };
        assert_eq!(r, 404, "guess {i}");
    }
    let (status, v) = info_from(&s, &quick, "10.3.0.1").await;
    assert_eq!(
        status, 429,
        "Quick Share lookups are refused after mass guessing: {v}"
    );
    assert_eq!(v["error"], json!("Too many failed attempts"));
    // Enhanced IDs (not guessable) still work for a fresh address.
    let (status, v) = info_from(&s, &enhanced, "10.3.0.1").await;
    assert_eq!(status, 200, "{v}");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limits_off_never_429() {
    let s = TestServer::start_with(|c| {
        c.rate_limits = false;
        c.limits.lookup = rate(5, 600);
        c.limits.initiate = rate(1, 600);
        c.limits.download = rate(1, 600);
        c.limits.failed_per_address = rate(1, 600);
        c.limits.failed_global = rate(1, 600);
    })
    .await;
    let id = text_clip(&s, json!({}), json!({})).await;
    let quick = text_clip(&s, json!({ "quickShare": true }), json!({})).await;
    for i in 0..200 {
        let path = match i % 5 {
            0 => format!("/api/clip/{id}/info"),
            1 => format!("/api/clip/{quick}/info"),
            2 => "/api/clip/NOSUCHCLIP/info".to_string(),
            3 => "/api/clip/ZZZZZZ/info".to_string(),
            _ => format!("/api/clip/{id}"),
        };
        let (status, v) = s.get_json(&path).await;
        assert_ne!(status, 429, "request {i} ({path}) limited: {v}");
        assert!(status == 200 || status == 404, "{path}: {status}");
    }
    for _ in 0..3 {
        assert_eq!(s.download_bytes(&id, None).await.0, 200);
        let (status, _) = s
            .post_json("/api/upload/initiate", json!({ "filename": "a" }))
            .await;
        assert_eq!(status, 200);
    }
    s.stop().await;
}

/// Wrong access codes from many addresses use up the server-wide budget; then nobody may try
/// a code (a botnet gains nothing by spreading its guesses), while plain lookups of
/// 10-character clips keep working.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn access_code_guesses_share_a_server_wide_budget() {
    let s = proxied(|c| {
        c.limits.failed_per_address = rate(100, 300);
        c.limits.failed_global = rate(3, 3600);
    })
    .await;
    let id = coded_clip(&s, 1).await;
    let try_code = |seed: u8, xff: String| {
        let s = &s;
        let id = id.clone();
        async move {
            s.post(&format!("/api/clip/{id}"))
                .header("x-forwarded-for", xff)
                .json(&json!({ "accessCode": access_hash(seed) }))
                .full_answer()
                .await
        }
    };
    for i in 0..3u8 {
        let (status, _, v) = try_code(2 + i, format!("198.51.100.{i}")).await;
        assert_eq!(status, 401, "{v}");
    }
    // A fresh address, even with the right code, must wait.
    let (status, h, v) = try_code(1, "203.0.113.50".into()).await;
    assert_eq!(status, 429, "{v}");
    assert!(!header(&h, "retry-after").is_empty());
    // Lookups that need no code are not affected.
    let (status, v) = info_from(&s, &id, "203.0.113.51").await;
    assert_eq!(status, 200, "{v}");
    s.stop().await;
}
