//! Where the client's settings and state live: the server URL (`--server`, then
//! `QOPY_SERVER`, then `server = "..."` in the client config file), the config file itself
//! (`client.toml` in the user's config directory, e.g. `~/.config/qopy/client.toml`) and the
//! directory of resume state (`qopy/uploads` in the user's state directory, e.g.
//! `~/.local/state/qopy/uploads`, or the cache directory where there is no state directory).

use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::{ClientError, Result};

/// The client config file's keys.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ClientFile {
    /// The default server URL.
    server: Option<String>,
}

/// The client config file: `qopy/client.toml` in the user's config directory.
pub fn config_file() -> PathBuf {
    dirs::config_dir()
        .unwrap_or_else(|| PathBuf::from("."))
        .join("qopy")
        .join("client.toml")
}

/// The directory of resume state, if the platform has a state or cache directory.
pub fn state_dir() -> Option<PathBuf> {
    dirs::state_dir()
        .or_else(dirs::cache_dir)
        .map(|d| d.join("qopy").join("uploads"))
}

/// The server base URL: the flag, then `QOPY_SERVER`, then the config file.
pub fn server_url(flag: Option<&str>) -> Result<String> {
    if let Some(s) = flag {
        return normalize(s);
    }
    if let Some(s) = std::env::var("QOPY_SERVER").ok().filter(|s| !s.is_empty()) {
        return normalize(&s);
    }
    let path = config_file();
    match read_file(&path)?.server {
        Some(s) => normalize(&s),
        None => Err(ClientError::NoServer(path)),
    }
}

/// The config file's content, or the defaults when it does not exist.
fn read_file(path: &Path) -> Result<ClientFile> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(ClientFile::default()),
        Err(e) => {
            return Err(ClientError::Settings {
                path: path.to_path_buf(),
                message: e.to_string(),
            })
        }
    };
    toml::from_str(&text).map_err(|e| ClientError::Settings {
        path: path.to_path_buf(),
        message: e.message().to_string(),
    })
}

/// `http(s)://host[:port][/prefix]` without a trailing slash; a bare `host:port` gets
/// `http://`.
pub fn normalize(url: &str) -> Result<String> {
    let url = url.trim();
    let with_scheme = if url.contains("://") {
        url.to_string()
    } else {
        format!("http://{url}")
    };
    let parsed = reqwest::Url::parse(&with_scheme)
        .map_err(|e| ClientError::Usage(format!("invalid server URL {url:?}: {e}")))?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
        return Err(ClientError::Usage(format!(
            "invalid server URL {url:?}: expected http(s)://HOST[:PORT]"
        )));
    }
    if parsed.fragment().is_some() || parsed.query().is_some() {
        return Err(ClientError::Usage(format!(
            "invalid server URL {url:?}: it must not have a query or fragment"
        )));
    }
    Ok(with_scheme.trim_end_matches('/').to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalize_adds_scheme_and_drops_slash() {
        assert_eq!(normalize("h:8080").unwrap(), "http://h:8080");
        assert_eq!(
            normalize("https://x.example/qopy/").unwrap(),
            "https://x.example/qopy"
        );
        assert!(normalize("ftp://x").is_err());
        assert!(normalize("http://x/#frag").is_err());
    }

    #[test]
    fn config_file_parses_and_rejects_unknown_keys() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("client.toml");
        std::fs::write(&p, "server = \"http://a:1\"\n").unwrap();
        assert_eq!(read_file(&p).unwrap().server.as_deref(), Some("http://a:1"));
        std::fs::write(&p, "sever = \"http://a:1\"\n").unwrap();
        assert!(read_file(&p).is_err());
        assert!(read_file(&dir.path().join("none.toml"))
            .unwrap()
            .server
            .is_none());
    }
}
