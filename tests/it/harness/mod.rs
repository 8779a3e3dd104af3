//! The test harness: starts the real server (through `qopy::app::run`, as `main` does) on
//! `127.0.0.1:0` with a temporary data directory and an adjustable clock, talks HTTP to it
//! with reqwest, and restarts it on the same directory to prove persistence. Tests that need
//! a real process (exit codes, signals, the environment, the log) start the binary through
//! [`Spawn`] (in `process`).

#![allow(dead_code)]

mod http;
mod ports;
mod process;
mod proxy;

pub use http::{content_type, header, Answer, Http};
pub use ports::free_port;
pub use process::{assert_exit_code, target_dir, ServerProcess, Spawn};
pub use proxy::CuttingProxy;

use qopy::clock::OffsetClock;
use qopy::config::Config;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// The admin token every test server gets.
pub const ADMIN_TOKEN: &str = "test-admin-token-0123456789";

/// A running server.
pub struct TestServer {
    /// Its address and a client (`s.base`, `s.client`, `s.get_json(..)` through `Deref`).
    pub http: Http,
    /// The configuration it runs with.
    pub config: Config,
    /// Its clock; `clock.advance(..)` moves time for the server.
    pub clock: Arc<OffsetClock>,
    dir: Arc<tempfile::TempDir>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

/// The configuration tests start from: loopback, rate limits off, an admin token, a small
/// disk reserve.
pub fn test_config(dir: &Path) -> Config {
    let mut c = Config::defaults();
    c.listen = "127.0.0.1:0".parse().unwrap();
    c.data_dir = dir.to_path_buf();
    c.rate_limits = false;
    c.admin_token = Some(ADMIN_TOKEN.to_string());
    c.min_free_disk = 1024 * 1024;
    c.log = "warn".into();
    // Every test client connects from 127.0.0.1; the tests of the per-address cap set it.
    c.max_connections_per_address = None;
    c
}

impl TestServer {
    /// Starts a server with the test configuration.
    pub async fn start() -> TestServer {
        Self::start_with(|_| {}).await
    }

    /// Starts a server after letting the test adjust the configuration.
    pub async fn start_with(adjust: impl FnOnce(&mut Config)) -> TestServer {
        let dir = Arc::new(tempfile::tempdir().unwrap());
        let mut config = test_config(dir.path());
        adjust(&mut config);
        Self::boot(dir, config, Arc::new(OffsetClock::new())).await
    }

    /// Starts a server on `dir` with `config` and `clock`, as `restart` does; for tests that
    /// change the data directory while no server runs on it.
    pub async fn boot(
        dir: Arc<tempfile::TempDir>,
        config: Config,
        clock: Arc<OffsetClock>,
    ) -> TestServer {
        let listener = tokio::net::TcpListener::bind(config.listen).await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let cfg = config.clone();
        let clk: Arc<dyn qopy::clock::Clock> = clock.clone();
        let task = tokio::spawn(async move {
            let shutdown = async {
                let _ = rx.await;
            };
            qopy::app::run(cfg, listener, shutdown, clk)
                .await
                .expect("server failed");
        });
        TestServer {
            http: Http::new(base),
            config,
            clock,
            dir,
            stop: Some(tx),
            task: Some(task),
        }
    }

    /// The data directory.
    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().to_path_buf()
    }

    /// Stops the server gracefully and waits until it has released the data directory.
    pub async fn stop(mut self) -> (Arc<tempfile::TempDir>, Config, Arc<OffsetClock>) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.task.take() {
            tokio::time::timeout(Duration::from_secs(30), t)
                .await
                .expect("server did not stop")
                .expect("server task panicked");
        }
        (self.dir.clone(), self.config.clone(), self.clock.clone())
    }

    /// Stops the server and starts a new one on the same data directory and clock.
    pub async fn restart(self) -> TestServer {
        let (dir, config, clock) = self.stop().await;
        // sled releases its lock when the last handle drops; retry briefly if it has not yet.
        Self::boot(dir, config, clock).await
    }

    /// Uploads `data` in chunks of the server's chunk size with the given initiate fields
    /// (merged over a file upload with 1hr expiry) and complete body; returns the complete
    /// answer.
    pub async fn upload(&self, data: &[u8], initiate: Value, complete: Value) -> Value {
        let cs = self.config.chunk_size as usize;
        self.upload_in_chunks(data, cs, initiate, complete).await
    }

    /// Uploads a file clip with defaults; returns its clip ID.
    pub async fn upload_file(&self, data: &[u8]) -> String {
        let v = self.upload(data, json!({}), json!({})).await;
        v["clipId"].as_str().unwrap().to_string()
    }
}

impl std::ops::Deref for TestServer {
    type Target = Http;

    fn deref(&self) -> &Http {
        &self.http
    }
}

impl std::ops::DerefMut for TestServer {
    fn deref_mut(&mut self) -> &mut Http {
        &mut self.http
    }
}

/// Deterministic pseudo-random bytes (xorshift), so failures are reproducible.
pub fn test_bytes(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(&x.to_le_bytes());
    }
    out.truncate(len);
    out
}

/// A valid access-code hash as a client sends it: 128 lowercase hex characters.
pub fn access_hash(seed: u8) -> String {
    let bytes: Vec<u8> = (0..64)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Every file under a directory, as relative paths, sorted (to prove a refused request
/// changed nothing on disk).
pub fn files_under(dir: &Path) -> Vec<String> {
    fn walk(base: &Path, dir: &Path, out: &mut Vec<String>) {
        if let Ok(entries) = std::fs::read_dir(dir) {
            for e in entries.flatten() {
                let p = e.path();
                if p.is_dir() {
                    walk(base, &p, out);
                } else {
                    out.push(p.strip_prefix(base).unwrap().display().to_string());
                }
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, &dir.join("blobs"), &mut out);
    out.sort();
    out
}

/// Waits until `probe` holds, for at most `within`; fails the test with `what` otherwise.
/// For effects that follow an answer in the background (a finished claim's deletion).
pub async fn eventually(what: &str, within: Duration, mut probe: impl FnMut() -> bool) {
    let end = tokio::time::Instant::now() + within;
    while !probe() {
        assert!(
            tokio::time::Instant::now() < end,
            "not within {within:?}: {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
