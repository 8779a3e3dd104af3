//! Network facts for the start-up message: the machine's own addresses, so a self-hoster
//! sees which URL to open from a phone on the same LAN, and its host name, which requests may
//! use as their Host. And one fact of a live connection: whether the peer has received what
//! was written to it ([`Delivery`]), which ends a download claim.

use std::net::{IpAddr, SocketAddr};

/// The addresses of the machine's interfaces that are up (loopback first), as `if-addrs`
/// reads them; IPv6 link-local addresses are left out (they need a zone index to be usable
/// in a URL).
pub fn local_addresses() -> Vec<IpAddr> {
    let mut out: Vec<IpAddr> = if_addrs::get_if_addrs()
        .unwrap_or_default()
        .into_iter()
        .filter(|i| i.is_oper_up())
        .map(|i| i.ip())
        .filter(|ip| match ip {
            IpAddr::V4(_) => true,
            IpAddr::V6(v6) => v6.segments()[0] & 0xffc0 != 0xfe80,
        })
        .collect();
    out.sort_by_key(|ip| (!ip.is_loopback(), ip.is_ipv6()));
    out.dedup();
    out
}

/// This machine's host name (the node name of `uname`, which is what `gethostname` reads),
/// lower-cased, without a trailing dot; `None` when it is unset or not UTF-8.
pub fn host_name() -> Option<String> {
    let uname = rustix::system::uname();
    let name = uname.nodename().to_str().ok()?;
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    (!name.is_empty()).then_some(name)
}

/// The URLs at which a server bound to `bound` can be opened.
pub fn urls(bound: SocketAddr) -> Vec<String> {
    urls_with_scheme(bound, "http")
}

/// Like [`urls`], with `scheme` (`http` or `https`).
pub fn urls_with_scheme(bound: SocketAddr, scheme: &str) -> Vec<String> {
    let fmt = |ip: IpAddr| match ip {
        IpAddr::V4(v4) => format!("{scheme}://{v4}:{}/", bound.port()),
        IpAddr::V6(v6) => format!("{scheme}://[{v6}]:{}/", bound.port()),
    };
    if !bound.ip().is_unspecified() {
        return vec![fmt(bound.ip())];
    }
    local_addresses()
        .into_iter()
        .filter(|ip| bound.is_ipv6() || ip.is_ipv4())
        .map(fmt)
        .collect()
}

/// The socket of the connection a request came on, as the server loop saw it. Valid while
/// the request is being handled: the connection outlives it.
#[derive(Debug, Clone, Copy)]
pub struct ConnFd(pub std::os::fd::RawFd);

/// Where the bytes written to a connection are: whether its peer has acknowledged them all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sent {
    /// Nothing is waiting to be sent or acknowledged, and the connection was not reset.
    Delivered,
    /// Bytes are still unsent or unacknowledged.
    Pending,
    /// The connection was reset or is closed: what was queued is lost.
    Broken,
}

/// How long the peer must keep a connection up after acknowledging the last byte before the
/// bytes count as received (see [`Delivery::delivered`]).
pub const SETTLE: std::time::Duration = std::time::Duration::from_secs(1);

/// TCP states (linux/tcp_states.h).
#[cfg(target_os = "linux")]
mod state {
    pub const ESTABLISHED: u8 = 1;
    pub const FIN_WAIT1: u8 = 4;
    pub const FIN_WAIT2: u8 = 5;
    pub const TIME_WAIT: u8 = 6;
    pub const CLOSE_WAIT: u8 = 8;
    pub const LAST_ACK: u8 = 9;
    pub const CLOSING: u8 = 11;
    pub const CLOSE: u8 = 7;
}

/// The socket's pending error (0: none), which a reset leaves.
#[cfg(target_os = "linux")]
fn so_error(fd: &std::os::fd::OwnedFd) -> i32 {
    rustix::net::sockopt::socket_error(fd)
        .map(|r| match r {
            Ok(()) => 0,
            Err(e) => e.raw_os_error(),
        })
        .unwrap_or(-1)
}

/// The TCP state of a socket, `None` when the kernel does not say.
#[cfg(target_os = "linux")]
fn tcp_state(fd: &std::os::fd::OwnedFd) -> Option<u8> {
    tcp_info(fd).map(|i| i.tcpi_state)
}

/// Bytes received on a socket so far (0 where the kernel is not asked).
fn bytes_received(fd: &std::os::fd::OwnedFd) -> u64 {
    #[cfg(target_os = "linux")]
    return tcp_info(fd).map(|i| i.tcpi_bytes_received).unwrap_or(0);
    #[cfg(not(target_os = "linux"))]
    {
        let _ = fd;
        0
    }
}

/// The kernel's `TCP_INFO` of a socket.
#[cfg(target_os = "linux")]
fn tcp_info(fd: &std::os::fd::OwnedFd) -> Option<libc::tcp_info> {
    use std::os::fd::AsRawFd;
    // SAFETY: a zeroed `tcp_info` is a valid value, and getsockopt writes at most `len`
    // bytes into it.
    unsafe {
        let mut info: libc::tcp_info = std::mem::zeroed();
        let mut len = std::mem::size_of::<libc::tcp_info>() as libc::socklen_t;
        let r = libc::getsockopt(
            fd.as_raw_fd(),
            libc::IPPROTO_TCP,
            libc::TCP_INFO,
            (&mut info as *mut libc::tcp_info).cast(),
            &mut len,
        );
        (r == 0).then_some(info)
    }
}

/// A hold on a connection's socket (a duplicate of its descriptor, so it stays open and
/// keeps delivering what is queued even after the server is done with the connection) to
/// learn when the peer has received everything written to it.
#[derive(Debug)]
pub struct Delivery(std::os::fd::OwnedFd, Seen, u64);

/// What the samples of a connection's state showed so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Seen {
    /// No sample yet.
    Nothing,
    /// Open, or closed by the peer only: a later close can only be a reset.
    Open,
    /// Our side closed in order (hyper shut it down after the answer).
    WeClosed,
}

impl Delivery {
    /// A hold on the socket of `conn`; call it while the connection is in use.
    pub fn of(conn: ConnFd) -> std::io::Result<Delivery> {
        // SAFETY: the descriptor belongs to a connection that is still open while one of
        // its requests is being handled (see `ConnFd`); it is duplicated at once.
        let fd = unsafe { std::os::fd::BorrowedFd::borrow_raw(conn.0) };
        let fd = fd.try_clone_to_owned()?;
        let received = bytes_received(&fd);
        Ok(Delivery(fd, Seen::Nothing, received))
    }

    /// What the kernel says of the socket's send queue.
    #[cfg(target_os = "linux")]
    pub fn sent(&mut self) -> Sent {
        use std::os::fd::AsRawFd;
        let Some(state) = tcp_state(&self.0) else {
            return Sent::Broken;
        };
        let mut queued: libc::c_int = 0;
        // SAFETY: TIOCOUTQ writes one int (the bytes not yet sent or acknowledged).
        if unsafe { libc::ioctl(self.0.as_raw_fd(), libc::TIOCOUTQ, &mut queued) } != 0 {
            return Sent::Broken;
        }
        use state::*;
        let seen = self.1;
        self.1 = match state {
            ESTABLISHED | CLOSE_WAIT | LAST_ACK => Seen::Open,
            FIN_WAIT1 | FIN_WAIT2 | TIME_WAIT | CLOSING => Seen::WeClosed,
            _ => seen,
        };
        match (state, queued) {
            // Our side closed in order (after the data) and the peer acknowledged it all.
            (FIN_WAIT2 | TIME_WAIT, _) => Sent::Delivered,
            // Fully closed: after our orderly close (the peer's FIN ends it so, as a reset
            // does, but a reset leaves an error on the socket), or a reset.
            (CLOSE, _) if seen != Seen::Open && so_error(&self.0) == 0 => Sent::Delivered,
            // Open, or closing in order: what is queued still goes out.
            (ESTABLISHED | CLOSE_WAIT | FIN_WAIT1 | CLOSING | LAST_ACK, 0) => Sent::Delivered,
            (ESTABLISHED | CLOSE_WAIT | FIN_WAIT1 | CLOSING | LAST_ACK, _) => Sent::Pending,
            // Reset or closed: the queue is gone.
            _ => Sent::Broken,
        }
    }

    /// Elsewhere the kernel is not asked: what was written counts as delivered.
    #[cfg(not(target_os = "linux"))]
    pub fn sent(&mut self) -> Sent {
        Sent::Delivered
    }

    /// Waits until the peer has received everything written (true), the connection broke,
    /// or `within` passed (false). The peer's kernel acknowledges what fits in its receive
    /// buffer before the program reads it, so "received" also needs the peer not to reset
    /// the connection (as a program that gives up reading does) for [`SETTLE`] after the
    /// queue was first seen empty, unless it closed its side in order (it read to the end).
    pub async fn delivered(mut self, within: std::time::Duration) -> bool {
        let start = tokio::time::Instant::now();
        let mut acked_since: Option<tokio::time::Instant> = None;
        let mut pause = std::time::Duration::from_millis(5);
        // The connection is handed the last piece before it writes it (in the same task,
        // at once, unless the send buffer is full, which shows as a queue): the first look
        // waits a little so that it never sees the queue empty in between.
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        loop {
            let now = tokio::time::Instant::now();
            // Once the queue was empty, everything written before was acknowledged; what is
            // queued later belongs to later answers on the same connection.
            match (self.sent(), acked_since) {
                _ if self.peer_moved_on() => return true,
                (Sent::Broken, _) => return false,
                (Sent::Delivered, _) if self.peer_closed() => return true,
                (Sent::Delivered, None) => acked_since = Some(now),
                (_, Some(since)) if now >= since + SETTLE => return true,
                (_, _) => {}
            }
            if now >= start + within {
                return false;
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(std::time::Duration::from_millis(100));
        }
    }

    /// Whether the peer sent another request on the connection after this answer: an HTTP/1.1
    /// client does that only once it has read the whole answer (one that gives up on an
    /// answer closes the connection instead).
    fn peer_moved_on(&self) -> bool {
        bytes_received(&self.0) > self.2 + 16
    }

    /// Whether the connection was closed in order, by the peer (which read to the end) or by
    /// us after the last byte, and not reset.
    #[cfg(target_os = "linux")]
    fn peer_closed(&self) -> bool {
        use state::*;
        matches!(
            tcp_state(&self.0),
            Some(CLOSE_WAIT | FIN_WAIT2 | TIME_WAIT | LAST_ACK | CLOSING)
        )
    }

    #[cfg(not(target_os = "linux"))]
    fn peer_closed(&self) -> bool {
        false
    }
}
