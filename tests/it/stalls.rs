//! Stalled clients and a stuck store (issue: never wedge). Over a thousand request bodies
//! that stop after one byte, from one address, must not keep anyone else from being served,
//! must hold no thread while they wait, and must be answered 408 and closed within their
//! deadline; a store whose disk stops answering makes `/health` say 503 and the watchdog end
//! the process with a non-zero code.

use crate::harness::{Answer, Http, ServerProcess, Spawn, TestServer};
use serde_json::json;
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

/// Lets this process hold a few thousand sockets.
fn raise_fd_limit() {
    // SAFETY: getrlimit/setrlimit only read and write the struct passed.
    unsafe {
        let mut r: libc::rlimit = std::mem::zeroed();
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut r) == 0 && r.rlim_cur < r.rlim_max {
            r.rlim_cur = r.rlim_max.min(65_536);
            libc::setrlimit(libc::RLIMIT_NOFILE, &r);
        }
    }
}

/// Opens a connection from `from` (a loopback address) to the server.
async fn connect_from(from: [u8; 4], to: SocketAddr) -> std::io::Result<TcpStream> {
    let s = TcpSocket::new_v4()?;
    s.bind(SocketAddr::from((from, 0)))?;
    s.connect(to).await
}

/// The start of a request whose body never comes: the headers and one byte of the body.
fn stalled_request(kind: usize, upload: &str) -> String {
    match kind % 3 {
        0 => "POST /api/upload/initiate HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{".into(),
        1 => "PUT /stalled.bin HTTP/1.1\r\nHost: localhost\r\nContent-Length: 10000\r\n\r\nx".into(),
        _ => format!("PUT /api/upload/chunk/{upload}/0 HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/octet-stream\r\nContent-Length: 1000\r\n\r\nx"),
    }
}

/// What a stalled connection saw: its answer (if any) and when the server closed it.
struct Seen {
    answer: String,
    closed_after: Option<Duration>,
}

async fn read_until_closed(mut s: TcpStream, limit: Duration) -> Seen {
    let t = Instant::now();
    let mut answer = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match tokio::time::timeout(limit.saturating_sub(t.elapsed()), s.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => {
                return Seen {
                    answer: String::from_utf8_lossy(&answer).into_owned(),
                    closed_after: Some(t.elapsed()),
                }
            }
            Ok(Ok(n)) => answer.extend_from_slice(&buf[..n]),
            Err(_) => {
                return Seen {
                    answer: String::from_utf8_lossy(&answer).into_owned(),
                    closed_after: None,
                }
            }
        }
    }
}

/// Normal requests from 127.0.0.1 each answer within 2 s: `/health`, an initiate, a one-shot
/// upload and a download.
async fn others_are_served(srv: &TestServer, clip: &str) {
    let client = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(2))
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    let t = Instant::now();
    let expect_200 = |what: &str, r: reqwest::Result<reqwest::Response>| {
        let status = r.map(|r| r.status().as_u16()).ok();
        assert_eq!(status, Some(200), "{what} not answered 200 within 2 s");
    };
    expect_200("/health", client.get(srv.url("/health")).send().await);
    let init = json!({"filename": "x", "filesize": 3, "contentType": "file"});
    let r = client.post(srv.url("/api/upload/initiate")).json(&init);
    expect_200("initiate", r.send().await);
    let r = client.put(srv.url("/served.txt")).body("served");
    expect_200("a one-shot upload", r.send().await);
    let r = client
        .post(srv.url(&format!("/api/file/{clip}")))
        .json(&json!({}));
    expect_200("a download", r.send().await);
    println!("stalls: other clients served in {:?}", t.elapsed());
}

/// Sends `count` stalled requests from `from`; returns the connections the server took.
async fn stall(count: usize, from: [u8; 4], to: SocketAddr, upload: &str) -> Vec<TcpStream> {
    let mut open = Vec::new();
    for i in 0..count {
        let Ok(mut s) = connect_from(from, to).await else {
            continue;
        };
        if s.write_all(stalled_request(i, upload).as_bytes())
            .await
            .is_ok()
        {
            open.push(s);
        }
    }
    open
}

/// A server with the per-address cap and header timeout given, a clip to download and an
/// upload session the stalled chunk bodies aim at.
async fn setup(
    per_address: Option<usize>,
    header_timeout: Duration,
) -> (TestServer, SocketAddr, String, String) {
    raise_fd_limit();
    let srv = TestServer::start_with(|c| {
        c.max_connections_per_address = per_address;
        c.header_read_timeout = header_timeout;
    })
    .await;
    let addr: SocketAddr = srv.base.trim_start_matches("http://").parse().unwrap();
    let clip = srv.upload_file(b"downloadable").await;
    let upload = srv
        .initiate(json!({"filename": "x", "filesize": 1000, "contentType": "file"}))
        .await;
    (srv, addr, clip, upload)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eleven_hundred_stalled_bodies_from_one_address_starve_no_one() {
    let (srv, addr, clip, upload) = setup(Some(64), Duration::from_secs(2)).await;
    let started = Instant::now();
    let open = stall(1100, [127, 0, 0, 2], addr, &upload).await;
    println!(
        "stalls: 1100 stalled requests sent from 127.0.0.2 in {:?}",
        started.elapsed()
    );
    others_are_served(&srv, &clip).await;
    // Body deadline: header_read_timeout (2 s) + 10,000 bytes at 4 KiB/s (2.4 s) for the
    // one-shot bodies; the JSON and chunk bodies get 2.25 s. Connections beyond the 64 the address
    // may hold were closed at once.
    let mut answered = 0;
    let mut refused = 0;
    let readers: Vec<_> = open
        .into_iter()
        .map(|s| tokio::spawn(read_until_closed(s, Duration::from_secs(20))))
        .collect();
    let mut latest = Duration::ZERO;
    for r in readers {
        let seen = r.await.unwrap();
        let closed = seen
            .closed_after
            .expect("a stalled connection was still open after 20 s");
        latest = latest.max(started.elapsed());
        if seen.answer.is_empty() {
            refused += 1;
        } else {
            assert!(
                seen.answer.starts_with("HTTP/1.1 408"),
                "a stalled body got: {}",
                seen.answer
            );
            assert!(closed < Duration::from_secs(10), "closed after {closed:?}");
            answered += 1;
        }
    }
    println!(
        "stalls: {answered} answered 408, {refused} refused at once; all closed by {latest:?}"
    );
    assert!(
        answered <= 64,
        "{answered} connections from one address were served"
    );
    assert!(
        answered >= 32,
        "only {answered} stalled bodies got their 408"
    );
    // Nothing was left behind by the stalled uploads, and the server still works.
    others_are_served(&srv, &clip).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stalled_bodies_hold_no_threads() {
    // Without the per-address cap, 700 stalled one-shot, chunk and JSON bodies are each a
    // request in progress. They once held a blocking thread each (the pool has 512): now
    // the bytes are awaited on the async side, so downloads, one-shot uploads and initiates
    // go on.
    let (srv, addr, clip, upload) = setup(None, Duration::from_secs(30)).await;
    let open = stall(700, [127, 0, 0, 3], addr, &upload).await;
    assert!(open.len() >= 690, "only {} connections opened", open.len());
    tokio::time::sleep(Duration::from_millis(500)).await;
    others_are_served(&srv, &clip).await;
    drop(open);
}

// ---- a stuck store -------------------------------------------------------------------

/// An ext4 file system on a loop device, mounted for one test; it can be frozen (every write
/// and fsync then blocks, as on a hung disk). Thawed and unmounted when dropped.
struct FreezableFs {
    mount: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

fn run(cmd: &str, args: &[&std::ffi::OsStr]) -> Result<(), String> {
    let out = std::process::Command::new(cmd)
        .args(args)
        .output()
        .map_err(|e| format!("cannot run {cmd}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{cmd} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

impl FreezableFs {
    fn new() -> FreezableFs {
        let dir = tempfile::tempdir().unwrap();
        let img = dir.path().join("fs.img");
        let mount = dir.path().join("mnt");
        std::fs::create_dir(&mount).unwrap();
        std::fs::File::create(&img)
            .unwrap()
            .set_len(64 << 20)
            .unwrap();
        let need = "this test needs root, mkfs.ext4 (e2fsprogs), loop devices and fsfreeze \
                    (util-linux)";
        run(
            "mkfs.ext4",
            &["-q".as_ref(), "-F".as_ref(), img.as_os_str()],
        )
        .unwrap_or_else(|e| panic!("{need}: {e}"));
        run(
            "mount",
            &[
                "-o".as_ref(),
                "loop".as_ref(),
                img.as_os_str(),
                mount.as_os_str(),
            ],
        )
        .unwrap_or_else(|e| panic!("{need}: {e}"));
        FreezableFs { mount, _dir: dir }
    }

    fn freeze(&self) {
        run("fsfreeze", &["-f".as_ref(), self.mount.as_os_str()]).unwrap();
    }

    fn thaw(&self) {
        let _ = run("fsfreeze", &["-u".as_ref(), self.mount.as_os_str()]);
    }
}

impl Drop for FreezableFs {
    fn drop(&mut self) {
        self.thaw();
        let _ = run("umount", &["-l".as_ref(), self.mount.as_os_str()]);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stuck_disk_fails_health_and_the_watchdog_exits() {
    let fs = FreezableFs::new();
    let data = fs.mount.join("data");
    let mut server = Spawn::qopy(&data)
        .args(["--min-free-disk", "1MiB", "--stall-timeout", "4s"])
        .args(["--log", "warn"])
        .spawn()
        .ready();
    let h = Http::with_timeout(server.base.clone(), Duration::from_secs(10));
    fs.freeze();
    let frozen_at = Instant::now();
    // The probe's write cannot become durable: 503 after the probe's 2 s deadline.
    let r = h.get("/health").answer().await;
    let status = r.status().as_u16();
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["database"], "stalled", "{body}");
    assert!(frozen_at.elapsed() < Duration::from_secs(4));
    // The watchdog decides to exit once the flush has been pending 4 s. The process cannot
    // finish exiting while a thread is blocked in the frozen file system, so its message is
    // awaited first, then the file system thawed and the exit code read.
    let logged = |server: &ServerProcess| server.log().contains("exiting with code 70");
    let until = Instant::now() + Duration::from_secs(15);
    while !logged(&server) && Instant::now() < until {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let decided = frozen_at.elapsed();
    fs.thaw();
    assert!(
        logged(&server),
        "no watchdog exit 15 s after the freeze; log:\n{}",
        server.log()
    );
    let code = server
        .wait_exit(Duration::from_secs(15))
        .expect("the server did not exit after the watchdog's decision")
        .code();
    assert_eq!(code, Some(qopy::app::STALL_EXIT_CODE));
    assert!(
        decided >= Duration::from_secs(4),
        "exited before stall_timeout: {decided:?}"
    );
    println!("stalls: /health 503 while frozen; watchdog exit after {decided:?}");
    // The data survive: a new server on the thawed directory starts.
    drop(fs);
}
