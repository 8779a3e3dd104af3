//! Image previews on the Retrieve tab (`#retrieve-preview`): an unencrypted PNG uploaded with
//! `PUT /` shows the server's JPEG preview (and a one-time one shows none, without a console
//! error), and an encrypted PNG shared through the UI is previewed from its decrypted Blob
//! once the download is complete.

use super::driver::Browser;
use super::ui::{clip_info, open_app, read_share_dialog, second_tab, STEP};
use super::ui_file::download_via_link;
use crate::harness::TestServer;
use serde_json::json;
use std::time::Duration;

/// A `w` x `h` PNG with a colour gradient.
fn png(w: u32, h: u32) -> Vec<u8> {
    let img = image::RgbImage::from_fn(w, h, |x, y| {
        image::Rgb([(x * 255 / w) as u8, (y * 255 / h) as u8, 128])
    });
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png)
        .expect("encode a PNG");
    out.into_inner()
}

/// `PUT /name` of `body` (plaintext one-shot upload); returns the clip URL.
async fn put(server: &TestServer, path_and_query: &str, body: Vec<u8>) -> String {
    let r = reqwest::Client::builder()
        .no_proxy()
        .build()
        .unwrap()
        .put(server.url(path_and_query))
        .header("content-type", "image/png")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    r.text().await.unwrap().trim().to_string()
}

/// Waits until `#retrieve-preview` is shown and loaded; returns (src, naturalWidth,
/// naturalHeight).
async fn loaded_preview(b: &Browser) -> (String, u64, u64) {
    let v = b
        .wait_js(
            "the image preview to load",
            STEP,
            "(() => { const i = document.getElementById('retrieve-preview');\
               if (i.hidden || !i.complete || !(i.naturalWidth > 0)) return null;\
               return { src: i.src, w: i.naturalWidth, h: i.naturalHeight }; })()",
        )
        .await;
    (
        v["src"].as_str().unwrap().to_string(),
        v["w"].as_u64().unwrap(),
        v["h"].as_u64().unwrap(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plaintext_image_shows_the_server_preview() {
    let server = TestServer::start().await;
    let url = put(&server, "/photo.png", png(320, 200)).await;
    let id = url.rsplit('/').next().unwrap().to_string();
    let once = put(&server, "/once.png?oneTime=1", png(64, 64)).await;
    let once_id = once.rsplit('/').next().unwrap().to_string();

    let b = Browser::start().await;
    open_app(&b, &url).await;
    b.wait_visible("[data-testid=retrieve-unencrypted]").await;
    let (src, w, h) = loaded_preview(&b).await;
    assert_eq!(src, server.url(&format!("/api/clip/{id}/preview")));
    // The JPEG keeps the image's size (it fits 800x600 and is never enlarged).
    assert_eq!((w, h), (320, 200));
    b.screenshot("desktop-light-retrieve-preview").await;

    // A one-time image: no preview (the server would refuse it with 415), nothing consumed.
    open_app(&b, &once).await;
    b.wait_visible("[data-testid=retrieve-reveal]").await;
    b.wait_visible("[data-testid=retrieve-onetime]").await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let hidden = b
        .js(
            "return document.getElementById('retrieve-preview').hidden",
            vec![],
        )
        .await;
    assert_eq!(hidden, json!(true), "a one-time clip got a preview");
    let (status, info) = clip_info(&server.base, &once_id).await;
    assert_eq!(status, 200, "{info}");

    let problems = b.console_problems().await;
    assert!(problems.is_empty(), "console problems: {problems:#?}");
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn encrypted_png_is_previewed_after_decryption() {
    let server = TestServer::start().await;
    let data = png(200, 150);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tiny.png");
    std::fs::write(&path, &data).unwrap();

    let b = Browser::start().await;
    open_app(&b, &server.url("/")).await;
    b.click("[data-testid=tab-file]").await;
    b.find("[data-testid=file-input]")
        .await
        .send_keys(&path.display().to_string())
        .await
        .expect("choose the file");
    b.wait_visible("[data-testid=file-info]").await;
    b.click("[data-testid=file-submit]").await;
    let shared = read_share_dialog(&b).await;
    let (status, info) = clip_info(&server.base, &shared.id).await;
    assert_eq!(status, 200);
    assert_eq!(info["encrypted"], json!(true), "{info}");

    second_tab(&b).await;
    open_app(&b, &shared.url).await;
    b.wait_visible("[data-testid=retrieve-reveal]").await;
    // Nothing is shown before the download: the server cannot preview ciphertext.
    let hidden = b
        .js(
            "return document.getElementById('retrieve-preview').hidden",
            vec![],
        )
        .await;
    assert_eq!(hidden, json!(true));
    let saved = download_via_link(&b, &shared.url).await;
    assert_eq!(
        std::fs::read(&saved).unwrap(),
        data,
        "the downloaded PNG differs"
    );
    let (src, w, h) = loaded_preview(&b).await;
    assert!(src.starts_with("blob:"), "{src}");
    assert_eq!((w, h), (200, 150));
    b.screenshot("desktop-light-retrieve-decrypted-preview")
        .await;

    let problems = b.console_problems().await;
    assert!(problems.is_empty(), "console problems: {problems:#?}");

    // Clearing the ID resets the tab: the preview goes and its blob: URL is revoked (a new
    // image from it fails to load; `fetch` would be refused by connect-src anyway).
    b.set_value("[data-testid=retrieve-id]", "").await;
    b.wait_hidden("[data-testid=retrieve-preview]").await;
    let revoked = b
        .js_async(
            "return await new Promise((done) => { const i = new Image();\
               i.onload = () => done(false); i.onerror = () => done(true); i.src = args[0]; });",
            vec![json!(src)],
        )
        .await;
    assert_eq!(revoked, json!(true), "the blob: URL was not revoked");
    b.close().await;
}
