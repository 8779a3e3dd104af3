//! Slow clients (security-and-reliability §10 D1, D2): hundreds of connections that send
//! their headers or bodies a byte at a time must not delay normal requests, a connection that
//! sends nothing is closed by `header_read_timeout`, and a chunk body slower than
//! `min_upload_rate` is refused with 408 and leaves nothing on disk.

use crate::harness::{files_under, Answer, TestServer};
use serde_json::json;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Reads until the server closes the connection (EOF or reset); returns how long it took.
async fn wait_closed(s: &mut TcpStream, limit: Duration) -> Option<Duration> {
    let t = Instant::now();
    let mut buf = [0u8; 4096];
    loop {
        match tokio::time::timeout(limit.saturating_sub(t.elapsed()), s.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return Some(t.elapsed()),
            Ok(Ok(_)) => continue,
            Err(_) => return None,
        }
    }
}

#[tokio::test]
async fn silent_connection_is_closed_by_the_header_read_timeout() {
    let srv = TestServer::start_with(|c| {
        c.header_read_timeout = Duration::from_secs(1);
        c.idle_timeout = Duration::from_secs(60);
    })
    .await;
    let addr = srv.base.trim_start_matches("http://").to_string();
    let mut s = TcpStream::connect(&addr).await.unwrap();
    let took = wait_closed(&mut s, Duration::from_secs(10))
        .await
        .expect("a connection that sent nothing was still open after 10 s");
    assert!(took < Duration::from_secs(3), "closed only after {took:?}");
    // A connection that has sent part of its headers is closed too.
    let mut s = TcpStream::connect(&addr).await.unwrap();
    s.write_all(b"GET /health HTTP/1.1\r\nHo").await.unwrap();
    let took = wait_closed(&mut s, Duration::from_secs(10))
        .await
        .expect("a connection with partial headers was still open after 10 s");
    assert!(took < Duration::from_secs(3), "closed only after {took:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dribbling_clients_do_not_delay_normal_requests() {
    const DRIBBLERS: usize = 300;
    let srv = TestServer::start_with(|c| {
        c.header_read_timeout = Duration::from_secs(2);
        c.idle_timeout = Duration::from_secs(4);
    })
    .await;
    let addr = srv.base.trim_start_matches("http://").to_string();
    // A third dribble headers, a third dribble a JSON body, a third dribble a chunk body.
    let upload = srv
        .initiate(json!({"filename": "x", "filesize": 10, "totalChunks": 1, "contentType": "file"}))
        .await;
    let mut tasks = Vec::new();
    for i in 0..DRIBBLERS {
        let addr = addr.clone();
        let upload = upload.clone();
        tasks.push(tokio::spawn(async move {
            let Ok(mut s) = TcpStream::connect(&addr).await else {
                return (i % 3, None);
            };
            let (head, body): (String, &[u8]) = match i % 3 {
                0 => (String::new(), b"GET /health HTTP/1.1\r\nHost: localhost\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n"),
                1 => (
                    "POST /api/upload/initiate HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 200\r\n\r\n".into(),
                    &[b'{'; 200],
                ),
                _ => (
                    format!("PUT /api/upload/chunk/{upload}/0 HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/octet-stream\r\nContent-Length: 10\r\n\r\n"),
                    b"0123456789",
                ),
            };
            let t = Instant::now();
            if s.write_all(head.as_bytes()).await.is_err() {
                return (i % 3, Some(t.elapsed()));
            }
            for b in body {
                if s.write_all(&[*b]).await.is_err() {
                    return (i % 3, Some(t.elapsed()));
                }
                tokio::time::sleep(Duration::from_millis(300)).await;
                if t.elapsed() > Duration::from_secs(8) {
                    break;
                }
            }
            (i % 3, wait_closed(&mut s, Duration::from_secs(1)).await.map(|_| t.elapsed()))
        }));
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    // Meanwhile normal requests keep succeeding promptly.
    // (Uploads fsync several times, so they get more room when other tests load the disk.)
    let (mut worst, mut worst_upload) = (Duration::ZERO, Duration::ZERO);
    for _ in 0..20 {
        let t = Instant::now();
        let r = srv.get("/api/health").answer().await;
        assert_eq!(r.status(), 200);
        worst = worst.max(t.elapsed());
        let t = Instant::now();
        let v = srv.upload_file(b"still served").await;
        assert!(!v.is_empty());
        worst_upload = worst_upload.max(t.elapsed());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        worst < Duration::from_secs(2),
        "a health request took {worst:?}"
    );
    assert!(
        worst_upload < Duration::from_secs(5),
        "an upload took {worst_upload:?}"
    );
    // Header dribblers are cut off by the header timeout, long before they finish.
    let mut header_cut = 0;
    for t in tasks {
        let (kind, closed) = t.await.unwrap();
        if kind == 0 {
            let took = closed.expect("a header dribbler was never closed");
            assert!(
                took < Duration::from_secs(6),
                "a header dribbler lasted {took:?}"
            );
            header_cut += 1;
        }
    }
    println!(
        "slow: {DRIBBLERS} dribbling connections; worst health request {worst:?}, worst upload \
         {worst_upload:?}; {header_cut} header dribblers cut off"
    );
}

#[tokio::test]
async fn chunk_body_below_the_minimum_rate_is_refused_with_408() {
    let srv = TestServer::start_with(|c| {
        c.min_upload_rate = Some(qopy::config::UploadRate {
            bytes: 64 * 1024,
            per: Duration::from_secs(1),
        });
    })
    .await;
    let upload = srv
        .initiate(
            json!({"filename": "x", "filesize": 1000, "totalChunks": 1, "contentType": "file"}),
        )
        .await;
    let before = files_under(&srv.data_dir());
    let addr = srv.base.trim_start_matches("http://").to_string();
    let mut s = TcpStream::connect(&addr).await.unwrap();
    s.write_all(
        format!("PUT /api/upload/chunk/{upload}/0 HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/octet-stream\r\nContent-Length: 1000\r\n\r\n")
            .as_bytes(),
    )
    .await
    .unwrap();
    let t = Instant::now();
    let mut answer = Vec::new();
    let mut buf = [0u8; 4096];
    'send: for _ in 0..1000 {
        if s.write_all(b"x").await.is_err() {
            break;
        }
        // Read whatever answer arrives between bytes.
        while let Ok(Ok(n)) =
            tokio::time::timeout(Duration::from_millis(20), s.read(&mut buf)).await
        {
            if n == 0 {
                break 'send;
            }
            answer.extend_from_slice(&buf[..n]);
            if answer.windows(4).any(|w| w == b"\r\n\r\n") && answer.ends_with(b"}") {
                break 'send;
            }
        }
        assert!(
            t.elapsed() < Duration::from_secs(10),
            "no answer after 10 s"
        );
    }
    let text = String::from_utf8_lossy(&answer).to_string();
    assert!(text.starts_with("HTTP/1.1 408"), "answer: {text}");
    assert!(text.contains("minimum"), "answer: {text}");
    assert!(
        t.elapsed() < Duration::from_secs(4),
        "refused only after {:?}",
        t.elapsed()
    );
    // Nothing was stored; the session is unchanged and still accepts the chunk.
    assert_eq!(files_under(&srv.data_dir()), before);
    let (status, v) = srv.get_json(&format!("/api/upload/{upload}/status")).await;
    assert_eq!(status, 200);
    assert_eq!(v["uploadedChunks"], 0);
    let (status, _) = srv.put_chunk(&upload, 0, vec![7u8; 1000]).await;
    assert_eq!(status, 200);
}
