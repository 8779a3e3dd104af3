//! The per-address connection cap (`max_connections_per_address`).

use crate::http::guard::address_key;
use std::sync::Arc;

/// Counts the connections of each client address (an IPv6 /64 is one address), so that one
/// address cannot hold more than `max_connections_per_address`. Trusted proxies, which carry
/// every client behind them, are not limited.
pub(super) struct PerAddress {
    limit: Option<usize>,
    exempt: Vec<crate::config::IpNet>,
    open: parking_lot::Mutex<std::collections::HashMap<std::net::IpAddr, usize>>,
}

/// One admitted connection; gives its place back when dropped.
pub(super) struct AddressSlot {
    owner: Arc<PerAddress>,
    key: Option<std::net::IpAddr>,
}

impl PerAddress {
    pub(super) fn new(cfg: &crate::config::Config) -> PerAddress {
        PerAddress {
            limit: cfg.max_connections_per_address,
            exempt: cfg.trusted_proxies.clone(),
            open: Default::default(),
        }
    }

    /// A place for a connection from `ip`, or `None` when its address holds its limit.
    pub(super) fn admit(self: Arc<Self>, ip: std::net::IpAddr) -> Option<AddressSlot> {
        let limit = match self.limit {
            Some(l) if !self.exempt.iter().any(|n| n.contains(ip)) => l,
            _ => {
                return Some(AddressSlot {
                    owner: self,
                    key: None,
                })
            }
        };
        let key = address_key(ip);
        {
            let mut open = self.open.lock();
            let n = open.entry(key).or_insert(0);
            if *n >= limit {
                return None;
            }
            *n += 1;
        }
        Some(AddressSlot {
            owner: self,
            key: Some(key),
        })
    }
}

impl Drop for AddressSlot {
    fn drop(&mut self) {
        if let Some(key) = self.key {
            let mut open = self.owner.open.lock();
            if let Some(n) = open.get_mut(&key) {
                *n -= 1;
                if *n == 0 {
                    open.remove(&key);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connections_count_per_address_and_ipv6_slash_64() {
        let mut cfg = crate::config::Config::defaults();
        cfg.max_connections_per_address = Some(2);
        cfg.trusted_proxies = vec![crate::config::IpNet::parse("10.0.0.1").unwrap()];
        let pa = Arc::new(PerAddress::new(&cfg));
        let ip = |s: &str| s.parse::<std::net::IpAddr>().unwrap();
        let a1 = pa.clone().admit(ip("192.0.2.1")).unwrap();
        let _a2 = pa.clone().admit(ip("::ffff:192.0.2.1")).unwrap();
        assert!(pa.clone().admit(ip("192.0.2.1")).is_none());
        assert!(pa.clone().admit(ip("192.0.2.2")).is_some());
        drop(a1);
        assert!(pa.clone().admit(ip("192.0.2.1")).is_some());
        let _b1 = pa.clone().admit(ip("2001:db8:1:2::1")).unwrap();
        let _b2 = pa.clone().admit(ip("2001:db8:1:2:ffff::9")).unwrap();
        assert!(pa.clone().admit(ip("2001:db8:1:2::77")).is_none());
        assert!(pa.clone().admit(ip("2001:db8:1:3::1")).is_some());
        let proxies: Vec<_> = (0..5).map(|_| pa.clone().admit(ip("10.0.0.1"))).collect();
        assert!(proxies.iter().all(Option::is_some));
    }
}
