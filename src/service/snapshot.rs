//! The database snapshots of `blob_store = "s3"` as the core offers them: a consistent copy
//! of the whole database stamped with the core's clock, and the write generation that tells
//! whether anything changed since an earlier one (see `store::snapshot`).

use super::{Qopy, Result};
use crate::store::Snapshot;

impl Qopy {
    /// A number that grows with every database change: equal at two times, nothing changed.
    pub fn database_generation(&self) -> u64 {
        self.store.write_generation()
    }

    /// A consistent snapshot of the whole database, stamped `taken_at` (milliseconds since
    /// the epoch). Writers wait for the few milliseconds of the copy. Blocking.
    pub fn database_snapshot(&self, taken_at: u64) -> Result<Snapshot> {
        Ok(self.store.export_snapshot(taken_at)?)
    }
}
