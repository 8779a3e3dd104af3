//! Steps of the app page (`assets/index.html`) that several browser tests share: open the
//! app and wait until it is ready, share text through the Share Text tab, read the "link is
//! ready" dialog, and open a link in a second tab. Selectors are the page's `data-testid`s.

use super::driver::{Browser, BrowserOptions};
use crate::harness::{Answer, TestServer};
use serde_json::{json, Value};
use std::time::Duration;

/// A name for the server that is not a secure context, like a LAN address over plain HTTP:
/// `http://qopy.test:PORT`, mapped to 127.0.0.1 by [`lan_browser`].
pub const LAN_HOST: &str = "qopy.test";

/// A server that answers to `qopy.test` (not one of its own names, so it must be listed in
/// `allowed_hosts`, as on a LAN whose DNS gives the server a name).
pub async fn lan_server() -> TestServer {
    TestServer::start_with(|c| c.allowed_hosts = vec![LAN_HOST.into()]).await
}

/// A browser that resolves `qopy.test` to 127.0.0.1.
pub async fn lan_browser() -> Browser {
    Browser::start_with(lan_options()).await
}

/// Two browsers at once that resolve `qopy.test` to 127.0.0.1 (see [`Browser::pair`]).
pub async fn lan_browsers() -> (Browser, Browser) {
    Browser::pair_with(lan_options(), lan_options()).await
}

fn lan_options() -> BrowserOptions {
    BrowserOptions {
        loopback_hosts: vec![LAN_HOST.into()],
        ..Default::default()
    }
}

/// The two origins of one server: (`http://qopy.test:PORT`, the fallback;
/// `http://127.0.0.1:PORT`, WebCrypto).
pub fn origins(server: &TestServer) -> (String, String) {
    let port = server.base.rsplit(':').next().unwrap().to_string();
    (
        format!("http://{LAN_HOST}:{port}"),
        format!("http://127.0.0.1:{port}"),
    )
}

/// Long enough for a 600,000-iteration PBKDF2 on a busy 2-core machine.
pub const STEP: Duration = Duration::from_secs(60);

/// What the share dialog shows.
#[derive(Debug, Clone)]
pub struct Shared {
    /// The share link (`.../clip/ID#secret`).
    pub url: String,
    /// The clip ID (from the link).
    pub id: String,
    /// The Quick Share verbal code (`ID · SECRET`), if shown.
    pub verbal: Option<String>,
}

/// How to share text.
#[derive(Debug, Default, Clone)]
pub struct TextOptions<'a> {
    /// "Once, then deleted" in the "Can be opened" choice.
    pub one_time: bool,
    /// Another download limit (ignored when `one_time`).
    pub max_downloads: Option<u32>,
    pub quick: bool,
    pub code: Option<&'a str>,
}

impl<'a> TextOptions<'a> {
    /// A Quick Share (short ID, verbal code).
    pub fn quick() -> TextOptions<'a> {
        TextOptions {
            quick: true,
            ..Default::default()
        }
    }

    /// A one-time clip.
    pub fn one_time() -> TextOptions<'a> {
        TextOptions {
            one_time: true,
            ..Default::default()
        }
    }

    /// A clip behind an access code.
    pub fn code(code: &'a str) -> TextOptions<'a> {
        TextOptions {
            code: Some(code),
            ..Default::default()
        }
    }
}

/// Asserts that the Retrieve tab shows no text (nothing was opened).
pub async fn assert_no_text_shown(b: &Browser) {
    let shown = b
        .find("[data-testid=retrieve-result-text]")
        .await
        .is_displayed()
        .await
        .unwrap();
    assert!(!shown, "the Retrieve tab shows a text");
}

/// Opens `url` and waits until the app has finished starting (`html[data-ready]`). The same
/// URL as now is reloaded (navigating to an identical URL with a fragment would not load
/// the page again).
pub async fn open_app(b: &Browser, url: &str) {
    let _ = b
        .client
        .execute("delete document.documentElement.dataset.ready", vec![])
        .await;
    let now = b
        .client
        .current_url()
        .await
        .map(|u| u.to_string())
        .unwrap_or_default();
    if now == url {
        b.client.refresh().await.expect("reload");
    } else {
        b.goto(url).await;
    }
    b.wait_js(
        "the app to be ready",
        STEP,
        "document.documentElement.dataset.ready === 'true'",
    )
    .await;
}

/// Shares `text` through the Share Text tab and returns what the dialog shows.
pub async fn share_text(b: &Browser, text: &str, opts: TextOptions<'_>) -> Shared {
    b.click("[data-testid=tab-text]").await;
    b.set_value("[data-testid=text-input]", text).await;
    let limit = if opts.one_time {
        Some(1)
    } else {
        opts.max_downloads
    };
    set_limit(b, "text", limit).await;
    set_checked(b, "[data-testid=text-quick]", opts.quick).await;
    if let Some(code) = opts.code {
        b.type_into("[data-testid=text-code]", code).await;
    }
    b.click("[data-testid=text-submit]").await;
    read_share_dialog(b).await
}

/// Waits for the "link is ready" dialog and reads it.
pub async fn read_share_dialog(b: &Browser) -> Shared {
    let v = b
        .wait_js(
            "the share dialog",
            STEP,
            "(() => { const d = document.getElementById('share-modal');\
               const u = document.getElementById('share-url');\
               if (!d.open || !u.value) return null;\
               const q = document.getElementById('share-quick');\
               return { url: u.value, verbal: q.hidden ? null : document.getElementById('share-verbal').value }; })()",
        )
        .await;
    let url = v["url"].as_str().unwrap().to_string();
    let id = url
        .split('#')
        .next()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .to_string();
    Shared {
        url,
        id,
        verbal: v["verbal"].as_str().map(|s| s.to_string()),
    }
}

/// Closes the share dialog with its Done button.
pub async fn close_share_dialog(b: &Browser) {
    b.click("[data-testid=modal-done]").await;
    b.wait_js(
        "the share dialog to close",
        STEP,
        "!document.getElementById('share-modal').open",
    )
    .await;
}

/// Chooses a download limit in the share form `form` (`text` or `file`): `None` for any
/// number of times, a preset when there is one, else "Another number…" and the number typed.
pub async fn set_limit(b: &Browser, form: &str, limit: Option<u32>) {
    let select = format!("[data-testid={form}-downloads]");
    let value = limit.map(|n| n.to_string()).unwrap_or_default();
    let preset = b
        .js(
            "return [...document.querySelector(arguments[0]).options].some((o) => o.value === arguments[1])",
            vec![json!(select), json!(value)],
        )
        .await;
    let choice = if preset == json!(true) {
        value.clone()
    } else {
        "other".into()
    };
    b.set_value(&select, &choice).await;
    if choice == "other" {
        b.type_into(&format!("[data-testid={form}-downloads-n]"), &value)
            .await;
    }
}

/// Ticks or unticks a checkbox by clicking it (as a person would).
pub async fn set_checked(b: &Browser, css: &str, on: bool) {
    let now = b
        .js(
            "return document.querySelector(arguments[0]).checked",
            vec![json!(css)],
        )
        .await;
    if now != json!(on) {
        b.click(css).await;
    }
}

/// Opens a second tab, switches to it, and returns the first tab's handle.
pub async fn second_tab(b: &Browser) -> fantoccini::wd::WindowHandle {
    let first = b.client.window().await.unwrap();
    let w = b.client.new_window(true).await.unwrap();
    b.client.switch_to_window(w.handle).await.unwrap();
    first
}

/// Waits for the retrieved text and returns it exactly (no trimming).
pub async fn retrieved_text(b: &Browser) -> String {
    b.wait_visible("[data-testid=retrieve-result-text]").await;
    b.js(
        "return document.querySelector('[data-testid=retrieve-text]').textContent",
        vec![],
    )
    .await
    .as_str()
    .unwrap()
    .to_string()
}

/// Waits for the Retrieve tab's error line and returns its text.
pub async fn retrieve_error(b: &Browser) -> String {
    b.wait_visible("[data-testid=retrieve-error]").await;
    b.text_of("[data-testid=retrieve-error]").await
}

/// `GET /api/clip/:id/info` from the test (never consumes): (status, JSON).
pub async fn clip_info(base: &str, id: &str) -> (u16, Value) {
    let r = reqwest::Client::builder()
        .no_proxy()
        .build()
        .unwrap()
        .get(format!("{base}/api/clip/{id}/info"))
        .answer()
        .await;
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}
