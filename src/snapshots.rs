//! Database snapshots in the bucket, for `blob_store = "s3"`: the content lives in the bucket
//! but the metadata in `data_dir/db`, so the server writes a consistent snapshot of the
//! database (`store::snapshot`) to `<prefix>/snapshots/<unix ms, 20 digits>.qsnap` every
//! `snapshot_interval` and once more at shutdown, after the requests have drained, keeping
//! the newest [`KEEP`]. `qopy restore --from-s3` brings the newest one back into an empty
//! data directory.
//!
//! A snapshot that fails is logged and tried again at the next interval; it never stops the
//! server. One that would be the same as the last one written (no change since, by the
//! store's write generation) is not written.

use crate::config::Config;
use crate::metrics::SnapshotMetrics;
use crate::s3::{Bucket, BucketConfig, S3Error};
use crate::service::{Qopy, ServiceError};
use crate::store::{snapshot, SnapshotError, SnapshotInfo};
use bytes::Bytes;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};
use tokio_util::sync::CancellationToken;

/// The directory (below the prefix) that holds the snapshots.
pub const DIR: &str = "snapshots";
/// How many snapshots are kept; older ones are deleted after each new one.
pub const KEEP: usize = 3;
/// How long the snapshot at shutdown may take before the server stops without it: enough for
/// a few MiB to a store that answers, short enough that a store that is down (whose requests
/// are retried for up to 20 s) does not hold the stop much longer than the drain.
const AT_SHUTDOWN_LIMIT: Duration = Duration::from_secs(10);

/// Why a snapshot could not be written or restored.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotsError {
    /// The bucket failed or could not be reached.
    #[error("bucket: {0}")]
    Bucket(#[from] S3Error),
    /// The database could not be read.
    #[error("database: {0}")]
    Core(#[from] ServiceError),
    /// A snapshot could not be read or imported.
    #[error(transparent)]
    Snapshot(#[from] SnapshotError),
    /// The bucket holds no snapshot this release can read.
    #[error("no usable database snapshot under {0}")]
    NoSnapshot(String),
    /// The configuration does not name a bucket (`blob_store = "s3"` and its keys).
    #[error("{0}")]
    Config(String),
    /// Blocking work could not be run.
    #[error("task failed: {0}")]
    Task(String),
}

/// The name (below the prefix) of the snapshot taken at `taken_at`: zero-padded, so that the
/// names sort as the times do.
pub fn object_name(taken_at: u64) -> String {
    format!("{DIR}/{taken_at:020}.qsnap")
}

/// The time of a snapshot from its name below [`DIR`]; None for anything else.
pub fn parse_name(name: &str) -> Option<u64> {
    let digits = name.strip_suffix(".qsnap")?;
    if digits.len() != 20 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// The snapshots in the bucket (their times), newest first.
pub async fn list(bucket: &Bucket) -> Result<Vec<u64>, S3Error> {
    let mut times: Vec<u64> = bucket
        .list(DIR)
        .await?
        .iter()
        .filter_map(|o| parse_name(&o.name))
        .collect();
    times.sort_unstable_by(|a, b| b.cmp(a));
    Ok(times)
}

/// What one round of the snapshot task did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// A snapshot was written under this name.
    Written {
        /// Its name below the prefix.
        name: String,
        /// Its size.
        bytes: usize,
        /// The clips in it.
        clips: u64,
    },
    /// Nothing changed since the last snapshot written; none was written.
    Unchanged,
}

/// The last snapshot this process wrote.
#[derive(Clone, Copy)]
struct Written {
    generation: u64,
    taken_at: u64,
}

/// Writes snapshots of a server's database to its bucket.
pub struct Uploader {
    qopy: Arc<Qopy>,
    bucket: Bucket,
    metrics: SnapshotMetrics,
    /// Also serialises the rounds (the periodic one and the one at shutdown).
    last: tokio::sync::Mutex<Option<Written>>,
}

impl Uploader {
    /// An uploader to the bucket of the core's configuration. Makes no request.
    pub fn open(qopy: Arc<Qopy>, metrics: SnapshotMetrics) -> Result<Uploader, SnapshotsError> {
        // The blob store's own client of the bucket: the same connections and credentials.
        let bucket = match qopy.blobs().remote() {
            Some(remote) => remote.bucket().clone(),
            None => {
                return Err(
                    S3Error::Config("the content is not in a bucket (blob_store)".into()).into(),
                )
            }
        };
        Ok(Uploader {
            qopy,
            bucket,
            metrics,
            last: tokio::sync::Mutex::new(None),
        })
    }

    /// Takes a snapshot (on the blocking pool), stores it, and deletes all but the newest
    /// [`KEEP`]; does nothing when the database has not changed since the last one written.
    pub async fn snapshot(&self) -> Result<Outcome, SnapshotsError> {
        let mut last = self.last.lock().await;
        let generation = self.qopy.database_generation();
        if last.is_some_and(|w| w.generation == generation) {
            return Ok(Outcome::Unchanged);
        }
        // Listed first: a new snapshot is named after every existing one even if the clock
        // went back (a restored machine), so that the newest name is always the newest copy.
        let existing = list(&self.bucket).await?;
        let taken_at = [
            Some(self.qopy.now()),
            existing.first().map(|t| t.saturating_add(1)),
            last.map(|w| w.taken_at.saturating_add(1)),
        ]
        .into_iter()
        .flatten()
        .max()
        .unwrap_or(0);
        let q = self.qopy.clone();
        let snap = tokio::task::spawn_blocking(move || q.database_snapshot(taken_at))
            .await
            .map_err(|e| SnapshotsError::Task(e.to_string()))??;
        let name = object_name(taken_at);
        let size = snap.bytes.len();
        self.bucket.put(&name, Bytes::from(snap.bytes)).await?;
        *last = Some(Written {
            generation: snap.generation,
            taken_at,
        });
        self.metrics.written.inc();
        self.metrics.last_bytes.set(size as i64);
        self.metrics
            .last_written
            .set((taken_at / 1000).try_into().unwrap_or(i64::MAX));
        // The new one is stored; older ones beyond the newest few can go. A failure here
        // leaves one more than needed, which the next round deletes.
        let old: Vec<String> = existing
            .into_iter()
            .skip(KEEP.saturating_sub(1))
            .map(object_name)
            .collect();
        if let Err(e) = self.bucket.delete_all(old).await {
            tracing::warn!(error = %e, "could not delete old database snapshots");
        }
        Ok(Outcome::Written {
            name,
            bytes: size,
            clips: snap.clips,
        })
    }

    /// One round, logged and counted; failures are for the next round to retry.
    async fn round(&self, when: &str) {
        let started = Instant::now();
        match self.snapshot().await {
            Ok(Outcome::Written { name, bytes, clips }) => tracing::info!(
                name,
                bytes,
                clips,
                ms = started.elapsed().as_millis() as u64,
                "database snapshot written ({when})"
            ),
            Ok(Outcome::Unchanged) => {
                tracing::debug!("database unchanged since the last snapshot ({when})")
            }
            Err(e) => {
                self.metrics.failed.inc();
                tracing::warn!(error = %e, "database snapshot failed ({when}); retried at the next interval");
            }
        }
    }
}

/// Writes a snapshot every `snapshot_interval` until `stop` is cancelled.
pub async fn run(uploader: Arc<Uploader>, stop: CancellationToken) {
    let every = uploader.qopy.config().snapshot_interval;
    loop {
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = stop.cancelled() => return,
        }
        tokio::select! {
            _ = uploader.round("periodic") => {}
            // The one at shutdown follows, once the requests have drained.
            _ = stop.cancelled() => return,
        }
    }
}

/// The snapshot at shutdown, bounded in time so that an unreachable store cannot hold the
/// stop for long (what it would have saved is then as old as the last periodic snapshot).
pub async fn at_shutdown(uploader: Arc<Uploader>) {
    if tokio::time::timeout(AT_SHUTDOWN_LIMIT, uploader.round("shutdown"))
        .await
        .is_err()
    {
        uploader.metrics.failed.inc();
        tracing::warn!("database snapshot at shutdown took too long; stopping without it");
    }
}

/// What [`restore`] brought back.
#[derive(Debug, Clone)]
pub struct Restored {
    /// The snapshot's name below the prefix.
    pub name: String,
    /// What it held.
    pub info: SnapshotInfo,
    /// The database directory written.
    pub db_path: PathBuf,
    /// Newer snapshots that were damaged, with why; the restore used an older one.
    pub skipped: Vec<(String, String)>,
}

impl Restored {
    /// The lines `qopy restore` prints.
    pub fn summary(&self) -> String {
        let taken = SystemTime::UNIX_EPOCH + Duration::from_millis(self.info.taken_at);
        format!(
            "Restored database snapshot {} (taken {}) into {}: {} clips, {} drop boxes.\n\
             Start the server with the same configuration to serve them.",
            self.name,
            humantime::format_rfc3339_seconds(taken),
            self.db_path.display(),
            self.info.clips,
            self.info.dropboxes,
        )
    }
}

/// Restores the newest readable snapshot in the bucket of `config` into
/// `data_dir/db`, which must not hold a database (the data directory is created, private, if
/// absent). A damaged newest snapshot is skipped for the next older one (and reported).
pub async fn restore(config: &Config) -> Result<Restored, SnapshotsError> {
    let bucket = BucketConfig::from_config(config).and_then(|c| Bucket::open(&c))?;
    crate::private_dir::restrict_umask();
    crate::private_dir::create_dir_all(&config.data_dir).map_err(SnapshotError::Io)?;
    restore_into(&bucket, &config.data_dir.join("db")).await
}

/// [`restore`] from `bucket` into the database directory `db_path`.
pub async fn restore_into(bucket: &Bucket, db_path: &Path) -> Result<Restored, SnapshotsError> {
    // Refused before anything is downloaded (and checked again by the import).
    if std::fs::read_dir(db_path).is_ok_and(|mut d| d.next().is_some()) || db_path.is_file() {
        return Err(SnapshotError::NotEmpty(db_path.to_path_buf()).into());
    }
    let mut skipped = Vec::new();
    for taken_at in list(bucket).await? {
        let name = object_name(taken_at);
        let bytes = bucket.get(&name).await?;
        if let Err(e) = snapshot::verify_snapshot(&bytes) {
            skipped.push((name, e.to_string()));
            continue;
        }
        let path = db_path.to_path_buf();
        let info = tokio::task::spawn_blocking(move || snapshot::import_snapshot(&bytes, &path))
            .await
            .map_err(|e| SnapshotsError::Task(e.to_string()))??;
        return Ok(Restored {
            name,
            info,
            db_path: db_path.to_path_buf(),
            skipped,
        });
    }
    Err(SnapshotsError::NoSnapshot(format!(
        "{DIR}/ in the bucket ({} damaged)",
        skipped.len()
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_sort_as_times_and_only_ours_parse() {
        assert_eq!(object_name(1), "snapshots/00000000000000000001.qsnap");
        let (a, b) = (object_name(999), object_name(1_733_400_000_000));
        assert!(a < b);
        assert_eq!(
            parse_name(b.strip_prefix("snapshots/").unwrap()),
            Some(1_733_400_000_000)
        );
        assert_eq!(
            parse_name(&format!("{:020}.qsnap", u64::MAX)),
            Some(u64::MAX)
        );
        for other in [
            "1.qsnap",
            "0000000000000000000x.qsnap",
            "00000000000000000001.tmp",
            "",
        ] {
            assert_eq!(parse_name(other), None, "{other}");
        }
    }
}
