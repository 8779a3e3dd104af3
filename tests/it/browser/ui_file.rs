//! Files through the real UI: a 50 MiB round trip (chosen in Share Files, downloaded from
//! the link in a second tab into Chromium's download directory) with an identical SHA-256,
//! and an upload interrupted by a server restart that resumes and completes.

use super::driver::Browser;
use super::ui::{open_app, read_share_dialog, second_tab};
use crate::harness::{free_port, test_bytes, Answer, TestServer};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::time::Duration;

const BIG: Duration = Duration::from_secs(180);

pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

/// Writes `data` to a file named `name` in a fresh temporary directory.
pub fn temp_file(name: &str, data: &[u8]) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(name);
    std::fs::write(&path, data).unwrap();
    (dir, path)
}

/// Chooses `path` in the Share Files tab (as the file dialog would).
pub async fn choose_file(b: &Browser, path: &Path) {
    b.click("[data-testid=tab-file]").await;
    let input = b.find("[data-testid=file-input]").await;
    input
        .send_keys(&path.display().to_string())
        .await
        .expect("choose the file");
    b.wait_visible("[data-testid=file-info]").await;
}

/// Splits a share link into (clip ID, secret).
fn id_and_secret(url: &str) -> (String, String) {
    let (path, secret) = url.split_once('#').expect("a secret after #");
    (
        path.rsplit('/').next().unwrap().to_string(),
        secret.to_string(),
    )
}

/// Downloads a clip's ciphertext (`POST /api/file/:id`) and decrypts it with the Rust V4 code.
pub async fn rust_decrypt(base: &str, url: &str) -> (qopy::v4::Metadata, Vec<u8>) {
    let (id, secret) = id_and_secret(url);
    let r = reqwest::Client::builder()
        .no_proxy()
        .build()
        .unwrap()
        .post(format!("{base}/api/file/{id}"))
        .json(&json!({}))
        .answer()
        .await;
    assert_eq!(r.status().as_u16(), 200);
    let ct = r.bytes().await.unwrap().to_vec();
    tokio::task::spawn_blocking(move || qopy::v4::decrypt_all(&secret, None, &ct))
        .await
        .unwrap()
        .expect("the Rust V4 code decrypts what the browser uploaded")
}

/// Opens a file link in the current tab, clicks Download and waits for the saved file.
/// The File System Access save picker cannot be answered in headless Chromium, so the page
/// takes its other path (a Blob download under the decrypted name), as in Firefox.
pub async fn download_via_link(b: &Browser, url: &str) -> PathBuf {
    open_app(b, url).await;
    b.wait_visible("[data-testid=retrieve-reveal]").await;
    b.js("window.showSaveFilePicker = undefined;", vec![]).await;
    b.click("[data-testid=retrieve-reveal]").await;
    let path = b.wait_download(BIG).await;
    b.wait_visible("[data-testid=retrieve-result-file]").await;
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn file_of_50_mib_round_trips_with_identical_sha256() {
    let server = TestServer::start().await;
    let data = test_bytes(50 * 1024 * 1024, 50);
    let want = sha256_hex(&data);
    let (_dir, path) = temp_file("fifty MiB – Größe.bin", &data);
    drop(data);

    let b = Browser::start().await;
    open_app(&b, &server.url("/")).await;
    choose_file(&b, &path).await;
    b.screenshot("desktop-light-share-files-chosen").await;
    b.click("[data-testid=file-submit]").await;
    b.wait_js(
        "the 50 MiB upload to finish",
        BIG,
        "document.getElementById('share-modal').open",
    )
    .await;
    let shared = read_share_dialog(&b).await;
    assert!(shared.url.starts_with(&server.url("/")), "{shared:?}");

    // The Rust V4 code reads the browser's ciphertext.
    let (meta, plain) = rust_decrypt(&server.base, &shared.url).await;
    assert_eq!(meta.name, "fifty MiB – Größe.bin");
    assert_eq!(meta.size, 50 * 1024 * 1024);
    assert_eq!(
        sha256_hex(&plain),
        want,
        "Rust decryption of the browser upload"
    );
    drop(plain);

    second_tab(&b).await;
    let saved = download_via_link(&b, &shared.url).await;
    assert_eq!(
        saved.file_name().unwrap().to_string_lossy(),
        "fifty MiB – Größe.bin",
        "saved under the decrypted name"
    );
    let got = std::fs::read(&saved).unwrap();
    assert_eq!(got.len(), 50 * 1024 * 1024);
    assert_eq!(sha256_hex(&got), want, "the downloaded file differs");
    b.screenshot("desktop-light-file-downloaded").await;
    b.close().await;
}

/// The upload session the page saved for resuming (localStorage `qopy.upload.*`).
pub async fn saved_upload_id(b: &Browser) -> Option<String> {
    let v: Value = b
        .js(
            "for (let i = 0; i < localStorage.length; i++) {\
               const k = localStorage.key(i);\
               if (k.startsWith('qopy.upload.')) { try { return JSON.parse(localStorage.getItem(k)).uploadId; } catch (e) {} }\
             } return null;",
            vec![],
        )
        .await;
    v.as_str().map(|s| s.to_string())
}

/// A file upload started in the page of a server on a fixed port (so the page's origin
/// survives a restart), after `script` instrumented the page.
struct UploadUnderWay {
    server: TestServer,
    addr: std::net::SocketAddr,
    browser: Browser,
    want: String,
    status_url: String,
    _dir: tempfile::TempDir,
}

impl UploadUnderWay {
    async fn start(size: usize, seed: u64, name: &str, script: &str) -> UploadUnderWay {
        let addr: std::net::SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
        let server = TestServer::start_with(|c| c.listen = addr).await;
        let data = test_bytes(size, seed);
        let want = sha256_hex(&data);
        let (dir, path) = temp_file(name, &data);
        drop(data);
        let b = Browser::start().await;
        open_app(&b, &server.url("/")).await;
        choose_file(&b, &path).await;
        b.js(script, vec![]).await;
        b.click("[data-testid=file-submit]").await;
        let upload = b
            .wait_for("the page to start an upload session", BIG, || async {
                saved_upload_id(&b).await
            })
            .await;
        let status_url = server.url(&format!("/api/upload/{upload}/status"));
        UploadUnderWay {
            server,
            addr,
            browser: b,
            want,
            status_url,
            _dir: dir,
        }
    }
}

/// How many chunks the upload session at `status_url` holds (None while it cannot be read).
async fn stored_chunks(status_url: &str) -> Option<usize> {
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    let v: Value = http.get(status_url).send().await.ok()?.json().await.ok()?;
    Some(v["chunks"].as_array().map(|c| c.len()).unwrap_or(0))
}

/// Instruments the page's `fetch` (test-only): chunk PUTs after chunk 0 wait at a gate until
/// `__qopyGate.open()`; every PUT and every failed request is counted. This puts the
/// server restart at a known point of the upload instead of racing a fast loopback.
pub const GATE: &str = "
  const g = window.__qopyGate = { isOpen: false, waiters: [], held: 0, failed: 0, puts: {} };
  g.open = () => { g.isOpen = true; for (const w of g.waiters) w(); g.waiters = []; };
  const real = window.fetch.bind(window);
  window.fetch = async (input, init) => {
    const url = String(input && input.url ? input.url : input);
    const m = url.match(/\\/api\\/upload\\/chunk\\/[^/]+\\/(\\d+)/);
    if (m) {
      const n = Number(m[1]);
      if (n >= 1 && !g.isOpen) { g.held++; await new Promise((r) => g.waiters.push(r)); }
      g.puts[n] = (g.puts[n] || 0) + 1;
    }
    try { return await real(input, init); } catch (e) { g.failed++; throw e; }
  };";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upload_interrupted_by_a_server_restart_resumes_and_completes() {
    let size = 20 * 1024 * 1024 + 4321; // 5 upload chunks of 5 MiB
    let u = UploadUnderWay::start(size, 77, "resume-me.bin", GATE).await;
    let (server, b, want, addr) = (u.server, u.browser, u.want, u.addr);

    // Chunk 0 is stored; the page's other chunk requests are waiting.
    b.wait_for("chunk 0 stored and the others held", BIG, || async {
        let n = stored_chunks(&u.status_url).await?;
        let held = b.js("return window.__qopyGate.held", vec![]).await;
        (n == 1 && held.as_u64().unwrap_or(0) >= 2).then_some(())
    })
    .await;
    b.screenshot("desktop-light-upload-in-progress").await;

    // The server goes down; the page's held requests now fail and are retried.
    let (dir, config, clock) = server.stop().await;
    b.js("window.__qopyGate.open()", vec![]).await;
    b.wait_js(
        "the page to meet the stopped server",
        BIG,
        "window.__qopyGate.failed >= 1",
    )
    .await;
    assert_eq!(
        b.js("return document.getElementById('share-modal').open", vec![])
            .await,
        json!(false)
    );
    // The same port again (the configuration's `listen`), so the page's origin is the same.
    let server = TestServer::boot(dir, config, clock).await;
    assert_eq!(server.base, format!("http://{addr}"));

    b.wait_js(
        "the resumed upload to finish",
        BIG,
        "document.getElementById('share-modal').open",
    )
    .await;
    let shared = read_share_dialog(&b).await;
    // Chunk 0 was sent once: the page went on with the same session after the restart.
    let puts = b.js("return window.__qopyGate.puts", vec![]).await;
    assert_eq!(puts["0"], json!(1), "chunk 0 was sent again: {puts}");
    assert!(
        saved_upload_id(&b).await.is_none(),
        "the finished upload is still saved for resuming"
    );
    let (meta, plain) = rust_decrypt(&server.base, &shared.url).await;
    assert_eq!(meta.name, "resume-me.bin");
    assert_eq!(plain.len(), size);
    assert_eq!(
        sha256_hex(&plain),
        want,
        "the resumed upload's content differs"
    );
    b.close().await;
    server.stop().await;
}

/// Counts the chunk PUTs the page itself sends (test-only): a big file's chunks must come
/// from the upload workers (assets/js/upload-workers.js), not from the page.
const COUNT_PAGE_PUTS: &str = "
  window.__pagePuts = 0;
  const real = window.fetch.bind(window);
  window.fetch = (input, init) => {
    if (/\\/api\\/upload\\/chunk\\//.test(String(input && input.url ? input.url : input))) window.__pagePuts++;
    return real(input, init);
  };";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_big_upload_sent_by_workers_survives_a_server_restart() {
    let size = 160 * 1024 * 1024 + 999; // 33 chunks: above the page's worker threshold
    let u = UploadUnderWay::start(size, 91, "workers.bin", COUNT_PAGE_PUTS).await;
    let (server, b, want) = (u.server, u.browser, u.want);

    // The server stops as soon as it holds a chunk, with most of the file still to come.
    let stored = b
        .wait_for("a first chunk stored", BIG, || async {
            stored_chunks(&u.status_url).await.filter(|n| *n >= 1)
        })
        .await;
    let (dir, config, clock) = server.stop().await;
    assert!(stored < 33, "the upload finished before the server stopped");
    tokio::time::sleep(Duration::from_millis(1500)).await; // requests fail meanwhile
    assert_eq!(
        b.js("return document.getElementById('share-modal').open", vec![])
            .await,
        json!(false),
        "the upload claims to be done while the server is down"
    );
    let server = TestServer::boot(dir, config, clock).await;

    b.wait_js(
        "the upload to finish after the restart",
        BIG,
        "document.getElementById('share-modal').open",
    )
    .await;
    let shared = read_share_dialog(&b).await;
    assert_eq!(
        b.js("return window.__pagePuts", vec![]).await,
        json!(0),
        "the page sent chunks itself: the upload workers were not used"
    );
    let (meta, plain) = rust_decrypt(&server.base, &shared.url).await;
    assert_eq!(meta.name, "workers.bin");
    assert_eq!(plain.len(), size);
    assert_eq!(
        sha256_hex(&plain),
        want,
        "the content sent by the workers differs"
    );
    b.close().await;
    server.stop().await;
}
