//! Wiring: `run` opens the store and blobs, sweeps once (nothing is in flight yet, so files
//! no record owns can go), starts the sweeper, the rate-limit pruner and (with
//! `blob_store = "s3"`) the database snapshots, serves until the shutdown future resolves,
//! then stops every task, writes a last snapshot and flushes the database. It is the only
//! way to start the server, for `main` and for tests alike.
//!
//! Shutdown is a cancellation token and task trackers, as in tokio's mini-redis: the token is
//! cancelled, the tasks started here (the accept loop, which drains its connections, the
//! sweeper, the pruner, the database watch) are awaited through their tracker, then the
//! work that still holds the core (blocking work of requests cut off by the drain,
//! bookkeeping after a response) through the core's own tracker.

use crate::clock::Clock;
use crate::config::{BlobStore, Config};
use crate::http::guard::{AllowedHosts, Limits};
use crate::http::AppState;
use crate::service::{Qopy, ServiceError};
use crate::snapshots;
use crate::sweeper::{self, SweepKind};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// Errors that stop the server.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// The data directory or database could not be opened.
    #[error("cannot open the data directory: {0}")]
    Open(#[from] ServiceError),
    /// HTTPS could not be set up (`tls`, `tls_cert`, `tls_key`).
    #[error("cannot set up HTTPS: {0}")]
    Tls(#[from] crate::tls::TlsError),
    /// A start-up task failed.
    #[error("start-up failed: {0}")]
    Startup(String),
    /// The database failed while serving; the process should exit and be restarted.
    #[error("stopping after a database failure (a restart reopens it): {0}")]
    Fatal(String),
}

/// Runs the server on `listener` until `shutdown` resolves.
pub async fn run(
    config: Config,
    listener: TcpListener,
    shutdown: impl Future<Output = ()>,
    clock: Arc<dyn Clock>,
) -> Result<(), AppError> {
    // Nothing the server creates from here on is readable by others, whatever umask it was
    // started with (explicit modes where it creates files say the same).
    crate::private_dir::restrict_umask();
    // Certificate problems stop start-up before anything is opened.
    let tls = crate::tls::load(&config)?;
    let qopy = tokio::task::spawn_blocking(move || Qopy::open(config, clock))
        .await
        .map_err(|e| AppError::Startup(e.to_string()))??;
    let qopy = Arc::new(qopy);
    if let Some(remote) = qopy.blobs().remote() {
        // A store that is down at start is not fatal (requests answer 503 until it is back),
        // but a wrong bucket or key should be said at once, not at the first upload.
        match remote.bucket().check().await {
            Ok(()) => tracing::info!("the S3 bucket answers"),
            Err(e) => tracing::error!(error = %e, "the S3 bucket cannot be used now"),
        }
    }
    let q = qopy.clone();
    tokio::task::spawn_blocking(move || q.sweep(SweepKind::Startup))
        .await
        .map_err(|e| AppError::Startup(e.to_string()))?
        .map_err(|e| AppError::Open(e.into()))?;
    let state = Arc::new(AppState {
        limits: Limits::new(qopy.config()),
        hosts: AllowedHosts::for_server(qopy.config(), tls.as_ref()),
        metrics: crate::metrics::Metrics::new(qopy.clone()),
        qopy: qopy.clone(),
        tls,
        health_probe: Arc::new(tokio::sync::Semaphore::new(1)),
    });
    let stop = CancellationToken::new();
    let tasks = TaskTracker::new();
    tasks.spawn(sweeper::run(qopy.clone(), stop.clone()));
    // With the content in a bucket, the database goes there too, as periodic snapshots.
    let snapshots = match qopy.config().blob_store {
        BlobStore::S3 => {
            let uploader = snapshots::Uploader::open(qopy.clone(), state.metrics.snapshots())
                .map_err(|e| AppError::Startup(e.to_string()))?;
            let uploader = Arc::new(uploader);
            tasks.spawn(snapshots::run(uploader.clone(), stop.clone()));
            Some(uploader)
        }
        BlobStore::Local => None,
    };
    {
        let state = state.clone();
        let stop = stop.clone();
        tasks.spawn(async move {
            loop {
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_secs(60)) => state.limits.prune(),
                    _ = stop.cancelled() => return,
                }
            }
        });
    }
    let stalls = StallWatchdog::start(qopy.flush_monitor(), qopy.config().stall_timeout);
    let (fatal_tx, mut fatal_rx) = tokio::sync::watch::channel(None::<String>);
    tasks.spawn(watch_database(qopy.clone(), fatal_tx, stop.clone()));
    tasks.spawn(crate::server::serve(listener, state.clone(), stop.clone()));
    tasks.close();
    let fatal = tokio::select! {
        _ = shutdown => None,
        r = fatal_rx.wait_for(|f| f.is_some()) => r.ok().and_then(|f| f.clone()),
    };
    tracing::info!("shutting down");
    stop.cancel();
    qopy.shutdown_started();
    tasks.wait().await;
    drop(state);
    // Requests cut off by the drain, and background bookkeeping, may still run blocking work
    // that holds the core. Wait for it, so that the database is closed, and its lock released,
    // when `run` returns (a restart on the same directory opens it again at once).
    let drained = qopy.finish_tasks(Duration::from_secs(10)).await;
    // The last snapshot, of everything the drained requests did (the periodic task has
    // stopped; this drops the uploader's handle on the core).
    if let Some(uploader) = snapshots {
        snapshots::at_shutdown(uploader).await;
    }
    if !drained || Arc::strong_count(&qopy) > 1 {
        tracing::warn!("background work still running at shutdown");
    }
    if let Err(e) = qopy.flush().await {
        tracing::error!(error = %e, "final flush failed");
    }
    // The last handle closes the database (the flusher thread makes a final flush, watched by
    // the watchdog): on the blocking pool, as it waits for the disk.
    let _ = tokio::task::spawn_blocking(move || drop(qopy)).await;
    drop(stalls);
    match fatal {
        Some(reason) => Err(AppError::Fatal(reason)),
        None => Ok(()),
    }
}

/// How often the database is checked for a latched I/O error.
const DATABASE_CHECK: Duration = Duration::from_secs(1);

/// Flushes the database every [`DATABASE_CHECK`]; on an I/O error or corruption (which sled
/// latches, so every later write fails too) reports it on `fatal`, which ends `run` with an
/// error and the process with a non-zero code.
async fn watch_database(
    qopy: Arc<Qopy>,
    fatal: tokio::sync::watch::Sender<Option<String>>,
    stop: CancellationToken,
) {
    loop {
        tokio::select! {
            _ = tokio::time::sleep(DATABASE_CHECK) => {}
            _ = stop.cancelled() => return,
        }
        match qopy.flush().await {
            Ok(()) => {}
            Err(e) if e.is_fatal() => {
                tracing::error!(error = %e, "the database failed; stopping");
                let _ = fatal.send(Some(e.to_string()));
                return;
            }
            Err(e) => tracing::warn!(error = %e, "database flush failed"),
        }
    }
}

/// The exit code of a process stopped by the stall watchdog.
pub const STALL_EXIT_CODE: i32 = 70;

/// Ends the process when a database flush has been pending longer than `stall_timeout`.
/// A wedged storage stack (a hung disk, a deadlock in the database) cannot be recovered from
/// inside the process, and a graceful shutdown would wait for it too; exiting with a
/// non-zero code lets Docker or systemd restart the server. It runs on its own thread, so
/// it works when every runtime thread is stuck.
struct StallWatchdog {
    /// Dropping it wakes the thread at once and stops it.
    stop: Option<std::sync::mpsc::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl StallWatchdog {
    fn start(monitor: crate::store::FlushMonitor, limit: Duration) -> StallWatchdog {
        let (stop, stopped) = std::sync::mpsc::channel::<()>();
        let tick = (limit / 8).clamp(Duration::from_millis(50), Duration::from_secs(1));
        let thread = std::thread::Builder::new()
            .name("qopy-watchdog".into())
            .spawn(move || {
                while let Err(std::sync::mpsc::RecvTimeoutError::Timeout) =
                    stopped.recv_timeout(tick)
                {
                    if let Some(pending) = monitor.pending_for().filter(|p| *p > limit) {
                        tracing::error!(
                            pending_ms = pending.as_millis() as u64,
                            "a database flush is stuck longer than stall_timeout; exiting so the supervisor restarts the server"
                        );
                        eprintln!(
                            "qopy: database flush stuck for {} ms (stall_timeout {} ms); exiting with code {STALL_EXIT_CODE}",
                            pending.as_millis(),
                            limit.as_millis()
                        );
                        std::process::exit(STALL_EXIT_CODE);
                    }
                }
            })
            .ok();
        StallWatchdog {
            stop: Some(stop),
            thread,
        }
    }
}

impl Drop for StallWatchdog {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
