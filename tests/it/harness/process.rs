//! The qopy binary as a process of its own, for what only a real process shows: exit codes,
//! signals, the watchdog, the environment and the log. [`Spawn`] says how to start it (which
//! binary, its arguments, where its output goes); [`ServerProcess`] waits until it serves,
//! reads its log, stops it and, when dropped, kills it.

use super::free_port;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// A command that runs the qopy binary as a separate process: every `QOPY_*` variable of the
/// test's environment removed (the server refuses unknown ones), and killed by the kernel if
/// the test process dies, so no server outlives an interrupted run.
fn qopy_command() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_qopy"));
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("QOPY_") {
            cmd.env_remove(k);
        }
    }
    // SAFETY: prctl is async-signal-safe; it only asks the kernel to SIGKILL the child when
    // this process dies.
    unsafe {
        use std::os::unix::process::CommandExt;
        cmd.pre_exec(|| {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            Ok(())
        });
    }
    cmd
}

/// Cargo's target directory: `target/`, or `CARGO_TARGET_DIR` (relative to the package).
pub fn target_dir() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    match std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from) {
        Some(p) if p.is_absolute() => p,
        Some(p) => root.join(p),
        None => root.join("target"),
    }
}

/// Asserts a finished command's exit code, showing its standard error when it differs.
pub fn assert_exit_code(out: &std::process::Output, code: i32, what: &str) {
    assert_eq!(
        out.status.code(),
        Some(code),
        "{what}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// How to start a server process.
pub struct Spawn {
    cmd: Command,
    data_dir: PathBuf,
    port: u16,
    log: Option<PathBuf>,
}

impl Spawn {
    /// The qopy binary of this build serving `data_dir` on a free loopback port, with the
    /// test's `QOPY_*` variables removed (see [`qopy_command`]).
    pub fn qopy(data_dir: &Path) -> Spawn {
        Spawn {
            cmd: qopy_command(),
            data_dir: data_dir.to_path_buf(),
            port: free_port(),
            log: None,
        }
    }

    /// Another build of the binary (`bin`), alone in `dir` as in a container: run there with
    /// an empty environment, serving `dir/data`.
    pub fn alone(bin: &Path, dir: &Path) -> Spawn {
        let mut cmd = Command::new(bin);
        cmd.env_clear().current_dir(dir);
        Spawn {
            cmd,
            data_dir: dir.join("data"),
            port: free_port(),
            log: None,
        }
    }

    /// Listens on this loopback port instead of a free one (to restart on the same address).
    pub fn port(mut self, port: u16) -> Spawn {
        self.port = port;
        self
    }

    /// More command-line arguments.
    pub fn args<I, S>(mut self, args: I) -> Spawn
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        self.cmd.args(args);
        self
    }

    /// Appends standard output and standard error to this file (a temporary file when not
    /// given).
    pub fn log_to(mut self, path: &Path) -> Spawn {
        self.log = Some(path.to_path_buf());
        self
    }

    /// Starts the process; it may not be serving yet (see [`ServerProcess::ready`]).
    pub fn spawn(self) -> ServerProcess {
        let Spawn {
            mut cmd,
            data_dir,
            port,
            log,
        } = self;
        let (log, temp_log) = match log {
            Some(p) => (p, None),
            None => {
                let t = tempfile::NamedTempFile::new().unwrap();
                (t.path().to_path_buf(), Some(t))
            }
        };
        let out = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .unwrap();
        let child = cmd
            .arg("--listen")
            .arg(format!("127.0.0.1:{port}"))
            .arg("--data-dir")
            .arg(&data_dir)
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .spawn()
            .expect("cannot start the qopy binary");
        ServerProcess {
            child,
            port,
            base: format!("http://127.0.0.1:{port}"),
            log,
            _temp_log: temp_log,
        }
    }
}

/// A running server process; dropping it kills it (SIGKILL) and reaps it.
pub struct ServerProcess {
    child: Child,
    /// The loopback port it listens on.
    pub port: u16,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    log: PathBuf,
    _temp_log: Option<tempfile::NamedTempFile>,
}

impl ServerProcess {
    /// Waits until `GET /health` answers 200; false when the process exits first or `within`
    /// passes. Blocking (the server is another process, so a test's runtime may block).
    pub fn try_ready(&mut self, within: Duration) -> bool {
        let deadline = Instant::now() + within;
        while Instant::now() < deadline {
            if self.exited().is_some() {
                return false;
            }
            if health_status(self.port) == Some(200) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }

    /// Waits up to 30 s until the server serves; fails the test with its log otherwise.
    pub fn ready(mut self) -> ServerProcess {
        if !self.try_ready(Duration::from_secs(30)) {
            let status = self.exited();
            panic!(
                "the server did not start (exit status {status:?}); its log:\n{}",
                self.log()
            );
        }
        self
    }

    /// Its address and a client for it.
    pub fn http(&self) -> super::Http {
        super::Http::new(self.base.clone())
    }

    /// Everything it has written to standard output and standard error so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Its exit status, if it has exited.
    pub fn exited(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().unwrap()
    }

    /// Waits up to `within` for it to exit.
    pub fn wait_exit(&mut self, within: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + within;
        loop {
            if let Some(status) = self.exited() {
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Sends SIGTERM and waits up to 15 s for it to exit; fails the test with its log when it
    /// does not.
    pub fn terminate(&mut self) -> ExitStatus {
        // SAFETY: kill(2) on the id of a child we started and have not reaped; no memory is
        // touched.
        let rc = unsafe { libc::kill(self.child.id() as libc::pid_t, libc::SIGTERM) };
        assert_eq!(rc, 0, "kill(SIGTERM) failed");
        match self.wait_exit(Duration::from_secs(15)) {
            Some(status) => status,
            None => panic!(
                "the server did not stop within 15 s of SIGTERM; its log:\n{}",
                self.log()
            ),
        }
    }

    /// SIGKILL, and reaps it.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The status of `GET /health` on a loopback port, or `None` when nothing answers.
fn health_status(port: u16) -> Option<u16> {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    let request =
        format!("GET /health HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n");
    s.write_all(request.as_bytes()).ok()?;
    let mut head = [0u8; 12];
    s.read_exact(&mut head).ok()?;
    // "HTTP/1.1 200"
    std::str::from_utf8(&head[9..12]).ok()?.parse().ok()
}
