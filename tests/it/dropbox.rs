//! Drop boxes (issue 13, points 1-4, server side): a receiver creates a box for its public key
//! and gets an owner token; senders put items in through ordinary upload sessions that name
//! the box and carry a wrapped key; the owner lists them (long polling for new ones) and
//! deletes them or the box. Limits are enforced at initiate in one transaction, expired boxes
//! refuse items and are swept with their items' clips, and everything survives a restart.

use crate::harness::*;
use qopy::clock::Clock;
use qopy::v4::wrap::{unwrap_secret, wrap_secret, KeyPair};
use qopy::v4::{base64url, base64url_decode};
use reqwest::Method;
use serde_json::{json, Value};
use std::time::Duration;

const CHUNK: u64 = 64 * 1024;

/// A created box: its ID, owner token and key pair.
struct TestBox {
    id: String,
    token: String,
    keys: KeyPair,
}

async fn start() -> TestServer {
    TestServer::start_with(|c| c.chunk_size = CHUNK).await
}

async fn create(http: &Http, extra: Value) -> (TestBox, Value) {
    let keys = KeyPair::generate();
    let mut body = json!({ "publicKey": base64url(&keys.public_bytes()), "expiration": "1hr" });
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    let (status, v) = http.post_json("/api/dropbox", body).await;
    assert_eq!(status, 201, "{v}");
    let b = TestBox {
        id: v["id"].as_str().unwrap().to_string(),
        token: v["ownerToken"].as_str().unwrap().to_string(),
        keys,
    };
    (b, v)
}

/// A request with the owner token.
fn owned(http: &Http, method: Method, path: &str, token: &str) -> reqwest::RequestBuilder {
    http.request(method, path).header("x-qopy-owner", token)
}

async fn list(http: &Http, b: &TestBox, query: &str) -> (u16, Value) {
    let path = format!("/api/dropbox/{}/items{query}", b.id);
    owned(http, Method::GET, &path, &b.token)
        .json_answer()
        .await
}

/// The initiate body of an item of `size` bytes for box `id`.
fn item_initiate(id: &str, size: usize, wrapped: &[u8]) -> Value {
    json!({
        "filename": "item.bin",
        "filesize": size,
        "totalChunks": size.div_ceil(CHUNK as usize).max(1),
        "contentType": "file",
        "expiration": "5min",
        "dropbox": id,
        "wrappedKey": base64url(wrapped),
    })
}

/// Sends `data` into the box (initiate, chunks, complete); returns the complete answer.
async fn send(http: &Http, b: &TestBox, data: &[u8], secret: &[u8]) -> Value {
    let pk = b.keys.public_bytes();
    let wrapped = wrap_secret(secret, &pk, &b.id).unwrap();
    let upload = http
        .initiate(item_initiate(&b.id, data.len(), &wrapped))
        .await;
    for (n, piece) in data.chunks(CHUNK as usize).enumerate() {
        let (status, v) = http.put_chunk(&upload, n as u32, piece.to_vec()).await;
        assert_eq!(status, 200, "{v}");
    }
    let (status, v) = http
        .post_json(&format!("/api/upload/complete/{upload}"), json!({}))
        .await;
    assert_eq!(status, 200, "{v}");
    v
}

fn error_of(v: &Value) -> &str {
    v["error"].as_str().unwrap_or("")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_box_is_created_described_and_its_fields_checked() {
    let s = TestServer::start_with(|c| {
        c.chunk_size = CHUNK;
        c.dropbox_max_items = 50;
        c.dropbox_max_bytes = 1 << 20;
    })
    .await;
    let (b, v) = create(&s, json!({})).await;
    assert_eq!(b.id.len(), 8);
    let alphabet = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    assert!(b.id.bytes().all(|c| alphabet.contains(&c)), "{}", b.id);
    assert_eq!(b.token.len(), 64);
    assert!(b
        .token
        .bytes()
        .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
    assert_eq!(v["url"], format!("{}/drop/{}", s.base, b.id));
    assert_eq!(
        (v["maxBytes"].as_u64(), v["maxItems"].as_u64()),
        (Some(1 << 20), Some(50))
    );
    let expires = v["expiresAt"].as_u64().unwrap();
    assert!(expires > s.clock.now_ms() + 3_500_000);

    // Public description, by the ID in either case.
    for id in [b.id.clone(), b.id.to_lowercase()] {
        let (status, i) = s.get_json(&format!("/api/dropbox/{id}")).await;
        assert_eq!(status, 200, "{i}");
        assert_eq!(i["id"], b.id.as_str());
        assert_eq!(
            base64url_decode(i["publicKey"].as_str().unwrap()).unwrap(),
            b.keys.public_bytes()
        );
        assert_eq!(
            (
                i["expiresAt"].as_u64(),
                i["usedBytes"].as_u64(),
                i["items"].as_u64()
            ),
            (Some(expires), Some(0), Some(0))
        );
    }
    // The sender page.
    let (status, page) = s
        .get(&format!("/drop/{}", b.id.to_lowercase()))
        .text_answer()
        .await;
    assert_eq!(status, 200);
    assert!(
        page.contains("<html") || page.contains("<!doctype"),
        "{page:.100}"
    );
    assert_eq!(s.get("/drop/NOTABOX").answer().await.status(), 404);

    // Limits: asked for, capped, refused below 1.
    let (_, v) = create(&s, json!({ "maxBytes": 1000, "maxItems": 500 })).await;
    assert_eq!(
        (v["maxBytes"].as_u64(), v["maxItems"].as_u64()),
        (Some(1000), Some(50))
    );
    let key = base64url(&KeyPair::generate().public_bytes());
    for (body, code) in [
        (
            json!({ "publicKey": key, "maxBytes": 0 }),
            "Validation failed",
        ),
        (
            json!({ "publicKey": key, "maxItems": -1 }),
            "Validation failed",
        ),
        (
            json!({ "publicKey": key, "maxItems": "ten" }),
            "Validation failed",
        ),
        (
            json!({ "publicKey": key, "expiration": "3days" }),
            "Validation failed",
        ),
        (json!({}), "invalid_public_key"),
        (json!({ "publicKey": "not base64!" }), "invalid_public_key"),
        (
            json!({ "publicKey": base64url(&[4u8; 64]) }),
            "invalid_public_key",
        ),
        (
            json!({ "publicKey": base64url(&[[4u8].as_slice(), &[0u8; 64]].concat()) }),
            "invalid_public_key",
        ),
    ] {
        let (status, v) = s.post_json("/api/dropbox", body.clone()).await;
        assert_eq!((status, error_of(&v)), (400, code), "{body} gave {v}");
        assert!(!v["message"].as_str().unwrap().is_empty());
    }
    // Unknown and malformed IDs.
    for id in ["ZZZZZZZZ", "ILOU1234", "short"] {
        let (status, v) = s.get_json(&format!("/api/dropbox/{id}")).await;
        assert_eq!((status, error_of(&v)), (404, "not_found"), "{id}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_owner_lists_and_deletes() {
    let s = start().await;
    let (b, _) = create(&s, json!({})).await;
    let (other, _) = create(&s, json!({})).await;
    let v = send(&s, &b, b"hello", b"secret").await;
    let clip = v["clipId"].as_str().unwrap();
    let paths = [
        (Method::GET, format!("/api/dropbox/{}/items", b.id)),
        (
            Method::DELETE,
            format!("/api/dropbox/{}/items/{clip}", b.id),
        ),
        (Method::DELETE, format!("/api/dropbox/{}", b.id)),
    ];
    for (method, path) in &paths {
        for token in [None, Some(other.token.as_str()), Some(""), Some("00")] {
            let mut req = s.request(method.clone(), path);
            if let Some(t) = token {
                req = req.header("x-qopy-owner", t);
            }
            let (status, v) = req.json_answer().await;
            assert_eq!(
                (status, error_of(&v)),
                (403, "owner_required"),
                "{method} {path} {token:?}"
            );
        }
    }
    // Nothing was removed.
    let (status, v) = list(&s, &b, "").await;
    assert_eq!(status, 200);
    assert_eq!(v["items"].as_array().unwrap().len(), 1);
    // The preflight lets a cross-origin page send the header (when its origin is allowed).
    let s2 = TestServer::start_with(|c| c.cors_origins = vec!["http://app.example".into()]).await;
    let r = s2
        .request(Method::OPTIONS, "/api/dropbox/AAAAAAAA/items")
        .header("origin", "http://app.example")
        .header("access-control-request-method", "GET")
        .header("access-control-request-headers", "x-qopy-owner")
        .answer()
        .await;
    assert_eq!(r.status(), 204);
    let allowed = r.headers()["access-control-allow-headers"]
        .to_str()
        .unwrap();
    assert!(allowed.contains("x-qopy-owner"), "{allowed}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn items_arrive_through_uploads_and_are_listed_in_order() {
    let s = start().await;
    let (b, created) = create(&s, json!({})).await;
    let box_expires = created["expiresAt"].as_u64().unwrap();
    let datas: Vec<Vec<u8>> = vec![
        test_bytes(3 * CHUNK as usize + 5, 1),
        b"a short text".to_vec(),
        test_bytes(CHUNK as usize, 3),
    ];
    let mut clips = Vec::new();
    for (i, data) in datas.iter().enumerate() {
        let secret = format!("secret-{i}");
        let v = send(&s, &b, data, secret.as_bytes()).await;
        // The item expires with its box, not with the expiration the sender asked for.
        assert_eq!(v["expiresAt"].as_u64(), Some(box_expires));
        clips.push(v["clipId"].as_str().unwrap().to_string());
    }
    let (status, v) = list(&s, &b, "").await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["expiresAt"].as_u64(), Some(box_expires));
    assert_eq!(v["next"], 3);
    let items = v["items"].as_array().unwrap();
    assert_eq!(items.len(), 3);
    for (i, item) in items.iter().enumerate() {
        assert_eq!(item["seq"], i as u64 + 1);
        assert_eq!(item["clipId"], clips[i].as_str());
        assert_eq!(item["size"], datas[i].len() as u64);
        assert!(item["createdAt"].as_u64().unwrap() > 0);
        // The wrapped key is the sender's, and only the receiver can open it.
        let wrapped = base64url_decode(item["wrappedKey"].as_str().unwrap()).unwrap();
        let secret = unwrap_secret(&b.keys, &wrapped, &b.id).unwrap();
        assert_eq!(secret, format!("secret-{i}").into_bytes());
        let (status, bytes) = s.download_bytes(&clips[i], None).await;
        assert_eq!((status, bytes == datas[i]), (200, true));
    }
    let (_, v) = list(&s, &b, "?after=2").await;
    assert_eq!(v["items"].as_array().unwrap().len(), 1);
    assert_eq!(
        (v["items"][0]["seq"].as_u64(), v["next"].as_u64()),
        (Some(3), Some(3))
    );
    let (_, v) = list(&s, &b, "?after=3").await;
    assert_eq!(
        (v["items"].as_array().unwrap().len(), v["next"].as_u64()),
        (0, Some(3))
    );
    assert_eq!(list(&s, &b, "?after=x").await.0, 400);
    let (_, i) = s.get_json(&format!("/api/dropbox/{}", b.id)).await;
    let total: u64 = datas.iter().map(|d| d.len() as u64).sum();
    assert_eq!(
        (i["items"].as_u64(), i["usedBytes"].as_u64()),
        (Some(3), Some(total))
    );

    // What an item's initiate may not carry.
    let wrapped = wrap_secret(b"k", &b.keys.public_bytes(), &b.id).unwrap();
    let base = item_initiate(&b.id, 10, &wrapped);
    let with = |k: &str, v: Value| {
        let mut body = base.clone();
        body[k] = v;
        body
    };
    let without = |k: &str| {
        let mut body = base.clone();
        body.as_object_mut().unwrap().remove(k);
        body
    };
    let normal = json!({ "filename": "x", "filesize": 10, "contentType": "file", "wrappedKey": base64url(&wrapped) });
    for (body, status, code) in [
        (without("wrappedKey"), 400, "invalid_wrapped_key"),
        (
            with("wrappedKey", json!(base64url(&[1u8; 93]))),
            400,
            "invalid_wrapped_key",
        ),
        (
            with("wrappedKey", json!(base64url(&[1u8; 301]))),
            400,
            "invalid_wrapped_key",
        ),
        (with("wrappedKey", json!("***")), 400, "invalid_wrapped_key"),
        (normal, 400, "invalid_wrapped_key"),
        (
            with("quickShare", json!(true)),
            400,
            "not_allowed_in_dropbox",
        ),
        (with("oneTime", json!(true)), 400, "not_allowed_in_dropbox"),
        (
            with("maxDownloads", json!(3)),
            400,
            "not_allowed_in_dropbox",
        ),
        (
            with("hasPassword", json!(true)),
            400,
            "not_allowed_in_dropbox",
        ),
        (with("dropbox", json!("ZZZZZZZZ")), 404, "not_found"),
        (without("filesize"), 400, "Validation failed"),
    ] {
        let (got, v) = s.post_json("/api/upload/initiate", body.clone()).await;
        assert_eq!((got, error_of(&v)), (status, code), "{body} gave {v}");
    }
    // The wrapped key's bounds are inclusive, and the expiration asked for is not checked.
    for len in [94, 300] {
        let body = with("wrappedKey", json!(base64url(&vec![1u8; len])));
        let (got, v) = s
            .post_json("/api/upload/initiate", with("expiration", json!("3days")))
            .await;
        assert_eq!(got, 200, "{v}");
        let (got, v) = s.post_json("/api/upload/initiate", body).await;
        assert_eq!(got, 200, "{len}: {v}");
        assert_eq!(v["expiresAt"].as_u64(), Some(box_expires));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_poll_is_answered_by_a_completion_or_when_its_time_is_up() {
    let s = start().await;
    let (b, _) = create(&s, json!({})).await;
    // Nothing arrives: an empty answer after the wait.
    let (status, v) = list(&s, &b, "?after=0&wait=1").await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(
        (v["items"].as_array().unwrap().len(), v["next"].as_u64()),
        (0, Some(0))
    );

    // A poll waiting 25 s (the client gives up after 15) is answered by the completion.
    let poller = Http::with_timeout(s.base.clone(), Duration::from_secs(15));
    let (id, token) = (b.id.clone(), b.token.clone());
    let poll = tokio::spawn(async move {
        owned(
            &poller,
            Method::GET,
            &format!("/api/dropbox/{id}/items?after=0&wait=25"),
            &token,
        )
        .json_answer()
        .await
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let v = send(&s, &b, b"arrives while polled", b"k").await;
    let (status, listed) = poll.await.unwrap();
    assert_eq!(status, 200, "{listed}");
    assert_eq!(listed["items"].as_array().unwrap().len(), 1, "{listed}");
    assert_eq!(listed["items"][0]["clipId"], v["clipId"]);
    assert_eq!(listed["next"], 1);

    // Shutdown answers a waiting poll at once (empty), so the server stops without waiting
    // for it.
    let poller = Http::with_timeout(s.base.clone(), Duration::from_secs(15));
    let (id, token) = (b.id.clone(), b.token.clone());
    let poll = tokio::spawn(async move {
        owned(
            &poller,
            Method::GET,
            &format!("/api/dropbox/{id}/items?after=1&wait=25"),
            &token,
        )
        .json_answer()
        .await
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    s.stop().await;
    let (status, listed) = poll.await.unwrap();
    assert_eq!(status, 200, "{listed}");
    assert_eq!(
        (
            listed["items"].as_array().unwrap().len(),
            listed["next"].as_u64()
        ),
        (0, Some(1))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_count_and_over_size_are_refused_and_the_last_place_has_one_winner() {
    let s = start().await;
    let (b, _) = create(&s, json!({ "maxItems": 2, "maxBytes": 1000 })).await;
    let wrapped = wrap_secret(b"k", &b.keys.public_bytes(), &b.id).unwrap();
    let init =
        |size: usize| s.post_json("/api/upload/initiate", item_initiate(&b.id, size, &wrapped));
    let (status, v) = init(1001).await;
    assert_eq!((status, error_of(&v)), (413, "dropbox_too_large"), "{v}");
    let (status, v) = init(600).await;
    assert_eq!(status, 200, "{v}");
    let (status, v) = init(401).await;
    assert_eq!((status, error_of(&v)), (413, "dropbox_too_large"), "{v}");
    // Two senders race for the last place: exactly one gets it.
    let (a, c) = tokio::join!(init(100), init(100));
    let mut statuses = [a.0, c.0];
    statuses.sort();
    assert_eq!(statuses, [200, 409], "{} {}", a.1, c.1);
    let loser = if a.0 == 409 { &a.1 } else { &c.1 };
    assert_eq!(error_of(loser), "dropbox_full");
    let (status, v) = init(1).await;
    assert_eq!((status, error_of(&v)), (409, "dropbox_full"));
    let (_, i) = s.get_json(&format!("/api/dropbox/{}", b.id)).await;
    assert_eq!(
        (i["usedBytes"].as_u64(), i["items"].as_u64()),
        (Some(700), Some(0))
    );
}

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
    // The late session's files stay until it is abandoned or cancelled; the item's are gone.
    let (status, _) = s
        .request(Method::DELETE, &format!("/api/upload/{late}"))
        .json_answer()
        .await;
    assert_eq!(status, 200);
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
