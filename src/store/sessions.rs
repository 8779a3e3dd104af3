//! Upload sessions in the store: creating them, recording chunks (insert-only, with the
//! session's count moved in the same transaction), turning a session into a clip (and a
//! drop box's reserved place into an item), and removing sessions and their chunk records
//! (giving a reserved place back).

use super::codec::{chunk_key, chunk_number, decode, encode, expiry_key, session_key};
use super::{
    abort, bump, counter, dropboxes, tx_err, ChunkPut, CompleteRefused, Store, StoreError,
};
use crate::model::{ChunkRecord, ClipMeta, UploadId, UploadSession};
use sled::Transactional;
use std::collections::HashSet;

impl Store {
    /// Creates a session; false if the ID is taken.
    pub fn insert_session(&self, id: UploadId, s: &UploadSession) -> Result<bool, StoreError> {
        let v = encode(s)?;
        let _w = self.gate.enter();
        Ok(self
            .sessions
            .compare_and_swap(session_key(id), None as Option<&[u8]>, Some(v))?
            .is_ok())
    }

    /// Reads a session.
    pub fn session(&self, id: UploadId) -> Result<Option<UploadSession>, StoreError> {
        self.sessions
            .get(session_key(id))?
            .map(|v| decode(&v))
            .transpose()
    }

    /// Every session with its ID.
    pub fn all_sessions(
        &self,
    ) -> impl Iterator<Item = Result<(UploadId, UploadSession), StoreError>> + '_ {
        self.sessions.iter().map(|kv| {
            let (k, v) = kv?;
            let id = u64::from_be_bytes(
                k.as_ref()
                    .try_into()
                    .map_err(|_| StoreError::Corrupt("session key".into()))?,
            );
            Ok((UploadId(id), decode(&v)?))
        })
    }

    /// Number of sessions.
    pub fn session_count(&self) -> usize {
        self.sessions.len()
    }

    /// The chunks a session has received, in order.
    pub fn chunks(&self, id: UploadId) -> Result<Vec<(u32, ChunkRecord)>, StoreError> {
        let mut out = Vec::new();
        for kv in self.chunks.scan_prefix(session_key(id)) {
            let (k, v) = kv?;
            let n = chunk_number(&k).ok_or_else(|| StoreError::Corrupt("chunk key".into()))?;
            out.push((n, decode(&v)?));
        }
        Ok(out)
    }

    /// Records chunk `n` of a session unless a chunk with that number exists already, and
    /// refreshes the session's activity time. One transaction over sessions and chunks.
    pub fn put_chunk(
        &self,
        id: UploadId,
        n: u32,
        rec: &ChunkRecord,
        now: u64,
    ) -> Result<ChunkPut, StoreError> {
        let skey = session_key(id);
        let ckey = chunk_key(id, n);
        let _w = self.gate.enter();
        let res = (&self.sessions, &self.chunks, &self.counters).transaction(
            |(sessions, chunks, counters)| {
                let Some(raw) = sessions.get(skey)? else {
                    return Ok(ChunkPut::NoSession);
                };
                let mut s: UploadSession = match decode(&raw) {
                    Ok(s) => s,
                    Err(e) => return abort(e),
                };
                if let Some(old) = chunks.get(ckey)? {
                    let old: ChunkRecord = match decode(&old) {
                        Ok(o) => o,
                        Err(e) => return abort(e),
                    };
                    return Ok(if old.len == rec.len && old.sha256 == rec.sha256 {
                        ChunkPut::Same {
                            received: s.received,
                        }
                    } else {
                        ChunkPut::Conflict
                    });
                }
                let enc = match encode(rec) {
                    Ok(v) => v,
                    Err(e) => return abort(e),
                };
                chunks.insert(&ckey, enc)?;
                s.received += 1;
                s.received_bytes += rec.len;
                s.last_activity = now;
                match encode(&s) {
                    Ok(v) => sessions.insert(&skey, v)?,
                    Err(e) => return abort(e),
                };
                bump(counters, counter::STORED_BYTES, rec.len as i64)?;
                Ok(ChunkPut::Inserted {
                    received: s.received,
                })
            },
        );
        res.map_err(tx_err)
    }

    /// Turns a session into a clip in one transaction: the session must still hold exactly
    /// `clip.chunk_count` chunks of `clip.size` bytes in all (the session's count and byte sum
    /// move with each chunk insert in the same transaction), and `clip.id` must be free.
    /// Removes the session, inserts the clip and its expiry entry, bumps counters; a session
    /// sending into a drop box turns its place there into the box's next item (the box must
    /// be live at `now`). The chunk records stay where they are, now owned by the clip through
    /// `clip.upload`, so the commit does the same work for 20 chunks or 800.
    pub fn complete(
        &self,
        upload: UploadId,
        clip: &ClipMeta,
        now: u64,
    ) -> Result<Result<(), CompleteRefused>, StoreError> {
        let skey = session_key(upload);
        let value = encode(clip)?;
        let trees = (
            &self.sessions,
            &self.clips,
            &self.expiry,
            &self.counters,
            &self.dropboxes,
            &self.drop_items,
        );
        let _w = self.gate.enter();
        let res = trees.transaction(|(sessions, clips, expiry, counters, boxes, items)| {
            let Some(raw) = sessions.get(skey)? else {
                return Ok(Err(CompleteRefused::NoSession));
            };
            let s: UploadSession = match decode(&raw) {
                Ok(s) => s,
                Err(e) => return abort(e),
            };
            if s.received != clip.chunk_count
                || s.received_bytes != clip.size
                || s.blob != clip.blob
                || upload != clip.upload
            {
                return Ok(Err(CompleteRefused::Changed));
            }
            if clips.get(clip.id.as_bytes())?.is_some() {
                return Ok(Err(CompleteRefused::Collision));
            }
            if let Some(d) = &s.dropbox {
                if let Err(refused) = dropboxes::add_item(boxes, items, d, clip, now)? {
                    return Ok(Err(refused));
                }
            }
            sessions.remove(&skey)?;
            clips.insert(clip.id.as_bytes(), value.clone())?;
            expiry.insert(expiry_key(clip.expires_at, &clip.id), &[] as &[u8])?;
            bump(counters, counter::TOTAL_CLIPS, 1)?;
            if clip.quick_share {
                bump(counters, counter::QUICK_SHARE, 1)?;
            } else if clip.access.is_some() {
                bump(counters, counter::PASSWORD, 1)?;
            } else {
                bump(counters, counter::NORMAL, 1)?;
            }
            if clip.one_time() {
                bump(counters, counter::ONE_TIME, 1)?;
            }
            Ok(Ok(()))
        });
        // A completion that lost a race with a chunk write or a cancel is refused, never
        // half-applied.
        res.map_err(tx_err)
    }

    /// Fixes a streamed (one-shot) session's final shape once its body has ended: the chunk
    /// count becomes the number received, and the name and MIME type (known only after the
    /// first bytes) are set. False if the session is gone.
    pub fn seal_session(
        &self,
        id: UploadId,
        filename: &str,
        mime: &str,
    ) -> Result<bool, StoreError> {
        let skey = session_key(id);
        let _w = self.gate.enter();
        let res = self.sessions.transaction(|sessions| {
            let Some(raw) = sessions.get(skey)? else {
                return Ok(false);
            };
            let mut s: UploadSession = match decode(&raw) {
                Ok(s) => s,
                Err(e) => return abort(e),
            };
            s.total_chunks = s.received;
            s.filename = filename.to_string();
            s.mime = mime.to_string();
            match encode(&s) {
                Ok(v) => sessions.insert(&skey, v)?,
                Err(e) => return abort(e),
            };
            Ok(true)
        });
        res.map_err(tx_err)
    }

    /// Removes every chunk record of an upload whose clip is gone. The clip's removal already
    /// took its bytes off the stored-bytes counter.
    pub fn remove_chunk_records(&self, upload: UploadId) -> Result<(), StoreError> {
        let mut batch = sled::Batch::default();
        for kv in self.chunks.scan_prefix(session_key(upload)) {
            batch.remove(kv?.0);
        }
        let _w = self.gate.enter();
        self.chunks.apply_batch(batch)?;
        Ok(())
    }

    /// Number of chunk records of every session and clip.
    pub fn chunk_record_count(&self) -> usize {
        self.chunks.len()
    }

    /// Uploads with chunk records but neither a session nor a clip: left by a crash between
    /// removing a clip and removing its chunk records. Sessions are read before clips, so a
    /// session completing meanwhile is seen as one or the other; still, only the start-up
    /// sweep, before anything else writes, acts on this.
    pub fn ownerless_chunk_uploads(&self) -> Result<Vec<UploadId>, StoreError> {
        let mut owners: HashSet<u64> = HashSet::new();
        for key in self.sessions.iter().keys() {
            if let Ok(k) = <[u8; 8]>::try_from(key?.as_ref()) {
                owners.insert(u64::from_be_bytes(k));
            }
        }
        for clip in self.all_clips() {
            owners.insert(clip?.upload.0);
        }
        let mut out: Vec<UploadId> = Vec::new();
        for kv in self.chunks.iter() {
            let (k, _) = kv?;
            let Some(id) = k
                .get(..8)
                .and_then(|b| b.try_into().ok())
                .map(u64::from_be_bytes)
            else {
                continue;
            };
            if out.last().map(|u| u.0) != Some(id) && !owners.contains(&id) {
                out.push(UploadId(id));
            }
        }
        Ok(out)
    }

    /// Deletes a session and its chunk records (cancel or sweep), giving its place in a drop
    /// box back. Returns the removed session, or None if it did not exist.
    pub fn remove_session(&self, id: UploadId) -> Result<Option<UploadSession>, StoreError> {
        loop {
            let numbers: Vec<u32> = self.chunks(id)?.into_iter().map(|(n, _)| n).collect();
            let skey = session_key(id);
            let trees = (
                &self.sessions,
                &self.chunks,
                &self.counters,
                &self.dropboxes,
            );
            let w = self.gate.enter();
            let res = trees.transaction(|(sessions, chunks, counters, boxes)| {
                let Some(raw) = sessions.get(skey)? else {
                    return Ok(Ok(None));
                };
                let s: UploadSession = match decode(&raw) {
                    Ok(s) => s,
                    Err(e) => return abort(e),
                };
                if s.received as usize != numbers.len() {
                    return Ok(Err(()));
                }
                let mut bytes = 0i64;
                for &n in &numbers {
                    if let Some(v) = chunks.remove(&chunk_key(id, n))? {
                        if let Ok(rec) = decode::<ChunkRecord>(&v) {
                            bytes += rec.len as i64;
                        }
                    }
                }
                sessions.remove(&skey)?;
                bump(counters, counter::STORED_BYTES, -bytes)?;
                if let Some(d) = &s.dropbox {
                    dropboxes::give_back(boxes, d)?;
                }
                Ok(Ok(Some(s)))
            });
            drop(w);
            match res.map_err(tx_err)? {
                Ok(found) => return Ok(found),
                Err(()) => continue, // a chunk arrived between the scan and the transaction
            }
        }
    }
}
