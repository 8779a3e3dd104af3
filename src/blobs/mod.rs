//! The only module that knows the blob files and memmap2. Every upload session and clip owns
//! one directory under `blobs/`, named by a random token (never by client input), holding one
//! immutable file per chunk. Chunks are written crash-safely (temporary name, fsync, rename,
//! fsync of the directory) and never modified afterwards, so they can be memory-mapped without
//! the SIGBUS risk of a file truncated under a mapping. A clip's content is its chunk files in
//! order: completing an upload maps and checks them but copies nothing, and downloads send
//! slices of the maps. A clip's directory may also hold its cached image preview.
//!
//! With `blob_store = "s3"` the same directories and chunk names are objects in a bucket
//! (`remote`): the public methods below answer for either store, and a clip's content is a
//! [`Content`] that downloads stream and previews read the same way for both.

mod content;
mod maps;
mod remote;
mod sink;
mod write;

pub use content::{Content, ContentReader};
pub use maps::{MapCache, Mapped};
pub use remote::Remote;
pub use sink::ChunkSink;
pub use write::{WrittenChunk, WRITERS};

use crate::model::{BlobDir, ChunkRecord};
use bytes::Bytes;
use std::collections::HashMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Errors of blob storage.
#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    /// A chunk file is missing or has the wrong length.
    #[error("chunk {0} is missing or damaged")]
    Damaged(u32),
    /// The body was longer than allowed.
    #[error("chunk exceeds {0} bytes")]
    TooLarge(u64),
    /// The client stopped sending before the body was complete.
    #[error("upload interrupted")]
    Interrupted,
    /// The disk is full.
    #[error("no space left on the device")]
    NoSpace,
    /// The object store cannot be reached or failed, even after retries.
    #[error("the object store is unavailable: {0}")]
    Unavailable(String),
    /// Any other I/O failure.
    #[error("storage I/O error: {0}")]
    Io(#[from] io::Error),
}

impl BlobError {
    fn from_io(e: io::Error) -> BlobError {
        if e.raw_os_error() == Some(libc::ENOSPC) || e.raw_os_error() == Some(libc::EDQUOT) {
            BlobError::NoSpace
        } else {
            BlobError::Io(e)
        }
    }
}

/// The blob area: under the data directory, or in a bucket.
#[derive(Clone)]
pub struct Blobs {
    root: PathBuf,
    maps: Arc<MapCache>,
    /// Bounds the chunk writers running at once (see [`WRITERS`]).
    writers: Arc<tokio::sync::Semaphore>,
    /// The bucket that holds the content instead of `root`, with `blob_store = "s3"`.
    remote: Option<Arc<Remote>>,
}

/// The local blob area's entries: directories with their modification times, and stray
/// paths with theirs.
type BlobListing = (
    Vec<(BlobDir, std::time::SystemTime)>,
    Vec<(PathBuf, std::time::SystemTime)>,
);

/// The name of chunk `n`'s file or object inside its directory.
pub(crate) fn chunk_file_name(n: u32, token: u64) -> String {
    format!("{n:08}-{token:016x}")
}

/// The names an owned directory keeps: its chunks (number, token) and the clip's cached
/// preview, which belongs to it like its chunks and goes with the directory.
pub(crate) fn owned_names(chunks: &[(u32, u64)]) -> std::collections::HashSet<String> {
    let mut names: std::collections::HashSet<String> =
        chunks.iter().map(|&(n, t)| chunk_file_name(n, t)).collect();
    names.insert(PREVIEW_FILE.to_string());
    names
}

/// The name of a clip's cached image preview inside its directory.
pub const PREVIEW_FILE: &str = "preview.jpg";

/// Most maps the cache keeps (the kernel's default limit is 65,530 per process).
const MAX_CACHED_MAPS: usize = 16_384;

impl Blobs {
    /// Opens the blob area, creating it (mode 0700) if needed.
    pub fn open(data_dir: &Path) -> Result<Blobs, BlobError> {
        let root = data_dir.join("blobs");
        crate::private_dir::create_dir_all(&root)?;
        Ok(Blobs {
            root,
            maps: Arc::new(MapCache::new(MAX_CACHED_MAPS)),
            writers: Arc::new(tokio::sync::Semaphore::new(WRITERS)),
            remote: None,
        })
    }

    /// The blob area in a bucket. The data directory is kept for [`Blobs::free_space`]:
    /// the database still lives there.
    pub fn open_remote(data_dir: &Path, remote: Remote) -> Blobs {
        Blobs {
            root: data_dir.to_path_buf(),
            maps: Arc::new(MapCache::new(0)),
            writers: Arc::new(tokio::sync::Semaphore::new(WRITERS)),
            remote: Some(Arc::new(remote)),
        }
    }

    /// The bucket, when the content lives in one.
    pub fn remote(&self) -> Option<&Arc<Remote>> {
        self.remote.as_ref()
    }

    /// The directory of a session or clip.
    pub fn dir_path(&self, dir: BlobDir) -> PathBuf {
        self.root.join(dir.name())
    }

    /// The path of one chunk file.
    pub fn chunk_path(&self, dir: BlobDir, n: u32, token: u64) -> PathBuf {
        self.dir_path(dir).join(chunk_file_name(n, token))
    }

    /// Creates the directory of a new session (mode 0700) and makes its entry durable (a
    /// bucket has no directories: nothing to do).
    pub fn create_dir(&self, dir: BlobDir) -> Result<(), BlobError> {
        if self.remote.is_some() {
            return Ok(());
        }
        let path = self.dir_path(dir);
        match crate::private_dir::create_dir(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(BlobError::from_io(e)),
        }
        crate::private_dir::sync_dir(&self.root).map_err(BlobError::from_io)
    }

    /// Starts writing chunk `n` of a session; the bytes go to a temporary file until
    /// [`ChunkSink::finish`] makes them durable under their final name.
    pub fn chunk_sink(&self, dir: BlobDir, n: u32, limit: u64) -> ChunkSink {
        match &self.remote {
            Some(r) => remote::ObjectSink::start(r.clone(), dir, n, limit).into(),
            None => {
                write::FileSink::start(self.dir_path(dir), n, limit, self.writers.clone()).into()
            }
        }
    }

    /// Removes one chunk (a losing duplicate); errors are ignored (the sweeper finds what is
    /// left). Blocking.
    pub fn remove_chunk(&self, dir: BlobDir, n: u32, token: u64) {
        match &self.remote {
            Some(r) => {
                let _ = r.remove_chunk(dir, n, token);
            }
            None => {
                let _ = fs::remove_file(self.chunk_path(dir, n, token));
            }
        }
    }

    /// Maps one chunk file and checks its length against its record. Blocking.
    fn map_one(&self, dir: BlobDir, n: u32, rec: &ChunkRecord) -> Result<Bytes, BlobError> {
        let path = self.chunk_path(dir, n, rec.token);
        let file = match fs::File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Err(BlobError::Damaged(n)),
            Err(e) => return Err(BlobError::from_io(e)),
        };
        let len = file.metadata()?.len();
        if len != rec.len {
            return Err(BlobError::Damaged(n));
        }
        map_file(&file, len)
    }

    /// Keeps the map of a chunk just written, for the session's completion (objects in a
    /// bucket have none).
    pub fn remember_chunk(&self, dir: BlobDir, n: u32, map: Bytes) {
        if self.remote.is_none() {
            self.maps.remember(dir, n, map);
        }
    }

    /// The content of a clip as maps of its `count` chunk files in order, if cached.
    pub fn cached_maps(&self, dir: BlobDir, count: u32) -> Option<Mapped> {
        self.maps.get(dir).filter(|m| m.len() == count as usize)
    }

    /// Makes the maps remembered as a session's chunks were written its clip's content, if
    /// they are all `count` chunks with `size` bytes in all. Costs the same for any number
    /// of chunks.
    pub fn adopt_remembered(&self, dir: BlobDir, count: u32, size: u64) -> bool {
        self.maps.take_remembered(dir, count, size)
    }

    /// Maps and checks every chunk file of a clip (see [`Blobs::map_all`]) and caches the
    /// maps. Blocking: call it on the blocking pool.
    pub fn map_and_cache(&self, dir: BlobDir, chunks: &[ChunkRecord]) -> Result<Mapped, BlobError> {
        let m: Mapped = self.map_all(dir, chunks)?.into();
        self.maps.insert(dir, m.clone());
        Ok(m)
    }

    /// Maps every chunk of a clip or session in order, checking each file's length, using
    /// several threads for many chunks. Cost grows with the number of chunks, not bytes.
    /// Blocking: call it on the blocking pool.
    pub fn map_all(&self, dir: BlobDir, chunks: &[ChunkRecord]) -> Result<Vec<Bytes>, BlobError> {
        const PER_THREAD: usize = 64;
        if chunks.len() <= PER_THREAD {
            return chunks
                .iter()
                .enumerate()
                .map(|(n, rec)| self.map_one(dir, n as u32, rec))
                .collect();
        }
        let threads = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(2)
            .clamp(2, 8);
        let per = chunks.len().div_ceil(threads);
        let parts: Vec<Result<Vec<Bytes>, BlobError>> = std::thread::scope(|s| {
            let handles: Vec<_> = chunks
                .chunks(per)
                .enumerate()
                .map(|(i, part)| {
                    s.spawn(move || {
                        part.iter()
                            .enumerate()
                            .map(|(j, rec)| self.map_one(dir, (i * per + j) as u32, rec))
                            .collect::<Result<Vec<_>, _>>()
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join()
                        .unwrap_or_else(|_| Err(BlobError::Io(io::Error::other("mapper panicked"))))
                })
                .collect()
        });
        let mut out = Vec::with_capacity(chunks.len());
        for part in parts {
            out.extend(part?);
        }
        Ok(out)
    }

    /// Deletes a session's or clip's directory. Mapped files stay readable by whoever holds
    /// a map. A missing directory is not an error.
    pub fn remove_dir(&self, dir: BlobDir) -> Result<(), BlobError> {
        if let Some(r) = &self.remote {
            return r.remove_dir(dir);
        }
        self.maps.remove(dir);
        match fs::remove_dir_all(self.dir_path(dir)) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(BlobError::Io(e)),
        }
    }

    /// Lists the entries of the local blob area: directory names that parse as blob tokens,
    /// and anything else (which no record can own). Blocking.
    fn list(&self) -> Result<BlobListing, BlobError> {
        let mut dirs = Vec::new();
        let mut strays = Vec::new();
        for entry in fs::read_dir(&self.root)? {
            let entry = entry?;
            let name = entry.file_name();
            let meta = entry.metadata()?;
            match name.to_str().and_then(BlobDir::parse) {
                Some(d) if meta.is_dir() => {
                    dirs.push((d, meta.modified().unwrap_or(std::time::UNIX_EPOCH)))
                }
                _ => strays.push((
                    entry.path(),
                    meta.modified().unwrap_or(std::time::UNIX_EPOCH),
                )),
            }
        }
        Ok((dirs, strays))
    }

    /// Removes files inside an owned directory that are not among `keep` (chunk numbers with
    /// tokens) and are older than `min_age`. Returns how many were removed.
    fn prune_dir(
        &self,
        dir: BlobDir,
        keep: &[(u32, u64)],
        min_age: std::time::Duration,
    ) -> Result<usize, BlobError> {
        let keep = owned_names(keep);
        let mut removed = 0;
        let entries = match fs::read_dir(self.dir_path(dir)) {
            Ok(e) => e,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(0),
            Err(e) => return Err(e.into()),
        };
        for entry in entries {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if keep.contains(&name) {
                continue;
            }
            let age = entry
                .metadata()
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| t.elapsed().ok())
                .unwrap_or_default();
            if age >= min_age {
                let p = entry.path();
                let r = if entry.file_type()?.is_dir() {
                    fs::remove_dir_all(&p)
                } else {
                    fs::remove_file(&p)
                };
                if r.is_ok() {
                    removed += 1;
                }
            }
        }
        Ok(removed)
    }

    /// Removes what no record owns: directories not in `owned`, files of owned directories
    /// that are not among their chunks (number, token), and strays, each only once older
    /// than `grace` (objects in a bucket by the server's clock `now`, which tests move;
    /// local files by the system's). Returns how many entries were removed. Blocking.
    pub fn remove_unowned(
        &self,
        owned: &HashMap<BlobDir, Vec<(u32, u64)>>,
        grace: std::time::Duration,
        now: std::time::SystemTime,
    ) -> Result<u64, BlobError> {
        if let Some(r) = &self.remote {
            return r.remove_unowned(owned, grace, now);
        }
        let (dirs, strays) = self.list()?;
        let mut removed = 0u64;
        for (dir, modified) in dirs {
            match owned.get(&dir) {
                // Within an owned directory: temporary files of dead writes, losing
                // duplicates. In-flight writes are younger than the grace period.
                Some(files) => removed += self.prune_dir(dir, files, grace).unwrap_or(0) as u64,
                None => {
                    let age = modified.elapsed().unwrap_or_default();
                    if age >= grace && self.remove_dir(dir).is_ok() {
                        removed += 1;
                    }
                }
            }
        }
        for (stray, modified) in strays {
            let age = modified.elapsed().unwrap_or_default();
            if age >= grace && self.remove_stray(&stray).is_ok() {
                removed += 1;
            }
        }
        Ok(removed)
    }

    /// Removes a stray path (file or directory) from the local blob area. Blocking.
    fn remove_stray(&self, path: &Path) -> Result<(), BlobError> {
        if !path.starts_with(&self.root) {
            return Ok(());
        }
        let r = if path.is_dir() {
            fs::remove_dir_all(path)
        } else {
            fs::remove_file(path)
        };
        match r {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Free bytes on the filesystem that holds the data directory.
    pub fn free_space(&self) -> io::Result<u64> {
        free_space(&self.root)
    }

    /// The content of a clip from its chunk records (number, token, length) in order,
    /// when it lives in a bucket. Makes no request.
    pub fn objects(&self, dir: BlobDir, chunks: Vec<(u32, u64, u64)>) -> Option<Content> {
        self.remote
            .as_ref()
            .map(|r| Content::objects(r.clone(), dir, chunks))
    }
}

/// Maps a whole chunk file of `len` bytes (an empty file needs no map).
fn map_file(file: &fs::File, len: u64) -> Result<Bytes, BlobError> {
    if len == 0 {
        return Ok(Bytes::new());
    }
    // SAFETY: chunk files are written once under a temporary name, fsynced and renamed into
    // place; nothing in this program writes to or truncates them afterwards, and they are only
    // ever removed by unlinking, which leaves an existing mapping valid.
    let map = unsafe { memmap2::Mmap::map(file)? };
    if map.len() as u64 != len {
        return Err(BlobError::Io(io::Error::other("chunk file changed size")));
    }
    let _ = map.advise(memmap2::Advice::Sequential);
    Ok(Bytes::from_owner(map))
}

/// Free bytes available to unprivileged users on the filesystem holding `path`.
pub fn free_space(path: &Path) -> io::Result<u64> {
    let st = rustix::fs::statvfs(path)?;
    Ok(st.f_bavail.saturating_mul(st.f_frsize))
}
