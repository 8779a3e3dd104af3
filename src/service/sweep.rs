//! Sweeping: expired clips by a range scan of the expiry index, expired drop boxes (with their
//! items) likewise, download claims whose window closed, abandoned upload sessions (idle
//! longer than `session_idle`; a session's place in a drop box goes back with it), and files
//! on disk that no record owns (left by a crash or a lost race). The sweeper task
//! (`crate::sweeper`) decides when.

use super::Qopy;
use crate::model::BlobDir;
use crate::store::StoreError;
use serde::Serialize;
use std::collections::HashMap;
use std::time::Duration;

/// What one sweep removed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SweepReport {
    /// Expired clips removed.
    pub expired_clips: u64,
    /// Abandoned upload sessions removed.
    pub abandoned_sessions: u64,
    /// Orphan directories and files removed.
    pub orphans: u64,
    /// Clips whose download claims' windows closed (a one-time clip is removed then).
    pub ended_claims: u64,
    /// Expired drop boxes removed (with their items and the items' clips).
    pub dropped_boxes: u64,
}

/// How old an unowned file must be before a periodic sweep removes it. At start-up nothing
/// is in flight, so everything unowned goes.
const ORPHAN_GRACE: Duration = Duration::from_secs(3600);

/// Which parts of a sweep to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SweepKind {
    /// Everything, removing unowned files regardless of age (nothing is in flight yet).
    Startup,
    /// Everything, leaving unowned files younger than the grace period.
    Full,
    /// Expired clips only (woken by an expiry deadline).
    Expired,
}

impl Qopy {
    /// Runs one sweep. Blocking.
    pub fn sweep(&self, kind: SweepKind) -> Result<SweepReport, StoreError> {
        sweep(self, kind)
    }

    /// When the next clip or drop box expires or the next download claim's window closes
    /// (ms since the epoch), if any. Blocking.
    pub fn next_expiry(&self) -> Result<Option<u64>, StoreError> {
        let claims = self
            .store
            .open_claims()?
            .into_iter()
            .map(|(_, at)| at)
            .min();
        Ok([
            self.store.next_expiry()?,
            claims,
            self.store.next_dropbox_expiry()?,
        ]
        .into_iter()
        .flatten()
        .min())
    }

    /// Resolves when a clip with an expiry earlier than the sweeper may know of appears.
    pub async fn sweeper_woken(&self) {
        self.sweeper_wake.notified().await
    }
}

fn sweep(q: &Qopy, kind: SweepKind) -> Result<SweepReport, StoreError> {
    let mut report = SweepReport::default();
    let now = q.now();
    // Expired clips, oldest first, in batches.
    loop {
        let batch = q.store.expired_clips(now, 512)?;
        if batch.is_empty() {
            break;
        }
        for (at, id) in &batch {
            q.cache.mark_gone(id, now);
            match q.store.clip(id)? {
                Some(meta) => {
                    if q.remove_clip(&meta)? {
                        report.expired_clips += 1;
                    }
                }
                None => q.store.remove_expiry_entry(*at, id)?,
            }
        }
        if batch.len() < 512 {
            break;
        }
    }
    // Expired drop boxes, with their items and the items' clips (which expire with their
    // box, so the pass above usually took the clips already).
    loop {
        let batch = q.store.expired_dropboxes(now, 512)?;
        for id in &batch {
            if q.remove_dropbox_now(id)? {
                report.dropped_boxes += 1;
            }
        }
        if batch.len() < 512 {
            break;
        }
    }
    // Download claims whose window has closed unfinished. Only finished downloads count,
    // so their downloads are given back, except a one-time clip's: its reader may have kept
    // most of it, so it goes.
    for (id, at) in q.store.open_claims()? {
        if at > now {
            continue;
        }
        match q.store.clip(&id)? {
            Some(meta) => {
                let counted = meta.one_time();
                let over = |c: &crate::model::Claim| c.until <= now && !q.streaming(&c.token_hash);
                if q.end_claims(&meta, over, counted)?.is_some() {
                    report.ended_claims += 1;
                }
            }
            None => {
                // Left by a removal a crash interrupted.
                q.store.end_claims(&id, |_| true, true)?;
            }
        }
    }
    if kind == SweepKind::Startup {
        // Chunk records of a clip whose removal a crash interrupted. Only at start-up:
        // nothing else writes the store yet.
        for upload in q.store.ownerless_chunk_uploads()? {
            q.store.remove_chunk_records(upload)?;
        }
    }
    if kind != SweepKind::Expired {
        report.abandoned_sessions = sweep_sessions(q, now)?;
        report.orphans = sweep_orphans(q, kind == SweepKind::Startup)?;
    }
    q.store.flush_blocking()?;
    q.cache.prune(now);
    q.store.record_sweep(now)?;
    if report != SweepReport::default() {
        tracing::info!(
            expired = report.expired_clips,
            abandoned = report.abandoned_sessions,
            orphans = report.orphans,
            ended_claims = report.ended_claims,
            dropped_boxes = report.dropped_boxes,
            "sweep"
        );
    }
    Ok(report)
}

/// How long an upload into a drop box may send nothing before it gives its place in the box
/// back (at most `session_idle`): a reservation blocks the box's limits for everyone, so one
/// stalled or hostile sender must not hold them for a day.
pub const DROP_SESSION_IDLE_MS: u64 = 15 * 60 * 1000;

/// Removes upload sessions idle for longer than `session_idle` (drop-box uploads: than
/// [`DROP_SESSION_IDLE_MS`]).
fn sweep_sessions(q: &Qopy, now: u64) -> Result<u64, StoreError> {
    let mut removed = 0;
    let idle_ms = q.config.session_idle.as_millis() as u64;
    let mut stale = Vec::new();
    for item in q.store.all_sessions() {
        let (id, s) = item?;
        let limit = if s.dropbox.is_some() {
            idle_ms.min(DROP_SESSION_IDLE_MS)
        } else {
            idle_ms
        };
        if now.saturating_sub(s.last_activity) > limit {
            stale.push(id);
        }
    }
    for id in stale {
        if let Some(s) = q.store.remove_session(id)? {
            removed += 1;
            if let Err(e) = q.blobs.remove_dir(s.blob) {
                tracing::warn!(error = %e, "could not remove abandoned session's files");
            }
        }
    }
    Ok(removed)
}

/// Removes blob directories and files that no clip or session owns.
fn sweep_orphans(q: &Qopy, startup: bool) -> Result<u64, StoreError> {
    // Which files each owned directory should keep. Sessions are read before clips: a
    // session that completes meanwhile is then found as one or the other, never neither.
    let mut owned: HashMap<BlobDir, Vec<(u32, u64)>> = HashMap::new();
    let files = |upload| -> Result<Vec<(u32, u64)>, StoreError> {
        Ok(q.store
            .chunks(upload)?
            .into_iter()
            .map(|(n, c)| (n, c.token))
            .collect())
    };
    let sessions: Vec<_> = q.store.all_sessions().collect::<Result<_, _>>()?;
    for (id, s) in sessions {
        owned.insert(s.blob, files(id)?);
    }
    for clip in q.store.all_clips() {
        let clip = clip?;
        owned.insert(clip.blob, files(clip.upload)?);
    }
    // At start-up nothing of this process is in flight, so local files go at once. Objects
    // in a bucket keep their grace even then: another node restored from a snapshot of this
    // one (or this one, restored elsewhere, while the old one still runs) must not have the
    // other's newest chunks deleted under it.
    let grace = if startup && q.blobs.remote().is_none() {
        Duration::ZERO
    } else {
        ORPHAN_GRACE
    };
    let now = std::time::UNIX_EPOCH + Duration::from_millis(q.now());
    match q.blobs.remove_unowned(&owned, grace, now) {
        Ok(removed) => Ok(removed),
        Err(e) => {
            tracing::warn!(error = %e, "could not sweep the blob area");
            Ok(0)
        }
    }
}
