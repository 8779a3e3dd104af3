//! Download claims of clips with a download limit (one-time clips are the limit 1): taking
//! one (insert-only, checked against the clip and its limit in one transaction, so only as
//! many readers as the limit allows ever win), ending one, and finding the ones whose window
//! has closed. A clip's claims live in one record under its ID, removed with the clip.

use super::codec::{decode, encode};
use super::{abort, tx_err, Store, StoreError, TxResult};
use crate::model::{Claim, Claims, ClipId, ClipMeta};
use sled::transaction::TransactionalTree;
use sled::Transactional;

/// What taking a claim found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClaimTaken {
    /// The claim is recorded; the clip's claims are now these.
    Won(Claims),
    /// Every download the limit allows is claimed already.
    Exhausted,
    /// The clip is gone (or was replaced).
    NoClip,
}

fn read(tree: &TransactionalTree, key: &[u8]) -> TxResult<Claims, StoreError> {
    match tree.get(key)? {
        Some(v) => decode(&v).or_else(abort),
        None => Ok(Claims::default()),
    }
}

fn write(tree: &TransactionalTree, key: &[u8], claims: &Claims) -> TxResult<(), StoreError> {
    let v = encode(claims).or_else(abort)?;
    tree.insert(key, v)?;
    Ok(())
}

impl Store {
    /// The claims of a clip (none recorded: the default, nothing taken).
    pub fn claims(&self, id: &ClipId) -> Result<Claims, StoreError> {
        Ok(match self.claims.get(id.as_bytes())? {
            Some(v) => decode(&v)?,
            None => Claims::default(),
        })
    }

    /// Takes one download of `clip` (whose limit is `max`) for `claim`, if the clip is still
    /// the stored one and a download is left.
    pub fn take_claim(
        &self,
        clip: &ClipMeta,
        max: u32,
        claim: Claim,
    ) -> Result<ClaimTaken, StoreError> {
        let key = clip.id.as_bytes();
        let _w = self.gate.enter();
        let res = (&self.clips, &self.claims).transaction(|(clips, claims)| {
            let Some(cur) = clips.get(key)? else {
                return Ok(ClaimTaken::NoClip);
            };
            let cur: ClipMeta = decode(&cur).or_else(abort)?;
            if cur.blob != clip.blob {
                return Ok(ClaimTaken::NoClip);
            }
            let mut c = read(claims, key)?;
            if c.exhausted(max) {
                return Ok(ClaimTaken::Exhausted);
            }
            c.taken += 1;
            c.open.push(claim.clone());
            write(claims, key, &c)?;
            Ok(ClaimTaken::Won(c))
        });
        res.map_err(tx_err)
    }

    /// Ends the open claims of a clip that `ends` selects, as downloads that happened
    /// (`counted`) or that did not (their downloads are given back); returns the claims
    /// left, or `None` when none was selected (nothing changed).
    pub fn end_claims(
        &self,
        id: &ClipId,
        ends: impl Fn(&Claim) -> bool,
        counted: bool,
    ) -> Result<Option<Claims>, StoreError> {
        let key = id.as_bytes();
        let _w = self.gate.enter();
        let res = self.claims.transaction(|claims| {
            if claims.get(key)?.is_none() {
                return Ok(None);
            }
            let mut c = read(claims, key)?;
            let before = c.open.len();
            c.open.retain(|claim| !ends(claim));
            let ended = (before - c.open.len()) as u32;
            if ended == 0 {
                return Ok(None);
            }
            if !counted {
                c.taken = c.taken.saturating_sub(ended);
            }
            write(claims, key, &c)?;
            Ok(Some(c))
        });
        res.map_err(tx_err)
    }

    /// Moves the end of the open claim `hash` of a clip to `until` (if later); false when
    /// there is no such claim (it ended).
    pub fn extend_claim(
        &self,
        id: &ClipId,
        hash: &[u8; 32],
        until: u64,
    ) -> Result<bool, StoreError> {
        let key = id.as_bytes();
        let _w = self.gate.enter();
        let res = self.claims.transaction(|claims| {
            if claims.get(key)?.is_none() {
                return Ok(false);
            }
            let mut c = read(claims, key)?;
            let Some(claim) = c.open.iter_mut().find(|c| &c.token_hash == hash) else {
                return Ok(false);
            };
            claim.until = claim.until.max(until);
            write(claims, key, &c)?;
            Ok(true)
        });
        res.map_err(tx_err)
    }

    /// Every clip with an open claim, with the earliest time one of its windows closes.
    pub fn open_claims(&self) -> Result<Vec<(ClipId, u64)>, StoreError> {
        let mut out = Vec::new();
        for kv in self.claims.iter() {
            let (k, v) = kv?;
            let c: Claims = decode(&v)?;
            let id = std::str::from_utf8(&k)
                .ok()
                .and_then(|s| ClipId::parse(s).ok())
                .ok_or_else(|| StoreError::Corrupt("claim key".into()))?;
            if let Some(until) = c.open.iter().map(|c| c.until).min() {
                out.push((id, until));
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{BlobDir, ContentKind, UploadId};

    fn clip(id: &str, max: u32) -> ClipMeta {
        ClipMeta {
            id: ClipId::parse(id).unwrap(),
            kind: ContentKind::File,
            filename: "f".into(),
            mime: "application/octet-stream".into(),
            size: 0,
            created_at: 1,
            expires_at: 1_000,
            max_downloads: Some(max),
            quick_share: false,
            plaintext: false,
            access: None,
            blob: BlobDir(3),
            upload: UploadId(4),
            chunk_count: 0,
        }
    }

    fn claim(n: u8, until: u64) -> Claim {
        Claim {
            token_hash: [n; 32],
            until,
        }
    }

    fn put(store: &Store, c: &ClipMeta) {
        store
            .clips
            .insert(c.id.as_bytes(), encode(c).unwrap())
            .unwrap();
    }

    #[test]
    fn only_the_limit_wins_and_ended_claims_still_count() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("db")).unwrap();
        let c = clip("ABCDEF", 2);
        assert_eq!(
            store.take_claim(&c, 2, claim(1, 10)).unwrap(),
            ClaimTaken::NoClip
        );
        put(&store, &c);
        assert!(matches!(
            store.take_claim(&c, 2, claim(1, 10)).unwrap(),
            ClaimTaken::Won(_)
        ));
        let ClaimTaken::Won(after) = store.take_claim(&c, 2, claim(2, 20)).unwrap() else {
            panic!("second claim refused")
        };
        assert_eq!((after.taken, after.open.len()), (2, 2));
        assert!(after.exhausted(2) && !after.finished(2));
        assert_eq!(
            store.take_claim(&c, 2, claim(3, 30)).unwrap(),
            ClaimTaken::Exhausted
        );
        assert_eq!(store.open_claims().unwrap(), vec![(c.id, 10)]);
        // Ending one: the other stays open and both still count.
        let left = store
            .end_claims(&c.id, |k| k.token_hash == [1; 32], true)
            .unwrap()
            .unwrap();
        assert_eq!((left.taken, left.open), (2, vec![claim(2, 20)]));
        assert_eq!(
            store
                .end_claims(&c.id, |k| k.token_hash == [1; 32], true)
                .unwrap(),
            None
        );
        // One not counted: its download is given back.
        let left = store
            .end_claims(&c.id, |k| k.until <= 25, false)
            .unwrap()
            .unwrap();
        assert_eq!((left.taken, left.open.len()), (1, 0));
        assert!(!left.exhausted(2));
        let ClaimTaken::Won(_) = store.take_claim(&c, 2, claim(5, 50)).unwrap() else {
            panic!("a given-back download can be claimed again")
        };
        let left = store.end_claims(&c.id, |_| true, true).unwrap().unwrap();
        assert!(left.finished(2));
        assert!(store.open_claims().unwrap().is_empty());
        // A replaced clip (same ID, other files) is not the claimed one.
        let other = ClipMeta {
            blob: BlobDir(9),
            ..clip("ABCDEF", 2)
        };
        assert_eq!(
            store.take_claim(&other, 2, claim(4, 40)).unwrap(),
            ClaimTaken::NoClip
        );
        assert!(store.remove_clip(&c).unwrap());
        assert_eq!(store.claims(&c.id).unwrap(), Claims::default());
    }
}
