//! The use cases of Qopy, with no HTTP types: initiate an upload, store a chunk, complete,
//! look a clip up, check an access code, download (claiming one-time and limited clips), cancel,
//! and the
//! figures for the admin API, one-shot (unencrypted, single-request) uploads and image
//! previews of those. It coordinates the store (sled), the blobs (files and maps) and
//! the cache, and it decides every rule of SPEC §3: expiry counted from completion and checked
//! on every read, Quick Share forced to 6 characters and 5 minutes without access code, and
//! the downloads of one-time and limited clips claimed durably before the first byte.

mod access;
mod clips;
mod drop_send;
mod drop_waiters;
mod dropbox;
mod error;
mod figures;
mod oneshot;
mod preview;
mod snapshot;
mod sweep;
mod upload;

pub use clips::Download;
pub use dropbox::{DropItems, DropboxCreated, DropboxRequest};
pub use error::ServiceError;
pub use figures::{AdminStats, ClipSummary, Figures, SystemFigures};
pub use oneshot::OneShotRequest;
pub use sweep::{SweepKind, SweepReport};
pub use upload::{ChunkOutcome, CompleteRequest, Completed, InitiateRequest, Initiated, Status};

use crate::blobs::{BlobError, Blobs, Mapped, Remote};
/// A clip's content as downloads send it (see [`crate::blobs::Content`]).
pub use crate::blobs::{BlobError as ContentError, Content};
use crate::cache::{ClipCache, Lookup};
use crate::clock::Clock;
use crate::config::BlobStore;
use crate::config::Config;
use crate::model::{BlobDir, ChunkRecord, ClipId, ClipMeta, UploadId};
use crate::s3::{Bucket, BucketConfig};
use crate::store::{Store, StoreError};
use rand::RngCore;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{Notify, Semaphore};
use tokio_util::task::TaskTracker;

/// Lifetime of a Quick Share clip, whatever the client asks for.
pub const QUICK_SHARE_LIFETIME_MS: u64 = 5 * 60 * 1000;
/// Extra bytes a chunk may carry beyond the chunk size (crypto overhead).
pub const CHUNK_SLACK: u64 = 1024;

/// Result of the use cases.
pub type Result<T> = std::result::Result<T, ServiceError>;

/// The application core shared by every request. Its parts are its own: callers go through
/// the use cases and the figures below.
pub struct Qopy {
    /// The configuration in force.
    config: Config,
    /// Metadata.
    store: Store,
    /// Content files.
    blobs: Blobs,
    /// Clip metadata cache.
    cache: ClipCache,
    /// The time source.
    clock: Arc<dyn Clock>,
    /// The public salt of client-side access-code hashing (`GET /api/config`).
    pbkdf2_salt: String,
    /// Secret key of the server-side access-code MAC; never leaves the process.
    server_key: [u8; 32],
    /// Process start, for uptime.
    started: Instant,
    /// Bounds concurrent heavy blocking work (mapping, sweeping).
    heavy: Semaphore,
    /// Wakes the sweeper when a clip with an early expiry appears.
    sweeper_wake: Notify,
    /// Bounds concurrent image decoding for previews (each may use up to its allocation limit).
    previews: Semaphore,
    /// Work that holds the core off the request path (blocking work, bookkeeping after a
    /// response): shutdown waits for it before the database is closed.
    tasks: TaskTracker,
    /// Cancelled when shutdown starts: background waits that may last long (a claim's
    /// delivery) stop then instead of holding the core.
    closing: tokio_util::sync::CancellationToken,
    /// Claims (by token hash) with an answer being sent now, and how many: the sweeper
    /// leaves their windows open.
    streaming: parking_lot::Mutex<std::collections::HashMap<[u8; 32], usize>>,
    /// The long polls waiting for items of drop boxes.
    drop_waiters: drop_waiters::Waiters,
    /// Cancelled as soon as shutdown starts (before connections drain): long polls answer
    /// at once then instead of holding the drain.
    stopping: tokio_util::sync::CancellationToken,
}

fn random_hex(bytes: usize) -> Vec<u8> {
    let mut b = vec![0u8; bytes];
    rand::rngs::OsRng.fill_bytes(&mut b);
    hex::encode(b).into_bytes()
}

impl Qopy {
    /// Opens the store and blob area under the configured data directory, creating it (mode
    /// 0700) or making an existing one private first. Blocking.
    pub fn open(config: Config, clock: Arc<dyn Clock>) -> Result<Qopy> {
        let io = |e: std::io::Error| ServiceError::Blob(e.into());
        crate::private_dir::create_dir_all(&config.data_dir).map_err(io)?;
        // Before sled opens its files: a data directory left readable by others (an older
        // version, a copy made by hand) is made private first.
        crate::private_dir::tighten(&config.data_dir).map_err(io)?;
        let store = Store::open(&config.data_dir.join("db"))?;
        let blobs = match config.blob_store {
            BlobStore::Local => Blobs::open(&config.data_dir)?,
            BlobStore::S3 => {
                let bucket = BucketConfig::from_config(&config)
                    .and_then(|c| Bucket::open(&c))
                    .map_err(|e| ServiceError::StoreUnavailable(e.to_string()))?;
                let rt = tokio::runtime::Handle::try_current().map_err(|_| {
                    ServiceError::Task("the S3 blob store needs a Tokio runtime".into())
                })?;
                Blobs::open_remote(&config.data_dir, Remote::new(bucket, rt))
            }
        };
        let salt = store.meta_or_init("pbkdf2_salt", || random_hex(32))?;
        let key = store.meta_or_init("server_key", || {
            let mut k = vec![0u8; 32];
            rand::rngs::OsRng.fill_bytes(&mut k);
            k
        })?;
        let server_key: [u8; 32] = key
            .as_slice()
            .try_into()
            .map_err(|_| StoreError::Corrupt("server key".into()))?;
        Ok(Qopy {
            pbkdf2_salt: String::from_utf8_lossy(&salt).into_owned(),
            server_key,
            cache: ClipCache::new(100_000),
            started: Instant::now(),
            heavy: Semaphore::new(16),
            sweeper_wake: Notify::new(),
            previews: Semaphore::new(2),
            tasks: TaskTracker::new(),
            closing: tokio_util::sync::CancellationToken::new(),
            streaming: Default::default(),
            drop_waiters: Default::default(),
            stopping: tokio_util::sync::CancellationToken::new(),
            config,
            store,
            blobs,
            clock,
        })
    }

    /// Now, in milliseconds since the epoch.
    pub fn now(&self) -> u64 {
        self.clock.now_ms()
    }

    /// The configuration in force.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The public salt of client-side access-code hashing.
    pub fn pbkdf2_salt(&self) -> &str {
        &self.pbkdf2_salt
    }

    /// Time since the core was opened.
    pub fn uptime(&self) -> Duration {
        self.started.elapsed()
    }

    /// The store, for offline checks of a data directory (tests, benchmarks) on a core that
    /// is not serving. Request handling goes through the use cases.
    #[doc(hidden)]
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The blob area: for offline checks like [`Qopy::store`], and for the bucket client
    /// that start-up checks and the database snapshots share with it.
    pub fn blobs(&self) -> &Blobs {
        &self.blobs
    }

    /// Makes every database write so far durable (on the flusher thread).
    pub async fn flush(&self) -> Result<()> {
        Ok(self.store.flush().await?)
    }

    /// Watches the database's flushes, for the stall watchdog.
    pub fn flush_monitor(&self) -> crate::store::FlushMonitor {
        self.store.flush_monitor()
    }

    /// Writes the health probe's record (not yet durable: [`Qopy::flush`] makes it so).
    /// Blocking.
    pub fn write_probe(&self, now: u64) -> Result<()> {
        Ok(self.store.write_probe(now)?)
    }

    /// Shutdown has started: waits that serve a request (the long polls of drop boxes)
    /// answer now, so connections drain at once.
    pub fn shutdown_started(&self) {
        self.stopping.cancel();
    }

    /// Waits, for at most `limit`, until the work that holds the core off the request path
    /// is done. Work started after this call is waited for too. False when time ran out.
    pub async fn finish_tasks(&self, limit: Duration) -> bool {
        self.stopping.cancel();
        self.closing.cancel();
        self.tasks.close();
        tokio::time::timeout(limit, self.tasks.wait()).await.is_ok()
    }

    /// A live (unexpired) clip, from the cache or the store. A cache hit answers at once; a
    /// miss reads the store on the blocking pool.
    pub async fn live_clip(self: &Arc<Self>, id: &ClipId) -> Result<Arc<ClipMeta>> {
        match self.cache.get(id, self.now()) {
            Lookup::Hit(m) => Ok(m),
            Lookup::Gone => Err(ServiceError::NotFound),
            Lookup::Miss => {
                let id = *id;
                self.blocking(move |q| q.live_clip_blocking(&id)).await
            }
        }
    }

    /// [`Qopy::live_clip`] for blocking code.
    pub fn live_clip_blocking(&self, id: &ClipId) -> Result<Arc<ClipMeta>> {
        let now = self.now();
        match self.cache.get(id, now) {
            Lookup::Hit(m) => Ok(m),
            Lookup::Gone => Err(ServiceError::NotFound),
            Lookup::Miss => {
                let meta = self.store.clip(id)?.ok_or(ServiceError::NotFound)?;
                let meta = Arc::new(meta);
                if now >= meta.expires_at {
                    return Err(ServiceError::NotFound);
                }
                // Kept while its last downloads are open, but no longer there for anybody else.
                if let Some(max) = meta.max_downloads {
                    if self.store.claims(id)?.exhausted(max) {
                        self.cache.mark_gone(id, now);
                        return Err(ServiceError::NotFound);
                    }
                }
                self.cache.fill(meta.clone());
                Ok(meta)
            }
        }
    }

    /// Checks that the `count` chunks of an upload, `size` bytes in all, are on disk, and
    /// caches their maps as its clip's content. When every chunk was mapped as it was
    /// written this costs the same for any number of chunks; otherwise (after a restart or
    /// an eviction) each chunk file is mapped and checked against its record. In a bucket
    /// there is nothing to do: a chunk is recorded only once the store has acknowledged its
    /// object, and the session's counts already say every chunk is there. Blocking.
    pub fn adopt_content(
        &self,
        blob: BlobDir,
        upload: UploadId,
        count: u32,
        size: u64,
    ) -> Result<()> {
        if self.blobs.remote().is_some() {
            return Ok(());
        }
        if !self.blobs.adopt_remembered(blob, count, size) {
            self.map_from_records(blob, upload, count, size)?;
        }
        Ok(())
    }

    /// A clip's content: maps of its chunk files in order (cached, or mapped and checked now
    /// from the chunk records), or its chunk objects named by the records. Blocking.
    pub fn clip_content(&self, clip: &ClipMeta) -> Result<Content> {
        if self.blobs.remote().is_some() {
            let records = self.chunk_records(clip.upload, clip.chunk_count, clip.size)?;
            let chunks = records
                .iter()
                .enumerate()
                .map(|(n, r)| (n as u32, r.token, r.len))
                .collect();
            return self
                .blobs
                .objects(clip.blob, chunks)
                .ok_or(ServiceError::ContentMissing);
        }
        let maps = match self.blobs.cached_maps(clip.blob, clip.chunk_count) {
            Some(m) => m,
            None => self.map_from_records(clip.blob, clip.upload, clip.chunk_count, clip.size)?,
        };
        Ok(Content::Mapped(maps.to_vec()))
    }

    /// The records of chunks `0..count` of an upload, checked to hold `size` bytes.
    fn chunk_records(&self, upload: UploadId, count: u32, size: u64) -> Result<Vec<ChunkRecord>> {
        let records: Vec<ChunkRecord> = self
            .store
            .chunks(upload)?
            .into_iter()
            .enumerate()
            .take_while(|(i, (n, _))| *i as u32 == *n)
            .map(|(_, (_, r))| r)
            .collect();
        if records.len() != count as usize || records.iter().map(|r| r.len).sum::<u64>() != size {
            return Err(ServiceError::ContentMissing);
        }
        Ok(records)
    }

    fn map_from_records(
        &self,
        blob: BlobDir,
        upload: UploadId,
        count: u32,
        size: u64,
    ) -> Result<Mapped> {
        let records = self.chunk_records(upload, count, size)?;
        self.blobs
            .map_and_cache(blob, &records)
            .map_err(|e| match e {
                BlobError::Damaged(_) => ServiceError::ContentMissing,
                e => e.into(),
            })
    }

    /// Checks the storage reserve and quota before accepting `incoming` more bytes. With the
    /// content in a bucket, the disk keeps only the database: its reserve must stay free,
    /// but the incoming bytes go elsewhere. Blocking.
    pub fn check_room(&self, incoming: u64) -> Result<()> {
        let free = self
            .blobs
            .free_space()
            .map_err(|e| ServiceError::Blob(e.into()))?;
        let on_disk = match self.blobs.remote() {
            Some(_) => 0,
            None => incoming,
        };
        if free < self.config.min_free_disk.saturating_add(on_disk) {
            return Err(ServiceError::InsufficientStorage(format!(
                "the server keeps {} bytes of disk free and cannot accept {} more bytes now",
                self.config.min_free_disk, incoming
            )));
        }
        if let Some(quota) = self.config.max_storage {
            let used = self.store.counter(crate::store::counter::STORED_BYTES)?;
            if used.saturating_add(incoming) > quota {
                return Err(ServiceError::InsufficientStorage(
                    "the server's storage quota is used up; try again after clips expire".into(),
                ));
            }
        }
        Ok(())
    }

    /// Runs blocking work on the blocking pool.
    pub async fn blocking<T: Send + 'static>(
        self: &Arc<Self>,
        f: impl FnOnce(&Qopy) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let me = self.clone();
        self.tasks.spawn_blocking(move || f(&me)).await?
    }
}
