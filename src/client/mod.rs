//! The command-line client: `qopy send` encrypts locally with V4 and uploads through the
//! same HTTP API as the browser client, `qopy get` downloads and decrypts a link, and
//! `qopy healthcheck` asks a local server whether it is alive (for Docker's HEALTHCHECK).
//!
//! Links are interchangeable with the browser's: `BASE/clip/ID#SECRET` for text and
//! `BASE/file/ID#SECRET` for files, the secret never leaving the client except in the link
//! printed on the last line of standard output. Nothing here logs or prints the secret
//! anywhere else; resume state, which must hold it to regenerate identical ciphertext, is a
//! file readable only by its owner and is removed once the upload completes.
//!
//! * [`args`] holds the subcommands' command-line arguments;
//! * [`settings`] knows where the server URL, the config file and the resume state live;
//! * [`api`] makes the blocking HTTP calls and turns error answers into [`ClientError`]s;
//! * [`source`] is what is sent (text, a file, an archive of several files, standard input);
//! * [`upload`], [`chunks`] and [`resume`] do `send`, chunk by chunk, resuming an
//!   interrupted upload;
//! * [`download`] does `get`; [`progress`] draws the progress bars;
//! * [`dropbox`] does `receive` and `send --to` (drop boxes).

pub mod api;
pub mod args;
pub mod chunks;
pub mod download;
pub mod dropbox;
pub mod progress;
pub mod resume;
pub mod settings;
pub mod source;
pub mod upload;

pub use args::{GetArgs, ReceiveArgs, SendArgs};

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use crate::v4::V4Error;

/// Why a client command failed; the message is meant for the person at the terminal.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// No server URL was given anywhere.
    #[error(
        "no server given: pass --server URL, set QOPY_SERVER, or put server = \"URL\" in {}",
        .0.display()
    )]
    NoServer(PathBuf),
    /// The client config file is unreadable or malformed.
    #[error("client config {}: {message}", path.display())]
    Settings {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        message: String,
    },
    /// A command-line value is unusable.
    #[error("{0}")]
    Usage(String),
    /// The link is not a Qopy link.
    #[error("not a Qopy link: {0} (expected http(s)://HOST/clip/ID#SECRET or /file/ID#SECRET)")]
    BadLink(String),
    /// The server could not be reached or the connection broke.
    #[error("cannot reach the server at {url}: {}", chain(.source))]
    Network {
        /// The server's base URL (never a link with its secret).
        url: String,
        /// The transport error.
        #[source]
        source: reqwest::Error,
    },
    /// The server answered with an error.
    #[error("the server refused the request ({status}): {message}")]
    Api {
        /// The HTTP status.
        status: u16,
        /// The server's `message` (or `error`).
        message: String,
    },
    /// The clip does not exist (never did, expired, or was a one-time clip already taken).
    #[error("no such clip: it may have expired or been downloaded already")]
    NotFound,
    /// The one-time clip was just consumed by someone else.
    #[error("this one-time clip has already been downloaded")]
    Consumed,
    /// The clip needs an access code and none was given.
    #[error("this clip requires an access code: pass --access-code CODE")]
    AccessCodeRequired,
    /// The access code was wrong.
    #[error("wrong access code")]
    WrongAccessCode,
    /// Decryption failed.
    #[error("{}", crypto_message(.0))]
    Crypto(V4Error),
    /// A local file could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// Test-only: the upload stopped on purpose (`QOPY_TEST_STOP_AFTER_CHUNKS`).
    #[error("upload interrupted after {0} chunks (QOPY_TEST_STOP_AFTER_CHUNKS, for tests only)")]
    TestInterrupted(u32),
}

/// An error and its causes, `a: b: c` (reqwest's own message omits the cause).
fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        let s = c.to_string();
        if !out.contains(&s) {
            out.push_str(": ");
            out.push_str(&s);
        }
        cur = c.source();
    }
    out
}

fn crypto_message(e: &V4Error) -> String {
    match e {
        V4Error::PasswordRequired => {
            "this content is protected by a password: pass --password PASSWORD".into()
        }
        V4Error::WrongKey => "cannot decrypt: the link's secret (or the password) is wrong".into(),
        V4Error::NotV3 | V4Error::BadMagic => {
            "cannot decrypt: the content is not in a format this client reads".into()
        }
        e => format!("cannot decrypt: {e}"),
    }
}

impl ClientError {
    /// An I/O error on `path`.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> ClientError {
        ClientError::Io {
            path: path.into(),
            source,
        }
    }
}

/// The result type of the client.
pub type Result<T, E = ClientError> = std::result::Result<T, E>;

/// The address a health check should call for a server listening on `listen`: the
/// loopback address of the same family when it listens on all addresses.
pub fn health_address(listen: SocketAddr) -> SocketAddr {
    let ip = match listen.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    SocketAddr::new(ip, listen.port())
}

/// `GET http://ADDR/health` (`https://` when `tls`): true when the server answers 200
/// within five seconds; `/health` writes to the database and waits for the write to be
/// durable, so a server whose storage is stuck is reported unhealthy. Over TLS the certificate is not checked: this asks the server on its
/// own loopback address whether it is alive, and a self-signed certificate must not fail it.
pub fn healthcheck(addr: SocketAddr, tls: bool) -> bool {
    let client = match reqwest::blocking::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(5))
        .danger_accept_invalid_certs(tls)
        .build()
    {
        Ok(c) => c,
        Err(_) => return false,
    };
    client
        .get(format!(
            "{}://{addr}/health",
            if tls { "https" } else { "http" }
        ))
        .send()
        .map(|r| r.status().as_u16() == 200)
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn health_address_uses_loopback_for_unspecified() {
        let a: SocketAddr = "0.0.0.0:8080".parse().unwrap();
        assert_eq!(health_address(a).to_string(), "127.0.0.1:8080");
        let a: SocketAddr = "[::]:81".parse().unwrap();
        assert_eq!(health_address(a).to_string(), "[::1]:81");
        let a: SocketAddr = "192.168.1.5:9000".parse().unwrap();
        assert_eq!(health_address(a), a);
    }
}
