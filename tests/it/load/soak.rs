//! The soak test: simulated browser users for a bounded time (uploaders with three chunks in
//! flight, downloaders, racing readers of one-time clips, abandoned and cancelled uploads),
//! then a restart on the same data directory, then every acknowledged clip is checked.
//!
//! Every acknowledged outcome goes into a `Ledger`; a failed request is recorded there, stops
//! the users, and fails the test with the first failures listed.

use super::REQUEST_TIMEOUT;
use super::{env_u64, on_server, run_bounded, start_server, stop_server, Api, CHUNK};
use futures_util::stream::{self, StreamExt};
use rand::rngs::StdRng;
use rand::{Rng, RngCore, SeedableRng};
use serde_json::json;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::runtime::Handle;

/// Simulated uploaders.
const UPLOADERS: usize = 6;
/// Simulated downloaders of normal clips.
const DOWNLOADERS: usize = 2;
/// Chunk PUTs one uploader keeps in flight, as the browser client does.
const IN_FLIGHT: usize = 3;
/// Concurrent readers of one raced one-time clip.
const RACERS: usize = 4;

/// A clip the server acknowledged, with the bytes it must serve.
#[derive(Clone)]
struct Clip {
    id: String,
    data: Arc<Vec<u8>>,
}

/// Everything the server acknowledged during the soak, and what went wrong.
#[derive(Default)]
struct Ledger {
    normal: Vec<Clip>,
    /// One-time clips not yet given to the racer.
    one_time_new: Vec<Clip>,
    /// One-time clips left unread, to be read once after the restart.
    one_time_kept: Vec<Clip>,
    /// One-time clips read by racing readers, with the number of winners.
    one_time_raced: Vec<(String, usize)>,
    /// Uploads never completed: ID and the chunk numbers acknowledged.
    abandoned: Vec<(String, Vec<u64>)>,
    /// Uploads cancelled with DELETE.
    cancelled: Vec<String>,
    downloads: usize,
    failures: Vec<String>,
}

/// The ledger and the flag that stops every user.
#[derive(Clone)]
struct Shared {
    ledger: Arc<Mutex<Ledger>>,
    stop: Arc<AtomicBool>,
    deadline: Instant,
}

impl Shared {
    fn running(&self) -> bool {
        !self.stop.load(Ordering::Relaxed) && Instant::now() < self.deadline
    }

    fn with<T>(&self, f: impl FnOnce(&mut Ledger) -> T) -> T {
        f(&mut self.ledger.lock().unwrap())
    }

    /// Records a failure and stops every user.
    fn fail(&self, what: String) {
        self.stop.store(true, Ordering::Relaxed);
        self.with(|l| l.failures.push(what));
    }
}

/// What an uploader does with one file.
enum Plan {
    Normal,
    OneTime,
    /// Initiate and send some chunks, then leave it or (`true`) cancel it.
    Abandon(bool),
}

/// Issue 10's soak: for `QOPY_SOAK_SECS` (10 by default), then a restart and the checks.
/// `QOPY_SOAK_SEED` repeats a run's random choices (the interleaving is the scheduler's).
#[test]
fn soak_users_downloaders_one_time_races_and_restart() {
    let secs = env_u64("QOPY_SOAK_SECS", 10);
    let seed = env_u64("QOPY_SOAK_SEED", rand::random::<u32>() as u64);
    println!("soak: {secs} s, seed {seed} (QOPY_SOAK_SEED={seed} repeats the choices)");
    // The soak, at most REQUEST_TIMEOUT to notice a wedged server, the stop and restart, and
    // the checks afterwards.
    let limit = Duration::from_secs(secs + 20 + 25 + 30 + secs);
    run_bounded(
        "soak_users_downloaders_one_time_races_and_restart",
        limit,
        |rt| soak(rt, Duration::from_secs(secs), seed),
    );
}

async fn soak(rt: Handle, duration: Duration, seed: u64) {
    let server = start_server(&rt).await;
    let api = Api::new(&server, 64);
    let shared = Shared {
        ledger: Arc::default(),
        stop: Arc::default(),
        deadline: Instant::now() + duration,
    };
    let mut users = Vec::new();
    for i in 0..UPLOADERS {
        let rng = StdRng::seed_from_u64(seed.wrapping_add(i as u64));
        users.push(tokio::spawn(uploader(api.clone(), shared.clone(), rng, i)));
    }
    for i in 0..DOWNLOADERS {
        let rng = StdRng::seed_from_u64(seed.wrapping_add(100 + i as u64));
        users.push(tokio::spawn(downloader(api.clone(), shared.clone(), rng)));
    }
    let rng = StdRng::seed_from_u64(seed.wrapping_add(200));
    users.push(tokio::spawn(racer(api.clone(), shared.clone(), rng)));

    // A user notices a wedged server within REQUEST_TIMEOUT of its last request.
    let all = futures_util::future::join_all(users);
    let wait = duration + REQUEST_TIMEOUT + Duration::from_secs(5);
    match tokio::time::timeout(wait, all).await {
        Ok(results) => {
            for r in results {
                r.expect("a simulated user panicked");
            }
        }
        Err(_) => panic!("seed {seed}: the simulated users did not stop within {wait:?}"),
    }
    let mut ledger = std::mem::take(&mut *shared.ledger.lock().unwrap());
    // One-time clips the racer never reached are read after the restart.
    let fresh = std::mem::take(&mut ledger.one_time_new);
    ledger.one_time_kept.extend(fresh);
    let summary = format!(
        "{} normal clips, {} downloads, {} one-time clips raced, {} kept, \
         {} uploads abandoned, {} cancelled",
        ledger.normal.len(),
        ledger.downloads,
        ledger.one_time_raced.len(),
        ledger.one_time_kept.len(),
        ledger.abandoned.len(),
        ledger.cancelled.len()
    );
    if !ledger.failures.is_empty() {
        let after = api.diagnose().await;
        panic!(
            "seed {seed}: {} request(s) failed during the soak (acknowledged before: \
             {summary}); {after}; first: {:#?}",
            ledger.failures.len(),
            &ledger.failures[..ledger.failures.len().min(5)]
        );
    }
    println!("soak: {summary}");
    assert!(
        !ledger.normal.is_empty() && !ledger.one_time_raced.is_empty(),
        "seed {seed}: the soak acknowledged too little to prove anything"
    );

    let restart = format!("seed {seed}: restarting the server after the soak");
    let server = on_server(&rt, &restart, Duration::from_secs(25), server.restart()).await;
    let api = Api::new(&server, 16);
    // A long soak acknowledges more clips; their checks get longer in proportion.
    let limit = Duration::from_secs(30) + duration;
    let checks = tokio::time::timeout(limit, check_after_restart(&api, &ledger));
    let failures = match checks.await {
        Ok(f) => f,
        Err(_) => vec![format!(
            "the checks after the restart did not finish within {limit:?}"
        )],
    };
    assert!(
        failures.is_empty(),
        "seed {seed}: {} check(s) failed after the restart; first: {:#?}",
        failures.len(),
        &failures[..failures.len().min(5)]
    );
    stop_server(&rt, server).await;
}

/// Checks everything the ledger holds against the restarted server; returns the failures.
async fn check_after_restart(api: &Api, ledger: &Ledger) -> Vec<String> {
    let mut failures = Vec::new();
    // Exactly one winner per raced clip was checked during the soak; none may come back.
    for (id, winners) in &ledger.one_time_raced {
        if *winners != 1 {
            failures.push(format!("one-time clip {id} had {winners} winners"));
        }
    }
    let reads: Vec<_> = ledger
        .normal
        .iter()
        .map(|c| {
            let (api, c) = (api.clone(), c.clone());
            async move { api.expect_clip(&c.id, &c.data).await }
        })
        .collect();
    let normal = stream::iter(reads)
        .buffer_unordered(8)
        .collect::<Vec<_>>()
        .await;
    failures.extend(normal.into_iter().filter_map(Result::err));
    for c in &ledger.one_time_kept {
        if let Err(e) = api.expect_clip(&c.id, &c.data).await {
            failures.push(format!("unread one-time clip: {e}"));
        }
        match api.download(&c.id).await {
            Ok((404 | 410, _)) => {}
            Ok((s, _)) => failures.push(format!("one-time clip {}: 2nd read got {s}", c.id)),
            Err(e) => failures.push(e),
        }
    }
    for (id, _) in &ledger.one_time_raced {
        match api.download(id).await {
            Ok((404 | 410, _)) => {}
            Ok((s, _)) => failures.push(format!("consumed one-time clip {id} came back: {s}")),
            Err(e) => failures.push(e),
        }
    }
    for id in &ledger.cancelled {
        match api.upload_status(id).await {
            Ok((404, _)) => {}
            Ok((s, v)) => failures.push(format!("cancelled upload answers status {s}: {v}")),
            Err(e) => failures.push(e),
        }
    }
    for (id, acked) in &ledger.abandoned {
        match api.upload_status(id).await {
            Ok((200, v)) => {
                let mut got: Vec<u64> = v["receivedChunks"]
                    .as_array()
                    .map(|a| a.iter().filter_map(|n| n.as_u64()).collect())
                    .unwrap_or_default();
                got.sort_unstable();
                if &got != acked {
                    failures.push(format!(
                        "abandoned upload lost acknowledged chunks: {acked:?} sent, {got:?} kept"
                    ));
                }
            }
            Ok((s, v)) => failures.push(format!("abandoned upload answers status {s}: {v}")),
            Err(e) => failures.push(e),
        }
    }
    failures
}

/// Uploads files of 0.1 to 3 chunks until the deadline: most complete (a third one-time),
/// some abandoned part way and half of those cancelled.
async fn uploader(api: Api, shared: Shared, mut rng: StdRng, me: usize) {
    let mut file = 0;
    while shared.running() {
        let size = rng.gen_range(CHUNK as usize / 10..=3 * CHUNK as usize);
        let mut data = vec![0u8; size];
        rng.fill_bytes(&mut data);
        let plan = match rng.gen_range(0..100) {
            0..=7 => Plan::Abandon(false),
            8..=15 => Plan::Abandon(true),
            16..=43 => Plan::OneTime,
            _ => Plan::Normal,
        };
        let sent = match &plan {
            Plan::Abandon(_) => rng.gen_range(0..size.div_ceil(CHUNK as usize)),
            _ => usize::MAX,
        };
        let name = format!("user{me}-{file}.bin");
        file += 1;
        if let Err(e) = upload_one(&api, &shared, name, data, plan, sent).await {
            shared.fail(e);
        }
    }
}

/// One file through initiate, chunks (`IN_FLIGHT` at a time, at most `sent` of them) and,
/// unless abandoned, complete; records what the server acknowledged.
async fn upload_one(
    api: &Api,
    shared: &Shared,
    name: String,
    data: Vec<u8>,
    plan: Plan,
    sent: usize,
) -> Result<(), String> {
    let total = data.len().div_ceil(CHUNK as usize);
    let one_time = matches!(plan, Plan::OneTime);
    let upload = api
        .initiate(json!({
            "filename": name,
            "filesize": data.len(),
            "totalChunks": total,
            "mimeType": "application/octet-stream",
            "contentType": "file",
            "expiration": "1hr",
            "oneTime": one_time,
        }))
        .await?;
    // Owned futures: a lazily mapped stream of borrowing ones trips the compiler's
    // higher-ranked lifetime check inside a spawned task.
    let puts: Vec<_> = data
        .chunks(CHUNK as usize)
        .take(sent)
        .enumerate()
        .map(|(n, piece)| {
            let (api, upload, piece) = (api.clone(), upload.clone(), piece.to_vec());
            async move { api.put_chunk(&upload, n, piece).await }
        })
        .collect();
    let answers: Vec<Result<(), String>> = stream::iter(puts)
        .buffer_unordered(IN_FLIGHT)
        .collect()
        .await;
    answers.into_iter().collect::<Result<Vec<()>, String>>()?;
    match plan {
        Plan::Abandon(false) => {
            let acked = (0..sent.min(total) as u64).collect();
            shared.with(|l| l.abandoned.push((upload, acked)));
        }
        Plan::Abandon(true) => match api.cancel(&upload).await? {
            200 => shared.with(|l| l.cancelled.push(upload)),
            s => return Err(format!("cancel of an upload answered {s}")),
        },
        Plan::Normal | Plan::OneTime => {
            let id = api.complete(&upload).await?;
            let clip = Clip {
                id,
                data: Arc::new(data),
            };
            shared.with(|l| {
                if one_time {
                    l.one_time_new.push(clip)
                } else {
                    l.normal.push(clip)
                }
            });
        }
    }
    Ok(())
}

/// Downloads random normal clips and checks their bytes, until the deadline.
async fn downloader(api: Api, shared: Shared, mut rng: StdRng) {
    while shared.running() {
        let pick = shared.with(|l| {
            let n = l.normal.len();
            (n > 0).then(|| l.normal[rng.gen_range(0..n)].clone())
        });
        let Some(clip) = pick else {
            tokio::time::sleep(Duration::from_millis(20)).await;
            continue;
        };
        match api.expect_clip(&clip.id, &clip.data).await {
            Ok(()) => shared.with(|l| l.downloads += 1),
            Err(e) => shared.fail(e),
        }
    }
}

/// Takes each new one-time clip: two in three are read by `RACERS` concurrent readers (exactly
/// one must get the bytes, the others 404 or 410), the rest are kept for after the restart.
async fn racer(api: Api, shared: Shared, mut rng: StdRng) {
    while shared.running() {
        let Some(clip) = shared.with(|l| l.one_time_new.pop()) else {
            tokio::time::sleep(Duration::from_millis(20)).await;
            continue;
        };
        if rng.gen_range(0..3) == 0 {
            shared.with(|l| l.one_time_kept.push(clip));
            continue;
        }
        let reads = (0..RACERS).map(|_| api.download(&clip.id));
        let mut winners = 0;
        for answer in futures_util::future::join_all(reads).await {
            match answer {
                Ok((200, b)) if b.as_ref() == clip.data.as_slice() => winners += 1,
                Ok((200, b)) => shared.fail(format!(
                    "one-time clip {}: the winner got {} bytes that differ",
                    clip.id,
                    b.len()
                )),
                Ok((404 | 410, _)) => {}
                Ok((s, _)) => shared.fail(format!("one-time race on {}: HTTP {s}", clip.id)),
                Err(e) => shared.fail(e),
            }
        }
        if winners != 1 {
            shared.fail(format!("one-time clip {} had {winners} winners", clip.id));
        }
        shared.with(|l| l.one_time_raced.push((clip.id, winners)));
    }
}
