//! The cache of memory-mapped clips. Completing an upload maps every chunk file to check it;
//! keeping those maps lets the first and every later download send them without opening or
//! mapping anything, and saves completion the cost of unmapping. The cache is bounded by the
//! number of maps (each is one kernel memory area, and a process may only have so many), and
//! a clip's entry goes when its directory is removed. Mapped pages are file-backed page cache,
//! not anonymous memory, so the cache costs address space, not RAM.

use crate::model::BlobDir;
use bytes::Bytes;
use parking_lot::Mutex;
use std::collections::HashMap;
use std::sync::Arc;

/// A clip's content: its chunk files' maps, in order.
pub type Mapped = Arc<[Bytes]>;

struct Inner {
    entries: HashMap<BlobDir, (Mapped, u64)>,
    /// Maps of chunks of sessions still uploading, by chunk number.
    pending: HashMap<BlobDir, HashMap<u32, Bytes>>,
    maps: usize,
    tick: u64,
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
                entries: HashMap::new(),
                pending: HashMap::new(),
                maps: 0,
                tick: 0,
            }),
            max_maps,
        }
    }

    /// The maps of a directory, if cached.
    pub fn get(&self, dir: BlobDir) -> Option<Mapped> {
        let mut g = self.inner.lock();
        g.tick += 1;
        let tick = g.tick;
        g.entries.get_mut(&dir).map(|(m, t)| {
            *t = tick;
            m.clone()
        })
    }

    /// Caches the maps of a directory, evicting the least recently used entries to make room.
    /// The evicted maps are dropped after the lock is released (unmapping takes time).
    pub fn insert(&self, dir: BlobDir, maps: Mapped) {
        if maps.len() > self.max_maps {
            return;
        }
        let mut evicted = Vec::new();
        {
            let mut g = self.inner.lock();
            g.tick += 1;
            let tick = g.tick;
            if let Some((old, _)) = g.entries.insert(dir, (maps.clone(), tick)) {
                g.maps -= old.len();
                evicted.push(old);
            }
            g.maps += maps.len();
            while g.maps > self.max_maps {
                let Some((&oldest, _)) = g.entries.iter().min_by_key(|(_, (_, t))| *t) else {
                    break;
                };
                if let Some((m, _)) = g.entries.remove(&oldest) {
                    g.maps -= m.len();
                    evicted.push(m);
                }
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
        if g.pending.entry(dir).or_default().insert(n, map).is_none() {
            g.maps += 1;
        }
    }

    /// The remembered maps of chunks `0..lens.len()` of a session as a clip's content, if
    /// every one is there with the expected length; they then move into the cache.
    pub fn take_remembered(&self, dir: BlobDir, lens: &[u64]) -> Option<Mapped> {
        let mut g = self.inner.lock();
        let pending = g.pending.get(&dir)?;
        let complete = pending.len() == lens.len()
            && lens.iter().enumerate().all(|(n, &len)| {
                pending
                    .get(&(n as u32))
                    .is_some_and(|m| m.len() as u64 == len)
            });
        let mut pending = g.pending.remove(&dir)?;
        g.maps -= pending.len();
        drop(g);
        if !complete {
            return None;
        }
        let mapped: Mapped = (0..lens.len() as u32)
            .filter_map(|n| pending.remove(&n))
            .collect();
        self.insert(dir, mapped.clone());
        Some(mapped)
    }

    /// Forgets a directory's maps.
    pub fn remove(&self, dir: BlobDir) {
        let old = {
            let mut g = self.inner.lock();
            let old = g.entries.remove(&dir);
            if let Some((m, _)) = &old {
                g.maps -= m.len();
            }
            let pending = g.pending.remove(&dir);
            if let Some(p) = &pending {
                g.maps -= p.len();
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
        assert!(c.take_remembered(BlobDir(7), &[1, 2, 3]).is_none());
        assert_eq!(c.maps(), 0, "a failed take forgets the partial set");
        c.remember(BlobDir(7), 1, Bytes::from_static(b"bb"));
        c.remember(BlobDir(7), 0, Bytes::from_static(b"a"));
        let m = c.take_remembered(BlobDir(7), &[1, 2]).unwrap();
        assert_eq!(&m[0][..], b"a");
        assert_eq!(&m[1][..], b"bb");
        assert!(c.get(BlobDir(7)).is_some());
        assert!(c.take_remembered(BlobDir(7), &[1, 2]).is_none());
    }
}
