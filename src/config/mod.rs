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
const DEFAULTS_TOML: &str = include_str!("../../config/qopy.toml");

/// Every configuration key, in the order of `config/qopy.toml`. Key `some_key` is also the
/// environment variable `QOPY_SOME_KEY` and the flag `--some-key`.
pub const KEYS: &[&str] = &[
    "listen",
    "data_dir",
    "admin_token",
    "public_url",
    "tls",
    "tls_cert",
    "tls_key",
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
    "workers",
    "header_read_timeout",
    "idle_timeout",
    "min_upload_rate",
    "max_connections_per_address",
    "stall_timeout",
    "allowed_hosts",
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

/// A minimum transfer rate: at least `bytes` in every window of `per`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UploadRate {
    /// Bytes that must arrive within each window (at least 1).
    pub bytes: u64,
    /// The window, also the grace period before the first check.
    pub per: Duration,
}

/// The `tls` key: how (and whether) the server speaks HTTPS itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsMode {
    /// Plain HTTP (the default; use a reverse proxy for HTTPS).
    Off,
    /// HTTPS with the certificate chain `tls_cert` and private key `tls_key`.
    Files,
    /// HTTPS with a self-signed certificate generated once under `<data_dir>/tls/`.
    SelfSigned,
}

impl TlsMode {
    /// The configuration value: `off`, `files` or `self-signed`.
    pub fn as_str(self) -> &'static str {
        match self {
            TlsMode::Off => "off",
            TlsMode::Files => "files",
            TlsMode::SelfSigned => "self-signed",
        }
    }
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
    /// Wrong admin passwords and bearer tokens, per address.
    pub admin_auth: Rate,
    /// Failed lookups (unknown ID, wrong access code), per address.
    pub failed_per_address: Rate,
    /// Failed lookups (unknown ID, wrong access code), all addresses together; wrong admin
    /// credentials have a separate server-wide budget of the same size.
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
    /// Whether and how the server serves HTTPS itself.
    pub tls: TlsMode,
    /// PEM certificate chain (leaf first) for `tls = "files"`; required then, unused otherwise.
    pub tls_cert: Option<PathBuf>,
    /// PEM private key for `tls = "files"`; required then, unused otherwise.
    pub tls_key: Option<PathBuf>,
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
    /// Threads serving connections; 0 picks [`Config::worker_threads`]'s default.
    pub workers: usize,
    /// Time a client has to send its request headers.
    pub header_read_timeout: Duration,
    /// Time an idle keep-alive connection is kept open.
    pub idle_timeout: Duration,
    /// Slowest accepted chunk body; `None` means no minimum.
    pub min_upload_rate: Option<UploadRate>,
    /// Most connections one client address holds at once (an IPv6 /64 is one address);
    /// `None` for no limit. Trusted proxies are not limited.
    pub max_connections_per_address: Option<usize>,
    /// A database flush pending longer than this makes the watchdog end the process.
    pub stall_timeout: Duration,
    /// Host names (besides IP literals, `localhost`, the `public_url` host and the TLS
    /// certificate's names) that requests may be addressed to; `*` allows any.
    pub allowed_hosts: Vec<String>,
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

    /// The number of threads serving connections: `workers`, or when that is 0 half the
    /// CPU cores (at least one), leaving the others to the blocking pool's disk work.
    pub fn worker_threads(&self) -> usize {
        match self.workers {
            0 => std::thread::available_parallelism()
                .map_or(1, |n| n.get() / 2)
                .max(1),
            n => n,
        }
    }

    /// The lifetime in milliseconds of the expiry option called `name`, if it is allowed.
    pub fn expiry_ms(&self, name: &str) -> Option<u64> {
        self.expiry_options
            .iter()
            .find(|(option, _)| option == name)
            .map(|&(_, ms)| ms)
    }
}

/// The name of `key` as a known key, if it is one.
fn known_key(key: &str) -> Option<&'static str> {
    KEYS.iter().copied().find(|k| *k == key)
}

mod parse;
mod raw;
mod values;

pub use parse::{parse_duration, parse_size};
use raw::Raw;
use values::Values;

#[cfg(test)]
mod tests;
