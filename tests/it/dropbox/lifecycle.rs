//! Drop boxes over time: places given back by cancelled and abandoned sessions, expiry and
//! the sweep, deletion by the owner, and restarts.

use super::*;
use qopy::v4::base64url_decode;
use qopy::v4::wrap::{unwrap_secret, wrap_secret};
use reqwest::Method;
use serde_json::json;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelled_and_abandoned_sessions_give_their_place_back() {
    let s = TestServer::start_with(|c| {
        c.chunk_size = CHUNK;
        c.session_idle = Duration::from_secs(60);
    })
    .await;
    let (b, _) = create(&s, json!({ "maxItems": 1, "maxBytes": 500 })).await;
    let wrapped = wrap_secret(b"k", &b.keys.public_bytes(), &b.id).unwrap();
    let body = item_initiate(&b.id, 500, &wrapped);
    let used = |s: &TestServer| {
        let path = format!("/api/dropbox/{}", b.id);
        let http = s.http.clone();
        async move { http.get_json(&path).await.1["usedBytes"].as_u64() }
    };
    let upload = s.initiate(body.clone()).await;
    assert_eq!(used(&s).await, Some(500));
    assert_eq!(
        s.post_json("/api/upload/initiate", body.clone()).await.0,
        409
    );
    let (status, _) = s
        .request(Method::DELETE, &format!("/api/upload/{upload}"))
        .json_answer()
        .await;
    assert_eq!(status, 200);
    assert_eq!(used(&s).await, Some(0));

    // An abandoned session: swept after session_idle, and its place is free again.
    let upload = s.initiate(body.clone()).await;
    assert_eq!(s.put_chunk(&upload, 0, vec![1; 200]).await.0, 200);
    assert_eq!(
        s.post_json("/api/upload/initiate", body.clone()).await.0,
        409
    );
    s.clock.advance(Duration::from_secs(120));
    assert_eq!(s.sweep().await["abandonedSessions"], 1);
    assert_eq!(used(&s).await, Some(0));
    assert_eq!(s.post_json("/api/upload/initiate", body).await.0, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_upload_into_a_box_gives_its_place_back_within_a_quarter_hour() {
    // session_idle stays at its day: an upload into a box goes much sooner.
    let s = start().await;
    let (b, _) = create(&s, json!({ "maxItems": 1 })).await;
    let wrapped = wrap_secret(b"k", &b.keys.public_bytes(), &b.id).unwrap();
    let body = item_initiate(&b.id, 500, &wrapped);
    let upload = s.initiate(body.clone()).await;
    assert_eq!(s.put_chunk(&upload, 0, vec![1; 200]).await.0, 200);
    s.clock.advance(Duration::from_secs(10 * 60));
    assert_eq!(s.sweep().await["abandonedSessions"], 0, "too soon");
    assert_eq!(
        s.post_json("/api/upload/initiate", body.clone()).await.0,
        409
    );
    s.clock.advance(Duration::from_secs(6 * 60));
    assert_eq!(s.sweep().await["abandonedSessions"], 1);
    assert_eq!(s.post_json("/api/upload/initiate", body).await.0, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn completing_into_a_deleted_box_removes_the_upload_at_once() {
    let s = start().await;
    let (b, _) = create(&s, json!({})).await;
    let wrapped = wrap_secret(b"k", &b.keys.public_bytes(), &b.id).unwrap();
    let upload = s.initiate(item_initiate(&b.id, 100, &wrapped)).await;
    assert_eq!(s.put_chunk(&upload, 0, vec![7; 100]).await.0, 200);
    let path = format!("/api/dropbox/{}", b.id);
    let gone = owned(&s, Method::DELETE, &path, &b.token)
        .send()
        .await
        .unwrap();
    assert_eq!(gone.status().as_u16(), 204);
    let complete = format!("/api/upload/complete/{upload}");
    assert_eq!(s.post_json(&complete, json!({})).await.0, 404);
    let status = format!("/api/upload/{upload}/status");
    assert_eq!(s.get_json(&status).await.0, 404, "the session stayed");
    assert!(
        files_under(&s.data_dir().join("blobs")).is_empty(),
        "its chunk files stayed"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_box_accepts_nothing_and_is_swept_with_its_items() {
    let s = start().await;
    let (b, _) = create(&s, json!({ "expiration": "5min" })).await;
    let data = test_bytes(2 * CHUNK as usize, 7);
    let v = send(&s, &b, &data, b"k").await;
    let clip = v["clipId"].as_str().unwrap().to_string();
    // A session started before expiry cannot complete after it.
    let wrapped = wrap_secret(b"k", &b.keys.public_bytes(), &b.id).unwrap();
    let late = s.initiate(item_initiate(&b.id, 10, &wrapped)).await;
    assert_eq!(s.put_chunk(&late, 0, vec![2; 10]).await.0, 200);
    assert!(!files_under(&s.data_dir()).is_empty());

    s.clock.advance(Duration::from_secs(5 * 60 + 1));
    let (status, v) = s.get_json(&format!("/api/dropbox/{}", b.id)).await;
    assert_eq!((status, error_of(&v)), (410, "expired"));
    let (status, v) = s
        .post_json("/api/upload/initiate", item_initiate(&b.id, 10, &wrapped))
        .await;
    assert_eq!((status, error_of(&v)), (410, "expired"));
    let (status, v) = list(&s, &b, "").await;
    assert_eq!((status, error_of(&v)), (410, "expired"));
    let (status, v) = s
        .post_json(&format!("/api/upload/complete/{late}"), json!({}))
        .await;
    assert_eq!((status, error_of(&v)), (410, "expired"), "{v}");
    assert_eq!(s.download(&clip, None).await.status(), 404);

    let report = s.sweep().await;
    assert_eq!(report["droppedBoxes"], 1, "{report}");
    let (status, v) = s.get_json(&format!("/api/dropbox/{}", b.id)).await;
    assert_eq!((status, error_of(&v)), (404, "not_found"));
    // The late session went when its complete was refused; the item's files with the box.
    let (status, _) = s
        .request(Method::DELETE, &format!("/api/upload/{late}"))
        .json_answer()
        .await;
    assert_eq!(status, 404);
    assert_eq!(files_under(&s.data_dir()), Vec::<String>::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_owner_deletes_an_item_then_the_box() {
    let s = start().await;
    let (b, _) = create(&s, json!({ "maxItems": 2 })).await;
    let first = send(&s, &b, &test_bytes(1000, 1), b"a").await;
    let second = send(&s, &b, &test_bytes(2000, 2), b"b").await;
    let (c1, c2) = (
        first["clipId"].as_str().unwrap(),
        second["clipId"].as_str().unwrap(),
    );
    let item = |clip: &str| format!("/api/dropbox/{}/items/{clip}", b.id);
    let r = owned(&s, Method::DELETE, &item(c1), &b.token)
        .answer()
        .await;
    assert_eq!(r.status(), 204);
    assert_eq!(s.download(c1, None).await.status(), 404);
    let (status, v) = owned(&s, Method::DELETE, &item(c1), &b.token)
        .json_answer()
        .await;
    assert_eq!((status, error_of(&v)), (404, "not_found"));
    let (_, v) = list(&s, &b, "").await;
    assert_eq!(v["items"].as_array().unwrap().len(), 1);
    assert_eq!(
        (v["items"][0]["seq"].as_u64(), v["next"].as_u64()),
        (Some(2), Some(2))
    );
    let (_, i) = s.get_json(&format!("/api/dropbox/{}", b.id)).await;
    assert_eq!(
        (i["items"].as_u64(), i["usedBytes"].as_u64()),
        (Some(1), Some(2000))
    );
    // Its room is free again: a third item fits under maxItems 2, and numbering goes on.
    let third = send(&s, &b, b"third", b"c").await;
    let (_, v) = list(&s, &b, "?after=2").await;
    assert_eq!(v["items"][0]["seq"], 3);
    assert_eq!(v["items"][0]["clipId"], third["clipId"]);

    let r = owned(
        &s,
        Method::DELETE,
        &format!("/api/dropbox/{}", b.id),
        &b.token,
    )
    .answer()
    .await;
    assert_eq!(r.status(), 204);
    assert_eq!(s.get_json(&format!("/api/dropbox/{}", b.id)).await.0, 404);
    assert_eq!(s.download(c2, None).await.status(), 404);
    assert_eq!(
        s.download(third["clipId"].as_str().unwrap(), None)
            .await
            .status(),
        404
    );
    assert_eq!(files_under(&s.data_dir()), Vec::<String>::new());
    let (status, v) = list(&s, &b, "").await;
    assert_eq!((status, error_of(&v)), (404, "not_found"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn boxes_and_items_survive_a_restart() {
    let s = start().await;
    let (b, _) = create(&s, json!({ "maxItems": 3 })).await;
    let data = test_bytes(CHUNK as usize + 9, 4);
    let v = send(&s, &b, &data, b"kept").await;
    let wrapped = wrap_secret(b"k", &b.keys.public_bytes(), &b.id).unwrap();
    s.initiate(item_initiate(&b.id, 100, &wrapped)).await;
    let (_, before) = s.get_json(&format!("/api/dropbox/{}", b.id)).await;
    let s = s.restart().await;
    let (status, after) = s.get_json(&format!("/api/dropbox/{}", b.id)).await;
    assert_eq!(status, 200);
    assert_eq!(before, after);
    assert_eq!(after["usedBytes"].as_u64(), Some(data.len() as u64 + 100));
    let (status, listed) = list(&s, &b, "").await;
    assert_eq!(status, 200);
    assert_eq!(listed["items"][0]["clipId"], v["clipId"]);
    let wrapped = base64url_decode(listed["items"][0]["wrappedKey"].as_str().unwrap()).unwrap();
    assert_eq!(unwrap_secret(&b.keys, &wrapped, &b.id).unwrap(), b"kept");
    let (status, bytes) = s.download_bytes(v["clipId"].as_str().unwrap(), None).await;
    assert_eq!((status, bytes == data), (200, true));
    // Numbering goes on after the restart.
    send(&s, &b, b"after", b"k2").await;
    let (_, listed) = list(&s, &b, "?after=1").await;
    assert_eq!(listed["items"][0]["seq"], 2);
}

/// Every file under `dir`, read whole.
fn all_files(dir: &std::path::Path) -> Vec<(std::path::PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(p) = stack.pop() {
        for e in std::fs::read_dir(&p).unwrap().flatten() {
            let path = e.path();
            if path.is_dir() {
                stack.push(path);
            } else {
                out.push((path.clone(), std::fs::read(&path).unwrap()));
            }
        }
    }
    out
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_owner_token_and_the_private_key_never_reach_the_data_directory() {
    let s = start().await;
    let (b, _) = create(&s, json!({})).await;
    send(&s, &b, b"item", b"k").await;
    let (dir, config, clock) = s.stop().await;
    let token_raw: Vec<u8> = (0..b.token.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&b.token[i..i + 2], 16).unwrap())
        .collect();
    let private = b.keys.private_bytes();
    let files = all_files(dir.path());
    // The scan sees stored values as they are: the public key is there.
    assert!(
        files
            .iter()
            .any(|(_, bytes)| contains(bytes, &b.keys.public_bytes())),
        "the public key is stored as given"
    );
    for (path, bytes) in &files {
        for (what, needle) in [
            ("owner token", b.token.as_bytes()),
            ("owner token bytes", token_raw.as_slice()),
            ("private key", private.as_slice()),
        ] {
            assert!(
                !contains(bytes, needle),
                "{} holds the {what}",
                path.display()
            );
        }
    }
    // Only the token's hash is kept, and it still opens the box.
    let s = TestServer::boot(dir, config, clock).await;
    assert_eq!(list(&s, &b, "").await.0, 200);
}

/// A session stored by the previous release (version 4: no drop-box field) is migrated at
/// start-up and completes as before. The version-4 value is made from a version-5 one: the
/// new field is the last one and is `None`, which bincode writes as one 0 byte.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_of_the_previous_release_is_migrated_and_completes() {
    let s = start().await;
    let data = b"started before the upgrade".to_vec();
    let upload = s
        .initiate(json!({ "filename": "old.bin", "filesize": data.len(), "contentType": "file" }))
        .await;
    let (dir, config, clock) = s.stop().await;
    {
        let db = sled::open(dir.path().join("db")).unwrap();
        let sessions = db.open_tree("sessions").unwrap();
        let key = u64::from_str_radix(&upload, 16).unwrap().to_be_bytes();
        let v5 = sessions.get(key).unwrap().unwrap().to_vec();
        assert_eq!(
            (v5[0], v5[v5.len() - 1]),
            (5, 0),
            "a version-5 session without a box"
        );
        let mut v4 = v5[..v5.len() - 1].to_vec();
        v4[0] = 4;
        sessions.insert(key, v4).unwrap();
        db.open_tree("meta")
            .unwrap()
            .insert("format", &[4u8])
            .unwrap();
        db.flush().unwrap();
    }
    let s = TestServer::boot(dir, config, clock).await;
    assert_eq!(s.put_chunk(&upload, 0, data.clone()).await.0, 200);
    let (status, v) = s
        .post_json(&format!("/api/upload/complete/{upload}"), json!({}))
        .await;
    assert_eq!(status, 200, "{v}");
    let (status, bytes) = s.download_bytes(v["clipId"].as_str().unwrap(), None).await;
    assert_eq!((status, bytes), (200, data));
}
