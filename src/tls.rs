//! Built-in HTTPS (the `tls` key). `files` reads a PEM certificate chain and key named by
//! `tls_cert` and `tls_key`; `self-signed` generates an ECDSA P-256 certificate once (names:
//! localhost, 127.0.0.1, ::1 and the machine's addresses at that moment), stores it under
//! `<data_dir>/tls/` (`cert.pem` and `key.pem`, mode 0600 like everything there, each written to
//! a temporary file, synced and renamed into place) and reuses it on later starts; it is made
//! anew only when a file is missing or unreadable, not when the machine's addresses change.
//! Either way the result is a rustls server configuration (ring provider, ALPN `http/1.1`), the
//! SHA-256 fingerprint of the leaf certificate, which start-up prints and `GET /api/tls`
//! reports, and the leaf's DNS names, which requests may use as their Host.

use crate::config::{Config, TlsMode};
use crate::private_dir::atomic_write;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// How long a client has to complete the TLS handshake; the connection holds a slot of
/// `max_connections` meanwhile.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// The sub-directory of the data directory holding the self-signed certificate.
pub const SELF_SIGNED_DIR: &str = "tls";
/// File name of the self-signed certificate (PEM).
pub const CERT_FILE: &str = "cert.pem";
/// File name of the self-signed certificate's private key (PEM, PKCS#8, mode 0600).
pub const KEY_FILE: &str = "key.pem";

/// Why HTTPS could not be set up. Every message names the key or file at fault.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A configured file is missing, unreadable or not what the key asks for.
    #[error("`{key}`: {message}")]
    Key {
        /// The configuration key (`tls_cert` or `tls_key`).
        key: &'static str,
        /// What is wrong.
        message: String,
    },
    /// The self-signed certificate could not be made or stored.
    #[error("self-signed certificate in {}: {message}", dir.display())]
    SelfSigned {
        /// `<data_dir>/tls`.
        dir: PathBuf,
        /// What went wrong.
        message: String,
    },
}

/// HTTPS as configured: the acceptor for the accept loop and what `/api/tls` reports.
pub struct Tls {
    /// `files` or `self-signed` (never `off`).
    pub mode: TlsMode,
    /// Wraps accepted TCP streams.
    pub acceptor: tokio_rustls::TlsAcceptor,
    /// SHA-256 of the leaf certificate's DER, as uppercase hex pairs joined by `:`.
    pub fingerprint: String,
    /// Where the leaf certificate came from.
    pub cert_path: PathBuf,
    /// The DNS names (subject alternative names) of the leaf certificate, lower-cased; a
    /// wildcard name keeps its `*.` prefix.
    pub dns_names: Vec<String>,
}

impl std::fmt::Debug for Tls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tls")
            .field("mode", &self.mode)
            .field("fingerprint", &self.fingerprint)
            .field("cert_path", &self.cert_path)
            .field("dns_names", &self.dns_names)
            .finish()
    }
}

/// Sets up HTTPS for `config`: `None` when `tls` is off. With `self-signed`, makes the
/// certificate first if there is none yet (so this writes to the data directory).
pub fn load(config: &Config) -> Result<Option<Tls>, TlsError> {
    match config.tls {
        TlsMode::Off => Ok(None),
        TlsMode::Files => {
            let cert = config
                .tls_cert
                .as_deref()
                .ok_or_else(|| required("tls_cert"))?;
            let key = config
                .tls_key
                .as_deref()
                .ok_or_else(|| required("tls_key"))?;
            let certs = read_certs(cert).map_err(|message| TlsError::Key {
                key: "tls_cert",
                message,
            })?;
            let private = read_key(key).map_err(|message| TlsError::Key {
                key: "tls_key",
                message,
            })?;
            build(TlsMode::Files, certs, private, cert.to_path_buf())
                .map_err(|e| TlsError::Key {
                    key: "tls_key",
                    message: format!(
                        "{} does not fit the certificate in {}: {e}",
                        key.display(),
                        cert.display()
                    ),
                })
                .map(Some)
        }
        TlsMode::SelfSigned => self_signed(&config.data_dir).map(Some),
    }
}

fn required(key: &'static str) -> TlsError {
    TlsError::Key {
        key,
        message: format!("`{key}` is required when tls is \"files\" (the path of a PEM file)"),
    }
}

/// The fingerprint format shown to people: SHA-256, uppercase hex pairs joined by `:`.
pub fn fingerprint(der: &[u8]) -> String {
    Sha256::digest(der)
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

fn read_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let pem = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("{} is not a PEM certificate file: {e}", path.display()))?;
    if certs.is_empty() {
        return Err(format!(
            "{} holds no PEM certificate (-----BEGIN CERTIFICATE-----)",
            path.display()
        ));
    }
    Ok(certs)
}

fn read_key(path: &Path) -> Result<PrivateKeyDer<'static>, String> {
    let pem = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    PrivateKeyDer::from_pem_slice(&pem)
        .map_err(|e| format!("{} holds no usable PEM private key: {e}", path.display()))
}

fn build(
    mode: TlsMode,
    certs: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
    cert_path: PathBuf,
) -> Result<Tls, rustls::Error> {
    let fingerprint = fingerprint(&certs[0]);
    let dns_names = dns_names(&certs[0]);
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut server = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(certs, key)?;
    server.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Tls {
        mode,
        acceptor: tokio_rustls::TlsAcceptor::from(Arc::new(server)),
        fingerprint,
        cert_path,
        dns_names,
    })
}

/// The DNS names among a certificate's subject alternative names (IP addresses are left out:
/// every IP literal is an acceptable Host anyway). A certificate that does not parse has none;
/// rustls then refuses it anyway.
fn dns_names(cert: &CertificateDer<'_>) -> Vec<String> {
    match webpki::EndEntityCert::try_from(cert) {
        Ok(parsed) => parsed
            .valid_dns_names()
            .map(|n| n.trim_end_matches('.').to_ascii_lowercase())
            .collect(),
        Err(_) => Vec::new(),
    }
}

/// Loads `<data_dir>/tls/{cert,key}.pem`, making them first if either is missing or unreadable.
fn self_signed(data_dir: &Path) -> Result<Tls, TlsError> {
    let dir = data_dir.join(SELF_SIGNED_DIR);
    let cert_path = dir.join(CERT_FILE);
    let key_path = dir.join(KEY_FILE);
    let existing = (|| {
        let certs = read_certs(&cert_path)?;
        let key = read_key(&key_path)?;
        build(TlsMode::SelfSigned, certs, key, cert_path.clone()).map_err(|e| e.to_string())
    })();
    match existing {
        Ok(tls) => return Ok(tls),
        Err(why) if cert_path.exists() || key_path.exists() => {
            tracing::warn!(reason = %why, "the stored self-signed certificate is unusable; making a new one");
        }
        Err(_) => {}
    }
    let fail = |message: String| TlsError::SelfSigned {
        dir: dir.clone(),
        message,
    };
    let (cert_pem, key_pem) = generate().map_err(|e| fail(format!("cannot generate: {e}")))?;
    crate::private_dir::create_dir_all(&dir)
        .map_err(|e| fail(format!("cannot create the directory: {e}")))?;
    // The key first: a crash in between leaves no certificate, so the next start makes both.
    atomic_write(&key_path, key_pem.as_bytes())
        .map_err(|e| fail(format!("cannot write {KEY_FILE}: {e}")))?;
    atomic_write(&cert_path, cert_pem.as_bytes())
        .map_err(|e| fail(format!("cannot write {CERT_FILE}: {e}")))?;
    let certs = read_certs(&cert_path).map_err(fail)?;
    let key = read_key(&key_path).map_err(fail)?;
    let tls = build(TlsMode::SelfSigned, certs, key, cert_path.clone())
        .map_err(|e| fail(e.to_string()))?;
    tracing::info!(fingerprint = %tls.fingerprint, path = %cert_path.display(), "made a self-signed TLS certificate");
    Ok(tls)
}

/// The names a self-signed certificate covers: localhost, the loopback addresses and the
/// machine's other addresses now.
pub fn self_signed_names() -> Vec<String> {
    let mut names: Vec<String> = vec!["localhost".into(), "127.0.0.1".into(), "::1".into()];
    for ip in crate::net::local_addresses() {
        let s = ip.to_string();
        if !names.contains(&s) {
            names.push(s);
        }
    }
    names
}

/// A new ECDSA P-256 self-signed certificate and its key, both PEM.
fn generate() -> Result<(String, String), rcgen::Error> {
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)?;
    let mut params = rcgen::CertificateParams::new(self_signed_names())?;
    let mut dn = rcgen::DistinguishedName::new();
    dn.push(rcgen::DnType::CommonName, "Qopy self-signed");
    dn.push(rcgen::DnType::OrganizationName, "Qopy");
    params.distinguished_name = dn;
    let cert = params.self_signed(&key)?;
    Ok((cert.pem(), key.serialize_pem()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprint_is_colon_separated_uppercase_sha256() {
        let fp = fingerprint(b"abc");
        assert_eq!(
            fp,
            "BA:78:16:BF:8F:01:CF:EA:41:41:40:DE:5D:AE:22:23:B0:03:61:A3:96:17:7A:9C:B4:10:FF:61:F2:00:15:AD"
        );
    }

    #[test]
    fn self_signed_is_made_once_with_a_private_key_file() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let first = self_signed(dir.path()).unwrap();
        let key = dir.path().join(SELF_SIGNED_DIR).join(KEY_FILE);
        let mode = std::fs::metadata(&key).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let cert = dir.path().join(SELF_SIGNED_DIR).join(CERT_FILE);
        let mode = std::fs::metadata(&cert).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "like everything in the data directory");
        let tls_dir = dir.path().join(SELF_SIGNED_DIR);
        let mode = std::fs::metadata(&tls_dir).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700);
        assert_eq!(
            self_signed(dir.path()).unwrap().fingerprint,
            first.fingerprint
        );
        // An unreadable certificate is replaced.
        std::fs::write(dir.path().join(SELF_SIGNED_DIR).join(CERT_FILE), "garbage").unwrap();
        assert_ne!(
            self_signed(dir.path()).unwrap().fingerprint,
            first.fingerprint
        );
    }

    #[test]
    fn dns_names_come_from_the_subject_alternative_names() {
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        let params = rcgen::CertificateParams::new(vec![
            "Qopy.Example.".into(),
            "*.lan.example".into(),
            "192.168.1.20".into(),
        ])
        .unwrap();
        let cert = params.self_signed(&key).unwrap();
        assert_eq!(
            dns_names(cert.der()),
            vec!["qopy.example".to_string(), "*.lan.example".to_string()]
        );
        assert!(dns_names(&CertificateDer::from(vec![1u8, 2, 3])).is_empty());
    }

    #[test]
    fn files_mode_names_the_key_at_fault() {
        let dir = tempfile::tempdir().unwrap();
        let mut c = Config::defaults();
        c.tls = TlsMode::Files;
        c.tls_cert = Some(dir.path().join("missing-cert.pem"));
        c.tls_key = Some(dir.path().join("missing-key.pem"));
        let e = load(&c).unwrap_err().to_string();
        assert!(
            e.contains("`tls_cert`") && e.contains("missing-cert.pem"),
            "{e}"
        );
        c.tls_key = None;
        let e = load(&c).unwrap_err().to_string();
        assert!(e.contains("`tls_key`"), "{e}");
    }
}
