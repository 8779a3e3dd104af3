//! The configuration layers merged key by key, and the typed [`Config`] built from them.

use super::parse::{parse_origin, parse_public_url};
use super::raw::Raw;
use super::*;

/// The winning raw value of each key so far, and the layer it came from.
#[derive(Default)]
pub(super) struct Values(BTreeMap<&'static str, (Raw, Layer)>);

impl Values {
    pub(super) fn set(&mut self, key: &'static str, raw: Raw, layer: Layer) {
        self.0.insert(key, (raw, layer));
    }

    pub(super) fn merge_toml(&mut self, text: &str, layer: Layer) -> Result<(), ConfigError> {
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

    pub(super) fn build(&self) -> Result<Config, ConfigError> {
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
        let tls = self.get("tls", |raw| {
            let s = raw.text()?;
            match s.trim().to_ascii_lowercase().as_str() {
                "off" => Ok(TlsMode::Off),
                "files" => Ok(TlsMode::Files),
                "self-signed" | "self_signed" => Ok(TlsMode::SelfSigned),
                _ => Err(format!("`{s}` is not off, files or self-signed")),
            }
        })?;
        let path = |raw: &Raw| raw.text().map(|s| PathBuf::from(s.trim()));
        let tls_cert = self.optional("tls_cert", path)?;
        let tls_key = self.optional("tls_key", path)?;
        if tls == TlsMode::Files {
            for (key, value) in [("tls_cert", &tls_cert), ("tls_key", &tls_key)] {
                if value.is_none() {
                    // Named with the layer that asked for files, where the fix belongs.
                    let layer = self
                        .0
                        .get("tls")
                        .map_or(Layer::Defaults, |(_, l)| l.clone());
                    return Err(ConfigError::Invalid {
                        key,
                        layer,
                        message: format!(
                            "`{key}` is required when tls is \"files\" (the path of a PEM file)"
                        ),
                    });
                }
            }
        }
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
            tls,
            tls_cert,
            tls_key,
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
            workers: self.get("workers", |raw| {
                let n: i64 = match raw {
                    Raw::Int(i) => *i,
                    Raw::Str(s) => s
                        .trim()
                        .parse()
                        .map_err(|_| format!("`{s}` is not a whole number"))?,
                    other => return Err(format!("expected an integer, found {}", other.kind())),
                };
                match n {
                    0..=1024 => Ok(n as usize),
                    _ => Err("must be from 0 (automatic) to 1024".into()),
                }
            })?,
            header_read_timeout: self.get("header_read_timeout", Raw::duration)?,
            idle_timeout: self.get("idle_timeout", Raw::duration)?,
            min_upload_rate: self.get("min_upload_rate", |raw| match raw {
                Raw::Int(0) => Ok(None),
                raw => UploadRate::parse(raw.text()?),
            })?,
            max_connections_per_address: self.get("max_connections_per_address", |raw| {
                let n = usize::try_from(raw.whole()?).map_err(|_| "is too large".to_string())?;
                Ok(Some(n).filter(|n| *n > 0))
            })?,
            stall_timeout: self.get("stall_timeout", |raw| {
                let d = Raw::duration(raw)?;
                if d < Duration::from_secs(1) {
                    return Err("must be at least 1s".into());
                }
                Ok(d)
            })?,
            allowed_hosts: self.get("allowed_hosts", |raw| {
                raw.list()?.iter().map(|h| parse_allowed_host(h)).collect()
            })?,
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

/// One `allowed_hosts` entry: a host name (letters, digits, `.`, `-`, `_`), lower-cased,
/// without port, or `*` for any host.
fn parse_allowed_host(raw: &str) -> Result<String, String> {
    let h = raw.trim().trim_end_matches('.').to_ascii_lowercase();
    let ok = h == "*"
        || (!h.is_empty()
            && h.len() <= 253
            && h.bytes()
                .all(|c| c.is_ascii_alphanumeric() || b".-_".contains(&c)));
    if ok {
        Ok(h)
    } else {
        Err(format!(
            "`{raw}` is not a host name (no scheme, port or path)"
        ))
    }
}
