//! Regression tests for bugs of the original Qopy that no other module pins down
//! (reference §12.1 and §12.2).

use crate::harness::*;
use serde_json::json;
use std::time::Duration;

fn now_ms(server: &TestServer) -> u64 {
    use qopy::clock::Clock;
    server.clock.now_ms()
}

/// §12.1.10: the session expiry was the clip expiry, so a Quick Share upload slower than
/// five minutes died mid-way and the clip lived shorter than chosen.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn regression_slow_quick_share_upload_survives() {
    let server = TestServer::start_with(|c| c.chunk_size = 64 * 1024).await;
    let data = test_bytes(100_000, 7);
    let upload = server
        .initiate(
            json!({"filename": "q", "totalChunks": 2, "contentType": "text", "quickShare": true}),
        )
        .await;
    let (s, _) = server.put_chunk(&upload, 0, data[..65536].to_vec()).await;
    assert_eq!(s, 200);
    server.clock.advance(Duration::from_secs(10 * 60));
    server.sweep().await;
    let (s, v) = server.put_chunk(&upload, 1, data[65536..].to_vec()).await;
    assert_eq!(s, 200, "{v}");
    let (s, v) = server
        .post_json(&format!("/api/upload/complete/{upload}"), json!({}))
        .await;
    assert_eq!(s, 200, "{v}");
    let expires = v["expiresAt"].as_u64().unwrap();
    let now = now_ms(&server);
    assert!(
        expires >= now + 299_000 && expires <= now + 301_000,
        "{expires} vs {now}"
    );
    let id = v["clipId"].as_str().unwrap();
    assert_eq!(id.len(), 6);
    let (s, body) = server.download_bytes(id, None).await;
    assert_eq!(s, 200);
    assert!(body == data);
}

/// §12.1.12: a migration turned every text clip into a file clip on restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn regression_text_clip_stays_text_after_restart() {
    let server = TestServer::start().await;
    let v = server
        .upload(
            b"hello",
            json!({"contentType": "text", "filename": "t"}),
            json!({}),
        )
        .await;
    let id = v["clipId"].as_str().unwrap().to_string();
    assert!(v["url"].as_str().unwrap().contains("/clip/"));
    let server = server.restart().await;
    let (s, info) = server.get_json(&format!("/api/clip/{id}/info")).await;
    assert_eq!(s, 200);
    assert_eq!(info["contentType"], "text");
    let (s, d) = server.get_json(&format!("/api/clip/{id}")).await;
    assert_eq!(s, 200);
    assert_eq!(d["isTextFile"], true);
    let (s, _) = server.get_json(&format!("/api/file/{id}/info")).await;
    assert_eq!(s, 404, "a text clip has no file info");
}

/// §12.2.1: the access-code hash was stored verbatim, a replayable credential. Nothing in
/// the data directory may contain what the client sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn regression_access_hash_is_never_stored() {
    let server = TestServer::start().await;
    let code = access_hash(42);
    let v = server
        .upload(
            b"secret",
            json!({"hasPassword": true}),
            json!({"accessCodeHash": code, "requiresAccessCode": true}),
        )
        .await;
    let id = v["clipId"].as_str().unwrap().to_string();
    let (dir, _, _) = server.stop().await;
    let needle = code.as_bytes();
    let needle_bin = hex_decode(&code);
    let mut stack = vec![dir.path().to_path_buf()];
    let mut files = 0;
    while let Some(p) = stack.pop() {
        for e in std::fs::read_dir(&p).unwrap().flatten() {
            let path = e.path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            files += 1;
            let bytes = std::fs::read(&path).unwrap();
            assert!(
                !contains(&bytes, needle) && !contains(&bytes, &needle_bin),
                "{} holds the client's access hash",
                path.display()
            );
        }
    }
    assert!(files > 2);
    // And the code still works after the restart that follows.
    let server = TestServer::start_with(|c| c.data_dir = dir.path().to_path_buf()).await;
    let (s, _) = server.download_bytes(&id, Some(&code)).await;
    assert_eq!(s, 200);
    let (s, _) = server.download_bytes(&id, Some(&access_hash(43))).await;
    assert_eq!(s, 401);
}

fn hex_decode(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// §6.3 and §12.1.15: chunk directories were never removed, and files of consumed or failed
/// clips stayed on disk for ever.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn regression_no_files_left_behind() {
    let server = TestServer::start_with(|c| c.chunk_size = 64 * 1024).await;
    let v = server
        .upload(&test_bytes(200_000, 3), json!({"oneTime": true}), json!({}))
        .await;
    let id = v["clipId"].as_str().unwrap().to_string();
    assert!(!files_under(&server.data_dir()).is_empty());
    let (s, _) = server.download_bytes(&id, None).await;
    assert_eq!(s, 200);
    // The claim ends once the last byte is sent, just after the answer.
    let dir = server.data_dir();
    eventually(
        "the consumed clip's files go",
        Duration::from_secs(5),
        || files_under(&dir).is_empty(),
    )
    .await;
    let dirs = std::fs::read_dir(server.data_dir().join("blobs"))
        .unwrap()
        .count();
    assert_eq!(dirs, 0, "directories left behind");
    server.stop().await;
}
