//! Content on S3 (issue 14): the upload, download, resume, one-time, expiry and sweep paths of
//! a server whose content lives in a bucket of a real three-node Garage cluster
//! ([`GarageCluster`]), including a node killed mid-upload and a store that is down. Each
//! test takes a cluster of its own; the servers share its access key through the process's
//! `AWS_*` variables (every cluster imports the same key).

use crate::garage::GarageCluster;
use crate::harness::*;
use qopy::config::Config;
use qopy::s3::Bucket;
use serde_json::json;
use std::time::Duration;

const CHUNK: u64 = 64 * 1024;

/// A server whose content goes to the cluster's bucket through node `node`, below `prefix`.
async fn server_on(
    cluster: &GarageCluster,
    node: usize,
    prefix: &str,
    adjust: impl FnOnce(&mut Config),
) -> TestServer {
    TestServer::start_with(|c| {
        cluster.configure(c, node, prefix);
        c.chunk_size = CHUNK;
        adjust(c);
    })
    .await
}

/// Names of the content objects below `prefix`.
async fn objects(bucket: &Bucket) -> Vec<String> {
    let mut names: Vec<String> = bucket
        .list("blobs")
        .await
        .expect("list the bucket")
        .into_iter()
        .map(|o| o.name)
        .collect();
    names.sort();
    names
}

/// Waits until the content objects below the bucket's prefix are `want` in number.
async fn wait_objects(bucket: &Bucket, want: usize, what: &str) {
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let have = objects(bucket).await;
        if have.len() == want {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{what}: {} objects, want {want}: {have:?}",
            have.len()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_round_trip_through_the_bucket_and_survive_a_restart() {
    let cluster = GarageCluster::launch().await;
    let bucket = cluster.bucket_at(0, "rt");
    let s = server_on(&cluster, 0, "rt", |_| {}).await;
    let data = test_bytes(10 * CHUNK as usize + 123, 1);
    let id = s.upload_file(&data).await;
    let (status, got) = s.download_bytes(&id, None).await;
    assert_eq!(status, 200);
    assert!(got == data, "the downloaded bytes differ");

    // One object per chunk, under the prefix; nothing of the content on the local disk.
    let names = objects(&bucket).await;
    assert_eq!(names.len(), 11, "{names:?}");
    assert!(
        !s.data_dir().join("blobs").exists(),
        "a local blob area exists: {:?}",
        files_under(&s.data_dir())
    );

    let s = s.restart().await;
    let (status, got) = s.download_bytes(&id, None).await;
    assert_eq!(status, 200);
    assert!(got == data, "the bytes differ after a restart");

    // Text clips take the same path.
    let text = s
        .upload(
            b"hello from the bucket",
            json!({ "contentType": "text", "filename": "clip.txt" }),
            json!({}),
        )
        .await;
    assert!(text["clipId"].is_string(), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ranges_resume_across_chunk_objects() {
    let cluster = GarageCluster::launch().await;
    let s = server_on(&cluster, 0, "ranges", |_| {}).await;
    let data = test_bytes(5 * CHUNK as usize + 999, 2);
    let id = s.upload_file(&data).await;
    let whole = s.download(&id, None).await;
    let tag = header(&whole, "etag");
    drop(whole);
    for (first, last) in [
        (0u64, 0u64),
        (CHUNK - 1, CHUNK),
        (CHUNK, 3 * CHUNK + 17),
        (100, data.len() as u64 - 1),
        (data.len() as u64 - 1, data.len() as u64 - 1),
    ] {
        let r = s
            .post(&format!("/api/file/{id}"))
            .header("range", format!("bytes={first}-{last}"))
            .header("if-range", &tag)
            .json(&json!({}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 206, "{first}-{last}");
        assert_eq!(
            header(&r, "content-range"),
            format!("bytes {first}-{last}/{}", data.len())
        );
        let body = r.bytes().await.unwrap();
        assert!(
            body[..] == data[first as usize..=last as usize],
            "bytes {first}-{last} differ"
        );
    }
    let r = s
        .post(&format!("/api/file/{id}"))
        .header("range", format!("bytes={}-", data.len()))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 416);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_one_time_clip_goes_to_one_reader_and_its_objects_go_with_it() {
    let cluster = GarageCluster::launch().await;
    let bucket = cluster.bucket_at(0, "once");
    let s = server_on(&cluster, 0, "once", |_| {}).await;
    let data = test_bytes(3 * CHUNK as usize + 5, 3);
    let v = s.upload(&data, json!({ "oneTime": true }), json!({})).await;
    let id = v["clipId"].as_str().unwrap().to_string();
    assert_eq!(objects(&bucket).await.len(), 4);

    // Two readers at once: exactly one wins.
    let (a, b) = tokio::join!(s.download_bytes(&id, None), s.download_bytes(&id, None));
    let mut statuses = [a.0, b.0];
    statuses.sort();
    assert_eq!(statuses[0], 200, "one reader wins");
    assert!(
        [404, 410].contains(&statuses[1]),
        "exactly one reader wins: {statuses:?}"
    );
    let winner = if a.0 == 200 { a.1 } else { b.1 };
    assert!(winner == data, "the winner's bytes differ");
    assert!([404, 410].contains(&s.download(&id, None).await.status().as_u16()));
    wait_objects(&bucket, 0, "after the one-time download").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cut_one_time_download_resumes_with_its_claim_from_the_bucket() {
    use futures_util::StreamExt;
    let cluster = GarageCluster::launch().await;
    let s = server_on(&cluster, 0, "claim", |_| {}).await;
    let data = test_bytes(30 * CHUNK as usize + 3, 4);
    let v = s.upload(&data, json!({ "oneTime": true }), json!({})).await;
    let id = v["clipId"].as_str().unwrap().to_string();
    let first = s.download(&id, None).await;
    assert_eq!(first.status(), 200);
    let token = header(&first, "x-qopy-claim");
    let tag = header(&first, "etag");
    let mut got = Vec::new();
    let mut stream = first.bytes_stream();
    while got.len() < 200_000 {
        got.extend_from_slice(&stream.next().await.unwrap().unwrap());
    }
    drop(stream);
    assert_eq!(s.download(&id, None).await.status(), 404);
    let rest = s
        .post(&format!("/api/file/{id}"))
        .header("range", format!("bytes={}-", got.len()))
        .header("if-range", &tag)
        .header("x-qopy-claim", &token)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(rest.status(), 206);
    got.extend_from_slice(&rest.bytes().await.unwrap());
    assert!(got == data, "the resumed bytes differ");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expiry_and_the_sweeper_remove_objects_and_orphans() {
    let cluster = GarageCluster::launch().await;
    let bucket = cluster.bucket_at(0, "sweep");
    let s = server_on(&cluster, 0, "sweep", |_| {}).await;
    let kept = s
        .upload(
            &test_bytes(100, 6),
            json!({ "expiration": "24hr" }),
            json!({}),
        )
        .await["clipId"]
        .as_str()
        .unwrap()
        .to_string();
    let kept_dir = objects(&bucket).await[0]
        .split_once('/')
        .unwrap()
        .0
        .to_string();
    let data = test_bytes(2 * CHUNK as usize + 1, 5);
    let id = s
        .upload(&data, json!({ "expiration": "5min" }), json!({}))
        .await["clipId"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(objects(&bucket).await.len(), 4);

    // Objects no record owns: a stray outside any directory, a whole directory, and a
    // chunk-like object inside the kept clip's directory (a losing duplicate's leftover).
    bucket
        .put("blobs/stray-object", bytes::Bytes::from_static(b"x"))
        .await
        .unwrap();
    bucket
        .put(
            "blobs/0123456789abcdef0123456789abcdef/00000000-0000000000000001",
            bytes::Bytes::from_static(b"y"),
        )
        .await
        .unwrap();

    bucket
        .put(
            &format!("blobs/{kept_dir}/00000009-00000000000000ff"),
            bytes::Bytes::from_static(b"z"),
        )
        .await
        .unwrap();

    s.clock.advance(Duration::from_secs(6 * 60));
    let report = s.sweep().await;
    assert!(report.is_object(), "{report}");
    assert_eq!(s.download(&id, None).await.status(), 404);
    wait_objects(&bucket, 4, "after expiry").await;

    // Young orphans stay, even at start-up: in a shared bucket they may be another node's
    // newest chunks (a node restored elsewhere). Past the grace period they go.
    let s = s.restart().await;
    assert_eq!(
        objects(&bucket).await.len(),
        4,
        "young orphans kept at start-up"
    );
    s.clock.advance(Duration::from_secs(2 * 3600));
    s.sweep().await;
    wait_objects(&bucket, 1, "after the grace period").await;
    let (status, got) = s.download_bytes(&kept, None).await;
    assert_eq!((status, got), (200, test_bytes(100, 6)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_completes_while_a_garage_node_is_down() {
    let mut cluster = GarageCluster::launch().await;
    let s = server_on(&cluster, 0, "nodedown", |_| {}).await;
    let data = test_bytes(12 * CHUNK as usize + 7, 7);
    let upload = s
        .initiate(json!({
            "filename": "big.bin",
            "filesize": data.len(),
            "expiration": "1hr",
        }))
        .await;
    let chunks: Vec<&[u8]> = data.chunks(CHUNK as usize).collect();
    for (n, c) in chunks.iter().enumerate().take(4) {
        let (status, body) = s.put_chunk(&upload, n as u32, c.to_vec()).await;
        assert_eq!(status, 200, "{body}");
    }
    // Node 2 is killed while chunk 4 is on its way; chunks 5 and later go to a cluster
    // with a node down.
    let put4 = async {
        let (status, body) = s.put_chunk(&upload, 4, chunks[4].to_vec()).await;
        assert_eq!(status, 200, "chunk 4, cut by the kill: {body}");
    };
    let kill = async {
        tokio::time::sleep(Duration::from_millis(5)).await;
        cluster.stop(2);
    };
    tokio::join!(put4, kill);
    assert!(
        cluster.health(2).await.is_err(),
        "node 2 is down for the rest of the upload"
    );
    for (n, c) in chunks.iter().enumerate().skip(5) {
        let (status, body) = s.put_chunk(&upload, n as u32, c.to_vec()).await;
        assert_eq!(status, 200, "chunk {n} with a node down: {body}");
    }
    let (status, done) = s
        .post_json(&format!("/api/upload/complete/{upload}"), json!({}))
        .await;
    assert_eq!(status, 200, "{done}");
    let id = done["clipId"].as_str().unwrap();
    let (status, got) = s.download_bytes(id, None).await;
    assert_eq!(status, 200);
    assert!(got == data, "bytes differ with a node down");

    // And back: the node rejoins and the content is still whole.
    cluster.start(2).await;
    let (status, got) = s.download_bytes(id, None).await;
    assert_eq!(status, 200);
    assert!(got == data, "bytes differ after the node came back");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_that_is_down_gets_503_with_retry_after_and_loses_nothing() {
    let mut cluster = GarageCluster::launch().await;
    let s = server_on(&cluster, 0, "down", |_| {}).await;
    let data = test_bytes(2 * CHUNK as usize, 8);
    let v = s.upload(&data, json!({ "oneTime": true }), json!({})).await;
    let once = v["clipId"].as_str().unwrap().to_string();
    let upload = s
        .initiate(json!({
            "filename": "later.bin",
            "filesize": data.len(),
            "expiration": "1hr",
        }))
        .await;
    let (status, _) = s
        .put_chunk(&upload, 0, data[..CHUNK as usize].to_vec())
        .await;
    assert_eq!(status, 200);
    let mut png = std::io::Cursor::new(Vec::new());
    image::RgbImage::from_raw(64, 48, test_bytes(64 * 48 * 3, 10))
        .unwrap()
        .write_to(&mut png, image::ImageFormat::Png)
        .unwrap();
    let r = s
        .put("/picture.png")
        .body(png.into_inner())
        .send()
        .await
        .unwrap();
    let picture = r
        .text()
        .await
        .unwrap()
        .trim_end()
        .rsplit('/')
        .next()
        .unwrap()
        .to_string();

    // The whole cluster goes away: writes and reads answer 503 with Retry-After.
    for i in 0..3 {
        cluster.stop(i);
    }
    let r = s
        .put(&format!("/api/upload/chunk/{upload}/1"))
        .body(data[CHUNK as usize..].to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 503);
    assert!(header(&r, "retry-after").parse::<u64>().unwrap() >= 1);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["error"], "storage_unavailable", "{body}");
    let r = s.download(&once, None).await;
    assert_eq!(r.status(), 503, "a download before any byte: 503");
    assert!(r.headers().get("x-qopy-claim").is_none());
    let r = s
        .get(&format!("/api/clip/{picture}/preview"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 503, "a preview that cannot read the store");
    assert!(r.headers().get("retry-after").is_some());

    // Nothing half-made: the chunk is missing, not recorded; the one-time clip unclaimed.
    let (status, body) = s
        .post_json(&format!("/api/upload/complete/{upload}"), json!({}))
        .await;
    assert_eq!(status, 400, "{body}");
    for i in 0..3 {
        cluster.start(i).await;
    }
    let (status, body) = s
        .put_chunk(&upload, 1, data[CHUNK as usize..].to_vec())
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, done) = s
        .post_json(&format!("/api/upload/complete/{upload}"), json!({}))
        .await;
    assert_eq!(status, 200, "{done}");
    let (status, got) = s.download_bytes(&once, None).await;
    assert_eq!(status, 200, "the one-time clip was not lost");
    assert!(got == data);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_shot_uploads_and_image_previews_read_the_bucket() {
    let cluster = GarageCluster::launch().await;
    let bucket = cluster.bucket_at(0, "preview");
    let s = server_on(&cluster, 0, "preview", |_| {}).await;
    // A noisy image, so its PNG spans several chunk objects and the preview's reader
    // crosses them.
    let noise = test_bytes(1200 * 900 * 3, 9);
    let img = image::RgbImage::from_raw(1200, 900, noise).unwrap();
    let mut png = std::io::Cursor::new(Vec::new());
    img.write_to(&mut png, image::ImageFormat::Png).unwrap();
    let png = png.into_inner();
    assert!(png.len() > 4 * CHUNK as usize);
    let r = s.put("/photo.png").body(png.clone()).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let url = r.text().await.unwrap();
    let id = url.trim_end().rsplit('/').next().unwrap().to_string();
    let got = s.get(&format!("/file/{id}")).send().await.unwrap();
    assert_eq!(got.status(), 200);
    assert!(
        got.bytes().await.unwrap()[..] == png[..],
        "one-shot bytes differ"
    );

    let chunks = objects(&bucket).await.len();
    let r = s
        .get(&format!("/api/clip/{id}/preview"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let jpeg = r.bytes().await.unwrap();
    let shown = image::load_from_memory_with_format(&jpeg, image::ImageFormat::Jpeg).unwrap();
    assert_eq!((shown.width(), shown.height()), (800, 600));
    // Cached as an object beside the chunks, and kept by the sweeps.
    let names = objects(&bucket).await;
    assert_eq!(names.len(), chunks + 1);
    assert!(
        names.iter().any(|n| n.ends_with("/preview.jpg")),
        "{names:?}"
    );
    let s = s.restart().await;
    assert_eq!(objects(&bucket).await.len(), chunks + 1);
    let again = s
        .get(&format!("/api/clip/{id}/preview"))
        .send()
        .await
        .unwrap();
    assert_eq!(again.bytes().await.unwrap(), jpeg);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_reader_gets_the_whole_download() {
    // A reader that takes longer than any per-request time limit over one chunk object (the
    // bug: a 30 s limit on whole requests cut every download slower than a chunk per 30 s).
    use futures_util::StreamExt;
    let cluster = GarageCluster::launch().await;
    let big = 16 << 20;
    let s = server_on(&cluster, 0, "slow", |c| c.chunk_size = big).await;
    let data = test_bytes(big as usize + 1000, 11);
    let id = s.upload_file(&data).await;
    let r = s.download(&id, None).await;
    assert_eq!(r.status(), 200);
    let mut body = r.bytes_stream();
    let mut got = Vec::new();
    while got.len() < 1 << 20 {
        got.extend_from_slice(&body.next().await.unwrap().unwrap());
    }
    tokio::time::sleep(Duration::from_secs(35)).await;
    while let Some(piece) = body.next().await {
        got.extend_from_slice(&piece.expect("the download was cut"));
    }
    assert_eq!(got.len(), data.len());
    assert!(got == data, "bytes differ");
}
