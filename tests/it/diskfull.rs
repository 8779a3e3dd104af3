//! Storage limits (security-and-reliability §10 C7, D4) on a real, small filesystem: a 24 MiB
//! tmpfs mounted for the test (the tests run as root; a machine where mounting is not allowed
//! fails these tests with a message that says so rather than skipping them). The free-disk
//! reserve and the quota refuse uploads up front with 507; a write that still meets ENOSPC is
//! answered 507, leaves no temporary file, and every other clip stays intact; a database that
//! meets an I/O error makes the process exit non-zero.

use crate::harness::{files_under, test_bytes, Answer, Http, Spawn, TestServer};
use serde_json::json;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// A tmpfs mounted for one test, unmounted when dropped (also when the test fails).
struct Tmpfs {
    path: PathBuf,
}

impl Tmpfs {
    fn mount(path: &Path, size: &str) -> Tmpfs {
        std::fs::create_dir_all(path).unwrap();
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(path)
            .output()
            .expect("cannot run `mount`");
        assert!(
            out.status.success(),
            "this test needs to mount a tmpfs (run it as root, or in a container with \
             CAP_SYS_ADMIN): `mount -t tmpfs` failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Tmpfs {
            path: path.to_path_buf(),
        }
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        // Lazy, so that a file still mapped or open by a server being torn down cannot keep
        // the mount around.
        let _ = Command::new("umount").arg("-l").arg(&self.path).status();
    }
}

fn sha(b: &[u8]) -> [u8; 32] {
    Sha256::digest(b).into()
}

const MIB: u64 = 1 << 20;

/// A server with 1 MiB chunks and this free-disk reserve on a data directory whose blob area
/// is a 24 MiB tmpfs (the database stays on the ordinary disk, so only the blob writes meet
/// the full filesystem). Returns the data directory, the mount and the server (so that the
/// server is dropped first).
async fn small_blobs_server(min_free_disk: u64) -> (tempfile::TempDir, Tmpfs, TestServer) {
    let dir = tempfile::tempdir().unwrap();
    let mount = Tmpfs::mount(&dir.path().join("blobs"), "24m");
    let data = dir.path().to_path_buf();
    let srv = TestServer::start_with(|c| {
        c.data_dir = data;
        c.chunk_size = MIB;
        c.min_free_disk = min_free_disk;
    })
    .await;
    (dir, mount, srv)
}

#[tokio::test]
async fn uploads_past_the_free_disk_reserve_get_507_and_earlier_clips_stay() {
    let (dir, _mount, srv) = small_blobs_server(16 * MIB).await;
    let data = dir.path().to_path_buf();
    let mut clips = Vec::new();
    let mut refused = None;
    'uploads: for i in 0..30u64 {
        let body = test_bytes(MIB as usize + 1000, i);
        let (status, v) = srv
            .post_json(
                "/api/upload/initiate",
                json!({"filename": "f", "filesize": body.len(), "totalChunks": 2, "contentType": "file"}),
            )
            .await;
        if status == 507 {
            refused = Some(v);
            break;
        }
        assert_eq!(status, 200, "{v}");
        let id = v["uploadId"].as_str().unwrap().to_string();
        for (n, piece) in body.chunks(MIB as usize).enumerate() {
            // Each chunk is checked against the reserve as well (as if it were a full one).
            let (status, v) = srv.put_chunk(&id, n as u32, piece.to_vec()).await;
            if status == 507 {
                refused = Some(v);
                break 'uploads;
            }
            assert_eq!(status, 200, "{v}");
        }
        let (status, v) = srv
            .post_json(&format!("/api/upload/complete/{id}"), json!({}))
            .await;
        assert_eq!(status, 200, "{v}");
        clips.push((v["clipId"].as_str().unwrap().to_string(), sha(&body)));
    }
    let v = refused.expect("uploads were never refused although the reserve was crossed");
    assert_eq!(v["error"], "Insufficient storage", "{v}");
    assert!(v["message"].as_str().unwrap().contains("free"), "{v}");
    assert!(!clips.is_empty(), "nothing fitted before the reserve");
    // Refused before the filesystem was anywhere near full.
    let free = qopy::blobs::free_space(&data.join("blobs")).unwrap();
    assert!(
        free >= 14 * MIB,
        "only {free} bytes free: the reserve did not hold"
    );
    for (id, want) in &clips {
        let (status, body) = srv.download_bytes(id, None).await;
        assert_eq!(status, 200);
        assert_eq!(sha(&body), *want, "clip {id} changed");
    }
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_that_meets_enospc_is_507_cleaned_up_and_harms_no_other_clip() {
    let (dir, _mount, srv) = small_blobs_server(0).await;
    let data = dir.path().to_path_buf();
    // Some clips first.
    let mut clips = Vec::new();
    for i in 0..3u64 {
        let body = test_bytes(2 * MIB as usize + 10, 100 + i);
        let id = srv.upload_file(&body).await;
        clips.push((id, sha(&body)));
    }
    // Fill the filesystem so that about two and a half chunks still fit, then send four
    // chunks at once, slowly enough that all of them pass the up-front check.
    let blobs = data.join("blobs");
    let free = qopy::blobs::free_space(&blobs).unwrap();
    let filler = blobs.join("filler");
    std::fs::write(&filler, vec![0u8; (free - 5 * MIB / 2) as usize]).unwrap();
    let mut uploads = Vec::new();
    for _ in 0..4 {
        uploads.push(
            srv.initiate(
                json!({"filename": "f", "filesize": MIB, "totalChunks": 1, "contentType": "file"}),
            )
            .await,
        );
    }
    let sends = uploads.iter().enumerate().map(|(i, id)| {
        let url = srv.url(&format!("/api/upload/chunk/{id}/0"));
        let client = srv.client.clone();
        let body = test_bytes(MIB as usize, 200 + i as u64);
        async move {
            let first = bytes::Bytes::copy_from_slice(&body[..4096]);
            let rest = bytes::Bytes::copy_from_slice(&body[4096..]);
            let stream = futures_util::stream::iter(vec![Ok::<_, std::io::Error>(first)]).chain(
                futures_util::stream::once(async move {
                    tokio::time::sleep(Duration::from_millis(500)).await;
                    Ok(rest)
                }),
            );
            let r = client
                .put(url)
                .header("content-type", "application/octet-stream")
                .header("content-length", MIB.to_string())
                .body(reqwest::Body::wrap_stream(stream))
                .answer()
                .await;
            let status = r.status().as_u16();
            (
                status,
                r.json::<serde_json::Value>().await.unwrap_or_default(),
            )
        }
    });
    use futures_util::StreamExt;
    let answers = futures_util::future::join_all(sends).await;
    let statuses: Vec<u16> = answers.iter().map(|(s, _)| *s).collect();
    assert!(
        statuses.iter().all(|s| *s == 200 || *s == 507),
        "answers: {answers:?}"
    );
    assert!(
        statuses.contains(&507),
        "no write met the full disk: {answers:?}"
    );
    for (s, v) in &answers {
        if *s == 507 {
            assert!(
                v["message"].as_str().unwrap().contains("disk is full"),
                "{v}"
            );
        }
    }
    // No temporary file is left behind.
    let left: Vec<String> = files_under(&data)
        .into_iter()
        .filter(|f| f.contains(".tmp"))
        .collect();
    assert!(left.is_empty(), "temporary files left: {left:?}");
    // The server is up and every earlier clip is intact.
    for (id, want) in &clips {
        let (status, body) = srv.download_bytes(id, None).await;
        assert_eq!(status, 200);
        assert_eq!(sha(&body), *want, "clip {id} changed");
    }
    // Once space is freed, the refused chunks are accepted on a retry.
    std::fs::remove_file(&filler).unwrap();
    for (i, id) in uploads.iter().enumerate() {
        if statuses[i] == 507 {
            let (status, v) = srv
                .put_chunk(id, 0, test_bytes(MIB as usize, 200 + i as u64))
                .await;
            assert_eq!(status, 200, "{v}");
        }
        let (status, v) = srv
            .post_json(&format!("/api/upload/complete/{id}"), json!({}))
            .await;
        assert_eq!(status, 200, "{v}");
    }
    srv.stop().await;
}

#[tokio::test]
async fn uploads_past_the_quota_get_507() {
    let srv = TestServer::start_with(|c| {
        c.chunk_size = 64 * 1024;
        c.max_storage = Some(3 * 100_000);
    })
    .await;
    let a = test_bytes(100_000, 1);
    let b = test_bytes(100_000, 2);
    let ida = srv.upload_file(&a).await;
    let idb = srv.upload_file(&b).await;
    let (status, v) = srv
        .post_json(
            "/api/upload/initiate",
            json!({"filename": "f", "filesize": 200_000, "totalChunks": 4, "contentType": "file"}),
        )
        .await;
    assert_eq!(status, 507, "{v}");
    assert!(v["message"].as_str().unwrap().contains("quota"), "{v}");
    for (id, want) in [(ida, a), (idb, b)] {
        let (status, body) = srv.download_bytes(&id, None).await;
        assert_eq!(status, 200);
        assert_eq!(body, want);
    }
}

/// A database I/O error (here: sled cannot write because its filesystem is full) makes the
/// binary exit with a non-zero code, so that a supervisor restarts it, instead of serving on
/// with a database that fails every write.
#[tokio::test]
async fn a_database_io_error_makes_the_process_exit_non_zero() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let _mount = Tmpfs::mount(&data, "24m");
    let mut server = Spawn::qopy(&data)
        .args([
            "--rate-limits",
            "off",
            "--min-free-disk",
            "0",
            "--log",
            "warn",
        ])
        .spawn()
        .ready();
    let h = Http::with_timeout(server.base.clone(), Duration::from_secs(5));
    // A clip to download: each download records an access, a database write.
    let clip = h
        .upload_in_chunks(&test_bytes(1000, 9), 1000, json!({}), json!({}))
        .await["clipId"]
        .as_str()
        .unwrap()
        .to_string();
    // Fill the filesystem completely, then make the server write to its database.
    {
        use std::io::Write;
        let mut f = std::fs::File::create(data.join("filler")).unwrap();
        let block = vec![0u8; 1 << 16];
        while f.write_all(&block).is_ok() {}
        let _ = f.write_all(&[0u8; 1]);
    }
    let t = Instant::now();
    let code = loop {
        if let Some(status) = server.exited() {
            break status;
        }
        assert!(
            t.elapsed() <= Duration::from_secs(30),
            "the server kept running with a full database disk; its log:\n{}",
            server.log()
        );
        for _ in 0..20 {
            // The server may be exiting: a failed request is expected.
            let _ = h
                .post(&format!("/api/file/{clip}"))
                .json(&json!({}))
                .send()
                .await;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let text = server.log();
    assert_eq!(code.code(), Some(1), "exit status {code:?}; log:\n{text}");
    assert!(text.contains("database"), "log:\n{text}");
}
