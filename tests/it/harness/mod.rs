//! The test harness: starts the real server (through `qopy::app::run`, as `main` does) on
//! `127.0.0.1:0` with a temporary data directory and an adjustable clock, talks HTTP to it
//! with reqwest, and restarts it on the same directory to prove persistence. Tests that need
//! a real process (exit codes, signals, the environment, the log) start the binary through
//! [`Spawn`] (in `process`).

#![allow(dead_code)]

mod process;

pub use process::{assert_exit_code, free_port, target_dir, ServerProcess, Spawn};

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
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    /// The configuration it runs with.
    pub config: Config,
    /// Its clock; `clock.advance(..)` moves time for the server.
    pub clock: Arc<OffsetClock>,
    /// An HTTP client.
    pub client: reqwest::Client,
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
            base,
            config,
            clock,
            client: reqwest::Client::builder().no_proxy().build().unwrap(),
            dir,
            stop: Some(tx),
            task: Some(task),
        }
    }

    /// The data directory.
    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().to_path_buf()
    }

    /// A full URL for a path.
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
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

    /// A request to a path on this server.
    pub fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.client.request(method, self.url(path))
    }

    /// A GET request to a path on this server.
    pub fn get(&self, path: &str) -> reqwest::RequestBuilder {
        self.client.get(self.url(path))
    }

    /// A POST request to a path on this server.
    pub fn post(&self, path: &str) -> reqwest::RequestBuilder {
        self.client.post(self.url(path))
    }

    /// A PUT request to a path on this server.
    pub fn put(&self, path: &str) -> reqwest::RequestBuilder {
        self.client.put(self.url(path))
    }

    /// GET returning (status, JSON).
    pub async fn get_json(&self, path: &str) -> (u16, Value) {
        self.get(path).json_answer().await
    }

    /// POST a JSON body returning (status, JSON).
    pub async fn post_json(&self, path: &str, body: Value) -> (u16, Value) {
        self.post(path).json(&body).json_answer().await
    }

    /// POST raw bytes with a content type, returning (status, JSON).
    pub async fn post_raw(&self, path: &str, content_type: &str, body: Vec<u8>) -> (u16, Value) {
        self.post(path)
            .header("content-type", content_type)
            .body(body)
            .json_answer()
            .await
    }

    /// Admin GET with the bearer token.
    pub async fn admin_get(&self, path: &str) -> (u16, Value) {
        self.get(path).bearer_auth(ADMIN_TOKEN).json_answer().await
    }

    /// Runs a sweep through the admin API and returns its report.
    pub async fn sweep(&self) -> Value {
        let (status, v) = self
            .post("/api/admin/sweep")
            .bearer_auth(ADMIN_TOKEN)
            .json_answer()
            .await;
        assert_eq!(status, 200, "{v}");
        v["report"].clone()
    }

    /// Initiates an upload; returns the upload ID.
    pub async fn initiate(&self, body: Value) -> String {
        let (status, v) = self.post_json("/api/upload/initiate", body).await;
        assert_eq!(status, 200, "initiate failed: {v}");
        v["uploadId"].as_str().unwrap().to_string()
    }

    /// Sends chunk `n` as a raw PUT body; returns (status, JSON).
    pub async fn put_chunk(&self, upload: &str, n: u32, bytes: Vec<u8>) -> (u16, Value) {
        self.put(&format!("/api/upload/chunk/{upload}/{n}"))
            .header("content-type", "application/octet-stream")
            .body(bytes)
            .json_answer()
            .await
    }

    /// Sends chunk `n` as multipart field `chunk` (as the original web client did).
    pub async fn post_chunk_multipart(&self, upload: &str, n: u32, bytes: Vec<u8>) -> (u16, Value) {
        let form = reqwest::multipart::Form::new()
            .text("chunkNumber", n.to_string())
            .part(
                "chunk",
                reqwest::multipart::Part::bytes(bytes).file_name("chunk"),
            );
        self.post(&format!("/api/upload/chunk/{upload}/{n}"))
            .multipart(form)
            .json_answer()
            .await
    }

    /// Uploads `data` in chunks of the server's chunk size with the given initiate fields
    /// (merged over a file upload with 1hr expiry) and complete body; returns the complete
    /// answer.
    pub async fn upload(&self, data: &[u8], initiate: Value, complete: Value) -> Value {
        let cs = self.config.chunk_size as usize;
        let total = data.len().div_ceil(cs).max(1);
        let mut body = json!({
            "filename": "test.bin",
            "filesize": data.len(),
            "totalChunks": total,
            "contentType": "file",
            "expiration": "1hr",
        });
        if let (Some(b), Some(extra)) = (body.as_object_mut(), initiate.as_object()) {
            for (k, v) in extra {
                b.insert(k.clone(), v.clone());
            }
        }
        let upload = self.initiate(body).await;
        for (n, piece) in data.chunks(cs).enumerate() {
            let (status, v) = self.put_chunk(&upload, n as u32, piece.to_vec()).await;
            assert_eq!(status, 200, "chunk {n} failed: {v}");
        }
        let (status, v) = self
            .post_json(&format!("/api/upload/complete/{upload}"), complete)
            .await;
        assert_eq!(status, 200, "complete failed: {v}");
        v
    }

    /// Uploads a file clip with defaults; returns its clip ID.
    pub async fn upload_file(&self, data: &[u8]) -> String {
        let v = self.upload(data, json!({}), json!({})).await;
        v["clipId"].as_str().unwrap().to_string()
    }

    /// Downloads a clip's content (`POST /api/file/:id`), returning the response.
    pub async fn download(&self, id: &str, access_code: Option<&str>) -> reqwest::Response {
        let body = match access_code {
            Some(c) => json!({ "accessCode": c }),
            None => json!({}),
        };
        self.post(&format!("/api/file/{id}"))
            .json(&body)
            .answer()
            .await
    }

    /// Downloads and returns (status, bytes).
    pub async fn download_bytes(&self, id: &str, access_code: Option<&str>) -> (u16, Vec<u8>) {
        let r = self.download(id, access_code).await;
        let status = r.status().as_u16();
        (status, r.bytes().await.unwrap().to_vec())
    }
}

/// Sending a request that must get an answer (a transport error fails the test).
pub trait Answer {
    /// The response.
    async fn answer(self) -> reqwest::Response;
    /// (status, JSON body, or `null` when the body is not JSON).
    async fn json_answer(self) -> (u16, Value);
    /// (status, headers, JSON body or `null`).
    async fn full_answer(self) -> (u16, reqwest::header::HeaderMap, Value);
    /// (status, body as text).
    async fn text_answer(self) -> (u16, String);
}

impl Answer for reqwest::RequestBuilder {
    async fn answer(self) -> reqwest::Response {
        self.send().await.unwrap()
    }

    async fn json_answer(self) -> (u16, Value) {
        let (status, _, v) = self.full_answer().await;
        (status, v)
    }

    async fn full_answer(self) -> (u16, reqwest::header::HeaderMap, Value) {
        let r = self.answer().await;
        let status = r.status().as_u16();
        let headers = r.headers().clone();
        (status, headers, r.json().await.unwrap_or(Value::Null))
    }

    async fn text_answer(self) -> (u16, String) {
        let r = self.answer().await;
        (r.status().as_u16(), r.text().await.unwrap())
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
