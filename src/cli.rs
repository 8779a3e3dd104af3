//! The `qopy` command line: `--config FILE`, one flag per configuration key (the key in
//! kebab-case, e.g. `--max-file-size`), and an optional subcommand (none means `serve`).
//! Flags are plain strings here; [`Config::load`] interprets and validates them together with
//! the file and the environment, so every layer follows the same rules and precedence. No flag
//! reads the environment itself (no clap `env`), for the same reason.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::config::{Config, ConfigError};

/// Self-hosted, end-to-end encrypted sharing of text and files that expire.
///
/// Settings come from built-in defaults, then --config FILE (or $QOPY_CONFIG), then QOPY_*
/// environment variables (QOPY_MAX_FILE_SIZE for --max-file-size), then these flags.
#[derive(Debug, Parser)]
#[command(name = "qopy", version)]
pub struct Cli {
    /// What to do; without a subcommand, qopy serves.
    #[command(subcommand)]
    pub command: Option<Command>,

    /// TOML file of settings [default: $QOPY_CONFIG, if set]
    #[arg(long, value_name = "FILE", global = true)]
    pub config: Option<PathBuf>,

    /// Address and port to listen on [default: 0.0.0.0:8080]
    #[arg(long, value_name = "ADDR", global = true)]
    pub listen: Option<String>,
    /// Directory for the database and blobs [default: ./qopy-data]
    #[arg(long, value_name = "DIR", global = true)]
    pub data_dir: Option<String>,
    /// Admin API token, at least 16 characters [default: unset, admin API off]
    #[arg(long, value_name = "TOKEN", global = true)]
    pub admin_token: Option<String>,
    /// Base URL for share links [default: unset, use the request's Host]
    #[arg(long, value_name = "URL", global = true)]
    pub public_url: Option<String>,
    /// Built-in HTTPS: off, files (--tls-cert/--tls-key) or self-signed [default: off]
    #[arg(long, value_name = "off|files|self-signed", global = true)]
    pub tls: Option<String>,
    /// PEM certificate chain for --tls files [default: unset]
    #[arg(long, value_name = "FILE", global = true)]
    pub tls_cert: Option<String>,
    /// PEM private key for --tls files [default: unset]
    #[arg(long, value_name = "FILE", global = true)]
    pub tls_key: Option<String>,
    /// Enforce request rate limits [default: on]
    #[arg(long, value_name = "on|off", global = true)]
    pub rate_limits: Option<String>,
    /// Largest file one upload may carry [default: 4GiB]
    #[arg(long, value_name = "SIZE", global = true)]
    pub max_file_size: Option<String>,
    /// Upload chunk size, 64KiB to 64MiB [default: 5MiB]
    #[arg(long, value_name = "SIZE", global = true)]
    pub chunk_size: Option<String>,
    /// Most characters in a text clip [default: 400000]
    #[arg(long, value_name = "N", global = true)]
    pub max_text_chars: Option<String>,
    /// Comma-separated expiry choices [default: 5min,15min,30min,1hr,6hr,24hr]
    #[arg(long, value_name = "LIST", global = true)]
    pub expiry_options: Option<String>,
    /// Preselected expiry, one of the options [default: 24hr]
    #[arg(long, value_name = "NAME", global = true)]
    pub default_expiry: Option<String>,
    /// Idle time after which an unfinished upload is discarded [default: 24h]
    #[arg(long, value_name = "DURATION", global = true)]
    pub session_idle: Option<String>,
    /// Period of the expiry sweeper [default: 60s]
    #[arg(long, value_name = "DURATION", global = true)]
    pub sweep_interval: Option<String>,
    /// Free disk space below which uploads are refused [default: 256MiB]
    #[arg(long, value_name = "SIZE", global = true)]
    pub min_free_disk: Option<String>,
    /// Total storage quota, 0 for unlimited [default: 0]
    #[arg(long, value_name = "SIZE", global = true)]
    pub max_storage: Option<String>,
    /// Comma-separated extra CORS origins (scheme://host[:port]) [default: none]
    #[arg(long, value_name = "LIST", global = true)]
    pub cors_origins: Option<String>,
    /// Comma-separated proxy IPs/CIDRs whose X-Forwarded-For is trusted [default: none]
    #[arg(long, value_name = "LIST", global = true)]
    pub trusted_proxies: Option<String>,
    /// Most client connections at once [default: 1024]
    #[arg(long, value_name = "N", global = true)]
    pub max_connections: Option<String>,
    /// Threads serving connections, 0 for half the cores [default: 0]
    #[arg(long, value_name = "N", global = true)]
    pub workers: Option<String>,
    /// Time a client has to send its request headers [default: 10s]
    #[arg(long, value_name = "DURATION", global = true)]
    pub header_read_timeout: Option<String>,
    /// Time an idle keep-alive connection stays open [default: 60s]
    #[arg(long, value_name = "DURATION", global = true)]
    pub idle_timeout: Option<String>,
    /// Slowest accepted chunk body, SIZE/DURATION or off [default: 120KiB/30s]
    #[arg(long, value_name = "RATE", global = true)]
    pub min_upload_rate: Option<String>,
    /// Most connections from one address (IPv6: one /64), 0 for no limit [default: 64]
    #[arg(long, value_name = "N", global = true)]
    pub max_connections_per_address: Option<String>,
    /// A database flush stuck longer than this ends the process [default: 30s]
    #[arg(long, value_name = "DURATION", global = true)]
    pub stall_timeout: Option<String>,
    /// Comma-separated extra host names requests may be addressed to, * for any [default: none]
    #[arg(long, value_name = "LIST", global = true)]
    pub allowed_hosts: Option<String>,
    /// Log filter in tracing EnvFilter syntax [default: info]
    #[arg(long, value_name = "FILTER", global = true)]
    pub log: Option<String>,
    /// Upload initiations per address [default: 30/1min]
    #[arg(long, value_name = "RATE", global = true)]
    pub limit_initiate: Option<String>,
    /// Chunk uploads per address [default: 2000/1min]
    #[arg(long, value_name = "RATE", global = true)]
    pub limit_chunk: Option<String>,
    /// Metadata lookups per address [default: 120/1min]
    #[arg(long, value_name = "RATE", global = true)]
    pub limit_lookup: Option<String>,
    /// Content downloads per address [default: 60/1min]
    #[arg(long, value_name = "RATE", global = true)]
    pub limit_download: Option<String>,
    /// Admin login attempts per address [default: 5/15min]
    #[arg(long, value_name = "RATE", global = true)]
    pub limit_admin_auth: Option<String>,
    /// Failed lookups per address [default: 20/5min]
    #[arg(long, value_name = "RATE", global = true)]
    pub limit_failed_per_address: Option<String>,
    /// Failed lookups, all addresses together [default: 600/1hr]
    #[arg(long, value_name = "RATE", global = true)]
    pub limit_failed_global: Option<String>,
}

/// The subcommands of `qopy`.
#[derive(Debug, Clone, PartialEq, Eq, Subcommand)]
pub enum Command {
    /// Run the server (the default).
    Serve,
    /// Encrypt files, a directory or standard input locally and upload them; prints the
    /// link (with its secret) on the last line of standard output.
    Send(crate::client::SendArgs),
    /// Download and decrypt a link.
    Get(crate::client::GetArgs),
    /// Exit 0 if the server configured here (--listen / QOPY_LISTEN) answers
    /// /api/health, 1 otherwise (for Docker's HEALTHCHECK).
    Healthcheck,
}

impl Cli {
    /// The configuration flags that were given, as (config key, value) pairs.
    pub fn config_flags(&self) -> Vec<(String, String)> {
        let flags: [(&str, &Option<String>); 35] = [
            ("listen", &self.listen),
            ("data_dir", &self.data_dir),
            ("admin_token", &self.admin_token),
            ("public_url", &self.public_url),
            ("tls", &self.tls),
            ("tls_cert", &self.tls_cert),
            ("tls_key", &self.tls_key),
            ("rate_limits", &self.rate_limits),
            ("max_file_size", &self.max_file_size),
            ("chunk_size", &self.chunk_size),
            ("max_text_chars", &self.max_text_chars),
            ("expiry_options", &self.expiry_options),
            ("default_expiry", &self.default_expiry),
            ("session_idle", &self.session_idle),
            ("sweep_interval", &self.sweep_interval),
            ("min_free_disk", &self.min_free_disk),
            ("max_storage", &self.max_storage),
            ("cors_origins", &self.cors_origins),
            ("trusted_proxies", &self.trusted_proxies),
            ("max_connections", &self.max_connections),
            ("workers", &self.workers),
            ("header_read_timeout", &self.header_read_timeout),
            ("idle_timeout", &self.idle_timeout),
            ("min_upload_rate", &self.min_upload_rate),
            ("max_connections_per_address", &self.max_connections_per_address),
            ("stall_timeout", &self.stall_timeout),
            ("allowed_hosts", &self.allowed_hosts),
            ("log", &self.log),
            ("limit_initiate", &self.limit_initiate),
            ("limit_chunk", &self.limit_chunk),
            ("limit_lookup", &self.limit_lookup),
            ("limit_download", &self.limit_download),
            ("limit_admin_auth", &self.limit_admin_auth),
            ("limit_failed_per_address", &self.limit_failed_per_address),
            ("limit_failed_global", &self.limit_failed_global),
        ];
        flags
            .into_iter()
            .filter_map(|(key, value)| Some((key.to_string(), value.clone()?)))
            .collect()
    }

    /// Loads the configuration: defaults, then `--config` (or a non-empty `$QOPY_CONFIG`),
    /// then the process environment, then the flags.
    pub fn load_config(&self) -> Result<Config, ConfigError> {
        let file = self.config.clone().or_else(|| {
            std::env::var_os("QOPY_CONFIG")
                .filter(|path| !path.is_empty())
                .map(PathBuf::from)
        });
        // Lossy rather than `std::env::vars()`, which panics on a non-UTF-8 variable; a
        // mangled QOPY_* value then fails validation with its name in the message.
        let env: Vec<(String, String)> = std::env::vars_os()
            .map(|(k, v)| {
                (
                    k.to_string_lossy().into_owned(),
                    v.to_string_lossy().into_owned(),
                )
            })
            .collect();
        Config::load(file.as_deref(), &env, &self.config_flags())
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;
    use crate::config::KEYS;

    #[test]
    fn command_line_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn every_config_key_has_a_flag_and_is_returned() {
        let mut args = vec!["qopy".to_string()];
        for key in KEYS {
            args.push(format!("--{}", key.replace('_', "-")));
            args.push(format!("value-of-{key}"));
        }
        let cli = Cli::try_parse_from(&args).expect("every key is a flag");
        let flags = cli.config_flags();
        let keys: Vec<&str> = flags.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys, KEYS);
        for (key, value) in &flags {
            assert_eq!(value, &format!("value-of-{key}"));
        }
    }

    #[test]
    fn client_subcommands_parse() {
        let cli = Cli::try_parse_from(["qopy", "send", "--one-time", "--expiry", "1hr", "-"])
            .expect("parses");
        let Some(Command::Send(args)) = cli.command else {
            panic!("not send")
        };
        assert!(args.one_time && !args.quick_share);
        assert_eq!(args.files, [std::path::PathBuf::from("-")]);
        // Quick Share has a fixed expiry and no access code or password.
        for extra in ["--expiry=1hr", "--access-code=1", "--password=p"] {
            assert!(Cli::try_parse_from(["qopy", "send", "--quick-share", extra, "f"]).is_err());
        }
        assert!(Cli::try_parse_from(["qopy", "send"]).is_err());
        let cli = Cli::try_parse_from(["qopy", "get", "http://h/clip/ABCDEF#s", "-o", "-"])
            .expect("parses");
        assert!(matches!(cli.command, Some(Command::Get(_))));
        let cli = Cli::try_parse_from(["qopy", "healthcheck", "--listen", "127.0.0.1:1"])
            .expect("parses");
        assert_eq!(cli.command, Some(Command::Healthcheck));
        assert_eq!(cli.listen.as_deref(), Some("127.0.0.1:1"));
    }

    #[test]
    fn no_subcommand_and_serve_with_flags_after_it() {
        let cli = Cli::try_parse_from(["qopy"]).expect("parses");
        assert_eq!(cli.command, None);
        assert!(cli.config_flags().is_empty());

        let cli = Cli::try_parse_from([
            "qopy",
            "serve",
            "--rate-limits",
            "off",
            "--config",
            "x.toml",
        ])
        .expect("parses");
        assert_eq!(cli.command, Some(Command::Serve));
        assert_eq!(cli.config.as_deref(), Some(std::path::Path::new("x.toml")));
        assert_eq!(
            cli.config_flags(),
            vec![("rate_limits".to_string(), "off".to_string())]
        );
    }
}
