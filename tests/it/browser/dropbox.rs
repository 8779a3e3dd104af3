//! Drop boxes in the browser: two Chromium sessions, a receiver (the Receive tab) and a
//! sender (the page `/drop/ID#FP`), against one server. Text, three files and a 100 MiB file
//! arrive and are saved byte for byte; an upload cut by a server restart resumes; a receiver
//! that closed its page finds everything when it comes back; the fallback crypto (a
//! plain-HTTP name) and WebCrypto (loopback) send to each other; a key that is not the
//! link's is refused; and the command line (`qopy send --to`, `qopy receive`) works with the
//! pages both ways.

use super::driver::Browser;
use super::ui::{lan_browser, lan_server, open_app, origins, STEP};
use super::ui_file::{sha256_hex, temp_file};
use crate::cli::User;
use crate::harness::{free_port, test_bytes, Answer, TestServer};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader};

const BIG: Duration = Duration::from_secs(300);

/// What the receiver's page shows of a box it opened.
#[derive(Debug, Clone)]
struct Shown {
    id: String,
    /// The link with the fingerprint (`…/drop/ID#FP`), as in the QR code.
    link: String,
    /// The fingerprint's display form.
    fp: String,
    /// The short code as shown (ABCD-EFGH).
    code: String,
}

/// Opens the Receive tab on `origin` and opens a drop box there.
async fn open_box(rx: &Browser, origin: &str) -> Shown {
    open_app(rx, &format!("{origin}/")).await;
    rx.click("[data-testid=tab-receive]").await;
    let before = rx
        .js(
            "return document.querySelectorAll('[data-testid=dropbox]').length",
            vec![],
        )
        .await;
    rx.click("[data-testid=receive-open]").await;
    let v = rx
        .wait_js(
            "the new drop box",
            STEP,
            &format!(
                "(() => {{ const c = document.querySelectorAll('[data-testid=dropbox]');\
                   if (c.length <= {before}) return null;\
                   const b = c[0], q = (t) => b.querySelector(`[data-testid=${{t}}]`);\
                   if (!q('box-link').value.includes('#') || !q('box-qr').src) return null;\
                   return {{ id: b.dataset.box, link: q('box-link').value, fp: q('box-fp').textContent,\
                            code: q('box-code').textContent }}; }})()"
            ),
        )
        .await;
    let s = |k: &str| v[k].as_str().unwrap().to_string();
    Shown {
        id: s("id"),
        link: s("link"),
        fp: s("fp"),
        code: s("code"),
    }
}

/// Opens the sender page at `link` and waits until its key check is done: its state
/// (`checked`, `compare`, `mismatch`, ...) and the fingerprint it shows.
async fn open_sender(tx: &Browser, link: &str) -> (String, String) {
    open_app(tx, link).await;
    let v = tx
        .wait_js(
            "the key check",
            STEP,
            "(() => { const k = document.getElementById('drop-key');\
               if (!k.dataset.state || k.dataset.state === 'loading') return null;\
               return { state: k.dataset.state, fp: document.getElementById('drop-fp').textContent }; })()",
        )
        .await;
    (
        v["state"].as_str().unwrap().to_string(),
        v["fp"].as_str().unwrap().to_string(),
    )
}

/// On an open sender page: chooses `files` and types `text`, sends, and waits until every
/// item says delivered.
async fn send_items(tx: &Browser, files: &[&Path], text: Option<&str>, timeout: Duration) {
    if !files.is_empty() {
        let list: Vec<String> = files.iter().map(|p| p.display().to_string()).collect();
        tx.find("[data-testid=drop-files]")
            .await
            .send_keys(&list.join("\n"))
            .await
            .expect("choose the files");
    }
    if let Some(text) = text {
        tx.set_value("[data-testid=drop-text]", text).await;
    }
    let before = tx
        .js(
            "return document.querySelectorAll('[data-testid=sent-item]').length",
            vec![],
        )
        .await
        .as_u64()
        .unwrap();
    let n = files.len() as u64 + u64::from(text.is_some()) + before;
    tx.click("[data-testid=drop-submit]").await;
    let states = tx
        .wait_js(
            "every item sent",
            timeout,
            &format!(
                "(() => {{ const r = [...document.querySelectorAll('[data-testid=sent-item]')];\
                   if (r.length < {n} || r.some((e) => e.dataset.state === 'sending')) return null;\
                   return r.map((e) => [e.dataset.state, e.textContent]); }})()"
            ),
        )
        .await;
    for s in states.as_array().unwrap() {
        assert_eq!(s[0], json!("delivered"), "{states}");
    }
}

/// Waits until box `id` on the receiver's page lists `n` items whose names are known (or
/// that are opened texts), and returns [(clip id, name, state, text or null)].
async fn arrivals(rx: &Browser, id: &str, n: usize) -> Vec<(String, String, String, Value)> {
    let v = rx
        .wait_js(
            &format!("{n} arrivals"),
            BIG,
            &format!(
                "(() => {{ const rows = [...document.querySelectorAll('[data-box=\"{id}\"] [data-testid=drop-item]')];\
                   if (rows.length < {n}) return null;\
                   const out = rows.map((r) => {{ const t = r.querySelector('[data-testid=item-text]');\
                     return [r.dataset.clip, r.querySelector('[data-testid=item-name]').textContent, r.dataset.state,\
                             t ? t.textContent : null]; }});\
                   if (out.some((o) => o[2] === 'opening' || o[2] === 'busy')) return null;\
                   return out; }})()"
            ),
        )
        .await;
    v.as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r[0].as_str().unwrap().to_string(),
                r[1].as_str().unwrap().to_string(),
                r[2].as_str().unwrap().to_string(),
                r[3].clone(),
            )
        })
        .collect()
}

/// Clicks Save on the item named `name` of box `id` (the save picker is not offered, as in
/// Firefox: the page streams or hands over a download), waits for the file and for the
/// item to say it was saved and deleted. Returns the saved file's bytes; the file is removed.
async fn save(rx: &Browser, id: &str, name: &str) -> Vec<u8> {
    let items = arrivals(rx, id, 1).await;
    let (clip, _, _, _) = items
        .iter()
        .find(|(_, n, _, _)| n == name)
        .unwrap_or_else(|| panic!("no arrival named {name}: {items:?}"));
    rx.js("window.showSaveFilePicker = undefined;", vec![]).await;
    let row = format!("[data-box=\"{id}\"] [data-clip=\"{clip}\"]");
    rx.click(&format!("{row} [data-testid=item-save]")).await;
    let path = rx.wait_download(BIG).await;
    assert_eq!(path.file_name().unwrap().to_string_lossy(), name);
    rx.wait_js(
        "the item saved and deleted from the box",
        BIG,
        &format!("document.querySelector('{row}').dataset.state === 'saved'"),
    )
    .await;
    let bytes = std::fs::read(&path).unwrap();
    std::fs::remove_file(&path).unwrap();
    bytes
}

/// `GET /api/dropbox/:id` from the test: (status, JSON).
async fn box_info(base: &str, id: &str) -> (u16, Value) {
    reqwest::Client::builder()
        .no_proxy()
        .build()
        .unwrap()
        .get(format!("{base}/api/dropbox/{id}"))
        .json_answer()
        .await
}

/// The sender's remembered boxes (localStorage `qopy.recentDropboxes`).
async fn recent(tx: &Browser) -> Value {
    let s = tx
        .js(
            "return localStorage.getItem('qopy.recentDropboxes')",
            vec![],
        )
        .await;
    serde_json::from_str(s.as_str().unwrap_or("null")).unwrap()
}

const TEXT: &str = "  from the phone ✓ Grüße 🔐\n\tsecond line  \n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn text_and_three_files_go_from_the_sender_page_to_the_receive_tab() {
    let server = TestServer::start().await;
    let files: Vec<(String, Vec<u8>)> = vec![
        ("photo.jpg".into(), test_bytes(3 * 1024 * 1024 + 11, 1)),
        ("notes – Größe.txt".into(), test_bytes(70_000, 2)),
        ("tiny.bin".into(), vec![7u8]),
    ];
    let dir = tempfile::tempdir().unwrap();
    let paths: Vec<PathBuf> = files
        .iter()
        .map(|(n, d)| {
            let p = dir.path().join(n);
            std::fs::write(&p, d).unwrap();
            p
        })
        .collect();

    let rx = Browser::start().await;
    let shown = open_box(&rx, &server.base).await;
    assert!(
        shown.link.starts_with(&server.url(&format!("/drop/{}#", shown.id))),
        "{shown:?}"
    );
    assert_eq!(shown.code, format!("{}-{}", &shown.id[..4], &shown.id[4..]));
    assert_eq!(shown.fp.len(), 24, "{shown:?}");
    rx.screenshot("desktop-light-receive-box").await;

    let tx = Browser::start().await;
    let (state, fp) = open_sender(&tx, &shown.link).await;
    assert_eq!((state.as_str(), fp.as_str()), ("checked", shown.fp.as_str()));
    let refs: Vec<&Path> = paths.iter().map(|p| p.as_path()).collect();
    send_items(&tx, &refs, Some(TEXT), BIG).await;
    tx.screenshot("desktop-light-drop-sender-delivered").await;
    let r = recent(&tx).await;
    assert_eq!(r.as_array().unwrap().len(), 1, "{r}");
    assert_eq!(r[0]["id"], json!(shown.id));
    assert_eq!(r[0]["fingerprint"], json!(shown.fp));
    assert_eq!(
        r[0]["fpLink"].as_str(),
        shown.link.split('#').nth(1),
        "{r}"
    );
    assert_eq!(r[0]["url"], json!(server.url(&format!("/drop/{}", shown.id))));
    assert!(r[0]["usedAt"].as_u64().unwrap() > 0);

    // The receiver's tab lists four arrivals: the text opened in place, the files by name.
    let items = arrivals(&rx, &shown.id, 4).await;
    let text = items
        .iter()
        .find(|i| !i.3.is_null())
        .expect("the text is shown");
    assert_eq!(text.3, json!(TEXT));
    for (name, _) in &files {
        assert!(items.iter().any(|i| &i.1 == name), "{name}: {items:?}");
    }
    rx.screenshot("desktop-light-receive-arrivals").await;
    for (name, data) in &files {
        let got = save(&rx, &shown.id, name).await;
        assert_eq!(sha256_hex(&got), sha256_hex(data), "{name}");
    }
    // Saved files were deleted from the box; the text is still there.
    let (status, info) = box_info(&server.base, &shown.id).await;
    assert_eq!(status, 200);
    assert_eq!(info["items"], json!(1), "{info}");
    let problems = rx.console_problems().await;
    assert!(problems.is_empty(), "{problems:#?}");
    let problems = tx.console_problems().await;
    assert!(problems.is_empty(), "{problems:#?}");
    rx.close().await;
    tx.close().await;
}
