//! "Share → Qopy" in a real browser. The share sheet's POST is made the way Android makes it:
//! a navigation that submits a multipart form (fields title, text, url and files) to
//! /share-target. On 127.0.0.1 (a secure context) the app's service worker takes it, keeps
//! it in IndexedDB and sends the browser to /?share=ID, and the server never sees it; the
//! page then offers the items (straight in the tabs, or, when there are drop boxes in
//! localStorage qopy.recentDropboxes, a choice between "Share as a link" and those boxes). On a plain-HTTP name there is no service worker, and
//! the server's 400 page says that HTTPS is needed, keeping nothing.

use super::driver::Browser;
use super::ui::{lan_browser, lan_server, open_app, origins, read_share_dialog, STEP};
use super::ui_file::rust_decrypt;
use crate::harness::{files_under, Answer, TestServer};
use serde_json::{json, Value};
use std::time::Duration;

/// Submits what a share sheet would post to /share-target from the current page, as a
/// navigation. `files` are `{ name, type, body }` (the body as text).
async fn share_into_qopy(b: &Browser, fields: Value, files: Value) {
    b.js(
        "const [fields, files] = arguments;\
         const form = document.createElement('form');\
         form.method = 'post'; form.action = '/share-target'; form.enctype = 'multipart/form-data';\
         for (const [k, v] of Object.entries(fields)) {\
           const i = document.createElement('input'); i.type = 'hidden'; i.name = k; i.value = v; form.append(i);\
         }\
         const fi = document.createElement('input'); fi.type = 'file'; fi.name = 'files'; fi.multiple = true;\
         const dt = new DataTransfer();\
         for (const f of files) dt.items.add(new File([f.body], f.name, { type: f.type }));\
         fi.files = dt.files; form.append(fi);\
         document.body.append(form);\
         window.__beforeShare = true;\
         form.submit();",
        vec![fields, files],
    )
    .await;
}

/// Waits for the page the share led to and for the app there to be ready; returns the
/// URL the navigation ended at (before the page removed its query).
async fn landed(b: &Browser) -> String {
    b.wait_js(
        "the page the share led to",
        STEP,
        "!window.__beforeShare && document.documentElement.dataset.ready === 'true'",
    )
    .await;
    b.js(
        "return performance.getEntriesByType('navigation')[0].name;",
        vec![],
    )
    .await
    .as_str()
    .unwrap()
    .to_string()
}

/// Waits until the share worker is active for its scope.
async fn worker_active(b: &Browser) {
    let v = b
        .wait_js(
            "the share worker",
            STEP,
            "navigator.serviceWorker && (window.__reg = window.__reg || null, true) &&\
             (navigator.serviceWorker.getRegistration('/share-target').then((r) => { window.__reg = r ? { scope: r.scope, url: r.active && r.active.state === 'activated' ? r.active.scriptURL : null } : null; }), window.__reg && window.__reg.url ? window.__reg : null)",
        )
        .await;
    assert!(
        v["url"].as_str().unwrap().ends_with("/share-worker.js"),
        "{v}"
    );
    assert!(
        v["scope"].as_str().unwrap().ends_with("/share-target"),
        "{v}"
    );
}

/// How many records the share database holds.
async fn records(b: &Browser) -> u64 {
    b.js_async(
        "const db = await new Promise((resolve, reject) => { const r = indexedDB.open('qopy-share', 1);\
           r.onupgradeneeded = () => r.result.createObjectStore('shares', { keyPath: 'id' });\
           r.onsuccess = () => resolve(r.result); r.onerror = () => reject(r.error); });\
         const n = await new Promise((resolve, reject) => { const q = db.transaction('shares').objectStore('shares').count();\
           q.onsuccess = () => resolve(q.result); q.onerror = () => reject(q.error); });\
         db.close(); return n;",
        vec![],
    )
    .await
    .as_u64()
    .unwrap()
}

/// The number of requests the server counted for `POST /share-target`.
async fn server_share_posts(server: &TestServer) -> u64 {
    let text = server.get("/metrics").answer().await.text().await.unwrap();
    text.lines()
        .filter(|l| l.starts_with("qopy_http_requests_total") && l.contains("\"/share-target\""))
        .map(|l| l.rsplit(' ').next().unwrap().parse::<u64>().unwrap())
        .sum()
}

/// Opens the app in a new browser with `recent` as the remembered drop boxes (localStorage
/// qopy.recentDropboxes), shares `fields` and two photos into Qopy, and waits until the
/// page it led to offers them.
async fn share_two_photos_with_recent_boxes(
    server: &TestServer,
    recent: Value,
    fields: Value,
) -> Browser {
    let b = Browser::start().await;
    open_app(&b, &format!("{}/", server.base)).await;
    b.js(
        "localStorage.setItem('qopy.recentDropboxes', JSON.stringify(arguments[0]));",
        vec![recent],
    )
    .await;
    worker_active(&b).await;
    share_into_qopy(
        &b,
        fields,
        json!([
            { "name": "a.jpg", "type": "image/jpeg", "body": "first" },
            { "name": "b.jpg", "type": "image/jpeg", "body": "second!" }
        ]),
    )
    .await;
    landed(&b).await;
    b.wait_visible("[data-testid=share-in]").await;
    b
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shared_file_and_text_land_in_the_tabs_and_the_file_is_sent_encrypted() {
    let server = TestServer::start().await;
    let b = Browser::start().await;
    open_app(&b, &format!("{}/", server.base)).await;
    // The manifest as Chromium reads it: no errors, the icons and the share target.
    let manifest = b.cdp("Page.getAppManifest", json!({})).await;
    assert!(
        manifest["url"]
            .as_str()
            .unwrap()
            .ends_with("/manifest.webmanifest"),
        "{manifest}"
    );
    assert_eq!(manifest["errors"], json!([]), "{manifest}");
    let parsed: Value = serde_json::from_str(manifest["data"].as_str().unwrap()).unwrap();
    assert_eq!(parsed["share_target"]["action"], "/share-target");
    assert_eq!(parsed["icons"].as_array().unwrap().len(), 4);
    worker_active(&b).await;
    // Chromium finds nothing that keeps it from installing the app (manifest, icons, origin).
    let installable = b.cdp("Page.getInstallabilityErrors", json!({})).await;
    assert_eq!(
        installable["installabilityErrors"],
        json!([]),
        "{installable}"
    );
    // The download worker keeps its own registration and scope.
    let scopes = b
        .js_async(
            "return (await navigator.serviceWorker.getRegistrations()).map((r) => new URL(r.scope).pathname).sort();",
            vec![],
        )
        .await;
    assert_eq!(
        scopes,
        json!(["/share-target"]),
        "only the share worker is registered"
    );

    let body = "the bytes of a shared note 4f1d";
    share_into_qopy(
        &b,
        json!({ "title": "A note", "text": "Look at this", "url": "https://example.invalid/x" }),
        json!([{ "name": "note.txt", "type": "text/plain", "body": body }]),
    )
    .await;
    let url = landed(&b).await;
    let prefix = format!("{}/?share=", server.base);
    let id = url
        .strip_prefix(&prefix)
        .unwrap_or_else(|| panic!("landed on {url}"));
    assert!(
        id.len() == 32 && id.bytes().all(|c| c.is_ascii_hexdigit()),
        "{url}"
    );
    // The query is gone from the address, the record from the database, and the server
    // never saw the POST.
    assert_eq!(
        b.js("return location.pathname + location.search;", vec![])
            .await,
        json!("/")
    );
    assert_eq!(records(&b).await, 0);
    assert_eq!(server_share_posts(&server).await, 0);

    // No recent drop boxes: nothing to choose, the items are in the tabs.
    assert!(!b
        .find("[data-testid=share-in]")
        .await
        .is_displayed()
        .await
        .unwrap());
    assert_eq!(
        b.find("[data-testid=tab-file]")
            .await
            .attr("aria-selected")
            .await
            .unwrap()
            .as_deref(),
        Some("true")
    );
    assert_eq!(b.text_of("[data-testid=file-name]").await, "note.txt");
    assert_eq!(
        b.js(
            "return document.getElementById('text-input').value;",
            vec![]
        )
        .await,
        json!("A note\nLook at this\nhttps://example.invalid/x")
    );
    assert_eq!(
        b.js(
            "return document.getElementById('text-counter').textContent;",
            vec![]
        )
        .await,
        json!("45 / 400,000")
    );

    // The shared file is an ordinary choice: it goes out encrypted and decrypts to itself.
    b.click("[data-testid=file-submit]").await;
    let shared = read_share_dialog(&b).await;
    let (meta, plain) = rust_decrypt(&server.base, &shared.url).await;
    assert_eq!(plain, body.as_bytes());
    assert_eq!(meta.name, "note.txt");

    // The same ID again (a reload of the old address) finds nothing and says so.
    open_app(&b, &format!("{}/?share={id}", server.base)).await;
    b.wait_visible(".toast").await;
    let problems: Vec<_> = b
        .console_problems()
        .await
        .into_iter()
        .filter(|p| !p.message.contains("/favicon.ico"))
        .collect();
    assert!(problems.is_empty(), "console problems: {problems:?}");
    b.close().await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shared_items_are_offered_to_the_recent_drop_boxes() {
    let server = TestServer::start().await;
    // What the drop-box sender page leaves, with entries a defensive reader must skip.
    let recent = json!([
        { "id": "OLDER234", "url": "/drop/OLDER234", "fingerprint": "11 22", "fpLink": "fp=1122", "usedAt": 1000 },
        { "id": "bad id!", "fpLink": "x", "usedAt": 5000 },
        "not an object",
        { "id": "7K2QZP9M", "url": "https://elsewhere.invalid/drop/7K2QZP9M", "fingerprint": "AB12 CD34 EF56", "fpLink": "#fp=AB12CD34EF56", "usedAt": 3000 },
        { "id": "7k2qzp9m", "usedAt": 2000 }
    ]);
    let b =
        share_two_photos_with_recent_boxes(&server, recent, json!({ "text": "two photos" })).await;
    assert_eq!(
        b.text_of("[data-testid=share-in-what]").await,
        "2 files · Text"
    );
    let boxes = b
        .js(
            "return [...document.querySelectorAll('[data-testid=share-in-box]')].map((e) => e.dataset.box);",
            vec![],
        )
        .await;
    assert_eq!(
        boxes,
        json!(["7K2QZP9M", "OLDER234"]),
        "newest first, no duplicates, no junk"
    );
    assert!(b
        .find("[data-testid=share-in-link]")
        .await
        .is_displayed()
        .await
        .unwrap());
    assert_eq!(records(&b).await, 0, "taken when the page opened");
    b.screenshot("share-in-drop-boxes").await;

    b.click("[data-testid=share-in-box][data-box='7K2QZP9M']")
        .await;
    let to = b
        .wait_js(
            "the drop-box page",
            STEP,
            "location.pathname.startsWith('/drop/') ? location.href : null",
        )
        .await;
    let to = to.as_str().unwrap();
    let rest = to
        .strip_prefix(&format!("{}/drop/7K2QZP9M?share=", server.base))
        .unwrap_or_else(|| panic!("went to {to}"));
    let (new_id, fragment) = rest.split_once('#').expect("the fingerprint fragment");
    assert_eq!(fragment, "fp=AB12CD34EF56");
    assert!(new_id.len() == 32 && new_id.bytes().all(|c| c.is_ascii_hexdigit()));

    // That page takes the items (once) and puts them in its form, unsent.
    let form = b
        .wait_js(
            "the shared items in the drop-box form",
            STEP,
            "(() => { const c = document.querySelector('[data-testid=drop-chosen]').textContent;\
               const t = document.querySelector('[data-testid=drop-text]').value;\
               return c.includes('b.jpg') ? { chosen: c, text: t } : null; })()",
        )
        .await;
    assert!(form["chosen"].as_str().unwrap().contains("a.jpg"), "{form}");
    assert_eq!(form["text"], json!("two photos"));
    assert_eq!(records(&b).await, 0, "the items were not taken");
    let again = b
        .js_async(
            "const m = await import('/app/shared-items.js'); return await m.takeShared(args[0]);",
            vec![json!(new_id)],
        )
        .await;
    assert_eq!(again, Value::Null, "the items can be taken twice");
    assert_eq!(server_share_posts(&server).await, 0);
    b.close().await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn share_as_a_link_puts_several_files_into_share_files() {
    let server = TestServer::start().await;
    let b = share_two_photos_with_recent_boxes(
        &server,
        json!([{ "id": "AB12CD34", "fpLink": "fp=1", "usedAt": 1 }]),
        json!({ "title": "", "text": "", "url": "https://example.invalid/only-a-link" }),
    )
    .await;
    b.click("[data-testid=share-in-link]").await;
    b.wait_hidden("[data-testid=share-in]").await;
    b.wait_visible("[data-testid=file-info]").await;
    assert_eq!(
        b.js(
            "return document.getElementById('text-input').value;",
            vec![]
        )
        .await,
        json!("https://example.invalid/only-a-link")
    );
    // Where Share Files takes several files (acceptTransfer, the multi-file feature) they
    // become one archive; otherwise the first is chosen and a note says why.
    let several = b
        .js_async(
            "return typeof (await import('/app/share-file.js')).acceptTransfer === 'function';",
            vec![],
        )
        .await;
    let name = b.text_of("[data-testid=file-name]").await;
    if several == json!(true) {
        assert!(name.ends_with(".tar"), "{name}");
    } else {
        assert_eq!(name, "a.jpg");
        let note = b.text_of(".toast").await;
        assert!(note.contains("2 files were shared"), "{note}");
    }
    b.close().await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_plain_http_the_server_refuses_the_share_and_keeps_nothing() {
    let server = lan_server().await;
    let (lan, _) = origins(&server);
    let b = lan_browser().await;
    open_app(&b, &format!("{lan}/")).await;
    // No secure context, no service worker.
    assert_eq!(
        b.js(
            "return window.isSecureContext || !!navigator.serviceWorker;",
            vec![]
        )
        .await,
        json!(false)
    );
    let marker = "plain-http-share-5b2e";
    share_into_qopy(
        &b,
        json!({ "text": marker }),
        json!([{ "name": "secret.txt", "type": "text/plain", "body": marker }]),
    )
    .await;
    let text = b
        .wait_for("the server's answer", Duration::from_secs(30), || async {
            let t = b
                .js("return window.__beforeShare ? null : document.body && document.body.innerText;", vec![])
                .await;
            t.as_str().filter(|s| !s.is_empty()).map(str::to_string)
        })
        .await;
    assert!(text.contains("Sharing into Qopy needs HTTPS"), "{text}");
    assert!(text.contains("Nothing was stored"), "{text}");
    assert_eq!(server_share_posts(&server).await, 1);
    let (_, stats) = server.admin_get("/api/admin/stats").await;
    assert_eq!(stats["activeClips"], 0, "{stats}");
    assert_eq!(stats["activeUploads"], 0, "{stats}");
    assert!(files_under(&server.data_dir()).is_empty());
    b.close().await;
    server.stop().await;
}
