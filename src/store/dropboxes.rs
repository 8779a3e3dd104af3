//! Drop boxes in the store: a box record by ID, its items by ID then sequence number, and an
//! expiry index by big-endian time then ID. Every change that touches a box's counts is one
//! transaction with the record it counts: an initiate inserts its session and reserves its
//! place together, a completion turns the reservation into an item together with the clip
//! (`sessions::complete`), a session that goes gives its place back together with its record
//! (`sessions::remove_session`), and removing a box (or an item) removes its items' clip
//! records in the same transaction, so a clip of a removed box is never found again. Chunk
//! records of removed clips go right after; a crash in between leaves them without an owner,
//! which the start-up sweep removes.

use super::codec::{box_expiry_key, decode, encode, expiry_key, item_key, parse_box_expiry_key};
use super::{abort, bump, counter, tx_err, CompleteRefused, Store, StoreError, TxResult};
use crate::model::{
    BoxId, ClipId, ClipMeta, DropBox, DropItem, SessionDrop, UploadId, UploadSession,
};
use sled::transaction::TransactionalTree;
use sled::Transactional;

/// What reserving a place in a drop box found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reserve {
    /// The session is stored and holds its place.
    Done,
    /// No such box.
    NoBox,
    /// The box has expired.
    Expired,
    /// Every place is taken (arrived and reserved items together); the box's limit.
    Full(u32),
    /// The bytes would pass the box's limit; the bytes still free.
    TooLarge(u64),
    /// The upload ID is taken; draw another.
    IdTaken,
}

/// What removing a box (or one item) took away: the clips whose files and chunk records are
/// to go next.
#[derive(Debug, Default)]
pub struct BoxRemoval {
    /// The removed clips.
    pub clips: Vec<ClipMeta>,
}

fn read_box(tree: &TransactionalTree, key: &[u8]) -> TxResult<Option<DropBox>, StoreError> {
    match tree.get(key)? {
        Some(v) => decode(&v).map(Some).or_else(abort),
        None => Ok(None),
    }
}

fn write<T: super::codec::Record>(
    tree: &TransactionalTree,
    key: &[u8],
    value: &T,
) -> TxResult<(), StoreError> {
    let v = encode(value).or_else(abort)?;
    tree.insert(key, v)?;
    Ok(())
}

/// The trees a clip record spreads over, inside a transaction.
type ClipTrees<'a> = (
    &'a TransactionalTree,
    &'a TransactionalTree,
    &'a TransactionalTree,
    &'a TransactionalTree,
    &'a TransactionalTree,
);

/// Removes a clip record with its expiry entry, access count and claims, and takes its bytes
/// off the stored-bytes counter; None when there was none.
fn remove_clip_in(
    (clips, expiry, counters, access, claims): ClipTrees<'_>,
    id: &ClipId,
) -> TxResult<Option<ClipMeta>, StoreError> {
    let key = id.as_bytes();
    let Some(raw) = clips.remove(key)? else {
        return Ok(None);
    };
    let clip: ClipMeta = decode(&raw).or_else(abort)?;
    expiry.remove(expiry_key(clip.expires_at, &clip.id))?;
    access.remove(key)?;
    claims.remove(key)?;
    bump(counters, counter::STORED_BYTES, -(clip.size as i64))?;
    Ok(Some(clip))
}

/// The trees a change to a box, its items and their clips spreads over, inside one
/// transaction.
struct BoxTrees<'a> {
    boxes: &'a TransactionalTree,
    drop_items: &'a TransactionalTree,
    drop_expiry: &'a TransactionalTree,
    clips: ClipTrees<'a>,
}

/// Gives a session's place in its box back (the box may be gone already). Part of the
/// transaction that removes the session.
pub(super) fn give_back(
    dropboxes: &TransactionalTree,
    d: &SessionDrop,
) -> TxResult<(), StoreError> {
    let key = d.dropbox.as_bytes();
    if let Some(mut b) = read_box(dropboxes, key)? {
        b.reserved = b.reserved.saturating_sub(1);
        b.used_bytes = b.used_bytes.saturating_sub(d.reserved);
        write(dropboxes, key, &b)?;
    }
    Ok(())
}

/// Turns a completing session's place into an item of `clip.size` bytes with the next
/// sequence number. Part of the transaction that creates the clip.
pub(super) fn add_item(
    dropboxes: &TransactionalTree,
    drop_items: &TransactionalTree,
    d: &SessionDrop,
    clip: &ClipMeta,
    now: u64,
) -> TxResult<Result<(), CompleteRefused>, StoreError> {
    let key = d.dropbox.as_bytes();
    let Some(mut b) = read_box(dropboxes, key)? else {
        return Ok(Err(CompleteRefused::DropboxGone));
    };
    if b.expired(now) {
        return Ok(Err(CompleteRefused::DropboxExpired));
    }
    // The clip was made to expire with the box.
    if clip.expires_at != b.expires_at {
        return Ok(Err(CompleteRefused::Changed));
    }
    b.reserved = b.reserved.saturating_sub(1);
    b.used_bytes = b.used_bytes.saturating_sub(d.reserved) + clip.size;
    b.items += 1;
    b.last_seq += 1;
    let item = DropItem {
        seq: b.last_seq,
        clip: clip.id,
        size: clip.size,
        wrapped_key: d.wrapped_key.clone(),
        created_at: now,
    };
    write(drop_items, &item_key(&d.dropbox, item.seq), &item)?;
    write(dropboxes, key, &b)?;
    Ok(Ok(()))
}

impl Store {
    /// Creates a box with its expiry entry; false if the ID is taken.
    pub fn create_dropbox(&self, id: &BoxId, b: &DropBox) -> Result<bool, StoreError> {
        let _w = self.gate.enter();
        let res = (&self.dropboxes, &self.drop_expiry).transaction(|(boxes, expiry)| {
            if boxes.get(id.as_bytes())?.is_some() {
                return Ok(false);
            }
            write(boxes, id.as_bytes(), b)?;
            expiry.insert(&box_expiry_key(b.expires_at, id), &[] as &[u8])?;
            Ok(true)
        });
        res.map_err(tx_err)
    }

    /// Reads a box, whether or not it has expired.
    pub fn dropbox(&self, id: &BoxId) -> Result<Option<DropBox>, StoreError> {
        self.dropboxes
            .get(id.as_bytes())?
            .map(|v| decode(&v))
            .transpose()
    }

    /// Stores a new session that sends into a box (`s.dropbox`) and reserves its place there
    /// (one item, `reserved` bytes), if the box is live and has room. One transaction.
    pub fn insert_drop_session(
        &self,
        id: UploadId,
        s: &UploadSession,
        now: u64,
    ) -> Result<Reserve, StoreError> {
        let Some(d) = &s.dropbox else {
            return Err(StoreError::Corrupt("a drop session without its box".into()));
        };
        let skey = super::codec::session_key(id);
        let bkey = d.dropbox.as_bytes();
        let value = encode(s)?;
        let _w = self.gate.enter();
        let res = (&self.sessions, &self.dropboxes).transaction(|(sessions, boxes)| {
            let Some(mut b) = read_box(boxes, bkey)? else {
                return Ok(Reserve::NoBox);
            };
            if b.expired(now) {
                return Ok(Reserve::Expired);
            }
            if b.items + b.reserved >= b.max_items {
                return Ok(Reserve::Full(b.max_items));
            }
            if b.used_bytes.saturating_add(d.reserved) > b.max_bytes {
                return Ok(Reserve::TooLarge(b.max_bytes.saturating_sub(b.used_bytes)));
            }
            if sessions.get(skey)?.is_some() {
                return Ok(Reserve::IdTaken);
            }
            b.reserved += 1;
            b.used_bytes += d.reserved;
            sessions.insert(&skey, value.clone())?;
            write(boxes, bkey, &b)?;
            Ok(Reserve::Done)
        });
        res.map_err(tx_err)
    }

    /// The items of a box with a sequence number above `after`, in order, at most `limit`.
    pub fn drop_items(
        &self,
        id: &BoxId,
        after: u64,
        limit: usize,
    ) -> Result<Vec<DropItem>, StoreError> {
        let Some(first) = after.checked_add(1) else {
            return Ok(Vec::new());
        };
        let range = item_key(id, first)..=item_key(id, u64::MAX);
        let mut out = Vec::new();
        for kv in self.drop_items.range(range).take(limit) {
            out.push(decode(&kv?.1)?);
        }
        Ok(out)
    }

    /// Removes a box, its expiry entry, its items and their clips, in one transaction; None
    /// when there was no such box.
    pub fn remove_dropbox(&self, id: &BoxId) -> Result<Option<BoxRemoval>, StoreError> {
        loop {
            let Some(seen) = self.dropbox(id)? else {
                return Ok(None);
            };
            let items = self.drop_items(id, 0, usize::MAX)?;
            let res = self.box_transaction(|t| {
                let Some(b) = read_box(t.boxes, id.as_bytes())? else {
                    return Ok(Ok(None));
                };
                // An item that arrived since the scan: scan again.
                if b.last_seq != seen.last_seq {
                    return Ok(Err(()));
                }
                t.boxes.remove(id.as_bytes())?;
                t.drop_expiry.remove(&box_expiry_key(b.expires_at, id))?;
                let mut removed = BoxRemoval::default();
                for item in &items {
                    if t.drop_items.remove(&item_key(id, item.seq))?.is_some() {
                        removed.clips.extend(remove_clip_in(t.clips, &item.clip)?);
                    }
                }
                Ok(Ok(Some(removed)))
            })?;
            if let Ok(done) = res {
                return self.removed_chunk_records(done);
            }
        }
    }

    /// Removes the item of a box whose clip is `clip`, and that clip; its place and bytes
    /// are the box's again. None when the box has no such item.
    pub fn remove_drop_item(
        &self,
        id: &BoxId,
        clip: &ClipId,
    ) -> Result<Option<BoxRemoval>, StoreError> {
        let Some(item) = self
            .drop_items(id, 0, usize::MAX)?
            .into_iter()
            .find(|i| &i.clip == clip)
        else {
            return Ok(None);
        };
        let done = self.box_transaction(|t| {
            let Some(mut b) = read_box(t.boxes, id.as_bytes())? else {
                return Ok(None);
            };
            if t.drop_items.remove(&item_key(id, item.seq))?.is_none() {
                return Ok(None);
            }
            b.items = b.items.saturating_sub(1);
            b.used_bytes = b.used_bytes.saturating_sub(item.size);
            write(t.boxes, id.as_bytes(), &b)?;
            let clips = remove_clip_in(t.clips, &item.clip)?.into_iter().collect();
            Ok(Some(BoxRemoval { clips }))
        })?;
        self.removed_chunk_records(done)
    }

    /// Runs `f` as one transaction over the box trees and the clip trees (removing a box or
    /// an item removes its clips with it).
    fn box_transaction<T>(
        &self,
        f: impl Fn(&BoxTrees<'_>) -> TxResult<T, StoreError>,
    ) -> Result<T, StoreError> {
        let trees = (
            &self.dropboxes,
            &self.drop_items,
            &self.drop_expiry,
            &self.clips,
            &self.expiry,
            &self.counters,
            &self.access,
            &self.claims,
        );
        let _w = self.gate.enter();
        trees
            .transaction(
                |(boxes, drop_items, drop_expiry, clips, expiry, counters, access, claims)| {
                    f(&BoxTrees {
                        boxes,
                        drop_items,
                        drop_expiry,
                        clips: (clips, expiry, counters, access, claims),
                    })
                },
            )
            .map_err(tx_err)
    }

    /// Removes the chunk records of the clips a removal took away.
    fn removed_chunk_records(
        &self,
        done: Option<BoxRemoval>,
    ) -> Result<Option<BoxRemoval>, StoreError> {
        for clip in done.iter().flat_map(|d| &d.clips) {
            self.remove_chunk_records(clip.upload)?;
        }
        Ok(done)
    }

    /// Boxes whose expiry time is at or before `now`, oldest first, at most `limit`. An
    /// index entry whose box is gone is removed on the way.
    pub fn expired_dropboxes(&self, now: u64, limit: usize) -> Result<Vec<BoxId>, StoreError> {
        let end = now.saturating_add(1).to_be_bytes();
        let mut out = Vec::new();
        for kv in self.drop_expiry.range(..end.as_slice()).take(limit) {
            let (k, _) = kv?;
            match parse_box_expiry_key(&k) {
                Some((_, id)) if self.dropboxes.contains_key(id.as_bytes())? => out.push(id),
                _ => {
                    let _w = self.gate.enter();
                    self.drop_expiry.remove(k)?;
                }
            }
        }
        Ok(out)
    }

    /// The earliest expiry time of a box.
    pub fn next_dropbox_expiry(&self) -> Result<Option<u64>, StoreError> {
        Ok(self
            .drop_expiry
            .first()?
            .and_then(|(k, _)| parse_box_expiry_key(&k))
            .map(|(t, _)| t))
    }
}

// The tests live in their own file to keep this one short.
#[cfg(test)]
#[path = "dropboxes_tests.rs"]
mod tests;
