//! The only module that knows sled. It owns the trees (clips by ID, the expiry index keyed by
//! big-endian time then ID, upload sessions, received chunks, per-clip access counts, the
//! download claims of limited clips, drop boxes with their items and expiry index, counters
//! and server metadata) and exposes each state change as one multi-tree transaction, so a
//! crash leaves either the old state or the new one. Nothing with side effects runs inside a
//! transaction closure; callers do file work before or after. Every method that writes holds
//! the write gate shared while it writes, so that a snapshot (`snapshot`, taken with the gate
//! held exclusively) never sees a change half-applied.

mod claims;
pub mod codec;
mod dropboxes;
#[cfg(test)]
mod fixtures;
mod flusher;
mod migrate;
mod sessions;
pub mod snapshot;

use crate::model::{ClipId, ClipMeta};
use codec::{counter_value, decode, expiry_key};
use sled::transaction::{
    ConflictableTransactionError, TransactionError, TransactionalTree, UnabortableTransactionError,
};
use sled::Transactional;
use std::path::Path;
use std::sync::Arc;

pub use claims::ClaimTaken;
pub use dropboxes::{BoxRemoval, Reserve};
pub use flusher::{FlushFailed, FlushMonitor};
pub use snapshot::{Snapshot, SnapshotError, SnapshotInfo};

/// Errors of the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// sled reported an I/O or corruption error; the database must be reopened.
    #[error("database error: {0}")]
    Sled(#[from] sled::Error),
    /// A stored value could not be decoded.
    #[error("corrupt record: {0}")]
    Corrupt(String),
    /// Making writes durable failed (sled latches the error: every later flush fails too).
    #[error("database flush failed: {}", .0 .0)]
    Flush(FlushFailed),
}

impl StoreError {
    /// Whether the database itself failed (an I/O error or corruption). sled latches its
    /// first I/O error until it is reopened, so after one every later write fails too: the
    /// process should exit and be restarted rather than serve on half-broken.
    pub fn is_fatal(&self) -> bool {
        matches!(
            self,
            StoreError::Sled(sled::Error::Io(_) | sled::Error::Corruption { .. })
                | StoreError::Flush(_)
        )
    }
}

impl From<UnabortableTransactionError> for StoreError {
    fn from(e: UnabortableTransactionError) -> Self {
        match e {
            UnabortableTransactionError::Storage(e) => StoreError::Sled(e),
            UnabortableTransactionError::Conflict => {
                StoreError::Corrupt("unexpected transaction conflict".into())
            }
        }
    }
}

/// Counters kept for the admin statistics.
pub mod counter {
    /// Clips created.
    pub const TOTAL_CLIPS: &str = "total_clips";
    /// Content downloads served.
    pub const TOTAL_ACCESSES: &str = "total_accesses";
    /// Quick Share clips created.
    pub const QUICK_SHARE: &str = "quick_share_clips";
    /// Clips created with a real access code.
    pub const PASSWORD: &str = "password_protected_clips";
    /// One-time clips created.
    pub const ONE_TIME: &str = "one_time_clips";
    /// Clips that are neither Quick Share nor protected.
    pub const NORMAL: &str = "normal_clips";
    /// Bytes of stored content (clips and sessions' chunks).
    pub const STORED_BYTES: &str = "stored_bytes";
    /// Sweeper runs.
    pub const SWEEPS: &str = "sweeps";
    /// Millisecond time of the last sweep.
    pub const LAST_SWEEP: &str = "last_sweep_at";
}

/// What happened to a chunk offered to a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChunkPut {
    /// Recorded; the session now has this many chunks.
    Inserted { received: u32 },
    /// The same bytes were already recorded under this number.
    Same { received: u32 },
    /// Different bytes were already recorded under this number.
    Conflict,
    /// The session does not exist (never did, was completed, cancelled or swept).
    NoSession,
}

/// Why a completion could not be committed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CompleteRefused {
    /// The session does not exist.
    NoSession,
    /// The chunk set changed since it was read; read it again.
    Changed,
    /// The clip ID is taken; draw another.
    Collision,
    /// The session sends into a drop box that no longer exists.
    DropboxGone,
    /// The session sends into a drop box that has expired.
    DropboxExpired,
}

/// Handle to the database; cheap to clone.
#[derive(Clone)]
pub struct Store {
    db: sled::Db,
    clips: sled::Tree,
    expiry: sled::Tree,
    sessions: sled::Tree,
    chunks: sled::Tree,
    counters: sled::Tree,
    access: sled::Tree,
    meta: sled::Tree,
    claims: sled::Tree,
    dropboxes: sled::Tree,
    drop_items: sled::Tree,
    drop_expiry: sled::Tree,
    flusher: Arc<flusher::Flusher>,
    /// Held shared by every change, exclusively by a snapshot (see `snapshot`).
    gate: Arc<snapshot::WriteGate>,
}

type TxResult<T, E> = Result<T, ConflictableTransactionError<E>>;

fn bump(tree: &TransactionalTree, name: &str, delta: i64) -> TxResult<(), StoreError> {
    let old = counter_value(tree.get(name)?.as_deref());
    let new = old.saturating_add_signed(delta);
    tree.insert(name, &new.to_be_bytes())?;
    Ok(())
}

fn abort<T>(e: StoreError) -> TxResult<T, StoreError> {
    Err(ConflictableTransactionError::Abort(e))
}

fn tx_err(e: TransactionError<StoreError>) -> StoreError {
    match e {
        TransactionError::Abort(e) => e,
        TransactionError::Storage(e) => StoreError::Sled(e),
    }
}

impl Store {
    /// Opens (or creates) the database at `path`, with a bounded page cache.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        let db = sled::Config::new()
            .path(path)
            .cache_capacity(64 * 1024 * 1024)
            // The flusher thread is the only one that flushes (see `flusher`).
            .flush_every_ms(None)
            .open()?;
        let store = Store {
            flusher: Arc::new(flusher::Flusher::start(db.clone())),
            clips: db.open_tree("clips")?,
            expiry: db.open_tree("expiry")?,
            sessions: db.open_tree("sessions")?,
            chunks: db.open_tree("chunks")?,
            counters: db.open_tree("counters")?,
            access: db.open_tree("access")?,
            meta: db.open_tree("meta")?,
            claims: db.open_tree("claims")?,
            dropboxes: db.open_tree("dropboxes")?,
            drop_items: db.open_tree("drop_items")?,
            drop_expiry: db.open_tree("drop_expiry")?,
            gate: Arc::default(),
            db,
        };
        migrate::migrate(&store)?;
        Ok(store)
    }

    /// Makes every earlier write durable (fsync), sharing the flush with concurrent callers.
    /// Called before acknowledging a change.
    pub async fn flush(&self) -> Result<(), StoreError> {
        self.flusher.flush().await.map_err(StoreError::Flush)
    }

    /// Makes every earlier write durable, from blocking code.
    pub fn flush_blocking(&self) -> Result<(), StoreError> {
        self.flusher.flush_blocking().map_err(StoreError::Flush)
    }

    /// The flusher's progress, for the watchdog (holds no database handle).
    pub fn flush_monitor(&self) -> FlushMonitor {
        self.flusher.monitor()
    }

    /// Writes a probe value (the health check then flushes it). Blocking.
    pub fn write_probe(&self, now: u64) -> Result<(), StoreError> {
        // Not a change a snapshot needs to carry (see `record_sweep`).
        let _w = self.gate.enter_quietly();
        self.meta.insert("health_probe", &now.to_be_bytes())?;
        Ok(())
    }

    /// Returns the metadata value under `key`, creating it with `init` on first use.
    pub fn meta_or_init(
        &self,
        key: &str,
        init: impl FnOnce() -> Vec<u8>,
    ) -> Result<Vec<u8>, StoreError> {
        if let Some(v) = self.meta.get(key)? {
            return Ok(v.to_vec());
        }
        let fresh = init();
        let w = self.gate.enter();
        let swapped =
            self.meta
                .compare_and_swap(key, None as Option<&[u8]>, Some(fresh.clone()))?;
        drop(w);
        match swapped {
            Ok(()) => {
                self.flush_blocking()?;
                Ok(fresh)
            }
            Err(cas) => Ok(cas.current.map(|v| v.to_vec()).unwrap_or(fresh)),
        }
    }

    // ---- clips ----------------------------------------------------------------------

    /// Reads a clip record, whether or not it has expired.
    pub fn clip(&self, id: &ClipId) -> Result<Option<ClipMeta>, StoreError> {
        self.clips
            .get(id.as_bytes())?
            .map(|v| decode(&v))
            .transpose()
    }

    /// Removes a clip and its expiry-index entry if the stored record is still `expected`,
    /// then its chunk records. Returns false when it was already gone (another request or
    /// the sweeper won). A crash between the two steps leaves chunk records without an
    /// owner, which the start-up sweep removes.
    pub fn remove_clip(&self, expected: &ClipMeta) -> Result<bool, StoreError> {
        let key = expected.id.as_bytes();
        let trees = (
            &self.clips,
            &self.expiry,
            &self.counters,
            &self.access,
            &self.claims,
        );
        let w = self.gate.enter();
        let res = trees.transaction(|(clips, expiry, counters, access, claims)| {
            let Some(cur) = clips.get(key)? else {
                return Ok(false);
            };
            let cur: ClipMeta = match decode(&cur) {
                Ok(c) => c,
                Err(e) => return abort(e),
            };
            if cur.id != expected.id || cur.blob != expected.blob {
                return Ok(false);
            }
            clips.remove(key)?;
            expiry.remove(expiry_key(cur.expires_at, &cur.id))?;
            access.remove(key)?;
            claims.remove(key)?;
            bump(counters, counter::STORED_BYTES, -(cur.size as i64))?;
            Ok(true)
        });
        drop(w);
        let removed = res.map_err(tx_err)?;
        if removed {
            self.remove_chunk_records(expected.upload)?;
        }
        Ok(removed)
    }

    /// Clips whose expiry time is at or before `now`, oldest first, at most `limit`.
    pub fn expired_clips(&self, now: u64, limit: usize) -> Result<Vec<(u64, ClipId)>, StoreError> {
        let end = (now.saturating_add(1)).to_be_bytes();
        let mut out = Vec::new();
        for kv in self.expiry.range(..end.as_slice()).take(limit) {
            let (k, _) = kv?;
            match codec::parse_expiry_key(&k) {
                Some(entry) => out.push(entry),
                None => {
                    let _w = self.gate.enter();
                    self.expiry.remove(k)?;
                }
            }
        }
        Ok(out)
    }

    /// Removes an expiry-index entry whose clip record no longer exists.
    pub fn remove_expiry_entry(&self, at: u64, id: &ClipId) -> Result<(), StoreError> {
        let _w = self.gate.enter();
        self.expiry.remove(expiry_key(at, id))?;
        Ok(())
    }

    /// The earliest expiry time in the index.
    pub fn next_expiry(&self) -> Result<Option<u64>, StoreError> {
        Ok(self
            .expiry
            .first()?
            .and_then(|(k, _)| codec::parse_expiry_key(&k))
            .map(|(t, _)| t))
    }

    /// Every clip record (for the admin list and the orphan sweep).
    pub fn all_clips(&self) -> impl Iterator<Item = Result<ClipMeta, StoreError>> + '_ {
        self.clips
            .iter()
            .map(|kv| kv.map_err(StoreError::from).and_then(|(_, v)| decode(&v)))
    }

    /// Number of clip records.
    pub fn clip_count(&self) -> usize {
        self.clips.len()
    }

    /// Records one content download of a clip: its access count and time.
    pub fn record_access(&self, id: &ClipId, now: u64) -> Result<(), StoreError> {
        let _w = self.gate.enter();
        self.access.update_and_fetch(id.as_bytes(), |old| {
            let count = old
                .and_then(|b| b.get(..8))
                .and_then(|b| b.try_into().ok())
                .map(u64::from_be_bytes)
                .unwrap_or(0);
            let mut v = Vec::with_capacity(16);
            v.extend_from_slice(&(count + 1).to_be_bytes());
            v.extend_from_slice(&now.to_be_bytes());
            Some(v)
        })?;
        self.counters
            .update_and_fetch(counter::TOTAL_ACCESSES, |old| {
                Some((counter_value(old) + 1).to_be_bytes().to_vec())
            })?;
        Ok(())
    }

    /// Access count and last access time of a clip.
    pub fn access_of(&self, id: &ClipId) -> Result<(u64, Option<u64>), StoreError> {
        Ok(match self.access.get(id.as_bytes())? {
            Some(v) if v.len() == 16 => (
                counter_value(Some(&v[..8])),
                Some(counter_value(Some(&v[8..]))),
            ),
            _ => (0, None),
        })
    }

    // ---- counters -------------------------------------------------------------------

    /// Reads a counter.
    pub fn counter(&self, name: &str) -> Result<u64, StoreError> {
        Ok(counter_value(self.counters.get(name)?.as_deref()))
    }

    /// Sets a counter.
    pub fn set_counter(&self, name: &str, value: u64) -> Result<(), StoreError> {
        let _w = self.gate.enter();
        self.counters.insert(name, &value.to_be_bytes())?;
        Ok(())
    }

    /// Counts a sweep run at `now` (the sweep counter and the last sweep's time). This
    /// bookkeeping alone does not count as a change for the snapshots (see
    /// [`Store::write_generation`]): otherwise every sweep, and every health check (the
    /// probe), would make an idle server write a new snapshot each interval.
    pub fn record_sweep(&self, now: u64) -> Result<(), StoreError> {
        let _w = self.gate.enter_quietly();
        self.counters.update_and_fetch(counter::SWEEPS, |old| {
            Some((counter_value(old) + 1).to_be_bytes().to_vec())
        })?;
        self.counters
            .insert(counter::LAST_SWEEP, &now.to_be_bytes())?;
        Ok(())
    }

    /// Adds to a counter.
    pub fn add_counter(&self, name: &str, delta: u64) -> Result<(), StoreError> {
        let _w = self.gate.enter();
        self.counters.update_and_fetch(name, |old| {
            Some((counter_value(old) + delta).to_be_bytes().to_vec())
        })?;
        Ok(())
    }

    /// Size of the database on disk.
    pub fn size_on_disk(&self) -> u64 {
        self.db.size_on_disk().unwrap_or(0)
    }
}
