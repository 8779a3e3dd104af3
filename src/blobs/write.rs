//! Crash-safe streaming writes of chunk files. The request task hands body pieces over a
//! small bounded channel to one blocking writer, which hashes and writes them to a temporary
//! file, then fsyncs it, renames it to its final name and fsyncs the directory. A guard
//! removes the temporary file on every path that does not reach the rename, so a failed or
//! abandoned write leaves nothing behind.

use super::{sync_dir, BlobError, Blobs};
use bytes::Bytes;
use rand::RngCore;
use sha2::{Digest, Sha256};
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use tokio::sync::mpsc;
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

enum Msg {
    Data(Bytes),
    Finish,
}

/// The writing end of one chunk upload. Dropping it without [`ChunkSink::finish`] abandons
/// the write and removes the temporary file.
pub struct ChunkSink {
    tx: Option<mpsc::Sender<Msg>>,
    handle: Option<JoinHandle<Result<WrittenChunk, BlobError>>>,
    limit: u64,
    received: u64,
}

/// Removes a temporary file unless disarmed.
struct TempGuard(Option<PathBuf>);

impl Drop for TempGuard {
    fn drop(&mut self) {
        if let Some(p) = self.0.take() {
            let _ = fs::remove_file(p);
        }
    }
}

fn write_blocking(
    dir: PathBuf,
    n: u32,
    mut rx: mpsc::Receiver<Msg>,
) -> Result<WrittenChunk, BlobError> {
    let mut rng = rand::rngs::OsRng;
    let tmp = dir.join(format!(".tmp-{:016x}", rng.next_u64()));
    // Created with the first bytes, so a request refused before its body (or with an empty
    // body) never touches the disk.
    let create = |guard: &mut TempGuard| {
        // Readable too: the finished file is memory-mapped through this descriptor.
        let f = fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&tmp)
            .map_err(BlobError::from_io)?;
        guard.0 = Some(tmp.clone());
        Ok::<_, BlobError>(f)
    };
    let mut guard = TempGuard(None);
    let mut file: Option<fs::File> = None;
    let mut hasher = Sha256::new();
    let mut len = 0u64;
    // Bytes handed to the disk so far, ahead of the final fsync.
    let mut written_back = 0u64;
    loop {
        match rx.blocking_recv() {
            Some(Msg::Data(b)) => {
                let f = match &mut file {
                    Some(f) => f,
                    None => file.insert(create(&mut guard)?),
                };
                hasher.update(&b);
                f.write_all(&b).map_err(BlobError::from_io)?;
                len += b.len() as u64;
                if len - written_back >= WRITEBACK_STEP {
                    start_writeback(f, written_back, len - written_back);
                    written_back = len;
                }
            }
            Some(Msg::Finish) => break,
            None => return Err(BlobError::Interrupted),
        }
    }
    let file = match file {
        Some(f) => f,
        None => create(&mut guard)?,
    };
    file.sync_all().map_err(BlobError::from_io)?;
    let map = super::map_file(&file, len)?;
    drop(file);
    let token = rng.next_u64();
    let name = format!("{n:08}-{token:016x}");
    rename_durably(&tmp, &dir.join(name), &dir)?;
    guard.0 = None;
    Ok(WrittenChunk {
        len,
        sha256: hasher.finalize().into(),
        token,
        map,
    })
}

/// How much of a chunk is written before its writeback to disk is started.
const WRITEBACK_STEP: u64 = 1 << 20;

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

fn rename_durably(from: &Path, to: &Path, dir: &Path) -> Result<(), BlobError> {
    fs::rename(from, to).map_err(BlobError::from_io)?;
    sync_dir(dir).map_err(BlobError::from_io)
}

impl ChunkSink {
    pub(super) fn start(dir: PathBuf, n: u32, limit: u64) -> ChunkSink {
        let (tx, rx) = mpsc::channel(8);
        let handle = tokio::task::spawn_blocking(move || write_blocking(dir, n, rx));
        ChunkSink {
            tx: Some(tx),
            handle: Some(handle),
            limit,
            received: 0,
        }
    }

    /// Bytes accepted so far.
    pub fn received(&self) -> u64 {
        self.received
    }

    /// Queues one piece of the body. Fails when the limit is passed or the writer failed.
    pub async fn write(&mut self, data: Bytes) -> Result<(), BlobError> {
        if data.is_empty() {
            // Nothing to write: an empty body must not create a file.
            return Ok(());
        }
        self.received += data.len() as u64;
        if self.received > self.limit {
            // Let the writer remove its temporary file before the refusal is answered.
            let _ = self.join().await;
            return Err(BlobError::TooLarge(self.limit));
        }
        let Some(tx) = &self.tx else {
            return Err(BlobError::Interrupted);
        };
        if tx.send(Msg::Data(data)).await.is_err() {
            // The writer stopped early: its own error says why.
            return Err(self.join().await.err().unwrap_or(BlobError::Interrupted));
        }
        Ok(())
    }

    async fn join(&mut self) -> Result<WrittenChunk, BlobError> {
        self.tx = None;
        match self.handle.take() {
            Some(h) => h
                .await
                .unwrap_or_else(|e| Err(BlobError::Io(std::io::Error::other(e.to_string())))),
            None => Err(BlobError::Interrupted),
        }
    }

    /// Gives the body up: returns once the writer has removed its temporary file.
    pub async fn abandon(&mut self) {
        let _ = self.join().await;
    }

    /// Ends the body: the chunk is durable under its final name when this returns Ok.
    pub async fn finish(mut self) -> Result<WrittenChunk, BlobError> {
        if let Some(tx) = &self.tx {
            let _ = tx.send(Msg::Finish).await;
        }
        self.join().await
    }
}

impl Blobs {
    /// The cached preview of a clip, if one was written. Blocking.
    pub fn read_preview(&self, dir: crate::model::BlobDir) -> Option<Bytes> {
        fs::read(self.dir_path(dir).join(super::PREVIEW_FILE))
            .ok()
            .map(Bytes::from)
    }

    /// Stores a clip's preview crash-safely (temporary file with mode 0600, fsync, rename,
    /// fsync of the directory). Never creates the directory: a clip removed meanwhile gets no
    /// preview file.
    /// Blocking.
    pub fn write_preview(&self, dir: crate::model::BlobDir, data: &[u8]) -> Result<(), BlobError> {
        use std::os::unix::fs::OpenOptionsExt;
        let dir = self.dir_path(dir);
        let tmp = dir.join(format!(".tmp-{:016x}", rand::rngs::OsRng.next_u64()));
        let mut guard = TempGuard(None);
        let mut f = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(crate::private_dir::FILE_MODE)
            .open(&tmp)
            .map_err(BlobError::from_io)?;
        guard.0 = Some(tmp.clone());
        f.write_all(data).map_err(BlobError::from_io)?;
        f.sync_all().map_err(BlobError::from_io)?;
        drop(f);
        rename_durably(&tmp, &dir.join(super::PREVIEW_FILE), &dir)?;
        guard.0 = None;
        Ok(())
    }
}
