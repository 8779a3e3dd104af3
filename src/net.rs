//! Network facts for the start-up message: the machine's own addresses, so a self-hoster
//! sees which URL to open from a phone on the same LAN, and its host name, which requests may
//! use as their Host.

use std::net::{IpAddr, SocketAddr};

/// The addresses of the machine's interfaces that are up (loopback first).
pub fn local_addresses() -> Vec<IpAddr> {
    let mut out = Vec::new();
    let mut ifap: *mut libc::ifaddrs = std::ptr::null_mut();
    // SAFETY: getifaddrs fills `ifap` with a list we free with freeifaddrs below.
    if unsafe { libc::getifaddrs(&mut ifap) } != 0 {
        return out;
    }
    let mut cur = ifap;
    while !cur.is_null() {
        // SAFETY: `cur` is a valid node of the list returned by getifaddrs.
        let ifa = unsafe { &*cur };
        let up = ifa.ifa_flags & (libc::IFF_UP as u32) != 0;
        if up && !ifa.ifa_addr.is_null() {
            // SAFETY: ifa_addr points to a sockaddr whose family says its real type.
            let family = unsafe { (*ifa.ifa_addr).sa_family } as i32;
            if family == libc::AF_INET {
                // SAFETY: family AF_INET means the sockaddr is a sockaddr_in.
                let sin = unsafe { &*(ifa.ifa_addr as *const libc::sockaddr_in) };
                out.push(IpAddr::from(
                    u32::from_be(sin.sin_addr.s_addr).to_be_bytes(),
                ));
            } else if family == libc::AF_INET6 {
                // SAFETY: family AF_INET6 means the sockaddr is a sockaddr_in6.
                let sin6 = unsafe { &*(ifa.ifa_addr as *const libc::sockaddr_in6) };
                let ip = std::net::Ipv6Addr::from(sin6.sin6_addr.s6_addr);
                // Link-local addresses need a zone index to be usable in a URL.
                if ip.segments()[0] & 0xffc0 != 0xfe80 {
                    out.push(IpAddr::V6(ip));
                }
            }
        }
        cur = ifa.ifa_next;
    }
    // SAFETY: `ifap` came from getifaddrs and is freed exactly once.
    unsafe { libc::freeifaddrs(ifap) };
    out.sort_by_key(|ip| (!ip.is_loopback(), ip.is_ipv6()));
    out.dedup();
    out
}

/// This machine's host name (`gethostname`), lower-cased, without a trailing dot; `None` when
/// it is unset or not UTF-8.
pub fn host_name() -> Option<String> {
    let mut buf = [0u8; 256];
    // SAFETY: `buf` is writable for its whole length, which is what we pass; gethostname writes
    // at most that many bytes.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if rc != 0 {
        return None;
    }
    // Without a NUL the name was cut short: better none than a wrong one.
    let end = buf.iter().position(|&b| b == 0)?;
    let name = std::str::from_utf8(&buf[..end]).ok()?;
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
