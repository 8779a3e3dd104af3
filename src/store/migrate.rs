//! Rewrites values of earlier encodings at start-up, before anything else reads the trees.
//!
//! Version 1 of a clip listed its chunk records inside the clip record, so completing a large
//! upload copied them all; version 2 leaves them in the chunks tree under an upload ID the clip
//! names. Version 1 of a session lacked the running byte sum of its chunks. Version 3 of a
//! clip (and 4 of a session) replaced the one-time flag with a download limit (one-time is 1).
//! Version 5 of a session added the drop box it sends into (none for every earlier session).

#[cfg(test)]
use super::codec::encode_as;
use super::codec::{chunk_key, decode_as, encode, session_key};
use super::{Store, StoreError};
use crate::model::{
    AccessGuard, BlobDir, ChunkRecord, ClipId, ClipMeta, ContentKind, UploadId, UploadSession,
};
use serde::{Deserialize, Serialize};

/// The fields versions 1 and 2 of a clip share, in their order (bincode writes a nested
/// struct's fields in line, so the versions below are their flat layouts).
#[derive(Serialize, Deserialize)]
pub(super) struct ClipHead {
    pub id: ClipId,
    pub kind: ContentKind,
    pub filename: String,
    pub mime: String,
    pub size: u64,
    pub created_at: u64,
    pub expires_at: u64,
    pub one_time: bool,
    pub quick_share: bool,
    pub plaintext: bool,
    pub access: Option<AccessGuard>,
    pub blob: BlobDir,
}

impl ClipHead {
    /// The current clip, with where its chunk records are.
    fn upgrade(self, upload: UploadId, chunk_count: u32) -> ClipMeta {
        ClipMeta {
            id: self.id,
            kind: self.kind,
            filename: self.filename,
            mime: self.mime,
            size: self.size,
            created_at: self.created_at,
            expires_at: self.expires_at,
            max_downloads: self.one_time.then_some(1),
            quick_share: self.quick_share,
            plaintext: self.plaintext,
            access: self.access,
            blob: self.blob,
            upload,
            chunk_count,
        }
    }
}

/// A clip as version 1 stored it: its chunk records inside.
#[derive(Serialize, Deserialize)]
pub(super) struct ClipV1 {
    pub head: ClipHead,
    pub chunks: Vec<ChunkRecord>,
}

/// A clip as version 2 stored it: a one-time flag where version 3 has a download limit.
#[derive(Serialize, Deserialize)]
pub(super) struct ClipV2 {
    pub head: ClipHead,
    pub upload: UploadId,
    pub chunk_count: u32,
}

/// A session as version 1 stored it.
#[derive(Clone, Serialize, Deserialize)]
pub(super) struct SessionV1 {
    pub filename: String,
    pub mime: String,
    pub kind: ContentKind,
    pub total_chunks: u32,
    pub chunk_size: u64,
    pub lifetime_ms: u64,
    pub one_time: bool,
    pub quick_share: bool,
    pub has_password: bool,
    pub blob: BlobDir,
    pub created_at: u64,
    pub last_activity: u64,
    pub received: u32,
}

impl SessionV1 {
    /// The current session with the fields later versions added (by way of version 4).
    fn upgrade(self, received_bytes: u64, declared_size: Option<u64>) -> UploadSession {
        SessionV4 {
            filename: self.filename,
            mime: self.mime,
            kind: self.kind,
            total_chunks: self.total_chunks,
            chunk_size: self.chunk_size,
            lifetime_ms: self.lifetime_ms,
            max_downloads: self.one_time.then_some(1),
            quick_share: self.quick_share,
            has_password: self.has_password,
            blob: self.blob,
            created_at: self.created_at,
            last_activity: self.last_activity,
            received: self.received,
            received_bytes,
            declared_size,
        }
        .upgrade()
    }
}

/// A session as version 2 stored it: version 1's fields, then the running byte sum.
#[derive(Serialize, Deserialize)]
pub(super) struct SessionV2 {
    pub v1: SessionV1,
    pub received_bytes: u64,
}

/// A session as version 3 stored it: version 2's, then the declared size.
#[derive(Serialize, Deserialize)]
pub(super) struct SessionV3 {
    pub v1: SessionV1,
    pub received_bytes: u64,
    pub declared_size: Option<u64>,
}

/// A session as version 4 stored it: the download limit in place of the one-time flag, and
/// no drop box.
#[derive(Clone, Serialize, Deserialize)]
pub(super) struct SessionV4 {
    pub filename: String,
    pub mime: String,
    pub kind: ContentKind,
    pub total_chunks: u32,
    pub chunk_size: u64,
    pub lifetime_ms: u64,
    pub max_downloads: Option<u32>,
    pub quick_share: bool,
    pub has_password: bool,
    pub blob: BlobDir,
    pub created_at: u64,
    pub last_activity: u64,
    pub received: u32,
    pub received_bytes: u64,
    pub declared_size: Option<u64>,
}

impl SessionV4 {
    /// The current session: sending into no drop box.
    fn upgrade(self) -> UploadSession {
        UploadSession {
            filename: self.filename,
            mime: self.mime,
            kind: self.kind,
            total_chunks: self.total_chunks,
            chunk_size: self.chunk_size,
            lifetime_ms: self.lifetime_ms,
            max_downloads: self.max_downloads,
            quick_share: self.quick_share,
            has_password: self.has_password,
            blob: self.blob,
            created_at: self.created_at,
            last_activity: self.last_activity,
            received: self.received,
            received_bytes: self.received_bytes,
            declared_size: self.declared_size,
            dropbox: None,
        }
    }
}

/// The `meta` key recording the format the stored records are in.
const FORMAT_KEY: &str = "format";
/// The current format: clips in version 3, sessions in version 5.
const FORMAT: u8 = 5;

/// Migrates every session and clip of an earlier version; returns how many were rewritten.
/// Each clip's chunk records are written before its new record, so a crash in between
/// leaves the old record (migrated again next time) and chunk records without an owner
/// (removed by the start-up sweep). Once done, the format is recorded in `meta`, so later
/// starts skip the scan.
pub(super) fn migrate(store: &Store) -> Result<usize, StoreError> {
    if store.meta.get(FORMAT_KEY)?.as_deref() == Some(&[FORMAT][..]) {
        return Ok(0);
    }
    let mut done = 0;
    for kv in store.sessions.iter() {
        let (k, v) = kv?;
        let new = match v.first() {
            Some(&1) => {
                let id = UploadId(u64::from_be_bytes(
                    k.as_ref()
                        .try_into()
                        .map_err(|_| StoreError::Corrupt("session key".into()))?,
                ));
                let received_bytes = store.chunks(id)?.iter().map(|(_, c)| c.len).sum();
                // Sessions before version 3 declared no size bound; the kind's limit applies.
                decode_as::<SessionV1>(1, &v)?.upgrade(received_bytes, None)
            }
            Some(&2) => {
                let old: SessionV2 = decode_as(2, &v)?;
                old.v1.upgrade(old.received_bytes, None)
            }
            Some(&3) => {
                let old: SessionV3 = decode_as(3, &v)?;
                old.v1.upgrade(old.received_bytes, old.declared_size)
            }
            Some(&4) => decode_as::<SessionV4>(4, &v)?.upgrade(),
            _ => continue,
        };
        store.sessions.insert(k, encode(&new)?)?;
        done += 1;
    }
    for kv in store.clips.iter() {
        let (k, v) = kv?;
        let new = match v.first() {
            Some(&1) => {
                let old: ClipV1 = decode_as(1, &v)?;
                let upload = unused_upload_id(store)?;
                let mut batch = sled::Batch::default();
                for (n, rec) in old.chunks.iter().enumerate() {
                    batch.insert(&chunk_key(upload, n as u32), encode(rec)?);
                }
                store.chunks.apply_batch(batch)?;
                old.head.upgrade(upload, old.chunks.len() as u32)
            }
            Some(&2) => {
                let old: ClipV2 = decode_as(2, &v)?;
                old.head.upgrade(old.upload, old.chunk_count)
            }
            _ => continue,
        };
        store.clips.insert(k, encode(&new)?)?;
        done += 1;
    }
    store.meta.insert(FORMAT_KEY, &[FORMAT])?;
    store.flush_blocking()?;
    if done > 0 {
        tracing::info!(
            records = done,
            "migrated stored records to the current format"
        );
    }
    Ok(done)
}

/// An upload ID with neither a session nor chunk records.
fn unused_upload_id(store: &Store) -> Result<UploadId, StoreError> {
    loop {
        let id = UploadId::random();
        let key = session_key(id);
        if !store.sessions.contains_key(key)? && store.chunks.scan_prefix(key).next().is_none() {
            return Ok(id);
        }
    }
}

// The tests live in their own file to keep this one short; as a child module they can
// write records of earlier versions into the private trees.
#[cfg(test)]
#[path = "migrate_tests.rs"]
mod tests;
