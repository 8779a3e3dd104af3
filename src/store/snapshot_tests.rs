//! Tests of database snapshots on real sled databases: a round trip keeps every tree byte for
//! byte, damaged snapshots and occupied directories are refused, and a snapshot taken while
//! another thread keeps changing several trees at once never holds half a change (with a
//! control showing that the same copy without the gate does).

use super::*;
use crate::model::{
    BlobDir, ChunkRecord, Claim, ClipId, ClipMeta, ContentKind, DropBox, SessionDrop, UploadId,
    UploadSession,
};
use crate::store::codec::decode;
use crate::store::fixtures::{file_session, open};
use crate::store::{counter, ChunkPut, ClaimTaken, Reserve};
use std::collections::BTreeMap;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

fn session(blob: u64, dropbox: Option<SessionDrop>) -> UploadSession {
    file_session(blob, 2, None, dropbox)
}

fn chunk(len: u64, seed: u64) -> ChunkRecord {
    ChunkRecord {
        len,
        sha256: [seed as u8; 32],
        token: seed,
    }
}

/// A 10-character clip ID that differs for every `n`.
fn clip_id(n: u64) -> ClipId {
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    let mut s = Vec::new();
    let mut v = n;
    for _ in 0..10 {
        s.push(alphabet[(v % 36) as usize]);
        v /= 36;
    }
    ClipId::parse(std::str::from_utf8(&s).unwrap()).unwrap()
}

fn clip(n: u64, upload: UploadId, size: u64, chunks: u32, max: Option<u32>) -> ClipMeta {
    ClipMeta {
        id: clip_id(n),
        kind: ContentKind::File,
        filename: format!("file-{n}"),
        mime: "application/octet-stream".into(),
        size,
        created_at: 2,
        expires_at: 1_000_000 + n,
        max_downloads: max,
        quick_share: false,
        plaintext: false,
        access: None,
        blob: BlobDir(n),
        upload,
        chunk_count: chunks,
    }
}

/// Uploads two chunks (100 and 101 bytes) as upload `n` and completes them into clip `n`.
fn make_clip(store: &Store, n: u64, max: Option<u32>, dropbox: Option<SessionDrop>) -> ClipMeta {
    let id = UploadId(n);
    let s = session(n, dropbox);
    if s.dropbox.is_some() {
        assert_eq!(store.insert_drop_session(id, &s, 1).unwrap(), Reserve::Done);
    } else {
        assert!(store.insert_session(id, &s).unwrap());
    }
    for k in 0..2 {
        store
            .put_chunk(id, k, &chunk(100 + k as u64, n), 2)
            .unwrap();
    }
    let c = clip(n, id, 201, 2, max);
    store.complete(id, &c, 2).unwrap().unwrap();
    c
}

/// Every tree's name with its key/value pairs, in order.
type Dump = BTreeMap<Vec<u8>, Vec<(Vec<u8>, Vec<u8>)>>;

/// Every tree of a store, as sled holds it.
fn dump(store: &Store) -> Dump {
    let mut out = BTreeMap::new();
    for name in store.db.tree_names() {
        let tree = store.db.open_tree(&name).unwrap();
        let kvs = tree
            .iter()
            .map(|kv| {
                let (k, v) = kv.unwrap();
                (k.to_vec(), v.to_vec())
            })
            .collect();
        out.insert(name.to_vec(), kvs);
    }
    out
}

/// A store with something in every tree: clips (one with a claim and an access), a session
/// in progress with a chunk, a drop box with an item and a reserved place, counters and the
/// server's metadata.
fn filled() -> (tempfile::TempDir, Store) {
    let (dir, store) = open();
    store
        .meta_or_init("pbkdf2_salt", || b"salt-1234".to_vec())
        .unwrap();
    let plain = make_clip(&store, 1, None, None);
    let once = make_clip(&store, 2, Some(1), None);
    let claim = Claim {
        token_hash: [9; 32],
        until: 50,
    };
    assert!(matches!(
        store.take_claim(&once, 1, claim).unwrap(),
        ClaimTaken::Won(_)
    ));
    store.record_access(&plain.id, 7).unwrap();
    let box_id = crate::model::BoxId::parse("ABCDEFGH").unwrap();
    let b = DropBox {
        public_key: vec![4; 65],
        owner_hash: [1; 32],
        created_at: 1,
        // The clip made into it below (number 3) expires with it.
        expires_at: 1_000_003,
        max_bytes: 1 << 20,
        max_items: 5,
        items: 0,
        reserved: 0,
        used_bytes: 0,
        last_seq: 0,
    };
    assert!(store.create_dropbox(&box_id, &b).unwrap());
    let drop = |reserved| SessionDrop {
        dropbox: box_id,
        wrapped_key: vec![7; 100],
        reserved,
    };
    make_clip(&store, 3, None, Some(drop(201)));
    let open_id = UploadId(4);
    assert_eq!(
        store
            .insert_drop_session(open_id, &session(4, Some(drop(300))), 3)
            .unwrap(),
        Reserve::Done
    );
    store.put_chunk(open_id, 0, &chunk(150, 4), 3).unwrap();
    store.set_counter(counter::SWEEPS, 3).unwrap();
    (dir, store)
}

#[test]
fn a_round_trip_keeps_every_tree() {
    let (_dir, store) = filled();
    let before = dump(&store);
    let snap = store.export_snapshot(123_456).unwrap();
    assert_eq!((snap.taken_at, snap.clips), (123_456, 3));
    assert_eq!(&snap.bytes[..8], MAGIC);

    let target = tempfile::tempdir().unwrap();
    let db_path = target.path().join("data").join("db");
    std::fs::create_dir_all(db_path.parent().unwrap()).unwrap();
    let info = import_snapshot(&snap.bytes, &db_path).unwrap();
    assert_eq!(info.taken_at, 123_456);
    assert_eq!((info.clips, info.dropboxes), (3, 1));
    assert_eq!(info.trees, before.len());
    assert_eq!(
        info.entries,
        before.values().map(|t| t.len() as u64).sum::<u64>()
    );
    assert!(!target.path().join("data").join("db.restoring").exists());

    let restored = Store::open(&db_path).unwrap();
    assert_eq!(dump(&restored), before, "every tree, byte for byte");
    // And through the store's own reads.
    let c = store.clip(&clip_id(2)).unwrap().unwrap();
    assert_eq!(restored.clip(&c.id).unwrap(), Some(c.clone()));
    assert_eq!(
        restored.claims(&c.id).unwrap(),
        store.claims(&c.id).unwrap()
    );
    assert_eq!(restored.claims(&c.id).unwrap().taken, 1);
    assert_eq!(restored.access_of(&clip_id(1)).unwrap(), (1, Some(7)));
    let salt = restored.meta_or_init("pbkdf2_salt", || b"other".to_vec());
    assert_eq!(salt.unwrap(), b"salt-1234");
    let box_id = crate::model::BoxId::parse("ABCDEFGH").unwrap();
    let b = restored.dropbox(&box_id).unwrap().unwrap();
    assert_eq!((b.items, b.reserved, b.used_bytes), (1, 1, 501));
    assert_eq!(restored.drop_items(&box_id, 0, 10).unwrap().len(), 1);
    assert_eq!(restored.session(UploadId(4)).unwrap().unwrap().received, 1);
    assert_eq!(restored.chunks(UploadId(3)).unwrap().len(), 2);
    for name in [counter::STORED_BYTES, counter::TOTAL_CLIPS, counter::SWEEPS] {
        assert_eq!(
            restored.counter(name).unwrap(),
            store.counter(name).unwrap()
        );
    }
    assert_eq!(
        restored.counter(counter::STORED_BYTES).unwrap(),
        3 * 201 + 150
    );
}

#[test]
fn an_empty_directory_is_accepted_and_a_used_one_refused() {
    let (_dir, store) = filled();
    let snap = store.export_snapshot(1).unwrap();
    let target = tempfile::tempdir().unwrap();

    let empty = target.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    import_snapshot(&snap.bytes, &empty).unwrap();
    assert_eq!(Store::open(&empty).unwrap().clip_count(), 3);

    // A directory with anything in it, a database above all, is left as it was.
    let used = target.path().join("used");
    std::fs::create_dir(&used).unwrap();
    std::fs::write(used.join("conf"), b"x").unwrap();
    let err = import_snapshot(&snap.bytes, &used).unwrap_err();
    assert!(matches!(err, SnapshotError::NotEmpty(_)), "{err}");
    assert_eq!(std::fs::read(used.join("conf")).unwrap(), b"x");
    let err = import_snapshot(&snap.bytes, &empty).unwrap_err();
    assert!(matches!(err, SnapshotError::NotEmpty(_)), "{err}");
    let a_file = target.path().join("file");
    std::fs::write(&a_file, b"y").unwrap();
    let err = import_snapshot(&snap.bytes, &a_file).unwrap_err();
    assert!(matches!(err, SnapshotError::NotEmpty(_)), "{err}");
    assert_eq!(std::fs::read(&a_file).unwrap(), b"y");
}

/// Replaces the checksum at the end so that only the change made is wrong.
fn resum(bytes: &mut Vec<u8>) {
    bytes.truncate(bytes.len() - 32);
    let sum = Sha256::digest(&bytes[..]);
    bytes.extend_from_slice(&sum);
}

#[test]
fn damaged_snapshots_are_refused_before_anything_is_written() {
    let (_dir, store) = filled();
    let good = store.export_snapshot(1).unwrap().bytes;
    verify_snapshot(&good).unwrap();
    let target = tempfile::tempdir().unwrap();
    let db_path = target.path().join("db");

    let refused = |bytes: &[u8], why: &str| {
        let err = import_snapshot(bytes, &db_path).unwrap_err();
        assert!(
            matches!(&err, SnapshotError::Invalid(m) if m.contains(why)),
            "{err}"
        );
        assert!(!db_path.exists(), "nothing written for a refused snapshot");
    };
    // Any flipped bit, anywhere in the body or the checksum.
    for at in [
        HEADER_LEN + 3,
        good.len() / 2,
        good.len() - 40,
        good.len() - 1,
    ] {
        let mut bad = good.clone();
        bad[at] ^= 0x01;
        refused(&bad, "checksum");
    }
    // Cut short: at the end, in the middle, down to the header.
    refused(&good[..good.len() - 1], "checksum");
    refused(&good[..good.len() / 2], "checksum");
    refused(&good[..HEADER_LEN + 31], "header");
    refused(&[], "header");
    // Another format, or another version of ours (even with a matching checksum).
    let mut other = good.clone();
    other[..8].copy_from_slice(b"SQLite f");
    refused(&other, "magic");
    let mut v2 = good.clone();
    v2[8..12].copy_from_slice(&2u32.to_be_bytes());
    refused(&v2, "version 2");
    resum(&mut v2);
    refused(&v2, "version 2");
    // A checksum that matches a body that does not parse: one tree more than it holds, or
    // bytes after the last tree.
    let mut more = good.clone();
    let count = u32::from_be_bytes(more[20..24].try_into().unwrap());
    more[20..24].copy_from_slice(&(count + 1).to_be_bytes());
    resum(&mut more);
    refused(&more, "truncated");
    let mut longer = good.clone();
    longer.truncate(longer.len() - 32);
    longer.push(0);
    longer.extend_from_slice(&[0; 32]);
    resum(&mut longer);
    refused(&longer, "after the last tree");
    // The good one still imports.
    assert_eq!(import_snapshot(&good, &db_path).unwrap().clips, 3);
}

#[test]
fn the_write_generation_moves_with_every_change_only() {
    let (_dir, store) = filled();
    let g = store.write_generation();
    assert!(g > 0);
    store.clip(&clip_id(1)).unwrap();
    let _ = store.export_snapshot(1).unwrap();
    assert_eq!(
        store.write_generation(),
        g,
        "reads and snapshots change nothing"
    );
    assert_eq!(store.export_snapshot(2).unwrap().generation, g);
    // Bookkeeping alone is not a change worth a snapshot.
    store.record_sweep(5).unwrap();
    store.write_probe(5).unwrap();
    assert_eq!(store.write_generation(), g);
    assert_eq!(store.counter(counter::LAST_SWEEP).unwrap(), 5);
    store.record_access(&clip_id(1), 9).unwrap();
    assert!(store.write_generation() > g);
}

/// Counts of a snapshot that every state the store can be in (after any crash) satisfies,
/// and a half-applied change breaks: the stored-bytes counter is the bytes of the sessions
/// and the clips (a chunk moves it together with the session, a completion moves the bytes
/// from a session to a clip, removals take them off with the record); every session holds as
/// many chunk records as it counts; every clip has its chunk records and its expiry entry.
fn check(bytes: &[u8]) -> Result<(), String> {
    let (_, trees) = parse(bytes).map_err(|e| e.to_string())?;
    let tree = |name: &[u8]| {
        trees
            .iter()
            .find(|t| t.name == name)
            .map(|t| t.entries.clone())
            .unwrap_or_default()
    };
    let mut chunks_of: BTreeMap<u64, u32> = BTreeMap::new();
    for (k, _) in tree(b"chunks") {
        *chunks_of
            .entry(u64::from_be_bytes(k[..8].try_into().unwrap()))
            .or_default() += 1;
    }
    let mut bytes_held = 0u64;
    for (k, v) in tree(b"sessions") {
        let s: UploadSession = decode(v).unwrap();
        let id = u64::from_be_bytes(k.try_into().unwrap());
        let held = chunks_of.get(&id).copied().unwrap_or(0);
        if held != s.received {
            return Err(format!(
                "session {id}: {held} chunks, counts {}",
                s.received
            ));
        }
        bytes_held += s.received_bytes;
    }
    let clips = tree(b"clips");
    for (_, v) in &clips {
        let c: ClipMeta = decode(v).unwrap();
        let held = chunks_of.get(&c.upload.0).copied().unwrap_or(0);
        if held != c.chunk_count {
            return Err(format!("clip {}: {held} chunk records", c.upload.0));
        }
        bytes_held += c.size;
    }
    let expiry = tree(b"expiry").len();
    if expiry != clips.len() {
        return Err(format!("{} clips, {expiry} expiry entries", clips.len()));
    }
    let stored = tree(b"counters")
        .into_iter()
        .find(|(k, _)| *k == counter::STORED_BYTES.as_bytes())
        .map(|(_, v)| u64::from_be_bytes(v.try_into().unwrap()))
        .unwrap_or(0);
    if stored != bytes_held {
        return Err(format!("stored bytes {stored}, records hold {bytes_held}"));
    }
    Ok(())
}

/// Changes several trees at once, over and over, until `stop`, one kind of change per
/// thread and in runs of one kind, so that a change that skipped the gate runs alone long
/// enough to show: one thread adds chunks to long sessions (sessions, chunks, counters); one
/// makes 200 sessions, turns them all into clips, then removes those (the clip record in one
/// transaction, its chunk records in the next); one makes 200 sessions and cancels them all.
/// Returns the rounds of each.
fn churn(store: &Store, stop: &AtomicBool) -> [u64; 3] {
    const RUN: u64 = 200;
    let new_session = |id: UploadId, chunks: u32| {
        assert!(store.insert_session(id, &session(id.0, None)).unwrap());
        for k in 0..chunks {
            store
                .put_chunk(id, k, &chunk(100 + k as u64, id.0), 2)
                .unwrap();
        }
    };
    std::thread::scope(|s| {
        let chunks = s.spawn(|| {
            let mut n = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let id = UploadId(1_000_000 + n / 1_000);
                if n.is_multiple_of(1_000) {
                    new_session(id, 0);
                }
                let put = store.put_chunk(id, (n % 1_000) as u32, &chunk(10, n), 2);
                assert!(matches!(put.unwrap(), ChunkPut::Inserted { .. }));
                n += 1;
            }
            n
        });
        let clips = s.spawn(|| {
            let mut n = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let ids: Vec<_> = (n..n + RUN).map(|i| UploadId(2_000_000 + i)).collect();
                n += RUN;
                ids.iter().for_each(|&id| new_session(id, 2));
                let made: Vec<_> = ids.iter().map(|&id| clip(id.0, id, 201, 2, None)).collect();
                for (id, c) in ids.iter().zip(&made) {
                    store.complete(*id, c, 2).unwrap().unwrap();
                }
                for c in &made {
                    assert!(store.remove_clip(c).unwrap());
                }
            }
            n
        });
        let mut n = 0u64;
        while !stop.load(Ordering::Relaxed) {
            let ids: Vec<_> = (n..n + RUN).map(|i| UploadId(3_000_000 + i)).collect();
            n += RUN;
            ids.iter().for_each(|&id| new_session(id, 1));
            for &id in &ids {
                store.remove_session(id).unwrap().unwrap();
            }
        }
        [chunks.join().unwrap(), clips.join().unwrap(), n]
    })
}

/// Runs `churn` on other threads while `take` is called until `enough` says so or 20 s
/// pass; returns every snapshot's check and the rounds churned.
fn while_churning(
    take: impl Fn(&Store) -> Vec<u8>,
    enough: impl Fn(&[Result<(), String>]) -> bool,
) -> (Vec<Result<(), String>>, [u64; 3]) {
    let (_dir, store) = open();
    let stop = AtomicBool::new(false);
    std::thread::scope(|s| {
        let writers = s.spawn(|| churn(&store, &stop));
        let started = Instant::now();
        let mut checks = Vec::new();
        while !enough(&checks) && started.elapsed() < Duration::from_secs(20) {
            checks.push(check(&take(&store)));
            // Room for the writers between two snapshots that hold the gate.
            std::thread::sleep(Duration::from_millis(15));
        }
        stop.store(true, Ordering::Relaxed);
        (checks, writers.join().unwrap())
    })
}

/// Copies slowly: a pause after each tree leaves the writer plenty of time to commit between
/// two trees.
fn slowly() {
    std::thread::sleep(Duration::from_millis(1));
}

#[test]
fn a_snapshot_never_holds_half_a_change() {
    let (checks, rounds) = while_churning(
        |store| store.export_paced(0, slowly).unwrap().bytes,
        |checks| checks.len() >= 60,
    );
    assert_eq!(checks.len(), 60, "60 snapshots within the time");
    assert!(
        rounds.iter().all(|&r| r > 40),
        "every writer kept changing the trees ({rounds:?} rounds)"
    );
    for (i, c) in checks.iter().enumerate() {
        assert_eq!(c, &Ok(()), "snapshot {i}");
    }
}

#[test]
fn without_the_gate_the_same_copy_tears() {
    // The control of the test above: the same slow copy without the exclusive gate does see
    // changes half-applied, so the check can tell.
    let (checks, _) = while_churning(
        |store| {
            let (mut bytes, _) = store.copy_trees(0, slowly).unwrap();
            let sum = Sha256::digest(&bytes);
            bytes.extend_from_slice(&sum);
            bytes
        },
        |checks| checks.iter().any(|c| c.is_err()),
    );
    assert!(
        checks.iter().any(|c| c.is_err()),
        "no torn copy in {} tries",
        checks.len()
    );
}

#[cfg(debug_assertions)]
#[test]
#[should_panic(expected = "nested store write")]
fn a_nested_write_is_caught() {
    let (_dir, store) = open();
    let _outer = store.gate.enter();
    store.set_counter(counter::SWEEPS, 1).unwrap();
}

/// How long writers wait for a snapshot of 1,000 clips (the copy under the exclusive gate).
/// Run with `cargo test --lib store::snapshot -- --ignored --nocapture`.
#[test]
#[ignore = "a measurement"]
fn time_of_a_snapshot_of_a_thousand_clips() {
    let (_dir, store) = open();
    for n in 1..=1000 {
        make_clip(&store, n, None, None);
    }
    let started = Instant::now();
    let snap = store.export_snapshot(1).unwrap();
    println!(
        "snapshot of {} clips: {} bytes in {:?}",
        snap.clips,
        snap.bytes.len(),
        started.elapsed()
    );
    let target = tempfile::tempdir().unwrap();
    let started = Instant::now();
    import_snapshot(&snap.bytes, &target.path().join("db")).unwrap();
    println!("imported in {:?}", started.elapsed());
}
