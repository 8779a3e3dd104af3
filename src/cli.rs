//! The `qopy` command line: `--config FILE`, one flag per configuration key (the key in
//! kebab-case, e.g. `--max-file-size`), and an optional subcommand (none means `serve`).
//! Flags are plain strings here; [`Config::load`] interprets and validates them together with
//! the file and the environment, so every layer follows the same rules and precedence. No flag
//! reads the environment itself (no clap `env`), for the same reason.

use std::path::PathBuf;

use clap::{Arg, ArgMatches, Args, FromArgMatches, Parser, Subcommand};

use crate::config::{Config, ConfigError, KEYS};

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

    /// One flag per configuration key.
    #[command(flatten)]
    pub settings: ConfigFlags,
}

/// The configuration flags given, as (config key, value) pairs in the order of [`KEYS`]:
/// `--some-key VALUE` for every key, made from the declaration of the keys.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConfigFlags(pub Vec<(String, String)>);

impl Args for ConfigFlags {
    fn augment_args(cmd: clap::Command) -> clap::Command {
        KEYS.iter().fold(cmd, |cmd, key| {
            cmd.arg(
                Arg::new(key.name)
                    .long(key.flag())
                    .value_name(key.value_name)
                    .help(key.help())
                    .global(true),
            )
        })
    }

    fn augment_args_for_update(cmd: clap::Command) -> clap::Command {
        Self::augment_args(cmd)
    }
}

impl FromArgMatches for ConfigFlags {
    fn from_arg_matches(matches: &ArgMatches) -> Result<Self, clap::Error> {
        Ok(ConfigFlags(
            KEYS.iter()
                .filter_map(|key| {
                    let value = matches.get_one::<String>(key.name)?;
                    Some((key.name.to_string(), value.clone()))
                })
                .collect(),
        ))
    }

    fn update_from_arg_matches(&mut self, matches: &ArgMatches) -> Result<(), clap::Error> {
        *self = Self::from_arg_matches(matches)?;
        Ok(())
    }
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
    /// Open a drop box: print its link and QR code, and save what is sent into it (end
    /// to end encrypted to a key that never leaves this process) until interrupted.
    Receive(crate::client::ReceiveArgs),
    /// Exit 0 if the server configured here (--listen / QOPY_LISTEN) answers
    /// /health, 1 otherwise (for Docker's HEALTHCHECK).
    Healthcheck,
    /// Bring the database back from the newest snapshot in the bucket (blob_store = s3),
    /// into a data directory without one; takes the server's configuration. Does not serve.
    Restore(RestoreArgs),
}

/// Where `qopy restore` takes the database from.
#[derive(Debug, Clone, PartialEq, Eq, Args)]
pub struct RestoreArgs {
    /// From the newest database snapshot in the configured bucket (s3_endpoint, s3_bucket,
    /// s3_prefix; AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY).
    #[arg(long, required = true)]
    pub from_s3: bool,
}

impl Cli {
    /// The configuration flags that were given, as (config key, value) pairs.
    pub fn config_flags(&self) -> Vec<(String, String)> {
        self.settings.0.clone()
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

    #[test]
    fn command_line_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn every_config_key_has_a_flag_and_is_returned() {
        let mut args = vec!["qopy".to_string()];
        for key in KEYS {
            args.push(format!("--{}", key.flag()));
            args.push(format!("value-of-{}", key.name));
        }
        let cli = Cli::try_parse_from(&args).expect("every key is a flag");
        let flags = cli.config_flags();
        let keys: Vec<&str> = flags.iter().map(|(k, _)| k.as_str()).collect();
        let names: Vec<&str> = KEYS.iter().map(|k| k.name).collect();
        assert_eq!(keys, names);
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
        let cli = Cli::try_parse_from(["qopy", "restore", "--from-s3", "--data-dir", "/d"])
            .expect("parses");
        assert_eq!(
            cli.command,
            Some(Command::Restore(RestoreArgs { from_s3: true }))
        );
        assert_eq!(
            cli.config_flags(),
            vec![("data_dir".to_string(), "/d".to_string())]
        );
        assert!(Cli::try_parse_from(["qopy", "restore"]).is_err());
        let cli = Cli::try_parse_from(["qopy", "healthcheck", "--listen", "127.0.0.1:1"])
            .expect("parses");
        assert_eq!(cli.command, Some(Command::Healthcheck));
        assert_eq!(
            cli.config_flags(),
            vec![("listen".to_string(), "127.0.0.1:1".to_string())]
        );
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
