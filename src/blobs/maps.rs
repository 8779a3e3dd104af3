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

    /// Forgets a directory's maps.
    pub fn remove(&self, dir: BlobDir) {
        let old = {
            let mut g = self.inner.lock();
            let old = g.entries.remove(&dir);
            if let Some((m, _)) = &old {
                g.maps -= m.len();
            }
            old
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
        assert!(c.get(BlobDir(2)).is_none(), "least recently used goes first");
        assert!(c.get(BlobDir(1)).is_some());
        assert_eq!(c.maps(), 4);
        c.remove(BlobDir(1));
        assert_eq!(c.maps(), 2);
        c.insert(BlobDir(4), maps(9));
        assert!(c.get(BlobDir(4)).is_none(), "too large to cache");
    }
}
