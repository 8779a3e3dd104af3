//! Every page loads with a clean console: no errors and no Content-Security-Policy
//! violations (the server's CSP allows no inline code). A positive control proves that a
//! violation would be seen. Then the looks: dark theme (from the system and from the
//! switch), German texts, phone width, with screenshots of the main screens.

use super::driver::{Browser, BrowserOptions, PHONE};
use super::ui::{lan_browser, lan_server, open_app, origins, share_text, TextOptions, STEP};
use crate::harness::TestServer;
use serde_json::{json, Value};
use std::time::Duration;

async fn wait_loaded(b: &Browser) {
    b.wait_js(
        "the page to load",
        STEP,
        "document.readyState === 'complete' && !!document.documentElement.lang",
    )
    .await;
}

/// Shares `text`, takes the screenshot `shot` of the share dialog and closes it.
async fn share_and_screenshot(b: &Browser, text: &str, shot: &str) {
    let shared = share_text(b, text, TextOptions::default()).await;
    assert!(shared.url.contains("/clip/"));
    b.screenshot(shot).await;
    b.js("document.getElementById('share-modal').close()", vec![])
        .await;
}

/// The theme the page shows (`html[data-theme-effective]`).
async fn effective_theme(b: &Browser) -> Value {
    b.js(
        "return document.documentElement.dataset.themeEffective",
        vec![],
    )
    .await
}

/// Asserts that nothing on the page is wider than the window (a phone's screen).
async fn assert_fits_the_width(b: &Browser) {
    let overflow = b
        .js(
            "return document.documentElement.scrollWidth - window.innerWidth",
            vec![],
        )
        .await;
    assert!(
        overflow.as_i64().unwrap() <= 0,
        "page wider than a phone by {overflow} px"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_load_without_console_errors_or_csp_violations() {
    let server = TestServer::start().await;
    let b = Browser::start().await;
    open_app(&b, &server.url("/")).await;
    // The Share Files, Retrieve and Receive tabs too (their images and modules load on show).
    for tab in ["tab-file", "tab-retrieve", "tab-receive", "tab-text"] {
        b.click(&format!("[data-testid={tab}]")).await;
    }
    let problems = b.console_problems().await;
    assert!(problems.is_empty(), "/: {problems:#?}");
    for path in ["/privacy.html", "/admin"] {
        b.goto(&server.url(path)).await;
        wait_loaded(&b).await;
        let problems = b.console_problems().await;
        assert!(problems.is_empty(), "{path}: {problems:#?}");
    }

    // Positive control: an inline script is refused by the CSP and the refusal is logged.
    b.goto(&server.url("/")).await;
    wait_loaded(&b).await;
    b.console().await;
    b.js(
        "const s = document.createElement('script'); s.textContent = 'window.__inline = 1'; document.head.append(s);",
        vec![],
    )
    .await;
    b.wait_for(
        "the CSP refusal in the console",
        Duration::from_secs(10),
        || async {
            let log = b.console().await;
            log.iter()
                .any(|e| e.message.contains("Content Security Policy"))
                .then_some(())
        },
    )
    .await;
    assert_eq!(
        b.js("return window.__inline === undefined", vec![]).await,
        json!(true)
    );
    b.close().await;
}

/// Regression (issue 12, point 7): on a plain-HTTP LAN address every page logged a console
/// error, Chromium ignoring the server's Cross-Origin-Opener-Policy on an origin that is not
/// potentially trustworthy. The server now sends it only where it applies.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_http_lan_pages_load_without_console_errors() {
    let server = lan_server().await;
    let (lan, _) = origins(&server);
    let b = lan_browser().await;
    open_app(&b, &format!("{lan}/")).await;
    assert_eq!(
        b.js("return window.isSecureContext", vec![]).await,
        json!(false),
        "the LAN origin must not be a secure context for this test to mean anything"
    );
    for tab in ["tab-file", "tab-retrieve", "tab-receive", "tab-text"] {
        b.click(&format!("[data-testid={tab}]")).await;
    }
    let shared = share_text(&b, "from the LAN", TextOptions::default()).await;
    b.goto(&shared.url).await;
    b.wait_visible("[data-testid=retrieve-result-text]").await;
    let problems = b.console_problems().await;
    assert!(problems.is_empty(), "{lan}/: {problems:#?}");
    for path in ["/privacy.html", "/admin"] {
        b.goto(&format!("{lan}{path}")).await;
        wait_loaded(&b).await;
        let problems = b.console_problems().await;
        assert!(problems.is_empty(), "{lan}{path}: {problems:#?}");
    }
    b.close().await;
}

/// The relative luminance (0 = black, 1 = white) of an element's computed background.
async fn background_luminance(b: &Browser, css: &str) -> f64 {
    let v = b
        .js(
            "const c = getComputedStyle(document.querySelector(arguments[0])).backgroundColor;\
             const m = c.match(/[\\d.]+/g).map(Number);\
             const f = (x) => { x /= 255; return x <= 0.03928 ? x / 12.92 : ((x + 0.055) / 1.055) ** 2.4; };\
             return 0.2126 * f(m[0]) + 0.7152 * f(m[1]) + 0.0722 * f(m[2]);",
            vec![json!(css)],
        )
        .await;
    v.as_f64().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dark_system_theme_and_german_browser_get_a_dark_german_page() {
    let server = TestServer::start().await;
    let b = Browser::start_with(BrowserOptions {
        lang: Some("de".into()),
        dark: true,
        ..Default::default()
    })
    .await;
    open_app(&b, &server.url("/")).await;
    assert_eq!(
        b.js(
            "return matchMedia('(prefers-color-scheme: dark)').matches",
            vec![]
        )
        .await,
        json!(true)
    );
    assert_eq!(
        b.js("return document.documentElement.lang", vec![]).await,
        json!("de")
    );
    assert_eq!(b.text_of("[data-testid=tab-text]").await, "Text teilen");
    assert_eq!(b.text_of("[data-testid=tab-file]").await, "Dateien teilen");
    assert_eq!(b.text_of("[data-testid=tab-retrieve]").await, "Abrufen");
    assert_eq!(b.text_of("[data-testid=tab-receive]").await, "Empfangen");
    assert_eq!(b.text_of("#text-submit .btn-label").await, "Link erstellen");
    assert_eq!(effective_theme(&b).await, json!("dark"));
    let lum = background_luminance(&b, "body").await;
    assert!(
        lum < 0.1,
        "the dark theme's background is not dark: luminance {lum}"
    );
    b.screenshot("desktop-dark-de-share-text").await;
    share_and_screenshot(&b, "Hallo Welt", "desktop-dark-de-share-dialog").await;

    // The language switch gives English; the choice sticks across a reload.
    b.click("[data-testid=lang-toggle]").await;
    assert_eq!(b.text_of("[data-testid=tab-text]").await, "Share Text");
    open_app(&b, &server.url("/")).await;
    assert_eq!(b.text_of("[data-testid=tab-text]").await, "Share Text");
    b.screenshot("desktop-dark-share-text").await;

    // Phone width: nothing wider than the screen.
    b.set_viewport(PHONE.0, PHONE.1).await;
    open_app(&b, &server.url("/")).await;
    assert_fits_the_width(&b).await;
    b.screenshot("phone-dark-share-text").await;
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn theme_switch_turns_a_light_page_dark_and_phone_layout_fits() {
    let server = TestServer::start().await;
    let b = Browser::start_with(BrowserOptions {
        size: PHONE,
        ..Default::default()
    })
    .await;
    open_app(&b, &server.url("/")).await;
    assert_eq!(b.text_of("[data-testid=tab-text]").await, "Share Text");
    assert_eq!(effective_theme(&b).await, json!("light"));
    let light = background_luminance(&b, "body").await;
    assert!(
        light > 0.5,
        "the light theme's background is not light: {light}"
    );
    assert_fits_the_width(&b).await;
    b.screenshot("phone-light-share-text").await;
    share_and_screenshot(&b, "  from a phone  ", "phone-light-share-dialog").await;
    b.click("[data-testid=tab-file]").await;
    b.screenshot("phone-light-share-files").await;
    b.click("[data-testid=tab-retrieve]").await;
    b.screenshot("phone-light-retrieve").await;
    // The Receive tab with an open drop box (its QR code, code and fingerprint) fits too.
    b.click("[data-testid=tab-receive]").await;
    b.click("[data-testid=receive-open]").await;
    b.wait_visible("[data-testid=box-qr]").await;
    assert_fits_the_width(&b).await;
    b.screenshot("phone-light-receive-box").await;

    b.click("[data-testid=theme-toggle]").await;
    b.wait_js(
        "the dark theme",
        STEP,
        "document.documentElement.dataset.themeEffective === 'dark'",
    )
    .await;
    // The switch is remembered.
    open_app(&b, &server.url("/")).await;
    assert_eq!(effective_theme(&b).await, json!("dark"));
    let dark = background_luminance(&b, "body").await;
    assert!(dark < 0.1, "switched to dark, but the background is {dark}");
    b.close().await;
}
