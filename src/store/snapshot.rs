//! Snapshots of the whole database as one byte string, and their import into an empty
//! directory: what `blob_store = "s3"` uploads to the bucket so that a node can be brought
//! back on a fresh machine.
//!
//! **Format** (version 1), every number big-endian:
//!
//! ```text
//! magic        8 bytes  "QOPYSNAP"
//! version      u32      1
//! taken_at     u64      milliseconds since the epoch
//! tree count   u32
//! per tree, sorted by name:
//!   name       u32 length, then the bytes
//!   entries    u64
//!   per entry, in key order: u32 key length, key, u32 value length, value
//! sha256       32 bytes over everything before it
//! ```
//!
//! Keys and values are copied as sled holds them (the value codec's version bytes included),
//! so a snapshot of an older release is upgraded by the usual migration when a server opens the
//! restored database. A snapshot is built in memory rather than streamed: the databases are
//! small (1,000 clips are a few MiB), the whole must be read under the write gate anyway, the
//! upload is one object, and a restore must check the checksum of the whole before it writes
//! anything.
//!
//! **Consistency.** sled 0.34's iterators are not point-in-time across trees: a transaction
//! that commits between copying `chunks` and copying `sessions` would appear half-applied. So
//! the store has a write gate, a reader-writer lock: every method that changes the database
//! holds it shared for the duration of its change (so they still run concurrently with each
//! other), and the snapshot holds it exclusively for the copy, which is a few milliseconds
//! for a few MiB. A snapshot therefore sees each store method's change entirely or not at all,
//! i.e. a state a crash could have left, which the store is built to recover from (methods
//! that are two steps on purpose, such as removing a clip and then its chunk records, take the
//! gate for each step, exactly as a crash may fall between them). The gate also counts
//! changes, so the uploader can skip a snapshot when nothing changed since the last one.

use super::{Store, StoreError};
use parking_lot::{RwLock, RwLockReadGuard};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// The first bytes of every snapshot.
pub const MAGIC: &[u8; 8] = b"QOPYSNAP";
/// The format version written (and the only one read).
pub const VERSION: u32 = 1;
/// Bytes of the checksum at the end.
const CHECKSUM_LEN: usize = 32;
/// Bytes before the first tree: magic, version, time, tree count.
const HEADER_LEN: usize = 8 + 4 + 8 + 4;

/// Why a snapshot could not be read or imported.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    /// The bytes are not a snapshot this release can read (wrong magic, other version, bad
    /// checksum, truncated or malformed).
    #[error("not a valid database snapshot: {0}")]
    Invalid(String),
    /// The target directory holds a database already.
    #[error("{} already holds a database; restore only into an empty or absent directory", .0.display())]
    NotEmpty(PathBuf),
    /// Creating or renaming the directory failed.
    #[error("cannot write the database directory: {0}")]
    Io(#[from] std::io::Error),
    /// sled failed while writing the imported database.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<sled::Error> for SnapshotError {
    fn from(e: sled::Error) -> Self {
        SnapshotError::Store(StoreError::Sled(e))
    }
}

/// A snapshot taken, with what the uploader needs to know about it.
#[derive(Debug, Clone)]
pub struct Snapshot {
    /// The snapshot's bytes, in the format above.
    pub bytes: Vec<u8>,
    /// The time written into it.
    pub taken_at: u64,
    /// Number of clip records in it.
    pub clips: u64,
    /// The write generation it reflects (see [`Store::write_generation`]).
    pub generation: u64,
}

/// What a snapshot holds, as checked by [`import_snapshot`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotInfo {
    /// When it was taken, in milliseconds since the epoch.
    pub taken_at: u64,
    /// Number of trees.
    pub trees: usize,
    /// Number of key/value pairs over every tree.
    pub entries: u64,
    /// Number of clip records.
    pub clips: u64,
    /// Number of drop boxes.
    pub dropboxes: u64,
}

/// The write gate of a store (see the module comment).
#[derive(Default)]
pub(super) struct WriteGate {
    lock: RwLock<()>,
    /// Changes entered so far.
    generation: AtomicU64,
}

/// A change in progress: the gate held shared. Not `Send`, so it stays on its thread.
pub(super) struct Writing<'a> {
    _shared: RwLockReadGuard<'a, ()>,
}

#[cfg(debug_assertions)]
thread_local! {
    /// How many gates this thread holds. A gated method that called another gated method
    /// would take the lock twice, which deadlocks when a snapshot waits between the two;
    /// debug builds (and so every test) catch such nesting at once.
    static HELD: std::cell::Cell<u32> = const { std::cell::Cell::new(0) };
}

impl WriteGate {
    /// Enters a change. Every method of the store that writes holds this while it writes and
    /// never calls another method that does.
    pub(super) fn enter(&self) -> Writing<'_> {
        let writing = self.enter_quietly();
        self.generation.fetch_add(1, Ordering::AcqRel);
        writing
    }

    /// Enters a write of bookkeeping that alone is no reason for a new snapshot (the
    /// generation stays); a snapshot taken for other changes still carries it.
    pub(super) fn enter_quietly(&self) -> Writing<'_> {
        #[cfg(debug_assertions)]
        HELD.with(|h| {
            assert_eq!(
                h.get(),
                0,
                "nested store write: the write gate is not reentrant"
            );
            h.set(1);
        });
        Writing {
            _shared: self.lock.read(),
        }
    }
}

impl Drop for Writing<'_> {
    fn drop(&mut self) {
        #[cfg(debug_assertions)]
        HELD.with(|h| h.set(0));
    }
}

impl Store {
    /// A number that grows with every change entered: equal numbers at two times mean that
    /// nothing changed in between.
    pub fn write_generation(&self) -> u64 {
        self.gate.generation.load(Ordering::Acquire)
    }

    /// A consistent snapshot of every tree, stamped `taken_at`. Holds the write gate
    /// exclusively while it copies (writers wait that long). Blocking.
    pub fn export_snapshot(&self, taken_at: u64) -> Result<Snapshot, StoreError> {
        self.export_paced(taken_at, || {})
    }

    /// [`Store::export_snapshot`], running `between` after each tree is copied (tests slow
    /// the copy down with it).
    pub(super) fn export_paced(
        &self,
        taken_at: u64,
        between: impl Fn(),
    ) -> Result<Snapshot, StoreError> {
        let exclusive = self.gate.lock.write();
        let generation = self.write_generation();
        let (mut bytes, clips) = self.copy_trees(taken_at, between)?;
        drop(exclusive);
        let sum = Sha256::digest(&bytes);
        bytes.extend_from_slice(&sum);
        Ok(Snapshot {
            bytes,
            taken_at,
            clips,
            generation,
        })
    }

    /// Writes the header and every tree, sorted by name, without the checksum; returns the
    /// bytes and the number of clips. Consistent only under the exclusive gate. `between`
    /// runs after each tree.
    pub(super) fn copy_trees(
        &self,
        taken_at: u64,
        between: impl Fn(),
    ) -> Result<(Vec<u8>, u64), StoreError> {
        let mut names = self.db.tree_names();
        names.sort();
        let mut out = Vec::with_capacity(64 * 1024);
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&VERSION.to_be_bytes());
        out.extend_from_slice(&taken_at.to_be_bytes());
        out.extend_from_slice(&len32(names.len())?.to_be_bytes());
        let mut clips = 0;
        for name in names {
            let tree = self.db.open_tree(&name)?;
            put_bytes(&mut out, &name)?;
            let count_at = out.len();
            out.extend_from_slice(&0u64.to_be_bytes());
            let mut count = 0u64;
            for kv in tree.iter() {
                let (k, v) = kv?;
                put_bytes(&mut out, &k)?;
                put_bytes(&mut out, &v)?;
                count += 1;
            }
            out[count_at..count_at + 8].copy_from_slice(&count.to_be_bytes());
            if name.as_ref() == b"clips" {
                clips = count;
            }
            between();
        }
        Ok((out, clips))
    }
}

fn len32(n: usize) -> Result<u32, StoreError> {
    u32::try_from(n).map_err(|_| StoreError::Corrupt("a key or value over 4 GiB".into()))
}

fn put_bytes(out: &mut Vec<u8>, b: &[u8]) -> Result<(), StoreError> {
    out.extend_from_slice(&len32(b.len())?.to_be_bytes());
    out.extend_from_slice(b);
    Ok(())
}

/// One tree of a parsed snapshot, borrowing its bytes.
struct Tree<'a> {
    name: &'a [u8],
    entries: Vec<(&'a [u8], &'a [u8])>,
}

/// Reads a snapshot's bytes front to back, refusing anything short.
struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], SnapshotError> {
        if self.rest.len() < n {
            return Err(SnapshotError::Invalid("truncated".into()));
        }
        let (head, rest) = self.rest.split_at(n);
        self.rest = rest;
        Ok(head)
    }

    fn u32(&mut self) -> Result<u32, SnapshotError> {
        let b = self.take(4)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn u64(&mut self) -> Result<u64, SnapshotError> {
        let mut a = [0u8; 8];
        a.copy_from_slice(self.take(8)?);
        Ok(u64::from_be_bytes(a))
    }

    fn bytes(&mut self) -> Result<&'a [u8], SnapshotError> {
        let n = self.u32()? as usize;
        self.take(n)
    }
}

/// Checks magic, version and checksum, then parses every tree; nothing is trusted before the
/// checksum matched.
fn parse(bytes: &[u8]) -> Result<(SnapshotInfo, Vec<Tree<'_>>), SnapshotError> {
    if bytes.len() < HEADER_LEN + CHECKSUM_LEN || &bytes[..8] != MAGIC {
        return Err(SnapshotError::Invalid(
            "no snapshot header (wrong magic or too short)".into(),
        ));
    }
    let mut r = Reader { rest: &bytes[8..] };
    let version = r.u32()?;
    if version != VERSION {
        return Err(SnapshotError::Invalid(format!(
            "format version {version}; this release reads version {VERSION}"
        )));
    }
    let (body, sum) = bytes.split_at(bytes.len() - CHECKSUM_LEN);
    if Sha256::digest(body).as_slice() != sum {
        return Err(SnapshotError::Invalid(
            "checksum mismatch (damaged or truncated)".into(),
        ));
    }
    let mut r = Reader {
        rest: &body[8 + 4..],
    };
    let taken_at = r.u64()?;
    let count = r.u32()?;
    let mut trees = Vec::new();
    let mut info = SnapshotInfo {
        taken_at,
        trees: count as usize,
        entries: 0,
        clips: 0,
        dropboxes: 0,
    };
    for _ in 0..count {
        let name = r.bytes()?;
        let n = r.u64()?;
        let mut entries = Vec::new();
        for _ in 0..n {
            let k = r.bytes()?;
            let v = r.bytes()?;
            entries.push((k, v));
        }
        info.entries += n;
        match name {
            b"clips" => info.clips = n,
            b"dropboxes" => info.dropboxes = n,
            _ => {}
        }
        trees.push(Tree { name, entries });
    }
    if !r.rest.is_empty() {
        return Err(SnapshotError::Invalid("bytes after the last tree".into()));
    }
    Ok((info, trees))
}

/// Checks a snapshot's bytes (magic, version, checksum, structure) without writing anything.
pub fn verify_snapshot(bytes: &[u8]) -> Result<SnapshotInfo, SnapshotError> {
    parse(bytes).map(|(info, _)| info)
}

/// Imports a snapshot as the database at `db_path`, which must be absent or an empty
/// directory. The snapshot is verified in full first; the trees are written into a sibling
/// directory, flushed, and renamed into place, so `db_path` holds either nothing or the whole
/// database, whenever the process stops. Blocking.
pub fn import_snapshot(bytes: &[u8], db_path: &Path) -> Result<SnapshotInfo, SnapshotError> {
    let (info, trees) = parse(bytes)?;
    let exists = match std::fs::read_dir(db_path) {
        Ok(mut entries) => {
            if entries.next().is_some() {
                return Err(SnapshotError::NotEmpty(db_path.to_path_buf()));
            }
            true
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => false,
        // A file where the directory should be, or one we cannot read: refuse, whatever it is.
        Err(_) if db_path.exists() => return Err(SnapshotError::NotEmpty(db_path.to_path_buf())),
        Err(e) => return Err(e.into()),
    };
    let mut staging = db_path.as_os_str().to_owned();
    staging.push(".restoring");
    let staging = PathBuf::from(staging);
    // Left by an import that was interrupted: never a database in use (only this function
    // writes it, and it renames it away when done).
    if staging.exists() {
        std::fs::remove_dir_all(&staging)?;
    }
    {
        let db = sled::Config::new()
            .path(&staging)
            .flush_every_ms(None)
            .open()?;
        for tree in &trees {
            let t = db.open_tree(tree.name)?;
            // In batches, so a large tree is not one huge batch in memory twice.
            for part in tree.entries.chunks(10_000) {
                let mut batch = sled::Batch::default();
                for (k, v) in part {
                    batch.insert(*k, *v);
                }
                t.apply_batch(batch)?;
            }
        }
        db.flush()?;
    }
    if exists {
        std::fs::remove_dir(db_path)?;
    }
    std::fs::rename(&staging, db_path)?;
    // The rename is durable once the directory holding it is.
    let parent = db_path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::File::open(parent)?.sync_all()?;
    Ok(info)
}

#[cfg(test)]
#[path = "snapshot_tests.rs"]
mod tests;
