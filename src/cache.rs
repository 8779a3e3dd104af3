//! The in-process cache of clip metadata. Lookups of clip information are the hottest small
//! requests, so they are answered from memory; the cache can still never serve a clip that
//! is expired (every hit is checked against the clock), consumed or deleted (removal leaves a
//! tombstone *before* the store changes, and a tombstone is never overwritten by a reader
//! that raced with the removal).

use crate::model::{ClipId, ClipMeta};
use parking_lot::RwLock;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

enum Entry {
    Live(Arc<ClipMeta>),
    /// Removed at this time (ms); kept a while so a racing reader cannot resurrect it.
    Gone(u64),
}

/// Result of a cache lookup.
pub enum Lookup {
    /// A live, unexpired clip.
    Hit(Arc<ClipMeta>),
    /// The clip was removed or has expired: answer "not found" without asking the store.
    Gone,
    /// Not cached: ask the store, then [`ClipCache::fill`].
    Miss,
}

/// Clip metadata by ID, bounded in size.
pub struct ClipCache {
    map: RwLock<HashMap<ClipId, Entry>>,
    capacity: usize,
    hits: AtomicU64,
    misses: AtomicU64,
}

/// How long a tombstone outlives the removal it records.
const TOMBSTONE_MS: u64 = 60_000;

impl ClipCache {
    /// A cache holding at most `capacity` entries.
    pub fn new(capacity: usize) -> ClipCache {
        ClipCache {
            map: RwLock::new(HashMap::new()),
            capacity,
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
        }
    }

    /// Looks a clip up as of `now`.
    pub fn get(&self, id: &ClipId, now: u64) -> Lookup {
        let map = self.map.read();
        let r = match map.get(id) {
            Some(Entry::Live(m)) if now < m.expires_at => Lookup::Hit(m.clone()),
            Some(Entry::Live(_)) | Some(Entry::Gone(_)) => Lookup::Gone,
            None => Lookup::Miss,
        };
        drop(map);
        match r {
            Lookup::Miss => self.misses.fetch_add(1, Ordering::Relaxed),
            _ => self.hits.fetch_add(1, Ordering::Relaxed),
        };
        r
    }

    /// Stores what a reader found in the store, unless the clip was removed meanwhile or
    /// the cache is full.
    pub fn fill(&self, meta: Arc<ClipMeta>) {
        let mut map = self.map.write();
        if map.len() >= self.capacity && !map.contains_key(&meta.id) {
            return;
        }
        map.entry(meta.id).or_insert(Entry::Live(meta));
    }

    /// Records a newly created clip (replacing any tombstone of an earlier clip that had
    /// the same ID).
    pub fn insert_new(&self, meta: Arc<ClipMeta>) {
        let mut map = self.map.write();
        if map.len() >= self.capacity && !map.contains_key(&meta.id) {
            map.remove(&meta.id);
            return;
        }
        map.insert(meta.id, Entry::Live(meta));
    }

    /// Marks a clip removed. Call it before removing the clip from the store.
    pub fn mark_gone(&self, id: &ClipId, now: u64) {
        self.map.write().insert(*id, Entry::Gone(now));
    }

    /// Drops tombstones older than their grace period and entries that have expired.
    pub fn prune(&self, now: u64) {
        self.map.write().retain(|_, e| match e {
            Entry::Live(m) => now < m.expires_at,
            Entry::Gone(at) => now < at.saturating_add(TOMBSTONE_MS),
        });
    }

    /// Number of entries (live and tombstones).
    pub fn len(&self) -> usize {
        self.map.read().len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Hits and misses so far.
    pub fn stats(&self) -> (u64, u64) {
        (
            self.hits.load(Ordering::Relaxed),
            self.misses.load(Ordering::Relaxed),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{BlobDir, ContentKind, UploadId};

    fn meta(id: &str, expires_at: u64) -> Arc<ClipMeta> {
        Arc::new(ClipMeta {
            id: ClipId::parse(id).unwrap(),
            kind: ContentKind::Text,
            filename: "f".into(),
            mime: "text/plain".into(),
            size: 1,
            created_at: 0,
            expires_at,
            max_downloads: None,
            quick_share: false,
            plaintext: false,
            access: None,
            blob: BlobDir(1),
            upload: UploadId(1),
            chunk_count: 1,
        })
    }

    #[test]
    fn never_serves_expired_entries() {
        let c = ClipCache::new(10);
        c.fill(meta("ABCDEF", 100));
        assert!(matches!(
            c.get(&ClipId::parse("ABCDEF").unwrap(), 99),
            Lookup::Hit(_)
        ));
        assert!(matches!(
            c.get(&ClipId::parse("ABCDEF").unwrap(), 100),
            Lookup::Gone
        ));
    }

    #[test]
    fn tombstone_wins_over_a_racing_fill() {
        let c = ClipCache::new(10);
        let m = meta("ABCDEF", 1000);
        c.mark_gone(&m.id, 5);
        c.fill(m.clone());
        assert!(matches!(c.get(&m.id, 6), Lookup::Gone));
        c.insert_new(m.clone());
        assert!(matches!(c.get(&m.id, 6), Lookup::Hit(_)));
        c.mark_gone(&m.id, 7);
        c.prune(7 + TOMBSTONE_MS);
        assert!(matches!(c.get(&m.id, 8), Lookup::Miss));
    }

    #[test]
    fn capacity_is_respected() {
        let c = ClipCache::new(1);
        c.fill(meta("AAAAAA", 10));
        c.fill(meta("BBBBBB", 10));
        assert_eq!(c.len(), 1);
    }
}
