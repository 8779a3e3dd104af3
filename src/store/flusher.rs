//! Group commit: the one thread that makes sled's writes durable. sled 0.34's asynchronous flush
//! deadlocks when several run at once (spacejam/sled#1308), and even its blocking `flush`
//! costs an fsync per call; so nothing else in the program flushes. A writer takes a ticket
//! after its write and waits until a flush that *started after* the ticket was taken has
//! finished, so every flush covers every write before it, and many concurrent writers share
//! one fsync. The thread also flushes on its own every [`IDLE_FLUSH`] (sled's own periodic
//! flusher is off), and it records when the flush in progress started, for the watchdog and
//! `/health`.

use parking_lot::{Condvar, Mutex};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How often the thread flushes when nobody asks.
const IDLE_FLUSH: Duration = Duration::from_millis(500);

#[derive(Default)]
struct State {
    /// Tickets handed out (the last one's number).
    requested: u64,
    /// Every ticket up to this one is durable.
    completed: u64,
    /// When the flush in progress started.
    in_flush_since: Option<Instant>,
    /// The first flush failure. sled latches I/O errors, so every later flush would fail
    /// too: once set, every waiter gets it.
    failed: Option<String>,
    /// The thread should stop once every ticket is served.
    stop: bool,
}

struct Shared {
    state: Mutex<State>,
    /// Wakes the flushing thread.
    work: Condvar,
    /// Wakes blocking waiters.
    done: Condvar,
    /// Wakes async waiters with the number of the last durable ticket.
    done_async: tokio::sync::watch::Sender<u64>,
}

/// The flushing thread and the way to wait for it. Dropping it (with the last `Store`) stops
/// the thread after a final flush.
pub(super) struct Flusher {
    shared: Arc<Shared>,
    thread: Mutex<Option<std::thread::JoinHandle<()>>>,
}

/// A flush failed, or the flusher is gone.
#[derive(Debug, Clone)]
pub struct FlushFailed(pub String);

/// A read-only view of the flusher's progress that does not keep the database open.
#[derive(Clone)]
pub struct FlushMonitor(Arc<Shared>);

impl FlushMonitor {
    /// How long the flush in progress has been running, if one is.
    pub fn pending_for(&self) -> Option<Duration> {
        self.0.state.lock().in_flush_since.map(|t| t.elapsed())
    }
}

impl Flusher {
    pub(super) fn start(db: sled::Db) -> Flusher {
        let (done_async, _) = tokio::sync::watch::channel(0);
        let shared = Arc::new(Shared {
            state: Mutex::new(State::default()),
            work: Condvar::new(),
            done: Condvar::new(),
            done_async,
        });
        let s = shared.clone();
        let thread = std::thread::Builder::new()
            .name("qopy-flusher".into())
            .spawn(move || run(&s, &db))
            .expect("cannot start the database flusher thread");
        Flusher {
            shared,
            thread: Mutex::new(Some(thread)),
        }
    }

    pub(super) fn monitor(&self) -> FlushMonitor {
        FlushMonitor(self.shared.clone())
    }

    /// A ticket for the writes made so far.
    fn ticket(&self) -> Result<u64, FlushFailed> {
        let mut st = self.shared.state.lock();
        if let Some(e) = &st.failed {
            return Err(FlushFailed(e.clone()));
        }
        st.requested += 1;
        let t = st.requested;
        drop(st);
        self.shared.work.notify_one();
        Ok(t)
    }

    fn outcome(&self, ticket: u64) -> Option<Result<(), FlushFailed>> {
        let st = self.shared.state.lock();
        if let Some(e) = &st.failed {
            return Some(Err(FlushFailed(e.clone())));
        }
        (st.completed >= ticket).then_some(Ok(()))
    }

    /// Waits until every write made before the call is durable.
    pub(super) async fn flush(&self) -> Result<(), FlushFailed> {
        let mut rx = self.shared.done_async.subscribe();
        let ticket = self.ticket()?;
        loop {
            if let Some(r) = self.outcome(ticket) {
                return r;
            }
            if rx.changed().await.is_err() {
                return Err(FlushFailed("the database flusher stopped".into()));
            }
        }
    }

    /// [`Flusher::flush`] for blocking code.
    pub(super) fn flush_blocking(&self) -> Result<(), FlushFailed> {
        let ticket = self.ticket()?;
        let mut st = self.shared.state.lock();
        loop {
            if let Some(e) = &st.failed {
                return Err(FlushFailed(e.clone()));
            }
            if st.completed >= ticket {
                return Ok(());
            }
            self.shared.done.wait(&mut st);
        }
    }
}

impl Drop for Flusher {
    fn drop(&mut self) {
        self.shared.state.lock().stop = true;
        self.shared.work.notify_one();
        if let Some(t) = self.thread.lock().take() {
            let _ = t.join();
        }
    }
}

/// Marks the flusher failed if its thread ends by a panic, so no waiter waits forever.
struct PanicGuard<'a>(&'a Shared);

impl Drop for PanicGuard<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let mut st = self.0.state.lock();
            st.failed
                .get_or_insert_with(|| "the database flusher panicked".into());
            st.in_flush_since = None;
            drop(st);
            self.0.done.notify_all();
            self.0.done_async.send_modify(|_| {});
        }
    }
}

fn run(shared: &Shared, db: &sled::Db) {
    let _guard = PanicGuard(shared);
    loop {
        let target = {
            let mut st = shared.state.lock();
            if st.requested == st.completed && !st.stop {
                // Idle: wait for a ticket, or flush anyway after a while (writes that need no
                // acknowledgement, such as access counts, still reach the disk soon).
                let _ = shared.work.wait_for(&mut st, IDLE_FLUSH);
            }
            if st.stop && (st.requested == st.completed || st.failed.is_some()) {
                break;
            }
            st.in_flush_since = Some(Instant::now());
            st.requested
        };
        let r = db.flush();
        let mut st = shared.state.lock();
        st.in_flush_since = None;
        // Waiters look at `failed` first, so a failed round completes its tickets too.
        st.completed = st.completed.max(target);
        if let Err(e) = r {
            tracing::error!(error = %e, "database flush failed");
            st.failed.get_or_insert_with(|| e.to_string());
        }
        drop(st);
        shared.done.notify_all();
        shared.done_async.send_replace(target);
    }
    // The final flush of a clean stop, watched like any other.
    shared.state.lock().in_flush_since = Some(Instant::now());
    if let Err(e) = db.flush() {
        tracing::error!(error = %e, "final database flush failed");
    }
    shared.state.lock().in_flush_since = None;
}
