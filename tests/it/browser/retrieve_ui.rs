//! What the recipient sees on the Retrieve tab before and after opening (issue 12, points 6
//! and 7): a file's size before downloading (exact above 64 KiB, "up to" for a small padded
//! one, the stored size of an unencrypted one), the line saying that the name is inside the
//! encrypted content; no stale Retrieve button above a shown text; one access-code prompt.

use super::driver::Browser;
use super::ui::{open_app, retrieved_text, share_text, TextOptions, STEP};
use crate::harness::TestServer;
use serde_json::json;
use std::time::Duration;

/// Shares `size` bytes as a file through the page's own engine (no dialog): the share link.
async fn share_file_of(b: &Browser, size: usize, name: &str) -> String {
    b.js_async(
        "const m = await import('/js/transfer.js');\
         const r = await m.shareFile(new File([new Uint8Array(args[0]).fill(7)], args[1]), {});\
         return r.url;",
        vec![json!(size), json!(name)],
    )
    .await
    .as_str()
    .unwrap()
    .to_string()
}

/// `formatBytes(n)` as the page writes it.
async fn page_bytes(b: &Browser, n: u64) -> String {
    b.js_async(
        "return (await import('/app/util.js')).formatBytes(args[0]);",
        vec![json!(n)],
    )
    .await
    .as_str()
    .unwrap()
    .to_string()
}

/// Opens a file link and returns (size line, name note shown, whole Retrieve panel text).
async fn before_download(b: &Browser, url: &str) -> (String, bool, String) {
    open_app(b, url).await;
    b.wait_visible("[data-testid=retrieve-reveal]").await;
    let size = b.wait_visible("[data-testid=retrieve-size]").await;
    let size = size.text().await.unwrap();
    let note = b
        .find("[data-testid=retrieve-name-note]")
        .await
        .is_displayed()
        .await
        .unwrap();
    (size, note, b.text_of("#panel-retrieve").await)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_link_shows_the_size_and_where_the_name_is_before_downloading() {
    let server = TestServer::start().await;
    let b = Browser::start().await;
    open_app(&b, &server.url("/")).await;

    // Above 64 KiB the ciphertext's length gives the exact size.
    let url = share_file_of(&b, 100_000, "quarterly report.pdf").await;
    let (size, note, panel) = before_download(&b, &url).await;
    assert_eq!(size, format!("Size: {}", page_bytes(&b, 100_000).await));
    assert!(note, "the name note is hidden");
    assert!(
        !panel.contains("quarterly"),
        "the name shows before decryption: {panel}"
    );
    b.screenshot("desktop-light-retrieve-file-size").await;

    // Small files are padded to a power of two: only a bound is known.
    let url = share_file_of(&b, 5000, "small.txt").await;
    let (size, note, _) = before_download(&b, &url).await;
    assert_eq!(size, format!("Size: up to {}", page_bytes(&b, 8192).await));
    assert!(note);

    // An unencrypted upload (curl): the stored size is the size; no name note.
    let r = reqwest::Client::builder()
        .no_proxy()
        .build()
        .unwrap()
        .put(server.url("/plain.bin"))
        .body(vec![1u8; 3000])
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.status());
    let link = r.text().await.unwrap().trim().to_string();
    let (size, note, _) = before_download(&b, &link).await;
    assert_eq!(size, format!("Size: {}", page_bytes(&b, 3000).await));
    assert!(!note, "an unencrypted clip's name is no secret");
    b.close().await;
}

/// Regression (issue 12, point 7): the Retrieve button stayed above a text that was shown.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shown_text_has_no_stale_retrieve_button_above_it() {
    let server = TestServer::start().await;
    let b = Browser::start().await;
    open_app(&b, &server.url("/")).await;
    let shared = share_text(&b, "shown once here", TextOptions::default()).await;
    open_app(&b, &shared.url).await;
    assert_eq!(retrieved_text(&b).await, "shown once here");
    for css in ["#retrieve-submit", "#retrieve-reveal"] {
        let shown = b.find(css).await.is_displayed().await.unwrap();
        assert!(!shown, "{css} is shown above the text");
    }
    // Another ID brings the button back.
    b.type_into("[data-testid=retrieve-id]", "ABCDEFGHJK").await;
    b.wait_visible("#retrieve-submit").await;
    b.close().await;
}

/// Regression (issue 12, point 7): a link to a clip behind an access code asked for it twice,
/// in a toast and on the page. The page's code field (focused) is the one prompt.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_access_code_is_asked_for_once() {
    let server = TestServer::start().await;
    let b = Browser::start().await;
    open_app(&b, &server.url("/")).await;
    let shared = share_text(&b, "behind a code", TextOptions::code("s3cret-code")).await;
    open_app(&b, &shared.url).await;
    b.wait_visible("[data-testid=retrieve-code]").await;
    b.wait_js(
        "the code field to have the focus",
        STEP,
        "document.activeElement && document.activeElement.id === 'retrieve-code'",
    )
    .await;
    // A toast would have appeared by now (it is shown right after the look-up).
    tokio::time::sleep(Duration::from_millis(500)).await;
    let toasts = b.text_of("[data-testid=toasts]").await;
    assert_eq!(toasts, "", "a second prompt as a toast");
    let info = b.text_of("[data-testid=retrieve-info-text]").await;
    assert!(info.contains("access code required"), "{info}");
    b.type_into("[data-testid=retrieve-code]", "s3cret-code")
        .await;
    b.click("[data-testid=retrieve-submit]").await;
    assert_eq!(retrieved_text(&b).await, "behind a code");
    b.close().await;
}
