//! The Rust V4 code (`qopy::v4`) and the browser read each other's output: a clip the Rust
//! code encrypts and uploads opens in the page (text shown exactly, file saved with the same
//! bytes and name), and a text clip made in the page decrypts in Rust. (The file direction,
//! browser to Rust, is in `ui_file`.)

use super::driver::Browser;
use super::ui::{open_app, retrieved_text, share_text, TextOptions};
use super::ui_file::download_via_link;
use crate::harness::{test_bytes, TestServer};
use qopy::v4::{encrypt_all, generate_secret, EncryptOptions, Kind, Metadata};
use serde_json::json;
use sha2::{Digest, Sha256};

/// Encrypts with the Rust code and uploads through the API like the browser client does;
/// returns the clip ID.
async fn rust_upload(server: &TestServer, secret: &str, meta: Metadata, plain: Vec<u8>) -> String {
    let kind = meta.kind;
    let s = secret.to_string();
    let ct = tokio::task::spawn_blocking(move || {
        encrypt_all(&s, None, &meta, &EncryptOptions::default(), &plain).unwrap()
    })
    .await
    .unwrap();
    let text = kind == Kind::Text;
    let done = server
        .upload(
            &ct,
            json!({
                "filename": "0123456789abcdef0123456789abcdef",
                "filesize": ct.len(),
                "contentType": if text { "text" } else { "file" },
                "isTextContent": text,
                "mimeType": "application/octet-stream",
            }),
            json!({}),
        )
        .await;
    done["clipId"].as_str().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rust_encrypted_clips_open_in_the_browser_and_browser_text_decrypts_in_rust() {
    let server = TestServer::start().await;
    let b = Browser::start().await;

    // Rust -> browser: text.
    let text = "  Rust → Browser: Grüße 🦀 世界\n\t ";
    let secret = generate_secret();
    let id = rust_upload(
        &server,
        &secret,
        Metadata::text(text.len() as u64),
        text.as_bytes().to_vec(),
    )
    .await;
    open_app(&b, &server.url(&format!("/clip/{id}#{secret}"))).await;
    assert_eq!(retrieved_text(&b).await, text);

    // Rust -> browser: a file of several records and upload chunks.
    let data = test_bytes(6 * 1024 * 1024 + 12_345, 9);
    let name = "from-rust (1).bin";
    let secret = generate_secret();
    let id = rust_upload(
        &server,
        &secret,
        Metadata::file(name, "application/octet-stream", data.len() as u64),
        data.clone(),
    )
    .await;
    let saved = download_via_link(&b, &server.url(&format!("/file/{id}#{secret}"))).await;
    assert_eq!(saved.file_name().unwrap().to_string_lossy(), name);
    let got = std::fs::read(&saved).unwrap();
    assert!(
        Sha256::digest(&got) == Sha256::digest(&data),
        "the browser saved other bytes"
    );

    // Browser -> Rust: text.
    open_app(&b, &server.url("/")).await;
    let text = " Browser → Rust: ✓ Ünïcödé 🔐 ";
    let shared = share_text(&b, text, TextOptions::default()).await;
    let (path, secret) = shared.url.split_once('#').unwrap();
    let id = path.rsplit('/').next().unwrap();
    let (status, ct) = server.download_bytes(id, None).await;
    assert_eq!(status, 200);
    let secret = secret.to_string();
    let (meta, plain) =
        tokio::task::spawn_blocking(move || qopy::v4::decrypt_all(&secret, None, &ct))
            .await
            .unwrap()
            .expect("Rust decrypts the browser's text clip");
    assert_eq!(meta.kind, Kind::Text);
    assert_eq!(String::from_utf8(plain).unwrap(), text);
    b.close().await;
}
