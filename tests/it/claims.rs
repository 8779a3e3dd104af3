//! Download claims (issue 12, points 4 and 5): the first download of a one-time clip claims
//! it, durably, before the first byte; only its reader, with the `X-Qopy-Claim` token of that
//! first answer, can resume it with `Range`, within `claim_window`; the clip goes once that
//! reader has been sent the last byte, or when the window closes; the claim survives a
//! `kill -9`. `maxDownloads` N generalises this to N claims.

use crate::harness::*;
use futures_util::StreamExt;
use serde_json::json;
use std::time::Duration;

const CHUNK: u64 = 64 * 1024;

/// Reads at least `n` bytes of an answer, then drops it (the reader's connection breaks).
async fn read_then_drop(r: reqwest::Response, n: usize) -> Vec<u8> {
    let mut got = Vec::new();
    let mut stream = r.bytes_stream();
    while got.len() < n {
        got.extend_from_slice(&stream.next().await.expect("more bytes").unwrap());
    }
    got
}

/// `POST /api/file/:id` from byte `from`, with a claim token.
async fn resume(http: &Http, id: &str, from: usize, tag: &str, token: &str) -> reqwest::Response {
    http.post(&format!("/api/file/{id}"))
        .header("range", format!("bytes={from}-"))
        .header("if-range", tag)
        .header("x-qopy-claim", token)
        .json(&json!({}))
        .answer()
        .await
}

async fn info(http: &Http, id: &str) -> (u16, serde_json::Value) {
    http.get_json(&format!("/api/clip/{id}/info")).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_one_time_download_cut_midway_resumes_with_its_claim_and_nobody_else_gets_it() {
    let s = TestServer::start_with(|c| c.chunk_size = CHUNK).await;
    let data = test_bytes(40 * CHUNK as usize + 77, 21);
    let v = s.upload(&data, json!({ "oneTime": true }), json!({})).await;
    let id = v["clipId"].as_str().unwrap().to_string();
    let (status, i) = info(&s, &id).await;
    assert_eq!(status, 200);
    assert_eq!(
        (i["maxDownloads"].as_u64(), i["downloadsRemaining"].as_u64()),
        (Some(1), Some(1))
    );

    let first = s.download(&id, None).await;
    assert_eq!(first.status(), 200);
    let token = header(&first, "x-qopy-claim");
    let tag = header(&first, "etag");
    assert!(
        token.len() >= 32 && token.is_ascii(),
        "claim token {token:?}"
    );
    let mut got = read_then_drop(first, 300_000).await;

    // Claimed: everybody else is refused, a wrong token too, and info says it is gone.
    assert_eq!(s.download(&id, None).await.status(), 404);
    assert_eq!(info(&s, &id).await.0, 404);
    let wrong = resume(&s, &id, got.len(), &tag, &"0".repeat(token.len())).await;
    assert_eq!(wrong.status(), 404);
    assert_eq!(
        s.get_file(&id, "*/*").await.status(),
        200,
        "a GET gets the page only"
    );

    // The claimant resumes, twice (a second cut), and gets every byte exactly once.
    let r = resume(&s, &id, got.len(), &tag, &token).await;
    assert_eq!(r.status(), 206);
    assert_eq!(
        header(&r, "content-range"),
        format!("bytes {}-{}/{}", got.len(), data.len() - 1, data.len())
    );
    assert!(
        header(&r, "x-qopy-claim").is_empty(),
        "a resume makes no new claim"
    );
    let more = read_then_drop(r, 500_000).await;
    got.extend_from_slice(&more);
    assert_eq!(s.download(&id, None).await.status(), 404);
    let r = resume(&s, &id, got.len(), &tag, &token).await;
    assert_eq!(r.status(), 206);
    got.extend_from_slice(&r.bytes().await.unwrap());
    assert_eq!(got, data);

    // Sent the last byte: the clip goes, files and all, and the token is worth nothing.
    let dir = s.data_dir();
    eventually("the clip's files go", Duration::from_secs(5), || {
        files_under(&dir).is_empty()
    })
    .await;
    assert_eq!(resume(&s, &id, 0, &tag, &token).await.status(), 404);
    assert_eq!(s.download(&id, None).await.status(), 404);
}

/// A download whose connection the server closes after the answer (`Connection: close`, as
/// HTTP/1.0 proxies ask) is finished too: the orderly close is not a reset.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_download_on_a_closing_connection_finishes_its_claim() {
    let s = TestServer::start_with(|c| c.chunk_size = CHUNK).await;
    let data = test_bytes(20 * CHUNK as usize, 28);
    let v = s
        .upload(&data, json!({ "maxDownloads": 2 }), json!({}))
        .await;
    let id = v["clipId"].as_str().unwrap().to_string();
    for _ in 0..2 {
        let r = s
            .post(&format!("/api/file/{id}"))
            .header("connection", "close")
            .json(&json!({}))
            .answer()
            .await;
        assert_eq!(r.status(), 200);
        assert_eq!(r.bytes().await.unwrap().to_vec(), data);
    }
    let dir = s.data_dir();
    eventually(
        "two finished downloads remove the clip",
        Duration::from_secs(5),
        || files_under(&dir).is_empty(),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_readers_of_a_one_time_clip_have_exactly_one_winner() {
    let s = TestServer::start_with(|c| c.chunk_size = CHUNK).await;
    let data = test_bytes(8 * CHUNK as usize, 22);
    for round in 0..3 {
        let v = s.upload(&data, json!({ "oneTime": true }), json!({})).await;
        let id = v["clipId"].as_str().unwrap().to_string();
        let answers = futures_util::future::join_all((0..16).map(|_| {
            let (http, id) = (s.http.clone(), id.clone());
            async move {
                let r = http.download(&id, None).await;
                let claimed = !header(&r, "x-qopy-claim").is_empty();
                (
                    r.status().as_u16(),
                    claimed,
                    r.bytes().await.unwrap().to_vec(),
                )
            }
        }))
        .await;
        let winners: Vec<_> = answers.iter().filter(|a| a.0 == 200).collect();
        assert_eq!(
            winners.len(),
            1,
            "round {round}: {:?}",
            answers.iter().map(|a| a.0).collect::<Vec<_>>()
        );
        assert!(winners[0].1 && winners[0].2 == data);
        assert!(answers
            .iter()
            .all(|a| a.0 == 200 || a.0 == 404 || a.0 == 410));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unfinished_claim_ends_with_its_window_and_takes_the_clip() {
    let s = TestServer::start_with(|c| {
        c.chunk_size = CHUNK;
        c.claim_window = Duration::from_secs(60);
    })
    .await;
    let data = test_bytes(10 * CHUNK as usize, 23);
    let v = s.upload(&data, json!({ "oneTime": true }), json!({})).await;
    let id = v["clipId"].as_str().unwrap().to_string();
    // The reader takes the first 100,000 bytes and stops there (a part, read to its end: the
    // answer is over once it has them all, and the claim is not finished).
    let part = |range: &'static str, token: Option<String>| {
        let mut req = s
            .post(&format!("/api/file/{id}"))
            .header("range", range)
            .json(&json!({}));
        if let Some(t) = token {
            req = req.header("x-qopy-claim", t);
        }
        req.answer()
    };
    let first = part("bytes=0-99999", None).await;
    assert_eq!(first.status(), 206);
    let (token, tag) = (header(&first, "x-qopy-claim"), header(&first, "etag"));
    let got = first.bytes().await.unwrap();
    assert_eq!(got.len(), 100_000);

    // Within the window a sweep leaves it alone and the claimant may resume.
    assert_eq!(s.sweep().await["endedClaims"], 0);
    s.clock.advance(Duration::from_secs(59));
    let r = part("bytes=100000-199999", Some(token.clone())).await;
    assert_eq!(r.status(), 206);
    assert_eq!(r.bytes().await.unwrap().len(), 100_000);
    // The window starts again at the end of that answer.
    s.clock.advance(Duration::from_secs(59));
    assert_eq!(s.sweep().await["endedClaims"], 0);
    // Past it the claim is over: the sweep ends it and removes the clip, and the token fails.
    s.clock.advance(Duration::from_secs(2));
    assert_eq!(resume(&s, &id, 200_000, &tag, &token).await.status(), 404);
    assert_eq!(s.sweep().await["endedClaims"], 1);
    assert!(files_under(&s.data_dir()).is_empty());
    assert_eq!(s.download(&id, None).await.status(), 404);
    assert_eq!(s.sweep().await["endedClaims"], 0);
}

/// A download that takes longer than the window: its claim stays open while an answer is
/// being sent, and the window starts again when an answer ends, so it can still be resumed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_claim_window_counts_from_the_end_of_its_last_answer() {
    let s = TestServer::start_with(|c| {
        c.chunk_size = CHUNK;
        c.claim_window = Duration::from_secs(60);
    })
    .await;
    let data = test_bytes(160 * CHUNK as usize, 29);
    let v = s.upload(&data, json!({ "oneTime": true }), json!({})).await;
    let id = v["clipId"].as_str().unwrap().to_string();
    let first = s.download(&id, None).await;
    let (token, tag) = (header(&first, "x-qopy-claim"), header(&first, "etag"));
    // A slow reader: the answer is still being sent when the window's time has passed.
    let mut stream = first.bytes_stream();
    let mut got = stream.next().await.unwrap().unwrap().to_vec();
    s.clock.advance(Duration::from_secs(90));
    assert_eq!(s.sweep().await["endedClaims"], 0, "an answer is being sent");
    while got.len() < 1_000_000 {
        got.extend_from_slice(&stream.next().await.unwrap().unwrap());
    }
    drop(stream);
    // Cut at 90 s: the window now runs from the cut.
    s.clock.advance(Duration::from_secs(50));
    assert_eq!(s.sweep().await["endedClaims"], 0);
    let r = resume(&s, &id, got.len(), &tag, &token).await;
    assert_eq!(r.status(), 206);
    got.extend_from_slice(&r.bytes().await.unwrap());
    assert_eq!(got, data);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sweeper_wakes_for_a_claim_window_by_itself() {
    let s = TestServer::start_with(|c| {
        c.chunk_size = CHUNK;
        c.claim_window = Duration::from_millis(300);
        c.sweep_interval = Duration::from_secs(3600);
    })
    .await;
    let data = test_bytes(4 * CHUNK as usize, 24);
    let v = s.upload(&data, json!({ "oneTime": true }), json!({})).await;
    let id = v["clipId"].as_str().unwrap().to_string();
    let first = s.download(&id, None).await;
    let _ = read_then_drop(first, 10_000).await;
    let dir = s.data_dir();
    eventually(
        "the window's end removes the clip",
        Duration::from_secs(10),
        || files_under(&dir).is_empty(),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_download_limit_counts_claims_and_shows_what_is_left() {
    let s = TestServer::start_with(|c| c.chunk_size = CHUNK).await;
    let data = test_bytes(6 * CHUNK as usize + 5, 25);
    let v = s
        .upload(&data, json!({ "maxDownloads": 3 }), json!({}))
        .await;
    let id = v["clipId"].as_str().unwrap().to_string();
    let left = |v: serde_json::Value| v["downloadsRemaining"].as_u64();
    let (_, i) = info(&s, &id).await;
    assert_eq!(
        (
            i["maxDownloads"].as_u64(),
            left(i.clone()),
            i["oneTime"].as_bool()
        ),
        (Some(3), Some(3), Some(false))
    );

    // One whole download, one cut midway (in progress: it holds its download), one more whole.
    assert_eq!(s.download_bytes(&id, None).await, (200, data.clone()));
    assert_eq!(left(info(&s, &id).await.1), Some(2));
    let second = s.download(&id, None).await;
    let (token, tag) = (header(&second, "x-qopy-claim"), header(&second, "etag"));
    let mut got = read_then_drop(second, 50_000).await;
    assert_eq!(left(info(&s, &id).await.1), Some(1));
    assert_eq!(s.download_bytes(&id, None).await, (200, data.clone()));
    // All three claimed: nobody else, and info says it is gone, but the cut one resumes.
    assert_eq!(s.download(&id, None).await.status(), 404);
    assert_eq!(info(&s, &id).await.0, 404);
    let r = resume(&s, &id, got.len(), &tag, &token).await;
    assert_eq!(r.status(), 206);
    got.extend_from_slice(&r.bytes().await.unwrap());
    assert_eq!(got, data);
    let dir = s.data_dir();
    eventually(
        "the last download removes the clip",
        Duration::from_secs(5),
        || files_under(&dir).is_empty(),
    )
    .await;

    // Unlimited clips say so, and a claim header on one changes nothing.
    let id = s.upload_file(&data).await;
    let (_, i) = info(&s, &id).await;
    assert!(
        i["maxDownloads"].is_null() && i["downloadsRemaining"].is_null(),
        "{i}"
    );
    let r = resume(
        &s,
        &id,
        10,
        &header(&s.download(&id, None).await, "etag"),
        "whatever",
    )
    .await;
    assert_eq!(r.status(), 206);
    assert!(header(&r, "x-qopy-claim").is_empty());
}

/// Only finished downloads count: a claim whose window ends unfinished gives its download
/// back (a one-time clip's does not: see above).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_abandoned_download_of_a_limited_clip_is_given_back() {
    let s = TestServer::start_with(|c| {
        c.chunk_size = CHUNK;
        c.claim_window = Duration::from_secs(60);
    })
    .await;
    let data = test_bytes(40 * CHUNK as usize, 27);
    let v = s
        .upload(&data, json!({ "maxDownloads": 2 }), json!({}))
        .await;
    let id = v["clipId"].as_str().unwrap().to_string();
    // The reader takes a first part, read to its end, and never comes back for the rest.
    let cut = s
        .post(&format!("/api/file/{id}"))
        .header("range", "bytes=0-99999")
        .json(&json!({}))
        .answer()
        .await;
    assert_eq!(cut.status(), 206);
    let (token, tag) = (header(&cut, "x-qopy-claim"), header(&cut, "etag"));
    assert_eq!(cut.bytes().await.unwrap().len(), 100_000);
    assert_eq!(s.download_bytes(&id, None).await, (200, data.clone()));
    assert_eq!(info(&s, &id).await.0, 404, "both downloads taken");
    // The whole one is finished once its reader has kept the connection a second
    // (`qopy::net::SETTLE`) after the last byte.
    tokio::time::sleep(qopy::net::SETTLE + Duration::from_secs(1)).await;

    s.clock.advance(Duration::from_secs(61));
    // The cut answer counts as being sent until the server has seen its reader go.
    let mut ended = 0;
    for _ in 0..100 {
        ended = s.sweep().await["endedClaims"].as_u64().unwrap();
        if ended > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(ended, 1);
    let (status, i) = info(&s, &id).await;
    assert_eq!(
        (status, i["downloadsRemaining"].as_u64()),
        (200, Some(1)),
        "{i}"
    );
    assert_eq!(resume(&s, &id, 100, &tag, &token).await.status(), 404);
    assert_eq!(s.download_bytes(&id, None).await, (200, data.clone()));
    let dir = s.data_dir();
    eventually(
        "the second finished download removes the clip",
        Duration::from_secs(5),
        || files_under(&dir).is_empty(),
    )
    .await;
    assert_eq!(info(&s, &id).await.0, 404);
}

#[tokio::test]
async fn bad_download_limits_are_refused_clearly() {
    let s = TestServer::start().await;
    for (body, needle) in [
        (
            json!({ "filename": "a", "maxDownloads": 0 }),
            "maxDownloads must be an integer from 1 to 1000",
        ),
        (
            json!({ "filename": "a", "maxDownloads": 1001 }),
            "maxDownloads must be an integer from 1 to 1000",
        ),
        (
            json!({ "filename": "a", "maxDownloads": "many" }),
            "maxDownloads must be a positive integer",
        ),
        (
            json!({ "filename": "a", "maxDownloads": -1 }),
            "maxDownloads must be a positive integer",
        ),
        (
            json!({ "filename": "a", "maxDownloads": 2, "oneTime": true }),
            "oneTime means maxDownloads 1",
        ),
    ] {
        let (status, v) = s.post_json("/api/upload/initiate", body.clone()).await;
        assert_eq!(status, 400, "{body}: {v}");
        assert_eq!(v["error"], "Validation failed", "{v}");
        assert!(
            v["message"].as_str().unwrap().contains(needle),
            "{body}: {v}"
        );
    }
    let (status, v) = s
        .post_json(
            "/api/upload/initiate",
            json!({ "filename": "a", "maxDownloads": "2", "oneTime": false }),
        )
        .await;
    assert_eq!(status, 200, "{v}");

    // The one-shot route: a query parameter or a header.
    for req in [
        s.put("/a.txt?maxDownloads=2"),
        s.put("/a.txt").header("x-qopy-max-downloads", "2"),
    ] {
        let url = req.body("hello").answer().await.text().await.unwrap();
        let id = url.trim_end().rsplit('/').next().unwrap().to_string();
        let (_, i) = info(&s, &id).await;
        assert_eq!(i["maxDownloads"], 2, "{i}");
        // A GET never counts: scripts POST.
        assert_eq!(s.get_file(&id, "*/*").await.status(), 409);
        let r = s.post(&format!("/file/{id}")).answer().await;
        assert_eq!(r.status(), 200);
        assert!(!header(&r, "x-qopy-claim").is_empty());
        assert_eq!(r.text().await.unwrap(), "hello");
        assert_eq!(info(&s, &id).await.1["downloadsRemaining"], 1);
    }
    for req in [
        s.put("/a.txt?maxDownloads=zero"),
        s.put("/a.txt").header("x-qopy-max-downloads", "5000"),
        s.put("/a.txt?maxDownloads=3&oneTime=1"),
    ] {
        let r = req.body("hello").answer().await;
        assert_eq!(r.status(), 400);
    }
}

/// The claim and its window survive a `kill -9` in the middle of the claimed download.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_claim_survives_kill_9_mid_download_and_resumes_after_restart() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = Spawn::qopy(dir.path())
        .args(["--chunk-size", "64KiB"])
        .spawn()
        .ready();
    let http = server.http();
    let data = test_bytes(64 * CHUNK as usize, 26);
    let v = http
        .upload_in_chunks(&data, CHUNK as usize, json!({ "oneTime": true }), json!({}))
        .await;
    let id = v["clipId"].as_str().unwrap().to_string();
    let first = http.download(&id, None).await;
    let (token, tag) = (header(&first, "x-qopy-claim"), header(&first, "etag"));
    let mut got = read_then_drop(first, 200_000).await;
    server.kill();

    let server = Spawn::qopy(dir.path())
        .args(["--chunk-size", "64KiB"])
        .spawn()
        .ready();
    let http = server.http();
    assert_eq!(
        http.download(&id, None).await.status(),
        404,
        "still claimed"
    );
    assert_eq!(http.get_json(&format!("/api/clip/{id}/info")).await.0, 404);
    let r = resume(&http, &id, got.len(), &tag, &token).await;
    assert_eq!(r.status(), 206);
    got.extend_from_slice(&r.bytes().await.unwrap());
    assert_eq!(got, data);
}
