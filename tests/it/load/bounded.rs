//! Bounded runs for the load tests: the server on one runtime, the test's clients on another,
//! both abandoned (never dropped) at the end, and the outcome awaited on a plain thread with a
//! deadline. Dropping a runtime waits for its blocking-pool threads, and a wedged store leaves
//! some stuck in sled for good.

use super::CHUNK;
use crate::harness::TestServer;
use futures_util::FutureExt;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::time::{Duration, Instant};
use tokio::runtime::{Handle, Runtime};

/// A runtime that is abandoned, never dropped: dropping one waits for its blocking-pool
/// threads, and a wedged store leaves some stuck in sled for good.
struct Abandoned(Option<Runtime>);

impl Abandoned {
    fn new(threads: &str) -> Abandoned {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name(threads)
            .enable_all()
            .build()
            .unwrap();
        Abandoned(Some(rt))
    }

    fn handle(&self) -> Handle {
        self.0.as_ref().unwrap().handle().clone()
    }
}

impl Drop for Abandoned {
    fn drop(&mut self) {
        if let Some(rt) = self.0.take() {
            rt.shutdown_background();
        }
    }
}

/// Runs an async test for at most `limit`, the server on one runtime (whose handle the test
/// gets) and the test's clients on another.
///
/// Apart, because a server that blocks its async worker threads (a sled call waiting on a
/// wedged lock) would also stop the timers of a runtime it shared with the test, and with them
/// every client timeout. The outcome is awaited on a plain thread with a deadline, and both
/// runtimes are abandoned (see `Abandoned`) whatever happened.
pub(super) fn run_bounded<F, Fut>(name: &str, limit: Duration, test: F)
where
    F: FnOnce(Handle) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let server_rt = Abandoned::new("qopy-server");
    let test_rt = Abandoned::new("load-client");
    let (tx, rx) = std::sync::mpsc::channel();
    let test = test(server_rt.handle());
    let started = Instant::now();
    test_rt.handle().spawn(async move {
        let _ = tx.send(AssertUnwindSafe(test).catch_unwind().await);
    });
    let outcome = rx.recv_timeout(limit);
    drop(test_rt);
    drop(server_rt);
    match outcome {
        Ok(Ok(())) => {}
        Ok(Err(panic)) => {
            eprintln!("{name}: failed after {:.1?}", started.elapsed());
            std::panic::resume_unwind(panic)
        }
        Err(_) => panic!(
            "{name}: did not finish within {limit:?}: a wait without its own timeout hung, \
             the server is wedged"
        ),
    }
}

/// Runs `work` (starting, stopping or restarting the server) on the server's runtime, and
/// waits for it for at most `limit`.
pub(super) async fn on_server<T, W>(rt: &Handle, what: &str, limit: Duration, work: W) -> T
where
    T: Send + 'static,
    W: Future<Output = T> + Send + 'static,
{
    match tokio::time::timeout(limit, rt.spawn(work)).await {
        Ok(Ok(v)) => v,
        Ok(Err(e)) => panic!("{what}: {e}"),
        Err(_) => panic!("{what}: not done within {limit:?}"),
    }
}

/// Starts a test server with `CHUNK`-sized chunks on the server's runtime.
pub(super) async fn start_server(rt: &Handle) -> TestServer {
    let start = TestServer::start_with(|c| c.chunk_size = CHUNK);
    on_server(rt, "starting the server", Duration::from_secs(20), start).await
}

/// Stops a test server gracefully.
pub(super) async fn stop_server(rt: &Handle, server: TestServer) {
    let stop = async move {
        server.stop().await;
    };
    on_server(rt, "stopping the server", Duration::from_secs(20), stop).await
}
