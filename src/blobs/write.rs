//! Crash-safe streaming writes of chunk files. The request task gathers body pieces on the
//! async side (waiting for a slow client holds no thread) and hands each whole buffer of
//! [`WRITE_STEP`] bytes to the blocking pool, where one of a bounded set of writers hashes and
//! writes it to a temporary file. Up to [`IN_FLIGHT`] writers of one chunk may be under way:
//! each takes the file from the one before it, so the body keeps arriving while the disk
//! works. At the end the file is fsynced, renamed to its final name and the directory
//! fsynced. Every path that does not reach the rename removes the temporary file (on the
//! blocking pool, never on an async thread), so a failed or abandoned write leaves nothing
//! behind.

use super::{BlobError, Blobs};
use crate::private_dir::AtomicFile;
use bytes::Bytes;
use rand::RngCore;
use sha2::{Digest, Sha256};
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio::sync::Semaphore;
use tokio::task::JoinHandle;

/// A chunk that is on disk under its final name, durably.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WrittenChunk {
    /// Length in bytes.
    pub len: u64,
    /// SHA-256 of the bytes.
    pub sha256: [u8; 32],
    /// The random token in the file name.
    pub token: u64,
    /// The chunk file, memory-mapped (empty for an empty chunk), so completing the upload
    /// later has nothing left to map.
    pub map: Bytes,
}

/// How many bytes are gathered before they are handed to a writer: small enough that the
/// last buffer of a chunk, written after its body ends, adds little to the answer's time.
const WRITE_STEP: usize = 256 << 10;

/// The step at which the file's writeback to disk is started.
const WRITEBACK_STEP: u64 = 1 << 20;

/// Writers running at once, over all uploads: waiting uploads queue for a writer instead of
/// taking threads of the blocking pool, which downloads and lookups need too.
pub const WRITERS: usize = 16;

std::thread_local! {
    /// Set while this thread runs a writer's blocking work.
    static IN_WRITER: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Runs blocking work of a writer (on the blocking pool): temporary files dropped during it
/// are removed at once.
fn as_writer<T>(f: impl FnOnce() -> T) -> T {
    IN_WRITER.with(|w| w.set(true));
    let r = f();
    IN_WRITER.with(|w| w.set(false));
    r
}

/// Removes an abandoned temporary file: at once in a writer's blocking work or outside any
/// runtime, else (dropped on an async thread, by a cancelled request) on the blocking pool,
/// so the file system is never touched from an async thread.
fn discard(tmp: PathBuf) {
    match tokio::runtime::Handle::try_current() {
        Ok(rt) if !IN_WRITER.with(|w| w.get()) => {
            rt.spawn_blocking(move || fs::remove_file(tmp));
        }
        _ => {
            let _ = fs::remove_file(tmp);
        }
    }
}

/// The temporary file of a chunk being written. Dropping it removes the file: drop it on
/// the blocking pool.
struct Partial {
    file: AtomicFile,
    hasher: Sha256,
    len: u64,
    /// Bytes handed to the disk so far, ahead of the final fsync.
    written_back: u64,
}

impl Partial {
    fn create(dir: &Path) -> Result<Partial, BlobError> {
        // Readable too: the finished file is memory-mapped through this descriptor.
        let file = AtomicFile::create_with(dir, discard).map_err(BlobError::from_io)?;
        Ok(Partial {
            file,
            hasher: Sha256::new(),
            len: 0,
            written_back: 0,
        })
    }

    fn append(&mut self, pieces: &[Bytes]) -> Result<(), BlobError> {
        for b in pieces {
            self.hasher.update(b);
            self.file.file().write_all(b).map_err(BlobError::from_io)?;
            self.len += b.len() as u64;
        }
        if self.len - self.written_back >= WRITEBACK_STEP {
            start_writeback(
                self.file.file(),
                self.written_back,
                self.len - self.written_back,
            );
            self.written_back = self.len;
        }
        Ok(())
    }

    /// fsync, rename into place, fsync the directory, map.
    fn seal(self, n: u32) -> Result<WrittenChunk, BlobError> {
        let token = rand::rngs::OsRng.next_u64();
        let file = self
            .file
            .commit(super::chunk_file_name(n, token))
            .map_err(BlobError::from_io)?;
        // Should the map fail, the file is unowned (no record names it) and the sweeper
        // removes it.
        let map = super::map_file(&file, self.len)?;
        Ok(WrittenChunk {
            len: self.len,
            sha256: self.hasher.finalize().into(),
            token,
            map,
        })
    }
}

/// Starts writing a range of the file to disk without waiting for it, so that the disk works
/// while the rest of the chunk is still arriving and the final fsync has only the tail left
/// to wait for. Only a hint: on failure the fsync does all the work.
fn start_writeback(f: &fs::File, offset: u64, len: u64) {
    use std::os::fd::AsRawFd;
    // SAFETY: sync_file_range only reads its arguments; the descriptor is open for writing.
    unsafe {
        libc::sync_file_range(
            f.as_raw_fd(),
            offset as libc::off64_t,
            len as libc::off64_t,
            libc::SYNC_FILE_RANGE_WRITE,
        );
    }
}

/// Writers of one chunk that may run at once: while one writes, the next waits for the file
/// and the body keeps arriving, so a fast client rarely waits for the disk.
const IN_FLIGHT: usize = 2;

/// The writing end of one chunk upload to a file. Dropping it without [`FileSink::finish`] abandons
/// the write and removes the temporary file.
pub struct FileSink {
    dir: PathBuf,
    n: u32,
    limit: u64,
    received: u64,
    /// Pieces gathered since the last hand-over.
    gathered: Vec<Bytes>,
    gathered_len: usize,
    /// The writers dispatched and not yet awaited, oldest first. Each gets the temporary file
    /// from the one before it and passes it on.
    writing: std::collections::VecDeque<JoinHandle<Result<(), BlobError>>>,
    /// Where the file arrives once the last dispatched writer is done with it.
    next: Option<tokio::sync::oneshot::Receiver<Partial>>,
    writers: Arc<Semaphore>,
}

fn task_failed(e: tokio::task::JoinError) -> BlobError {
    BlobError::Io(std::io::Error::other(e.to_string()))
}

impl FileSink {
    pub(super) fn start(dir: PathBuf, n: u32, limit: u64, writers: Arc<Semaphore>) -> FileSink {
        FileSink {
            dir,
            n,
            limit,
            received: 0,
            gathered: Vec::new(),
            gathered_len: 0,
            writing: Default::default(),
            next: None,
            writers,
        }
    }

    /// Bytes accepted so far.
    pub fn received(&self) -> u64 {
        self.received
    }

    /// Takes one piece of the body. Fails when the limit is passed or a writer failed.
    pub async fn write(&mut self, data: Bytes) -> Result<(), BlobError> {
        if data.is_empty() {
            // Nothing to write: an empty body must not create a file.
            return Ok(());
        }
        self.received += data.len() as u64;
        if self.received > self.limit {
            // Let the writer remove its temporary file before the refusal is answered.
            self.abandon().await;
            return Err(BlobError::TooLarge(self.limit));
        }
        self.gathered_len += data.len();
        self.gathered.push(data);
        if self.gathered_len >= WRITE_STEP {
            self.hand_over().await?;
        }
        Ok(())
    }

    /// Gives the gathered buffer to a new writer, which takes the file from the previous one
    /// (or creates it with the first bytes); at most [`IN_FLIGHT`] run at once.
    async fn hand_over(&mut self) -> Result<(), BlobError> {
        while self.writing.len() >= IN_FLIGHT {
            if let Some(h) = self.writing.pop_front() {
                h.await.map_err(task_failed)??;
            }
        }
        let pieces = std::mem::take(&mut self.gathered);
        self.gathered_len = 0;
        let permit = self.writer().await?;
        let dir = self.dir.clone();
        let (pass_on, arrives) = tokio::sync::oneshot::channel();
        let previous = self.next.replace(arrives);
        self.writing.push_back(tokio::task::spawn_blocking(move || {
            as_writer(|| {
                let _permit = permit;
                let mut p = match previous {
                    // The previous writer failed if it passes nothing on; its own error is
                    // the one reported.
                    Some(rx) => rx.blocking_recv().map_err(|_| BlobError::Interrupted)?,
                    None => Partial::create(&dir)?,
                };
                p.append(&pieces)?;
                // Fails only when the sink was given up: the file is then removed here.
                let _ = pass_on.send(p);
                Ok(())
            })
        }));
        Ok(())
    }

    /// A place among the bounded set of writers.
    async fn writer(&self) -> Result<tokio::sync::OwnedSemaphorePermit, BlobError> {
        self.writers
            .clone()
            .acquire_owned()
            .await
            .map_err(|e| BlobError::Io(std::io::Error::other(e.to_string())))
    }

    /// The temporary file, once every writer is done with it (the first writer error, if any).
    async fn take_partial(&mut self) -> Result<Option<Partial>, BlobError> {
        let mut first_error = None;
        while let Some(h) = self.writing.pop_front() {
            if let Err(e) = h.await.map_err(task_failed).and_then(|r| r) {
                first_error.get_or_insert(e);
            }
        }
        let partial = self.next.take().and_then(|mut rx| rx.try_recv().ok());
        match first_error {
            Some(e) => {
                if let Some(p) = partial {
                    let _ = tokio::task::spawn_blocking(move || as_writer(|| drop(p))).await;
                }
                Err(e)
            }
            None => Ok(partial),
        }
    }

    /// Gives the body up: returns once the temporary file is removed.
    pub async fn abandon(&mut self) {
        self.gathered.clear();
        self.gathered_len = 0;
        if let Ok(Some(p)) = self.take_partial().await {
            let _ = tokio::task::spawn_blocking(move || as_writer(|| drop(p))).await;
        }
    }

    /// Ends the body: the chunk is durable under its final name when this returns Ok.
    /// The last buffer is written and the file sealed by one writer.
    pub async fn finish(mut self) -> Result<WrittenChunk, BlobError> {
        let partial = self.take_partial().await?;
        let pieces = std::mem::take(&mut self.gathered);
        let permit = self.writer().await?;
        let dir = std::mem::take(&mut self.dir);
        let n = self.n;
        tokio::task::spawn_blocking(move || {
            as_writer(|| {
                let _permit = permit;
                let mut p = match partial {
                    Some(p) => p,
                    None => Partial::create(&dir)?,
                };
                p.append(&pieces)?;
                p.seal(n)
            })
        })
        .await
        .map_err(task_failed)?
    }
}

impl Blobs {
    /// The cached preview of a clip, if one was written. Blocking.
    pub fn read_preview(&self, dir: crate::model::BlobDir) -> Option<Bytes> {
        if let Some(r) = self.remote() {
            return r.read_preview(dir);
        }
        fs::read(self.dir_path(dir).join(super::PREVIEW_FILE))
            .ok()
            .map(Bytes::from)
    }

    /// Stores a clip's preview crash-safely (temporary file with mode 0600, fsync, rename,
    /// fsync of the directory). Never creates the directory: a clip removed meanwhile gets no
    /// preview file.
    /// Blocking.
    pub fn write_preview(&self, dir: crate::model::BlobDir, data: &[u8]) -> Result<(), BlobError> {
        if let Some(r) = self.remote() {
            return r.write_preview(dir, data);
        }
        let dir = self.dir_path(dir);
        as_writer(|| {
            let f = AtomicFile::create_with(&dir, discard).map_err(BlobError::from_io)?;
            f.file().write_all(data).map_err(BlobError::from_io)?;
            f.commit(super::PREVIEW_FILE).map_err(BlobError::from_io)?;
            Ok(())
        })
    }
}
