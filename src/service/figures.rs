//! Figures about the running server, for the admin API, `/health` and the metrics collector:
//! plain structs read from the store's counters, the caches and the disk. Each reader is
//! blocking (some scan whole trees): call it on the blocking pool.

use super::{Qopy, Result};
use crate::store::counter;
use serde::Serialize;

/// Clip statistics and the admin clip list are answered as they are: their types are the
/// contract's.
pub use crate::api::{AdminClip as ClipSummary, AdminStats};

/// The server's own state (`GET /api/admin/system`).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SystemFigures {
    /// When the last sweep ran (ms since the epoch), if one has.
    pub last_sweep: Option<u64>,
    /// Sweeps run.
    pub sweeps: u64,
    /// Now (ms since the epoch).
    pub current_time: u64,
    /// Seconds since the core was opened.
    pub uptime: f64,
    /// Size of the database on disk.
    pub database_bytes: u64,
    /// Free bytes on the data directory's filesystem, when known.
    pub free_disk_bytes: Option<u64>,
    /// The `min_free_disk` reserve.
    pub min_free_disk: u64,
    /// The `max_storage` quota, if any.
    pub max_storage: Option<u64>,
}

/// What the store, the caches and the disk say now (`/health`, the metrics collector). A
/// figure that cannot be read is `None` (and logged), so one failure does not hide the rest.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Figures {
    /// Clips stored (live, or expired and not yet swept).
    pub clips: usize,
    /// Upload sessions in progress.
    pub upload_sessions: usize,
    /// Clips ever created.
    pub clips_created: Option<u64>,
    /// Content downloads served.
    pub downloads: Option<u64>,
    /// Sweeps run.
    pub sweeps: Option<u64>,
    /// Bytes of stored content (clips and upload sessions).
    pub stored_bytes: Option<u64>,
    /// Clip metadata cache hits.
    pub cache_hits: u64,
    /// Clip metadata cache misses.
    pub cache_misses: u64,
    /// Size of the database on disk.
    pub database_bytes: u64,
    /// Free bytes on the data directory's filesystem.
    pub free_disk_bytes: Option<u64>,
    /// Long polls of drop boxes waiting for an arrival now.
    pub dropbox_waiting_polls: usize,
}

/// `x` as a share of `total`, in whole per cent (rounded); 0 of nothing.
fn pct(x: u64, total: u64) -> u64 {
    (x * 100 + total / 2).checked_div(total).unwrap_or(0)
}

impl Qopy {
    /// Clip statistics. Blocking.
    pub fn stats(&self) -> Result<AdminStats> {
        let s = &self.store;
        let get = |name| s.counter(name);
        let total = get(counter::TOTAL_CLIPS)?;
        let password = get(counter::PASSWORD)?;
        let quick = get(counter::QUICK_SHARE)?;
        let (hits, misses) = self.cache.stats();
        Ok(AdminStats {
            total_clips: total,
            active_clips: s.clip_count() as u64,
            total_accesses: get(counter::TOTAL_ACCESSES)?,
            password_clips: password,
            password_percentage: pct(password, total),
            quick_share_clips: quick,
            quick_share_percentage: pct(quick, total),
            one_time_clips: get(counter::ONE_TIME)?,
            normal_clips: get(counter::NORMAL)?,
            active_uploads: s.session_count() as u64,
            stored_bytes: get(counter::STORED_BYTES)?,
            cache_hits: hits,
            cache_misses: misses,
            last_updated: self.now(),
        })
    }

    /// The `n` newest clips, newest first. Blocking (reads every clip record).
    pub fn recent_clips(&self, n: usize) -> Result<Vec<ClipSummary>> {
        let mut all = Vec::new();
        for c in self.store.all_clips() {
            all.push(c?);
        }
        all.sort_by_key(|c| std::cmp::Reverse(c.created_at));
        all.truncate(n);
        let now = self.now();
        let mut out = Vec::with_capacity(all.len());
        for c in all {
            let (count, _) = self.store.access_of(&c.id)?;
            out.push(ClipSummary {
                clip_id: c.id.redacted(),
                created_at: c.created_at,
                expiration_time: c.expires_at,
                is_expired: now >= c.expires_at,
                access_count: count,
                has_password: c.access.is_some(),
                one_time: c.one_time(),
                quick_share: c.quick_share,
                content_type: c.kind.as_str().to_string(),
                size: c.size,
            });
        }
        Ok(out)
    }

    /// The server's own state. Blocking.
    pub fn system(&self) -> Result<SystemFigures> {
        let last = self.store.counter(counter::LAST_SWEEP)?;
        Ok(SystemFigures {
            last_sweep: (last != 0).then_some(last),
            sweeps: self.store.counter(counter::SWEEPS)?,
            current_time: self.now(),
            uptime: self.uptime().as_secs_f64(),
            database_bytes: self.store.size_on_disk(),
            free_disk_bytes: self.blobs.free_space().ok(),
            min_free_disk: self.config.min_free_disk,
            max_storage: self.config.max_storage,
        })
    }

    /// What the store, the caches and the disk say now. Blocking.
    pub fn figures(&self) -> Figures {
        let read = |name: &str| match self.store.counter(name) {
            Ok(v) => Some(v),
            Err(e) => {
                tracing::warn!(error = %e, counter = name, "figures: counter unreadable");
                None
            }
        };
        let (hits, misses) = self.cache.stats();
        Figures {
            dropbox_waiting_polls: self.drop_waiters.count(),
            clips: self.store.clip_count(),
            upload_sessions: self.store.session_count(),
            clips_created: read(counter::TOTAL_CLIPS),
            downloads: read(counter::TOTAL_ACCESSES),
            sweeps: read(counter::SWEEPS),
            stored_bytes: read(counter::STORED_BYTES),
            cache_hits: hits,
            cache_misses: misses,
            database_bytes: self.store.size_on_disk(),
            free_disk_bytes: match self.blobs.free_space() {
                Ok(free) => Some(free),
                Err(e) => {
                    tracing::warn!(error = %e, "figures: free space unknown");
                    None
                }
            },
        }
    }
}
