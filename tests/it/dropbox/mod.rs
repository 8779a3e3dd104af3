//! Drop boxes (issue 13, points 1-4, server side): a receiver creates a box for its public key
//! and gets an owner token; senders put items in through ordinary upload sessions that name
//! the box and carry a wrapped key; the owner lists them (long polling for new ones) and
//! deletes them or the box. Limits are enforced at initiate in one transaction, expired boxes
//! refuse items and are swept with their items' clips, and everything survives a restart.
//!
//! This module holds the helpers and the tests of creating a box and of its owner token;
//! `items` covers sending, listing, long polls and limits; `lifecycle` covers given-back
//! places, expiry, deletion and restarts.

mod items;
mod lifecycle;

use crate::harness::*;
use qopy::clock::Clock;
use qopy::v4::wrap::{wrap_secret, KeyPair};
use qopy::v4::{base64url, base64url_decode};
use reqwest::Method;
use serde_json::{json, Value};

const CHUNK: u64 = 64 * 1024;

/// A created box: its ID, owner token and key pair.
pub struct TestBox {
    pub id: String,
    pub token: String,
    pub keys: KeyPair,
}

pub async fn start() -> TestServer {
    TestServer::start_with(|c| c.chunk_size = CHUNK).await
}

pub async fn create(http: &Http, extra: Value) -> (TestBox, Value) {
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
pub fn owned(http: &Http, method: Method, path: &str, token: &str) -> reqwest::RequestBuilder {
    http.request(method, path).header("x-qopy-owner", token)
}

pub async fn list(http: &Http, b: &TestBox, query: &str) -> (u16, Value) {
    let path = format!("/api/dropbox/{}/items{query}", b.id);
    owned(http, Method::GET, &path, &b.token)
        .json_answer()
        .await
}

/// The initiate body of an item of `size` bytes for box `id`.
pub fn item_initiate(id: &str, size: usize, wrapped: &[u8]) -> Value {
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
pub async fn send(http: &Http, b: &TestBox, data: &[u8], secret: &[u8]) -> Value {
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

pub fn error_of(v: &Value) -> &str {
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
