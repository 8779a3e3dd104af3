//! Logs never carry secrets (security-and-reliability §0.10, §10 L1): the real binary runs
//! with `--log debug` while clients upload, look up and download clips with access codes,
//! cancel uploads, fail lookups and use the admin API; its whole output must then contain no
//! full upload ID, no full clip ID, no access-code hash (nor a 16-character piece of one), no
//! admin token and no request body.

use crate::harness::{access_hash, Answer, Spawn};
use serde_json::{json, Value};

const ADMIN: &str = "logs-test-admin-token-0123456789";
const BODY_MARKER: &str = "BODY-MARKER-7f3a9c";

async fn post(c: &reqwest::Client, url: String, body: Value) -> (u16, Value) {
    let r = c.post(url).json(&body).answer().await;
    (r.status().as_u16(), r.json().await.unwrap_or_default())
}

#[tokio::test]
async fn debug_logs_hold_no_ids_hashes_tokens_or_bodies() {
    let dir = tempfile::tempdir().unwrap();
    let server = Spawn::qopy(&dir.path().join("data"))
        .args(["--admin-token", ADMIN, "--min-free-disk", "1MiB"])
        .args(["--log", "debug"])
        .spawn()
        .ready();
    let base = server.base.clone();
    let c = reqwest::Client::builder().no_proxy().build().unwrap();
    let hash = access_hash(42);
    let wrong = access_hash(43);
    let mut upload_ids = Vec::new();
    let mut clip_ids = Vec::new();
    for (one_time, code) in [(false, true), (true, true), (false, false), (true, false)] {
        let (s, v) = post(
            &c,
            format!("{base}/api/upload/initiate"),
            json!({"filename": "secret-name.txt", "filesize": 40, "totalChunks": 1,
                   "contentType": "text", "oneTime": one_time}),
        )
        .await;
        assert_eq!(s, 200, "{v}");
        let up = v["uploadId"].as_str().unwrap().to_string();
        let r = c
            .put(format!("{base}/api/upload/chunk/{up}/0"))
            .header("content-type", "application/octet-stream")
            .body(format!("{BODY_MARKER} chunk content....."))
            .answer()
            .await;
        assert_eq!(r.status(), 200);
        let _ = c
            .get(format!("{base}/api/upload/{up}/status"))
            .answer()
            .await;
        let complete = if code {
            json!({"requiresAccessCode": true, "accessCodeHash": hash})
        } else {
            json!({})
        };
        let (s, v) = post(&c, format!("{base}/api/upload/complete/{up}"), complete).await;
        assert_eq!(s, 200, "{v}");
        let id = v["clipId"].as_str().unwrap().to_string();
        let _ = c.get(format!("{base}/api/clip/{id}/info")).answer().await;
        let _ = c.get(format!("{base}/api/file/{id}/info")).answer().await;
        if code {
            let (s, _) = post(
                &c,
                format!("{base}/api/file/{id}"),
                json!({"accessCode": wrong}),
            )
            .await;
            assert_eq!(s, 401);
            let (s, _) = post(
                &c,
                format!("{base}/api/clip/{id}"),
                json!({"accessCode": wrong}),
            )
            .await;
            assert!(s == 401 || s == 403, "{s}");
        }
        let body = if code {
            json!({"accessCode": hash})
        } else {
            json!({})
        };
        let r = c
            .post(format!("{base}/api/file/{id}"))
            .json(&body)
            .answer()
            .await;
        assert_eq!(r.status(), 200);
        let _ = r.bytes().await;
        upload_ids.push(up);
        clip_ids.push(id);
    }
    // A cancelled upload, unknown IDs, bad input, the admin API.
    let (_, v) = post(
        &c,
        format!("{base}/api/upload/initiate"),
        json!({"filename": "x", "filesize": 10, "totalChunks": 1, "contentType": "file"}),
    )
    .await;
    let up = v["uploadId"].as_str().unwrap().to_string();
    let _ = c.delete(format!("{base}/api/upload/{up}")).answer().await;
    upload_ids.push(up);
    let _ = c
        .get(format!("{base}/api/clip/ZZZZZZZZZZ/info"))
        .answer()
        .await;
    let _ = c
        .get(format!("{base}/api/upload/0123456789ABCDEF/status"))
        .answer()
        .await;
    let _ = c
        .post(format!("{base}/api/upload/initiate"))
        .header("content-type", "application/json")
        .body(format!("{{\"filename\": \"{BODY_MARKER}\", broken"))
        .answer()
        .await;
    let _ = c
        .get(format!("{base}/api/admin/stats"))
        .bearer_auth(ADMIN)
        .answer()
        .await;
    let _ = c
        .get(format!("{base}/api/admin/clips"))
        .bearer_auth(ADMIN)
        .answer()
        .await;
    let _ = c
        .get(format!("{base}/api/admin/stats"))
        .bearer_auth("wrong-token-wrong-token")
        .answer()
        .await;
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
