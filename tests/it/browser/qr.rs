//! The browser's QR encoder (`assets/js/qr.js`) as a person's phone would meet it: the SVG it
//! makes for a long share link is rendered in Chromium, screenshotted, and decoded back with
//! zbarimg (Debian package zbar-tools).

use super::driver::{zbarimg, Browser};
use crate::harness::TestServer;
use serde_json::json;

/// Renders `text` as the page's only content through qr.js's SVG, and returns the decoded
/// texts of a screenshot of it.
async fn render_and_decode(b: &Browser, text: &str, ecc: &str, name: &str) -> Vec<String> {
    let version = b
        .js_async(
            "const [text, ecc] = args;\
             const { encodeQr, qrToSvg } = await import('/js/qr.js');\
             const qr = encodeQr(text, { ecc });\
             const box = document.createElement('div');\
             box.id = 'qr-under-test';\
             box.innerHTML = qrToSvg(qr, { margin: 4, scale: 6 });\
             box.style.display = 'inline-block';\
             box.style.lineHeight = '0';\
             document.body.replaceChildren(box);\
             document.body.style.margin = '0';\
             return qr.version;",
            vec![json!(text), json!(ecc)],
        )
        .await;
    assert!(version.as_u64().unwrap() >= 1, "{version}");
    let png = b.screenshot_element("#qr-under-test", name).await;
    zbarimg(&png)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn qr_svg_of_a_long_share_link_decodes_back_with_zbarimg() {
    let server = TestServer::start().await;
    let b = Browser::start().await;
    b.goto(&server.url("/")).await;
    // A real-shaped link: 10-character ID and a 43-character base64url secret.
    let link = server.url("/clip/K7Q2M9X4PZ#Zm9vYmFyLWJhei1xdXV4LTAxMjM0NTY3ODktX2FiY2RlZmdo");
    assert_eq!(
        render_and_decode(&b, &link, "M", "qr-share-link").await,
        vec![link.clone()]
    );
    // A longer one (a file link with a name), at the lowest and highest correction levels.
    let long = format!(
        "{}/file/K7Q2M9X4PZ#{}",
        server.base,
        "AbC-_09xYz".repeat(30)
    );
    for ecc in ["L", "H"] {
        let got = render_and_decode(&b, &long, ecc, &format!("qr-long-link-{ecc}")).await;
        assert_eq!(got, vec![long.clone()], "ecc {ecc}");
    }
    b.close().await;
}
