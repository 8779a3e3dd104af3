//! Configuration: built-in defaults, then an optional TOML file, then `QOPY_*` environment
//! variables, then command-line flags. Every key is declared once, below: its field of
//! [`Config`], its default, its parser and its meaning. The table [`KEYS`] derived from that
//! declaration drives everything else: the layers are checked against it (so an unknown or
//! malformed key stops start-up with a message that names the key and the layer it came from),
//! `qopy`'s flags are made from it, and tests hold `config/qopy.toml` and the README's table to
//! it. The size, duration and rate parsers are public because the command-line client reuses
//! them.

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

#[macro_use]
mod declare;
mod parse;
mod raw;
mod values;

pub use declare::{DefaultValue, Key};
pub use parse::{parse_duration, parse_size, IpNet};
use raw::{optional, Raw};
use values::Values;
use DefaultValue::{Int, List, Text, Unset};

// The one declaration of the keys: `name: Type = default, "VALUE", parser, "meaning";` (see
// `declare.rs`). A new key is one entry here; its variable and flag follow, and the tests
// then ask for its line in `config/qopy.toml` and print the README table to paste.
config_keys! {
    /// The validated configuration of one server process. Each field is the key of the same
    /// name, except `limits`, which gathers the `limit_*` keys.
    pub struct Config {
        listen: SocketAddr = Text("0.0.0.0:8080"), "ADDR", values::listen,
            "address and port to serve on";
        data_dir: PathBuf = Text("./qopy-data"), "DIR", values::data_dir,
            "directory of the database and blobs (created if missing)";
        /// `None` turns the admin API off.
        admin_token: Option<String> = Unset, "TOKEN", optional(values::admin_token),
            "bearer token of the admin API, at least 16 characters; unset: admin API off";
        /// Without a trailing slash; `None` means use the request's Host.
        public_url: Option<String> = Unset, "URL", optional(values::public_url),
            "base URL of share links (http or https); unset: links use the request's Host";
        tls: TlsMode = Text("off"), "off|files|self-signed", values::tls,
            "built-in HTTPS: off, files (tls_cert and tls_key) or self-signed";
        tls_cert: Option<PathBuf> = Unset, "FILE", optional(values::path),
            "PEM certificate chain, leaf first; required with tls = files";
        tls_key: Option<PathBuf> = Unset, "FILE", optional(values::path),
            "PEM private key; required with tls = files";
        rate_limits: bool = Text("on"), "on|off", Raw::switch,
            "whether the limit_* request budgets are enforced";
        /// In bytes, at least 1.
        max_file_size: u64 = Text("4GiB"), "SIZE", values::max_file_size,
            "largest file one upload may carry";
        /// In bytes.
        chunk_size: u64 = Text("5MiB"), "SIZE", values::chunk_size,
            "upload chunk size, 64KiB to 64MiB";
        max_text_chars: u64 = Int(400_000), "N", Raw::count,
            "most characters a text clip may hold";
        /// Names and lifetimes in milliseconds.
        expiry_options: Vec<(String, u64)> = List(&["5min", "15min", "30min", "1hr", "6hr", "24hr"]),
            "LIST", values::expiry_options,
            "lifetimes a sender may pick, in display order";
        default_expiry: String = Text("24hr"), "NAME", values::default_expiry,
            "lifetime preselected for new clips; one of expiry_options";
        session_idle: Duration = Text("24h"), "DURATION", Raw::duration,
            "idle time after which an unfinished upload is discarded";
        claim_window: Duration = Text("10min"), "DURATION", Raw::duration,
            "how long the first reader of a one-time or download-limited clip may resume its download";
        /// In bytes, at least 1.
        dropbox_max_bytes: u64 = Text("4GiB"), "SIZE", values::max_file_size,
            "most bytes a drop box may hold (its default and its cap)";
        dropbox_max_items: u64 = Int(100), "N", Raw::count,
            "most items a drop box may hold (its default and its cap)";
        blob_store: BlobStore = Text("local"), "local|s3", values::blob_store,
            "where uploaded content lives: local (files under data_dir) or s3 (an S3-compatible bucket)";
        /// `scheme://host[:port]`, without a trailing slash.
        s3_endpoint: Option<String> = Unset, "URL", optional(values::s3_endpoint),
            "S3 API address (http or https), path-style; required with blob_store = s3";
        s3_bucket: Option<String> = Unset, "NAME", optional(values::s3_bucket),
            "bucket that holds the content and the database snapshots; required with blob_store = s3";
        s3_region: String = Text("us-east-1"), "REGION", values::s3_region,
            "region the S3 store signs for (Garage: its s3_region, often garage)";
        /// Empty, or without leading or trailing slashes.
        s3_prefix: String = Text(""), "PREFIX", values::s3_prefix,
            "key prefix of every object Qopy writes, to share a bucket; empty for none";
        snapshot_interval: Duration = Text("5min"), "DURATION", values::snapshot_interval,
            "with blob_store = s3, how often the database is snapshotted to the bucket (also at shutdown)";
        sweep_interval: Duration = Text("60s"), "DURATION", Raw::duration,
            "how often the sweeper runs (it also wakes at each expiry)";
        /// In bytes.
        min_free_disk: u64 = Text("256MiB"), "SIZE", Raw::size,
            "free-disk reserve; uploads are refused (507) below it";
        /// In bytes; `None` means unlimited.
        max_storage: Option<u64> = Text("0"), "SIZE", values::max_storage,
            "total storage quota; 0 for unlimited";
        /// Normalised to lowercase `scheme://host[:port]`, as browsers send them.
        cors_origins: Vec<String> = List(&[]), "LIST", values::cors_origins,
            "extra origins (scheme://host[:port]) allowed to call the API";
        trusted_proxies: Vec<IpNet> = List(&[]), "LIST", values::trusted_proxies,
            "proxy addresses or CIDR ranges whose X-Forwarded-For is honoured";
        max_connections: usize = Int(1024), "N", values::max_connections,
            "most client connections served at once";
        /// See [`Config::worker_threads`].
        workers: usize = Int(0), "N", values::workers,
            "threads serving connections; 0 for half the CPU cores, at least 1";
        header_read_timeout: Duration = Text("10s"), "DURATION", Raw::duration,
            "time a client has to send its request headers";
        idle_timeout: Duration = Text("60s"), "DURATION", Raw::duration,
            "idle keep-alive connections are closed after it";
        /// `None` means no minimum.
        min_upload_rate: Option<UploadRate> = Text("120KiB/30s"), "RATE", values::min_upload_rate,
            "slowest accepted request body: at least SIZE in every DURATION (4 KiB/s over 30 s \
             by default, above a phone sending 3 chunks at once on a slow link); slower bodies \
             get 408 and their connection closed; off for none";
        /// `None` means no limit.
        max_connections_per_address: Option<usize> = Int(64), "N",
            values::max_connections_per_address,
            "connections one address (IPv6: one /64) may hold; 0 for no limit; trusted proxies are exempt";
        stall_timeout: Duration = Text("30s"), "DURATION", values::stall_timeout,
            "a database flush pending longer than this ends the process so a supervisor restarts it";
        /// Lower-cased, without port.
        allowed_hosts: Vec<String> = List(&[]), "LIST", values::allowed_hosts,
            "extra host names requests may use (see Host names in the README); * for any";
        /// Checked to parse.
        log: String = Text("info"), "FILTER", values::log,
            "log filter in tracing's EnvFilter syntax";
    }

    /// Per-address and server-wide request budgets (the `limit_*` keys).
    pub struct RateLimits in limits, keys "limit_" {
        initiate: Rate = Text("30/1min"), "RATE", values::rate,
            "upload initiations (and one-shot uploads) per address";
        chunk: Rate = Text("2000/1min"), "RATE", values::rate,
            "chunk uploads per address";
        /// `/api/clip/*` and `/api/file/*/info`.
        lookup: Rate = Text("120/1min"), "RATE", values::rate,
            "clip and file metadata lookups per address";
        /// `POST /api/file/:id`.
        download: Rate = Text("60/1min"), "RATE", values::rate,
            "content downloads per address";
        admin_auth: Rate = Text("5/15min"), "RATE", values::rate,
            "wrong admin passwords and bearer tokens per address";
        failed_per_address: Rate = Text("20/5min"), "RATE", values::rate,
            "failed lookups (unknown ID, wrong access code) per address";
        /// Wrong admin credentials have a separate server-wide budget of the same size.
        failed_global: Rate = Text("600/1hr"), "RATE", values::rate,
            "failed lookups, all addresses together";
    }
}

/// `QOPY_*` variables read by other parts of the program; [`Config::load`] skips them.
pub const FOREIGN_ENV: &[&str] = &["QOPY_CONFIG", "QOPY_SERVER", "QOPY_LOG_FORMAT"];

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

/// The `blob_store` key: where uploaded content lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlobStore {
    /// Chunk files under `<data_dir>/blobs/` (the default).
    Local,
    /// Objects in an S3-compatible bucket (`s3_*` keys; credentials from
    /// `AWS_ACCESS_KEY_ID` and `AWS_SECRET_ACCESS_KEY`).
    S3,
}

impl BlobStore {
    /// The configuration value: `local` or `s3`.
    pub fn as_str(self) -> &'static str {
        match self {
            BlobStore::Local => "local",
            BlobStore::S3 => "s3",
        }
    }
}

/// Where a setting came from, for error messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Layer {
    /// The built-in defaults.
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
    /// A configuration file is not valid TOML.
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
}

impl Config {
    /// The built-in defaults. Panics only if a declared default is invalid, which the unit
    /// tests rule out.
    pub fn defaults() -> Config {
        Config::load(None, &[], &[]).expect("the declared defaults are valid")
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
        let mut values = Values::defaults();
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
            // The variable must match the key exactly in upper case.
            let Some(key) = KEYS.iter().find(|k| k.env_var() == *var) else {
                return Err(ConfigError::UnknownEnv {
                    var: var.clone(),
                    key: suffix.to_ascii_lowercase(),
                });
            };
            values.set(key.name, Raw::Str(value.clone()), Layer::Env(var.clone()));
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
        let config = build(&values)?;
        values.check(&config)?;
        Ok(config)
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
    KEYS.iter().map(|k| k.name).find(|k| *k == key)
}

#[cfg(test)]
mod tests;
