//! Crash test: the real `qopy` binary as a child process, concurrent uploads, downloads and
//! one-time consumption, `SIGKILL` at a random moment, restart, and a check of every
//! durability invariant (SPEC §7; security-and-reliability §10 C1–C4, C9):
//!
//! - every acknowledged clip is still there, byte-identical (SHA-256 recorded client-side);
//! - no one-time clip whose consumption was answered comes back;
//! - every acknowledged incomplete upload is resumable, and its status lists every
//!   acknowledged chunk with the SHA-256 of the bytes that were sent;
//! - after the first sweep (the restarted server's start-up sweep) no file is left that no
//!   record owns, and every record's files are present and match their recorded SHA-256.
//!
//! `QOPY_CRASH_CYCLES` sets the number of kill/restart cycles (default 8, for CI; e.g. 200 by
//! hand: `QOPY_CRASH_CYCLES=200 cargo test --test it crash -- --nocapture`). The test prints
//! one summary line: cycles, operations, losses.

use crate::harness::{test_bytes, Answer, ServerProcess, Spawn};
use qopy::clock::SystemClock;
use qopy::config::Config;
use qopy::service::Qopy;
use qopy::sweeper::{self, SweepKind};
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const ADMIN: &str = "crash-test-admin-token-0123";
/// The server's chunk size in this test (its minimum), so that small files have several chunks.
const CHUNK: usize = 64 * 1024;
const WORKERS: usize = 6;
/// A clip is checked after this many restarts, then no longer tracked (keeps cycles short).
const CHECKS_BEFORE_RETIRING: u32 = 3;
/// A clip is no longer tracked this long after it was made (it expires after 5 minutes).
const TRACKED_FOR: Duration = Duration::from_secs(4 * 60);

fn sha(b: &[u8]) -> [u8; 32] {
    Sha256::digest(b).into()
}

/// What the client knows about a one-time clip's consumption.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Consumption {
    /// Never asked for.
    No,
    /// Asked for, no answer (the server was killed): it may or may not be consumed.
    Maybe,
    /// The server answered 200: it must never come back.
    Done,
}

struct ClipRec {
    sha: [u8; 32],
    one_time: bool,
    consumed: Consumption,
    /// Restarts survived and checked.
    checks: u32,
    /// A worker is using it right now.
    busy: bool,
    made: Instant,
}

struct SessionRec {
    seed: u64,
    size: usize,
    total: u32,
    one_time: bool,
    /// Chunks the server answered 200 for.
    acked: BTreeSet<u32>,
    /// Complete was sent without an answer: the session may have become a clip.
    completing: bool,
    busy: bool,
}

impl SessionRec {
    fn content(&self) -> Vec<u8> {
        test_bytes(self.size, self.seed)
    }
}

#[derive(Default)]
struct Model {
    clips: HashMap<String, ClipRec>,
    sessions: HashMap<String, SessionRec>,
    failures: Vec<String>,
    retired: u64,
}

#[derive(Default)]
struct Counters {
    ops: AtomicU64,
    uploads: AtomicU64,
    downloads: AtomicU64,
    consumed: AtomicU64,
    resumed: AtomicU64,
}

type Shared = Arc<parking_lot::Mutex<Model>>;

/// Records a failure; `None`, so that the step that met it stops.
fn failed<T>(m: &Shared, what: String) -> Option<T> {
    m.lock().failures.push(what);
    None
}

/// Starts a server on `data`, its output appended to `log`, and waits until it serves.
async fn start(data: &Path, log: &Path) -> ServerProcess {
    // A previous process's sled lock may linger for a moment after the in-process check.
    for attempt in 0..20 {
        let mut server = Spawn::qopy(data)
            .args(["--rate-limits", "off", "--admin-token", ADMIN])
            .args(["--chunk-size", "64KiB", "--min-free-disk", "1MiB"])
            .args(["--log", "warn"])
            .log_to(log)
            .spawn();
        if server.try_ready(Duration::from_secs(30)) {
            return server;
        }
        drop(server); // SIGKILL
        eprintln!("crash: start attempt {attempt} failed, retrying");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let log = std::fs::read_to_string(log).unwrap_or_default();
    panic!("the server did not start; its log:\n{log}");
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap()
}

async fn send_chunk(c: &reqwest::Client, base: &str, up: &str, n: u32, data: &[u8]) -> Option<u16> {
    let r = c
        .put(format!("{base}/api/upload/chunk/{up}/{n}"))
        .header("content-type", "application/octet-stream")
        .body(data.to_vec())
        .send()
        .await
        .ok()?;
    Some(r.status().as_u16())
}

async fn post(c: &reqwest::Client, url: String, body: Value) -> Option<(u16, Value)> {
    let r = c.post(url).json(&body).send().await.ok()?;
    let s = r.status().as_u16();
    Some((s, r.json().await.unwrap_or(Value::Null)))
}

/// Downloads a clip (`POST /api/file/:id`, no access code); an error when the server is
/// gone.
async fn download(c: &reqwest::Client, base: &str, id: &str) -> reqwest::Result<reqwest::Response> {
    c.post(format!("{base}/api/file/{id}"))
        .json(&json!({}))
        .send()
        .await
}

/// Sends the missing chunks of a session (all acks recorded) and completes it.
async fn finish_session(
    c: &reqwest::Client,
    base: &str,
    m: &Shared,
    k: &Counters,
    rng: &mut rand::rngs::StdRng,
    up: &str,
    stop_early: bool,
) -> Option<()> {
    let (content, total, one_time, acked) = {
        let g = m.lock();
        let s = &g.sessions[up];
        (s.content(), s.total, s.one_time, s.acked.clone())
    };
    let mut order: Vec<u32> = (0..total).filter(|n| !acked.contains(n)).collect();
    // Any order, as browsers upload in parallel.
    for i in (1..order.len()).rev() {
        order.swap(i, rng.gen_range(0..=i));
    }
    if stop_early && order.len() > 1 {
        order.truncate(rng.gen_range(1..order.len()));
    }
    let cut = order.len();
    for n in order {
        let piece = &content[n as usize * CHUNK..((n as usize + 1) * CHUNK).min(content.len())];
        let st = send_chunk(c, base, up, n, piece).await?;
        if st != 200 {
            return failed(m, format!("chunk {n} of a live session answered {st}"));
        }
        k.ops.fetch_add(1, Ordering::Relaxed);
        m.lock().sessions.get_mut(up)?.acked.insert(n);
    }
    if stop_early && cut + acked.len() < total as usize {
        return Some(()); // left incomplete on purpose
    }
    m.lock().sessions.get_mut(up)?.completing = true;
    let (st, v) = post(c, format!("{base}/api/upload/complete/{up}"), json!({})).await?;
    if st != 200 {
        return failed(m, format!("complete answered {st}: {v}"));
    }
    k.ops.fetch_add(1, Ordering::Relaxed);
    k.uploads.fetch_add(1, Ordering::Relaxed);
    let id = v["clipId"].as_str()?.to_string();
    let mut g = m.lock();
    g.sessions.remove(up);
    g.clips.insert(
        id,
        ClipRec {
            sha: sha(&content),
            one_time,
            consumed: Consumption::No,
            checks: 0,
            busy: false,
            made: Instant::now(),
        },
    );
    Some(())
}

/// One client doing random operations until it is aborted.
async fn worker(base: String, m: Shared, k: Arc<Counters>, seed: u64) {
    let c = client();
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    loop {
        let op = rng.gen_range(0..10);
        let r = match op {
            // A new upload, completed or (sometimes) left incomplete.
            0..=4 => {
                // Mostly small clips, some of several chunks; they expire after 5 minutes,
                // which keeps the data directory small in long runs.
                let size = if rng.gen_bool(0.3) {
                    rng.gen_range(CHUNK..=(5 * CHUNK) / 2)
                } else {
                    rng.gen_range(1..=8192)
                };
                let total = size.div_ceil(CHUNK) as u32;
                let one_time = rng.gen_bool(0.3);
                let body = json!({
                    "filename": "crash.bin", "filesize": size, "totalChunks": total,
                    "contentType": "file", "expiration": "5min", "oneTime": one_time,
                });
                match post(&c, format!("{base}/api/upload/initiate"), body).await {
                    Some((200, v)) => {
                        k.ops.fetch_add(1, Ordering::Relaxed);
                        let up = v["uploadId"].as_str().unwrap_or_default().to_string();
                        m.lock().sessions.insert(
                            up.clone(),
                            SessionRec {
                                seed: rng.gen(),
                                size,
                                total,
                                one_time,
                                acked: BTreeSet::new(),
                                completing: false,
                                busy: true,
                            },
                        );
                        let early = rng.gen_bool(0.3);
                        let r = finish_session(&c, &base, &m, &k, &mut rng, &up, early).await;
                        if let Some(s) = m.lock().sessions.get_mut(&up) {
                            s.busy = false;
                        }
                        r
                    }
                    Some((st, v)) => failed(&m, format!("initiate answered {st}: {v}")),
                    None => None,
                }
            }
            // Resume an incomplete session after checking its status.
            5 => {
                let up = {
                    let mut g = m.lock();
                    let up = g
                        .sessions
                        .iter()
                        .find(|(_, s)| !s.busy && !s.completing)
                        .map(|(id, _)| id.clone());
                    if let Some(u) = &up {
                        g.sessions.get_mut(u).unwrap().busy = true;
                    }
                    up
                };
                match up {
                    Some(up) => {
                        k.resumed.fetch_add(1, Ordering::Relaxed);
                        let r = finish_session(&c, &base, &m, &k, &mut rng, &up, false).await;
                        if let Some(s) = m.lock().sessions.get_mut(&up) {
                            s.busy = false;
                        }
                        r
                    }
                    None => Some(()),
                }
            }
            // Download a clip that is not one-time and compare.
            6..=7 => {
                let pick = {
                    let g = m.lock();
                    let ids: Vec<_> = g
                        .clips
                        .iter()
                        .filter(|(_, c)| !c.one_time)
                        .map(|(id, c)| (id.clone(), c.sha))
                        .collect();
                    (!ids.is_empty()).then(|| ids[rng.gen_range(0..ids.len())].clone())
                };
                match pick {
                    Some((id, want)) => {
                        let r = download(&c, &base, &id).await;
                        match r {
                            Ok(r) if r.status() == 200 => match r.bytes().await {
                                Ok(b) => {
                                    if sha(&b) != want {
                                        m.lock().failures.push(format!("clip {id}: wrong bytes"));
                                    }
                                    k.ops.fetch_add(1, Ordering::Relaxed);
                                    k.downloads.fetch_add(1, Ordering::Relaxed);
                                    Some(())
                                }
                                Err(_) => None,
                            },
                            Ok(r) => failed(
                                &m,
                                format!("download of acknowledged clip {id}: {}", r.status()),
                            ),
                            Err(_) => None,
                        }
                    }
                    None => Some(()),
                }
            }
            // Consume a one-time clip.
            _ => {
                let pick = {
                    let mut g = m.lock();
                    let id = g
                        .clips
                        .iter()
                        .find(|(_, c)| c.one_time && !c.busy && c.consumed == Consumption::No)
                        .map(|(id, _)| id.clone());
                    if let Some(id) = &id {
                        let rec = g.clips.get_mut(id).unwrap();
                        rec.busy = true;
                        rec.consumed = Consumption::Maybe;
                    }
                    id
                };
                match pick {
                    Some(id) => {
                        let r = download(&c, &base, &id).await;
                        match r {
                            Ok(r) if r.status() == 200 => {
                                // Headers arrived: the consumption is durable now.
                                let want = {
                                    let mut g = m.lock();
                                    let rec = g.clips.get_mut(&id).unwrap();
                                    rec.consumed = Consumption::Done;
                                    rec.sha
                                };
                                k.ops.fetch_add(1, Ordering::Relaxed);
                                k.consumed.fetch_add(1, Ordering::Relaxed);
                                if let Ok(b) = r.bytes().await {
                                    if sha(&b) != want {
                                        m.lock()
                                            .failures
                                            .push(format!("one-time {id}: wrong bytes"));
                                    }
                                }
                                Some(())
                            }
                            Ok(r) => {
                                failed(&m, format!("consume of one-time clip {id}: {}", r.status()))
                            }
                            Err(_) => None,
                        }
                    }
                    None => Some(()),
                }
            }
        };
        if r.is_none() {
            // The server is gone (or a failure was recorded); wait to be aborted.
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}

/// Checks every invariant against the restarted server.
async fn verify(base: &str, m: &Shared, k: &Counters) {
    let c = client();
    let clips: Vec<(String, [u8; 32], bool, Consumption)> = m
        .lock()
        .clips
        .iter()
        .map(|(id, r)| (id.clone(), r.sha, r.one_time, r.consumed))
        .collect();
    for (id, want, one_time, consumed) in clips {
        let info = c
            .get(format!("{base}/api/file/{id}/info"))
            .send()
            .await
            .expect("info request")
            .status()
            .as_u16();
        let mut fail = None;
        match (one_time, consumed) {
            (false, _) => {
                let r = c
                    .post(format!("{base}/api/file/{id}"))
                    .json(&json!({}))
                    .answer()
                    .await;
                let st = r.status().as_u16();
                let b = r.bytes().await.unwrap();
                k.ops.fetch_add(1, Ordering::Relaxed);
                if st != 200 {
                    fail = Some(format!("LOSS: acknowledged clip {id} answers {st}"));
                } else if sha(&b) != want {
                    fail = Some(format!("LOSS: acknowledged clip {id} has different bytes"));
                }
            }
            (true, Consumption::No) if info != 200 => {
                fail = Some(format!(
                    "LOSS: acknowledged one-time clip {id} answers {info}"
                ));
            }
            (true, Consumption::Done) if info == 200 => {
                fail = Some(format!("RESURRECTION: consumed one-time clip {id} is back"));
            }
            _ => {}
        }
        let mut g = m.lock();
        if let Some(f) = fail {
            g.failures.push(f);
        }
        let rec = g.clips.get_mut(&id).unwrap();
        rec.busy = false;
        if rec.consumed == Consumption::Maybe {
            rec.consumed = if info == 200 {
                Consumption::No
            } else {
                Consumption::Done
            };
        }
        rec.checks += 1;
        if rec.checks >= CHECKS_BEFORE_RETIRING || rec.made.elapsed() > TRACKED_FOR {
            g.clips.remove(&id);
            g.retired += 1;
        }
    }
    let sessions: Vec<SessionCheck> = m
        .lock()
        .sessions
        .iter()
        .map(|(id, s)| {
            (
                id.clone(),
                s.content(),
                s.total,
                s.acked.clone(),
                s.completing,
            )
        })
        .collect();
    for (up, content, total, acked, completing) in sessions {
        let r = c
            .get(format!("{base}/api/upload/{up}/status"))
            .answer()
            .await;
        let st = r.status().as_u16();
        let v: Value = r.json().await.unwrap_or(Value::Null);
        k.ops.fetch_add(1, Ordering::Relaxed);
        let mut g = m.lock();
        if st == 404 && completing {
            // Complete committed but its answer was lost: the clip exists under an ID the
            // client never learned. Nothing acknowledged is lost.
            g.sessions.remove(&up);
            continue;
        }
        if st != 200 {
            g.failures.push(format!(
                "LOSS: upload session {up} with {} acknowledged chunks answers {st}",
                acked.len()
            ));
            g.sessions.remove(&up);
            continue;
        }
        let listed: HashMap<u32, String> = v["chunks"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|c| {
                        (
                            c["n"].as_u64().unwrap_or(u64::MAX) as u32,
                            c["sha256"].as_str().unwrap_or("").to_string(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        for n in &acked {
            if !listed.contains_key(n) {
                g.failures.push(format!(
                    "LOSS: acknowledged chunk {n} of session {up} not listed"
                ));
            }
        }
        for (n, h) in &listed {
            if *n >= total {
                g.failures
                    .push(format!("session {up} lists chunk {n} of {total}"));
                continue;
            }
            let piece =
                &content[*n as usize * CHUNK..((*n as usize + 1) * CHUNK).min(content.len())];
            if *h != hex::encode(sha(piece)) {
                g.failures.push(format!(
                    "TORN: chunk {n} of session {up} differs from what was sent"
                ));
            }
        }
        let s = g.sessions.get_mut(&up).unwrap();
        // Chunks that committed without an answer count as received now.
        s.acked = listed.keys().copied().filter(|n| *n < total).collect();
        s.completing = false;
        s.busy = false;
    }
}

/// An open session as the check sees it: ID, content, chunk count, acknowledged chunks,
/// and whether a complete was in flight.
type SessionCheck = (String, Vec<u8>, u32, BTreeSet<u32>, bool);

/// With the server stopped: one start-up sweep must find nothing to remove (the restarted
/// server's own start-up sweep already did), and every record's files must be present and
/// hold the bytes their SHA-256 names.
fn check_disk(data: &Path) -> Vec<String> {
    let mut config = Config::defaults();
    config.data_dir = data.to_path_buf();
    let q = open_retrying(config);
    let mut out = Vec::new();
    match sweeper::sweep(&q, SweepKind::Startup) {
        Ok(r) if r.orphans > 0 => out.push(format!(
            "ORPHANS: {} files survived the first sweep",
            r.orphans
        )),
        Ok(_) => {}
        Err(e) => out.push(format!("sweep failed: {e}")),
    }
    for clip in q.store().all_clips() {
        let clip = clip.expect("clip record");
        let records: Vec<_> = q
            .store()
            .chunks(clip.upload)
            .expect("chunk records")
            .into_iter()
            .map(|(_, r)| r)
            .collect();
        if records.len() != clip.chunk_count as usize {
            out.push(format!(
                "DANGLING: clip {} has {} of its {} chunk records",
                clip.id,
                records.len(),
                clip.chunk_count
            ));
        }
        match q.blobs().map_all(clip.blob, &records) {
            Ok(maps) => {
                for (n, (m, rec)) in maps.iter().zip(&records).enumerate() {
                    if sha(m) != rec.sha256 {
                        out.push(format!(
                            "clip {}: chunk {n} bytes differ from its record",
                            clip.id
                        ));
                    }
                }
            }
            Err(e) => out.push(format!("DANGLING: clip {} has missing files: {e}", clip.id)),
        }
    }
    for item in q.store().all_sessions() {
        let (id, s) = item.expect("session record");
        for (n, rec) in q.store().chunks(id).expect("chunk records") {
            match std::fs::read(q.blobs().chunk_path(s.blob, n, rec.token)) {
                Ok(b) if sha(&b) == rec.sha256 => {}
                _ => out.push(format!(
                    "DANGLING: a session's chunk {n} file is missing or differs"
                )),
            }
        }
    }
    out
}

fn open_retrying(config: Config) -> Qopy {
    for _ in 0..100 {
        match Qopy::open(config.clone(), Arc::new(SystemClock)) {
            Ok(q) => return q,
            Err(_) => std::thread::sleep(Duration::from_millis(50)),
        }
    }
    Qopy::open(config, Arc::new(SystemClock)).expect("cannot open the data directory")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_loses_nothing_acknowledged() {
    let cycles: u32 = std::env::var("QOPY_CRASH_CYCLES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(8);
    let seed: u64 = std::env::var("QOPY_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(rand::random);
    let dir = tempfile::tempdir().unwrap();
    let data: PathBuf = dir.path().join("data");
    let log = dir.path().join("server.log");
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let model: Shared = Default::default();
    let counters = Arc::new(Counters::default());
    let started = Instant::now();
    let mut kills_mid_work = 0u32;
    for cycle in 0..cycles {
        let server = start(&data, &log).await;
        let tasks: Vec<_> = (0..WORKERS)
            .map(|_| {
                tokio::spawn(worker(
                    server.base.clone(),
                    model.clone(),
                    counters.clone(),
                    rng.gen(),
                ))
            })
            .collect();
        tokio::time::sleep(Duration::from_millis(rng.gen_range(100..900))).await;
        drop(server); // SIGKILL
        kills_mid_work += 1;
        for t in &tasks {
            t.abort();
        }
        for t in tasks {
            let _ = t.await;
        }
        {
            let mut g = model.lock();
            for c in g.clips.values_mut() {
                c.busy = false;
            }
            for s in g.sessions.values_mut() {
                s.busy = false;
            }
        }
        // Restart: the start-up sweep runs, then every invariant is checked over HTTP and on
        // disk.
        let server = start(&data, &log).await;
        verify(&server.base, &model, &counters).await;
        drop(server); // SIGKILL
        let d = data.clone();
        let disk = tokio::task::spawn_blocking(move || check_disk(&d))
            .await
            .unwrap();
        model.lock().failures.extend(disk);
        let g = model.lock();
        assert!(
            g.failures.is_empty(),
            "cycle {cycle} (seed {seed}): {} failures:\n{}",
            g.failures.len(),
            g.failures.join("\n")
        );
    }
    let g = model.lock();
    println!(
        "crash: {cycles} cycles ({kills_mid_work} kills during work), {} operations \
         ({} uploads completed, {} resumes, {} downloads, {} one-time consumptions), \
         {} clips checked and retired, {} tracked, {} sessions open; losses: {} (seed {seed}, {:.1}s)",
        counters.ops.load(Ordering::Relaxed),
        counters.uploads.load(Ordering::Relaxed),
        counters.resumed.load(Ordering::Relaxed),
        counters.downloads.load(Ordering::Relaxed),
        counters.consumed.load(Ordering::Relaxed),
        g.retired,
        g.clips.len(),
        g.sessions.len(),
        g.failures.len(),
        started.elapsed().as_secs_f64()
    );
}
