//! Logs never carry secrets (security-and-reliability §0.10, §10 L1): the real binary runs
//! with `--log debug` while clients upload, look up and download clips with access codes,
//! cancel uploads, fail lookups and use the admin API; its whole output must then contain no
//! full upload ID, no full clip ID, no access-code hash (nor a 16-character piece of one), no
//! admin token and no request body.

use crate::harness::{access_hash, Answer, Spawn};
use reqwest::Method;
use serde_json::json;

const ADMIN: &str = "logs-test-admin-token-0123456789";
const BODY_MARKER: &str = "BODY-MARKER-7f3a9c";

#[tokio::test]
async fn debug_logs_hold_no_ids_hashes_tokens_or_bodies() {
    let dir = tempfile::tempdir().unwrap();
    let server = Spawn::qopy(&dir.path().join("data"))
        .args(["--admin-token", ADMIN, "--min-free-disk", "1MiB"])
        .args(["--log", "debug"])
        .spawn()
        .ready();
    let h = server.http();
    let hash = access_hash(42);
    let wrong = access_hash(43);
    let mut upload_ids = Vec::new();
    let mut clip_ids = Vec::new();
    for (one_time, code) in [(false, true), (true, true), (false, false), (true, false)] {
        let up = h
            .initiate(
                json!({"filename": "secret-name.txt", "filesize": 40, "totalChunks": 1,
                             "contentType": "text", "oneTime": one_time}),
            )
            .await;
        let chunk = format!("{BODY_MARKER} chunk content.....");
        let (s, v) = h.put_chunk(&up, 0, chunk.into_bytes()).await;
        assert_eq!(s, 200, "{v}");
        h.get(&format!("/api/upload/{up}/status")).answer().await;
        let complete = if code {
            json!({"requiresAccessCode": true, "accessCodeHash": hash})
        } else {
            json!({})
        };
        let (s, v) = h
            .post_json(&format!("/api/upload/complete/{up}"), complete)
            .await;
        assert_eq!(s, 200, "{v}");
        let id = v["clipId"].as_str().unwrap().to_string();
        h.get(&format!("/api/clip/{id}/info")).answer().await;
        h.get(&format!("/api/file/{id}/info")).answer().await;
        if code {
            let wrong = json!({"accessCode": wrong});
            let (s, _) = h.post_json(&format!("/api/file/{id}"), wrong.clone()).await;
            assert_eq!(s, 401);
            let (s, _) = h.post_json(&format!("/api/clip/{id}"), wrong).await;
            assert!(s == 401 || s == 403, "{s}");
        }
        let (s, _) = h.download_bytes(&id, code.then_some(hash.as_str())).await;
        assert_eq!(s, 200);
        upload_ids.push(up);
        clip_ids.push(id);
    }
    // A cancelled upload, unknown IDs, bad input, the admin API.
    let up = h
        .initiate(json!({"filename": "x", "filesize": 10, "totalChunks": 1, "contentType": "file"}))
        .await;
    h.request(Method::DELETE, &format!("/api/upload/{up}"))
        .answer()
        .await;
    upload_ids.push(up);
    h.get("/api/clip/ZZZZZZZZZZ/info").answer().await;
    h.get("/api/upload/0123456789ABCDEF/status").answer().await;
    h.post("/api/upload/initiate")
        .header("content-type", "application/json")
        .body(format!("{{\"filename\": \"{BODY_MARKER}\", broken"))
        .answer()
        .await;
    for (path, token) in [
        ("/api/admin/stats", ADMIN),
        ("/api/admin/clips", ADMIN),
        ("/api/admin/stats", "wrong-token-wrong-token"),
    ] {
        h.get(path).bearer_auth(token).answer().await;
    }
    // SIGTERM: a graceful stop, so everything is written out.
    let mut server = server;
    server.terminate();
    let log = server.log();
    assert!(
        log.lines().count() > 5,
        "the debug log is nearly empty, so this test proves nothing:\n{log}"
    );
    let mut leaks = Vec::new();
    for id in &upload_ids {
        if log.to_ascii_uppercase().contains(&id.to_ascii_uppercase()) {
            leaks.push(format!("upload ID {id}"));
        }
    }
    for id in &clip_ids {
        if log.contains(id.as_str()) {
            leaks.push(format!("clip ID {id}"));
        }
    }
    // sled's debug lines print keys as byte lists: look for the IDs in that form too.
    let byte_list = |b: &[u8]| {
        b.iter()
            .map(|x| x.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    };
    for id in &clip_ids {
        if log.contains(&byte_list(id.as_bytes())) {
            leaks.push(format!("clip ID {id} as bytes"));
        }
    }
    for id in &upload_ids {
        if log.contains(&byte_list(&hex::decode(id).unwrap())) {
            leaks.push(format!("upload ID {id} as bytes"));
        }
    }
    for (what, secret) in [
        ("access-code hash", &hash),
        ("wrong access-code hash", &wrong),
    ] {
        for start in (0..secret.len() - 16).step_by(8) {
            if log.contains(&secret[start..start + 16]) {
                leaks.push(format!("{what} (characters {start}..{})", start + 16));
                break;
            }
        }
    }
    for (what, secret) in [
        ("admin token", ADMIN),
        ("wrong admin token", "wrong-token-wrong-token"),
        ("request body", BODY_MARKER),
        ("file name", "secret-name"),
    ] {
        if log.contains(secret) {
            leaks.push(what.to_string());
        }
    }
    if std::env::var_os("QOPY_SHOW_LOG").is_some() {
        println!("{log}");
    }
    assert!(
        leaks.is_empty(),
        "the log leaks: {leaks:?}\n--- log ---\n{log}"
    );
}
