//! The blob area on an S3 bucket (`blob_store = "s3"`): the same directories and chunk
//! names as on disk, as object names `blobs/<dir>/<chunk>` below the configured prefix.
//! A chunk's body is gathered in memory (under a budget shared by all uploads, so many slow
//! uploads cannot exhaust memory) and stored with one PUT; the chunk is acknowledged only
//! once the store has acknowledged the PUT. Objects are never modified, only deleted.
//! Blocking callers (the blocking pool) wait for the store through the runtime's handle.

use super::{chunk_file_name, owned_names, BlobError, PREVIEW_FILE};
use crate::model::BlobDir;
use crate::s3::{Bucket, S3Error};
use bytes::{Bytes, BytesMut};
use rand::RngCore;
use sha2::{Digest, Sha256};
use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// The prefix (below `s3_prefix`) of every content object.
const AREA: &str = "blobs";

/// Bytes of chunk bodies held in memory at once, over all uploads.
const BUFFER_BUDGET: u64 = 512 << 20;
/// The unit the budget is counted in.
const BUFFER_UNIT: u64 = 64 << 10;
/// How long a chunk body waits for its share of the budget before it is refused (503,
/// `Retry-After`): the client retries, instead of its request hanging.
const BUFFER_WAIT: Duration = Duration::from_secs(20);

impl From<S3Error> for BlobError {
    fn from(e: S3Error) -> BlobError {
        match e {
            S3Error::NotFound => BlobError::Io(std::io::Error::from(std::io::ErrorKind::NotFound)),
            S3Error::Unavailable(m) | S3Error::Config(m) => BlobError::Unavailable(m),
        }
    }
}

/// How long deletions are not tried after one failed for an unavailable store: a sweep of a
/// thousand expired clips must not wait out the retries a thousand times. The records are
/// gone already; the sweeper's orphan pass removes the objects later.
const DELETES_PAUSE: Duration = Duration::from_secs(30);

/// The bucket as a blob area.
pub struct Remote {
    bucket: Bucket,
    rt: tokio::runtime::Handle,
    buffers: Arc<Semaphore>,
    /// Until when deletions are skipped (see [`DELETES_PAUSE`]).
    deletes_paused: parking_lot::Mutex<Option<std::time::Instant>>,
}

impl Remote {
    /// The blob area in `bucket`; `rt` runs the requests of blocking callers.
    pub fn new(bucket: Bucket, rt: tokio::runtime::Handle) -> Remote {
        Remote {
            bucket,
            rt,
            buffers: Arc::new(Semaphore::new((BUFFER_BUDGET / BUFFER_UNIT) as usize)),
            deletes_paused: parking_lot::Mutex::new(None),
        }
    }

    /// Runs a deletion (or the listing it needs) from blocking code, unless deletions are
    /// paused after a failure; an unavailable store pauses them.
    fn delete_with<T>(&self, f: impl Future<Output = Result<T, S3Error>>) -> Result<T, BlobError> {
        if let Some(until) = *self.deletes_paused.lock() {
            if std::time::Instant::now() < until {
                return Err(BlobError::Unavailable(
                    "deletions paused: the store failed moments ago".into(),
                ));
            }
        }
        match self.wait(f) {
            Err(S3Error::Unavailable(m)) => {
                *self.deletes_paused.lock() = Some(std::time::Instant::now() + DELETES_PAUSE);
                Err(BlobError::Unavailable(m))
            }
            r => Ok(r?),
        }
    }

    /// The bucket.
    pub fn bucket(&self) -> &Bucket {
        &self.bucket
    }

    /// Waits for `f` from blocking code (a thread of the blocking pool, never an async
    /// thread).
    fn wait<T>(&self, f: impl Future<Output = T>) -> T {
        self.rt.block_on(f)
    }

    fn dir_name(dir: BlobDir) -> String {
        format!("{AREA}/{}", dir.name())
    }

    /// The object name of chunk `n` of `dir`.
    pub fn chunk_name(dir: BlobDir, n: u32, token: u64) -> String {
        format!("{}/{}", Self::dir_name(dir), chunk_file_name(n, token))
    }

    fn preview_name(dir: BlobDir) -> String {
        format!("{}/{PREVIEW_FILE}", Self::dir_name(dir))
    }

    /// Metadata of chunk `n`, to check that a clip's content is there. Async.
    pub async fn check_chunk(&self, dir: BlobDir, n: u32, token: u64) -> Result<(), BlobError> {
        match self
            .bucket
            .get_range(&Self::chunk_name(dir, n, token), 0..1)
            .await
        {
            Ok(_) => Ok(()),
            Err(S3Error::NotFound) => Err(BlobError::Damaged(n)),
            Err(e) => Err(e.into()),
        }
    }

    /// Bytes `range` of chunk `n`, streamed. Async.
    pub async fn chunk_stream(
        &self,
        dir: BlobDir,
        n: u32,
        token: u64,
        range: std::ops::Range<u64>,
    ) -> Result<impl futures_util::Stream<Item = Result<Bytes, S3Error>> + Send + 'static, BlobError>
    {
        match self
            .bucket
            .stream_range(&Self::chunk_name(dir, n, token), range)
            .await
        {
            Ok(s) => Ok(s),
            Err(S3Error::NotFound) => Err(BlobError::Damaged(n)),
            Err(e) => Err(e.into()),
        }
    }

    /// Bytes `range` of chunk `n`. Blocking.
    pub fn chunk_range(
        &self,
        dir: BlobDir,
        n: u32,
        token: u64,
        range: std::ops::Range<u64>,
    ) -> Result<Bytes, BlobError> {
        match self.wait(
            self.bucket
                .get_range(&Self::chunk_name(dir, n, token), range),
        ) {
            Ok(b) => Ok(b),
            Err(S3Error::NotFound) => Err(BlobError::Damaged(n)),
            Err(e) => Err(e.into()),
        }
    }

    /// Removes one chunk object. Blocking.
    pub fn remove_chunk(&self, dir: BlobDir, n: u32, token: u64) -> Result<(), BlobError> {
        self.delete_with(self.bucket.delete(&Self::chunk_name(dir, n, token)))
    }

    /// Removes every object of a directory. Blocking.
    pub fn remove_dir(&self, dir: BlobDir) -> Result<(), BlobError> {
        let prefix = Self::dir_name(dir);
        self.delete_with(async {
            let names = self
                .bucket
                .list(&prefix)
                .await?
                .into_iter()
                .map(|o| format!("{prefix}/{}", o.name))
                .collect();
            self.bucket.delete_all(names).await
        })
    }

    /// Removes, with one listing of the area and batched deletes, every object that no
    /// record owns and that is older than `grace`: objects of directories not in `owned`,
    /// objects of owned directories that are not among their chunks (number, token) or the
    /// preview, and objects outside any directory. Ages are taken at `now`. Blocking.
    pub fn remove_unowned(
        &self,
        owned: &HashMap<BlobDir, Vec<(u32, u64)>>,
        grace: Duration,
        now: SystemTime,
    ) -> Result<u64, BlobError> {
        let objects = self.delete_with(self.bucket.list(AREA))?;
        let keep: HashMap<BlobDir, HashSet<String>> = owned
            .iter()
            .map(|(d, files)| (*d, owned_names(files)))
            .collect();
        let doomed: Vec<String> = objects
            .into_iter()
            .filter(|o| now.duration_since(o.modified).unwrap_or_default() >= grace)
            .filter(|o| {
                let owner = o
                    .name
                    .split_once('/')
                    .and_then(|(d, f)| Some((BlobDir::parse(d)?, f)));
                match owner {
                    Some((d, file)) => !keep.get(&d).is_some_and(|k| k.contains(file)),
                    None => true,
                }
            })
            .map(|o| format!("{AREA}/{}", o.name))
            .collect();
        let n = doomed.len() as u64;
        self.delete_with(self.bucket.delete_all(doomed))?;
        Ok(n)
    }

    /// The cached preview of a clip. Blocking.
    pub fn read_preview(&self, dir: BlobDir) -> Option<Bytes> {
        self.wait(self.bucket.get(&Self::preview_name(dir))).ok()
    }

    /// Stores a clip's preview. Blocking.
    pub fn write_preview(&self, dir: BlobDir, data: &[u8]) -> Result<(), BlobError> {
        let data = Bytes::copy_from_slice(data);
        Ok(self.wait(self.bucket.put(&Self::preview_name(dir), data))?)
    }
}

/// The writing end of one chunk upload to the bucket.
pub struct ObjectSink {
    remote: Arc<Remote>,
    dir: BlobDir,
    n: u32,
    limit: u64,
    received: u64,
    body: BytesMut,
    /// This body's share of the memory budget, taken with its first bytes.
    budget: Option<OwnedSemaphorePermit>,
}

impl ObjectSink {
    pub(super) fn start(remote: Arc<Remote>, dir: BlobDir, n: u32, limit: u64) -> ObjectSink {
        ObjectSink {
            remote,
            dir,
            n,
            limit,
            received: 0,
            body: BytesMut::new(),
            budget: None,
        }
    }

    /// Bytes accepted so far.
    pub fn received(&self) -> u64 {
        self.received
    }

    /// Takes one piece of the body.
    pub async fn write(&mut self, data: Bytes) -> Result<(), BlobError> {
        if data.is_empty() {
            return Ok(());
        }
        self.received += data.len() as u64;
        if self.received > self.limit {
            self.abandon();
            return Err(BlobError::TooLarge(self.limit));
        }
        if self.budget.is_none() {
            // A whole chunk's share at once: partial shares could leave every body waiting
            // for memory another holds.
            let units = self.limit.min(BUFFER_BUDGET).div_ceil(BUFFER_UNIT) as u32;
            let wanted = self.remote.buffers.clone().acquire_many_owned(units);
            let permit = match tokio::time::timeout(BUFFER_WAIT, wanted).await {
                Ok(p) => p.map_err(|e| BlobError::Io(std::io::Error::other(e.to_string())))?,
                Err(_) => {
                    return Err(BlobError::Unavailable(
                        "the server is busy passing other uploads to the store".into(),
                    ))
                }
            };
            self.budget = Some(permit);
            // The whole limit at once, so the buffer never doubles past what the budget
            // counts (pages never written are never used).
            self.body.reserve(self.limit as usize);
        }
        self.body.extend_from_slice(&data);
        Ok(())
    }

    /// Gives the body up.
    pub fn abandon(&mut self) {
        self.body = BytesMut::new();
        self.budget = None;
    }

    /// Stores the body as the chunk's object; Ok once the store has acknowledged it.
    pub async fn finish(mut self) -> Result<super::WrittenChunk, BlobError> {
        let body = std::mem::take(&mut self.body).freeze();
        let len = body.len() as u64;
        let hashed = body.clone();
        let sha256: [u8; 32] = tokio::task::spawn_blocking(move || Sha256::digest(&hashed).into())
            .await
            .map_err(|e| BlobError::Io(std::io::Error::other(e.to_string())))?;
        let token = rand::rngs::OsRng.next_u64();
        let name = Remote::chunk_name(self.dir, self.n, token);
        self.remote.bucket.put(&name, body).await?;
        Ok(super::WrittenChunk {
            len,
            sha256,
            token,
            map: Bytes::new(),
        })
    }
}
