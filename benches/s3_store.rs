//! Qopy's S3 backend against its yardstick: issue 14 asks Qopy on Garage for at least 0.8 of
//! what Garage does through its S3 API directly, on the same machine and cluster. Run with
//! `cargo bench --bench s3_store`. Each line of the table is measured three ways in the same
//! run, on a fresh three-node cluster (`tests/it/garage/cluster.rs`, replication factor 3, all
//! on this machine):
//!
//! - **Garage direct**: the payload stored the way Qopy stores an upload, one object per 5 MiB
//!   chunk (the last one shorter) through `qopy::s3::Bucket` against node 0, `lanes` objects
//!   in flight, then read back in order the same way.
//! - **Qopy on Garage**: a Qopy server (in this process, `blob_store = "s3"`, through node 0)
//!   takes the same chunks as `PUT /api/upload/chunk` requests, `lanes` in flight, then
//!   completes the upload; the download is one `POST /api/file/:id` answer read to its end.
//! - **Qopy local**: the same against a Qopy server with the default local blob store, on the
//!   same disk.
//!
//! Every chunk differs (Garage stores a block once however often it is written) and every
//! byte read back is compared with what was written; making and comparing a chunk are memory
//! copies inside the timed region, about 1 ms per 5 MiB, the same for all three. Everything
//! lives under `target/bench-garage` (each payload is stored three times by Garage and Garage
//! frees deleted blocks only minutes later, so up to 8 GiB, which may not fit a small `/tmp`)
//! and is removed at the end.

#[path = "../tests/it/harness/ports.rs"]
mod harness;

#[path = "../tests/it/garage/cluster.rs"]
mod garage;

use bytes::Bytes;
use futures_util::{StreamExt, TryStreamExt};
use garage::GarageCluster;
use qopy::config::Config;
use qopy::s3::Bucket;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Qopy's default chunk size.
const CHUNK: usize = 5 * 1024 * 1024;
/// Garage's block size (its default), the unit it stores and deduplicates.
const BLOCK: usize = 1024 * 1024;
const MIB: f64 = 1024.0 * 1024.0;

type BoxError = Box<dyn std::error::Error>;

/// One measured payload.
struct Case {
    label: &'static str,
    bytes: usize,
    /// Runs per number of lanes; the median is shown.
    runs: usize,
}

fn main() -> Result<(), BoxError> {
    let parent = target_dir().join("bench-garage");
    // A leftover of an interrupted run is ours to remove.
    let _ = std::fs::remove_dir_all(&parent);
    std::fs::create_dir_all(&parent)?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    // The nodes are started from this (the main) thread, which lives as long as they must.
    let result = rt.block_on(run(&parent));
    drop(rt);
    let cleanup = std::fs::remove_dir_all(&parent);
    result?;
    cleanup?;
    Ok(())
}

async fn run(parent: &Path) -> Result<(), BoxError> {
    let base = random_chunk();
    let cases = [
        Case {
            label: "100 MiB",
            bytes: 100 << 20,
            runs: 3,
        },
        Case {
            label: "1 GiB",
            bytes: 1 << 30,
            runs: 1,
        },
    ];
    println!(
        "MiB/s, up/down; ratio = Qopy on Garage / Garage direct\n\
         payload  lanes  Garage direct    Qopy on Garage   ratio up/down  Qopy local"
    );
    let mut run_id = 0u64;
    for case in &cases {
        for lanes in [1, 3] {
            // A fresh cluster for each line: Garage frees the blocks of deleted objects only
            // minutes later, so this bounds the disk used to one case.
            let cluster = GarageCluster::launch_in(parent).await;
            cluster.export_credentials();
            let bucket = cluster.bucket_at(0, "bench");
            let mut times: [Vec<(Duration, Duration)>; 3] = Default::default();
            for _ in 0..case.runs {
                run_id += 1;
                let payload = Payload {
                    base: &base,
                    run: run_id,
                    bytes: case.bytes,
                };
                let t = Instant::now();
                upload(&bucket, &payload, lanes).await?;
                let up = t.elapsed();
                let t = Instant::now();
                download(&bucket, &payload, lanes).await?;
                times[0].push((up, t.elapsed()));
                let names = (0..payload.chunks()).map(|i| payload.name(i)).collect();
                bucket.delete_all(names).await?;

                let on_garage = QopyServer::start(parent, |c| {
                    cluster.configure(c, 0, &format!("qopy{run_id}"))
                })
                .await?;
                times[1].push(on_garage.round_trip(&payload, lanes).await?);
                on_garage.stop().await;

                let local = QopyServer::start(parent, |_| {}).await?;
                times[2].push(local.round_trip(&payload, lanes).await?);
                local.stop().await;
            }
            let rate = |d: Duration| case.bytes as f64 / MIB / d.as_secs_f64();
            let [direct, garage, local] = times.map(|mut t| {
                let (mut up, mut down): (Vec<_>, Vec<_>) = t.drain(..).unzip();
                (rate(median(&mut up)), rate(median(&mut down)))
            });
            println!(
                "{:<8} {:>5}  {:>6.1} / {:<6.1}  {:>6.1} / {:<6.1}  {:>5.2} / {:<5.2}  {:>6.1} / {:<6.1}",
                case.label,
                lanes,
                direct.0,
                direct.1,
                garage.0,
                garage.1,
                garage.0 / direct.0,
                garage.1 / direct.1,
                local.0,
                local.1,
            );
        }
    }
    Ok(())
}

/// A Qopy server running in this process on its own data directory.
struct QopyServer {
    base: String,
    http: reqwest::Client,
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
    _dir: tempfile::TempDir,
}

impl QopyServer {
    /// Starts a server with the defaults, adjusted by `adjust`, on a new directory in `parent`.
    async fn start(
        parent: &Path,
        adjust: impl FnOnce(&mut Config),
    ) -> Result<QopyServer, BoxError> {
        let dir = tempfile::tempdir_in(parent)?;
        let mut c = Config::defaults();
        c.listen = "127.0.0.1:0".parse()?;
        c.data_dir = dir.path().join("data");
        c.rate_limits = false;
        c.log = "warn".into();
        adjust(&mut c);
        let listener = tokio::net::TcpListener::bind(c.listen).await?;
        let base = format!("http://{}", listener.local_addr()?);
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let shutdown = async {
                let _ = stopped.await;
            };
            let clock = std::sync::Arc::new(qopy::clock::SystemClock);
            if let Err(e) = qopy::app::run(c, listener, shutdown, clock).await {
                eprintln!("server failed: {e}");
            }
        });
        Ok(QopyServer {
            base,
            http: reqwest::Client::new(),
            stop,
            task,
            _dir: dir,
        })
    }

    async fn stop(self) {
        let _ = self.stop.send(());
        let _ = self.task.await;
    }

    async fn json(&self, path: &str, body: Value) -> Result<Value, BoxError> {
        let r = self
            .http
            .post(format!("{}{path}", self.base))
            .json(&body)
            .send()
            .await?;
        if !r.status().is_success() {
            return Err(format!("{path}: {} {}", r.status(), r.text().await?).into());
        }
        Ok(r.json().await?)
    }

    /// Uploads the payload (`lanes` chunk PUTs in flight, then complete) and downloads it in
    /// one answer, checking every byte; the two times.
    async fn round_trip(
        &self,
        p: &Payload<'_>,
        lanes: usize,
    ) -> Result<(Duration, Duration), BoxError> {
        let t = Instant::now();
        let init = self
            .json(
                "/api/upload/initiate",
                json!({
                    "filename": "bench.bin",
                    "filesize": p.bytes,
                    "totalChunks": p.chunks(),
                    "contentType": "file",
                    "expiration": "1hr",
                }),
            )
            .await?;
        let upload = init["uploadId"].as_str().ok_or("no uploadId")?.to_string();
        futures_util::stream::iter(0..p.chunks())
            .map(|i| {
                let url = format!("{}/api/upload/chunk/{upload}/{i}", self.base);
                async move {
                    let r = self
                        .http
                        .put(url)
                        .header("content-type", "application/octet-stream")
                        .body(p.chunk(i))
                        .send()
                        .await?;
                    if !r.status().is_success() {
                        return Err(format!("chunk {i}: {}", r.status()).into());
                    }
                    Ok::<(), BoxError>(())
                }
            })
            .buffer_unordered(lanes)
            .try_collect::<()>()
            .await?;
        let done = self
            .json(&format!("/api/upload/complete/{upload}"), json!({}))
            .await?;
        let up = t.elapsed();
        let id = done["clipId"].as_str().ok_or("no clipId")?.to_string();

        let t = Instant::now();
        let r = self
            .http
            .post(format!("{}/api/file/{id}", self.base))
            .json(&json!({}))
            .send()
            .await?;
        if !r.status().is_success() {
            return Err(format!("download: {}", r.status()).into());
        }
        let mut body = r.bytes_stream();
        let (mut i, mut have) = (0usize, Vec::with_capacity(CHUNK));
        while let Some(piece) = body.next().await {
            let mut piece = &piece?[..];
            while !piece.is_empty() {
                let want = CHUNK.min(p.bytes - i * CHUNK) - have.len();
                let take = want.min(piece.len());
                have.extend_from_slice(&piece[..take]);
                piece = &piece[take..];
                if have.len() == CHUNK.min(p.bytes - i * CHUNK) {
                    if have[..] != p.chunk(i)[..] {
                        return Err(format!("chunk {i} downloaded wrong").into());
                    }
                    have.clear();
                    i += 1;
                }
            }
        }
        if i != p.chunks() {
            return Err(format!("download ended after {i} of {} chunks", p.chunks()).into());
        }
        Ok((up, t.elapsed()))
    }
}

/// The chunks of one run's payload: each is the random base chunk with the start of every
/// Garage block stamped with the run, the chunk and the block, so no block repeats.
struct Payload<'a> {
    base: &'a [u8],
    run: u64,
    bytes: usize,
}

impl Payload<'_> {
    fn chunks(&self) -> usize {
        self.bytes.div_ceil(CHUNK)
    }

    fn name(&self, i: usize) -> String {
        format!("r{}/c{i:06}", self.run)
    }

    fn chunk(&self, i: usize) -> Bytes {
        let len = CHUNK.min(self.bytes - i * CHUNK);
        let mut c = self.base[..len].to_vec();
        for (b, block) in c.chunks_mut(BLOCK).enumerate() {
            block[..8].copy_from_slice(&self.run.to_le_bytes());
            block[8..16].copy_from_slice(&((i * CHUNK / BLOCK + b) as u64).to_le_bytes());
        }
        Bytes::from(c)
    }
}

/// Puts every chunk as an object, `lanes` at a time.
async fn upload(bucket: &Bucket, p: &Payload<'_>, lanes: usize) -> Result<(), BoxError> {
    futures_util::stream::iter(0..p.chunks())
        .map(|i| async move { bucket.put(&p.name(i), p.chunk(i)).await })
        .buffer_unordered(lanes)
        .try_collect::<()>()
        .await?;
    Ok(())
}

/// Gets every chunk's object in order, `lanes` requests in flight, and checks each.
async fn download(bucket: &Bucket, p: &Payload<'_>, lanes: usize) -> Result<(), BoxError> {
    let mut got = futures_util::stream::iter(0..p.chunks())
        .map(|i| async move { bucket.get(&p.name(i)).await.map(|b| (i, b)) })
        .buffered(lanes);
    while let Some(r) = got.next().await {
        let (i, data) = r?;
        if data != p.chunk(i) {
            return Err(format!("chunk {i} of run {} read back wrong", p.run).into());
        }
    }
    Ok(())
}

fn random_chunk() -> Vec<u8> {
    let mut b = vec![0u8; CHUNK];
    rand::Rng::fill(&mut rand::thread_rng(), &mut b[..]);
    b
}

fn median(times: &mut [Duration]) -> Duration {
    times.sort();
    times[times.len() / 2]
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target"))
}
