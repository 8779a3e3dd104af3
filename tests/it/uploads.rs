//! The upload routes through HTTP: initiate, chunk (raw PUT/POST and multipart), status,
//! complete and cancel, with the original's bugs pinned as regressions (the 21-chunk edge,
//! the truncated size, expiry counted from initiate, Quick Share not enforced).

use crate::harness::*;
use qopy::clock::Clock;
use reqwest::Method;
use serde_json::{json, Value};
use std::time::Duration;

const MIB: usize = 1024 * 1024;
/// The chunk size most tests use, to stay fast.
const SMALL: u64 = 64 * 1024;
/// The original's (and our default) chunk size.
const DEFAULT_CHUNK: u64 = 5_242_880;
const OCTET: &str = "application/octet-stream";
const JSON: &str = "application/json";

async fn small_server() -> TestServer {
    TestServer::start_with(|c| c.chunk_size = SMALL).await
}

fn is_upload_id(s: &str) -> bool {
    s.len() == 16
        && s.bytes()
            .all(|c| c.is_ascii_digit() || (b'A'..=b'F').contains(&c))
}

fn is_clip_id(s: &str, len: usize) -> bool {
    s.len() == len
        && s.bytes()
            .all(|c| c.is_ascii_digit() || c.is_ascii_uppercase())
}

fn now(server: &TestServer) -> u64 {
    server.clock.now_ms()
}

/// Asserts an error answer: status and the stable `error` string, with a `message`.
#[track_caller]
fn assert_error(got: (u16, &Value), status: u16, error: &str) {
    assert_eq!(got.0, status, "unexpected status, body: {}", got.1);
    assert_eq!(got.1["error"], error, "unexpected error body: {}", got.1);
    assert!(
        got.1["message"].is_string(),
        "error body without a message: {}",
        got.1
    );
}

/// Any request with an optional content type and a body; returns (status, JSON).
async fn send(
    server: &TestServer,
    method: Method,
    path: &str,
    content_type: Option<&str>,
    body: Vec<u8>,
) -> (u16, Value) {
    let mut r = server.request(method, path);
    if let Some(ct) = content_type {
        r = r.header("content-type", ct);
    }
    let r = r.body(body).answer().await;
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

/// Sends a request the server may refuse before reading its whole body. The server may then
/// close the connection while the client is still writing, which the client sees as an
/// error instead of the answer; such attempts are retried, so the answer itself is always
/// what is checked.
async fn send_refusable(build: impl Fn() -> reqwest::RequestBuilder) -> (u16, Value) {
    let mut last_err = None;
    for _ in 0..10 {
        match build().send().await {
            Ok(r) => {
                let status = r.status().as_u16();
                return (status, r.json().await.unwrap_or(Value::Null));
            }
            Err(e) => last_err = Some(e),
        }
    }
    panic!("no answer after 10 attempts: {last_err:?}");
}

/// Sends `body` in pieces without a Content-Length (chunked transfer encoding).
async fn send_streamed(
    server: &TestServer,
    method: Method,
    path: &str,
    body: &[u8],
    piece: usize,
) -> (u16, Value) {
    send_refusable(|| {
        let pieces: Vec<Result<Vec<u8>, std::io::Error>> =
            body.chunks(piece).map(|c| Ok(c.to_vec())).collect();
        server
            .request(method.clone(), path)
            .header("content-type", "application/octet-stream")
            .body(reqwest::Body::wrap_stream(futures_util::stream::iter(
                pieces,
            )))
    })
    .await
}

/// A body with a Content-Length, which the server may refuse before reading it.
async fn send_sized(
    server: &TestServer,
    method: Method,
    path: &str,
    content_type: &str,
    body: &[u8],
) -> (u16, Value) {
    send_refusable(|| {
        server
            .request(method.clone(), path)
            .header("content-type", content_type)
            .body(body.to_vec())
    })
    .await
}

/// A multipart chunk (field `chunk`) the server may refuse before reading it.
async fn multipart_refusable(
    server: &TestServer,
    upload: &str,
    n: u32,
    bytes: &[u8],
) -> (u16, Value) {
    send_refusable(|| {
        let form = reqwest::multipart::Form::new()
            .text("chunkNumber", n.to_string())
            .part(
                "chunk",
                reqwest::multipart::Part::bytes(bytes.to_vec()).file_name("chunk"),
            );
        server
            .post(&format!("/api/upload/chunk/{upload}/{n}"))
            .multipart(form)
    })
    .await
}

/// A raw chunk by `method` to `/api/upload/chunk/{upload}/{n}`, both taken verbatim.
async fn chunk_raw(
    server: &TestServer,
    method: Method,
    upload: &str,
    n: &str,
    bytes: Vec<u8>,
) -> (u16, Value) {
    send(
        server,
        method,
        &format!("/api/upload/chunk/{upload}/{n}"),
        Some("application/octet-stream"),
        bytes,
    )
    .await
}

/// A multipart form to the chunk route.
async fn chunk_form(
    server: &TestServer,
    upload: &str,
    n: u32,
    form: reqwest::multipart::Form,
) -> (u16, Value) {
    let r = server
        .post(&format!("/api/upload/chunk/{upload}/{n}"))
        .multipart(form)
        .answer()
        .await;
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn status_of(server: &TestServer, upload: &str) -> (u16, Value) {
    server
        .get_json(&format!("/api/upload/{upload}/status"))
        .await
}

async fn complete(server: &TestServer, upload: &str, body: Value) -> (u16, Value) {
    server
        .post_json(&format!("/api/upload/complete/{upload}"), body)
        .await
}

async fn cancel(server: &TestServer, upload: &str) -> (u16, Value) {
    send(
        server,
        Method::DELETE,
        &format!("/api/upload/{upload}"),
        None,
        Vec::new(),
    )
    .await
}

/// Initiate fields of a file session.
fn file_session(len: usize, total: usize) -> Value {
    json!({
        "filename": "data.bin",
        "filesize": len,
        "totalChunks": total,
        "contentType": "file",
        "expiration": "1hr",
    })
}

/// Sends every chunk of `data` (cut at `cs`) by raw PUT, in the given order.
async fn send_chunks(server: &TestServer, upload: &str, data: &[u8], cs: usize, order: &[usize]) {
    let pieces: Vec<&[u8]> = data.chunks(cs).collect();
    for &n in order {
        let (s, v) = server.put_chunk(upload, n as u32, pieces[n].to_vec()).await;
        assert_eq!(s, 200, "chunk {n} refused: {v}");
    }
}

/// Downloads a clip and checks the bytes and the Content-Length against `data`.
async fn assert_download(server: &TestServer, id: &str, code: Option<&str>, data: &[u8]) {
    let r = server.download(id, code).await;
    assert_eq!(r.status().as_u16(), 200, "download of {id} failed");
    let len = r
        .headers()
        .get("content-length")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    assert_eq!(
        len,
        Some(data.len() as u64),
        "Content-Length is not the real size"
    );
    let body = r.bytes().await.unwrap();
    assert_eq!(body.len(), data.len(), "downloaded length differs");
    assert!(body.as_ref() == data, "downloaded bytes differ");
}

// ---------------------------------------------------------------------------------------
// Initiate.
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn initiate_success_fields() {
    let server = TestServer::start().await;
    let before = now(&server);
    let (s, v) = server
        .post_json(
            "/api/upload/initiate",
            json!({ "filename": "a.bin", "filesize": 12 * MIB, "contentType": "file",
                    "expiration": "1hr" }),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["success"], true);
    let id = v["uploadId"].as_str().expect("uploadId is a string");
    assert!(is_upload_id(id), "uploadId {id:?} is not 16 uppercase hex");
    assert_eq!(
        v["chunkSize"].as_u64(),
        Some(DEFAULT_CHUNK),
        "chunkSize: {v}"
    );
    assert_eq!(
        v["totalChunks"].as_u64(),
        Some(3),
        "12 MiB is 3 chunks: {v}"
    );
    assert_eq!(v["uploadUrl"], format!("/api/upload/chunk/{id}"));
    let exp = v["expiresAt"].as_u64().expect("expiresAt is a JSON number");
    assert!(
        exp >= before + 3_600_000 && exp <= now(&server) + 3_600_000 + 1000,
        "expiresAt {exp} is not about now + 1 h"
    );
    assert_eq!(v["quickShare"], false);
    assert_eq!(v["oneTime"], false);

    // Neither filesize nor totalChunks: one chunk. totalChunks given: echoed.
    let (s, v) = server
        .post_json("/api/upload/initiate", json!({ "filename": "b.txt" }))
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["totalChunks"].as_u64(), Some(1));
    let (s, v) = server
        .post_json(
            "/api/upload/initiate",
            json!({ "filename": "c.bin", "totalChunks": 7, "oneTime": true,
                    "contentType": "file" }),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["totalChunks"].as_u64(), Some(7));
    assert_eq!(v["oneTime"], true);
    // Two sessions never share an ID.
    let (_, w) = server
        .post_json("/api/upload/initiate", json!({ "filename": "c.bin" }))
        .await;
    assert_ne!(v["uploadId"], w["uploadId"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn initiate_missing_or_empty_filename_is_400() {
    let server = small_server().await;
    let before = files_under(&server.data_dir());
    let (s, v) = server
        .post_json("/api/upload/initiate", json!({ "filesize": 10 }))
        .await;
    assert_error((s, &v), 400, "Validation failed");
    let (s, v) = server
        .post_json("/api/upload/initiate", json!({ "filename": "" }))
        .await;
    assert_error((s, &v), 400, "Validation failed");
    let (s, v) = server
        .post_json("/api/upload/initiate", json!({ "filename": null }))
        .await;
    assert_error((s, &v), 400, "Validation failed");
    // An empty body is `{}`: no filename.
    let (s, v) = server
        .post_raw("/api/upload/initiate", "application/json", Vec::new())
        .await;
    assert_error((s, &v), 400, "Validation failed");
    assert_eq!(files_under(&server.data_dir()), before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn initiate_filename_length_limit() {
    let server = small_server().await;
    let (s, v) = server
        .post_json(
            "/api/upload/initiate",
            json!({ "filename": "x".repeat(256) }),
        )
        .await;
    assert_error((s, &v), 400, "Validation failed");
    let (s, v) = server
        .post_json(
            "/api/upload/initiate",
            json!({ "filename": "x".repeat(255) }),
        )
        .await;
    assert_eq!(s, 200, "255 characters must be accepted: {v}");
    // Characters, not bytes: 255 two-byte characters are fine.
    let (s, v) = server
        .post_json(
            "/api/upload/initiate",
            json!({ "filename": "é".repeat(255) }),
        )
        .await;
    assert_eq!(s, 200, "255 non-ASCII characters must be accepted: {v}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn initiate_unknown_expiration_is_400() {
    let server = small_server().await;
    for bad in ["2days", "", "1h", "forever", "24HR"] {
        let (s, v) = server
            .post_json(
                "/api/upload/initiate",
                json!({ "filename": "a", "expiration": bad }),
            )
            .await;
        assert_error((s, &v), 400, "Validation failed");
    }
    for good in ["5min", "15min", "30min", "1hr", "6hr", "24hr"] {
        let (s, v) = server
            .post_json(
                "/api/upload/initiate",
                json!({ "filename": "a", "expiration": good }),
            )
            .await;
        assert_eq!(s, 200, "{good} must be accepted: {v}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn initiate_total_chunks_bounds() {
    // The default limits: 4 GiB files in 5 MiB chunks.
    let server = TestServer::start().await;
    for bad in [json!(0), json!(100_000), json!(u32::MAX as u64 + 1)] {
        let (s, v) = server
            .post_json(
                "/api/upload/initiate",
                json!({ "filename": "a", "filesize": 1, "totalChunks": bad }),
            )
            .await;
        assert_error((s, &v), 400, "Validation failed");
    }
    // 21 (the original's cap was 20) is accepted, as many as the declared size needs.
    for good in [20u64, 21] {
        let (s, v) = server
            .post_json(
                "/api/upload/initiate",
                json!({ "filename": "a", "filesize": good * DEFAULT_CHUNK, "totalChunks": good,
                        "contentType": "file" }),
            )
            .await;
        assert_eq!(s, 200, "totalChunks {good} must be accepted: {v}");
        assert_eq!(v["totalChunks"].as_u64(), Some(good));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn initiate_refuses_more_chunks_than_the_declared_size_needs() {
    let server = TestServer::start().await;
    // One byte needs one chunk; 10 MiB + 1 needs three.
    for (size, total, ok) in [
        (1u64, 1u64, true),
        (1, 2, false),
        (2 * DEFAULT_CHUNK + 1, 3, true),
        (2 * DEFAULT_CHUNK + 1, 4, false),
    ] {
        let (s, v) = server
            .post_json(
                "/api/upload/initiate",
                json!({ "filename": "a", "filesize": size, "totalChunks": total,
                        "contentType": "file" }),
            )
            .await;
        if ok {
            assert_eq!(s, 200, "{size} bytes in {total} chunks: {v}");
        } else {
            assert_error((s, &v), 400, "Validation failed");
        }
    }
    // A text session cannot stage more than the text limit needs: one 5 MiB chunk.
    let (s, v) = server
        .post_json(
            "/api/upload/initiate",
            json!({ "filename": "t", "totalChunks": 820, "contentType": "text" }),
        )
        .await;
    assert_error((s, &v), 400, "Validation failed");
    let (s, v) = server
        .post_json(
            "/api/upload/initiate",
            json!({ "filename": "t", "totalChunks": 2, "isTextContent": true }),
        )
        .await;
    assert_error((s, &v), 400, "Validation failed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn complete_refuses_more_bytes_than_declared() {
    let server = small_server().await;
    let cs = SMALL as usize;
    // Declares 10 bytes, sends a whole chunk.
    let upload = server
        .initiate(json!({ "filename": "x", "filesize": 10, "contentType": "file" }))
        .await;
    let (s, v) = server.put_chunk(&upload, 0, vec![5; cs]).await;
    assert_eq!(s, 200, "{v}");
    let (s, v) = complete(&server, &upload, json!({})).await;
    assert_eq!(s, 413, "{v}");
    // Nothing was made of it; the session stays (until cancelled or swept).
    let (s, _) = status_of(&server, &upload).await;
    assert_eq!(s, 200);
    // Exactly the declared size completes.
    let upload = server
        .initiate(json!({ "filename": "y", "filesize": cs, "contentType": "file" }))
        .await;
    let data = test_bytes(cs, 3);
    server.put_chunk(&upload, 0, data.clone()).await;
    let (s, v) = complete(&server, &upload, json!({})).await;
    assert_eq!(s, 200, "{v}");
    assert_download(&server, v["clipId"].as_str().unwrap(), None, &data).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn initiate_wrong_json_types_are_400() {
    let server = small_server().await;
    let before = files_under(&server.data_dir());
    let cases = [
        json!({ "filename": 5 }),
        json!({ "filename": ["a"] }),
        json!({ "filename": "a", "oneTime": "maybe" }),
        json!({ "filename": "a", "quickShare": {} }),
        json!({ "filename": "a", "hasPassword": 2 }),
        json!({ "filename": "a", "isTextContent": "yes" }),
        json!({ "filename": "a", "totalChunks": "abc" }),
        json!({ "filename": "a", "totalChunks": -1 }),
        json!({ "filename": "a", "totalChunks": 1.5 }),
        json!({ "filename": "a", "filesize": "big" }),
        json!({ "filename": "a", "filesize": -5 }),
        json!({ "filename": "a", "filesize": 0 }),
        json!({ "filename": "a", "expiration": 5 }),
        json!({ "filename": "a", "contentType": "video" }),
        json!({ "filename": "a", "contentType": "file", "mimeType": 7 }),
        json!({ "filename": "a", "contentType": "file", "mimeType": "" }),
        json!({ "filename": "a", "contentType": "file", "mimeType": "x".repeat(101) }),
        json!({ "filename": "a", "contentType": "file", "mimeType": "text/plain\nX: y" }),
    ];
    for body in cases {
        let (s, v) = server.post_json("/api/upload/initiate", body.clone()).await;
        assert!(
            s == 400 && v["error"] == "Validation failed",
            "{body} gave {s} {v}"
        );
    }
    // JSON values that are not objects.
    for raw in ["[1,2]", "null", "42", "\"filename\""] {
        let (s, v) = server
            .post_raw(
                "/api/upload/initiate",
                "application/json",
                raw.as_bytes().to_vec(),
            )
            .await;
        assert!(
            s == 400 && v["error"] == "Validation failed",
            "{raw} gave {s} {v}"
        );
    }
    assert_eq!(files_under(&server.data_dir()), before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn initiate_malformed_json_is_400() {
    let server = small_server().await;
    for raw in [
        &b"{\"filename\": "[..],
        b"{filename: 'a'}",
        b"not json at all",
        b"{\"filename\":\"a\",}",
        b"\xff\xfe{}",
    ] {
        let (s, v) = server
            .post_raw("/api/upload/initiate", "application/json", raw.to_vec())
            .await;
        assert_error((s, &v), 400, "Validation failed");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn initiate_body_over_64k_is_413() {
    let server = small_server().await;
    let big =
        serde_json::to_vec(&json!({ "filename": "a", "pad": "x".repeat(70 * 1024) })).unwrap();
    let (s, v) = send_sized(&server, Method::POST, "/api/upload/initiate", JSON, &big).await;
    assert_error((s, &v), 413, "Payload too large");
    // The same without a Content-Length (chunked transfer encoding).
    let (s, v) = send_streamed(
        &server,
        Method::POST,
        "/api/upload/initiate",
        &big,
        8 * 1024,
    )
    .await;
    assert_error((s, &v), 413, "Payload too large");
    // Just under the limit is read (and refused only for its content).
    let ok = serde_json::to_vec(&json!({ "filename": "a", "pad": "x".repeat(60 * 1024) })).unwrap();
    let (s, v) = server
        .post_raw("/api/upload/initiate", "application/json", ok)
        .await;
    assert_eq!(s, 200, "a 60 KiB body with unknown fields is accepted: {v}");
    // The complete route has the same limit.
    let upload = server.initiate(file_session(10, 1)).await;
    let path = format!("/api/upload/complete/{upload}");
    let (s, v) = send_sized(&server, Method::POST, &path, JSON, &big).await;
    assert_error((s, &v), 413, "Payload too large");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn initiate_filesize_above_limit_is_413() {
    let server = TestServer::start_with(|c| {
        c.chunk_size = SMALL;
        c.max_file_size = MIB as u64;
    })
    .await;
    let before = files_under(&server.data_dir());
    let (s, v) = server
        .post_json(
            "/api/upload/initiate",
            json!({ "filename": "a", "filesize": 10 * MIB, "contentType": "file" }),
        )
        .await;
    assert_error((s, &v), 413, "File too large");
    assert_eq!(files_under(&server.data_dir()), before);
    // At the limit (plus the crypto overhead allowance) is fine.
    let (s, v) = server
        .post_json(
            "/api/upload/initiate",
            json!({ "filename": "a", "filesize": MIB + 300, "contentType": "file" }),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["totalChunks"].as_u64(), Some(17));
    // A chunk count announcing far more than the limit is refused too.
    let (s, v) = server
        .post_json(
            "/api/upload/initiate",
            json!({ "filename": "a", "totalChunks": 1000, "contentType": "file" }),
        )
        .await;
    assert_error((s, &v), 400, "Validation failed");
}

/// The original capped totalChunks at 20, so a 100 MiB file plus its ~230 bytes of crypto
/// overhead (21 chunks) was refused at initiate (§4.3, §12.1.3). Real 5 MiB chunks.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn regression_21_chunk_edge() {
    let server = TestServer::start().await;
    let data = test_bytes(100 * MIB + 300, 21);
    let (s, v) = server
        .post_json(
            "/api/upload/initiate",
            json!({ "filename": "edge.bin", "filesize": data.len(), "contentType": "file",
                    "expiration": "1hr" }),
        )
        .await;
    assert_eq!(s, 200, "100 MiB + 300 bytes must be accepted: {v}");
    assert_eq!(v["totalChunks"].as_u64(), Some(21), "{v}");
    let upload = v["uploadId"].as_str().unwrap().to_string();
    let order: Vec<usize> = (0..21).collect();
    send_chunks(&server, &upload, &data, DEFAULT_CHUNK as usize, &order).await;
    let (s, v) = complete(&server, &upload, json!({})).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["size"].as_u64(), Some(data.len() as u64), "{v}");
    let id = v["clipId"].as_str().unwrap().to_string();
    let (s, info) = server.get_json(&format!("/api/file/{id}/info")).await;
    assert_eq!(s, 200);
    assert_eq!(info["filesize"].as_u64(), Some(data.len() as u64));
    assert_download(&server, &id, None, &data).await;
}

// ---------------------------------------------------------------------------------------
// Chunks.
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chunk_raw_put_raw_post_and_multipart_all_work() {
    let server = small_server().await;
    let cs = SMALL as usize;
    let data = test_bytes(3 * cs + 1234, 2);
    let pieces: Vec<Vec<u8>> = data.chunks(cs).map(|c| c.to_vec()).collect();
    let upload = server.initiate(file_session(data.len(), 4)).await;

    let (s, v) = chunk_raw(&server, Method::PUT, &upload, "0", pieces[0].clone()).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["success"], true);
    assert_eq!(v["chunkNumber"].as_u64(), Some(0));
    assert_eq!(v["received"], true);
    assert_eq!(v["uploadedChunks"].as_u64(), Some(1));
    assert_eq!(v["totalChunks"].as_u64(), Some(4));

    let (s, v) = chunk_raw(&server, Method::POST, &upload, "1", pieces[1].clone()).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["chunkNumber"].as_u64(), Some(1));
    assert_eq!(v["uploadedChunks"].as_u64(), Some(2));

    let (s, v) = server
        .post_chunk_multipart(&upload, 2, pieces[2].clone())
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["chunkNumber"].as_u64(), Some(2));
    assert_eq!(v["uploadedChunks"].as_u64(), Some(3));

    // A raw PUT with no Content-Type at all is a raw body too.
    let (s, v) = send(
        &server,
        Method::PUT,
        &format!("/api/upload/chunk/{upload}/3"),
        None,
        pieces[3].clone(),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["uploadedChunks"].as_u64(), Some(4));

    let (s, v) = complete(&server, &upload, json!({})).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["size"].as_u64(), Some(data.len() as u64));
    assert_download(&server, v["clipId"].as_str().unwrap(), None, &data).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chunk_multipart_with_chunk_field_first_or_last() {
    // The original client sends `chunk` along with text fields, in either order.
    let server = small_server().await;
    let data = test_bytes(2 * SMALL as usize, 3);
    let upload = server.initiate(file_session(data.len(), 2)).await;
    let form = reqwest::multipart::Form::new()
        .part(
            "chunk",
            reqwest::multipart::Part::bytes(data[..SMALL as usize].to_vec()).file_name("blob"),
        )
        .text("chunkIndex", "0")
        .text("chunkNumber", "0");
    let (s, v) = chunk_form(&server, &upload, 0, form).await;
    assert_eq!(s, 200, "{v}");
    let form = reqwest::multipart::Form::new()
        .text("chunkNumber", "1")
        .part(
            "chunk",
            reqwest::multipart::Part::bytes(data[SMALL as usize..].to_vec())
                .file_name("blob")
                .mime_str("application/octet-stream")
                .unwrap(),
        );
    let (s, v) = chunk_form(&server, &upload, 1, form).await;
    assert_eq!(s, 200, "{v}");
    let (s, v) = complete(&server, &upload, json!({})).await;
    assert_eq!(s, 200, "{v}");
    assert_download(&server, v["clipId"].as_str().unwrap(), None, &data).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chunk_identical_resend_is_idempotent() {
    let server = small_server().await;
    let cs = SMALL as usize;
    let data = test_bytes(2 * cs, 4);
    let upload = server.initiate(file_session(data.len(), 2)).await;
    let first = data[..cs].to_vec();
    let (s, v) = server.put_chunk(&upload, 0, first.clone()).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["uploadedChunks"].as_u64(), Some(1));
    let on_disk = files_under(&server.data_dir());

    // The same bytes again, by each transport: 200, count unchanged, no new file.
    let (s, v) = server.put_chunk(&upload, 0, first.clone()).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["uploadedChunks"].as_u64(), Some(1), "{v}");
    let (s, v) = chunk_raw(&server, Method::POST, &upload, "0", first.clone()).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["uploadedChunks"].as_u64(), Some(1), "{v}");
    let (s, v) = server.post_chunk_multipart(&upload, 0, first.clone()).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["uploadedChunks"].as_u64(), Some(1), "{v}");
    assert_eq!(
        files_under(&server.data_dir()),
        on_disk,
        "a re-sent chunk left a file behind"
    );
    let (_, st) = status_of(&server, &upload).await;
    assert_eq!(st["uploadedChunks"].as_u64(), Some(1));
    assert_eq!(st["receivedChunks"], json!([0]));

    send_chunks(&server, &upload, &data, cs, &[1]).await;
    let (s, v) = complete(&server, &upload, json!({})).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["size"].as_u64(), Some(data.len() as u64));
    assert_download(&server, v["clipId"].as_str().unwrap(), None, &data).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chunk_conflicting_resend_is_409_and_keeps_original() {
    let server = small_server().await;
    let cs = SMALL as usize;
    let data = test_bytes(2 * cs, 5);
    let upload = server.initiate(file_session(data.len(), 2)).await;
    send_chunks(&server, &upload, &data, cs, &[0]).await;
    let on_disk = files_under(&server.data_dir());

    // Same length, one byte different.
    let mut other = data[..cs].to_vec();
    other[100] ^= 0xFF;
    let (s, v) = server.put_chunk(&upload, 0, other).await;
    assert_error((s, &v), 409, "Chunk already uploaded");
    // Different length.
    let (s, v) = server.put_chunk(&upload, 0, data[..cs - 1].to_vec()).await;
    assert_error((s, &v), 409, "Chunk already uploaded");
    // Multipart too.
    let (s, v) = server
        .post_chunk_multipart(&upload, 0, test_bytes(cs, 99))
        .await;
    assert_error((s, &v), 409, "Chunk already uploaded");
    assert_eq!(
        files_under(&server.data_dir()),
        on_disk,
        "a refused chunk changed the disk"
    );
    let (_, st) = status_of(&server, &upload).await;
    assert_eq!(st["uploadedChunks"].as_u64(), Some(1));

    send_chunks(&server, &upload, &data, cs, &[1]).await;
    let (s, v) = complete(&server, &upload, json!({})).await;
    assert_eq!(s, 200, "{v}");
    assert_download(&server, v["clipId"].as_str().unwrap(), None, &data).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chunk_number_out_of_range_is_400() {
    let server = small_server().await;
    let upload = server.initiate(file_session(2 * SMALL as usize, 2)).await;
    let on_disk = files_under(&server.data_dir());
    for n in ["2", "3", "1000", "4294967296", "99999999999999999999"] {
        let (s, v) = chunk_raw(&server, Method::PUT, &upload, n, vec![1; 10]).await;
        assert!(s == 400, "chunk number {n} gave {s} {v}");
        if n.len() < 15 {
            assert_error((s, &v), 400, "Invalid chunk number");
        }
    }
    let (s, v) = server.post_chunk_multipart(&upload, 2, vec![1; 10]).await;
    assert_error((s, &v), 400, "Invalid chunk number");
    assert_eq!(files_under(&server.data_dir()), on_disk);
    let (_, st) = status_of(&server, &upload).await;
    assert_eq!(st["uploadedChunks"].as_u64(), Some(0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chunk_number_not_a_number_is_400() {
    let server = small_server().await;
    let upload = server.initiate(file_session(2 * SMALL as usize, 2)).await;
    let on_disk = files_under(&server.data_dir());
    for n in ["abc", "-1", "1.5", "0x1", "1e2", "%20", "one"] {
        let (s, v) = chunk_raw(&server, Method::PUT, &upload, n, vec![1; 10]).await;
        assert_error((s, &v), 400, "Validation failed");
    }
    assert_eq!(files_under(&server.data_dir()), on_disk);
    let (_, st) = status_of(&server, &upload).await;
    assert_eq!(st["uploadedChunks"].as_u64(), Some(0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chunk_bad_upload_id_is_refused_without_5xx() {
    let server = small_server().await;
    // A live session, so that the data directory holds something a traversal could reach.
    let upload = server.initiate(file_session(100, 1)).await;
    server.put_chunk(&upload, 0, vec![7; 100]).await;
    let on_disk = files_under(&server.data_dir());
    let bad = [
        "..%2F..%2Fetc%2Fpasswd".to_string(),
        "..%2F..%2F..%2F..%2Fetc%2F".to_string(), // 16 characters once decoded
        "%2e%2e%2f%2e%2e%2f%2e%2e%2fetc%2fpasswd".to_string(),
        "....//....".to_string(),
        "....%2F%2F....".to_string(),
        "%00%00%00%00%00%00%00%00%00%00%00%00%00%00%00%00".to_string(),
        upload[..15].to_string(),
        format!("{upload}0"),
        "GGGGGGGGGGGGGGGG".to_string(),
        "0123456789ABCDE ".replace(' ', "%20"),
        "+123456789ABCDEF".to_string(),
        "-123456789ABCDEF".to_string(),
        "x".repeat(300),
    ];
    for id in &bad {
        let routes = [
            (Method::PUT, format!("/api/upload/chunk/{id}/0")),
            (Method::POST, format!("/api/upload/chunk/{id}/0")),
            (Method::GET, format!("/api/upload/{id}/status")),
            (Method::POST, format!("/api/upload/complete/{id}")),
            (Method::DELETE, format!("/api/upload/{id}")),
        ];
        for (m, path) in routes {
            let (s, v) = send(
                &server,
                m.clone(),
                &path,
                Some("application/octet-stream"),
                vec![7; 100],
            )
            .await;
            assert!(
                s == 400 || s == 404,
                "{m} {path} gave {s} {v} (expected 400 or 404)"
            );
            assert!(v["error"].is_string(), "{m} {path}: no JSON error: {v}");
        }
    }
    // A well-formed 16-hex ID passes validation: the length check is what refuses the rest.
    let (s, v) = chunk_raw(&server, Method::PUT, &upload[..15], "0", vec![1]).await;
    assert_error((s, &v), 400, "Validation failed");
    let (s, v) = chunk_raw(&server, Method::PUT, &format!("{upload}A"), "0", vec![1]).await;
    assert_error((s, &v), 400, "Validation failed");
    assert_eq!(files_under(&server.data_dir()), on_disk);
    // The live session is untouched.
    let (s, st) = status_of(&server, &upload).await;
    assert_eq!(s, 200);
    assert_eq!(st["receivedChunks"], json!([0]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chunk_unknown_session_is_404() {
    let server = small_server().await;
    let on_disk = files_under(&server.data_dir());
    for id in ["0123456789ABCDEF", "0123456789abcdef", "FFFFFFFFFFFFFFFF"] {
        let (s, v) = chunk_raw(&server, Method::PUT, id, "0", vec![1; 10]).await;
        assert_error((s, &v), 404, "Upload session not found");
        let (s, v) = server.post_chunk_multipart(id, 0, vec![1; 10]).await;
        assert_error((s, &v), 404, "Upload session not found");
        let (s, v) = status_of(&server, id).await;
        assert_eq!(s, 404, "{v}");
        assert_eq!(v["error"], "Upload session not found");
    }
    assert_eq!(files_under(&server.data_dir()), on_disk);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chunk_multipart_without_chunk_part_is_400() {
    let server = small_server().await;
    let upload = server.initiate(file_session(100, 1)).await;
    let on_disk = files_under(&server.data_dir());
    let form = reqwest::multipart::Form::new().text("chunkNumber", "0");
    let (s, v) = chunk_form(&server, &upload, 0, form).await;
    assert_error((s, &v), 400, "No chunk file provided");
    // A text field called `chunk` is still the chunk; an empty one is no chunk.
    let form = reqwest::multipart::Form::new().text("chunk", "");
    let (s, v) = chunk_form(&server, &upload, 0, form).await;
    assert_error((s, &v), 400, "No chunk file provided");
    // A file under another name, as multer's "Unexpected field".
    let form = reqwest::multipart::Form::new().part(
        "file",
        reqwest::multipart::Part::bytes(vec![1; 100]).file_name("x"),
    );
    let (s, v) = chunk_form(&server, &upload, 0, form).await;
    assert_eq!(s, 400, "{v}");
    assert!(v["error"].is_string());
    // A multipart content type whose body is not multipart.
    let (s, v) = send(
        &server,
        Method::POST,
        &format!("/api/upload/chunk/{upload}/0"),
        Some("multipart/form-data; boundary=XYZ"),
        b"garbage".to_vec(),
    )
    .await;
    assert_eq!(s, 400, "{v}");
    assert_eq!(files_under(&server.data_dir()), on_disk);
    let (_, st) = status_of(&server, &upload).await;
    assert_eq!(st["uploadedChunks"].as_u64(), Some(0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chunk_empty_raw_body_is_400() {
    let server = small_server().await;
    let upload = server.initiate(file_session(100, 1)).await;
    let on_disk = files_under(&server.data_dir());
    let (s, v) = server.put_chunk(&upload, 0, Vec::new()).await;
    assert_error((s, &v), 400, "No chunk file provided");
    let (s, v) = chunk_raw(&server, Method::POST, &upload, "0", Vec::new()).await;
    assert_error((s, &v), 400, "No chunk file provided");
    let (s, v) = server.post_chunk_multipart(&upload, 0, Vec::new()).await;
    assert_error((s, &v), 400, "No chunk file provided");
    assert_eq!(files_under(&server.data_dir()), on_disk);
    let (_, st) = status_of(&server, &upload).await;
    assert_eq!(st["uploadedChunks"].as_u64(), Some(0));
    // The chunk number is still free.
    let (s, v) = server.put_chunk(&upload, 0, vec![1; 100]).await;
    assert_eq!(s, 200, "{v}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chunk_too_large_is_413_and_leaves_nothing_on_disk() {
    let server = small_server().await;
    let cs = SMALL as usize;
    let upload = server.initiate(file_session(3 * cs, 3)).await;
    let on_disk = files_under(&server.data_dir());

    // With a Content-Length: refused before reading.
    let path = format!("/api/upload/chunk/{upload}/0");
    let (s, v) = send_sized(
        &server,
        Method::PUT,
        &path,
        OCTET,
        &test_bytes(cs + 1025, 6),
    )
    .await;
    assert_error((s, &v), 413, "Chunk too large");
    assert_eq!(files_under(&server.data_dir()), on_disk);
    let (s, v) = send_sized(&server, Method::PUT, &path, OCTET, &test_bytes(4 * cs, 6)).await;
    assert_error((s, &v), 413, "Chunk too large");
    assert_eq!(files_under(&server.data_dir()), on_disk);

    // Without a Content-Length (chunked): refused while streaming, the partial file removed.
    let big = test_bytes(cs + 4096, 7);
    let (s, v) = send_streamed(&server, Method::PUT, &path, &big, 4096).await;
    assert_error((s, &v), 413, "Chunk too large");
    assert_eq!(
        files_under(&server.data_dir()),
        on_disk,
        "an oversized streamed chunk left a file"
    );

    // Multipart whose part is too large.
    let (s, v) = multipart_refusable(&server, &upload, 0, &test_bytes(cs + 2048, 8)).await;
    assert_error((s, &v), 413, "Chunk too large");
    assert_eq!(files_under(&server.data_dir()), on_disk);

    let (_, st) = status_of(&server, &upload).await;
    assert_eq!(st["uploadedChunks"].as_u64(), Some(0));

    // Exactly chunk size + 1,024 bytes of crypto overhead is allowed, by each transport.
    let (s, v) = server.put_chunk(&upload, 0, test_bytes(cs + 1024, 9)).await;
    assert_eq!(s, 200, "chunk size + 1024 must be accepted: {v}");
    let (s, v) = server
        .post_chunk_multipart(&upload, 1, test_bytes(cs + 1024, 10))
        .await;
    assert_eq!(s, 200, "multipart chunk size + 1024 must be accepted: {v}");
}

/// The original stat'ed the assembled file before its write stream had finished, so a
/// multi-chunk upload's size (and later Content-Length) was often a fraction of the real
/// one (§6.3, §12.1.1).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn regression_truncated_size_multi_chunk() {
    let server = small_server().await;
    let cs = SMALL as usize;
    let data = test_bytes(20 * cs + 777, 11);
    let total = data.len().div_ceil(cs);
    let upload = server.initiate(file_session(data.len(), total)).await;
    // Reverse order, so assembly cannot rely on arrival order either.
    let order: Vec<usize> = (0..total).rev().collect();
    send_chunks(&server, &upload, &data, cs, &order).await;
    let (s, v) = complete(&server, &upload, json!({})).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["size"].as_u64(), Some(data.len() as u64), "{v}");
    let id = v["clipId"].as_str().unwrap().to_string();
    let (_, info) = server.get_json(&format!("/api/file/{id}/info")).await;
    assert_eq!(info["filesize"].as_u64(), Some(data.len() as u64), "{info}");
    assert_download(&server, &id, None, &data).await;
    // And still after a restart.
    let server = server.restart().await;
    assert_download(&server, &id, None, &data).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn complete_size_is_the_stored_bytes_not_the_declared_filesize() {
    let server = small_server().await;
    let data = test_bytes(1000, 12);
    // Declares two chunks' worth in 2 chunks, sends 600 + 400: the declared size is an
    // upper bound, the stored bytes are the size.
    let upload = server
        .initiate(
            json!({ "filename": "x", "filesize": 2 * SMALL, "totalChunks": 2,
                          "contentType": "file" }),
        )
        .await;
    send_chunks(&server, &upload, &data, 600, &[1, 0]).await;
    let (s, v) = complete(&server, &upload, json!({})).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["size"].as_u64(), Some(1000));
    assert_download(&server, v["clipId"].as_str().unwrap(), None, &data).await;
}

// ---------------------------------------------------------------------------------------
// Status and resume.
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_lists_received_chunks_sorted() {
    let server = small_server().await;
    let cs = SMALL as usize;
    let data = test_bytes(4 * cs, 13);
    let upload = server.initiate(file_session(data.len(), 4)).await;
    let (s, v) = status_of(&server, &upload).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["success"], true);
    assert_eq!(v["uploadId"], upload.as_str());
    assert_eq!(v["receivedChunks"], json!([]));
    assert_eq!(v["uploadedChunks"].as_u64(), Some(0));
    assert_eq!(v["progress"].as_u64(), Some(0));

    send_chunks(&server, &upload, &data, cs, &[2, 0]).await;
    let (s, v) = status_of(&server, &upload).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["receivedChunks"], json!([0, 2]));
    assert_eq!(v["uploadedChunks"].as_u64(), Some(2));
    assert_eq!(v["totalChunks"].as_u64(), Some(4));
    assert_eq!(v["progress"].as_u64(), Some(50));
    assert_eq!(v["status"], "uploading");
    assert_eq!(v["chunkSize"].as_u64(), Some(SMALL));

    send_chunks(&server, &upload, &data, cs, &[3, 1]).await;
    let (_, v) = status_of(&server, &upload).await;
    assert_eq!(v["receivedChunks"], json!([0, 1, 2, 3]));
    assert_eq!(v["uploadedChunks"].as_u64(), Some(4));
    assert_eq!(v["progress"].as_u64(), Some(100));
    assert_eq!(v["status"], "ready");

    // After completion the session is gone.
    let (s, _) = complete(&server, &upload, json!({})).await;
    assert_eq!(s, 200);
    let (s, v) = status_of(&server, &upload).await;
    assert_error((s, &v), 404, "Upload session not found");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_survives_restart_and_upload_resumes() {
    let server = small_server().await;
    let cs = SMALL as usize;
    let data = test_bytes(4 * cs + 99, 14);
    let upload = server.initiate(file_session(data.len(), 5)).await;
    send_chunks(&server, &upload, &data, cs, &[4, 0, 2]).await;

    let server = server.restart().await;
    let (s, v) = status_of(&server, &upload).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["receivedChunks"], json!([0, 2, 4]));
    assert_eq!(v["uploadedChunks"].as_u64(), Some(3));
    assert_eq!(v["totalChunks"].as_u64(), Some(5));

    // After the restart an identical re-send is still idempotent and a different one 409.
    let (s, v) = server.put_chunk(&upload, 0, data[..cs].to_vec()).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["uploadedChunks"].as_u64(), Some(3));
    let (s, v) = server.put_chunk(&upload, 2, test_bytes(cs, 77)).await;
    assert_error((s, &v), 409, "Chunk already uploaded");

    send_chunks(&server, &upload, &data, cs, &[3, 1]).await;
    let (s, v) = complete(&server, &upload, json!({})).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["size"].as_u64(), Some(data.len() as u64));
    assert_download(&server, v["clipId"].as_str().unwrap(), None, &data).await;
}

// ---------------------------------------------------------------------------------------
// Complete.
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn complete_with_missing_chunks_is_400_and_session_stays_usable() {
    let server = small_server().await;
    let cs = SMALL as usize;
    let data = test_bytes(4 * cs + 5, 15);
    let upload = server.initiate(file_session(data.len(), 5)).await;
    let (s, v) = complete(&server, &upload, json!({})).await;
    assert_error((s, &v), 400, "Upload incomplete");
    assert_eq!(v["missingChunks"], json!([0, 1, 2, 3, 4]));

    send_chunks(&server, &upload, &data, cs, &[0, 2]).await;
    let on_disk = files_under(&server.data_dir());
    let (s, v) = complete(&server, &upload, json!({})).await;
    assert_error((s, &v), 400, "Upload incomplete");
    assert_eq!(v["missingChunks"], json!([1, 3, 4]));
    assert_eq!(files_under(&server.data_dir()), on_disk);

    let (s, st) = status_of(&server, &upload).await;
    assert_eq!(s, 200);
    assert_eq!(st["receivedChunks"], json!([0, 2]));
    send_chunks(&server, &upload, &data, cs, &[4, 1]).await;
    let (s, v) = complete(&server, &upload, json!({})).await;
    assert_error((s, &v), 400, "Upload incomplete");
    assert_eq!(v["missingChunks"], json!([3]));
    send_chunks(&server, &upload, &data, cs, &[3]).await;
    let (s, v) = complete(&server, &upload, json!({})).await;
    assert_eq!(s, 200, "{v}");
    assert_download(&server, v["clipId"].as_str().unwrap(), None, &data).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn complete_unknown_or_cancelled_session_is_404() {
    let server = small_server().await;
    let (s, v) = complete(&server, "0123456789ABCDEF", json!({})).await;
    assert_error((s, &v), 404, "Upload session not found");
    let upload = server.initiate(file_session(10, 1)).await;
    server.put_chunk(&upload, 0, vec![1; 10]).await;
    let (s, _) = cancel(&server, &upload).await;
    assert_eq!(s, 200);
    let (s, v) = complete(&server, &upload, json!({})).await;
    assert_error((s, &v), 404, "Upload session not found");
    let (s, v) = complete(&server, "not-an-upload-id", json!({})).await;
    assert!(s == 400 || s == 404, "{s} {v}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn complete_twice_second_is_404() {
    let server = small_server().await;
    let data = test_bytes(500, 16);
    let upload = server.initiate(file_session(data.len(), 1)).await;
    server.put_chunk(&upload, 0, data.clone()).await;
    let (s, v) = complete(&server, &upload, json!({})).await;
    assert_eq!(s, 200, "{v}");
    let on_disk = files_under(&server.data_dir());
    let (s, v2) = complete(&server, &upload, json!({})).await;
    assert_error((s, &v2), 404, "Upload session not found");
    // Chunks for a completed session are refused, the clip is intact.
    let (s, _) = server.put_chunk(&upload, 0, data.clone()).await;
    assert_eq!(s, 404);
    assert_eq!(files_under(&server.data_dir()), on_disk);
    assert_download(&server, v["clipId"].as_str().unwrap(), None, &data).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn complete_answer_fields() {
    let server = small_server().await;
    let data = test_bytes(300, 17);
    let before = now(&server);
    let v = server
        .upload(
            &data,
            json!({ "filename": "report.pdf", "mimeType": "application/pdf", "oneTime": true,
                    "expiration": "30min" }),
            json!({}),
        )
        .await;
    assert_eq!(v["success"], true);
    let id = v["clipId"].as_str().unwrap();
    assert!(is_clip_id(id, 10), "{id}");
    assert_eq!(v["filename"], "report.pdf");
    assert_eq!(v["size"].as_u64(), Some(300));
    assert_eq!(v["oneTime"], true);
    assert_eq!(v["quickShare"], false);
    assert_eq!(v["hasPassword"], false);
    assert_eq!(v["isFile"], true);
    let exp = v["expiresAt"].as_u64().expect("expiresAt is a JSON number");
    assert!(exp >= before + 1_800_000 && exp <= now(&server) + 1_800_000);
    let (_, info) = server.get_json(&format!("/api/file/{id}/info")).await;
    assert_eq!(info["mimeType"], "application/pdf");
    assert_eq!(info["filename"], "report.pdf");
    assert_eq!(info["expiresAt"].as_u64(), Some(exp));
}

/// The original fixed a clip's expiry at initiate, so upload time shortened its life
/// (§4.2, §12.1.10).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn regression_expiry_counted_from_initiate() {
    let server = small_server().await;
    let data = test_bytes(1000, 18);
    let (s, init) = server
        .post_json(
            "/api/upload/initiate",
            json!({ "filename": "slow.bin", "filesize": data.len(), "contentType": "file",
                    "expiration": "15min" }),
        )
        .await;
    assert_eq!(s, 200);
    let upload = init["uploadId"].as_str().unwrap().to_string();
    server.put_chunk(&upload, 0, data.clone()).await;
    server.clock.advance(Duration::from_secs(10 * 60));
    let (s, v) = complete(&server, &upload, json!({})).await;
    assert_eq!(s, 200, "{v}");
    let exp = v["expiresAt"].as_u64().unwrap();
    let expected = now(&server) + 900_000;
    assert!(
        exp.abs_diff(expected) < 5_000,
        "expiresAt {exp} is not completion + 15 min ({expected}); initiate said {}",
        init["expiresAt"]
    );
    let id = v["clipId"].as_str().unwrap().to_string();
    let (_, info) = server.get_json(&format!("/api/clip/{id}/info")).await;
    assert_eq!(info["expiresAt"].as_u64(), Some(exp));

    // 14 minutes after completion (24 after initiate) it is still there.
    server.clock.advance(Duration::from_secs(14 * 60));
    let (s, _) = server.get_json(&format!("/api/clip/{id}/info")).await;
    assert_eq!(s, 200, "the clip died before its 15 minutes");
    // Past its 15 minutes it is gone, swept or not.
    server.clock.advance(Duration::from_secs(2 * 60));
    let (s, _) = server.get_json(&format!("/api/clip/{id}/info")).await;
    assert_eq!(s, 404);
    let (s, _) = server.download_bytes(&id, None).await;
    assert_eq!(s, 404);
}

/// The original ended an upload session at its clip's expiry, so a Quick Share upload taking
/// longer than 5 minutes was swept mid-upload (§6.1, §12.1.10).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn regression_quick_share_session_dies_after_5_min() {
    let server = small_server().await;
    let cs = SMALL as usize;
    let data = test_bytes(2 * cs, 19);
    let upload = server
        .initiate(
            json!({ "filename": "qs", "contentType": "text", "quickShare": true,
                          "totalChunks": 2 }),
        )
        .await;
    send_chunks(&server, &upload, &data, cs, &[0]).await;
    server.clock.advance(Duration::from_secs(8 * 60));
    server.sweep().await;
    let (s, v) = status_of(&server, &upload).await;
    assert_eq!(s, 200, "the session was dropped after 8 minutes: {v}");
    send_chunks(&server, &upload, &data, cs, &[1]).await;
    let (s, v) = complete(&server, &upload, json!({})).await;
    assert_eq!(s, 200, "{v}");
    let exp = v["expiresAt"].as_u64().unwrap();
    assert!(exp.abs_diff(now(&server) + 300_000) < 5_000);
    assert_download(&server, v["clipId"].as_str().unwrap(), None, &data).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quick_share_rules_forced_by_server() {
    let server = small_server().await;
    let data = test_bytes(200, 20);
    // Asks for 24 hours and an access code; gets 5 minutes, 6 characters, no code.
    let (s, init) = server
        .post_json(
            "/api/upload/initiate",
            json!({ "filename": "qs.txt", "contentType": "text", "quickShare": true,
                    "expiration": "24hr", "hasPassword": true }),
        )
        .await;
    assert_eq!(s, 200, "{init}");
    assert_eq!(init["quickShare"], true);
    let iexp = init["expiresAt"].as_u64().unwrap();
    assert!(
        iexp.abs_diff(now(&server) + 300_000) < 5_000,
        "initiate expiresAt {iexp}"
    );
    let upload = init["uploadId"].as_str().unwrap().to_string();
    server.put_chunk(&upload, 0, data.clone()).await;
    let (s, v) = complete(
        &server,
        &upload,
        json!({ "requiresAccessCode": true, "accessCodeHash": access_hash(1) }),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    let id = v["clipId"].as_str().unwrap().to_string();
    assert!(
        is_clip_id(&id, 6),
        "Quick Share ID {id:?} is not 6 of A-Z0-9"
    );
    assert_eq!(v["quickShare"], true);
    assert_eq!(v["hasPassword"], false);
    let exp = v["expiresAt"].as_u64().unwrap();
    assert!(
        exp.abs_diff(now(&server) + 300_000) < 5_000,
        "Quick Share expiresAt {exp} is not now + 5 min"
    );
    let (s, info) = server.get_json(&format!("/api/clip/{id}/info")).await;
    assert_eq!(s, 200);
    assert_eq!(info["hasPassword"], false);
    assert_eq!(info["expiresAt"].as_u64(), Some(exp));
    assert_download(&server, &id, None, &data).await;

    // A file Quick Share with the legacy password body: the same rules.
    let v = server
        .upload(
            &data,
            json!({ "quickShare": true, "expiration": "6hr" }),
            json!({ "password": access_hash(2) }),
        )
        .await;
    let id = v["clipId"].as_str().unwrap().to_string();
    assert!(is_clip_id(&id, 6), "{id}");
    assert_eq!(v["hasPassword"], false);
    assert!(
        v["expiresAt"]
            .as_u64()
            .unwrap()
            .abs_diff(now(&server) + 300_000)
            < 5_000
    );
    assert_download(&server, &id, None, &data).await;

    // After 5 minutes it is gone.
    server.clock.advance(Duration::from_secs(5 * 60 + 1));
    let (s, _) = server.download_bytes(&id, None).await;
    assert_eq!(s, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enhanced_clip_ids_are_10_chars() {
    let server = small_server().await;
    let mut seen = std::collections::HashSet::new();
    for i in 0..8u64 {
        let data = test_bytes(50, 100 + i);
        let text = i % 2 == 0;
        let v = server
            .upload(
                &data,
                json!({ "contentType": if text { "text" } else { "file" } }),
                json!({}),
            )
            .await;
        let id = v["clipId"].as_str().unwrap().to_string();
        assert!(is_clip_id(&id, 10), "clip ID {id:?} is not 10 of A-Z0-9");
        assert_eq!(v["quickShare"], false);
        assert!(seen.insert(id), "a clip ID was handed out twice");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn complete_access_code_must_be_128_hex() {
    let server = small_server().await;
    let data = test_bytes(400, 21);
    let upload = server.initiate(file_session(data.len(), 1)).await;
    server.put_chunk(&upload, 0, data.clone()).await;
    let on_disk = files_under(&server.data_dir());
    let bad = [
        json!({ "requiresAccessCode": true, "accessCodeHash": "ab".repeat(32) }),
        json!({ "requiresAccessCode": true, "accessCodeHash": "zz".repeat(64) }),
        json!({ "requiresAccessCode": true, "accessCodeHash": "ab".repeat(65) }),
        json!({ "requiresAccessCode": true, "accessCodeHash": "secret" }),
        json!({ "requiresAccessCode": true, "accessCodeHash": 12345 }),
        json!({ "requiresAccessCode": true }),
        json!({ "password": "ab".repeat(32) }),
        json!({ "password": "hunter2" }),
    ];
    for body in bad {
        let (s, v) = complete(&server, &upload, body.clone()).await;
        assert!(
            s == 400 && v["error"] == "Validation failed",
            "{body} gave {s} {v}"
        );
    }
    // Nothing was created: the session is still there and the disk unchanged.
    assert_eq!(files_under(&server.data_dir()), on_disk);
    let (s, st) = status_of(&server, &upload).await;
    assert_eq!(s, 200);
    assert_eq!(st["receivedChunks"], json!([0]));

    let code = access_hash(9);
    let (s, v) = complete(
        &server,
        &upload,
        json!({ "requiresAccessCode": true, "accessCodeHash": code }),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["hasPassword"], true);
    let id = v["clipId"].as_str().unwrap().to_string();
    let (_, info) = server.get_json(&format!("/api/file/{id}/info")).await;
    assert_eq!(info["hasPassword"], true);
    let (s, _) = server.download_bytes(&id, None).await;
    assert_eq!(s, 401);
    let (s, _) = server.download_bytes(&id, Some(&access_hash(10))).await;
    assert_eq!(s, 401);
    assert_download(&server, &id, Some(&code), &data).await;

    // requiresAccessCode false: a hash alongside is ignored.
    let v = server
        .upload(
            &data,
            json!({}),
            json!({ "requiresAccessCode": false, "accessCodeHash": access_hash(3) }),
        )
        .await;
    assert_eq!(v["hasPassword"], false);
    assert_download(&server, v["clipId"].as_str().unwrap(), None, &data).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn complete_legacy_password_body_sets_access_code() {
    let server = small_server().await;
    let data = test_bytes(700, 22);
    let code = access_hash(7);
    let v = server
        .upload(&data, json!({}), json!({ "password": code }))
        .await;
    assert_eq!(v["hasPassword"], true, "{v}");
    let id = v["clipId"].as_str().unwrap().to_string();
    let (_, info) = server.get_json(&format!("/api/clip/{id}/info")).await;
    assert_eq!(info["hasPassword"], true);
    let r = server.download(&id, None).await;
    assert_eq!(r.status().as_u16(), 401);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"], "Access code required");
    let r = server.download(&id, Some(&access_hash(8))).await;
    assert_eq!(r.status().as_u16(), 401);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"], "Access denied");
    assert_download(&server, &id, Some(&code), &data).await;

    // An empty legacy password means no protection.
    let v = server
        .upload(&data, json!({}), json!({ "password": "" }))
        .await;
    assert_eq!(v["hasPassword"], false);
    assert_download(&server, v["clipId"].as_str().unwrap(), None, &data).await;
}

// ---------------------------------------------------------------------------------------
// Cancel.
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_removes_session_and_files() {
    let server = small_server().await;
    let cs = SMALL as usize;
    let data = test_bytes(3 * cs, 23);
    // Another session, to show cancel removes only its own files.
    let other = server.initiate(file_session(10, 1)).await;
    server.put_chunk(&other, 0, vec![5; 10]).await;
    let before = files_under(&server.data_dir());

    let upload = server.initiate(file_session(data.len(), 3)).await;
    send_chunks(&server, &upload, &data, cs, &[0, 2]).await;
    let during = files_under(&server.data_dir());
    assert!(
        during.len() >= before.len() + 2,
        "the chunks are not on disk: {during:?}"
    );

    let (s, v) = cancel(&server, &upload).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["success"], true);
    assert_eq!(v["message"], "Upload cancelled successfully");
    assert_eq!(
        files_under(&server.data_dir()),
        before,
        "cancel left the session's files on disk"
    );

    let (s, v) = server
        .put_chunk(&upload, 1, data[cs..2 * cs].to_vec())
        .await;
    assert_error((s, &v), 404, "Upload session not found");
    let (s, v) = status_of(&server, &upload).await;
    assert_error((s, &v), 404, "Upload session not found");
    let (s, v) = complete(&server, &upload, json!({})).await;
    assert_error((s, &v), 404, "Upload session not found");
    let (s, v) = cancel(&server, &upload).await;
    assert_error((s, &v), 404, "Upload session not found");
    assert_eq!(files_under(&server.data_dir()), before);

    // The other session is untouched, also after a restart.
    let server = server.restart().await;
    let (s, st) = status_of(&server, &other).await;
    assert_eq!(s, 200);
    assert_eq!(st["receivedChunks"], json!([0]));
    let (s, _) = status_of(&server, &upload).await;
    assert_eq!(s, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_unknown_is_404_bad_id_is_400() {
    let server = small_server().await;
    let (s, v) = cancel(&server, "0123456789ABCDEF").await;
    assert_error((s, &v), 404, "Upload session not found");
    assert_eq!(v["message"], "Invalid upload session");
    for bad in [
        "ABC",
        "0123456789ABCDEF0",
        "GGGGGGGGGGGGGGGG",
        "..%2F..%2F..%2F..%2Fetc%2F",
    ] {
        let (s, v) = cancel(&server, bad).await;
        assert_error((s, &v), 400, "Validation failed");
    }
}

// ---------------------------------------------------------------------------------------
// Text sessions and links.
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn text_sessions_get_clip_urls_and_text_mime() {
    let server = small_server().await;
    let data = test_bytes(120, 24);
    let cases = [
        (
            json!({ "contentType": "text", "mimeType": "image/png" }),
            true,
        ),
        (
            json!({ "contentType": "file", "isTextContent": true }),
            true,
        ),
        (
            json!({ "contentType": "file", "isTextContent": "true" }),
            true,
        ),
        (
            json!({ "contentType": "file", "mimeType": "image/png" }),
            false,
        ),
        (json!({ "contentType": "file" }), false),
    ];
    for (init, text) in cases {
        let v = server.upload(&data, init.clone(), json!({})).await;
        let id = v["clipId"].as_str().unwrap().to_string();
        let url = v["url"].as_str().unwrap();
        let (s, d) = server.get_json(&format!("/api/clip/{id}")).await;
        assert_eq!(s, 200, "{d}");
        if text {
            assert!(url.ends_with(&format!("/clip/{id}")), "{init}: url {url}");
            assert_eq!(d["mimeType"], "text/plain; charset=utf-8", "{init}: {d}");
            assert_eq!(d["contentType"], "text", "{init}: {d}");
        } else {
            assert!(url.ends_with(&format!("/file/{id}")), "{init}: url {url}");
            assert_eq!(d["contentType"], "file", "{init}: {d}");
            let want = init["mimeType"]
                .as_str()
                .unwrap_or("application/octet-stream");
            assert_eq!(d["mimeType"], want, "{init}: {d}");
        }
        assert_download(&server, &id, None, &data).await;
    }
    // No contentType at all: a text session, as in the original.
    let upload = server
        .initiate(json!({ "filename": "t", "filesize": data.len() }))
        .await;
    server.put_chunk(&upload, 0, data.clone()).await;
    let (s, v) = complete(&server, &upload, json!({})).await;
    assert_eq!(s, 200);
    assert!(v["url"].as_str().unwrap().contains("/clip/"), "{v}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn complete_url_uses_request_host() {
    // Any Host is answered (`*`), so that the links built from odd ones can be checked; the
    // Host check itself is tested in hosts.rs.
    let server = TestServer::start_with(|c| {
        c.chunk_size = SMALL;
        c.allowed_hosts = vec!["*".into()];
    })
    .await;
    let data = test_bytes(64, 25);
    let v = server.upload(&data, json!({}), json!({})).await;
    let id = v["clipId"].as_str().unwrap();
    assert_eq!(v["url"], format!("{}/file/{id}", server.base), "{v}");

    for (host, want) in [
        ("qopy.lan:8080", "http://qopy.lan:8080"),
        ("192.168.1.20:8080", "http://192.168.1.20:8080"),
        ("evil.example/<script>", "http://localhost"),
    ] {
        let upload = server.initiate(file_session(data.len(), 1)).await;
        server.put_chunk(&upload, 0, data.clone()).await;
        let r = server
            .post(&format!("/api/upload/complete/{upload}"))
            .header("host", host)
            .json(&json!({}))
            .answer()
            .await;
        assert_eq!(r.status().as_u16(), 200);
        let v: Value = r.json().await.unwrap();
        let id = v["clipId"].as_str().unwrap();
        assert_eq!(v["url"], format!("{want}/file/{id}"), "Host {host}: {v}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn complete_url_uses_public_url() {
    let server = TestServer::start_with(|c| {
        c.chunk_size = SMALL;
        c.public_url = Some("https://share.example".into());
        // Answered, so that the link it gets can be checked.
        c.allowed_hosts = vec!["attacker.example".into()];
    })
    .await;
    let data = test_bytes(64, 26);
    let v = server.upload(&data, json!({}), json!({})).await;
    let id = v["clipId"].as_str().unwrap();
    assert_eq!(v["url"], format!("https://share.example/file/{id}"), "{v}");
    let v = server
        .upload(&data, json!({ "contentType": "text" }), json!({}))
        .await;
    let id = v["clipId"].as_str().unwrap();
    assert_eq!(v["url"], format!("https://share.example/clip/{id}"), "{v}");
    // The request's Host does not override it.
    let upload = server.initiate(file_session(data.len(), 1)).await;
    server.put_chunk(&upload, 0, data.clone()).await;
    let r = server
        .post(&format!("/api/upload/complete/{upload}"))
        .header("host", "attacker.example")
        .json(&json!({}))
        .answer()
        .await;
    let v: Value = r.json().await.unwrap();
    let id = v["clipId"].as_str().unwrap();
    assert_eq!(v["url"], format!("https://share.example/file/{id}"), "{v}");
}
