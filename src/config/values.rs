//! The configuration layers merged key by key, the parsers of single keys named in the
//! declaration, and the checks that involve more than one key.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use super::parse;
use super::raw::Raw;
use super::{
    known_key, BlobStore, Config, ConfigError, IpNet, Layer, Rate, TlsMode, UploadRate, KEYS,
};

/// Smallest and largest allowed `chunk_size`.
const CHUNK_SIZE_RANGE: (u64, u64) = (64 << 10, 64 << 20);
/// Shortest allowed `admin_token`, in characters.
const MIN_ADMIN_TOKEN_CHARS: usize = 16;

/// The winning raw value of each key so far, and the layer it came from. Every key has one.
pub(super) struct Values(BTreeMap<&'static str, (Raw, Layer)>);

impl Values {
    /// Every key at its declared default.
    pub(super) fn defaults() -> Values {
        Values(
            KEYS.iter()
                .map(|k| (k.name, (k.default.to_raw(), Layer::Defaults)))
                .collect(),
        )
    }

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

    /// The layer `key`'s value came from.
    fn layer(&self, key: &'static str) -> Layer {
        self.0
            .get(key)
            .map_or(Layer::Defaults, |(_, layer)| layer.clone())
    }

    /// `key`'s value interpreted by `parse`; an error names the key and its layer.
    pub(super) fn get<T>(
        &self,
        key: &'static str,
        parse: impl FnOnce(&Raw) -> Result<T, String>,
    ) -> Result<T, ConfigError> {
        // Every declared key has a value: `defaults` sets them all and nothing removes one.
        let (raw, layer) = &self.0[key];
        parse(raw).map_err(|message| ConfigError::Invalid {
            key,
            layer: layer.clone(),
            message,
        })
    }

    /// The rules that tie keys together.
    pub(super) fn check(&self, config: &Config) -> Result<(), ConfigError> {
        let options = &config.expiry_options;
        if !options
            .iter()
            .any(|(name, _)| *name == config.default_expiry)
        {
            let names: Vec<&str> = options.iter().map(|(n, _)| n.as_str()).collect();
            return Err(ConfigError::Invalid {
                key: "default_expiry",
                layer: self.layer("default_expiry"),
                message: format!(
                    "`{}` is not one of expiry_options ({})",
                    config.default_expiry,
                    names.join(", ")
                ),
            });
        }
        if config.blob_store == BlobStore::S3 {
            for (key, value, what) in [
                ("s3_endpoint", &config.s3_endpoint, "the S3 API's address"),
                ("s3_bucket", &config.s3_bucket, "the bucket's name"),
            ] {
                if value.is_none() {
                    return Err(ConfigError::Invalid {
                        key,
                        layer: self.layer("blob_store"),
                        message: format!("`{key}` is required when blob_store is \"s3\" ({what})"),
                    });
                }
            }
        }
        if config.tls == TlsMode::Files {
            for (key, value) in [("tls_cert", &config.tls_cert), ("tls_key", &config.tls_key)] {
                if value.is_none() {
                    // Named with the layer that asked for files, where the fix belongs.
                    return Err(ConfigError::Invalid {
                        key,
                        layer: self.layer("tls"),
                        message: format!(
                            "`{key}` is required when tls is \"files\" (the path of a PEM file)"
                        ),
                    });
                }
            }
        }
        Ok(())
    }
}

pub(super) fn listen(raw: &Raw) -> Result<SocketAddr, String> {
    let s = raw.text()?;
    s.trim()
        .parse()
        .map_err(|_| format!("`{s}` is not an address like 0.0.0.0:8080 or [::]:8080"))
}

pub(super) fn data_dir(raw: &Raw) -> Result<PathBuf, String> {
    match raw.text()? {
        s if s.trim().is_empty() => Err("must not be empty".into()),
        s => Ok(PathBuf::from(s)),
    }
}

pub(super) fn admin_token(raw: &Raw) -> Result<String, String> {
    let token = raw.text()?;
    let chars = token.chars().count();
    if chars < MIN_ADMIN_TOKEN_CHARS {
        // The message must not echo the token.
        return Err(format!(
            "the admin token must be at least {MIN_ADMIN_TOKEN_CHARS} characters long (it has {chars})"
        ));
    }
    Ok(token.to_string())
}

pub(super) fn public_url(raw: &Raw) -> Result<String, String> {
    parse::public_url(raw.text()?)
}

pub(super) fn tls(raw: &Raw) -> Result<TlsMode, String> {
    let s = raw.text()?;
    match s.trim().to_ascii_lowercase().as_str() {
        "off" => Ok(TlsMode::Off),
        "files" => Ok(TlsMode::Files),
        "self-signed" | "self_signed" => Ok(TlsMode::SelfSigned),
        _ => Err(format!("`{s}` is not off, files or self-signed")),
    }
}

pub(super) fn blob_store(raw: &Raw) -> Result<BlobStore, String> {
    let s = raw.text()?;
    match s.trim().to_ascii_lowercase().as_str() {
        "local" => Ok(BlobStore::Local),
        "s3" => Ok(BlobStore::S3),
        _ => Err(format!("`{s}` is not local or s3")),
    }
}

pub(super) fn s3_endpoint(raw: &Raw) -> Result<String, String> {
    let s = raw.text()?.trim();
    let url = url::Url::parse(s).map_err(|e| format!("`{s}` is not a URL: {e}"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(format!(
            "`{s}` must be an http:// or https:// address with a host"
        ));
    }
    if url.path() != "/" || url.query().is_some() || url.fragment().is_some() {
        return Err(format!(
            "`{s}` must be only scheme://host[:port] (the bucket goes in s3_bucket)"
        ));
    }
    Ok(s.trim_end_matches('/').to_string())
}

/// Bucket names as S3 allows them: 3 to 63 of `a-z 0-9 . -`, starting and ending with a
/// letter or digit.
pub(super) fn s3_bucket(raw: &Raw) -> Result<String, String> {
    let s = raw.text()?.trim();
    let ok = (3..=63).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-')
        && s.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric())
        && s.bytes().last().is_some_and(|b| b.is_ascii_alphanumeric());
    if ok {
        Ok(s.to_string())
    } else {
        Err(format!(
            "`{s}` is not a bucket name (3 to 63 of a-z, 0-9, '.' and '-', starting and ending \
             with a letter or digit)"
        ))
    }
}

pub(super) fn s3_region(raw: &Raw) -> Result<String, String> {
    let s = raw.text()?.trim();
    if s.is_empty()
        || !s
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(format!(
            "`{s}` is not a region name (letters, digits, - and _)"
        ));
    }
    Ok(s.to_string())
}

/// A key prefix: path segments of `A-Z a-z 0-9 - _ .` joined by `/`, or empty.
pub(super) fn s3_prefix(raw: &Raw) -> Result<String, String> {
    let s = raw.text()?.trim().trim_matches('/');
    let segment_ok = |seg: &str| {
        !seg.is_empty()
            && seg != "."
            && seg != ".."
            && seg
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
    };
    if s.is_empty() || (s.len() <= 200 && s.split('/').all(segment_ok)) {
        Ok(s.to_string())
    } else {
        Err(format!(
            "`{s}` is not a key prefix (segments of letters, digits, '-', '_' and '.' joined by '/')"
        ))
    }
}

pub(super) fn snapshot_interval(raw: &Raw) -> Result<std::time::Duration, String> {
    let d = raw.duration()?;
    if d < std::time::Duration::from_secs(10) {
        return Err("must be at least 10s".into());
    }
    Ok(d)
}

pub(super) fn path(raw: &Raw) -> Result<PathBuf, String> {
    raw.text().map(|s| PathBuf::from(s.trim()))
}

pub(super) fn max_file_size(raw: &Raw) -> Result<u64, String> {
    match raw.size()? {
        0 => Err("must be at least 1 byte".into()),
        n => Ok(n),
    }
}

pub(super) fn chunk_size(raw: &Raw) -> Result<u64, String> {
    let n = raw.size()?;
    let (min, max) = CHUNK_SIZE_RANGE;
    if (min..=max).contains(&n) {
        Ok(n)
    } else {
        Err(format!("{n} bytes is outside 64KiB..=64MiB"))
    }
}

/// Each name is a positive duration, listed once, and there is at least one.
pub(super) fn expiry_options(raw: &Raw) -> Result<Vec<(String, u64)>, String> {
    let names = raw.list()?;
    if names.is_empty() {
        return Err("there must be at least one expiry option".into());
    }
    let mut options: Vec<(String, u64)> = Vec::with_capacity(names.len());
    for name in names {
        let d = parse::parse_duration(&name)?;
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
}

/// That it is one of `expiry_options` is checked by [`Values::check`].
pub(super) fn default_expiry(raw: &Raw) -> Result<String, String> {
    Ok(raw.text()?.trim().to_string())
}

pub(super) fn max_storage(raw: &Raw) -> Result<Option<u64>, String> {
    Ok(Some(raw.size()?).filter(|n| *n > 0))
}

pub(super) fn cors_origins(raw: &Raw) -> Result<Vec<String>, String> {
    raw.list()?.iter().map(|o| parse::origin(o)).collect()
}

pub(super) fn trusted_proxies(raw: &Raw) -> Result<Vec<IpNet>, String> {
    raw.list()?.iter().map(|p| IpNet::parse(p)).collect()
}

pub(super) fn max_connections(raw: &Raw) -> Result<usize, String> {
    usize::try_from(raw.count()?).map_err(|_| "is too large".to_string())
}

pub(super) fn workers(raw: &Raw) -> Result<usize, String> {
    match raw.whole()? {
        n @ 0..=1024 => Ok(n as usize),
        _ => Err("must be from 0 (automatic) to 1024".into()),
    }
}

pub(super) fn min_upload_rate(raw: &Raw) -> Result<Option<UploadRate>, String> {
    match raw {
        Raw::Int(0) => Ok(None),
        raw => UploadRate::parse(raw.text()?),
    }
}

pub(super) fn max_connections_per_address(raw: &Raw) -> Result<Option<usize>, String> {
    let n = usize::try_from(raw.whole()?).map_err(|_| "is too large".to_string())?;
    Ok(Some(n).filter(|n| *n > 0))
}

pub(super) fn stall_timeout(raw: &Raw) -> Result<Duration, String> {
    let d = raw.duration()?;
    if d < Duration::from_secs(1) {
        return Err("must be at least 1s".into());
    }
    Ok(d)
}

pub(super) fn allowed_hosts(raw: &Raw) -> Result<Vec<String>, String> {
    raw.list()?.iter().map(|h| allowed_host(h)).collect()
}

/// One `allowed_hosts` entry: a host name (letters, digits, `.`, `-`, `_`), lower-cased,
/// without port, or `*` for any host.
fn allowed_host(raw: &str) -> Result<String, String> {
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

pub(super) fn log(raw: &Raw) -> Result<String, String> {
    let filter = raw.text()?.trim();
    if filter.is_empty() {
        return Err("must not be empty (use e.g. \"info\")".into());
    }
    tracing_subscriber::EnvFilter::try_new(filter).map_err(|e| e.to_string())?;
    Ok(filter.to_string())
}

pub(super) fn rate(raw: &Raw) -> Result<Rate, String> {
    Rate::parse(raw.text()?)
}
