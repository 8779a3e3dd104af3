//! The static binary the Docker image ships: built here the same way as in the Dockerfile
//! (`RUSTFLAGS="-C target-feature=+crt-static" cargo build --release --target
//! x86_64-unknown-linux-gnu`, a static glibc binary) into `target/static/`, kept between runs so
//! later builds are incremental. The first build takes minutes.
//!
//! The binary must be statically linked (no `PT_INTERP` program header, and `ldd` agrees), and,
//! copied alone into an empty directory and started with an empty environment, it serves,
//! `qopy healthcheck` succeeds against it, SIGTERM stops it with exit code 0, and after a
//! restart on the same data directory a clip uploaded before the SIGTERM comes back byte for
//! byte (its data was flushed).

use crate::harness::{assert_exit_code, free_port, target_dir, test_bytes, ServerProcess, Spawn};
use serde_json::json;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

const TARGET: &str = "x86_64-unknown-linux-gnu";

/// Builds the static release binary and returns its path.
fn build_static() -> PathBuf {
    let dir = target_dir().join("static");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(&cargo);
    // At a lower priority, so the tests that run meanwhile keep their timing.
    // SAFETY: the closure runs in the forked child before exec and only calls nice(2), which
    // is async-signal-safe; its result does not matter.
    unsafe {
        cmd.pre_exec(|| {
            libc::nice(10);
            Ok(())
        });
    }
    let out = cmd
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args([
            "build",
            "--release",
            "--locked",
            "--bin",
            "qopy",
            "--target",
            TARGET,
        ])
        .arg("--target-dir")
        .arg(&dir)
        // Exactly these flags, whatever the outer build used.
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("CARGO_BUILD_RUSTFLAGS")
        .env("RUSTFLAGS", "-C target-feature=+crt-static")
        .stdin(Stdio::null())
        .output()
        .expect("run cargo build");
    assert!(
        out.status.success(),
        "the static build failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let bin = dir.join(TARGET).join("release").join("qopy");
    assert!(bin.is_file(), "no binary at {}", bin.display());
    bin
}

/// The ELF program header types of a 64-bit little-endian ELF file.
fn program_header_types(elf: &[u8]) -> Vec<u32> {
    assert!(elf.len() > 64 && &elf[..4] == b"\x7fELF", "not an ELF file");
    assert_eq!(elf[4], 2, "not a 64-bit ELF file");
    assert_eq!(elf[5], 1, "not a little-endian ELF file");
    let u16_at = |o: usize| u16::from_le_bytes([elf[o], elf[o + 1]]) as usize;
    let phoff = u64::from_le_bytes(elf[0x20..0x28].try_into().unwrap()) as usize;
    let phentsize = u16_at(0x36);
    let phnum = u16_at(0x38);
    (0..phnum)
        .map(|i| {
            let o = phoff + i * phentsize;
            u32::from_le_bytes(elf[o..o + 4].try_into().unwrap())
        })
        .collect()
}

const PT_INTERP: u32 = 3;

/// Starts the binary alone in `dir` with an empty environment, its output in
/// `<dir>/serve-N.log`, and waits until it serves.
fn start(bin: &Path, dir: &Path, port: u16, n: u32) -> ServerProcess {
    Spawn::alone(bin, dir)
        .port(port)
        .log_to(&dir.join(format!("serve-{n}.log")))
        .spawn()
        .ready()
}

/// Runs `qopy healthcheck` against the port; asserts its exit code.
fn assert_healthcheck(bin: &Path, port: u16, code: i32, what: &str) {
    let hc = Command::new(bin)
        .env_clear()
        .args(["healthcheck", "--listen"])
        .arg(format!("127.0.0.1:{port}"))
        .output()
        .unwrap();
    assert_exit_code(&hc, code, what);
}

/// SIGTERM stops the server cleanly: exit code 0.
fn terminate(server: &mut ServerProcess) {
    let status = server.terminate();
    assert_eq!(
        status.code(),
        Some(0),
        "SIGTERM did not stop the server cleanly: {status}\n{}",
        server.log()
    );
}

#[test]
fn static_binary_serves_from_an_empty_directory_and_stops_cleanly_on_sigterm() {
    let built = build_static();
    let elf = std::fs::read(&built).unwrap();
    let types = program_header_types(&elf);
    assert!(
        !types.contains(&PT_INTERP),
        "{} has a program interpreter: it is dynamically linked",
        built.display()
    );
    drop(elf);
    if let Ok(out) = Command::new("ldd").arg(&built).output() {
        let said = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            said.contains("not a dynamic executable") || said.contains("statically linked"),
            "ldd lists shared libraries: {said}"
        );
    }

    // Only the binary, in an otherwise empty directory, with an empty environment.
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let bin = dir.join("qopy");
    std::fs::copy(&built, &bin).unwrap();
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let mut server = start(&bin, dir, port, 1);
    let data = test_bytes(7 * 1024 * 1024 + 123, 91); // two chunks
    let url = {
        let http = reqwest::blocking::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(60))
            .build()
            .unwrap();
        assert_healthcheck(&bin, port, 0, "qopy healthcheck");
        let r = http
            .put(format!("{base}/flushed.bin"))
            .body(data.clone())
            .send()
            .unwrap();
        assert_eq!(r.status().as_u16(), 200);
        r.text().unwrap().trim().to_string()
        // The client (and its keep-alive connections) goes here, before the SIGTERM.
    };
    let id = url.rsplit('/').next().unwrap().to_string();
    assert!(url.starts_with(&base), "{url}");

    terminate(&mut server);
    drop(server);
    assert!(dir.join("data").is_dir(), "no data directory was made");

    // A healthcheck against the stopped server fails.
    assert_healthcheck(&bin, port, 1, "healthcheck of a stopped server");

    // Same data directory, same port: the clip is there, byte for byte.
    let mut server = start(&bin, dir, port, 2);
    let http = reqwest::blocking::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap();
    let r = http
        .post(format!("{base}/api/file/{id}"))
        .json(&json!({}))
        .send()
        .unwrap();
    assert_eq!(
        r.status().as_u16(),
        200,
        "the clip did not survive the SIGTERM"
    );
    let got = r.bytes().unwrap();
    assert!(got[..] == data[..], "the clip differs after the restart");
    drop(http);
    terminate(&mut server);
}
