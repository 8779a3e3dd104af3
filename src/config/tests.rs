//! Unit tests of configuration loading and parsing.

use super::*;
use std::net::{IpAddr, Ipv4Addr};

fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
    items
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn env_load(items: &[(&str, &str)]) -> Result<Config, ConfigError> {
    Config::load(None, &pairs(items), &[])
}

/// The message of the error loading `items` as the environment.
fn env_error(items: &[(&str, &str)]) -> String {
    env_load(items).unwrap_err().to_string()
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

    /// The configuration with this file as its only file layer.
    fn load(&self) -> Result<Config, ConfigError> {
        Config::load(Some(&self.0), &[], &[])
    }

    /// The message of the error loading it.
    fn error(&self) -> String {
        self.load().unwrap_err().to_string()
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
        tls: TlsMode::Off,
        tls_cert: None,
        tls_key: None,
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
        claim_window: Duration::from_secs(600),
        dropbox_max_bytes: 4 << 30,
        dropbox_max_items: 100,
        blob_store: BlobStore::Local,
        s3_endpoint: None,
        s3_bucket: None,
        s3_region: "us-east-1".into(),
        s3_prefix: String::new(),
        snapshot_interval: Duration::from_secs(300),
        sweep_interval: Duration::from_secs(60),
        min_free_disk: 256 << 20,
        max_storage: None,
        cors_origins: vec![],
        trusted_proxies: vec![],
        max_connections: 1024,
        workers: 0,
        header_read_timeout: Duration::from_secs(10),
        idle_timeout: Duration::from_secs(60),
        min_upload_rate: Some(UploadRate {
            bytes: 120 << 10,
            per: Duration::from_secs(30),
        }),
        max_connections_per_address: Some(64),
        stall_timeout: Duration::from_secs(30),
        allowed_hosts: vec![],
        log: "info".into(),
    };
    assert_eq!(Config::defaults(), expected);
    assert_eq!(expected.expiry_ms("1hr"), Some(3_600_000));
    assert_eq!(expected.expiry_ms("2hr"), None);
}

/// `config/qopy.toml`, the documented copy of the defaults.
const DEFAULTS_TOML: &str = include_str!("../../config/qopy.toml");

/// The keys `config/qopy.toml` assigns, in order, each with whether it is commented out.
fn assigned_keys(toml: &str) -> Vec<(&str, bool)> {
    toml.lines()
        .filter_map(|line| {
            let (commented, line) = match line.strip_prefix("# ") {
                Some(rest) => (true, rest),
                None => (false, line),
            };
            let (key, _) = line.split_once(" = ")?;
            known_key(key).map(|k| (k, commented))
        })
        .collect()
}

#[test]
fn the_defaults_file_lists_every_key_in_order_with_its_default() {
    let assigned = assigned_keys(DEFAULTS_TOML);
    let expected: Vec<(&str, bool)> = KEYS
        .iter()
        .map(|k| (k.name, k.default == DefaultValue::Unset))
        .collect();
    assert_eq!(
        assigned, expected,
        "config/qopy.toml must assign every key once, in declaration order, commenting out \
         exactly the keys without a default"
    );
    let table: toml::Table = DEFAULTS_TOML.parse().expect("config/qopy.toml is TOML");
    for key in KEYS {
        assert_eq!(
            table.get(key.name),
            key.default.to_toml().as_ref(),
            "the default of `{}` in config/qopy.toml",
            key.name
        );
    }
    let file = TempFile::new("defaults", DEFAULTS_TOML);
    assert_eq!(file.load().unwrap(), Config::defaults());
}

/// The README's table of keys as the declaration gives it.
fn readme_table() -> String {
    let cell = |s: &str| s.replace('|', "\\|");
    let mut table =
        String::from("| key | flag | environment | default | meaning |\n|---|---|---|---|---|\n");
    for key in KEYS {
        let default = match key.default {
            DefaultValue::Unset => "unset".to_string(),
            DefaultValue::List([]) => "none".to_string(),
            other => format!("`{}`", cell(&other.to_string())),
        };
        table.push_str(&format!(
            "| `{}` | `--{} {}` | `{}` | {default} | {} |\n",
            key.name,
            key.flag(),
            cell(key.value_name),
            key.env_var(),
            cell(key.doc),
        ));
    }
    table
}

#[test]
fn the_readme_table_matches_the_declaration() {
    let readme = include_str!("../../README.md");
    let start = readme
        .find("| key | flag |")
        .expect("README.md has the table of configuration keys");
    let end = readme[start..]
        .find("\n\n")
        .map_or(readme.len(), |n| start + n + 1);
    let expected = readme_table();
    assert!(
        readme[start..end] == expected,
        "README.md's configuration table differs from the declaration; it should be:\n{expected}"
    );
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

    let c = file.load().unwrap();
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
    let err = file.error();
    assert!(err.contains("`max_filesize`"), "{err}");
    assert!(err.contains(&file.0.display().to_string()), "{err}");
}

#[test]
fn missing_or_broken_file_is_an_error() {
    let missing = std::env::temp_dir().join("qopy-config-does-not-exist.toml");
    let err = Config::load(Some(&missing), &[], &[]).unwrap_err();
    assert!(matches!(err, ConfigError::Read { .. }), "{err}");
    let file = TempFile::new("broken", "listen = \n");
    let err = file.load().unwrap_err();
    assert!(matches!(err, ConfigError::Syntax { .. }), "{err}");
}

#[test]
fn unknown_env_var_is_named_but_foreign_ones_are_ignored() {
    let err = env_error(&[("QOPY_MAX_FILESIZE", "1")]);
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
    let err = env_error(&[("QOPY_MAX_FILE_SIZE", "4 gigs")]);
    assert!(
        err.starts_with("invalid value for `max_file_size` (from environment QOPY_MAX_FILE_SIZE):"),
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
    let err = file.error();
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
        let err = env_error(&[(var, value)]);
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
    let err = file.error();
    assert!(err.contains("`max_connections`"), "{err}");
    let file = TempFile::new("types2", "expiry_options = [1, 2]\n");
    let err = file.error();
    assert!(err.contains("`expiry_options`"), "{err}");
}

#[test]
fn admin_token_and_public_url() {
    let err = env_error(&[("QOPY_ADMIN_TOKEN", "short-secret")]);
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
    assert!(!file.load().unwrap().rate_limits);
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
    assert_eq!(host.prefix_len(), 32);
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

#[test]
fn min_upload_rate_parses_size_per_duration_or_off() {
    let r = |bytes, secs| {
        Some(UploadRate {
            bytes,
            per: Duration::from_secs(secs),
        })
    };
    assert_eq!(UploadRate::parse("480KiB/30s"), Ok(r(480 << 10, 30)));
    assert_eq!(UploadRate::parse("16KiB/s"), Ok(r(16 << 10, 1)));
    assert_eq!(UploadRate::parse(" 1MB / 1min "), Ok(r(1_000_000, 60)));
    assert_eq!(UploadRate::parse("off"), Ok(None));
    assert_eq!(UploadRate::parse("0"), Ok(None));
    for bad in ["", "16KiB", "0/30s", "16KiB/0s", "x/s", "16KiB/fortnight"] {
        assert!(UploadRate::parse(bad).is_err(), "{bad} accepted");
    }
}

#[test]
fn tls_modes_and_required_files() {
    assert_eq!(Config::defaults().tls, TlsMode::Off);
    let c = env_load(&[("QOPY_TLS", "self-signed")]).unwrap();
    assert_eq!(c.tls, TlsMode::SelfSigned);
    assert_eq!(c.tls.as_str(), "self-signed");
    let flags = pairs(&[
        ("tls", "files"),
        ("tls-cert", "/c.pem"),
        ("tls-key", "/k.pem"),
    ]);
    let c = Config::load(None, &[], &flags).unwrap();
    assert_eq!(c.tls, TlsMode::Files);
    assert_eq!(c.tls_cert, Some(PathBuf::from("/c.pem")));
    assert_eq!(c.tls_key, Some(PathBuf::from("/k.pem")));

    let e = env_error(&[("QOPY_TLS", "files"), ("QOPY_TLS_CERT", "/c.pem")]);
    assert!(e.contains("`tls_key`") && e.contains("QOPY_TLS"), "{e}");
    let e = env_error(&[("QOPY_TLS", "files")]);
    assert!(e.contains("`tls_cert`"), "{e}");
    let e = env_error(&[("QOPY_TLS", "on")]);
    assert!(e.contains("`tls`") && e.contains("self-signed"), "{e}");
}

#[test]
fn workers_default_to_half_the_cores() {
    let c = Config::defaults();
    assert_eq!(c.workers, 0);
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    assert_eq!(c.worker_threads(), (cores / 2).max(1));
    let c = env_load(&[("QOPY_WORKERS", "3")]).unwrap();
    assert_eq!((c.workers, c.worker_threads()), (3, 3));
    for bad in ["-1", "1025", "two"] {
        let err = env_error(&[("QOPY_WORKERS", bad)]);
        assert!(
            err.contains("`workers`") && err.contains("QOPY_WORKERS"),
            "{err}"
        );
    }
}

#[test]
fn max_connections_per_address_zero_means_no_limit() {
    let env = [(
        "QOPY_MAX_CONNECTIONS_PER_ADDRESS".to_string(),
        "0".to_string(),
    )];
    let c = Config::load(None, &env, &[]).unwrap();
    assert_eq!(c.max_connections_per_address, None);
    let env = [(
        "QOPY_MAX_CONNECTIONS_PER_ADDRESS".to_string(),
        "3".to_string(),
    )];
    let c = Config::load(None, &env, &[]).unwrap();
    assert_eq!(c.max_connections_per_address, Some(3));
}
