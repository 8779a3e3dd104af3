//! The background sweeper task. It runs [`Qopy::sweep`] once at start-up (from `app::run`),
//! then sleeps until the next clip expiry or the sweep interval, whichever comes first, and
//! stops on shutdown.

use crate::service::Qopy;
pub use crate::service::{SweepKind, SweepReport};
use crate::store::StoreError;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Runs one sweep (see [`Qopy::sweep`]). Blocking.
pub fn sweep(q: &Qopy, kind: SweepKind) -> Result<SweepReport, StoreError> {
    q.sweep(kind)
}

/// Runs sweeps until `shutdown` resolves: a full one at start-up and every
/// `sweep_interval`, and an expiry-only one at each clip's expiry time. A newly created clip
/// wakes the loop so it can recompute its next deadline.
pub async fn run(q: Arc<Qopy>, shutdown: CancellationToken) {
    // `app::run` already did the start-up sweep before serving; a second one here would run
    // concurrently with the first requests and delete their fresh, not yet recorded files.
    let mut kind = SweepKind::Full;
    let mut next_full = tokio::time::Instant::now();
    loop {
        if kind != SweepKind::Expired {
            next_full = tokio::time::Instant::now() + q.config().sweep_interval;
        }
        let q2 = q.clone();
        match tokio::task::spawn_blocking(move || q2.sweep(kind)).await {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => tracing::error!(error = %e, "sweep failed"),
            Err(e) => tracing::error!(error = %e, "sweep task failed"),
        }
        loop {
            let mut deadline = next_full;
            kind = SweepKind::Full;
            let q2 = q.clone();
            let next = tokio::task::spawn_blocking(move || q2.next_expiry()).await;
            if let Ok(Ok(Some(at))) = next {
                let wait = Duration::from_millis(at.saturating_sub(q.now()).max(100));
                let at = tokio::time::Instant::now() + wait;
                if at < deadline {
                    deadline = at;
                    kind = SweepKind::Expired;
                }
            }
            tokio::select! {
                _ = tokio::time::sleep_until(deadline) => break,
                _ = q.sweeper_woken() => continue,
                _ = shutdown.cancelled() => return,
            }
        }
    }
}
