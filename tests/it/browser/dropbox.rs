//! Drop boxes in the browser: two Chromium sessions, a receiver (the Receive tab) and a
//! sender (the page `/drop/ID#FP`), against one server. Text, three files and a 100 MiB file
//! arrive and are saved byte for byte; an upload cut by a server restart resumes; a receiver
//! that closed its page finds everything when it comes back; the fallback crypto (a
//! plain-HTTP name) and WebCrypto (loopback) send to each other; a key that is not the
//! link's is refused; and the command line (`qopy send --to`, `qopy receive`) works with the
//! pages both ways.

use super::driver::Browser;
use super::ui::{lan_browsers, lan_server, open_app, origins, STEP};
use super::ui_file::{saved_upload_id, sha256_hex, temp_file, GATE};
use crate::cli::User;
use crate::harness::{free_port, test_bytes, Answer, TestServer};
use qopy::v4::wrap::{fingerprint, wrap_secret, KeyPair};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::time::Duration;

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
    key_check(tx).await
}

/// Waits for the sender page's key check: (state, fingerprint shown).
async fn key_check(tx: &Browser) -> (String, String) {
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
    let states = try_send(tx, files, text, timeout).await;
    for (state, line) in &states {
        assert_eq!(state, "delivered", "{states:?}: {line}");
    }
}

/// Like [`send_items`], but returns each item's final (state, text), newest first.
async fn try_send(
    tx: &Browser,
    files: &[&Path],
    text: Option<&str>,
    timeout: Duration,
) -> Vec<(String, String)> {
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
    states
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s[0].as_str().unwrap().to_string(),
                s[1].as_str().unwrap().to_string(),
            )
        })
        .collect()
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
    rx.js("window.showSaveFilePicker = undefined;", vec![])
        .await;
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

    let (rx, tx) = Browser::pair().await;
    let shown = open_box(&rx, &server.base).await;
    assert!(
        shown
            .link
            .starts_with(&server.url(&format!("/drop/{}#", shown.id))),
        "{shown:?}"
    );
    assert_eq!(shown.code, format!("{}-{}", &shown.id[..4], &shown.id[4..]));
    assert_eq!(shown.fp.len(), 24, "{shown:?}");
    rx.screenshot("desktop-light-receive-box").await;

    let (state, fp) = open_sender(&tx, &shown.link).await;
    assert_eq!(
        (state.as_str(), fp.as_str()),
        ("checked", shown.fp.as_str())
    );
    let refs: Vec<&Path> = paths.iter().map(|p| p.as_path()).collect();
    send_items(&tx, &refs, Some(TEXT), BIG).await;
    tx.screenshot("desktop-light-drop-sender-delivered").await;
    let r = recent(&tx).await;
    assert_eq!(r.as_array().unwrap().len(), 1, "{r}");
    assert_eq!(r[0]["id"], json!(shown.id));
    assert_eq!(r[0]["fingerprint"], json!(shown.fp));
    assert_eq!(r[0]["fpLink"].as_str(), shown.link.split('#').nth(1), "{r}");
    assert_eq!(
        r[0]["url"],
        json!(server.url(&format!("/drop/{}", shown.id)))
    );
    assert!(r[0]["usedAt"].as_u64().unwrap() > 0);
    // The sender's Receive tab links to the box again, with its fingerprint.
    open_app(&tx, &server.url("/")).await;
    tx.click("[data-testid=tab-receive]").await;
    let href = tx
        .js(
            "return document.querySelector('[data-testid=recent-boxes] a').href",
            vec![],
        )
        .await;
    assert_eq!(href, json!(shown.link));

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_that_is_not_the_links_is_refused_and_a_typed_code_shows_the_key_to_compare() {
    let server = TestServer::start().await;
    let (rx, tx) = Browser::pair().await;
    let shown = open_box(&rx, &server.base).await;

    // Another fingerprint in the link, as if the server had swapped the box's key.
    let (bare, fp) = shown.link.split_once('#').unwrap();
    let other = format!(
        "{}{}",
        if fp.starts_with('A') { "B" } else { "A" },
        &fp[1..]
    );
    let (state, _) = open_sender(&tx, &format!("{bare}#{other}")).await;
    assert_eq!(state, "mismatch");
    let says = tx.text_of("[data-testid=drop-key]").await;
    assert!(says.contains("Nothing can be sent"), "{says}");
    let form = tx
        .find("[data-testid=drop-submit]")
        .await
        .is_displayed()
        .await
        .unwrap();
    assert!(!form, "the send button is offered with a swapped key");
    tx.screenshot("desktop-light-drop-sender-mismatch").await;

    // The short code typed on the Receive tab (lower case, with its dash): the page opens the
    // sender page, which shows the fingerprint to compare with the receiver's screen.
    open_app(&tx, &server.url("/")).await;
    tx.click("[data-testid=tab-receive]").await;
    tx.type_into("[data-testid=send-code]", &shown.code.to_lowercase())
        .await;
    tx.click("[data-testid=send-code-go]").await;
    tx.wait_js(
        "the sender page",
        STEP,
        &format!("location.pathname === '/drop/{}'", shown.id),
    )
    .await;
    let (state, fp) = key_check(&tx).await;
    assert_eq!(
        (state.as_str(), fp.as_str()),
        ("compare", shown.fp.as_str())
    );
    send_items(&tx, &[], Some("typed code"), BIG).await;
    let items = arrivals(&rx, &shown.id, 1).await;
    assert_eq!(items[0].3, json!("typed code"));
    let (_, info) = box_info(&server.base, &shown.id).await;
    assert_eq!(info["items"], json!(1), "{info}");
    rx.close().await;
    tx.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receiver_that_left_its_page_finds_every_arrival_when_it_comes_back() {
    let server = TestServer::start().await;
    let a = test_bytes(2 * 1024 * 1024 + 5, 21);
    let b = test_bytes(12_345, 22);
    let (_da, pa) = temp_file("while-away-a.bin", &a);
    let (_db, pb) = temp_file("while-away-b.bin", &b);

    let (rx, tx) = Browser::pair().await;
    let shown = open_box(&rx, &server.base).await;
    // The receiver leaves: no page of Qopy is open while the items arrive.
    rx.goto("about:blank").await;

    let (state, _) = open_sender(&tx, &shown.link).await;
    assert_eq!(state, "checked");
    send_items(&tx, &[&pa, &pb], Some("sent while you were away"), BIG).await;
    tx.close().await;

    // Back on the page: the box comes back from IndexedDB, with its key and all arrivals.
    open_app(&rx, &server.url("/")).await;
    rx.click("[data-testid=tab-receive]").await;
    let items = arrivals(&rx, &shown.id, 3).await;
    assert!(
        items
            .iter()
            .any(|i| i.3 == json!("sent while you were away")),
        "{items:?}"
    );
    let code = rx
        .js(
            &format!(
                "return document.querySelector('[data-box=\"{}\"] [data-testid=box-code]').textContent",
                shown.id
            ),
            vec![],
        )
        .await;
    assert_eq!(code, json!(shown.code));
    let got = save(&rx, &shown.id, "while-away-a.bin").await;
    assert_eq!(sha256_hex(&got), sha256_hex(&a));
    let got = save(&rx, &shown.id, "while-away-b.bin").await;
    assert_eq!(got, b);

    // Closing the box deletes it on the server and forgets its key in the browser.
    rx.js("window.confirm = () => true;", vec![]).await;
    rx.click(&format!(
        "[data-box=\"{}\"] [data-testid=box-close]",
        shown.id
    ))
    .await;
    rx.wait_js(
        "the box to be closed",
        STEP,
        &format!("!document.querySelector('[data-box=\"{}\"]')", shown.id),
    )
    .await;
    assert_eq!(box_info(&server.base, &shown.id).await.0, 404);
    open_app(&rx, &server.url("/")).await;
    let stored = rx
        .js_async(
            "return await new Promise((done) => {\
               const r = indexedDB.open('qopy');\
               r.onsuccess = () => { const q = r.result.transaction('dropboxes').objectStore('dropboxes').count();\
                 q.onsuccess = () => done(q.result); };\
               r.onerror = () => done(-1); });",
            vec![],
        )
        .await;
    assert_eq!(stored, json!(0), "the closed box is still stored");
    rx.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_of_100_mib_arrives_with_identical_sha256() {
    let server = TestServer::start().await;
    let data = test_bytes(100 * 1024 * 1024, 100);
    let want = sha256_hex(&data);
    let (_dir, path) = temp_file("hundred.bin", &data);
    drop(data);

    let (rx, tx) = Browser::pair().await;
    let shown = open_box(&rx, &server.base).await;
    open_sender(&tx, &shown.link).await;
    send_items(&tx, &[&path], None, BIG).await;
    tx.close().await;
    let got = save(&rx, &shown.id, "hundred.bin").await;
    assert_eq!(got.len(), 100 * 1024 * 1024);
    assert_eq!(sha256_hex(&got), want, "the saved file differs");
    rx.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_item_cut_by_a_server_restart_resumes_and_arrives() {
    let port = free_port();
    let addr: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let server = TestServer::start_with(|c| c.listen = addr).await;
    let size = 15 * 1024 * 1024 + 321; // 4 chunks of 5 MiB
    let data = test_bytes(size, 33);
    let want = sha256_hex(&data);
    let (_dir, path) = temp_file("restart.bin", &data);
    drop(data);

    let (rx, tx) = Browser::pair().await;
    let shown = open_box(&rx, &server.base).await;
    open_sender(&tx, &shown.link).await;
    tx.js(GATE, vec![]).await;
    tx.find("[data-testid=drop-files]")
        .await
        .send_keys(&path.display().to_string())
        .await
        .unwrap();
    tx.click("[data-testid=drop-submit]").await;
    let upload = tx
        .wait_for("the page to start an upload session", BIG, || async {
            saved_upload_id(&tx).await
        })
        .await;
    let status_url = server.url(&format!("/api/upload/{upload}/status"));
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    tx.wait_for("chunk 0 stored and the others held", BIG, || async {
        let v: Value = http.get(&status_url).send().await.ok()?.json().await.ok()?;
        let n = v["chunks"].as_array().map(|c| c.len()).unwrap_or(0);
        let held = tx.js("return window.__qopyGate.held", vec![]).await;
        (n == 1 && held.as_u64().unwrap_or(0) >= 2).then_some(())
    })
    .await;

    // The server goes down with the item a quarter sent, and comes back on the same port.
    let (dir, config, clock) = server.stop().await;
    tx.js("window.__qopyGate.open()", vec![]).await;
    tx.wait_js(
        "the page to meet the stopped server",
        BIG,
        "window.__qopyGate.failed >= 1",
    )
    .await;
    let server = TestServer::boot(dir, config, clock).await;
    tx.wait_js(
        "the item delivered after the restart",
        BIG,
        "(() => { const r = document.querySelector('[data-testid=sent-item]');\
           return r && r.dataset.state !== 'sending' && r.dataset.state; })()",
    )
    .await;
    assert_eq!(
        tx.js(
            "return document.querySelector('[data-testid=sent-item]').dataset.state",
            vec![]
        )
        .await,
        json!("delivered")
    );
    let puts = tx.js("return window.__qopyGate.puts", vec![]).await;
    assert_eq!(puts["0"], json!(1), "chunk 0 was sent again: {puts}");
    tx.close().await;

    // The receiver's page rode out the restart too.
    let got = save(&rx, &shown.id, "restart.bin").await;
    assert_eq!(got.len(), size);
    assert_eq!(sha256_hex(&got), want);
    rx.close().await;
    server.stop().await;
}

/// The same link on another origin.
fn on_origin(url: &str, from: &str, to: &str) -> String {
    format!(
        "{to}{}",
        url.strip_prefix(from)
            .unwrap_or_else(|| panic!("{url} is not on {from}"))
    )
}

/// Asserts the page's crypto path: the fallback (no secure context) or WebCrypto.
async fn assert_fallback(b: &Browser, fallback: bool) {
    let r = b
        .js(
            "return [window.isSecureContext, typeof (window.crypto && window.crypto.subtle)]",
            vec![],
        )
        .await;
    let want = if fallback {
        json!([false, "undefined"])
    } else {
        json!([true, "object"])
    };
    assert_eq!(r, want);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn boxes_made_with_either_crypto_receive_from_the_other() {
    let server = lan_server().await;
    let (lan, web) = origins(&server);
    let a = test_bytes(6 * 1024 * 1024 + 1, 41);
    let b = test_bytes(5 * 1024 * 1024 + 2, 42);
    let (_da, pa) = temp_file("to-the-fallback.bin", &a);
    let (_db, pb) = temp_file("to-webcrypto.bin", &b);
    let (one, two) = lan_browsers().await;

    // A box made with the fallback (its private key 32 bytes in IndexedDB), filled by a
    // WebCrypto sender.
    let fallback_box = open_box(&one, &lan).await;
    assert_fallback(&one, true).await;
    let (state, fp) = open_sender(&two, &on_origin(&fallback_box.link, &lan, &web)).await;
    assert_fallback(&two, false).await;
    assert_eq!(
        (state.as_str(), fp.as_str()),
        ("checked", fallback_box.fp.as_str())
    );
    send_items(&two, &[&pa], Some("from WebCrypto"), BIG).await;
    let items = arrivals(&one, &fallback_box.id, 2).await;
    assert!(
        items.iter().any(|i| i.3 == json!("from WebCrypto")),
        "{items:?}"
    );
    let got = save(&one, &fallback_box.id, "to-the-fallback.bin").await;
    assert_eq!(sha256_hex(&got), sha256_hex(&a));
    // The fallback's private key is 32 bytes in IndexedDB: they, and the text sent, appear
    // nowhere in the server's data directory.
    let private = one
        .js_async(
            "const id = args[0];\
             return await new Promise((done, fail) => {\
               const r = indexedDB.open('qopy');\
               r.onsuccess = () => { const g = r.result.transaction('dropboxes').objectStore('dropboxes').get(id);\
                 g.onsuccess = () => { r.result.close(); done(Array.from(g.result.privateKey)); }; };\
               r.onerror = () => fail(r.error); });",
            vec![json!(fallback_box.id)],
        )
        .await;
    let private: Vec<u8> = serde_json::from_value(private).unwrap();
    assert_eq!(private.len(), 32);
    // The scan can see what the server does store: the box's public key is there.
    let (_, info) = box_info(&server.base, &fallback_box.id).await;
    let public = qopy::v4::base64url_decode(info["publicKey"].as_str().unwrap()).unwrap();
    assert!(
        somewhere_under(&server.data_dir(), &public),
        "the scan cannot find even the public key"
    );
    assert_nowhere_under(&server.data_dir(), &[&private, b"from WebCrypto"]);

    // A box made with WebCrypto (a non-extractable CryptoKey), filled by the fallback.
    let web_box = open_box(&two, &web).await;
    let (state, fp) = open_sender(&one, &on_origin(&web_box.link, &web, &lan)).await;
    assert_fallback(&one, true).await;
    assert_eq!(
        (state.as_str(), fp.as_str()),
        ("checked", web_box.fp.as_str())
    );
    send_items(&one, &[&pb], Some("from the fallback"), BIG).await;
    let items = arrivals(&two, &web_box.id, 2).await;
    assert!(
        items.iter().any(|i| i.3 == json!("from the fallback")),
        "{items:?}"
    );
    let got = save(&two, &web_box.id, "to-webcrypto.bin").await;
    assert_eq!(sha256_hex(&got), sha256_hex(&b));
    one.close().await;
    two.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn qopy_send_to_fills_a_page_box_and_the_page_fills_a_qopy_receive_box() {
    let server = TestServer::start().await;
    let user = User::new();
    let cli_file = test_bytes(1024 * 1024 + 3, 51);
    std::fs::write(user.path("from-cli.bin"), &cli_file).unwrap();

    // The page's box, filled by `qopy send --to` with the link the page shows.
    let rx = Browser::start().await;
    let shown = open_box(&rx, &server.base).await;
    user.run(&["send", "--to", &shown.link, "from-cli.bin"], None, &[])
        .await
        .ok();
    let got = save(&rx, &shown.id, "from-cli.bin").await;
    assert_eq!(sha256_hex(&got), sha256_hex(&cli_file));
    rx.close().await;

    // A box of `qopy receive`, filled by the sender page.
    std::fs::create_dir_all(user.path("inbox")).unwrap();
    let (mut child, link) = crate::cli_dropbox::start_receive(&user, &server.base).await;
    let page_file = test_bytes(2 * 1024 * 1024 + 9, 52);
    let (_d, path) = temp_file("from-page.bin", &page_file);
    let tx = Browser::start().await;
    let (state, _) = open_sender(&tx, &link).await;
    assert_eq!(
        state, "checked",
        "the page does not accept the command line's fingerprint"
    );
    send_items(&tx, &[&path], None, BIG).await;
    tx.close().await;
    let saved = user.path("inbox/from-page.bin");
    crate::harness::eventually("the arrival saved by qopy receive", BIG, || {
        std::fs::metadata(&saved)
            .map(|m| m.len() as usize == page_file.len())
            .unwrap_or(false)
    })
    .await;
    // Ctrl-C: the receiver finishes and closes its box.
    assert_eq!(crate::cli_dropbox::ctrl_c(&mut child).await, Some(0));
    assert_eq!(
        sha256_hex(&std::fs::read(&saved).unwrap()),
        sha256_hex(&page_file)
    );
    server.stop().await;
}

/// A box made over HTTP with a key the test holds and at most `max_items` items: its id.
async fn api_box(server: &TestServer, keys: &KeyPair, max_items: u64) -> String {
    let (status, v) = server
        .post_json(
            "/api/dropbox",
            json!({ "publicKey": qopy::v4::base64url(&keys.public_bytes()),
                    "expiration": "1hr", "maxItems": max_items }),
        )
        .await;
    assert_eq!(status, 201, "{v}");
    v["id"].as_str().unwrap().to_string()
}

/// The IndexedDB store `dropboxes` of the page: the stored boxes' IDs.
async fn stored_boxes(b: &Browser) -> Value {
    b.js_async(
        "return await new Promise((done, fail) => {\
           const r = indexedDB.open('qopy');\
           r.onsuccess = () => { const q = r.result.transaction('dropboxes').objectStore('dropboxes').getAllKeys();\
             q.onsuccess = () => { r.result.close(); done(q.result); }; };\
           r.onerror = () => fail(r.error); });",
        vec![],
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_box_is_refused_in_plain_words() {
    let server = TestServer::start().await;
    let keys = KeyPair::generate();
    let id = api_box(&server, &keys, 1).await;
    let (display, link) = fingerprint(&keys.public_bytes()).unwrap();
    let tx = Browser::start().await;
    let (state, fp) = open_sender(&tx, &server.url(&format!("/drop/{id}#{link}"))).await;
    assert_eq!((state.as_str(), fp.as_str()), ("checked", display.as_str()));
    send_items(&tx, &[], Some("the first fits"), STEP).await;
    let states = try_send(&tx, &[], Some("the second does not"), STEP).await;
    assert_eq!(states[0].0, "failed", "{states:?}");
    assert!(states[0].1.contains("The drop box is full"), "{states:?}");
    tx.screenshot("desktop-light-drop-sender-full").await;
    let (_, info) = box_info(&server.base, &id).await;
    assert_eq!(info["items"], json!(1), "{info}");
    tx.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_item_wrapped_to_another_key_says_so_and_can_be_deleted() {
    let server = TestServer::start().await;
    let rx = Browser::start().await;
    let shown = open_box(&rx, &server.base).await;
    // An item whose secret is wrapped to some other key (the server cannot tell).
    let other = KeyPair::generate();
    let wrapped = wrap_secret(&[b'k'; 43], &other.public_bytes(), &shown.id).unwrap();
    server
        .upload_in_chunks(
            &test_bytes(5000, 61),
            5000,
            json!({ "dropbox": shown.id, "wrappedKey": qopy::v4::base64url(&wrapped) }),
            json!({}),
        )
        .await;
    let items = arrivals(&rx, &shown.id, 1).await;
    assert_eq!(items[0].2, "locked", "{items:?}");
    let row = format!("[data-box=\"{}\"] [data-clip=\"{}\"]", shown.id, items[0].0);
    let says = rx
        .text_of(&format!("{row} [data-testid=item-status]"))
        .await;
    assert!(
        says.contains("cannot be opened with this browser"),
        "{says}"
    );
    assert_eq!(
        rx.js(
            &format!("return document.querySelector('{row} [data-testid=item-save]')"),
            vec![]
        )
        .await,
        Value::Null,
        "Save is offered for an item that cannot be opened"
    );
    rx.click(&format!("{row} [data-testid=item-delete]")).await;
    rx.wait_js(
        "the item deleted",
        STEP,
        &format!("(() => {{ const r = document.querySelector('{row}'); return !r || r.dataset.state === 'deleted'; }})()"),
    )
    .await;
    let (_, info) = box_info(&server.base, &shown.id).await;
    assert_eq!(info["items"], json!(0), "{info}");
    rx.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_boxes_say_so_and_are_forgotten() {
    let server = TestServer::start().await;
    let rx = Browser::start().await;
    let old = open_box(&rx, &server.base).await;
    let later = open_box(&rx, &server.base).await;
    assert_eq!(stored_boxes(&rx).await.as_array().unwrap().len(), 2);

    // One box's expiry passed by this browser's clock: on the next load it is forgotten
    // without asking the server.
    rx.js_async(
        "const id = args[0];\
         return await new Promise((done, fail) => {\
           const r = indexedDB.open('qopy');\
           r.onsuccess = () => { const s = r.result.transaction('dropboxes', 'readwrite').objectStore('dropboxes');\
             const g = s.get(id);\
             g.onsuccess = () => { const b = g.result; b.expiresAt = Date.now() - 1000;\
               const p = s.put(b); p.onsuccess = () => { r.result.close(); done(true); }; p.onerror = () => fail(p.error); }; };\
           r.onerror = () => fail(r.error); });",
        vec![json!(old.id)],
    )
    .await;
    // The other expired on the server (its clock moves two days on): the page learns it from
    // the server's 410, says so, and forgets it.
    server.clock.advance(Duration::from_secs(2 * 86400));
    open_app(&rx, &server.url("/")).await;
    rx.click("[data-testid=tab-receive]").await;
    let says = rx
        .wait_js(
            "the box to say it expired",
            STEP,
            &format!(
                "(() => {{ const e = document.querySelector('[data-box=\"{}\"] [data-testid=box-expiry]');\
                   return e && e.classList.contains('gone') && e.textContent; }})()",
                later.id
            ),
        )
        .await;
    assert!(says.as_str().unwrap().contains("expired"), "{says}");
    assert_eq!(
        rx.js(
            &format!(
                "return !!document.querySelector('[data-box=\"{}\"]')",
                old.id
            ),
            vec![]
        )
        .await,
        json!(false),
        "a box past its expiry is shown"
    );
    rx.wait_for("both boxes forgotten", STEP, || async {
        (stored_boxes(&rx).await == json!([])).then_some(())
    })
    .await;
    rx.close().await;
}

/// Whether `needle` occurs in a file under `dir`.
fn somewhere_under(dir: &Path, needle: &[u8]) -> bool {
    std::fs::read_dir(dir).unwrap().flatten().any(|e| {
        let p = e.path();
        if p.is_dir() {
            somewhere_under(&p, needle)
        } else {
            let bytes = std::fs::read(&p).unwrap_or_default();
            bytes.windows(needle.len()).any(|w| w == needle)
        }
    })
}

/// Asserts that none of `needles` occurs in any file under `dir`.
fn assert_nowhere_under(dir: &Path, needles: &[&[u8]]) {
    let mut stack = vec![dir.to_path_buf()];
    let mut files = 0;
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
                continue;
            }
            let bytes = std::fs::read(&p).unwrap_or_default();
            files += 1;
            for n in needles {
                assert!(
                    !bytes.windows(n.len()).any(|w| w == *n),
                    "{} holds a secret of the drop box",
                    p.display()
                );
            }
        }
    }
    assert!(files > 0, "nothing to scan under {}", dir.display());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_folder_goes_into_a_box_as_one_tar_archive() {
    let server = TestServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let album = dir.path().join("album");
    std::fs::create_dir_all(album.join("sub")).unwrap();
    let (a, b) = (test_bytes(300_000, 41), test_bytes(5_000, 42));
    std::fs::write(album.join("a.jpg"), &a).unwrap();
    std::fs::write(album.join("sub/b.txt"), &b).unwrap();

    let (rx, tx) = Browser::pair().await;
    let shown = open_box(&rx, &server.base).await;
    open_sender(&tx, &shown.link).await;
    tx.find("[data-testid=drop-folder]")
        .await
        .send_keys(&album.display().to_string())
        .await
        .expect("choose a folder");
    tx.wait_js(
        "the folder to be chosen as one archive",
        STEP,
        "document.querySelector('[data-testid=drop-chosen]').textContent.includes('album.tar')",
    )
    .await;
    tx.click("[data-testid=drop-submit]").await;
    tx.wait_js(
        "the archive delivered",
        BIG,
        "(() => { const r = [...document.querySelectorAll('[data-testid=sent-item]')];\
           return r.length === 1 && r[0].dataset.state === 'delivered'; })()",
    )
    .await;
    tx.close().await;
    let got = save(&rx, &shown.id, "album.tar").await;
    let out = dir.path().join("unpacked");
    tar::Archive::new(&got[..]).unpack(&out).unwrap();
    assert_eq!(std::fs::read(out.join("album/a.jpg")).unwrap(), a);
    assert_eq!(std::fs::read(out.join("album/sub/b.txt")).unwrap(), b);
    rx.close().await;
}
