//! A TCP proxy in front of a server that breaks connections mid-answer, as a dropped Wi-Fi
//! link or a killed proxy would: the first `cuts` connections whose answers pass `after`
//! bytes are closed right there, both ways; later ones pass untouched.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// A running proxy; it stops when dropped.
pub struct CuttingProxy {
    /// `http://127.0.0.1:port`.
    pub base: String,
    cuts_left: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl CuttingProxy {
    /// A proxy to `upstream` that cuts `cuts` answers after `after` bytes each.
    pub async fn start(upstream: &str, after: u64, cuts: usize) -> CuttingProxy {
        let upstream: SocketAddr = upstream
            .trim_start_matches("http://")
            .parse()
            .expect("upstream host:port");
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let cuts_left = Arc::new(AtomicUsize::new(cuts));
        let left = cuts_left.clone();
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let left = left.clone();
                tokio::spawn(async move {
                    if let Ok(server) = TcpStream::connect(upstream).await {
                        relay(client, server, after, left).await;
                    }
                });
            }
        });
        CuttingProxy {
            base,
            cuts_left,
            task,
        }
    }

    /// How many cuts are still to come.
    pub fn cuts_left(&self) -> usize {
        self.cuts_left.load(Ordering::SeqCst)
    }
}

impl Drop for CuttingProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn relay(client: TcpStream, server: TcpStream, after: u64, left: Arc<AtomicUsize>) {
    let (mut cr, mut cw) = client.into_split();
    let (mut sr, mut sw) = server.into_split();
    let upstream = tokio::spawn(async move {
        let _ = tokio::io::copy(&mut cr, &mut sw).await;
        let _ = sw.shutdown().await;
    });
    let mut sent = 0u64;
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match sr.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        if sent + n as u64 > after
            && left
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |l| l.checked_sub(1))
                .is_ok()
        {
            let keep = (after - sent) as usize;
            let _ = cw.write_all(&buf[..keep]).await;
            let _ = cw.flush().await;
            // Closed mid-answer: the client sees the connection end early.
            break;
        }
        if cw.write_all(&buf[..n]).await.is_err() {
            break;
        }
        sent += n as u64;
    }
    upstream.abort();
}
