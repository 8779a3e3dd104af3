//! Files through the real UI: a 50 MiB round trip (chosen in Share Files, downloaded from
//! the link in a second tab into Chromium's download directory) with an identical SHA-256,
//! and an upload interrupted by a server restart that resumes and completes.

use super::driver::Browser;
use super::ui::{open_app, read_share_dialog, second_tab};
use crate::harness::{test_bytes, TestServer};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::time::Duration;

const BIG: Duration = Duration::from_secs(180);

fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

/// Writes `data` to a file named `name` in a fresh temporary directory.
fn temp_file(name: &str, data: &[u8]) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(name);
    std::fs::write(&path, data).unwrap();
    (dir, path)
}

/// Chooses `path` in the Share Files tab (as the file dialog would).
async fn choose_file(b: &Browser, path: &Path) {
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
    (path.rsplit('/').next().unwrap().to_string(), secret.to_string())
}

/// Downloads a clip's ciphertext from the server and decrypts it with the Rust V4 code.
async fn rust_decrypt(server: &TestServer, url: &str) -> (qopy::v4::Metadata, Vec<u8>) {
    let (id, secret) = id_and_secret(url);
    let (status, ct) = server.download_bytes(&id, None).await;
    assert_eq!(status, 200);
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
    let shared = b
        .wait_for("the 50 MiB upload to finish", BIG, || async {
            let open = b
                .js("return document.getElementById('share-modal').open", vec![])
                .await;
            (open == json!(true)).then_some(())
        })
        .await;
    let _ = shared;
    let shared = read_share_dialog(&b).await;
    assert!(shared.url.starts_with(&server.url("/")), "{shared:?}");

    // The Rust V4 code reads the browser's ciphertext.
    let (meta, plain) = rust_decrypt(&server, &shared.url).await;
    assert_eq!(meta.name, "fifty MiB – Größe.bin");
    assert_eq!(meta.size, 50 * 1024 * 1024);
    assert_eq!(sha256_hex(&plain), want, "Rust decryption of the browser upload");
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
async fn saved_upload_id(b: &Browser) -> Option<String> {
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upload_interrupted_by_a_server_restart_resumes_and_completes() {
    // A fixed port, so the page's origin survives the restart.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let addr: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let server = TestServer::start_with(|c| c.listen = addr).await;
    let size = 40 * 1024 * 1024; // 8 upload chunks of 5 MiB
    let data = test_bytes(size, 77);
    let want = sha256_hex(&data);
    let (_dir, path) = temp_file("resume-me.bin", &data);
    drop(data);

    let b = Browser::start().await;
    open_app(&b, &server.url("/")).await;
    choose_file(&b, &path).await;
    // Slow the page's uploads down (about 8 MB/s), so the restart lands mid-upload.
    b.cdp("Network.enable", json!({})).await;
    b.cdp(
        "Network.emulateNetworkConditions",
        json!({ "offline": false, "latency": 0, "downloadThroughput": -1, "uploadThroughput": 8_000_000 }),
    )
    .await;
    b.click("[data-testid=file-submit]").await;

    // Wait until the server has some chunks, but not all.
    let upload = b
        .wait_for("the page to start an upload session", BIG, || async {
            saved_upload_id(&b).await
        })
        .await;
    let status_url = server.url(&format!("/api/upload/{upload}/status"));
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    let before = b
        .wait_for("a first stored chunk", BIG, || async {
            let v: Value = http.get(&status_url).send().await.ok()?.json().await.ok()?;
            let n = v["chunks"].as_array().map(|c| c.len()).unwrap_or(0);
            (n >= 1).then_some(n)
        })
        .await;
    assert!(before < 8, "the upload finished before the restart ({before} chunks)");
    b.screenshot("desktop-light-upload-in-progress").await;

    let t0 = std::time::Instant::now();
    let server = server.restart().await;
    eprintln!("restart took {:?}; before={before}; modal open: {}; saved: {:?}", t0.elapsed(),
        b.js("return document.getElementById('share-modal').open", vec![]).await, saved_upload_id(&b).await);
    assert_eq!(server.base, format!("http://{addr}"));
    // The session and its chunks survived the restart (the page is still throttled, so it
    // cannot have finished yet), and the page still holds the same session.
    let v: Value = http.get(&status_url).send().await.unwrap().json().await.unwrap();
    let after = v["chunks"].as_array().map(|c| c.len()).unwrap_or(0);
    assert!(after >= before && after < 8, "status after the restart: {v}");
    assert_eq!(saved_upload_id(&b).await.as_deref(), Some(upload.as_str()));
    b.cdp(
        "Network.emulateNetworkConditions",
        json!({ "offline": false, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1 }),
    )
    .await;

    b.wait_for("the resumed upload to finish", BIG, || async {
        let open = b
            .js("return document.getElementById('share-modal').open", vec![])
            .await;
        (open == json!(true)).then_some(())
    })
    .await;
    let shared = read_share_dialog(&b).await;
    // The same session completed: its chunks from before the restart were kept.
    let (_, secret) = id_and_secret(&shared.url);
    assert!(!secret.is_empty());
    assert!(saved_upload_id(&b).await.is_none(), "the finished upload is still saved for resuming");
    let (meta, plain) = rust_decrypt(&server, &shared.url).await;
    assert_eq!(meta.name, "resume-me.bin");
    assert_eq!(sha256_hex(&plain), want, "the resumed upload's content differs");
    b.close().await;
}
