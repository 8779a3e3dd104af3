//! The load client of `benches/load.sh`'s concurrency sweep: N concurrent uploaders, each
//! uploading one file through the chunked API (initiate, raw `PUT` chunks with a few in flight,
//! complete), against a running server. Prints one JSON line: aggregate MiB/s, chunk-PUT p50
//! and p99, errors, and whether the server stalled.
//!
//! ```text
//! upload_sweep --url http://127.0.0.1:8080 --uploaders 32 --file-size 16777216 \
//!     --chunk-size 5242880 [--streams 3] [--stall-secs 15] [--timeout-secs 60]
//! ```
//!
//! A stall is no chunk PUT, initiate or complete finishing for `--stall-secs` while work is
//! left: the run stops there and reports what it had (a wedged server must not hang the
//! benchmark), counting each request still unanswered as an error. Every request also has a
//! client timeout. Run without `--url` (as a plain
//! `cargo bench` does), it explains itself and exits.

use bytes::Bytes;
use futures_util::stream::{self, StreamExt};
use serde_json::{json, Value};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// What one run does.
struct Args {
    url: String,
    uploaders: usize,
    file_size: u64,
    chunk_size: u64,
    /// Chunk PUTs each uploader keeps in flight (the browser client keeps 3).
    streams: usize,
    stall: Duration,
    timeout: Duration,
}

/// Why this benchmark exists: issue 10 (concurrent writes wedged the store) asks that
/// throughput hold up as uploaders are added, with no errors and no stall at 1, 8, 32 and 128
/// uploaders; its baseline is the same run's single uploader.
fn main() {
    let args = match parse_args() {
        Ok(Some(a)) => a,
        Ok(None) => {
            eprintln!(
                "upload_sweep: a load client for a running server, used by benches/load.sh; \
                 nothing to do without --url (see the top of benches/upload_sweep.rs)"
            );
            return;
        }
        Err(e) => {
            eprintln!("upload_sweep: {e}");
            std::process::exit(2);
        }
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let report = rt.block_on(run(args));
    println!("{report}");
    // A stalled server leaves requests in flight; do not wait for them.
    rt.shutdown_background();
}

fn parse_args() -> Result<Option<Args>, String> {
    let mut url = None;
    let mut a = Args {
        url: String::new(),
        uploaders: 1,
        file_size: 100 << 20,
        chunk_size: 5 << 20,
        streams: 3,
        stall: Duration::from_secs(15),
        timeout: Duration::from_secs(60),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        // `cargo bench` passes `--bench` to every bench target.
        if flag == "--bench" {
            continue;
        }
        let value = it.next().ok_or(format!("{flag} needs a value"))?;
        let num = || {
            value
                .parse::<u64>()
                .map_err(|_| format!("{flag}: {value:?} is not a whole number"))
        };
        match flag.as_str() {
            "--url" => url = Some(value.trim_end_matches('/').to_string()),
            "--uploaders" => a.uploaders = num()? as usize,
            "--file-size" => a.file_size = num()?,
            "--chunk-size" => a.chunk_size = num()?,
            "--streams" => a.streams = num()? as usize,
            "--stall-secs" => a.stall = Duration::from_secs(num()?),
            "--timeout-secs" => a.timeout = Duration::from_secs(num()?),
            _ => return Err(format!("unknown argument {flag}")),
        }
    }
    if a.uploaders == 0 || a.file_size == 0 || a.chunk_size == 0 || a.streams == 0 {
        return Err("--uploaders, --file-size, --chunk-size and --streams must be above 0".into());
    }
    Ok(url.map(|u| Args { url: u, ..a }))
}

/// What the uploaders share: results so far and the time of the last progress.
struct Tally {
    start: Instant,
    /// Milliseconds from `start` to the last request that finished.
    last_progress_ms: AtomicU64,
    /// Bytes of chunks acknowledged with 200.
    acked_bytes: AtomicU64,
    latencies_us: Mutex<Vec<u64>>,
    errors: Mutex<Vec<String>>,
    completed: AtomicU64,
    /// Requests sent and not yet answered.
    in_flight: AtomicU64,
}

/// One request in flight, from send to its last byte (see `Tally::in_flight`).
struct Pending<'a>(&'a Tally);

impl Drop for Pending<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Tally {
    fn begin(&self) -> Pending<'_> {
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        Pending(self)
    }

    fn progress(&self) {
        let ms = self.start.elapsed().as_millis() as u64;
        self.last_progress_ms.fetch_max(ms, Ordering::Relaxed);
    }

    fn error(&self, e: String) {
        self.progress();
        self.errors.lock().unwrap().push(e);
    }
}

async fn run(args: Args) -> Value {
    let client = reqwest::Client::builder()
        .no_proxy()
        .pool_max_idle_per_host(args.uploaders * args.streams + 8)
        .connect_timeout(Duration::from_secs(10))
        .timeout(args.timeout)
        .build()
        .expect("HTTP client");
    let block = Bytes::from(pseudo_random(args.chunk_size as usize));
    let tally = Arc::new(Tally {
        start: Instant::now(),
        last_progress_ms: AtomicU64::new(0),
        acked_bytes: AtomicU64::new(0),
        latencies_us: Mutex::default(),
        errors: Mutex::default(),
        completed: AtomicU64::new(0),
        in_flight: AtomicU64::new(0),
    });
    let args = Arc::new(args);
    let uploads = (0..args.uploaders).map(|i| {
        let (client, block, tally, args) =
            (client.clone(), block.clone(), tally.clone(), args.clone());
        tokio::spawn(async move {
            if let Err(e) = upload(&client, &args, &block, &tally, i).await {
                tally.error(e);
            }
        })
    });
    let all = futures_util::future::join_all(uploads.collect::<Vec<_>>());
    let stalled = tokio::select! {
        _ = all => false,
        _ = watch_stall(&tally, args.stall) => true,
    };
    let seconds = tally.start.elapsed().as_secs_f64();
    let bytes = tally.acked_bytes.load(Ordering::Relaxed);
    let mut lat = tally.latencies_us.lock().unwrap().clone();
    lat.sort_unstable();
    let failures = tally.errors.lock().unwrap().clone();
    // Requests still unanswered when a stall stopped the run failed too, each one.
    let unanswered = if stalled {
        tally.in_flight.load(Ordering::Relaxed)
    } else {
        0
    };
    let first_error = failures.first().cloned().or_else(|| {
        (unanswered > 0).then(|| {
            format!(
                "{unanswered} request(s) unanswered when the run stopped ({} s without progress)",
                args.stall.as_secs()
            )
        })
    });
    json!({
        "uploaders": args.uploaders,
        "streams": args.streams,
        "fileSize": args.file_size,
        "chunkSize": args.chunk_size,
        "bytes": bytes,
        "seconds": seconds,
        "mibps": bytes as f64 / (1u64 << 20) as f64 / seconds,
        "puts": lat.len(),
        "p50Ms": percentile(&lat, 50.0),
        "p99Ms": percentile(&lat, 99.0),
        "completed": tally.completed.load(Ordering::Relaxed),
        "errors": failures.len() as u64 + unanswered,
        "unanswered": unanswered,
        "firstError": first_error,
        "stalled": stalled,
    })
}

/// Returns once nothing has finished for `limit`.
async fn watch_stall(tally: &Tally, limit: Duration) {
    loop {
        tokio::time::sleep(Duration::from_millis(250)).await;
        let last = Duration::from_millis(tally.last_progress_ms.load(Ordering::Relaxed));
        if tally.start.elapsed().saturating_sub(last) >= limit {
            return;
        }
    }
}

/// One uploader: initiate, every chunk (`streams` in flight), complete.
async fn upload(
    client: &reqwest::Client,
    args: &Args,
    block: &Bytes,
    tally: &Tally,
    i: usize,
) -> Result<(), String> {
    let chunks = args.file_size.div_ceil(args.chunk_size);
    let initiate = json!({
        "filename": format!("sweep-{i}.bin"),
        "filesize": args.file_size,
        "totalChunks": chunks,
        "contentType": "file",
        "expiration": "1hr",
    });
    let pending = tally.begin();
    let r = client
        .post(format!("{}/api/upload/initiate", args.url))
        .json(&initiate)
        .send()
        .await
        .map_err(|e| format!("initiate: {}", chain(&e)))?;
    let (status, v) = (r.status(), r.json::<Value>().await.unwrap_or(Value::Null));
    drop(pending);
    tally.progress();
    let id = match v["uploadId"].as_str() {
        Some(id) if status.is_success() => id.to_string(),
        _ => return Err(format!("initiate: HTTP {status}: {v}")),
    };
    let puts = (0..chunks).map(|n| {
        let len = (args.file_size - n * args.chunk_size).min(args.chunk_size) as usize;
        let url = format!("{}/api/upload/chunk/{id}/{n}", args.url);
        let body = block.slice(..len);
        async move {
            let t = Instant::now();
            let pending = tally.begin();
            let answer = client
                .put(url)
                .header("content-type", "application/octet-stream")
                .body(body)
                .send()
                .await;
            let answer = match answer {
                Ok(r) => {
                    let status = r.status();
                    r.bytes().await.map(|b| (status, b))
                }
                Err(e) => Err(e),
            };
            drop(pending);
            match answer {
                Ok((status, _)) if status.is_success() => {
                    tally
                        .latencies_us
                        .lock()
                        .unwrap()
                        .push(t.elapsed().as_micros() as u64);
                    tally.acked_bytes.fetch_add(len as u64, Ordering::Relaxed);
                    tally.progress();
                    true
                }
                Ok((status, b)) => {
                    let b = String::from_utf8_lossy(&b[..b.len().min(200)]).into_owned();
                    tally.error(format!("PUT chunk {n}: HTTP {status}: {b}"));
                    false
                }
                Err(e) => {
                    tally.error(format!("PUT chunk {n}: {}", chain(&e)));
                    false
                }
            }
        }
    });
    let oks: Vec<bool> = stream::iter(puts)
        .buffer_unordered(args.streams)
        .collect()
        .await;
    if oks.contains(&false) {
        // Counted already, chunk by chunk; the upload cannot be completed.
        return Ok(());
    }
    let pending = tally.begin();
    let r = client
        .post(format!("{}/api/upload/complete/{id}", args.url))
        .json(&json!({}))
        .send()
        .await
        .map_err(|e| format!("complete: {}", chain(&e)))?;
    let status = r.status();
    let body = r.text().await.unwrap_or_default();
    drop(pending);
    tally.progress();
    if !status.is_success() {
        return Err(format!("complete: HTTP {status}: {body}"));
    }
    tally.completed.fetch_add(1, Ordering::Relaxed);
    Ok(())
}

/// An error with its causes ("... operation timed out").
fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        s.push_str(": ");
        s.push_str(&cause.to_string());
        source = cause.source();
    }
    s
}

/// The nearest-rank percentile of sorted microseconds, in milliseconds.
fn percentile(sorted_us: &[u64], p: f64) -> Option<f64> {
    if sorted_us.is_empty() {
        return None;
    }
    let rank = ((p / 100.0) * sorted_us.len() as f64).ceil() as usize;
    Some(sorted_us[rank.clamp(1, sorted_us.len()) - 1] as f64 / 1000.0)
}

/// Incompressible bytes (xorshift), so no layer can shortcut them.
fn pseudo_random(len: usize) -> Vec<u8> {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
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
