//! Resumable downloads: `Range` on the download routes (206 with `Content-Range`, `If-Range`
//! against the strong `ETag`, 416 past the end), for an encrypted clip's ciphertext
//! (`POST /api/file/:id`) and an unencrypted one-shot clip (`GET /file/:id`), across chunk
//! boundaries; a one-time clip's ranges go to the reader that claimed it.

use crate::harness::{header, test_bytes, Answer, TestServer};
use serde_json::json;

const CHUNK: u64 = 64 * 1024;

/// `POST /api/file/:id` with a `Range` (and an `If-Range`).
async fn ranged(
    s: &TestServer,
    id: &str,
    range: &str,
    if_range: Option<&str>,
) -> reqwest::Response {
    let mut req = s
        .post(&format!("/api/file/{id}"))
        .header("range", range)
        .json(&json!({}));
    if let Some(tag) = if_range {
        req = req.header("if-range", tag);
    }
    req.answer().await
}

#[tokio::test]
async fn downloads_resume_from_any_byte_across_chunks() {
    let s = TestServer::start_with(|c| c.chunk_size = CHUNK).await;
    let data = test_bytes(3 * CHUNK as usize + 1000, 7);
    let len = data.len();
    let id = s.upload_file(&data).await;

    // The whole content names its validator and says ranges are welcome.
    let whole = s.download(&id, None).await;
    assert_eq!(whole.status(), 200);
    assert_eq!(header(&whole, "accept-ranges"), "bytes");
    let tag = header(&whole, "etag").to_string();
    assert!(tag.starts_with('"') && tag.len() > 2, "strong ETag: {tag}");
    assert_eq!(whole.bytes().await.unwrap().to_vec(), data);

    // A resume from the middle of the second chunk to the end, and pieces across boundaries.
    let from = CHUNK as usize + 123;
    for (range, first, last) in [
        (format!("bytes={from}-"), from, len - 1),
        (
            format!("bytes={}-{}", CHUNK - 10, CHUNK + 9),
            CHUNK as usize - 10,
            CHUNK as usize + 9,
        ),
        ("bytes=-1000".to_string(), len - 1000, len - 1),
        (format!("bytes=0-{}", len + 50), 0, len - 1),
    ] {
        let r = ranged(&s, &id, &range, Some(&tag)).await;
        assert_eq!(r.status(), 206, "{range}");
        assert_eq!(
            header(&r, "content-range"),
            format!("bytes {first}-{last}/{len}")
        );
        assert_eq!(header(&r, "content-length"), (last - first + 1).to_string());
        assert_eq!(header(&r, "etag"), tag);
        assert_eq!(
            r.bytes().await.unwrap().to_vec(),
            data[first..=last],
            "{range}"
        );
    }

    // An If-Range that no longer matches gets the whole content again.
    let r = ranged(&s, &id, "bytes=10-19", Some("\"something-else\"")).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.bytes().await.unwrap().to_vec(), data);

    // Past the end: 416 with the length, and the error body.
    let r = ranged(&s, &id, &format!("bytes={len}-"), None).await;
    assert_eq!(r.status(), 416);
    assert_eq!(header(&r, "content-range"), format!("bytes */{len}"));
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["error"], "Range not satisfiable");

    // Several ranges, or a malformed one, are ignored: the whole content.
    for range in ["bytes=0-1,5-6", "bytes=9-3", "lines=1-2"] {
        let r = ranged(&s, &id, range, None).await;
        assert_eq!(r.status(), 200, "{range}");
        assert_eq!(r.bytes().await.unwrap().len(), len, "{range}");
    }
}

#[tokio::test]
async fn raw_one_shot_downloads_take_ranges_and_one_time_clips_go_to_their_claimant() {
    let s = TestServer::start_with(|c| c.chunk_size = CHUNK).await;
    let data = test_bytes(2 * CHUNK as usize + 10, 8);
    let url = s.put("/notes.bin").body(data.clone()).answer().await;
    let url = url.text().await.unwrap();
    let id = url.trim_end().rsplit('/').next().unwrap().to_string();
    let r = s
        .get(&format!("/file/{id}"))
        .header("accept", "*/*")
        .header("range", "bytes=100-199")
        .answer()
        .await;
    assert_eq!(r.status(), 206);
    assert_eq!(
        header(&r, "content-range"),
        format!("bytes 100-199/{}", data.len())
    );
    assert_eq!(r.bytes().await.unwrap().to_vec(), data[100..200]);

    // A one-time clip's first download claims it: a range comes with the claim's token,
    // which alone gets the rest (tests/it/claims.rs has the whole story).
    let v = s.upload(&data, json!({ "oneTime": true }), json!({})).await;
    let id = v["clipId"].as_str().unwrap();
    let r = ranged(&s, id, "bytes=0-9", None).await;
    assert_eq!(r.status(), 206);
    let token = header(&r, "x-qopy-claim").to_string();
    assert!(token.len() >= 32, "claim token: {token:?}");
    assert_eq!(r.bytes().await.unwrap().to_vec(), data[..10]);
    assert_eq!(s.download(id, None).await.status(), 404);
    let rest = s
        .post(&format!("/api/file/{id}"))
        .header("range", "bytes=10-")
        .header("x-qopy-claim", &token)
        .json(&json!({}))
        .answer()
        .await;
    assert_eq!(rest.status(), 206);
    assert_eq!(rest.bytes().await.unwrap().to_vec(), data[10..]);
}
