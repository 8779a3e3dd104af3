//! Network facts for the start-up message: the machine's own addresses, so a self-hoster
//! sees which URL to open from a phone on the same LAN, and its host name, which requests may
//! use as their Host.

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
