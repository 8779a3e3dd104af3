//! The whole client on both crypto paths against one server, each reading the other's clips
//! byte for byte. `http://qopy.test:PORT` (mapped to 127.0.0.1) is not a secure context, like
//! a LAN address over plain HTTP: no `crypto.subtle`, so the page uses its own JS crypto (the
//! fallback) and shows the insecure-context notice. `http://127.0.0.1:PORT` is a secure
//! context and uses WebCrypto. Text and 20 MiB files (random bytes, compared by SHA-256) go
//! each way.

use super::driver::Browser;
use super::ui::{
    close_share_dialog, lan_browser, lan_server, open_app, origins, read_share_dialog,
    retrieved_text, second_tab, share_text, Shared, TextOptions,
};
use super::ui_file::{choose_file, download_via_link, sha256_hex, temp_file};
use fantoccini::wd::WindowHandle;
use rand::RngCore;
use serde_json::json;
use std::time::Duration;

const UPLOAD: Duration = Duration::from_secs(180);
const SIZE: usize = 20 * 1024 * 1024;

/// Unicode of every width (non-BMP emoji included), tabs, newlines, and spaces at both ends
/// that must survive. (No CR: a textarea's value turns CR LF into LF before any crypto.)
const TEXT_LAN: &str =
    "  made on the fallback ✓ Grüße 世界 🔐🦀\n\tline two — “quoted” \u{00a0}end \n ";
const TEXT_WEB: &str =
    " made with WebCrypto ✓ Ünïcödé 日本語 🧪\n\ttab\n\nand trailing spaces   \n\n";

/// The same link on another origin (`http://host:port/clip/ID#secret`).
fn on_origin(url: &str, from: &str, to: &str) -> String {
    let rest = url
        .strip_prefix(from)
        .unwrap_or_else(|| panic!("{url} is not on {from}"));
    format!("{to}{rest}")
}

/// Asserts, in the page, which crypto path it is on: the fallback (not a secure context, no
/// `crypto.subtle`, the notice shown) or WebCrypto (secure context, notice hidden).
async fn assert_path(b: &Browser, fallback: bool) {
    let r = b
        .js(
            "return { secure: window.isSecureContext,\
                      subtle: typeof (window.crypto && window.crypto.subtle),\
                      notice: !document.getElementById('insecure-notice').hidden };",
            vec![],
        )
        .await;
    let want = if fallback {
        json!({ "secure": false, "subtle": "undefined", "notice": true })
    } else {
        json!({ "secure": true, "subtle": "object", "notice": false })
    };
    assert_eq!(r, want, "page is not on the expected crypto path");
    if fallback {
        b.wait_visible("#insecure-notice").await;
    }
}

/// Opens the app on `origin`, asserts its crypto path, shares `text` (the link is on the same
/// origin) and closes the dialog.
async fn share_on(b: &Browser, origin: &str, fallback: bool, text: &str) -> Shared {
    open_app(b, &format!("{origin}/")).await;
    assert_path(b, fallback).await;
    let shared = share_text(b, text, TextOptions::default()).await;
    assert!(
        shared.url.starts_with(&format!("{origin}/clip/")),
        "{shared:?}"
    );
    close_share_dialog(b).await;
    shared
}

/// Opens a text link, asserts the page's crypto path and returns the text it shows.
async fn text_on(b: &Browser, url: &str, fallback: bool) -> String {
    open_app(b, url).await;
    assert_path(b, fallback).await;
    retrieved_text(b).await
}

async fn switch(b: &Browser, to: &WindowHandle) {
    b.client.switch_to_window(to.clone()).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn text_made_on_the_fallback_opens_with_webcrypto_and_vice_versa() {
    let server = lan_server().await;
    let (lan, web) = origins(&server);
    let b = lan_browser().await;

    // Fallback tab: share.
    let shared = share_on(&b, &lan, true, TEXT_LAN).await;

    // WebCrypto tab: open it byte for byte, then share another.
    let lan_tab = second_tab(&b).await;
    let text = text_on(&b, &on_origin(&shared.url, &lan, &web), false).await;
    assert_eq!(text, TEXT_LAN, "fallback → WebCrypto");
    let shared = share_on(&b, &web, false, TEXT_WEB).await;

    // Back on the fallback origin: open the WebCrypto clip.
    switch(&b, &lan_tab).await;
    let text = text_on(&b, &on_origin(&shared.url, &web, &lan), true).await;
    assert_eq!(text, TEXT_WEB, "WebCrypto → fallback");
    b.screenshot("desktop-light-lan-text-from-webcrypto").await;
    // No console errors on the plain-HTTP origin either (the server sends no
    // Cross-Origin-Opener-Policy there, which Chromium would ignore with an error).
    let problems = b.console_problems().await;
    assert!(problems.is_empty(), "{problems:#?}");
    b.close().await;
}

/// Uploads `path` in the current tab and returns the share link.
async fn upload(b: &Browser, origin: &str, path: &std::path::Path) -> String {
    open_app(b, &format!("{origin}/")).await;
    choose_file(b, path).await;
    b.click("[data-testid=file-submit]").await;
    b.wait_js(
        "the 20 MiB upload to finish",
        UPLOAD,
        "document.getElementById('share-modal').open",
    )
    .await;
    let shared = read_share_dialog(b).await;
    assert!(
        shared.url.starts_with(&format!("{origin}/file/")),
        "{shared:?}"
    );
    close_share_dialog(b).await;
    shared.url
}

/// Downloads a link in the current tab, checks name, size and SHA-256, and removes the file
/// (the next download looks for a new file in the same directory).
async fn download_and_check(b: &Browser, url: &str, fallback: bool, name: &str, want: &str) {
    let saved = download_via_link(b, url).await;
    assert_path(b, fallback).await;
    assert_eq!(saved.file_name().unwrap().to_string_lossy(), name);
    let got = std::fs::read(&saved).unwrap();
    assert_eq!(got.len(), SIZE, "{name}: size");
    assert_eq!(
        sha256_hex(&got),
        want,
        "{name}: the downloaded file differs"
    );
    std::fs::remove_file(&saved).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn file_of_20_mib_made_on_either_crypto_path_opens_on_the_other() {
    let server = lan_server().await;
    let (lan, web) = origins(&server);
    let mut rng = rand::thread_rng();
    let mut data = vec![0u8; SIZE];
    rng.fill_bytes(&mut data);
    let want_lan = sha256_hex(&data);
    let (_d1, path_lan) = temp_file("from-fallback.bin", &data);
    rng.fill_bytes(&mut data);
    let want_web = sha256_hex(&data);
    let (_d2, path_web) = temp_file("from-webcrypto.bin", &data);
    drop(data);

    let b = lan_browser().await;
    // Uploaded on the fallback origin.
    let url_lan = upload(&b, &lan, &path_lan).await;
    assert_path(&b, true).await;

    // Uploaded with WebCrypto in a second tab, and the fallback clip downloaded there.
    let lan_tab = second_tab(&b).await;
    let url_web = upload(&b, &web, &path_web).await;
    assert_path(&b, false).await;
    let url = on_origin(&url_lan, &lan, &web);
    download_and_check(&b, &url, false, "from-fallback.bin", &want_lan).await;

    // The WebCrypto clip downloaded on the fallback origin.
    switch(&b, &lan_tab).await;
    let url = on_origin(&url_web, &web, &lan);
    download_and_check(&b, &url, true, "from-webcrypto.bin", &want_web).await;
    b.screenshot("desktop-light-lan-file-from-webcrypto").await;
    b.close().await;
}
