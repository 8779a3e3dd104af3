//! Garage's own speed, the yardstick for Qopy's S3 backend: issue 14 asks Qopy on Garage for at
//! least 0.8 of what Garage does through its S3 API directly, on the same machine and cluster.
//! Run with `cargo bench --bench garage_direct`.
//!
//! It starts the tests' three-node cluster (`tests/it/garage/cluster.rs`, replication factor 3,
//! all on this machine) and stores a 100 MiB and a 1 GiB payload the way Qopy stores an upload:
//! one object per 5 MiB chunk (the last one shorter) through `qopy::s3::Bucket` against node 0,
//! one chunk at a time and with 3 in flight, then reads the objects back in order the same
//! two ways. Every chunk differs (Garage stores a block once however often it is written) and
//! every chunk read back is compared with what was written; making and comparing a chunk are
//! memory copies inside the timed region, about 1 ms per 5 MiB. Each line of the table gets a
//! fresh cluster under `target/bench-garage` (a payload is stored three times, 3 GiB for the
//! largest, which may not fit a small `/tmp`), removed after it.

#[path = "../tests/it/harness/ports.rs"]
mod harness;

#[path = "../tests/it/garage/cluster.rs"]
mod garage;

use bytes::Bytes;
use futures_util::{StreamExt, TryStreamExt};
use garage::GarageCluster;
use qopy::s3::Bucket;
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
    println!("payload  chunks  lanes  upload MiB/s  download MiB/s  cluster start s");
    let mut run_id = 0u64;
    for case in &cases {
        let chunks = case.bytes.div_ceil(CHUNK);
        for lanes in [1, 3] {
            // A fresh cluster for each line: Garage frees the blocks of deleted objects only
            // minutes later, so this bounds the disk used to one case (3 GiB for 1 GiB).
            let started = Instant::now();
            let cluster = GarageCluster::launch_in(parent).await;
            let start_time = started.elapsed();
            let bucket = cluster.bucket_at(0, "bench");
            let mut up = Vec::new();
            let mut down = Vec::new();
            for _ in 0..case.runs {
                run_id += 1;
                let payload = Payload {
                    base: &base,
                    run: run_id,
                    bytes: case.bytes,
                };
                let t = Instant::now();
                upload(&bucket, &payload, lanes).await?;
                up.push(t.elapsed());
                let t = Instant::now();
                download(&bucket, &payload, lanes).await?;
                down.push(t.elapsed());
                let names = (0..chunks).map(|i| payload.name(i)).collect();
                bucket.delete_all(names).await?;
            }
            println!(
                "{:<8} {:>6}  {:>5}  {:>12.1}  {:>14.1}  {:>15.1}",
                case.label,
                chunks,
                lanes,
                case.bytes as f64 / MIB / median(&mut up).as_secs_f64(),
                case.bytes as f64 / MIB / median(&mut down).as_secs_f64(),
                start_time.as_secs_f64(),
            );
        }
    }
    Ok(())
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
