//! Runs the browser code's own unit tests (`tests/js/*.test.mjs`: the crypto fallback
//! against published vectors and WebCrypto, the QR encoder against zbarimg) with Node's
//! built-in test runner, so `cargo test` covers them too.

use std::process::Command;

#[test]
fn browser_modules_pass_their_node_tests() {
    let root = env!("CARGO_MANIFEST_DIR");
    let out = Command::new("node")
        .args(["--test", "tests/js/"])
        .current_dir(root)
        .output()
        .expect("node (Node.js 20 or later) is needed to run the browser modules' tests");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "node --test tests/js/ failed:\n{stdout}\n{stderr}"
    );
    // The runner's summary must show tests ran and none were skipped for a missing tool.
    assert!(stdout.contains("# pass"), "{stdout}");
    assert!(
        stdout.contains("# skipped 0"),
        "some browser tests were skipped:\n{stdout}"
    );
}
