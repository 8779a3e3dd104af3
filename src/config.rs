//! Configuration: built-in defaults (the embedded `config/qopy.toml`), then an optional TOML
//! file, then `QOPY_*` environment variables, then command-line flags. Every layer is checked
//! against the same list of keys, so an unknown or malformed key stops start-up with a message
//! that names the key and the layer it came from. The size, duration and rate parsers are public
//! because the command-line client reuses them.

use std::collections::BTreeMap;
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The built-in defaults, documented key by key.
const DEFAULTS_TOML: &str = include_str!("../config/qopy.toml");

/// Every configuration key, in the order of `config/qopy.toml`. Key `some_key` is also the
/// environment variable `QOPY_SOME_KEY` and the flag `--some-key`.
pub const KEYS: &[&str] = &[
    "listen",
    "data_dir",
    "admin_token",
    "public_url",
    "rate_limits",
    "max_file_size",
    "chunk_size",
    "max_text_chars",
    "expiry_options",
    "default_expiry",
    "session_idle",
    "sweep_interval",
    "min_free_disk",
    "max_storage",
    "cors_origins",
    "trusted_proxies",
    "max_connections",
    "header_read_timeout",
    "idle_timeout",
    "log",
    "limit_initiate",
    "limit_chunk",
    "limit_lookup",
    "limit_download",
    "limit_admin_auth",
    "limit_failed_per_address",
    "limit_failed_global",
];

/// `QOPY_*` variables read by other parts of the program; [`Config::load`] skips them.
pub const FOREIGN_ENV: &[&str] = &["QOPY_CONFIG", "QOPY_SERVER", "QOPY_LOG_FORMAT"];

/// Smallest and largest allowed `chunk_size`.
const CHUNK_SIZE_RANGE: (u64, u64) = (64 << 10, 64 << 20);
/// Shortest allowed `admin_token`, in characters.
const MIN_ADMIN_TOKEN_CHARS: usize = 16;

/// A rate: at most `count` events per `per`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    /// Events allowed per period (also the burst size).
    pub count: u32,
    /// The period.
    pub per: Duration,
}

/// Per-address and server-wide request budgets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateLimits {
    /// `POST /api/upload/initiate` and one-shot uploads, per address.
    pub initiate: Rate,
    /// Chunk uploads, per address.
    pub chunk: Rate,
    /// Clip and file metadata lookups (`/api/clip/*`, `/api/file/*/info`), per address.
    pub lookup: Rate,
    /// Content downloads (`POST /api/file/:id`), per address.
    pub download: Rate,
    /// Admin login attempts, per address.
    pub admin_auth: Rate,
    /// Failed lookups (unknown ID, wrong access code), per address.
    pub failed_per_address: Rate,
    /// Failed lookups (unknown ID, wrong access code), all addresses together.
    pub failed_global: Rate,
}

/// The validated configuration of one server process. Each field is the key of the same name
/// in `config/qopy.toml`, except `limits`, which gathers the `limit_*` keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// Address and port to listen on.
    pub listen: SocketAddr,
    /// Directory holding the database and blobs.
    pub data_dir: PathBuf,
    /// Admin API bearer token (at least 16 characters); `None` turns the admin API off.
    pub admin_token: Option<String>,
    /// Base URL for share links, without a trailing slash; `None` means use the request's Host.
    pub public_url: Option<String>,
    /// Whether `limits` are enforced.
    pub rate_limits: bool,
    /// Request budgets (the `limit_*` keys).
    pub limits: RateLimits,
    /// Largest file one upload may carry, in bytes (at least 1).
    pub max_file_size: u64,
    /// Upload chunk size in bytes, between 64 KiB and 64 MiB.
    pub chunk_size: u64,
    /// Most characters a text clip may hold (at least 1).
    pub max_text_chars: u64,
    /// Allowed expiry names and their lifetimes in milliseconds, in display order.
    pub expiry_options: Vec<(String, u64)>,
    /// The preselected expiry; always one of the names in `expiry_options`.
    pub default_expiry: String,
    /// How long an unfinished upload session may sit idle.
    pub session_idle: Duration,
    /// Period of the expiry sweeper.
    pub sweep_interval: Duration,
    /// Free disk space, in bytes, below which uploads are refused.
    pub min_free_disk: u64,
    /// Total storage quota in bytes; `None` means unlimited.
    pub max_storage: Option<u64>,
    /// Extra CORS origins, normalised to lowercase `scheme://host[:port]`.
    pub cors_origins: Vec<String>,
    /// Proxies whose `X-Forwarded-For` is honoured.
    pub trusted_proxies: Vec<IpNet>,
    /// Most client connections served at once (at least 1).
    pub max_connections: usize,
    /// Time a client has to send its request headers.
    pub header_read_timeout: Duration,
    /// Time an idle keep-alive connection is kept open.
    pub idle_timeout: Duration,
    /// A `tracing_subscriber::EnvFilter` directive string, checked to parse.
    pub log: String,
}

/// An address range (`10.0.0.0/8`, `::1/128`, or a bare address). `addr` has its host bits
/// cleared, and an IPv4-mapped IPv6 range is stored as the IPv4 range it covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpNet {
    /// The network address.
    pub addr: IpAddr,
    /// The prefix length: at most 32 for IPv4, 128 for IPv6.
    pub prefix: u8,
}

/// Where a setting came from, for error messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Layer {
    /// The embedded `config/qopy.toml`.
    Defaults,
    /// A configuration file.
    File(PathBuf),
    /// An environment variable (its name).
    Env(String),
    /// A command-line flag (its config key).
    Flag(String),
}

impl fmt::Display for Layer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Layer::Defaults => f.write_str("built-in defaults"),
            Layer::File(path) => write!(f, "config file {}", path.display()),
            Layer::Env(var) => write!(f, "environment {var}"),
            Layer::Flag(key) => write!(f, "flag --{}", key.replace('_', "-")),
        }
    }
}

/// Why the configuration could not be loaded. Every message names the file, key or variable.
#[derive(thiserror::Error, Debug)]
pub enum ConfigError {
    /// The configuration file could not be read.
    #[error("cannot read config file {}: {cause}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        cause: std::io::Error,
    },
    /// A file (or the embedded defaults) is not valid TOML.
    #[error("cannot parse {layer}: {message}")]
    Syntax {
        /// The file.
        layer: Layer,
        /// The TOML parser's message.
        message: String,
    },
    /// A file or flag names a key that does not exist.
    #[error("unknown configuration key `{key}` (from {layer})")]
    UnknownKey {
        /// The unknown key.
        key: String,
        /// Where it was found.
        layer: Layer,
    },
    /// A `QOPY_*` environment variable matches no key.
    #[error("unknown environment variable {var}: there is no configuration key `{key}`")]
    UnknownEnv {
        /// The variable's name.
        var: String,
        /// The key it would stand for.
        key: String,
    },
    /// A value is malformed or out of range.
    #[error("invalid value for `{key}` (from {layer}): {message}")]
    Invalid {
        /// The key.
        key: &'static str,
        /// The layer the offending value came from.
        layer: Layer,
        /// What is wrong with it.
        message: String,
    },
    /// A required key is missing from the embedded defaults (a bug in `config/qopy.toml`).
    #[error("configuration key `{key}` is missing from the built-in defaults")]
    Missing {
        /// The key.
        key: &'static str,
    },
}

impl Config {
    /// The built-in defaults. Panics only if the embedded `config/qopy.toml` is broken, which
    /// the unit tests rule out.
    pub fn defaults() -> Config {
        Config::load(None, &[], &[]).expect("the embedded config/qopy.toml is valid")
    }

    /// Layers the defaults, `file`, the `QOPY_*` variables among `env` (other variables are
    /// ignored, as are [`FOREIGN_ENV`]) and `flags` (config key, value), each overriding the
    /// ones before, then validates the result. List-valued keys take comma-separated values
    /// in `env` and `flags`.
    pub fn load(
        file: Option<&Path>,
        env: &[(String, String)],
        flags: &[(String, String)],
    ) -> Result<Config, ConfigError> {
        let mut values = Values::default();
        values.merge_toml(DEFAULTS_TOML, Layer::Defaults)?;
        if let Some(path) = file {
            let text = std::fs::read_to_string(path).map_err(|cause| ConfigError::Read {
                path: path.to_path_buf(),
                cause,
            })?;
            values.merge_toml(&text, Layer::File(path.to_path_buf()))?;
        }
        for (var, value) in env {
            let Some(suffix) = var.strip_prefix("QOPY_") else {
                continue;
            };
            if FOREIGN_ENV.contains(&var.as_str()) {
                continue;
            }
            let key = suffix.to_ascii_lowercase();
            match known_key(&key) {
                Some(k) if suffix == k.to_ascii_uppercase() => {
                    values.set(k, Raw::Str(value.clone()), Layer::Env(var.clone()))
                }
                _ => {
                    return Err(ConfigError::UnknownEnv {
                        var: var.clone(),
                        key,
                    })
                }
            }
        }
        for (name, value) in flags {
            let key = name.replace('-', "_");
            let Some(k) = known_key(&key) else {
                return Err(ConfigError::UnknownKey {
                    layer: Layer::Flag(key.clone()),
                    key,
                });
            };
            values.set(k, Raw::Str(value.clone()), Layer::Flag(k.to_string()));
        }
        values.build()
    }

    /// The lifetime in milliseconds of the expiry option called `name`, if it is allowed.
    pub fn expiry_ms(&self, name: &str) -> Option<u64> {
        self.expiry_options
            .iter()
            .find(|(option, _)| option == name)
            .map(|&(_, ms)| ms)
    }
}

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
fn parse_public_url(s: &str) -> Result<String, String> {
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
fn parse_origin(s: &str) -> Result<String, String> {
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

/// A setting before interpretation: what TOML allows, or the string of an env var or flag.
#[derive(Debug, Clone)]
enum Raw {
    Str(String),
    Int(i64),
    Bool(bool),
    List(Vec<String>),
}

impl Raw {
    fn from_toml(value: toml::Value) -> Result<Raw, String> {
        match value {
            toml::Value::String(s) => Ok(Raw::Str(s)),
            toml::Value::Integer(i) => Ok(Raw::Int(i)),
            toml::Value::Boolean(b) => Ok(Raw::Bool(b)),
            toml::Value::Array(items) => items
                .into_iter()
                .map(|item| match item {
                    toml::Value::String(s) => Ok(s),
                    other => Err(format!(
                        "expected a list of strings, found {}",
                        other.type_str()
                    )),
                })
                .collect::<Result<_, _>>()
                .map(Raw::List),
            other => Err(format!("unsupported TOML type {}", other.type_str())),
        }
    }

    fn kind(&self) -> &'static str {
        match self {
            Raw::Str(_) => "a string",
            Raw::Int(_) => "an integer",
            Raw::Bool(_) => "a boolean",
            Raw::List(_) => "a list",
        }
    }

    fn text(&self) -> Result<&str, String> {
        match self {
            Raw::Str(s) => Ok(s),
            other => Err(format!("expected a string, found {}", other.kind())),
        }
    }

    fn size(&self) -> Result<u64, String> {
        match self {
            Raw::Int(i) => u64::try_from(*i).map_err(|_| "must not be negative".to_string()),
            Raw::Str(s) => parse_size(s),
            other => Err(format!("expected a size, found {}", other.kind())),
        }
    }

    fn duration(&self) -> Result<Duration, String> {
        let d = match self {
            Raw::Int(i) => Duration::from_secs(
                u64::try_from(*i).map_err(|_| "must not be negative".to_string())?,
            ),
            Raw::Str(s) => parse_duration(s)?,
            other => return Err(format!("expected a duration, found {}", other.kind())),
        };
        if d.is_zero() {
            return Err("must be longer than zero".into());
        }
        Ok(d)
    }

    /// A positive integer.
    fn count(&self) -> Result<u64, String> {
        let n = match self {
            Raw::Int(i) => u64::try_from(*i).map_err(|_| "must not be negative".to_string())?,
            Raw::Str(s) => s
                .trim()
                .parse()
                .map_err(|_| format!("`{s}` is not a whole number"))?,
            other => return Err(format!("expected an integer, found {}", other.kind())),
        };
        if n == 0 {
            return Err("must be at least 1".into());
        }
        Ok(n)
    }

    fn switch(&self) -> Result<bool, String> {
        match self {
            Raw::Bool(b) => Ok(*b),
            Raw::Str(s) => match s.trim().to_ascii_lowercase().as_str() {
                "on" | "true" => Ok(true),
                "off" | "false" => Ok(false),
                _ => Err(format!("`{s}` is not on, off, true or false")),
            },
            other => Err(format!("expected on or off, found {}", other.kind())),
        }
    }

    /// A list; a string is split on commas (empty items dropped), so "" is the empty list.
    fn list(&self) -> Result<Vec<String>, String> {
        match self {
            Raw::List(items) => Ok(items.clone()),
            Raw::Str(s) => Ok(s
                .split(',')
                .map(str::trim)
                .filter(|item| !item.is_empty())
                .map(String::from)
                .collect()),
            other => Err(format!("expected a list, found {}", other.kind())),
        }
    }
}

/// The name of `key` as a known key, if it is one.
fn known_key(key: &str) -> Option<&'static str> {
    KEYS.iter().copied().find(|k| *k == key)
}

/// The winning raw value of each key so far, and the layer it came from.
#[derive(Default)]
struct Values(BTreeMap<&'static str, (Raw, Layer)>);

impl Values {
    fn set(&mut self, key: &'static str, raw: Raw, layer: Layer) {
        self.0.insert(key, (raw, layer));
    }

    fn merge_toml(&mut self, text: &str, layer: Layer) -> Result<(), ConfigError> {
        let table: toml::Table =
            text.parse()
                .map_err(|e: toml::de::Error| ConfigError::Syntax {
                    layer: layer.clone(),
                    message: e.to_string().trim_end().to_string(),
                })?;
        for (name, value) in table {
            let Some(key) = known_key(&name) else {
                return Err(ConfigError::UnknownKey { key: name, layer });
            };
            let raw = Raw::from_toml(value).map_err(|message| ConfigError::Invalid {
                key,
                layer: layer.clone(),
                message,
            })?;
            self.set(key, raw, layer.clone());
        }
        Ok(())
    }

    fn invalid(&self, key: &'static str, message: String) -> ConfigError {
        let layer = self
            .0
            .get(key)
            .map_or(Layer::Defaults, |(_, layer)| layer.clone());
        ConfigError::Invalid {
            key,
            layer,
            message,
        }
    }

    fn get<T>(
        &self,
        key: &'static str,
        parse: impl FnOnce(&Raw) -> Result<T, String>,
    ) -> Result<T, ConfigError> {
        let (raw, _) = self.0.get(key).ok_or(ConfigError::Missing { key })?;
        parse(raw).map_err(|message| self.invalid(key, message))
    }

    /// Like `get`, but an absent key or a blank string is `None`.
    fn optional<T>(
        &self,
        key: &'static str,
        parse: impl FnOnce(&Raw) -> Result<T, String>,
    ) -> Result<Option<T>, ConfigError> {
        match self.0.get(key) {
            None => Ok(None),
            Some((Raw::Str(s), _)) if s.trim().is_empty() => Ok(None),
            Some(_) => self.get(key, parse).map(Some),
        }
    }

    fn rate(&self, key: &'static str) -> Result<Rate, ConfigError> {
        self.get(key, |raw| Rate::parse(raw.text()?))
    }

    fn build(&self) -> Result<Config, ConfigError> {
        let expiry_options = self.get("expiry_options", |raw| {
            let names = raw.list()?;
            if names.is_empty() {
                return Err("there must be at least one expiry option".into());
            }
            let mut options: Vec<(String, u64)> = Vec::with_capacity(names.len());
            for name in names {
                let d = parse_duration(&name)?;
                let ms = u64::try_from(d.as_millis())
                    .ok()
                    .filter(|ms| *ms > 0)
                    .ok_or_else(|| format!("`{name}` must be a positive duration"))?;
                if options.iter().any(|(seen, _)| *seen == name) {
                    return Err(format!("`{name}` is listed twice"));
                }
                options.push((name, ms));
            }
            Ok(options)
        })?;
        let default_expiry = self.get("default_expiry", |raw| {
            let name = raw.text()?.trim();
            if expiry_options.iter().any(|(option, _)| option == name) {
                Ok(name.to_string())
            } else {
                let names: Vec<&str> = expiry_options.iter().map(|(n, _)| n.as_str()).collect();
                Err(format!(
                    "`{name}` is not one of expiry_options ({})",
                    names.join(", ")
                ))
            }
        })?;
        Ok(Config {
            listen: self.get("listen", |raw| {
                let s = raw.text()?;
                s.trim()
                    .parse()
                    .map_err(|_| format!("`{s}` is not an address like 0.0.0.0:8080 or [::]:8080"))
            })?,
            data_dir: self.get("data_dir", |raw| match raw.text()? {
                s if s.trim().is_empty() => Err("must not be empty".into()),
                s => Ok(PathBuf::from(s)),
            })?,
            admin_token: self.optional("admin_token", |raw| {
                let token = raw.text()?;
                let chars = token.chars().count();
                if chars < MIN_ADMIN_TOKEN_CHARS {
                    // The message must not echo the token.
                    return Err(format!(
                        "the admin token must be at least {MIN_ADMIN_TOKEN_CHARS} characters long (it has {chars})"
                    ));
                }
                Ok(token.to_string())
            })?,
            public_url: self.optional("public_url", |raw| parse_public_url(raw.text()?))?,
            rate_limits: self.get("rate_limits", Raw::switch)?,
            limits: RateLimits {
                initiate: self.rate("limit_initiate")?,
                chunk: self.rate("limit_chunk")?,
                lookup: self.rate("limit_lookup")?,
                download: self.rate("limit_download")?,
                admin_auth: self.rate("limit_admin_auth")?,
                failed_per_address: self.rate("limit_failed_per_address")?,
                failed_global: self.rate("limit_failed_global")?,
            },
            max_file_size: self.get("max_file_size", |raw| match raw.size()? {
                0 => Err("must be at least 1 byte".into()),
                n => Ok(n),
            })?,
            chunk_size: self.get("chunk_size", |raw| {
                let n = raw.size()?;
                let (min, max) = CHUNK_SIZE_RANGE;
                if (min..=max).contains(&n) {
                    Ok(n)
                } else {
                    Err(format!("{n} bytes is outside 64KiB..=64MiB"))
                }
            })?,
            max_text_chars: self.get("max_text_chars", Raw::count)?,
            expiry_options,
            default_expiry,
            session_idle: self.get("session_idle", Raw::duration)?,
            sweep_interval: self.get("sweep_interval", Raw::duration)?,
            min_free_disk: self.get("min_free_disk", Raw::size)?,
            max_storage: self.get("max_storage", |raw| Ok(Some(raw.size()?).filter(|n| *n > 0)))?,
            cors_origins: self.get("cors_origins", |raw| {
                raw.list()?.iter().map(|o| parse_origin(o)).collect()
            })?,
            trusted_proxies: self.get("trusted_proxies", |raw| {
                raw.list()?.iter().map(|p| IpNet::parse(p)).collect()
            })?,
            max_connections: self.get("max_connections", |raw| {
                usize::try_from(raw.count()?).map_err(|_| "is too large".to_string())
            })?,
            header_read_timeout: self.get("header_read_timeout", Raw::duration)?,
            idle_timeout: self.get("idle_timeout", Raw::duration)?,
            log: self.get("log", |raw| {
                let filter = raw.text()?.trim();
                if filter.is_empty() {
                    return Err("must not be empty (use e.g. \"info\")".into());
                }
                tracing_subscriber::EnvFilter::try_new(filter).map_err(|e| e.to_string())?;
                Ok(filter.to_string())
            })?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
        items
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn env_load(items: &[(&str, &str)]) -> Result<Config, ConfigError> {
        Config::load(None, &pairs(items), &[])
    }

    /// A config file under the temp dir, removed on drop.
    struct TempFile(PathBuf);

    impl TempFile {
        fn new(name: &str, text: &str) -> TempFile {
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos();
            let path = std::env::temp_dir().join(format!(
                "qopy-config-{name}-{}-{nanos}.toml",
                std::process::id()
            ));
            std::fs::write(&path, text).unwrap();
            TempFile(path)
        }
    }

    impl Drop for TempFile {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }

    fn rate(count: u32, secs: u64) -> Rate {
        Rate {
            count,
            per: Duration::from_secs(secs),
        }
    }

    #[test]
    fn defaults_parse_and_match_the_documented_values() {
        let minute = 60_000;
        let expected = Config {
            listen: "0.0.0.0:8080".parse().unwrap(),
            data_dir: PathBuf::from("./qopy-data"),
            admin_token: None,
            public_url: None,
            rate_limits: true,
            limits: RateLimits {
                initiate: rate(30, 60),
                chunk: rate(2000, 60),
                lookup: rate(120, 60),
                download: rate(60, 60),
                admin_auth: rate(5, 900),
                failed_per_address: rate(20, 300),
                failed_global: rate(600, 3600),
            },
            max_file_size: 4 << 30,
            chunk_size: 5 << 20,
            max_text_chars: 400_000,
            expiry_options: vec![
                ("5min".into(), 5 * minute),
                ("15min".into(), 15 * minute),
                ("30min".into(), 30 * minute),
                ("1hr".into(), 60 * minute),
                ("6hr".into(), 360 * minute),
                ("24hr".into(), 1440 * minute),
            ],
            default_expiry: "24hr".into(),
            session_idle: Duration::from_secs(86_400),
            sweep_interval: Duration::from_secs(60),
            min_free_disk: 256 << 20,
            max_storage: None,
            cors_origins: vec![],
            trusted_proxies: vec![],
            max_connections: 1024,
            header_read_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            log: "info".into(),
        };
        assert_eq!(Config::defaults(), expected);
        assert_eq!(expected.expiry_ms("1hr"), Some(3_600_000));
        assert_eq!(expected.expiry_ms("2hr"), None);
    }

    #[test]
    fn every_key_is_documented_in_the_defaults_file() {
        for key in KEYS {
            let documented = DEFAULTS_TOML.lines().any(|line| {
                let line = line.trim_start_matches("# ");
                line.starts_with(&format!("{key} = "))
            });
            assert!(documented, "{key} missing from config/qopy.toml");
        }
    }

    #[test]
    fn each_layer_overrides_the_one_below() {
        let file = TempFile::new(
            "layers",
            "listen = \"127.0.0.1:1\"\nmax_file_size = 1000\ndata_dir = \"/from-file\"\n\
             rate_limits = false\ncors_origins = [\"https://A.example\"]\n",
        );
        let env = pairs(&[
            ("QOPY_LISTEN", "127.0.0.1:2"),
            ("QOPY_MAX_FILE_SIZE", "2KB"),
            (
                "QOPY_CORS_ORIGINS",
                "https://b.example, http://c.example:8080/",
            ),
            ("PATH", "/usr/bin"),
        ]);
        let flags = pairs(&[("listen", "127.0.0.1:3")]);

        let c = Config::load(Some(&file.0), &[], &[]).unwrap();
        assert_eq!(c.listen.port(), 1);
        assert_eq!(c.max_file_size, 1000);
        assert!(!c.rate_limits);
        assert_eq!(c.cors_origins, vec!["https://a.example"]);
        assert_eq!(
            c.chunk_size,
            5 << 20,
            "keys absent from the file keep their defaults"
        );

        let c = Config::load(Some(&file.0), &env, &[]).unwrap();
        assert_eq!(c.listen.port(), 2);
        assert_eq!(c.max_file_size, 2000);
        assert_eq!(c.data_dir, PathBuf::from("/from-file"));
        assert_eq!(
            c.cors_origins,
            vec!["https://b.example", "http://c.example:8080"]
        );

        let c = Config::load(Some(&file.0), &env, &flags).unwrap();
        assert_eq!(c.listen.port(), 3);
        assert_eq!(c.max_file_size, 2000);
    }

    #[test]
    fn unknown_file_key_is_named_with_the_file() {
        let file = TempFile::new("unknown", "listen = \"127.0.0.1:1\"\nmax_filesize = 3\n");
        let err = Config::load(Some(&file.0), &[], &[])
            .unwrap_err()
            .to_string();
        assert!(err.contains("`max_filesize`"), "{err}");
        assert!(err.contains(&file.0.display().to_string()), "{err}");
    }

    #[test]
    fn missing_or_broken_file_is_an_error() {
        let missing = std::env::temp_dir().join("qopy-config-does-not-exist.toml");
        let err = Config::load(Some(&missing), &[], &[]).unwrap_err();
        assert!(matches!(err, ConfigError::Read { .. }), "{err}");
        let file = TempFile::new("broken", "listen = \n");
        let err = Config::load(Some(&file.0), &[], &[]).unwrap_err();
        assert!(matches!(err, ConfigError::Syntax { .. }), "{err}");
    }

    #[test]
    fn unknown_env_var_is_named_but_foreign_ones_are_ignored() {
        let err = env_load(&[("QOPY_MAX_FILESIZE", "1")])
            .unwrap_err()
            .to_string();
        assert!(err.contains("QOPY_MAX_FILESIZE"), "{err}");
        // The variable must match the key exactly in upper case.
        assert!(env_load(&[("QOPY_Listen", "127.0.0.1:1")]).is_err());
        let c = env_load(&[
            ("QOPY_SERVER", "http://elsewhere"),
            ("QOPY_CONFIG", "/nonexistent.toml"),
            ("QOPY_LOG_FORMAT", "json"),
            ("QOPYX", "1"),
        ])
        .unwrap();
        assert_eq!(c, Config::defaults());
    }

    #[test]
    fn unknown_flag_key_is_an_error() {
        let err = Config::load(None, &[], &pairs(&[("nope", "1")])).unwrap_err();
        assert!(err.to_string().contains("`nope`"), "{err}");
        // Kebab-case flag names are accepted too.
        let c = Config::load(None, &[], &pairs(&[("data-dir", "/d")])).unwrap();
        assert_eq!(c.data_dir, PathBuf::from("/d"));
    }

    #[test]
    fn bad_values_name_the_key_and_the_layer() {
        let err = env_load(&[("QOPY_MAX_FILE_SIZE", "4 gigs")])
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with(
                "invalid value for `max_file_size` (from environment QOPY_MAX_FILE_SIZE):"
            ),
            "{err}"
        );
        let err = Config::load(None, &[], &pairs(&[("session_idle", "soon")]))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("`session_idle` (from flag --session-idle)"),
            "{err}"
        );
        let file = TempFile::new("badrate", "limit_chunk = \"0/1min\"\n");
        let err = Config::load(Some(&file.0), &[], &[])
            .unwrap_err()
            .to_string();
        assert!(err.contains("`limit_chunk` (from config file "), "{err}");
        for (var, value) in [
            ("QOPY_LIMIT_INITIATE", "10"),
            ("QOPY_LIMIT_INITIATE", "10/0s"),
            ("QOPY_LIMIT_INITIATE", "x/1min"),
            ("QOPY_CHUNK_SIZE", "32KiB"),
            ("QOPY_CHUNK_SIZE", "65MiB"),
            ("QOPY_MAX_FILE_SIZE", "0"),
            ("QOPY_MAX_TEXT_CHARS", "0"),
            ("QOPY_MAX_CONNECTIONS", "0"),
            ("QOPY_EXPIRY_OPTIONS", ""),
            ("QOPY_EXPIRY_OPTIONS", "1hr,1hr"),
            ("QOPY_EXPIRY_OPTIONS", "1hr,forever"),
            ("QOPY_DEFAULT_EXPIRY", "7d"),
            ("QOPY_SWEEP_INTERVAL", "0s"),
            ("QOPY_LISTEN", "localhost"),
            ("QOPY_PUBLIC_URL", "ftp://example.org"),
            ("QOPY_CORS_ORIGINS", "https://example.org/path"),
            ("QOPY_CORS_ORIGINS", "example.org"),
            ("QOPY_TRUSTED_PROXIES", "10.0.0.0/33"),
            ("QOPY_RATE_LIMITS", "maybe"),
            ("QOPY_LOG", "qopy=loud"),
        ] {
            let err = env_load(&[(var, value)]).unwrap_err().to_string();
            let key = var.trim_start_matches("QOPY_").to_ascii_lowercase();
            assert!(
                err.contains(&format!("`{key}` (from environment {var})")),
                "{var}={value}: {err}"
            );
        }
    }

    #[test]
    fn wrong_toml_types_are_rejected() {
        let file = TempFile::new("types", "max_connections = \"many\"\n");
        let err = Config::load(Some(&file.0), &[], &[])
            .unwrap_err()
            .to_string();
        assert!(err.contains("`max_connections`"), "{err}");
        let file = TempFile::new("types2", "expiry_options = [1, 2]\n");
        let err = Config::load(Some(&file.0), &[], &[])
            .unwrap_err()
            .to_string();
        assert!(err.contains("`expiry_options`"), "{err}");
    }

    #[test]
    fn admin_token_and_public_url() {
        let err = env_load(&[("QOPY_ADMIN_TOKEN", "short-secret")])
            .unwrap_err()
            .to_string();
        assert!(err.contains("at least 16 characters"), "{err}");
        assert!(
            !err.contains("short-secret"),
            "the token must not be echoed: {err}"
        );
        let c = env_load(&[
            ("QOPY_ADMIN_TOKEN", "0123456789abcdef"),
            ("QOPY_PUBLIC_URL", "https://qopy.example.org/share//"),
        ])
        .unwrap();
        assert_eq!(c.admin_token.as_deref(), Some("0123456789abcdef"));
        assert_eq!(
            c.public_url.as_deref(),
            Some("https://qopy.example.org/share")
        );
        let c = env_load(&[("QOPY_ADMIN_TOKEN", ""), ("QOPY_PUBLIC_URL", "")]).unwrap();
        assert_eq!((c.admin_token, c.public_url), (None, None));
        let c = env_load(&[("QOPY_PUBLIC_URL", "http://[::1]:8080")]).unwrap();
        assert_eq!(c.public_url.as_deref(), Some("http://[::1]:8080"));
    }

    #[test]
    fn other_keys_from_strings() {
        let c = env_load(&[
            ("QOPY_EXPIRY_OPTIONS", "1hr, 7d"),
            ("QOPY_DEFAULT_EXPIRY", "7d"),
            ("QOPY_MAX_STORAGE", "10GB"),
            ("QOPY_TRUSTED_PROXIES", "10.0.0.0/8,::1"),
            ("QOPY_LIMIT_INITIATE", "100/hr"),
            ("QOPY_LOG", "qopy=debug,warp=info"),
        ])
        .unwrap();
        assert_eq!(c.expiry_ms("7d"), Some(7 * 86_400_000));
        assert_eq!(c.default_expiry, "7d");
        assert_eq!(c.max_storage, Some(10_000_000_000));
        assert_eq!(c.trusted_proxies.len(), 2);
        assert_eq!(c.limits.initiate, rate(100, 3600));
    }

    #[test]
    fn rate_limits_switch() {
        for (value, expected) in [
            ("on", true),
            ("off", false),
            ("TRUE", true),
            ("false", false),
        ] {
            let c = env_load(&[("QOPY_RATE_LIMITS", value)]).unwrap();
            assert_eq!(c.rate_limits, expected, "{value}");
        }
        let file = TempFile::new("switch", "rate_limits = false\n");
        assert!(!Config::load(Some(&file.0), &[], &[]).unwrap().rate_limits);
    }

    #[test]
    fn size_parser() {
        for (input, bytes) in [
            ("1048576", 1 << 20),
            ("0", 0),
            ("4GiB", 4 << 30),
            ("5 MiB", 5 << 20),
            ("5mib", 5 << 20),
            ("64KiB", 64 << 10),
            ("2KB", 2000),
            ("3 MB", 3_000_000),
            ("1GB", 1_000_000_000),
            ("1TiB", 1 << 40),
            ("12B", 12),
            (" 7 ", 7),
        ] {
            assert_eq!(parse_size(input), Ok(bytes), "{input}");
        }
        for input in [
            "",
            "MiB",
            "-1",
            "1.5GiB",
            "4 gigs",
            "4Gi",
            "99999999999TiB",
            "1 K iB",
        ] {
            assert!(parse_size(input).is_err(), "{input}");
        }
    }

    #[test]
    fn duration_parser() {
        for (input, secs) in [
            ("90", 90),
            ("0", 0),
            ("10s", 10),
            ("10sec", 10),
            ("5m", 300),
            ("5min", 300),
            ("5 MIN", 300),
            ("2h", 7200),
            ("1hr", 3600),
            ("7d", 604_800),
            ("2w", 1_209_600),
        ] {
            assert_eq!(
                parse_duration(input),
                Ok(Duration::from_secs(secs)),
                "{input}"
            );
        }
        for input in [
            "",
            "min",
            "-5s",
            "1.5h",
            "5 lightyears",
            "10ms",
            "99999999999999999999w",
        ] {
            assert!(parse_duration(input).is_err(), "{input}");
        }
    }

    #[test]
    fn rate_parser() {
        assert_eq!(Rate::parse("20/5min"), Ok(rate(20, 300)));
        assert_eq!(Rate::parse(" 100 / 1hr "), Ok(rate(100, 3600)));
        for input in [
            "20",
            "0/1min",
            "20/0s",
            "/1min",
            "20/",
            "-1/1min",
            "20/5 parsecs",
        ] {
            assert!(Rate::parse(input).is_err(), "{input}");
        }
    }

    #[test]
    fn ip_net_contains_v4_v6_and_mapped() {
        let v4 = |s: &str| -> IpAddr { s.parse().unwrap() };
        let net = IpNet::parse("10.1.0.0/16").unwrap();
        assert!(net.contains(v4("10.1.255.3")));
        assert!(!net.contains(v4("10.2.0.1")));
        assert!(
            net.contains(v4("::ffff:10.1.2.3")),
            "IPv4-mapped IPv6 matches"
        );
        assert!(!net.contains(v4("fe80::1")));

        let host = IpNet::parse("192.168.1.7").unwrap();
        assert_eq!(host.prefix, 32);
        assert!(host.contains(IpAddr::V4(Ipv4Addr::new(192, 168, 1, 7))));
        assert!(!host.contains(v4("192.168.1.8")));

        let v6 = IpNet::parse("fd00:abcd::/32").unwrap();
        assert!(v6.contains(v4("fd00:abcd:1::5")));
        assert!(!v6.contains(v4("fd00:abce::5")));
        assert!(!v6.contains(v4("10.0.0.1")));
        assert!(IpNet::parse("::1").unwrap().contains(v4("::1")));

        // Host bits are cleared; a mapped range becomes the IPv4 range it covers.
        assert_eq!(
            IpNet::parse("10.1.2.3/8").unwrap().to_string(),
            "10.0.0.0/8"
        );
        let mapped = IpNet::parse("::ffff:10.0.0.0/104").unwrap();
        assert_eq!(mapped.to_string(), "10.0.0.0/8");
        assert!(mapped.contains(v4("10.9.9.9")));
        assert!(IpNet::parse("0.0.0.0/0").unwrap().contains(v4("8.8.8.8")));
        assert!(IpNet::parse("::/0").unwrap().contains(v4("8.8.8.8")));

        for input in [
            "",
            "10.0.0.0/33",
            "::/129",
            "10.0.0/8",
            "example.org",
            "10.0.0.0/x",
        ] {
            assert!(IpNet::parse(input).is_err(), "{input}");
        }
    }
}
