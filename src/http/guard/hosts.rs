//! The DNS-rebinding defence: a request is answered only when its `Host` names this server.
//! A web page on `evil.example` whose DNS record is re-pointed at a LAN address would
//! otherwise reach the server as same-origin (its `Origin` matches its `Host`) and drive the
//! API from the victim's browser. Known names are any IP literal (no DNS behind it),
//! `localhost` and `*.localhost` (browsers resolve them to loopback themselves), the
//! `public_url` host, the TLS certificate's DNS names, this machine's host name (also with
//! `.local`), and the `allowed_hosts` key (`*` for any). The set is built once at start-up;
//! checking a request allocates nothing.

use crate::config::Config;
use http::HeaderMap;
use std::net::{Ipv4Addr, Ipv6Addr};

/// The host names requests may be addressed to (see the module documentation).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AllowedHosts {
    /// `allowed_hosts` holds `*`: every Host is accepted.
    any: bool,
    /// Lower-case names without a trailing dot.
    exact: Vec<Box<str>>,
    /// `.example.org` for a certificate's `*.example.org`: one more label matches.
    wildcards: Vec<Box<str>>,
}

/// What a `Host` value names, once the port, the brackets and a trailing dot are removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Target<'a> {
    /// An IPv4 or IPv6 literal.
    Ip,
    /// A DNS name (letters, digits, `.`, `-`, `_`), in the case it was sent.
    Name(&'a str),
}

impl AllowedHosts {
    /// The names of a server with this configuration, certificate names and machine name.
    pub fn new(config: &Config, tls_names: &[String], machine: Option<&str>) -> AllowedHosts {
        let mut hosts = AllowedHosts::default();
        if let Some(host) = config.public_url.as_deref().and_then(url_host) {
            hosts.add(host);
        }
        for name in tls_names {
            hosts.add(name);
        }
        if let Some(machine) = machine {
            hosts.add(machine);
            // The short name, and its multicast-DNS form (`nas.local`), which is what a phone
            // on the same LAN uses.
            let short = machine.split('.').next().unwrap_or(machine);
            hosts.add(short);
            hosts.add(&format!("{short}.local"));
        }
        for name in &config.allowed_hosts {
            hosts.add(name);
        }
        hosts
    }

    /// The names of the running server: [`AllowedHosts::new`] with the certificate of `tls`
    /// and this machine's host name.
    pub fn for_server(config: &Config, tls: Option<&crate::tls::Tls>) -> AllowedHosts {
        let tls_names = tls.map(|t| t.dns_names.as_slice()).unwrap_or_default();
        let hosts = AllowedHosts::new(config, tls_names, crate::net::host_name().as_deref());
        tracing::debug!(any = hosts.any, names = ?hosts.exact, wildcards = ?hosts.wildcards, "host names answered");
        hosts
    }

    fn add(&mut self, raw: &str) {
        let name = raw.trim().trim_end_matches('.').to_ascii_lowercase();
        if name == "*" {
            self.any = true;
            return;
        }
        if let Some(base) = name.strip_prefix('*') {
            if base.starts_with('.')
                && base.len() > 1
                && !self.wildcards.iter().any(|w| **w == *base)
            {
                self.wildcards.push(base.into());
            }
            return;
        }
        match target(&name) {
            Some(Target::Name(n)) if !is_localhost(n) && !self.exact.iter().any(|e| **e == *n) => {
                self.exact.push(n.into())
            }
            _ => {}
        }
    }

    /// Whether a request with these headers may be answered: every `Host` value names this
    /// server, or there is none (HTTP/1.0 clients; browsers always send one).
    pub fn allows(&self, headers: &HeaderMap) -> bool {
        self.any
            || headers
                .get_all(http::header::HOST)
                .iter()
                .all(|v| v.to_str().is_ok_and(|v| self.allows_host(v)))
    }

    /// Whether one `Host` value (`name`, `name:port`, `[v6]:port`, ...) names this server. An
    /// empty value is treated as a missing one.
    pub fn allows_host(&self, value: &str) -> bool {
        if self.any || value.is_empty() {
            return true;
        }
        match target(value) {
            None => false,
            Some(Target::Ip) => true,
            Some(Target::Name(name)) => self.allows_name(name),
        }
    }

    fn allows_name(&self, name: &str) -> bool {
        is_localhost(name)
            || self.exact.iter().any(|n| n.eq_ignore_ascii_case(name))
            || self.wildcards.iter().any(|w| {
                ends_with_ignore_case(name, w) && {
                    let label = &name[..name.len() - w.len()];
                    !label.is_empty() && !label.contains('.')
                }
            })
    }
}

/// Whether a `Host` value names a loopback address: `localhost`, a name under it, an IPv4
/// address in 127.0.0.0/8 or `[::1]`. Browsers count such an origin as potentially
/// trustworthy (a secure context) even over plain HTTP.
pub fn is_loopback_host(value: &str) -> bool {
    let bare = match value.strip_prefix('[') {
        Some(rest) => rest.split_once(']').map_or(rest, |(inside, _)| inside),
        None => value.rsplit_once(':').map_or(value, |(host, _)| host),
    };
    let bare = bare.strip_suffix('.').unwrap_or(bare);
    is_localhost(bare)
        || bare.parse::<Ipv4Addr>().is_ok_and(|a| a.is_loopback())
        || bare.parse::<Ipv6Addr>().is_ok_and(|a| a.is_loopback())
}

/// `localhost` or a name under it.
fn is_localhost(name: &str) -> bool {
    name.eq_ignore_ascii_case("localhost") || ends_with_ignore_case(name, ".localhost")
}

fn ends_with_ignore_case(s: &str, suffix: &str) -> bool {
    s.len() >= suffix.len()
        && s.as_bytes()[s.len() - suffix.len()..].eq_ignore_ascii_case(suffix.as_bytes())
}

fn is_port(s: &str) -> bool {
    s.len() <= 5 && s.bytes().all(|b| b.is_ascii_digit())
}

/// Parses a `Host` value; `None` when it is not a host with an optional port.
fn target(value: &str) -> Option<Target<'_>> {
    if let Some(rest) = value.strip_prefix('[') {
        let (inside, after) = rest.split_once(']')?;
        if !after.is_empty() && !is_port(after.strip_prefix(':')?) {
            return None;
        }
        // A zone (`fe80::1%25eth0`) is not part of the address.
        let addr = inside.split_once('%').map_or(inside, |(a, _)| a);
        return addr.parse::<Ipv6Addr>().ok().map(|_| Target::Ip);
    }
    let host = match value.split_once(':') {
        None => value,
        Some((host, port)) if is_port(port) => host,
        // An IPv6 literal without brackets is not a valid Host, but it names no DNS record.
        Some(_) => return value.parse::<Ipv6Addr>().ok().map(|_| Target::Ip),
    };
    let host = host.strip_suffix('.').unwrap_or(host);
    if host.is_empty()
        || !host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b".-_".contains(&b))
    {
        return None;
    }
    if host.parse::<Ipv4Addr>().is_ok() {
        return Some(Target::Ip);
    }
    Some(Target::Name(host))
}

/// The host of a `public_url` (`scheme://[user@]host[:port][/path]`).
fn url_host(url: &str) -> Option<&str> {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = rest.split('/').next().unwrap_or(rest);
    let authority = authority.rsplit_once('@').map_or(authority, |(_, a)| a);
    match target(authority)? {
        Target::Name(n) => Some(n),
        Target::Ip => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn hosts(
        public_url: Option<&str>,
        allowed: &[&str],
        tls: &[&str],
        machine: Option<&str>,
    ) -> AllowedHosts {
        let mut c = Config::defaults();
        c.public_url = public_url.map(String::from);
        c.allowed_hosts = allowed.iter().map(|s| s.to_string()).collect();
        let tls: Vec<String> = tls.iter().map(|s| s.to_string()).collect();
        AllowedHosts::new(&c, &tls, machine)
    }

    #[test]
    fn loopback_hosts() {
        for v in [
            "localhost",
            "LOCALHOST:8080",
            "qopy.localhost:1",
            "127.0.0.1",
            "127.1.2.3:8080",
            "[::1]",
            "[::1]:8080",
            "localhost.",
        ] {
            assert!(is_loopback_host(v), "{v}");
        }
        for v in [
            "qopy.test:8080",
            "192.168.1.20:8080",
            "10.0.0.1",
            "[fe80::1]:80",
            "localhost.example",
            "notlocalhost",
            "",
        ] {
            assert!(!is_loopback_host(v), "{v}");
        }
    }

    #[test]
    fn host_values_are_parsed() {
        assert_eq!(target("127.0.0.1"), Some(Target::Ip));
        assert_eq!(target("127.0.0.1:8080"), Some(Target::Ip));
        assert_eq!(target("[::1]"), Some(Target::Ip));
        assert_eq!(target("[::1]:8080"), Some(Target::Ip));
        assert_eq!(target("[fe80::1%25eth0]:8080"), Some(Target::Ip));
        assert_eq!(target("::1"), Some(Target::Ip));
        assert_eq!(target("Qopy.LAN:8080"), Some(Target::Name("Qopy.LAN")));
        assert_eq!(target("qopy.lan."), Some(Target::Name("qopy.lan")));
        assert_eq!(target("qopy.lan.:443"), Some(Target::Name("qopy.lan")));
        assert_eq!(target("qopy.lan:"), Some(Target::Name("qopy.lan")));
        for bad in [
            "[::1",
            "[::1]x",
            "[::1]:port",
            "[evil.example]",
            "qopy.lan:80:80",
            "qopy.lan:123456",
            ":8080",
            "evil.example/<script>",
            "a b",
            "user@evil.example",
        ] {
            assert_eq!(target(bad), None, "{bad}");
        }
    }

    #[test]
    fn ip_literals_and_localhost_always_match() {
        let h = hosts(None, &[], &[], None);
        answers(
            &h,
            &[
                "127.0.0.1",
                "127.0.0.1:8080",
                "192.168.1.20:8080",
                "[::1]",
                "[::1]:8080",
                "[2001:db8::1]:443",
                "localhost",
                "LOCALHOST:8080",
                "localhost.",
                "qopy.localhost:8080",
                "a.b.Localhost",
                "",
            ],
            &[
                "evil.example",
                "evil.example:8080",
                "localhost.evil.example",
                "evillocalhost",
                "127.0.0.1.evil.example",
                "evil.example/<script>",
            ],
        );
    }

    /// `h` answers every name of `ok` and none of `bad`.
    fn answers(h: &AllowedHosts, ok: &[&str], bad: &[&str]) {
        for name in ok {
            assert!(h.allows_host(name), "{name}");
        }
        for name in bad {
            assert!(!h.allows_host(name), "{name}");
        }
    }

    #[test]
    fn configured_names_match_ignoring_case_port_and_trailing_dot() {
        let h = hosts(
            Some("https://Share.Example.org:8443/qopy"),
            &["qopy.lan", "files.home."],
            &["qopy.example.net", "*.wild.example"],
            Some("nas"),
        );
        answers(
            &h,
            &[
                "share.example.org",
                "SHARE.example.org:443",
                "share.example.org.",
                "qopy.lan:8080",
                "QOPY.LAN",
                "files.home",
                "files.home.:80",
                "qopy.example.net",
                "a.wild.example:8443",
                "nas",
                "NAS.local:8080",
            ],
            &[
                "example.org",
                "evil.share.example.org",
                "qopy.lan.evil.example",
                "wild.example",
                "a.b.wild.example",
                "nas.evil.example",
                "evil.example",
            ],
        );
    }

    #[test]
    fn a_fully_qualified_machine_name_also_allows_its_short_forms() {
        let h = hosts(None, &[], &[], Some("nas.home.arpa"));
        for ok in ["nas.home.arpa", "nas", "nas.local"] {
            assert!(h.allows_host(ok), "{ok}");
        }
        assert!(!h.allows_host("home.arpa"));
    }

    #[test]
    fn a_star_allows_any_host() {
        let h = hosts(None, &["*"], &[], None);
        for any in ["evil.example", "evil.example/<script>", "x:y:z"] {
            assert!(h.allows_host(any), "{any}");
        }
    }

    #[test]
    fn every_host_header_must_match() {
        let h = hosts(None, &["qopy.lan"], &[], None);
        let mut headers = HeaderMap::new();
        assert!(h.allows(&headers), "no Host at all");
        headers.insert("host", HeaderValue::from_static("qopy.lan:8080"));
        assert!(h.allows(&headers));
        headers.append("host", HeaderValue::from_static("evil.example"));
        assert!(!h.allows(&headers), "a second, foreign Host");
        let mut headers = HeaderMap::new();
        headers.insert("host", HeaderValue::from_bytes(b"qopy.lan\xff").unwrap());
        assert!(!h.allows(&headers), "not visible ASCII");
    }

    #[test]
    fn public_url_hosts() {
        assert_eq!(
            url_host("https://share.example.org"),
            Some("share.example.org")
        );
        assert_eq!(
            url_host("http://share.example.org:8080/a/b"),
            Some("share.example.org")
        );
        assert_eq!(
            url_host("http://u@share.example.org"),
            Some("share.example.org")
        );
        assert_eq!(url_host("http://[::1]:8080"), None);
        assert_eq!(url_host("http://10.0.0.1"), None);
    }
}
