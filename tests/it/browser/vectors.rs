//! Crypto inside the browser: every vector of `tests/vectors/primitives.json` through our
//! fallback (`getCrypto({ forceFallback: true })`) and through WebCrypto, random inputs
//! cross-checked between the two, and the fallback chosen by itself where `crypto.subtle`
//! does not exist (a plain-HTTP origin that is not loopback).

use super::driver::Browser;
use super::ui::{lan_browser, lan_server, origins};
use crate::harness::TestServer;
use serde_json::{json, Value};

fn primitives() -> Value {
    let p = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/vectors/primitives.json");
    serde_json::from_str(&std::fs::read_to_string(p).expect("primitives.json")).unwrap()
}

/// Counts the checks the vectors file implies, so a script that silently skips some fails.
fn expected_checks(v: &Value, short_iv_refused: usize) -> u64 {
    let n = |k: &str| v[k].as_array().unwrap().len() as u64;
    2 * n("sha")
        + 2 * n("hmac")
        + n("hkdf")
        + n("pbkdf2")
        + 3 * (n("gcm") - short_iv_refused as u64)
}

/// Runs the primitives' vectors in the page, on the fallback when `force_fallback` and
/// otherwise on the provider the page picks; asserts the provider (`native`: WebCrypto),
/// that every vector passes and how many were checked.
async fn run_primitives(b: &Browser, force_fallback: bool, native: bool) -> Value {
    let v = primitives();
    let r = b
        .js_async(
            include_str!("js/primitives.js"),
            vec![v.clone(), json!(force_fallback)],
        )
        .await;
    assert_eq!(r["native"], json!(native), "wrong provider: {r}");
    let failures = r["failures"].as_array().unwrap();
    assert!(
        failures.is_empty(),
        "vector failures ({}): {failures:#?}",
        if native { "WebCrypto" } else { "fallback" }
    );
    let refused = r["refusedShortIv"].as_array().unwrap().len();
    if !native {
        assert_eq!(refused, 0, "the fallback must accept every IV length");
    }
    assert_eq!(
        r["checked"].as_u64().unwrap(),
        expected_checks(&v, refused),
        "{r}"
    );
    r
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn primitives_vectors_pass_in_the_browser_with_fallback_and_webcrypto() {
    let server = TestServer::start().await;
    let b = Browser::start().await;
    b.goto(&server.url("/")).await;
    assert_eq!(
        b.js("return window.isSecureContext", vec![]).await,
        json!(true)
    );
    run_primitives(&b, true, false).await;
    let native = run_primitives(&b, false, true).await;
    // Chromium's WebCrypto may refuse the 64-bit IV of GCM test case 17; only that one.
    let refused = native["refusedShortIv"].as_array().unwrap();
    assert!(refused.len() <= 1, "{native}");
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fallback_agrees_with_webcrypto_on_random_inputs_in_the_browser() {
    let server = TestServer::start().await;
    let b = Browser::start().await;
    b.goto(&server.url("/")).await;
    let r = b.js_async(include_str!("js/crosscheck.js"), vec![]).await;
    let failures = r["failures"].as_array().unwrap();
    assert!(failures.is_empty(), "{failures:#?}");
    assert!(r["checked"].as_u64().unwrap() >= 40 * 8 + 7, "{r}");
    eprintln!(
        "PBKDF2-SHA256 600k, WebCrypto + fallback: {} ms",
        r["ms600k"]
    );
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plain_http_lan_origin_has_no_subtle_crypto_and_gets_the_fallback() {
    let server = lan_server().await;
    let (lan, _) = origins(&server);
    let b = lan_browser().await;
    b.goto(&format!("{lan}/")).await;
    let r = b
        .js_async(
            "const { getCrypto } = await import('/js/crypto/index.js');\
             const c = await getCrypto();\
             return { secure: window.isSecureContext, subtle: !!(crypto && crypto.subtle), native: c.native };",
            vec![],
        )
        .await;
    assert_eq!(
        r,
        json!({ "secure": false, "subtle": false, "native": false })
    );
    // The provider the page picks by itself (the fallback) passes the vectors there.
    run_primitives(&b, false, false).await;
    b.close().await;
}

fn v4_vectors() -> Value {
    let p = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/vectors/v4.json");
    serde_json::from_str(&std::fs::read_to_string(p).expect("v4.json")).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v4_vectors_pass_in_the_browser_with_webcrypto_and_fallback() {
    let server = TestServer::start().await;
    let b = Browser::start().await;
    b.goto(&server.url("/")).await;
    let v = v4_vectors();
    let cases = v["cases"].as_array().unwrap().len() as u64;
    for which in ["native", "fallback"] {
        let r = b
            .js_async(
                include_str!("js/v4vectors.js"),
                vec![v.clone(), json!(which)],
            )
            .await;
        let failures = r["failures"].as_array().unwrap();
        assert!(failures.is_empty(), "{which}: {failures:#?}");
        assert!(
            r["checked"].as_u64().unwrap() >= cases * 5 + 8,
            "{which}: {r}"
        );
    }
    b.close().await;
}
