//! Built-in HTTPS (the `tls` key): a self-signed certificate made once in the data directory
//! and reused, a certificate from files, HSTS over TLS only, `GET /api/tls`, and the start-up
//! errors and connection failures that must not take the server down.

use crate::harness::{assert_exit_code, test_bytes, test_config, Answer, TestServer};
use qopy::config::TlsMode;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A client that trusts exactly the certificate in `pem` (no built-in roots).
fn trusting(pem: &[u8]) -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .use_rustls_tls()
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(pem).unwrap())
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

/// Waits until the server has written its self-signed certificate, then returns the PEM.
async fn wait_for_cert(data_dir: &Path) -> Vec<u8> {
    let path = data_dir.join("tls").join("cert.pem");
    for _ in 0..200 {
        if let Ok(pem) = std::fs::read(&path) {
            if !pem.is_empty() {
                return pem;
            }
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("no certificate at {}", path.display());
}

/// Switches a started server's test handles to https with a client trusting `pem`.
fn over_https(server: &mut TestServer, pem: &[u8]) {
    server.base = server.base.replacen("http://", "https://", 1);
    server.client = trusting(pem);
}

fn fingerprint_of(pem: &[u8]) -> String {
    let der = CertificateDer::from_pem_slice(pem).unwrap();
    qopy::tls::fingerprint(&der)
}

/// Retries a request until the server answers (it binds before it serves).
async fn get_ok(client: &reqwest::Client, url: &str) -> reqwest::Response {
    let mut last = None;
    for _ in 0..100 {
        match client.get(url).send().await {
            Ok(r) => return r,
            Err(e) => last = Some(e),
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{url} never answered: {last:?}");
}

#[tokio::test]
async fn self_signed_round_trip_hsts_and_reuse_across_restarts() {
    let mut server = TestServer::start_with(|c| c.tls = TlsMode::SelfSigned).await;
    let dir = server.data_dir();
    let pem = wait_for_cert(&dir).await;
    let key = dir.join("tls").join("key.pem");
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&key).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "the private key must be private");
    }
    over_https(&mut server, &pem);
    let fp = fingerprint_of(&pem);

    // /api/tls reports the mode and the fingerprint of the DER certificate; HSTS is on.
    let r = get_ok(&server.client, &server.url("/api/tls")).await;
    assert_eq!(r.status().as_u16(), 200);
    let hsts = r
        .headers()
        .get("strict-transport-security")
        .expect("HSTS over TLS")
        .to_str()
        .unwrap()
        .to_string();
    assert!(hsts.starts_with("max-age="), "{hsts}");
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(v["enabled"], true);
    assert_eq!(v["mode"], "self-signed");
    assert_eq!(v["fingerprintSha256"], fp.as_str());
    assert_eq!(fp.len(), 32 * 3 - 1);

    // An upload and its download round-trip over HTTPS, byte for byte, and the link is https.
    let data = test_bytes(300_000, 7);
    let done = server
        .upload(&data, serde_json::json!({}), serde_json::json!({}))
        .await;
    let url = done["url"].as_str().unwrap_or_default();
    assert!(url.starts_with("https://"), "share link {done}");
    let id = done["clipId"].as_str().unwrap().to_string();
    let (status, body) = server.download_bytes(&id, None).await;
    assert_eq!(status, 200);
    assert!(body == data, "the download differs from the upload");

    // A client that does not trust the certificate fails the handshake.
    let untrusting = reqwest::Client::builder().no_proxy().build().unwrap();
    let err = untrusting
        .get(server.url("/api/health"))
        .send()
        .await
        .expect_err("an unknown self-signed certificate must be refused");
    assert!(err.is_connect() || err.is_request(), "{err:?}");

    // Plain http to the TLS port is refused without harming the server.
    let addr = server.base.trim_start_matches("https://").to_string();
    let mut tcp = tokio::net::TcpStream::connect(&addr).await.unwrap();
    tcp.write_all(b"GET /api/health HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .await
        .unwrap();
    let mut buf = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(15), tcp.read_to_end(&mut buf)).await;
    assert!(
        !buf.starts_with(b"HTTP/1.1 200"),
        "plain http must not be served on the TLS port"
    );
    let r = get_ok(&server.client, &server.url("/api/health")).await;
    assert_eq!(r.status().as_u16(), 200);

    // A restart reuses the certificate: same fingerprint, same PEM.
    let mut server = server.restart().await;
    assert_eq!(wait_for_cert(&dir).await, pem);
    over_https(&mut server, &pem);
    let r = get_ok(&server.client, &server.url("/api/tls")).await;
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(v["fingerprintSha256"], fp.as_str());
    let (status, body) = server.download_bytes(&id, None).await;
    assert_eq!(status, 200);
    assert!(body == data);
    server.stop().await;
}

#[tokio::test]
async fn plain_http_has_no_hsts_and_reports_tls_off() {
    let server = TestServer::start().await;
    let r = server.get("/api/tls").answer().await;
    assert!(r.headers().get("strict-transport-security").is_none());
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(
        v,
        serde_json::json!({ "enabled": false, "mode": "off", "fingerprintSha256": null })
    );
    server.stop().await;
}

#[tokio::test]
async fn certificate_from_files() {
    let keys = tempfile::tempdir().unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec!["localhost".into(), "127.0.0.1".into()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    let cert_path = keys.path().join("cert.pem");
    let key_path = keys.path().join("key.pem");
    std::fs::write(&cert_path, cert.pem()).unwrap();
    std::fs::write(&key_path, key.serialize_pem()).unwrap();
    let pem = cert.pem().into_bytes();

    let (cp, kp) = (cert_path.clone(), key_path.clone());
    let mut server = TestServer::start_with(move |c| {
        c.tls = TlsMode::Files;
        c.tls_cert = Some(cp);
        c.tls_key = Some(kp);
    })
    .await;
    over_https(&mut server, &pem);
    let r = get_ok(&server.client, &server.url("/api/tls")).await;
    assert!(r.headers().get("strict-transport-security").is_some());
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(v["mode"], "files");
    assert_eq!(v["fingerprintSha256"], fingerprint_of(&pem).as_str());
    let data = test_bytes(50_000, 3);
    let id = server.upload_file(&data).await;
    assert_eq!(server.download_bytes(&id, None).await, (200, data));
    assert!(
        !server.data_dir().join("tls").exists(),
        "files mode makes no certificate of its own"
    );
    server.stop().await;
}

/// Runs the server with `config` expecting it to refuse to start; returns the error text.
async fn startup_error(config: qopy::config::Config) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let clock = Arc::new(qopy::clock::OffsetClock::new());
    let run = qopy::app::run(config, listener, std::future::pending(), clock);
    match tokio::time::timeout(Duration::from_secs(10), run).await {
        Ok(Err(e)) => e.to_string(),
        Ok(Ok(())) => panic!("the server stopped cleanly instead of refusing to start"),
        Err(_) => panic!("the server started"),
    }
}

#[tokio::test]
async fn files_mode_start_up_errors_name_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec!["localhost".into()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    let cert_path = dir.path().join("cert.pem");
    std::fs::write(&cert_path, cert.pem()).unwrap();

    let mut c = test_config(&dir.path().join("data"));
    c.tls = TlsMode::Files;
    c.tls_cert = Some(cert_path.clone());
    c.tls_key = None;
    let e = startup_error(c.clone()).await;
    assert!(e.contains("tls_key"), "{e}");

    // The same through the configuration layers: the error names the key.
    let flags = [("tls", "files"), ("tls_cert", "/x/cert.pem")]
        .map(|(k, v)| (k.to_string(), v.to_string()));
    let e = qopy::config::Config::load(None, &[], &flags)
        .unwrap_err()
        .to_string();
    assert!(e.contains("`tls_key`"), "{e}");

    // A key file that is not a key, and a certificate file that does not exist.
    let bad_key = dir.path().join("bad-key.pem");
    std::fs::write(&bad_key, "not a key").unwrap();
    c.tls_key = Some(bad_key);
    let e = startup_error(c.clone()).await;
    assert!(e.contains("tls_key") && e.contains("bad-key.pem"), "{e}");
    c.tls_cert = Some(dir.path().join("nowhere.pem"));
    let e = startup_error(c).await;
    assert!(e.contains("tls_cert") && e.contains("nowhere.pem"), "{e}");
}

/// The real binary: start-up prints https URLs and the fingerprint of the certificate it
/// stored, `qopy healthcheck` works over TLS, and `--tls files` without `--tls-key` exits 2
/// naming the key.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binary_prints_https_urls_and_the_fingerprint() {
    use tokio::io::AsyncBufReadExt;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let qopy = |args: &[&str]| {
        let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_qopy"));
        cmd.args(args)
            .current_dir(dir.path())
            .env_clear()
            .env("HOME", dir.path())
            .env("NO_PROXY", "*")
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .kill_on_drop(true);
        cmd
    };
    let mut child = qopy(&[
        "--listen",
        "127.0.0.1:0",
        "--data-dir",
        data.to_str().unwrap(),
        "--tls",
        "self-signed",
        "--log",
        "warn",
    ])
    .spawn()
    .unwrap();
    let mut lines = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let (mut url, mut printed) = (None, None);
    let read = async {
        while let Some(line) = lines.next_line().await.unwrap() {
            let t = line.trim();
            if t.starts_with("https://") && url.is_none() {
                url = Some(t.to_string());
            } else if let Some(fp) = t.strip_prefix("TLS certificate SHA-256: ") {
                printed = Some(fp.to_string());
                return;
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(30), read)
        .await
        .expect("start-up output");
    let url = url.expect("an https URL is printed");
    let printed = printed.unwrap();
    assert!(url.starts_with("https://127.0.0.1:"), "{url}");
    let pem = std::fs::read(data.join("tls").join("cert.pem")).unwrap();
    assert_eq!(printed, fingerprint_of(&pem));

    let listen = url
        .trim_start_matches("https://")
        .trim_end_matches('/')
        .to_string();
    let client = trusting(&pem);
    let r = get_ok(&client, &format!("{}api/health", url)).await;
    assert_eq!(r.status().as_u16(), 200);
    let health = qopy(&["healthcheck", "--listen", &listen, "--tls", "self-signed"])
        .output()
        .await
        .unwrap();
    assert_exit_code(&health, 0, "qopy healthcheck over TLS");
    child.kill().await.unwrap();

    let refused = qopy(&[
        "--listen",
        "127.0.0.1:0",
        "--data-dir",
        data.to_str().unwrap(),
        "--tls",
        "files",
        "--tls-cert",
        "cert.pem",
    ])
    .output()
    .await
    .unwrap();
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(refused.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("`tls_key`"), "{stderr}");
}

/// A client that opens a connection and never starts the handshake holds a connection slot
/// only until the handshake deadline (10 s), and never blocks the accept loop.
#[tokio::test]
async fn stalled_handshake_counts_against_the_cap_and_times_out() {
    let mut server = TestServer::start_with(|c| {
        c.tls = TlsMode::SelfSigned;
        c.max_connections = 1;
    })
    .await;
    let pem = wait_for_cert(&server.data_dir()).await;
    over_https(&mut server, &pem);
    // Serving: one quick request (its connection closes with the client below).
    let probe = trusting(&pem);
    assert_eq!(
        get_ok(&probe, &server.url("/api/health")).await.status(),
        200
    );
    drop(probe);
    tokio::time::sleep(Duration::from_millis(300)).await;

    let addr = server.base.trim_start_matches("https://").to_string();
    let started = std::time::Instant::now();
    let mut stalled = tokio::net::TcpStream::connect(&addr).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    // The only slot is taken by the silent connection: a second client is turned away.
    let refused = trusting(&pem).get(server.url("/api/health")).send().await;
    assert!(refused.is_err(), "the connection cap must count handshakes");
    // The silent connection is closed at the handshake deadline.
    let mut buf = [0u8; 64];
    let n = tokio::time::timeout(Duration::from_secs(20), stalled.read(&mut buf))
        .await
        .expect("closed within the handshake timeout")
        .unwrap_or(0);
    assert_eq!(n, 0);
    let waited = started.elapsed();
    assert!(waited >= Duration::from_secs(9), "closed after {waited:?}");
    tokio::time::sleep(Duration::from_millis(200)).await;
    let ok = trusting(&pem).get(server.url("/api/health")).answer().await;
    assert_eq!(ok.status().as_u16(), 200);
    server.stop().await;
}
