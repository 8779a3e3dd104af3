//! Parsers of configuration values: sizes, durations (with `humantime`), rates, address
//! ranges (with `ipnet`), URLs and origins (with `url`). Public where the command-line client
//! or the tests reuse them.

use super::{Rate, UploadRate};
use std::fmt;
use std::net::IpAddr;
use std::time::Duration;

impl Rate {
    /// Parses `COUNT/DURATION` ("20/5min", "100/1hr"; "100/hr" means "100/1hr"), with COUNT
    /// at least 1 and a non-zero duration.
    pub fn parse(s: &str) -> Result<Rate, String> {
        let bad = || format!("`{s}` is not a rate (expected COUNT/DURATION, e.g. 20/5min)");
        let (count, per) = s.split_once('/').ok_or_else(bad)?;
        let count: u32 = count.trim().parse().map_err(|_| bad())?;
        let per = period(per)?;
        if count == 0 || per.is_zero() {
            return Err(format!(
                "`{s}`: the count and the duration must both be positive"
            ));
        }
        Ok(Rate { count, per })
    }
}

impl UploadRate {
    /// Parses `SIZE/DURATION`, the least that must arrive in every window of DURATION
    /// ("480KiB/30s"; "16KiB/s" means "16KiB/1s"), or `0`/`off` for no minimum.
    pub fn parse(s: &str) -> Result<Option<UploadRate>, String> {
        let t = s.trim();
        if t == "0" || t.eq_ignore_ascii_case("off") {
            return Ok(None);
        }
        let (bytes, per) = t.split_once('/').ok_or_else(|| {
            format!(
                "`{s}` is not a transfer rate (expected SIZE/DURATION, e.g. 480KiB/30s, or off)"
            )
        })?;
        let bytes = parse_size(bytes)?;
        let per = period(per)?;
        if bytes == 0 || per.is_zero() {
            return Err(format!(
                "`{s}`: the size and the duration must both be positive"
            ));
        }
        Ok(Some(UploadRate { bytes, per }))
    }
}

/// The DURATION of a rate; a bare unit counts one of it ("hr" is "1hr").
fn period(per: &str) -> Result<Duration, String> {
    let per = per.trim();
    if per.starts_with(|c: char| c.is_ascii_alphabetic()) {
        parse_duration(&format!("1{per}"))
    } else {
        parse_duration(per)
    }
}

/// An address range (`10.0.0.0/8`, `::1/128`, or a bare address) with its host bits
/// cleared. An IPv4-mapped IPv6 range is stored as the IPv4 range it covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpNet(ipnet::IpNet);

impl IpNet {
    /// Parses a CIDR range (`10.0.0.0/8`, `fd00::/8`) or a bare address (a /32 or /128).
    pub fn parse(s: &str) -> Result<IpNet, String> {
        let bad = || format!("`{s}` is not an IP address or CIDR range (e.g. 10.0.0.0/8, ::1)");
        let t = s.trim();
        let net = match t.parse::<ipnet::IpNet>() {
            Ok(net) => net,
            Err(_) => ipnet::IpNet::from(t.parse::<IpAddr>().map_err(|_| bad())?),
        };
        let net = match net {
            ipnet::IpNet::V6(v6) if v6.prefix_len() >= 96 => match v6.addr().to_ipv4_mapped() {
                Some(v4) => ipnet::Ipv4Net::new(v4, v6.prefix_len() - 96)
                    .map_err(|_| bad())?
                    .into(),
                None => net,
            },
            _ => net,
        };
        Ok(IpNet(net.trunc()))
    }

    /// Whether `ip` is in this range; an IPv4-mapped IPv6 address counts as its IPv4 address.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        match (self.0, ip) {
            (ipnet::IpNet::V6(net), IpAddr::V4(v4)) => net.contains(&v4.to_ipv6_mapped()),
            (net, ip) => net.contains(&ip),
        }
    }

    /// The network address.
    pub fn network(&self) -> IpAddr {
        self.0.network()
    }

    /// The prefix length: at most 32 for IPv4, 128 for IPv6.
    pub fn prefix_len(&self) -> u8 {
        self.0.prefix_len()
    }
}

impl fmt::Display for IpNet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// Parses a size: bytes ("1048576") or a whole number and a unit, B, KB, MB, GB, TB (powers
/// of 1000) or KiB, MiB, GiB, TiB (powers of 1024), case-insensitive, optionally spaced
/// ("5 MiB"). (Size crates accept fractions such as "1.5GiB", which this syntax refuses.)
pub fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let end = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (number, unit) = (t[..end].parse::<u64>(), t[end..].trim_start());
    let number = number
        .map_err(|_| format!("`{s}` is not a size (expected e.g. 1048576, 512KiB or 4GiB)"))?;
    let scale: u64 = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "kb" => 1_000,
        "mb" => 1_000_000,
        "gb" => 1_000_000_000,
        "tb" => 1_000_000_000_000,
        "kib" => 1 << 10,
        "mib" => 1 << 20,
        "gib" => 1 << 30,
        "tib" => 1 << 40,
        _ => {
            return Err(format!(
                "`{s}`: unknown size unit `{unit}` (use B, KB, MB, GB, TB, KiB, MiB, GiB or TiB)"
            ))
        }
    };
    number
        .checked_mul(scale)
        .ok_or_else(|| format!("`{s}` is too large"))
}

/// Parses a duration of whole seconds: seconds ("90") or what `humantime` reads ("10s",
/// "5min", "1hr", "7d", "2w", "1h 30min"), case-insensitive. Fractions ("1.5h") and parts of
/// a second ("10ms") are refused.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let t = s.trim().to_ascii_lowercase();
    if !t.is_empty() && t.bytes().all(|c| c.is_ascii_digit()) {
        return t
            .parse()
            .map(Duration::from_secs)
            .map_err(|_| format!("`{s}` is too long"));
    }
    if t.contains('.') {
        return Err(format!("`{s}`: a duration is a whole number of its unit"));
    }
    let d = humantime::parse_duration(&t).map_err(|e| {
        format!("`{s}` is not a duration ({e}; expected e.g. 90s, 5min, 1hr or 7d)")
    })?;
    if d.subsec_nanos() != 0 {
        return Err(format!("`{s}` is not a whole number of seconds"));
    }
    Ok(d)
}

/// Parses a `public_url`: `http(s)://host[:port][/path]`, normalised and returned without
/// trailing slashes.
pub(super) fn public_url(s: &str) -> Result<String, String> {
    let url = http_url(s)?;
    Ok(url.as_str().trim_end_matches('/').to_string())
}

/// Parses a CORS origin, `scheme://host[:port]` with no path, normalised (lowercase, no
/// default port) as browsers send it. One trailing slash is tolerated.
pub(super) fn origin(s: &str) -> Result<String, String> {
    let url = http_url(s)?;
    if url.path() != "/" {
        return Err(format!(
            "origin `{s}` must be scheme://host[:port] with no path"
        ));
    }
    Ok(url.origin().ascii_serialization())
}

/// An absolute `http://` or `https://` URL with a host and no user, query or fragment.
fn http_url(s: &str) -> Result<url::Url, String> {
    let t = s.trim();
    let scheme = t
        .split_once("://")
        .map(|(scheme, _)| scheme.to_ascii_lowercase());
    if !matches!(scheme.as_deref(), Some("http" | "https")) {
        return Err(format!("`{t}` must start with http:// or https://"));
    }
    if t.contains(|c: char| c.is_whitespace() || c == '?' || c == '#') {
        return Err(format!(
            "`{s}` must be a plain URL without spaces, query or fragment"
        ));
    }
    let url = url::Url::parse(t).map_err(|e| format!("`{t}` is not a valid URL ({e})"))?;
    if url.host().is_none() || !url.username().is_empty() || url.password().is_some() {
        return Err(format!("`{t}` must be scheme://host[:port] without a user"));
    }
    Ok(url)
}
