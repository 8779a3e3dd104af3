//! Parsers of configuration values: sizes, durations, rates, address ranges, URLs and
//! origins. Public where the command-line client reuses them.

use super::{IpNet, Rate, UploadRate};
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
        let per = per.trim();
        let per = if per.starts_with(|c: char| c.is_ascii_alphabetic()) {
            parse_duration(&format!("1{per}"))?
        } else {
            parse_duration(per)?
        };
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
        let bad = || {
            format!(
                "`{s}` is not a transfer rate (expected SIZE/DURATION, e.g. 480KiB/30s, or off)"
            )
        };
        let (bytes, per) = t.split_once('/').ok_or_else(bad)?;
        let bytes = parse_size(bytes)?;
        let per = per.trim();
        let per = if per.starts_with(|c: char| c.is_ascii_alphabetic()) {
            parse_duration(&format!("1{per}"))?
        } else {
            parse_duration(per)?
        };
        if bytes == 0 || per.is_zero() {
            return Err(format!(
                "`{s}`: the size and the duration must both be positive"
            ));
        }
        Ok(Some(UploadRate { bytes, per }))
    }
}

impl IpNet {
    /// Parses a CIDR range (`10.0.0.0/8`, `fd00::/8`) or a bare address (a /32 or /128).
    pub fn parse(s: &str) -> Result<IpNet, String> {
        let bad = || format!("`{s}` is not an IP address or CIDR range (e.g. 10.0.0.0/8, ::1)");
        let t = s.trim();
        let (addr, prefix) = match t.split_once('/') {
            Some((addr, prefix)) => (addr, Some(prefix)),
            None => (t, None),
        };
        let addr: IpAddr = addr.parse().map_err(|_| bad())?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(p) => p.parse::<u8>().ok().filter(|p| *p <= max).ok_or_else(bad)?,
        };
        let (addr, prefix) = match addr {
            IpAddr::V6(v6) if prefix >= 96 => match v6.to_ipv4_mapped() {
                Some(v4) => (IpAddr::V4(v4), prefix - 96),
                None => (addr, prefix),
            },
            _ => (addr, prefix),
        };
        let addr = match addr {
            IpAddr::V4(a) => IpAddr::V4(mask32(a.into(), prefix).into()),
            IpAddr::V6(a) => IpAddr::V6(mask128(a.into(), prefix).into()),
        };
        Ok(IpNet { addr, prefix })
    }

    /// Whether `ip` is in this range; an IPv4-mapped IPv6 address counts as its IPv4 address.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            IpAddr::V4(_) => ip,
        };
        let p = self.prefix;
        match (self.addr, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => mask32(net.into(), p) == mask32(ip.into(), p),
            (IpAddr::V6(net), IpAddr::V6(ip)) => mask128(net.into(), p) == mask128(ip.into(), p),
            (IpAddr::V6(net), IpAddr::V4(ip)) => {
                mask128(net.into(), p) == mask128(ip.to_ipv6_mapped().into(), p)
            }
            (IpAddr::V4(_), IpAddr::V6(_)) => false,
        }
    }
}

impl fmt::Display for IpNet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

/// `bits` with all but the first `prefix` bits cleared.
fn mask32(bits: u32, prefix: u8) -> u32 {
    if prefix == 0 {
        0
    } else {
        bits & (u32::MAX << (32 - u32::from(prefix)))
    }
}

/// `bits` with all but the first `prefix` bits cleared.
fn mask128(bits: u128, prefix: u8) -> u128 {
    if prefix == 0 {
        0
    } else {
        bits & (u128::MAX << (128 - u32::from(prefix)))
    }
}

/// Parses a size: bytes ("1048576") or a number and a unit, B, KB, MB, GB, TB (powers of
/// 1000) or KiB, MiB, GiB, TiB (powers of 1024), case-insensitive, optionally spaced ("5 MiB").
pub fn parse_size(s: &str) -> Result<u64, String> {
    let (number, unit) = split_number(s)
        .ok_or_else(|| format!("`{s}` is not a size (expected e.g. 1048576, 512KiB or 4GiB)"))?;
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

/// Parses a duration: seconds ("90") or a number and a unit, s/sec, m/min, h/hr, d or w
/// (plural and long forms such as "mins" or "hours" work too), case-insensitive.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let (number, unit) = split_number(s)
        .ok_or_else(|| format!("`{s}` is not a duration (expected e.g. 90s, 5min, 1hr or 7d)"))?;
    let scale: u64 = match unit.to_ascii_lowercase().as_str() {
        "" | "s" | "sec" | "secs" | "second" | "seconds" => 1,
        "m" | "min" | "mins" | "minute" | "minutes" => 60,
        "h" | "hr" | "hrs" | "hour" | "hours" => 3_600,
        "d" | "day" | "days" => 86_400,
        "w" | "week" | "weeks" => 604_800,
        _ => {
            return Err(format!(
                "`{s}`: unknown duration unit `{unit}` (use s, min, hr, d or w)"
            ))
        }
    };
    let secs = number
        .checked_mul(scale)
        .ok_or_else(|| format!("`{s}` is too long"))?;
    Ok(Duration::from_secs(secs))
}

/// Splits "12 MiB" into (12, "MiB"); `None` if there is no leading integer.
fn split_number(s: &str) -> Option<(u64, &str)> {
    let t = s.trim();
    let end = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let number = t[..end].parse().ok()?;
    Some((number, t[end..].trim_start()))
}

/// Parses a `public_url`: `http(s)://host[:port][/path]`, returned without trailing slashes.
pub(super) fn parse_public_url(s: &str) -> Result<String, String> {
    let t = s.trim().trim_end_matches('/');
    let (_, rest) = split_scheme(t)?;
    if t.contains(|c: char| c.is_whitespace() || c == '?' || c == '#') {
        return Err(format!(
            "`{s}` must be a plain URL without spaces, query or fragment"
        ));
    }
    check_authority(rest.split('/').next().unwrap_or(""))?;
    Ok(t.to_string())
}

/// Parses a CORS origin, `scheme://host[:port]` with no path, normalised to lowercase (as
/// browsers send it). One trailing slash is tolerated and dropped.
pub(super) fn parse_origin(s: &str) -> Result<String, String> {
    let t = s.trim().to_ascii_lowercase();
    let t = t.strip_suffix('/').unwrap_or(&t);
    let (scheme, authority) = split_scheme(t)?;
    if authority.contains(['/', '?', '#']) {
        return Err(format!(
            "origin `{s}` must be scheme://host[:port] with no path"
        ));
    }
    check_authority(authority)?;
    Ok(format!("{scheme}://{authority}"))
}

/// Splits off an `http://` or `https://` scheme (case-insensitive).
fn split_scheme(t: &str) -> Result<(&str, &str), String> {
    let (scheme, rest) = t
        .split_once("://")
        .ok_or_else(|| format!("`{t}` must start with http:// or https://"))?;
    if scheme.eq_ignore_ascii_case("http") || scheme.eq_ignore_ascii_case("https") {
        Ok((scheme, rest))
    } else {
        Err(format!("`{t}` must start with http:// or https://"))
    }
}

/// Checks `host[:port]`, where host is a DNS name, an IPv4 address or a bracketed IPv6 one.
fn check_authority(authority: &str) -> Result<(), String> {
    let bad = || format!("`{authority}` is not a valid host[:port]");
    let (host_ok, port) = if let Some(rest) = authority.strip_prefix('[') {
        let (v6, after) = rest.split_once(']').ok_or_else(bad)?;
        let port = match after {
            "" => None,
            _ => Some(after.strip_prefix(':').ok_or_else(bad)?),
        };
        (v6.parse::<std::net::Ipv6Addr>().is_ok(), port)
    } else {
        let (host, port) = match authority.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        };
        let ok = !host.is_empty()
            && host
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.');
        (ok, port)
    };
    if host_ok && port.is_none_or(|p| p.parse::<u16>().is_ok()) {
        Ok(())
    } else {
        Err(bad())
    }
}
