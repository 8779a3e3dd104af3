//! The layout points of issue 12, point 7, measured in the page: the share buttons are on
//! screen without scrolling on a 1280×800 laptop and a 390×844 phone (English and German,
//! also with a file chosen), and switching tabs does not move the page
//! sideways (a scrollbar that comes and goes shifted it by its width).

use super::driver::{Browser, BrowserOptions, PHONE};
use super::ui::open_app;
use super::ui_file::{choose_file, temp_file};
use crate::harness::TestServer;
use serde_json::{json, Value};

const LAPTOP: (u32, u32) = (1280, 800);

/// Where an element is on screen: `{ top, bottom, left, right, vh, vw }` in CSS pixels at the
/// current scroll position.
async fn rect(b: &Browser, css: &str) -> Value {
    b.js(
        "const r = document.querySelector(arguments[0]).getBoundingClientRect();\
         return { top: r.top, bottom: r.bottom, left: r.left, right: r.right,\
                  vh: window.innerHeight, vw: document.documentElement.clientWidth };",
        vec![json!(css)],
    )
    .await
}

/// Asserts that the element for `css` is wholly inside the viewport, the page scrolled to
/// its top.
async fn assert_on_screen(b: &Browser, css: &str, what: &str) {
    b.js("window.scrollTo(0, 0)", vec![]).await;
    let r = rect(b, css).await;
    let (top, bottom, vh) = (
        r["top"].as_f64().unwrap(),
        r["bottom"].as_f64().unwrap(),
        r["vh"].as_f64().unwrap(),
    );
    assert!(
        top >= 0.0 && bottom <= vh,
        "{what}: {css} is at {top}..{bottom} px, the window is {vh} px high"
    );
}

/// Opens the app at `size` and asserts that both share buttons are on screen, also once a
/// file is chosen (its name row and size push the button down).
async fn check_share_buttons(b: &Browser, server: &TestServer, size: (u32, u32), name: &str) {
    b.set_viewport(size.0, size.1).await;
    open_app(b, &server.url("/")).await;
    assert_on_screen(b, "#text-submit", &format!("{name}, Share Text")).await;
    b.screenshot(&format!("{name}-share-text-fold")).await;
    b.click("[data-testid=tab-file]").await;
    assert_on_screen(b, "#file-submit", &format!("{name}, Share Files")).await;
    let (_dir, file) = temp_file(
        "a rather long file name for the layout test.bin",
        &[7u8; 4096],
    );
    choose_file(b, &file).await;
    assert_on_screen(
        b,
        "#file-submit",
        &format!("{name}, Share Files, file chosen"),
    )
    .await;
    b.screenshot(&format!("{name}-share-files-fold")).await;
}

/// Regression (issue 12, point 7): "Create share link" was cut off at 1280×800 and began at
/// 828 px on a 390×844 phone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn share_buttons_are_on_screen_without_scrolling_on_a_laptop_and_a_phone() {
    let server = TestServer::start().await;
    let b = Browser::start().await;
    check_share_buttons(&b, &server, LAPTOP, "laptop").await;
    let b2 = Browser::start_with(BrowserOptions {
        size: PHONE,
        ..Default::default()
    })
    .await;
    b.close().await;
    check_share_buttons(&b2, &server, PHONE, "phone").await;
    b2.close().await;
    // German labels are longer.
    let b3 = Browser::start_with(BrowserOptions {
        size: PHONE,
        lang: Some("de".into()),
        ..Default::default()
    })
    .await;
    check_share_buttons(&b3, &server, PHONE, "phone-de").await;
    b3.close().await;
}

/// Regression (issue 12, point 7): the page moved about 7 px sideways when switching tabs,
/// as the scrollbar came and went with the panel's height.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn switching_tabs_does_not_move_the_page_sideways() {
    let server = TestServer::start().await;
    let b = Browser::start_with(BrowserOptions {
        scrollbars: true,
        ..Default::default()
    })
    .await;
    b.set_viewport(LAPTOP.0, LAPTOP.1).await;
    open_app(&b, &server.url("/")).await;
    let mut seen = Vec::new();
    for tab in [
        "tab-text",
        "tab-file",
        "tab-retrieve",
        "tab-receive",
        "tab-text",
    ] {
        b.click(&format!("[data-testid={tab}]")).await;
        let r = rect(&b, "#tabs").await;
        let scrolls = b
            .js(
                "return document.documentElement.scrollHeight > window.innerHeight",
                vec![],
            )
            .await;
        seen.push((
            tab,
            r["left"].as_f64().unwrap(),
            r["right"].as_f64().unwrap(),
            scrolls,
        ));
    }
    // The control: the panels differ in height, so a scrollbar would come and go.
    assert!(
        seen.iter().any(|s| s.3 == json!(true)) && seen.iter().any(|s| s.3 == json!(false)),
        "the test needs a tab that scrolls and one that does not at 1280×800: {seen:?}"
    );
    let (left, right) = (seen[0].1, seen[0].2);
    for s in &seen {
        assert!(
            (s.1 - left).abs() < 0.5 && (s.2 - right).abs() < 0.5,
            "the tabs moved: {seen:?}"
        );
    }
    b.close().await;
}
