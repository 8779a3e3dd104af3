//! The command-line client: the real `qopy` binary (`send`, `get`, `healthcheck`) against a
//! server started by the harness. Each run gets an empty environment with its own home,
//! config and state directories, so the tests neither read nor leave anything of the user's.

use crate::harness::{test_bytes, Answer, CuttingProxy, TestServer};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use tokio::io::AsyncWriteExt;

/// What one run of the binary did.
pub(crate) struct Run {
    pub(crate) code: i32,
    pub(crate) stdout: Vec<u8>,
    pub(crate) stderr: String,
}

impl Run {
    /// The last line of standard output (where `send` prints the link).
    pub(crate) fn link(&self) -> String {
        let out = String::from_utf8_lossy(&self.stdout);
        out.lines().last().unwrap_or("").trim().to_string()
    }

    pub(crate) fn ok(self) -> Run {
        assert_eq!(self.code, 0, "qopy failed: {}", self.stderr);
        self
    }

    pub(crate) fn failed(self, needle: &str) -> Run {
        assert_ne!(self.code, 0, "qopy should have failed");
        assert!(
            self.stderr.contains(needle),
            "stderr {:?} does not contain {needle:?}",
            self.stderr
        );
        self
    }
}

/// A user of the client: a home directory and the environment the binary runs with.
pub(crate) struct User {
    home: tempfile::TempDir,
}

impl User {
    pub(crate) fn new() -> User {
        User {
            home: tempfile::tempdir().unwrap(),
        }
    }

    pub(crate) fn path(&self, name: &str) -> PathBuf {
        self.home.path().join(name)
    }

    fn state_dir(&self) -> PathBuf {
        self.path("state/qopy/uploads")
    }

    /// The binary with `args`, run in this user's home and environment (nothing else's).
    pub(crate) fn command(&self, args: &[&str]) -> tokio::process::Command {
        let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_qopy"));
        cmd.args(args)
            .current_dir(self.home.path())
            .env_clear()
            .env("HOME", self.home.path())
            .env("XDG_CONFIG_HOME", self.path("config"))
            .env("XDG_STATE_HOME", self.path("state"))
            .env("XDG_CACHE_HOME", self.path("cache"))
            .env("NO_PROXY", "*");
        cmd
    }

    pub(crate) async fn run(
        &self,
        args: &[&str],
        stdin: Option<&[u8]>,
        env: &[(&str, &str)],
    ) -> Run {
        let mut cmd = self.command(args);
        cmd.envs(env.iter().copied())
            .stdin(if stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("qopy binary runs");
        if let Some(input) = stdin {
            let mut pipe = child.stdin.take().unwrap();
            // A command refused on its arguments exits without reading its input.
            match pipe.write_all(input).await {
                Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
                r => r.unwrap(),
            }
            drop(pipe);
        }
        let out = tokio::time::timeout(
            std::time::Duration::from_secs(300),
            child.wait_with_output(),
        )
        .await
        .expect("qopy finished in time")
        .unwrap();
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: out.stdout,
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    pub(crate) async fn send(&self, server: &TestServer, extra: &[&str], files: &[&str]) -> Run {
        let mut args = vec!["send", "--server", &server.base];
        args.extend_from_slice(extra);
        args.extend_from_slice(files);
        self.run(&args, None, &[]).await
    }

    /// `qopy send --server BASE EXTRA... -` with `input` on standard input.
    async fn send_stdin(&self, server: &TestServer, extra: &[&str], input: &[u8]) -> Run {
        let mut args = vec!["send", "--server", &server.base];
        args.extend_from_slice(extra);
        args.push("-");
        self.run(&args, Some(input), &[]).await
    }

    /// The link of a successful [`User::send_stdin`].
    async fn link_for(&self, server: &TestServer, extra: &[&str], input: &[u8]) -> String {
        self.send_stdin(server, extra, input).await.ok().link()
    }

    async fn get(&self, link: &str, extra: &[&str]) -> Run {
        let mut args = vec!["get", link];
        args.extend_from_slice(extra);
        self.run(&args, None, &[]).await
    }
}

/// A server and a user with an empty home.
async fn server_and_user() -> (TestServer, User) {
    (TestServer::start().await, User::new())
}

fn sha256(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

fn secret_of(link: &str) -> &str {
    link.split_once('#').unwrap().1
}

fn assert_secret_only_in_link(run: &Run, link: &str) {
    let secret = secret_of(link);
    assert!(
        !run.stderr.contains(secret),
        "secret on stderr: {}",
        run.stderr
    );
    let out = String::from_utf8_lossy(&run.stdout);
    let lines: Vec<&str> = out.lines().collect();
    for line in &lines[..lines.len().saturating_sub(1)] {
        assert!(!line.contains(secret), "secret on stdout before the link");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn text_from_stdin_round_trips_and_is_what_the_browser_makes() {
    let (server, user) = server_and_user().await;
    let text = "héllo wörld\nsecond line\n";
    let sent = user.send_stdin(&server, &[], text.as_bytes()).await.ok();
    let link = sent.link();
    assert!(
        link.starts_with(&format!("{}/clip/", server.base)),
        "{link}"
    );
    assert_secret_only_in_link(&sent, &link);

    // To standard output by default, exactly as given.
    let got = user.get(&link, &[]).await.ok();
    assert_eq!(got.stdout, text.as_bytes());
    // To a file with -o.
    let got = user.get(&link, &["-o", "note.txt"]).await.ok();
    assert!(got.stdout.is_empty());
    assert_eq!(
        std::fs::read(user.path("note.txt")).unwrap(),
        text.as_bytes()
    );

    // What the server holds is the browser's text layout: a V4 stream whose metadata is
    // {"kind":"text","name":"","type":"text/plain; charset=utf-8"}.
    let id = link.rsplit_once("/clip/").unwrap().1;
    let id = id.split_once('#').unwrap().0;
    let (status, info) = server.get_json(&format!("/api/clip/{id}/info")).await;
    assert_eq!(status, 200);
    assert_eq!(info["contentType"], "text");
    let body = server
        .post(&format!("/api/file/{id}"))
        .json(&serde_json::json!({}))
        .answer()
        .await
        .bytes()
        .await
        .unwrap();
    let (meta, plain) = qopy::v4::decrypt_all(secret_of(&link), None, &body).unwrap();
    assert_eq!(meta, qopy::v4::Metadata::text(text.len() as u64));
    assert_eq!(plain, text.as_bytes());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binary_stdin_becomes_a_file() {
    let (server, user) = server_and_user().await;
    let bytes = test_bytes(10_000, 3);
    let link = user.link_for(&server, &[], &bytes).await;
    assert!(link.contains("/file/"), "{link}");
    let got = user.get(&link, &["-o", "-"]).await.ok();
    assert_eq!(got.stdout, bytes);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_50_mib_file_round_trips() {
    let (server, user) = server_and_user().await;
    let bytes = test_bytes(50 << 20, 7);
    std::fs::write(user.path("big.bin"), &bytes).unwrap();
    let sent = user.send(&server, &[], &["big.bin"]).await.ok();
    let link = sent.link();
    assert!(
        link.starts_with(&format!("{}/file/", server.base)),
        "{link}"
    );
    assert_secret_only_in_link(&sent, &link);

    // Into a directory: under the sender's name (here, beside the original: a free variant).
    std::fs::create_dir(user.path("in")).unwrap();
    let got = user.get(&link, &["-o", "in"]).await.ok();
    assert!(got.stdout.is_empty());
    let back = std::fs::read(user.path("in/big.bin")).unwrap();
    assert_eq!(sha256(&back), sha256(&bytes));
    // Without -o into the current directory, never over an existing file.
    user.get(&link, &[]).await.ok();
    let back = std::fs::read(user.path("big (1).bin")).unwrap();
    assert_eq!(sha256(&back), sha256(&bytes));
    assert_eq!(
        std::fs::read(user.path("big.bin")).unwrap().len(),
        bytes.len()
    );
    // An explicit existing path needs --force, checked before downloading.
    user.get(&link, &["-o", "big.bin"]).await.failed("--force");
}

/// Issue 12, point 3: a download whose connection breaks (twice) reconnects by itself and
/// continues where it stopped, for a reusable clip and for a one-time clip (with its claim
/// token); a second reader of the one-time clip is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_get_cut_midway_reconnects_and_finishes() {
    let (server, user) = server_and_user().await;
    let bytes = test_bytes(12 << 20, 8);
    std::fs::write(user.path("cut.bin"), &bytes).unwrap();
    for one_time in [false, true] {
        let extra: &[&str] = if one_time { &["--one-time"] } else { &[] };
        let link = user.send(&server, extra, &["cut.bin"]).await.ok().link();
        let proxy = CuttingProxy::start(&server.base, 3 << 20, 2).await;
        let cut_link = link.replacen(&server.base, &proxy.base, 1);
        let out = format!("got-{one_time}.bin");
        let got = user.get(&cut_link, &["-o", &out]).await.ok();
        assert_eq!(proxy.cuts_left(), 0, "both cuts happened");
        assert_eq!(
            got.stderr.matches("reconnecting").count(),
            2,
            "{}",
            got.stderr
        );
        let back = std::fs::read(user.path(&out)).unwrap();
        assert_eq!(sha256(&back), sha256(&bytes), "one_time: {one_time}");
        if one_time {
            user.get(&link, &["-o", "again.bin"])
                .await
                .failed("no such clip");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn several_files_travel_as_one_archive() {
    let (server, user) = server_and_user().await;
    let a = test_bytes(3000, 1);
    let b = test_bytes(200_000, 2);
    std::fs::write(user.path("a.txt"), &a).unwrap();
    std::fs::create_dir_all(user.path("dir/sub")).unwrap();
    std::fs::write(user.path("dir/sub/b.bin"), &b).unwrap();
    let link = user.send(&server, &[], &["a.txt", "dir"]).await.ok().link();
    assert!(link.contains("/file/"), "{link}");
    user.get(&link, &["-o", "got.tar"]).await.ok();

    let out = user.path("unpacked");
    let file = std::fs::File::open(user.path("got.tar")).unwrap();
    tar::Archive::new(file).unpack(&out).unwrap();
    assert_eq!(std::fs::read(out.join("a.txt")).unwrap(), a);
    assert_eq!(std::fs::read(out.join("dir/sub/b.bin")).unwrap(), b);
    // The sender's name for it is files.tar.
    user.get(&link, &["-o", "."]).await.ok();
    assert!(user.path("files.tar").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn access_code_is_required_and_checked() {
    let (server, user) = server_and_user().await;
    std::fs::write(user.path("f.txt"), b"gated").unwrap();
    let link = user
        .send(&server, &["--access-code", "4711"], &["f.txt"])
        .await
        .ok()
        .link();
    user.get(&link, &["-o", "-"])
        .await
        .failed("requires an access code");
    user.get(&link, &["-o", "-", "--access-code", "4712"])
        .await
        .failed("wrong access code");
    let got = user
        .get(&link, &["-o", "-", "--access-code", "4711"])
        .await
        .ok();
    assert_eq!(got.stdout, b"gated");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn password_is_mixed_into_the_key() {
    let (server, user) = server_and_user().await;
    let link = user
        .link_for(&server, &["--password", "pw"], b"locked")
        .await;
    user.get(&link, &[]).await.failed("--password");
    user.get(&link, &["--password", "nope"])
        .await
        .failed("secret (or the password) is wrong");
    let got = user.get(&link, &["--password", "pw"]).await.ok();
    assert_eq!(got.stdout, b"locked");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quick_share_has_short_id_and_secret() {
    let (server, user) = server_and_user().await;
    let link = user.link_for(&server, &["--quick-share"], b"quick").await;
    let (path, secret) = link.split_once('#').unwrap();
    let id = path.rsplit_once("/clip/").unwrap().1;
    assert_eq!(id.len(), 6, "{link}");
    assert_eq!(secret.len(), 6, "{link}");
    assert!(secret
        .chars()
        .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit()));
    assert_eq!(user.get(&link, &[]).await.ok().stdout, b"quick");
    // ID#SECRET works with --server too.
    let short = format!("{id}#{secret}");
    let got = user.get(&short, &["--server", &server.base]).await.ok();
    assert_eq!(got.stdout, b"quick");
    // Quick Share takes no access code.
    user.send_stdin(&server, &["--quick-share", "--access-code", "1"], b"x")
        .await
        .failed("cannot be used with");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_time_clip_is_gone_after_the_first_get() {
    let (server, user) = server_and_user().await;
    let link = user
        .link_for(&server, &["--one-time", "--expiry", "1hr"], b"once")
        .await;
    assert_eq!(user.get(&link, &[]).await.ok().stdout, b"once");
    let again = user.get(&link, &[]).await.failed("no such clip");
    assert!(again.stdout.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_downloads_lets_that_many_gets_through() {
    let (server, user) = server_and_user().await;
    let sent = user
        .send_stdin(&server, &["--max-downloads", "2"], b"twice")
        .await
        .ok();
    assert!(sent.stderr.contains("after 2 downloads"), "{}", sent.stderr);
    let link = sent.link();
    for _ in 0..2 {
        assert_eq!(user.get(&link, &[]).await.ok().stdout, b"twice");
    }
    user.get(&link, &[]).await.failed("no such clip");
    for bad in ["0", "1001", "x"] {
        user.send_stdin(&server, &["--max-downloads", bad], b"x")
            .await
            .failed("--max-downloads");
    }
    user.send_stdin(&server, &["--max-downloads", "2", "--one-time"], b"x")
        .await
        .failed("cannot be used with");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_links_fail_clearly() {
    let (server, user) = server_and_user().await;
    let link = user.link_for(&server, &[], b"hi").await;
    let (path, secret) = link.split_once('#').unwrap();
    let flipped = if secret.ends_with('A') { 'B' } else { 'A' };
    let wrong = format!("{path}#{}{flipped}", &secret[..secret.len() - 1]);
    let run = user
        .get(&wrong, &[])
        .await
        .failed("secret (or the password) is wrong");
    assert!(!run.stderr.contains(secret));
    user.get(path, &[]).await.failed("not a Qopy link");
    user.get(&format!("{}/clip/ZZZZZZZZZZ#abc", server.base), &[])
        .await
        .failed("no such clip");
    user.get(&format!("{}/nothing/ABCDEF#abc", server.base), &[])
        .await
        .failed("not a Qopy link");
    // Unknown expiry: the server's message.
    user.send_stdin(&server, &["--expiry", "3years"], b"x")
        .await
        .failed("expiration must be one of");
    // No server anywhere.
    user.run(&["send", "-"], Some(b"x"), &[])
        .await
        .failed("no server given");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_comes_from_env_then_config_file() {
    let (server, user) = server_and_user().await;
    let link = user
        .run(
            &["send", "-"],
            Some(b"env"),
            &[("QOPY_SERVER", &server.base)],
        )
        .await
        .ok()
        .link();
    assert!(link.starts_with(&server.base));
    std::fs::create_dir_all(user.path("config/qopy")).unwrap();
    std::fs::write(
        user.path("config/qopy/client.toml"),
        format!("server = \"{}\"\n", server.base),
    )
    .unwrap();
    let link = user
        .run(&["send", "-"], Some(b"file"), &[])
        .await
        .ok()
        .link();
    assert_eq!(user.get(&link, &[]).await.ok().stdout, b"file");
}

/// Resume state files left in the user's state directory.
fn state_files(dir: &Path) -> usize {
    std::fs::read_dir(dir).map(|d| d.count()).unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interrupted_upload_resumes_with_only_the_missing_chunks() {
    let server = TestServer::start_with(|c| c.chunk_size = 64 * 1024).await;
    let user = User::new();
    let bytes = test_bytes(1 << 20, 11);
    std::fs::write(user.path("r.bin"), &bytes).unwrap();
    let stop = [("QOPY_TEST_STOP_AFTER_CHUNKS", "3")];
    let args = ["send", "--server", &server.base, "r.bin"];
    let first = user
        .run(&args, None, &stop)
        .await
        .failed("interrupted after 3 chunks");
    assert!(first.stdout.is_empty());
    assert_eq!(state_files(&user.state_dir()), 1);

    let second = user.run(&args, None, &[]).await.ok();
    assert!(
        second
            .stderr
            .contains("3 of 17 chunks are already on the server"),
        "{}",
        second.stderr
    );
    assert_eq!(state_files(&user.state_dir()), 0);
    let got = user.get(&second.link(), &["-o", "-"]).await.ok();
    assert_eq!(sha256(&got.stdout), sha256(&bytes));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_is_never_resumed_with_different_content() {
    let server = TestServer::start_with(|c| c.chunk_size = 64 * 1024).await;
    let user = User::new();
    let path = user.path("r.bin");
    std::fs::write(&path, test_bytes(300_000, 1)).unwrap();
    let mtime = std::fs::metadata(&path).unwrap().modified().unwrap();
    let args = ["send", "--server", &server.base, "r.bin"];
    user.run(&args, None, &[("QOPY_TEST_STOP_AFTER_CHUNKS", "2")])
        .await
        .failed("interrupted");

    // Same path, size and modification time, different bytes.
    let changed = test_bytes(300_000, 2);
    std::fs::write(&path, &changed).unwrap();
    std::fs::File::options()
        .write(true)
        .open(&path)
        .unwrap()
        .set_modified(mtime)
        .unwrap();
    let run = user.run(&args, None, &[]).await.ok();
    assert!(run.stderr.contains("not resuming"), "{}", run.stderr);
    let got = user.get(&run.link(), &["-o", "-"]).await.ok();
    assert_eq!(sha256(&got.stdout), sha256(&changed));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn healthcheck_exit_codes() {
    let (server, user) = server_and_user().await;
    let listen = server.base.trim_start_matches("http://").to_string();
    let up = user
        .run(&["healthcheck"], None, &[("QOPY_LISTEN", &listen)])
        .await;
    assert_eq!(up.code, 0, "{}", up.stderr);
    let up = user
        .run(&["healthcheck", "--listen", &listen], None, &[])
        .await;
    assert_eq!(up.code, 0, "{}", up.stderr);

    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let down = user
        .run(
            &["healthcheck"],
            None,
            &[("QOPY_LISTEN", &format!("0.0.0.0:{port}"))],
        )
        .await;
    assert_eq!(down.code, 1);
    // A broken configuration is unhealthy too (never Docker's reserved 2).
    let broken = user
        .run(&["healthcheck"], None, &[("QOPY_LISTEN", "nonsense")])
        .await;
    assert_eq!(broken.code, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_opens_an_upload_made_the_browser_way() {
    // What assets/js/transfer.js does: a V4 stream of the file with its name and type in the
    // metadata, cut into chunkSize pieces, announced with a random hex filename.
    let server = TestServer::start_with(|c| c.chunk_size = 64 * 1024).await;
    let user = User::new();
    let content = test_bytes(200_000, 5);
    let secret = qopy::v4::generate_secret();
    let meta = qopy::v4::Metadata::file("photo.jpg", "image/jpeg", content.len() as u64);
    let stream = qopy::v4::encrypt_all(
        &secret,
        None,
        &meta,
        &qopy::v4::EncryptOptions::default(),
        &content,
    )
    .unwrap();
    let chunks: Vec<&[u8]> = stream.chunks(64 * 1024).collect();
    let upload = server
        .initiate(serde_json::json!({
            "filename": "0123456789abcdef0123456789abcdef",
            "filesize": stream.len(),
            "totalChunks": chunks.len(),
            "mimeType": "application/octet-stream",
            "contentType": "file",
            "isTextContent": false,
        }))
        .await;
    for (n, c) in chunks.iter().enumerate() {
        let (status, v) = server.put_chunk(&upload, n as u32, c.to_vec()).await;
        assert_eq!(status, 200, "{v}");
    }
    let (status, done) = server
        .post_json(
            &format!("/api/upload/complete/{upload}"),
            serde_json::json!({}),
        )
        .await;
    assert_eq!(status, 200, "{done}");
    let link = format!("{}#{secret}", done["url"].as_str().unwrap());
    let run = user.get(&link, &[]).await.ok();
    assert!(run.stderr.contains("photo.jpg"), "{}", run.stderr);
    assert_eq!(std::fs::read(user.path("photo.jpg")).unwrap(), content);
}

/// Runs `script` (an ES module) with Node.js, `assets/js/transfer.js` importable as
/// `TRANSFER`, and the given environment; returns (exit code, stdout, stderr).
async fn node(script: &str, env: &[(&str, &str)]) -> (i32, Vec<u8>, String) {
    let transfer = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("assets/js/transfer.js");
    let script = format!(
        "const TRANSFER = {:?};\n{script}",
        format!("file://{}", transfer.display())
    );
    let out = tokio::process::Command::new("node")
        .args(["--input-type=module", "-e", &script])
        .envs(env.iter().copied())
        .output()
        .await
        .expect("node (Node.js 20 or later) runs");
    (
        out.status.code().unwrap_or(-1),
        out.stdout,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Opens QOPY_LINK with the browser client's openClip: the content on stdout, the metadata
/// as JSON on stderr.
const NODE_OPEN: &str = r#"
const { openClip } = await import(TRANSFER);
const u = new URL(process.env.QOPY_LINK);
const id = u.pathname.split('/').pop();
const r = await openClip({ clipId: id, secret: u.hash.slice(1), base: u.origin });
console.error(JSON.stringify(r.meta));
process.stdout.write(r.kind === 'text' ? r.text : Buffer.from(await r.blob.arrayBuffer()));
"#;

/// Shares QOPY_TEXT (or, with QOPY_FILE, a file of that name holding QOPY_TEXT) with the
/// browser client and prints the link.
const NODE_SHARE: &str = r#"
const { shareText, shareFile } = await import(TRANSFER);
const opts = { base: process.env.QOPY_BASE };
const text = process.env.QOPY_TEXT;
const r = process.env.QOPY_FILE
  ? await shareFile(new File([text], process.env.QOPY_FILE, { type: 'text/csv' }), opts)
  : await shareText(text, opts);
console.log(r.url);
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn links_work_between_the_cli_and_the_browser_client() {
    let server = TestServer::start_with(|c| c.chunk_size = 64 * 1024).await;
    let user = User::new();

    // CLI → browser: text.
    let text = "from the command line ✓";
    let link = user.link_for(&server, &[], text.as_bytes()).await;
    let (code, out, err) = node(NODE_OPEN, &[("QOPY_LINK", &link)]).await;
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, text.as_bytes());

    // CLI → browser: a file spanning several chunks.
    let bytes = test_bytes(300_000, 9);
    std::fs::write(user.path("data.bin"), &bytes).unwrap();
    let link = user.send(&server, &[], &["data.bin"]).await.ok().link();
    let (code, out, err) = node(NODE_OPEN, &[("QOPY_LINK", &link)]).await;
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("\"name\":\"data.bin\""), "{err}");
    assert_eq!(sha256(&out), sha256(&bytes));

    // Browser → CLI: text.
    let (code, out, err) = node(
        NODE_SHARE,
        &[
            ("QOPY_BASE", &server.base),
            ("QOPY_TEXT", "from the browser ✓"),
        ],
    )
    .await;
    assert_eq!(code, 0, "{err}");
    let link = String::from_utf8(out).unwrap().trim().to_string();
    let got = user.get(&link, &[]).await.ok();
    assert_eq!(got.stdout, "from the browser ✓".as_bytes());

    // Browser → CLI: a file, saved under its name.
    let (code, out, err) = node(
        NODE_SHARE,
        &[
            ("QOPY_BASE", &server.base),
            ("QOPY_TEXT", "a,b\n1,2\n"),
            ("QOPY_FILE", "table.csv"),
        ],
    )
    .await;
    assert_eq!(code, 0, "{err}");
    let link = String::from_utf8(out).unwrap().trim().to_string();
    user.get(&link, &[]).await.ok();
    assert_eq!(
        std::fs::read(user.path("table.csv")).unwrap(),
        b"a,b\n1,2\n"
    );
}
