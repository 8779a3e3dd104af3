//! The start page over the built-in HTTPS with a self-signed certificate: the certificate box
//! shows the SHA-256 fingerprint the server prints, and its QR code decodes (zbarimg) to the
//! same text, so a phone can compare it with the certificate its browser warns about.

use super::driver::{zbarimg, Browser};
use crate::harness::TestServer;
use qopy::config::TlsMode;
use serde_json::json;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn self_signed_start_page_shows_the_fingerprint_and_its_qr_code() {
    let server = TestServer::start_with(|c| c.tls = TlsMode::SelfSigned).await;
    let https = server.base.replacen("http://", "https://", 1);
    // The fingerprint as /api/tls (and the start-up output) reports it.
    let client = reqwest::Client::builder()
        .no_proxy()
        .danger_accept_invalid_certs(true)
        .build()
        .unwrap();
    let mut info = None;
    for _ in 0..100 {
        if let Ok(r) = client.get(format!("{https}/api/tls")).send().await {
            info = Some(r.json::<serde_json::Value>().await.unwrap());
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let fp = info.expect("the TLS server answers")["fingerprintSha256"]
        .as_str()
        .unwrap()
        .to_string();

    let b = Browser::start().await;
    // What a person does by accepting the warning after comparing the fingerprint.
    b.cdp(
        "Security.setIgnoreCertificateErrors",
        json!({ "ignore": true }),
    )
    .await;
    b.goto(&format!("{https}/")).await;
    b.wait_visible("#tls-info").await;
    assert_eq!(b.text_of("#tls-fingerprint").await.trim(), fp);
    b.wait_js(
        "the QR image to load",
        Duration::from_secs(10),
        "document.getElementById('tls-qr').complete && document.getElementById('tls-qr').naturalWidth > 0",
    )
    .await;
    let png = b.screenshot_element("#tls-qr", "tls-fingerprint-qr").await;
    assert_eq!(zbarimg(&png), vec![fp.clone()]);
    // The page is a secure context there, so WebCrypto (not the fallback) is in use.
    assert_eq!(
        b.js("return window.isSecureContext;", vec![]).await,
        json!(true)
    );
    let problems = b.console_problems().await;
    assert!(problems.is_empty(), "console problems: {problems:?}");
    b.close().await;
    server.stop().await;
}
