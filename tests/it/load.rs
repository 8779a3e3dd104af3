//! Load tests (issue 10): many concurrent chunk writes must never wedge the store, and
//! simulated browser users must never lose an acknowledged clip (`soak`).
//!
//! The server under test may deadlock (sled 0.34's concurrent `flush_async`, spacejam/sled#1308),
//! so nothing here may wait without a bound: every request has a client timeout, every wait is
//! wrapped in `tokio::time::timeout`, and the server and the clients run on runtimes of their
//! own that are abandoned when the test ends (`bounded`). A wedged server therefore fails a test
//! with a message naming what did not answer, within about a minute.
//!
//! Long forms by environment variable: `QOPY_LOAD_PUTS=512` (concurrent PUTs per round) and
//! `QOPY_SOAK_SECS=300` (soak duration); `QOPY_SOAK_SEED` repeats a soak's random choices.

mod bounded;
mod soak;

use crate::harness::{test_bytes, TestServer};
use bounded::{on_server, run_bounded, start_server, stop_server};
use bytes::Bytes;
use serde_json::{json, Value};
use std::time::{Duration, Instant};
use tokio::runtime::Handle;

/// The chunk size both tests configure: the smallest the server allows, to keep them fast.
const CHUNK: u64 = 64 * 1024;
/// The client timeout of every request.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(20);
/// How fast an initiate must answer after a burst of chunk writes.
const INITIATE_DEADLINE: Duration = Duration::from_secs(2);
/// Chunks per upload in `concurrent_chunk_puts_never_wedge`.
const CHUNKS_PER_UPLOAD: usize = 8;
/// Rounds of concurrent PUTs.
const ROUNDS: usize = 5;

/// A whole-number environment variable, or `default` when unset.
fn env_u64(name: &str, default: u64) -> u64 {
    match std::env::var(name) {
        Ok(v) => v
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("{name}={v:?} is not a whole number")),
        Err(_) => default,
    }
}

/// A client for load: a pool as large as the load, every request bounded by `REQUEST_TIMEOUT`.
fn load_client(pool: usize) -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .pool_max_idle_per_host(pool)
        .connect_timeout(Duration::from_secs(5))
        .timeout(REQUEST_TIMEOUT)
        .build()
        .unwrap()
}

/// A reqwest error with its causes ("... operation timed out").
fn describe(e: &reqwest::Error) -> String {
    let mut s = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        s.push_str(": ");
        s.push_str(&cause.to_string());
        source = cause.source();
    }
    if e.is_timeout() {
        s.push_str(&format!(" (client timeout {REQUEST_TIMEOUT:?})"));
    }
    s
}

/// Sends a request and reads the whole answer, bounded by `REQUEST_TIMEOUT` (plus a second,
/// so the client's own timeout normally speaks first); returns (status, body) or what failed.
async fn exchange(what: &str, req: reqwest::RequestBuilder) -> Result<(u16, Bytes), String> {
    let run = async {
        let r = req.send().await.map_err(|e| describe(&e))?;
        let status = r.status().as_u16();
        let body = r.bytes().await.map_err(|e| describe(&e))?;
        Ok::<_, String>((status, body))
    };
    match tokio::time::timeout(REQUEST_TIMEOUT + Duration::from_secs(1), run).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(format!("{what}: {e}")),
        Err(_) => Err(format!("{what}: no answer within {REQUEST_TIMEOUT:?}")),
    }
}

/// A short rendering of an answer body, for failure messages.
fn snippet(body: &[u8]) -> String {
    let s = String::from_utf8_lossy(&body[..body.len().min(200)]).into_owned();
    s.replace('\n', " ")
}

/// The API calls the load tests make, each bounded and reporting failures as text.
#[derive(Clone)]
struct Api {
    client: reqwest::Client,
    base: String,
}

impl Api {
    fn new(server: &TestServer, pool: usize) -> Api {
        Api {
            client: load_client(pool),
            base: server.base.clone(),
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// `POST /api/upload/initiate`; returns the upload ID.
    async fn initiate(&self, body: Value) -> Result<String, String> {
        let req = self
            .client
            .post(self.url("/api/upload/initiate"))
            .json(&body);
        let (status, b) = exchange("initiate", req).await?;
        let v: Value = serde_json::from_slice(&b).unwrap_or(Value::Null);
        match (status, v["uploadId"].as_str()) {
            (200, Some(id)) => Ok(id.to_string()),
            _ => Err(format!("initiate: HTTP {status}: {}", snippet(&b))),
        }
    }

    /// `PUT /api/upload/chunk/:id/:n` with a raw body; Ok when it answers 200.
    async fn put_chunk(&self, upload: &str, n: usize, bytes: Vec<u8>) -> Result<(), String> {
        let what = format!("PUT chunk {n} of upload {}…", &upload[..6]);
        let req = self
            .client
            .put(self.url(&format!("/api/upload/chunk/{upload}/{n}")))
            .header("content-type", "application/octet-stream")
            .body(bytes);
        match exchange(&what, req).await? {
            (200, _) => Ok(()),
            (status, b) => Err(format!("{what}: HTTP {status}: {}", snippet(&b))),
        }
    }

    /// `POST /api/upload/complete/:id`; returns the clip ID.
    async fn complete(&self, upload: &str) -> Result<String, String> {
        let what = format!("complete of upload {}…", &upload[..6]);
        let req = self
            .client
            .post(self.url(&format!("/api/upload/complete/{upload}")))
            .json(&json!({}));
        let (status, b) = exchange(&what, req).await?;
        let v: Value = serde_json::from_slice(&b).unwrap_or(Value::Null);
        match (status, v["clipId"].as_str()) {
            (200, Some(id)) => Ok(id.to_string()),
            _ => Err(format!("{what}: HTTP {status}: {}", snippet(&b))),
        }
    }

    /// `POST /api/file/:id`: (status, body).
    async fn download(&self, id: &str) -> Result<(u16, Bytes), String> {
        let req = self
            .client
            .post(self.url(&format!("/api/file/{id}")))
            .json(&json!({}));
        exchange(&format!("download of {id}"), req).await
    }

    /// Downloads a clip that must be there with exactly `data`.
    async fn expect_clip(&self, id: &str, data: &[u8]) -> Result<(), String> {
        match self.download(id).await? {
            (200, b) if b.as_ref() == data => Ok(()),
            (200, b) => Err(format!(
                "download of {id}: {} bytes that differ from the {} uploaded",
                b.len(),
                data.len()
            )),
            (status, b) => Err(format!("download of {id}: HTTP {status}: {}", snippet(&b))),
        }
    }

    /// `DELETE /api/upload/:id`: the status.
    async fn cancel(&self, upload: &str) -> Result<u16, String> {
        let req = self
            .client
            .delete(self.url(&format!("/api/upload/{upload}")));
        Ok(exchange("cancel", req).await?.0)
    }

    /// `GET /api/upload/:id/status`: (status, JSON).
    async fn upload_status(&self, upload: &str) -> Result<(u16, Value), String> {
        let req = self
            .client
            .get(self.url(&format!("/api/upload/{upload}/status")));
        let (status, b) = exchange("upload status", req).await?;
        Ok((status, serde_json::from_slice(&b).unwrap_or(Value::Null)))
    }

    /// What the server still answers, for a failure message: `/health` and an initiate, each
    /// given `INITIATE_DEADLINE`.
    async fn diagnose(&self) -> String {
        let t = Instant::now();
        let health = tokio::time::timeout(
            INITIATE_DEADLINE,
            exchange("health", self.client.get(self.url("/health"))),
        )
        .await;
        let health = match health {
            Ok(Ok((s, _))) => format!("/health answered {s} in {:?}", t.elapsed()),
            Ok(Err(e)) => e,
            Err(_) => format!("/health did not answer within {INITIATE_DEADLINE:?}"),
        };
        let t = Instant::now();
        let init = tokio::time::timeout(INITIATE_DEADLINE, self.initiate(probe_session())).await;
        let init = match init {
            Ok(Ok(_)) => format!("an initiate answered in {:?}", t.elapsed()),
            Ok(Err(e)) => e,
            Err(_) => format!("an initiate did not answer within {INITIATE_DEADLINE:?}"),
        };
        format!("afterwards {health}; {init}")
    }
}

/// Initiate fields of a session of `total` small chunks: `totalChunks` without `filesize`,
/// so no declared size binds the chunks' (smaller than `CHUNK`) sizes.
fn small_chunk_session(total: usize) -> Value {
    json!({
        "filename": "load.bin",
        "totalChunks": total,
        "contentType": "file",
        "expiration": "1hr",
    })
}

/// The session initiated to check that the server still answers.
fn probe_session() -> Value {
    json!({
        "filename": "probe.bin",
        "filesize": 1,
        "contentType": "file",
        "expiration": "5min",
    })
}

/// The bytes of chunk `n` of upload `u` in round `round`: 1 to 64 bytes.
fn small_chunk(round: usize, u: usize, n: usize) -> Vec<u8> {
    let seed = ((round * 10_000 + u) * 100 + n) as u64;
    let len = 1 + (seed.wrapping_mul(2_654_435_761) % 64) as usize;
    test_bytes(len, seed)
}

/// One upload of the concurrent-PUT test: its ID and the file its chunks make.
struct SmallUpload {
    id: String,
    data: Vec<u8>,
}

/// Sends every chunk of `uploads` at once; returns each PUT's failure, if any.
async fn put_all_at_once(api: &Api, round: usize, uploads: &[SmallUpload]) -> Vec<String> {
    let mut tasks = Vec::new();
    for (u, up) in uploads.iter().enumerate() {
        for n in 0..CHUNKS_PER_UPLOAD {
            let (api, id) = (api.clone(), up.id.clone());
            let bytes = small_chunk(round, u, n);
            tasks.push(tokio::spawn(
                async move { api.put_chunk(&id, n, bytes).await },
            ));
        }
    }
    let mut failures = Vec::new();
    for t in tasks {
        match t.await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => failures.push(e),
            Err(e) => failures.push(format!("PUT task failed: {e}")),
        }
    }
    failures
}

/// Issue 10: 16 uploads × 8 one-to-64-byte chunks, all 128 `PUT`s at once, deadlocked sled
/// (concurrent `flush_async`): most PUTs timed out and every later initiate hung. Five rounds;
/// every PUT must answer 200, and an initiate must answer within 2 s after each round; then
/// every upload completes and downloads byte-identical. `QOPY_LOAD_PUTS=512` for the long form.
#[test]
fn concurrent_chunk_puts_never_wedge() {
    let puts = env_u64("QOPY_LOAD_PUTS", 128) as usize;
    assert!(
        puts >= CHUNKS_PER_UPLOAD && puts.is_multiple_of(CHUNKS_PER_UPLOAD),
        "QOPY_LOAD_PUTS must be a multiple of {CHUNKS_PER_UPLOAD}"
    );
    // A healthy server takes a few seconds in a debug build; a wedged one fails a round
    // after REQUEST_TIMEOUT.
    let limit = Duration::from_secs(60 + puts as u64 / 8);
    run_bounded("concurrent_chunk_puts_never_wedge", limit, |rt| {
        concurrent_chunk_puts(rt, puts)
    });
}

async fn concurrent_chunk_puts(rt: Handle, puts: usize) {
    let server = start_server(&rt).await;
    let api = Api::new(&server, puts + 16);
    let per_round = puts / CHUNKS_PER_UPLOAD;
    let mut all = Vec::new();
    for round in 0..ROUNDS {
        let mut uploads = Vec::new();
        for u in 0..per_round {
            let id = api
                .initiate(small_chunk_session(CHUNKS_PER_UPLOAD))
                .await
                .unwrap_or_else(|e| panic!("round {round}: {e}"));
            let data = (0..CHUNKS_PER_UPLOAD)
                .flat_map(|n| small_chunk(round, u, n))
                .collect();
            uploads.push(SmallUpload { id, data });
        }
        let t = Instant::now();
        let failures = put_all_at_once(&api, round, &uploads).await;
        let took = t.elapsed();
        if !failures.is_empty() {
            let after = api.diagnose().await;
            panic!(
                "round {round}: {} of {puts} concurrent chunk PUTs failed (in {took:.1?}); {after}; \
                 first failures: {:#?}",
                failures.len(),
                &failures[..failures.len().min(5)]
            );
        }
        let t = Instant::now();
        match tokio::time::timeout(INITIATE_DEADLINE, api.initiate(probe_session())).await {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => panic!("round {round}: after {puts} concurrent PUTs: {e}"),
            Err(_) => panic!(
                "round {round}: an initiate did not answer within {INITIATE_DEADLINE:?} after \
                 {puts} concurrent chunk PUTs ({:?} waited)",
                t.elapsed()
            ),
        }
        println!("round {round}: {puts} concurrent chunk PUTs answered 200 in {took:.1?}");
        all.extend(uploads);
    }
    // Complete every upload, a round's worth at a time, then download a few.
    let mut clips = Vec::new();
    for batch in all.chunks(per_round) {
        let done = futures_util::future::join_all(batch.iter().map(|u| api.complete(&u.id)));
        for (u, r) in batch.iter().zip(done.await) {
            let id = r.unwrap_or_else(|e| panic!("{e}"));
            clips.push((id, &u.data));
        }
    }
    let step = (clips.len() / 8).max(1);
    for (id, data) in clips.iter().step_by(step) {
        api.expect_clip(id, data)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
    }
    stop_server(&rt, server).await;
}
