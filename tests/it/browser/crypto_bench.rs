//! Benchmark of the browser crypto, in headless Chromium: our JS fallback on a plain-HTTP
//! origin that is not a secure context (`http://qopy.test:PORT`, no `crypto.subtle`, the
//! provider `getCrypto()` picks there) against WebCrypto on `http://127.0.0.1:PORT`. Timed
//! with `performance.now()` inside the page:
//!
//! - PBKDF2-HMAC-SHA256 and PBKDF2-HMAC-SHA512, 600,000 iterations (one run each, as a user
//!   pays it; the V4 key derivation is the SHA-256 one);
//! - AES-256-GCM encryption and decryption of 16 MiB in one call (best of 3, first run shown);
//! - the fallback's PBKDF2-HMAC-SHA256 again under DevTools' 4x CPU slowdown, a rough stand-in
//!   for a mid-range phone.
//!
//! The table goes to stdout (`cargo test --test it crypto_bench -- --nocapture`) and to
//! `target/browser-crypto-bench.txt`. Other tests running at the same time skew the figures:
//! run it alone. Only correctness is asserted (both paths agree with each other and the GCM
//! ciphertext with the Rust `aes-gcm` crate; decryption gives the plaintext back; times are
//! finite), never speed.

use super::driver::{screenshot_dir, Browser};
use super::ui::{lan_browser, lan_server, open_app, origins};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

const MIB: usize = 1024 * 1024;
const GCM_SIZE: usize = 16 * MIB;
const GCM_RUNS: u32 = 3;
const SEED: u32 = 0x5eed_1234;
const KEY: [u8; 32] = *b"qopy-benchmark-key-32-bytes-long";
const NONCE: [u8; 12] = *b"bench-nonce!";
const AAD: &[u8] = b"qopy browser crypto benchmark";
const PASSWORD: &str = "benchmark-secret-0123456789:password";
const SALT: &str = "qopy-benchmark-salt-32-bytes-ok!";

/// Runs in the page. args: [forceFallback, seed, size, runs, key, nonce, aad, password,
/// salt, pbkdf2 hashes]. Plaintext: xorshift32 words, little-endian (as `plaintext()`).
const BENCH_JS: &str = r#"
const [forceFallback, seed, size, runs, key, nonce, aad, password, salt, hashes] = args;
const { getCrypto } = await import('/js/crypto/index.js');
const { toHex } = await import('/js/crypto/util.js');
const c = await getCrypto({ forceFallback });
const u8 = (a) => Uint8Array.from(a);
const enc = new TextEncoder();
const time = async (f) => { const t0 = performance.now(); const r = await f(); return [performance.now() - t0, r]; };
const out = { native: c.native, secure: window.isSecureContext, subtle: !!(window.crypto && crypto.subtle),
              ua: navigator.userAgent, cores: navigator.hardwareConcurrency, pbkdf2: {} };
for (const h of hashes) {
  const len = h === 'SHA-256' ? 32 : 64;
  const [ms, dk] = await time(() => c.pbkdf2(h, enc.encode(password), enc.encode(salt), 600000, len));
  out.pbkdf2[h] = { ms, hex: toHex(dk) };
}
if (size > 0) {
  const data = new Uint8Array(size);
  const w = new Uint32Array(data.buffer);
  let x = seed >>> 0;
  for (let i = 0; i < w.length; i++) { x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0; w[i] = x; }
  const [k, n, a] = [u8(key), u8(nonce), u8(aad)];
  const encMs = [], decMs = [];
  let sealed = null, ok = true;
  for (let r = 0; r < runs; r++) {
    const [e, s] = await time(() => c.aesGcmEncrypt(k, n, data, a));
    const [d, p] = await time(() => c.aesGcmDecrypt(k, n, s, a));
    encMs.push(e); decMs.push(d);
    if (p.length !== data.length) ok = false;
    else for (let i = 0; i < p.length; i++) if (p[i] !== data[i]) { ok = false; break; }
    sealed = s;
  }
  out.gcm = { encMs, decMs, roundTrip: ok, sealedLen: sealed.length, sealedSha256: toHex(await c.sha256(sealed)) };
}
return out;
"#;

/// The plaintext the page builds: xorshift32 (13, 17, 5) words from `SEED`, little-endian.
fn plaintext(size: usize) -> Vec<u8> {
    let next = |x: u32| {
        let x = x ^ (x << 13);
        let x = x ^ (x >> 17);
        x ^ (x << 5)
    };
    std::iter::successors(Some(next(SEED)), |&x| Some(next(x)))
        .flat_map(u32::to_le_bytes)
        .take(size)
        .collect()
}

/// SHA-256 of the Rust `aes-gcm` sealing (ciphertext || tag) of the same input.
fn rust_sealed_sha256() -> (usize, String) {
    use aes_gcm::aead::{Aead, KeyInit, Payload};
    let cipher = aes_gcm::Aes256Gcm::new_from_slice(&KEY).unwrap();
    let sealed = cipher
        .encrypt(
            aes_gcm::Nonce::from_slice(&NONCE),
            Payload {
                msg: &plaintext(GCM_SIZE),
                aad: AAD,
            },
        )
        .unwrap();
    (sealed.len(), hex::encode(Sha256::digest(&sealed)))
}

async fn run(b: &Browser, force_fallback: bool, size: usize, hashes: &[&str]) -> Value {
    b.js_async(
        BENCH_JS,
        vec![
            json!(force_fallback),
            json!(SEED),
            json!(size),
            json!(GCM_RUNS),
            json!(KEY.to_vec()),
            json!(NONCE.to_vec()),
            json!(AAD.to_vec()),
            json!(PASSWORD),
            json!(SALT),
            json!(hashes),
        ],
    )
    .await
}

fn ms(v: &Value) -> f64 {
    let x = v.as_f64().unwrap_or(f64::NAN);
    assert!(x.is_finite() && x >= 0.0, "not a time: {v}");
    x
}

fn fmt_ms(x: f64) -> String {
    if x >= 10.0 {
        format!("{x:.0} ms")
    } else {
        format!("{x:.1} ms")
    }
}

/// "best ms = MiB/s (first ms)".
fn gcm_cell(times: &Value) -> String {
    let t: Vec<f64> = times.as_array().unwrap().iter().map(ms).collect();
    assert_eq!(t.len(), GCM_RUNS as usize);
    let best = t.iter().cloned().fold(f64::INFINITY, f64::min);
    let mibs = (GCM_SIZE / MIB) as f64 / (best.max(0.001) / 1000.0);
    format!(
        "{} = {mibs:.0} MiB/s (first {})",
        fmt_ms(best),
        fmt_ms(t[0])
    )
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, m)| m.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into())
}

/// Asserts a run's crypto path: WebCrypto in a secure context (`webcrypto`), or the fallback
/// where there is neither.
fn assert_path(run: &Value, webcrypto: bool) {
    let path = if webcrypto { "WebCrypto" } else { "fallback" };
    assert_eq!(
        (&run["native"], &run["secure"], &run["subtle"]),
        (&json!(webcrypto), &json!(webcrypto), &json!(webcrypto)),
        "not on the {path} path"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crypto_bench_fallback_and_webcrypto_in_chromium() {
    let rust = tokio::task::spawn_blocking(rust_sealed_sha256);
    let server = lan_server().await;
    let (lan, local) = origins(&server);
    let b = lan_browser().await;
    let both = ["SHA-256", "SHA-512"];

    // The fallback, where the app itself picks it.
    open_app(&b, &format!("{lan}/")).await;
    let fb = run(&b, false, GCM_SIZE, &both).await;
    assert_path(&fb, false);
    // The same, with the renderer's CPU slowed down 4x.
    b.cdp("Emulation.setCPUThrottlingRate", json!({ "rate": 4 }))
        .await;
    let slow = run(&b, false, 0, &["SHA-256"]).await;
    b.cdp("Emulation.setCPUThrottlingRate", json!({ "rate": 1 }))
        .await;

    // WebCrypto on a secure origin.
    open_app(&b, &format!("{local}/")).await;
    let wc = run(&b, false, GCM_SIZE, &both).await;
    assert_path(&wc, true);
    b.close().await;

    // Correctness: both paths agree, and with the Rust crates.
    for h in both {
        assert_eq!(
            fb["pbkdf2"][h]["hex"], wc["pbkdf2"][h]["hex"],
            "PBKDF2-{h}: fallback and WebCrypto differ"
        );
        assert_eq!(
            fb["pbkdf2"][h]["hex"].as_str().unwrap().len(),
            if h == "SHA-256" { 64 } else { 128 }
        );
    }
    assert_eq!(
        slow["pbkdf2"]["SHA-256"]["hex"],
        fb["pbkdf2"]["SHA-256"]["hex"]
    );
    let (rust_len, rust_sha) = rust.await.unwrap();
    for (what, r) in [("fallback", &fb), ("WebCrypto", &wc)] {
        assert_eq!(r["gcm"]["roundTrip"], json!(true), "{what}: GCM decrypt");
        assert_eq!(r["gcm"]["sealedLen"], json!(rust_len), "{what}: GCM length");
        assert_eq!(
            r["gcm"]["sealedSha256"],
            json!(rust_sha),
            "{what}: GCM ciphertext differs from the Rust aes-gcm crate"
        );
    }

    // The table.
    let ua = fb["ua"].as_str().unwrap_or("");
    let chromium = ua
        .split_whitespace()
        .find(|w| w.contains("Chrome/"))
        .unwrap_or("Chromium");
    let cell = |r: &Value, h: &str| fmt_ms(ms(&r["pbkdf2"][h]["ms"]));
    let rows: Vec<(String, String, String)> = vec![
        (
            "PBKDF2-HMAC-SHA256, 600,000 iterations".into(),
            cell(&fb, "SHA-256"),
            cell(&wc, "SHA-256"),
        ),
        (
            "PBKDF2-HMAC-SHA512, 600,000 iterations".into(),
            cell(&fb, "SHA-512"),
            cell(&wc, "SHA-512"),
        ),
        (
            "AES-256-GCM encrypt 16 MiB (best of 3)".into(),
            gcm_cell(&fb["gcm"]["encMs"]),
            gcm_cell(&wc["gcm"]["encMs"]),
        ),
        (
            "AES-256-GCM decrypt 16 MiB (best of 3)".into(),
            gcm_cell(&fb["gcm"]["decMs"]),
            gcm_cell(&wc["gcm"]["decMs"]),
        ),
        (
            "PBKDF2-HMAC-SHA256, 600,000 it., CPU 4x slower".into(),
            cell(&slow, "SHA-256"),
            "-".into(),
        ),
    ];
    let w0 = rows.iter().map(|r| r.0.len()).max().unwrap();
    let w1 = rows.iter().map(|r| r.1.len()).max().unwrap().max(20);
    let mut table = format!(
        "Browser crypto benchmark: headless {chromium}, {} CPUs ({}), {} logical cores in the page\n\
         fallback = assets/js/crypto on http://qopy.test (not a secure context); \
         WebCrypto = crypto.subtle on http://127.0.0.1\n\n",
        std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
        cpu_model(),
        fb["cores"],
    );
    table += &format!("{:w0$}  {:w1$}  {}\n", "", "fallback (JS)", "WebCrypto");
    for (a, f, n) in &rows {
        table += &format!("{a:w0$}  {f:w1$}  {n}\n");
    }
    println!("\n{table}");
    let path = screenshot_dir()
        .parent()
        .unwrap()
        .join("browser-crypto-bench.txt");
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, &table).unwrap();
    println!("written to {}", path.display());
}
