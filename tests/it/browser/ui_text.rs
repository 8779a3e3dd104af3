//! Text clips through the real UI: a round trip that keeps Unicode and leading and trailing
//! whitespace, opened from the link in a second tab; the success dialog's QR code decoded
//! back to the link; Quick Share by verbal code; an access code (wrong refused, right opens);
//! a one-time clip that nothing consumes before the Reveal click and that is gone after it.

use super::driver::{zbarimg, Browser};
use super::ui::{
    assert_no_text_shown, clip_info, close_share_dialog, lan_browser, lan_server, open_app,
    origins, retrieve_error, retrieved_text, second_tab, share_text, TextOptions, STEP,
};
use crate::harness::TestServer;

/// Unicode of every width (a non-BMP emoji included), a tab, newlines, and spaces at both
/// ends that must survive.
const TEXT: &str = "   Grüße aus Köln! 世界 🔐🦀 café\n\tzweite Zeile — “quoted” \u{00a0}end  \n  ";

/// A server, and a browser with the app open on it.
async fn app() -> (TestServer, Browser) {
    let server = TestServer::start().await;
    let b = Browser::start().await;
    open_app(&b, &server.url("/")).await;
    (server, b)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn text_round_trip_keeps_unicode_and_whitespace_and_its_qr_decodes_to_the_link() {
    let (server, b) = app().await;
    b.screenshot("desktop-light-share-text").await;
    let shared = share_text(&b, TEXT, TextOptions::default()).await;
    assert!(
        shared.url.starts_with(&server.url("/clip/")) && shared.url.contains('#'),
        "{shared:?}"
    );
    assert_eq!(shared.id.len(), 10, "{shared:?}");
    b.screenshot("desktop-light-share-dialog").await;

    // The dialog's QR code, as a phone camera would see it.
    b.wait_js(
        "the QR image to load",
        STEP,
        "(() => { const i = document.getElementById('share-qr'); return i.complete && i.naturalWidth > 0 && !i.hidden; })()",
    )
    .await;
    let png = b.screenshot_element("#share-qr", "share-dialog-qr").await;
    assert_eq!(zbarimg(&png), vec![shared.url.clone()], "QR of the dialog");

    // The server holds ciphertext only: the text is nowhere in the stored clip.
    let (status, info) = clip_info(&server.base, &shared.id).await;
    assert_eq!(status, 200, "{info}");
    close_share_dialog(&b).await;

    // Opened from the link in a second tab: exactly the same characters.
    second_tab(&b).await;
    open_app(&b, &shared.url).await;
    assert_eq!(retrieved_text(&b).await, TEXT);
    b.screenshot("desktop-light-retrieved-text").await;
    assert!(
        b.console_problems().await.is_empty(),
        "{:#?}",
        b.console_problems().await
    );
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quick_share_opens_by_its_verbal_code_on_a_second_page() {
    let (server, b) = app().await;
    let text = "  quick share ✓ Grüße  ";
    let shared = share_text(&b, text, TextOptions::quick()).await;
    let verbal = shared.verbal.clone().expect("a verbal code in the dialog");
    let (id, secret) = verbal.split_once(" · ").expect("ID · SECRET");
    assert_eq!(id.len(), 6, "{verbal}");
    assert_eq!(secret.len(), 6, "{verbal}");
    assert!(verbal
        .chars()
        .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || " ·".contains(c)));
    assert_eq!(id, shared.id);
    let (status, info) = clip_info(&server.base, id).await;
    assert_eq!(status, 200);
    assert_eq!(info["quickShare"], true, "{info}");
    b.screenshot("desktop-light-quick-share-dialog").await;
    close_share_dialog(&b).await;

    // Someone hears the code and types it into Retrieve on another page.
    second_tab(&b).await;
    open_app(&b, &server.url("/")).await;
    b.click("[data-testid=tab-retrieve]").await;
    b.set_value("[data-testid=retrieve-id]", &verbal).await;
    b.click("[data-testid=retrieve-submit]").await;
    assert_eq!(retrieved_text(&b).await, text);
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn access_code_clip_refuses_a_wrong_code_and_opens_with_the_right_one() {
    let (server, b) = app().await;
    let text = "behind a code ✓";
    let shared = share_text(&b, text, TextOptions::code("right-code-42")).await;
    let (status, info) = clip_info(&server.base, &shared.id).await;
    assert_eq!(status, 200);
    assert_eq!(info["hasPassword"], true, "{info}");
    close_share_dialog(&b).await;

    second_tab(&b).await;
    open_app(&b, &shared.url).await;
    b.wait_visible("[data-testid=retrieve-code]").await;
    assert_no_text_shown(&b).await;
    b.type_into("[data-testid=retrieve-code]", "wrong-code-41")
        .await;
    b.click("[data-testid=retrieve-submit]").await;
    let err = retrieve_error(&b).await;
    assert!(!err.is_empty());
    assert_no_text_shown(&b).await;
    b.screenshot("desktop-light-wrong-access-code").await;
    // A refused code consumes nothing.
    assert_eq!(clip_info(&server.base, &shared.id).await.0, 200);

    b.type_into("[data-testid=retrieve-code]", "right-code-42")
        .await;
    b.click("[data-testid=retrieve-submit]").await;
    assert_eq!(retrieved_text(&b).await, text);
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_time_clip_is_consumed_only_by_the_reveal_click_and_then_gone() {
    let (server, b) = app().await;
    let text = " read me once ";
    let shared = share_text(&b, text, TextOptions::one_time()).await;
    close_share_dialog(&b).await;

    second_tab(&b).await;
    open_app(&b, &shared.url).await;
    b.wait_visible("[data-testid=retrieve-reveal]").await;
    b.wait_visible("[data-testid=retrieve-onetime]").await;
    b.screenshot("desktop-light-one-time-reveal").await;
    // Opening the link consumed nothing, and shows nothing yet.
    let (status, info) = clip_info(&server.base, &shared.id).await;
    assert_eq!(
        status, 200,
        "the link alone consumed the one-time clip: {info}"
    );
    assert_eq!(info["oneTime"], true, "{info}");
    assert_no_text_shown(&b).await;
    // A reload (a link preview, a second look) consumes nothing either.
    open_app(&b, &shared.url).await;
    b.wait_visible("[data-testid=retrieve-reveal]").await;
    assert_eq!(clip_info(&server.base, &shared.id).await.0, 200);

    b.click("[data-testid=retrieve-reveal]").await;
    assert_eq!(retrieved_text(&b).await, text);
    b.wait_hidden("[data-testid=retrieve-reveal]").await;
    let (status, _) = clip_info(&server.base, &shared.id).await;
    assert_eq!(
        status, 404,
        "the one-time clip is still there after it was read"
    );
    // The link again: gone.
    open_app(&b, &shared.url).await;
    let err = retrieve_error(&b).await;
    assert!(!err.is_empty());
    assert_no_text_shown(&b).await;
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn text_round_trip_on_a_plain_http_lan_origin_uses_the_fallback_crypto() {
    // `http://qopy.test:PORT` (mapped to 127.0.0.1) is not a secure context, like a LAN
    // address: no crypto.subtle, so the page must use its own crypto, and says so.
    let server = lan_server().await;
    let (origin, _) = origins(&server);
    let b = lan_browser().await;
    open_app(&b, &format!("{origin}/")).await;
    assert_eq!(
        b.js(
            "return window.isSecureContext || !!(window.crypto && crypto.subtle)",
            vec![]
        )
        .await,
        serde_json::json!(false)
    );
    b.wait_visible("[data-testid=insecure-notice]").await;
    let shared = share_text(&b, TEXT, TextOptions::code("lan-code")).await;
    assert!(
        shared.url.starts_with(&format!("{origin}/clip/")),
        "{shared:?}"
    );
    b.screenshot("desktop-light-insecure-origin-dialog").await;
    close_share_dialog(&b).await;
    second_tab(&b).await;
    open_app(&b, &shared.url).await;
    b.type_into("[data-testid=retrieve-code]", "lan-code").await;
    b.click("[data-testid=retrieve-submit]").await;
    assert_eq!(retrieved_text(&b).await, TEXT);
    b.close().await;
}
