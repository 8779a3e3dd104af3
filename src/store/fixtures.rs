//! What the store's own tests share: a store on a temporary directory, and an upload session
//! of a file.

use super::Store;
use crate::model::{BlobDir, ContentKind, SessionDrop, UploadSession};

/// A store in a new temporary directory (kept alive by the returned guard).
pub fn open() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("db")).unwrap();
    (dir, store)
}

/// A file's upload session of `total_chunks` chunks of 1 KiB in blob directory `blob`.
pub fn file_session(
    blob: u64,
    total_chunks: u32,
    declared_size: Option<u64>,
    dropbox: Option<SessionDrop>,
) -> UploadSession {
    UploadSession {
        filename: "f".into(),
        mime: "application/octet-stream".into(),
        kind: ContentKind::File,
        total_chunks,
        chunk_size: 1024,
        lifetime_ms: 0,
        max_downloads: None,
        quick_share: false,
        has_password: false,
        blob: BlobDir(blob),
        created_at: 1,
        last_activity: 1,
        received: 0,
        received_bytes: 0,
        declared_size,
        dropbox,
    }
}
