//! Image previews on the Retrieve tab (`#retrieve-preview`): an unencrypted PNG uploaded with
//! `PUT /` shows the server's JPEG preview (and a one-time one shows none, without a console
//! error), and an encrypted PNG shared through the UI is previewed from its decrypted Blob
//! once the download is complete. Every downloaded Blob is application/octet-stream whatever
//! the declared type (text/html included); a preview is made only when the bytes are an image.

use super::driver::Browser;
use super::ui::{clip_info, open_app, read_share_dialog, second_tab, STEP};
use super::ui_file::{choose_file, download_via_link, temp_file};
use crate::harness::{Answer, TestServer};
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
        .answer()
        .await;
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

/// Test-only instrumentation: records the type of every Blob the page turns into a URL
/// (`window.__qopyBlobTypes`), and takes the page off the save picker, which headless Chromium
/// cannot answer (so the page makes a Blob download, as in Firefox).
const RECORD_BLOBS: &str = "window.showSaveFilePicker = undefined;\
  const seen = window.__qopyBlobTypes = [];\
  const real = URL.createObjectURL.bind(URL);\
  URL.createObjectURL = (o) => { seen.push(o instanceof Blob ? o.type : typeof o); return real(o); };";

/// What one download through the page made.
struct Downloaded {
    bytes: Vec<u8>,
    blob_types: Vec<String>,
    preview_shown: bool,
    details: String,
}

/// Opens a file link, downloads it with `URL.createObjectURL` recorded, and waits until the
/// page has finished with it (the preview decision included). Empties the download
/// directory afterwards, so the next download is found.
async fn download_recorded(b: &Browser, url: &str) -> Downloaded {
    open_app(b, url).await;
    b.wait_visible("[data-testid=retrieve-reveal]").await;
    b.js(RECORD_BLOBS, vec![]).await;
    b.click("[data-testid=retrieve-reveal]").await;
    let path = b.wait_download(STEP).await;
    b.wait_visible("[data-testid=retrieve-result-file]").await;
    // The progress bar is hidden when open() ends, after the preview decision.
    b.wait_js(
        "the download to finish in the page",
        STEP,
        "document.getElementById('retrieve-progress').hidden",
    )
    .await;
    let bytes = std::fs::read(&path).unwrap();
    std::fs::remove_file(&path).unwrap();
    let v = b
        .js(
            "return { types: window.__qopyBlobTypes,\
               preview: !document.getElementById('retrieve-preview').hidden,\
               details: document.getElementById('retrieve-file-details').textContent };",
            vec![],
        )
        .await;
    Downloaded {
        bytes,
        blob_types: serde_json::from_value(v["types"].clone()).unwrap(),
        preview_shown: v["preview"] == json!(true),
        details: v["details"].as_str().unwrap_or("").to_string(),
    }
}

/// Shares the file `name` with `data` through the Share Files tab; returns the link.
async fn share_file(b: &Browser, server: &TestServer, name: &str, data: &[u8]) -> String {
    let (_dir, path) = temp_file(name, data);
    open_app(b, &server.url("/")).await;
    choose_file(b, &path).await;
    b.click("[data-testid=file-submit]").await;
    read_share_dialog(b).await.url
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn downloads_are_octet_stream_blobs_and_only_real_images_are_previewed() {
    let server = TestServer::start().await;
    let html = b"<!DOCTYPE html><title>x</title><script>document.title = 'pwned'</script>".to_vec();
    let image = png(40, 30);
    let b = Browser::start().await;
    // Chromium types a chosen file by its extension: text/html, image/png, and none.
    let page = share_file(&b, &server, "page.html", &html).await;
    let fake = share_file(&b, &server, "fake.png", &html).await;
    let real = share_file(&b, &server, "picture.data", &image).await;
    // An unencrypted clip whose declared type is text/html.
    let r = reqwest::Client::builder()
        .no_proxy()
        .build()
        .unwrap()
        .put(server.url("/plain.html"))
        .header("content-type", "text/html")
        .body(html.clone())
        .answer()
        .await;
    assert_eq!(r.status().as_u16(), 200);
    let plain = r.text().await.unwrap().trim().to_string();
    let (status, d) = clip_info(&server.base, plain.rsplit('/').next().unwrap()).await;
    assert_eq!(status, 200, "{d}");

    let octet = vec!["application/octet-stream".to_string()];
    // HTML declared text/html, encrypted and not: an octet-stream Blob, no preview.
    for url in [&page, &plain] {
        let got = download_recorded(&b, url).await;
        assert_eq!(got.bytes, html, "{url}");
        assert_eq!(got.blob_types, octet, "{url}");
        assert!(!got.preview_shown, "a preview of HTML: {url}");
        assert!(got.details.contains("text/html"), "{}", got.details);
    }
    // HTML declared image/png: the bytes decide, so no preview either.
    let got = download_recorded(&b, &fake).await;
    assert_eq!(got.bytes, html);
    assert_eq!(got.blob_types, octet);
    assert!(!got.preview_shown, "a preview of HTML declared image/png");
    assert!(got.details.contains("image/png"), "{}", got.details);
    // A PNG declared as nothing: the download is octet-stream, the preview image/png.
    let got = download_recorded(&b, &real).await;
    assert_eq!(got.bytes, image);
    assert_eq!(
        got.blob_types,
        vec!["application/octet-stream", "image/png"]
    );
    let (src, w, h) = loaded_preview(&b).await;
    assert!(src.starts_with("blob:"), "{src}");
    assert_eq!((w, h), (40, 30));
    // The page's own script never ran the file's: its title is the app's.
    let title = b.js("return document.title", vec![]).await;
    assert_ne!(title, json!("pwned"));

    let problems = b.console_problems().await;
    assert!(problems.is_empty(), "console problems: {problems:#?}");
    b.close().await;
}
