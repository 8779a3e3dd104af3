//! The cache of memory-mapped clips. Completing an upload maps every chunk file to check it;
//! keeping those maps lets the first and every later download send them without opening or
//! mapping anything, and saves completion the cost of unmapping. The cache is bounded by the
//! number of maps (each is one kernel memory area, and a process may only have so many), and
//! a clip's entry goes when its directory is removed. Mapped pages are file-backed page cache,
//! not anonymous memory, so the cache costs address space, not RAM.

use crate::model::BlobDir;
use bytes::Bytes;
use lru::LruCache;
use parking_lot::Mutex;
use std::collections::HashMap;
use std::sync::Arc;

/// A clip's content: its chunk files' maps, in order.
pub type Mapped = Arc<[Bytes]>;

/// A cached clip's maps: in order, or still keyed by chunk number as the upload left them
/// (put in order by the first download, so completing does not touch each map).
enum Entry {
    Ordered(Mapped),
    Loose(HashMap<u32, Bytes>),
}

impl Entry {
    fn len(&self) -> usize {
        match self {
            Entry::Ordered(m) => m.len(),
            Entry::Loose(m) => m.len(),
        }
    }
}

struct Inner {
    /// Clips' maps, most recently used first; bounded by [`Inner::maps`], not by entries.
    entries: LruCache<BlobDir, Entry>,
    /// Maps of chunks of sessions still uploading.
    pending: HashMap<BlobDir, Pending>,
    maps: usize,
}

/// The maps of a session's chunks so far, by chunk number, and their total length.
#[derive(Default)]
struct Pending {
    maps: HashMap<u32, Bytes>,
    bytes: u64,
}

/// Maps by blob directory, least recently used evicted first.
pub struct MapCache {
    inner: Mutex<Inner>,
    max_maps: usize,
}

impl MapCache {
    /// A cache holding at most `max_maps` maps in all.
    pub fn new(max_maps: usize) -> MapCache {
        MapCache {
            inner: Mutex::new(Inner {
                entries: LruCache::unbounded(),
                pending: HashMap::new(),
                maps: 0,
            }),
            max_maps,
        }
    }

    /// The maps of a directory in order, if cached. An entry whose chunk numbers do not run
    /// from 0 without a gap is dropped (the caller then maps the files from their records).
    pub fn get(&self, dir: BlobDir) -> Option<Mapped> {
        let mut g = self.inner.lock();
        let entry = g.entries.get_mut(&dir)?;
        if let Entry::Loose(loose) = entry {
            let count = loose.len() as u32;
            let ordered: Mapped = (0..count).map_while(|n| loose.remove(&n)).collect();
            if ordered.len() != count as usize {
                let gone = count as usize;
                g.entries.pop(&dir);
                g.maps -= gone;
                return None;
            }
            *entry = Entry::Ordered(ordered);
        }
        match entry {
            Entry::Ordered(m) => Some(m.clone()),
            Entry::Loose(_) => None,
        }
    }

    /// Caches the maps of a directory, evicting the least recently used entries to make room.
    /// The evicted maps are dropped after the lock is released (unmapping takes time).
    pub fn insert(&self, dir: BlobDir, maps: Mapped) {
        self.put(dir, Entry::Ordered(maps));
    }

    fn put(&self, dir: BlobDir, entry: Entry) {
        if entry.len() > self.max_maps {
            return;
        }
        let mut evicted = Vec::new();
        {
            let mut g = self.inner.lock();
            g.maps += entry.len();
            if let Some(old) = g.entries.put(dir, entry) {
                g.maps -= old.len();
                evicted.push(old);
            }
            while g.maps > self.max_maps {
                let Some((_, m)) = g.entries.pop_lru() else {
                    break;
                };
                g.maps -= m.len();
                evicted.push(m);
            }
        }
        drop(evicted);
    }

    /// Keeps the map of chunk `n` of a session, unless the cache is full (completion then
    /// maps the files itself).
    pub fn remember(&self, dir: BlobDir, n: u32, map: Bytes) {
        let mut g = self.inner.lock();
        if g.maps >= self.max_maps {
            return;
        }
        let p = g.pending.entry(dir).or_default();
        p.bytes += map.len() as u64;
        match p.maps.insert(n, map) {
            Some(old) => p.bytes -= old.len() as u64,
            None => g.maps += 1,
        }
    }

    /// Makes the remembered maps of a session's chunks its clip's content, if there are
    /// `count` of them with `size` bytes in all; a partial set is forgotten. The check and
    /// the move cost the same for any number of chunks: nothing touches each map.
    pub fn take_remembered(&self, dir: BlobDir, count: u32, size: u64) -> bool {
        let pending = {
            let mut g = self.inner.lock();
            let Some(p) = g.pending.remove(&dir) else {
                return false;
            };
            g.maps -= p.maps.len();
            p
        };
        if pending.maps.len() != count as usize || pending.bytes != size {
            return false;
        }
        self.put(dir, Entry::Loose(pending.maps));
        true
    }

    /// Forgets a directory's maps.
    pub fn remove(&self, dir: BlobDir) {
        let old = {
            let mut g = self.inner.lock();
            let old = g.entries.pop(&dir);
            if let Some(m) = &old {
                g.maps -= m.len();
            }
            let pending = g.pending.remove(&dir);
            if let Some(p) = &pending {
                g.maps -= p.maps.len();
            }
            (old, pending)
        };
        drop(old);
    }

    /// Number of maps held.
    pub fn maps(&self) -> usize {
        self.inner.lock().maps
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn maps(n: usize) -> Mapped {
        (0..n).map(|_| Bytes::from_static(b"x")).collect()
    }

    #[test]
    fn evicts_least_recently_used_within_the_bound() {
        let c = MapCache::new(5);
        c.insert(BlobDir(1), maps(2));
        c.insert(BlobDir(2), maps(2));
        assert!(c.get(BlobDir(1)).is_some());
        c.insert(BlobDir(3), maps(2));
        assert!(
            c.get(BlobDir(2)).is_none(),
            "least recently used goes first"
        );
        assert!(c.get(BlobDir(1)).is_some());
        assert_eq!(c.maps(), 4);
        c.remove(BlobDir(1));
        assert_eq!(c.maps(), 2);
        c.insert(BlobDir(4), maps(9));
        assert!(c.get(BlobDir(4)).is_none(), "too large to cache");
    }

    #[test]
    fn remembered_chunks_become_a_clip_only_when_complete() {
        let c = MapCache::new(100);
        c.remember(BlobDir(7), 1, Bytes::from_static(b"bb"));
        c.remember(BlobDir(7), 0, Bytes::from_static(b"a"));
        assert!(!c.take_remembered(BlobDir(7), 3, 6));
        assert_eq!(c.maps(), 0, "a failed take forgets the partial set");
        c.remember(BlobDir(7), 1, Bytes::from_static(b"bb"));
        c.remember(BlobDir(7), 0, Bytes::from_static(b"a"));
        assert!(!c.take_remembered(BlobDir(7), 2, 4), "wrong total length");
        c.remember(BlobDir(7), 1, Bytes::from_static(b"xx"));
        c.remember(BlobDir(7), 0, Bytes::from_static(b"a"));
        c.remember(BlobDir(7), 1, Bytes::from_static(b"bb"));
        assert_eq!(c.maps(), 2, "a replaced map counts once");
        assert!(c.take_remembered(BlobDir(7), 2, 3));
        assert_eq!(c.maps(), 2);
        let m = c.get(BlobDir(7)).unwrap();
        assert_eq!(&m[0][..], b"a");
        assert_eq!(&m[1][..], b"bb");
        assert!(c.get(BlobDir(7)).is_some());
        assert!(!c.take_remembered(BlobDir(7), 2, 3));
        // Numbers with a gap are never served: the entry is dropped.
        c.remember(BlobDir(8), 1, Bytes::from_static(b"bb"));
        c.remember(BlobDir(8), 2, Bytes::from_static(b"c"));
        assert!(c.take_remembered(BlobDir(8), 2, 3));
        assert!(c.get(BlobDir(8)).is_none(), "chunk 0 missing");
        assert_eq!(c.maps(), 2);
    }
}
