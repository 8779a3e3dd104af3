//! What the recipient sees on the Retrieve tab before and after opening (issue 12, points 6
//! and 7): a file's size before downloading (exact above 64 KiB, "up to" for a small padded
//! one, the stored size of an unencrypted one), the line saying that the name is inside the
//! encrypted content; no stale Retrieve button above a shown text; one access-code prompt.

use super::driver::Browser;
use super::ui::{
    assert_no_text_shown, clip_info, close_share_dialog, open_app, read_share_dialog,
    retrieve_error, retrieved_text, set_limit, share_text, TextOptions, STEP,
};
use super::ui_file::{choose_file, temp_file};
use crate::harness::TestServer;
use serde_json::{json, Value};
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

/// Records the JSON bodies the page sends to `/api/upload/initiate` in `window.__initiates`.
async fn spy_on_initiate(b: &Browser) {
    b.js(
        "window.__initiates = [];\
         const real = window.fetch;\
         window.fetch = (url, init) => {\
           if (String(url).endsWith('/api/upload/initiate')) window.__initiates.push(JSON.parse(init.body));\
           return real(url, init);\
         };",
        vec![],
    )
    .await;
}

/// The last initiate body's (`oneTime`, `maxDownloads`), and how many were sent.
async fn last_initiate(b: &Browser) -> (Value, Value, usize) {
    let v = b
        .js(
            "const a = window.__initiates; const l = a[a.length - 1] || {};\
             return [l.oneTime ?? null, l.maxDownloads ?? null, a.length];",
            vec![],
        )
        .await;
    (v[0].clone(), v[1].clone(), v[2].as_u64().unwrap() as usize)
}

/// Issue 12, point 5 (web part): the share forms' download limit goes into the initiate JSON
/// as `maxDownloads` (with `oneTime` for 1, nothing for unlimited); the dialog says it; a
/// number outside 1..=1000 is refused before anything is sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_download_limit_choice_is_sent_as_max_downloads() {
    let server = TestServer::start().await;
    let b = Browser::start().await;
    open_app(&b, &server.url("/")).await;
    spy_on_initiate(&b).await;
    let cases: [(Option<u32>, Value, Value); 4] = [
        (None, json!(false), Value::Null),
        (Some(1), json!(true), json!(1)),
        (Some(3), json!(false), json!(3)),
        (Some(7), json!(false), json!(7)),
    ];
    for (i, (limit, one_time, max)) in cases.into_iter().enumerate() {
        let opts = TextOptions {
            max_downloads: limit,
            ..Default::default()
        };
        share_text(&b, "limited", opts).await;
        assert_eq!(last_initiate(&b).await, (one_time, max, i + 1), "{limit:?}");
        let note = b.text_of("[data-testid=share-limit]").await;
        match limit {
            Some(n) if n > 1 => {
                b.wait_visible("[data-testid=share-limit]").await;
                assert_eq!(note, format!("It is deleted after {n} downloads."));
            }
            _ => b.wait_hidden("[data-testid=share-limit]").await,
        }
        close_share_dialog(&b).await;
    }
    // Out of range: a clear message, nothing sent, the number field focused.
    for bad in ["0", "1001", "2.5"] {
        set_limit(&b, "text", Some(2)).await;
        b.set_value("[data-testid=text-downloads]", "other").await;
        b.type_into("[data-testid=text-downloads-n]", bad).await;
        b.screenshot("desktop-light-share-text-other-limit").await;
        b.click("[data-testid=text-submit]").await;
        b.wait_js(
            "the limit error",
            STEP,
            "document.getElementById('toasts').textContent.includes('from 1 to 1000')",
        )
        .await;
        assert_eq!(last_initiate(&b).await.2, 4, "sent with {bad}");
        assert_eq!(
            b.js("return document.activeElement.id", vec![]).await,
            json!("text-downloads-n")
        );
        b.js("document.getElementById('toasts').textContent = ''", vec![])
            .await;
    }

    // The file form too.
    let (_dir, path) = temp_file("limited.bin", &[5u8; 2000]);
    choose_file(&b, &path).await;
    set_limit(&b, "file", Some(2)).await;
    b.click("[data-testid=file-submit]").await;
    read_share_dialog(&b).await;
    assert_eq!(last_initiate(&b).await, (json!(false), json!(2), 5));
    b.close().await;
}

/// Issue 12, point 5: a text clip shared with the limit 2 waits for the click (opening it uses
/// a download), says how many opens are left, opens twice, and is gone the third time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clip_with_the_limit_2_opens_twice_and_then_is_gone() {
    let server = TestServer::start().await;
    let b = Browser::start().await;
    open_app(&b, &server.url("/")).await;
    let opts = TextOptions {
        max_downloads: Some(2),
        ..Default::default()
    };
    let shared = share_text(&b, "twice, then gone", opts).await;
    let (status, info) = clip_info(&server.base, &shared.id).await;
    assert_eq!(status, 200, "{info}");
    assert_eq!(info["maxDownloads"], json!(2), "{info}");
    assert_eq!(info["downloadsRemaining"], json!(2), "{info}");

    for left in ["can be opened 2 more times", "can be opened once more"] {
        open_app(&b, &shared.url).await;
        b.wait_visible("[data-testid=retrieve-reveal]").await;
        let line = b.text_of("[data-testid=retrieve-info-text]").await;
        assert!(line.contains(left), "{line}");
        assert_no_text_shown(&b).await; // nothing opened (or counted) before the click
        b.click("[data-testid=retrieve-reveal]").await;
        assert_eq!(retrieved_text(&b).await, "twice, then gone");
    }
    open_app(&b, &shared.url).await;
    let err = retrieve_error(&b).await;
    assert!(err.starts_with("Not found"), "{err}");
    assert_eq!(clip_info(&server.base, &shared.id).await.0, 404);

    // A file says how many downloads are left before the first.
    let url = share_file_of_limited(&b, 70_000, 5).await;
    open_app(&b, &url).await;
    b.wait_visible("[data-testid=retrieve-size]").await;
    let line = b.text_of("[data-testid=retrieve-info-text]").await;
    assert!(line.contains("5 downloads left"), "{line}");
    b.close().await;
}

/// Shares `size` bytes as a file with a download limit through the page's engine.
async fn share_file_of_limited(b: &Browser, size: usize, limit: u32) -> String {
    b.js_async(
        "const m = await import('/js/transfer.js');\
         const r = await m.shareFile(new File([new Uint8Array(args[0])], 'f.bin'), { maxDownloads: args[1] });\
         return r.url;",
        vec![json!(size), json!(limit)],
    )
    .await
    .as_str()
    .unwrap()
    .to_string()
}
