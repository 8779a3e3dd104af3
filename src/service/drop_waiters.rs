//! The long polls of drop boxes waiting for items: one [`Notify`] per box with waiters, woken
//! when an item completes, and caps on how many may wait per box and in all so that waiting
//! requests cannot pile up. The lock is held only to count, never across an await.

use crate::model::BoxId;
use parking_lot::Mutex;
use std::collections::HashMap;
use std::sync::Arc;
use tokio::sync::Notify;

/// Most long polls waiting on one box; more answer at once.
pub const WAITERS_PER_BOX: usize = 8;
/// Most long polls waiting in all; more answer at once.
pub const WAITERS_IN_ALL: usize = 256;

/// The long polls waiting for items, by box.
#[derive(Default)]
pub struct Waiters {
    inner: Mutex<WaitersInner>,
}

#[derive(Default)]
struct WaitersInner {
    boxes: HashMap<BoxId, (Arc<Notify>, usize)>,
    total: usize,
}

/// One long poll's place among the waiters; leaving it (drop) frees the place.
pub struct WaitSlot<'a> {
    waiters: &'a Waiters,
    id: BoxId,
    /// Notified when an item of the box completes.
    pub notify: Arc<Notify>,
}

impl Waiters {
    /// A place to wait on box `id`, unless its waiters or all waiters are at their cap.
    pub fn join(&self, id: BoxId) -> Option<WaitSlot<'_>> {
        let mut w = self.inner.lock();
        if w.total >= WAITERS_IN_ALL {
            return None;
        }
        let entry = w
            .boxes
            .entry(id)
            .or_insert_with(|| (Arc::new(Notify::new()), 0));
        if entry.1 >= WAITERS_PER_BOX {
            return None;
        }
        entry.1 += 1;
        let notify = entry.0.clone();
        w.total += 1;
        Some(WaitSlot {
            waiters: self,
            id,
            notify,
        })
    }

    /// Wakes every long poll waiting on box `id`.
    pub fn wake(&self, id: &BoxId) {
        if let Some((n, _)) = self.inner.lock().boxes.get(id) {
            n.notify_waiters();
        }
    }

    /// Long polls waiting now (a metric; tests wait for it).
    pub fn count(&self) -> usize {
        self.inner.lock().total
    }
}

impl Drop for WaitSlot<'_> {
    fn drop(&mut self) {
        let mut w = self.waiters.inner.lock();
        w.total -= 1;
        if let Some(entry) = w.boxes.get_mut(&self.id) {
            entry.1 -= 1;
            if entry.1 == 0 {
                w.boxes.remove(&self.id);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waiters_are_capped_per_box_and_in_all_and_freed_on_drop() {
        let w = Waiters::default();
        let a = BoxId::parse("AAAAAAAA").unwrap();
        let slots: Vec<_> = (0..WAITERS_PER_BOX).map(|_| w.join(a).unwrap()).collect();
        assert!(w.join(a).is_none(), "the box's cap");
        drop(slots);
        assert_eq!(w.count(), 0);
        assert!(w.inner.lock().boxes.is_empty());
        let many: Vec<_> = (0..WAITERS_IN_ALL)
            .map(|i| {
                w.join(BoxId::parse(&format!("{:08}", i / 4)).unwrap())
                    .unwrap()
            })
            .collect();
        assert!(w.join(a).is_none(), "the global cap");
        drop(many);
        assert!(w.join(a).is_some());
    }
}
