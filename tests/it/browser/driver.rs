//! The browser harness: starts Debian's `chromedriver` on a free loopback port in its own
//! process group, opens a headless Chromium session through WebDriver (fantoccini), and
//! offers what the browser tests need: window size, language, dark colour scheme, a
//! non-secure origin, the console log, scripts (async ones with `await`), polling waits,
//! screenshots under `target/screenshots/`, and downloads into a temporary directory.
//!
//! Everything shuts down on `close()` or, after a panic, on drop: the session is ended and the
//! chromedriver process group (which holds Chromium) is killed by its id.

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{json, Value};
use std::future::Future;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tokio::sync::{Semaphore, SemaphorePermit};

/// At most this many browsers run at once across the test binary: each Chromium takes a
/// core while it starts, and the machine has two. A test that needs two browsers at once
/// takes both places together ([`Browser::pair`]): two such tests taking one each and
/// waiting for a second would wait for ever.
static BROWSER_SLOTS: Semaphore = Semaphore::const_new(2);

/// Desktop window size.
pub const DESKTOP: (u32, u32) = (1280, 900);
/// Phone window size (CSS pixels).
pub const PHONE: (u32, u32) = (390, 844);

/// How a browser is started.
#[derive(Clone, Debug)]
pub struct BrowserOptions {
    /// Window size in CSS pixels.
    pub size: (u32, u32),
    /// UI and `Accept-Language` language, e.g. `"de"`; `None` keeps English.
    pub lang: Option<String>,
    /// Emulate `prefers-color-scheme: dark`.
    pub dark: bool,
    /// Host names mapped to 127.0.0.1 (Chromium `--host-resolver-rules`), so a page can be
    /// opened from an origin that is not a secure context (`http://qopy.test:PORT`).
    pub loopback_hosts: Vec<String>,
    /// Show classic scrollbars that take room (headless hides them unless asked), to see
    /// what a scrollbar coming and going does to the layout.
    pub scrollbars: bool,
}

impl Default for BrowserOptions {
    fn default() -> Self {
        BrowserOptions {
            size: DESKTOP,
            lang: None,
            dark: false,
            loopback_hosts: Vec::new(),
            scrollbars: false,
        }
    }
}

/// The directory screenshots go to: `target/screenshots/` (or under `CARGO_TARGET_DIR`).
pub fn screenshot_dir() -> PathBuf {
    crate::harness::target_dir().join("screenshots")
}

/// Finds a program: the Debian path first, then `PATH`.
fn find_program(debian_path: &str, name: &str) -> Option<PathBuf> {
    let p = PathBuf::from(debian_path);
    if p.is_file() {
        return Some(p);
    }
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join(name))
            .find(|p| p.is_file())
    })
}

fn chromedriver_path() -> PathBuf {
    find_program("/usr/bin/chromedriver", "chromedriver").unwrap_or_else(|| {
        panic!(
            "chromedriver is not installed: the browser tests need Debian's packages `chromium` and \
             `chromium-driver` (apt-get install -y chromium chromium-driver; .ci/run installs them)"
        )
    })
}

fn chromium_path() -> PathBuf {
    // The real binary, not the /usr/bin/chromium shell launcher (which adds its own flags).
    find_program("/usr/lib/chromium/chromium", "chromium")
        .or_else(|| find_program("/usr/bin/chromium", "chromium"))
        .unwrap_or_else(|| {
            panic!(
                "chromium is not installed: the browser tests need Debian's packages `chromium` and \
                 `chromium-driver` (apt-get install -y chromium chromium-driver; .ci/run installs them)"
            )
        })
}

/// A chromedriver process in its own process group.
struct Driver {
    child: Child,
    port: u16,
}

impl Driver {
    fn start(log: &Path) -> Driver {
        use std::os::unix::process::CommandExt;
        let exe = chromedriver_path();
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a free port");
            l.local_addr().unwrap().port()
        };
        let log_file = std::fs::File::create(log).expect("chromedriver log file");
        let child = Command::new(&exe)
            .arg(format!("--port={port}"))
            .arg("--allowed-ips=127.0.0.1")
            .arg(format!(
                "--log-path={}",
                log.with_extension("verbose.log").display()
            ))
            .stdin(Stdio::null())
            .stdout(log_file.try_clone().unwrap())
            .stderr(log_file)
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", exe.display()));
        Driver { child, port }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Kills the whole process group (chromedriver and the Chromium it started).
    fn kill(&mut self) {
        let pid = self.child.id() as i32;
        // SAFETY: kill(2) with the negated id of the process group we created for this child;
        // it touches no memory.
        unsafe {
            libc::kill(-pid, libc::SIGKILL);
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        self.kill();
    }
}

/// One headless Chromium session.
pub struct Browser {
    /// The WebDriver client (fantoccini).
    pub client: Client,
    driver: Driver,
    session: String,
    http: reqwest::Client,
    /// The profile, downloads and chromedriver log (removed on drop).
    _profile: tempfile::TempDir,
    /// Where downloads land.
    pub downloads: PathBuf,
    closed: bool,
    /// This browser's place (for a pair, the first holds both).
    _slot: Option<SemaphorePermit<'static>>,
}

/// A console message from the browser.
#[derive(Clone, Debug)]
pub struct LogEntry {
    /// `SEVERE`, `WARNING`, `INFO`, ...
    pub level: String,
    /// The message text (for CSP violations it names the refused resource).
    pub message: String,
}

impl Browser {
    /// A desktop-sized, English, light browser.
    pub async fn start() -> Browser {
        Self::start_with(BrowserOptions::default()).await
    }

    /// A browser with the given options.
    pub async fn start_with(opts: BrowserOptions) -> Browser {
        let slot = BROWSER_SLOTS.acquire().await.expect("semaphore closed");
        Self::launch(opts, Some(slot)).await
    }

    /// Two desktop-sized browsers open at the same time (a receiver and a sender).
    pub async fn pair() -> (Browser, Browser) {
        Self::pair_with(BrowserOptions::default(), BrowserOptions::default()).await
    }

    /// Two browsers with the given options, open at the same time; both places are taken
    /// together (see [`BROWSER_SLOTS`]).
    pub async fn pair_with(a: BrowserOptions, b: BrowserOptions) -> (Browser, Browser) {
        let both = BROWSER_SLOTS
            .acquire_many(2)
            .await
            .expect("semaphore closed");
        let first = Self::launch(a, Some(both)).await;
        let second = Self::launch(b, None).await;
        (first, second)
    }

    async fn launch(opts: BrowserOptions, slot: Option<SemaphorePermit<'static>>) -> Browser {
        let profile = tempfile::tempdir().expect("profile dir");
        let downloads = profile.path().join("downloads");
        std::fs::create_dir_all(&downloads).unwrap();
        let http = reqwest::Client::builder().no_proxy().build().unwrap();
        // Start chromedriver and wait until it answers; a port taken between our probe and
        // its bind makes it exit, and then another port is tried.
        let log = profile.path().join("chromedriver.log");
        let mut attempt = 0;
        let driver = loop {
            attempt += 1;
            let mut driver = Driver::start(&log);
            let status_url = format!("{}/status", driver.url());
            let deadline = Instant::now() + Duration::from_secs(20);
            let ready = loop {
                if let Ok(r) = http.get(&status_url).send().await {
                    if r.status().is_success() {
                        break true;
                    }
                }
                if Instant::now() >= deadline || matches!(driver.child.try_wait(), Ok(Some(_))) {
                    break false;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            };
            if ready {
                break driver;
            }
            driver.kill();
            assert!(
                attempt < 3,
                "chromedriver did not answer on {status_url}: {}",
                std::fs::read_to_string(&log).unwrap_or_default()
            );
        };

        let mut args: Vec<String> = [
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--no-default-browser-check",
            "--disable-crash-reporter",
            "--disable-breakpad",
            "--disable-dev-shm-usage",
            "--disable-features=Translate,MediaRouter,OptimizationHints",
            "--password-store=basic",
            "--force-device-scale-factor=1",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        if !opts.scrollbars {
            args.push("--hide-scrollbars".into());
        }
        args.push(format!(
            "--user-data-dir={}",
            profile.path().join("profile").display()
        ));
        args.push(format!("--window-size={},{}", opts.size.0, opts.size.1));
        let mut prefs = json!({
            "download.default_directory": downloads.display().to_string(),
            "download.prompt_for_download": false,
            "download.directory_upgrade": true,
            "profile.default_content_settings.popups": 0,
            "safebrowsing.enabled": false,
        });
        if let Some(lang) = &opts.lang {
            args.push(format!("--lang={lang}"));
            prefs["intl.accept_languages"] = json!(lang);
        }
        if opts.dark {
            args.push("--force-dark-mode".into());
        }
        if !opts.loopback_hosts.is_empty() {
            let rules: Vec<String> = opts
                .loopback_hosts
                .iter()
                .map(|h| format!("MAP {h} 127.0.0.1"))
                .collect();
            args.push(format!("--host-resolver-rules={}", rules.join(",")));
        }
        let caps = json!({
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": chromium_path().display().to_string(),
                "args": args,
                "prefs": prefs,
            },
            "goog:loggingPrefs": { "browser": "ALL" },
            "timeouts": { "script": 180_000, "pageLoad": 60_000, "implicit": 0 },
        });
        let caps = match caps {
            Value::Object(m) => m,
            _ => unreachable!(),
        };
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        let client = ClientBuilder::new(connector)
            .capabilities(caps)
            .connect(&driver.url())
            .await
            .unwrap_or_else(|e| {
                let log = std::fs::read_to_string(profile.path().join("chromedriver.log"))
                    .unwrap_or_default();
                panic!("could not open a Chromium session through chromedriver: {e}\n{log}")
            });
        let session = client.session_id().await.unwrap().expect("a session id");
        let b = Browser {
            client,
            driver,
            session,
            http,
            _profile: profile,
            downloads,
            closed: false,
            _slot: slot,
        };
        // Viewport size exactly as asked (the window is a little larger than its viewport).
        b.set_viewport(opts.size.0, opts.size.1).await;
        if opts.dark {
            b.cdp(
                "Emulation.setEmulatedMedia",
                json!({ "features": [{ "name": "prefers-color-scheme", "value": "dark" }] }),
            )
            .await;
        }
        // Downloads without a prompt into our directory (headless honours this command).
        b.cdp(
            "Browser.setDownloadBehavior",
            json!({ "behavior": "allow", "downloadPath": b.downloads.display().to_string() }),
        )
        .await;
        b
    }

    /// Sets the viewport to `width` x `height` CSS pixels (device metrics override).
    pub async fn set_viewport(&self, width: u32, height: u32) {
        let mobile = width < 600;
        self.cdp(
            "Emulation.setDeviceMetricsOverride",
            json!({ "width": width, "height": height, "deviceScaleFactor": 1, "mobile": mobile }),
        )
        .await;
    }

    fn session_url(&self, tail: &str) -> String {
        format!("{}/session/{}/{}", self.driver.url(), self.session, tail)
    }

    /// Sends a Chrome DevTools Protocol command to the current tab through chromedriver.
    pub async fn cdp(&self, cmd: &str, params: Value) -> Value {
        let r = self
            .http
            .post(self.session_url("goog/cdp/execute"))
            .json(&json!({ "cmd": cmd, "params": params }))
            .send()
            .await
            .unwrap_or_else(|e| panic!("CDP {cmd}: {e}"));
        let status = r.status();
        let v: Value = r.json().await.unwrap_or(Value::Null);
        assert!(status.is_success(), "CDP {cmd} failed: {v}");
        v["value"].clone()
    }

    /// Drains the browser console log collected since the last call.
    pub async fn console(&self) -> Vec<LogEntry> {
        let r = self
            .http
            .post(self.session_url("se/log"))
            .json(&json!({ "type": "browser" }))
            .send()
            .await
            .expect("read the browser log");
        let v: Value = r.json().await.expect("browser log JSON");
        v["value"]
            .as_array()
            .unwrap_or_else(|| panic!("unexpected log answer: {v}"))
            .iter()
            .map(|e| LogEntry {
                level: e["level"].as_str().unwrap_or("").to_string(),
                message: e["message"].as_str().unwrap_or("").to_string(),
            })
            .collect()
    }

    /// Console entries that are errors or CSP reports (`Refused to ...`,
    /// `Content Security Policy`).
    pub async fn console_problems(&self) -> Vec<LogEntry> {
        self.console()
            .await
            .into_iter()
            .filter(|e| {
                e.level == "SEVERE"
                    || e.message.contains("Content Security Policy")
                    || e.message.contains("Refused to")
            })
            .collect()
    }

    /// Opens a URL and waits for the load event.
    pub async fn goto(&self, url: &str) {
        self.client
            .goto(url)
            .await
            .unwrap_or_else(|e| panic!("navigate to {url}: {e}"));
    }

    /// Runs a synchronous script (`arguments[i]` are the args) and returns its value.
    pub async fn js(&self, script: &str, args: Vec<Value>) -> Value {
        self.client
            .execute(script, args)
            .await
            .unwrap_or_else(|e| panic!("script failed: {e}\n--- script ---\n{script}"))
    }

    /// Runs the body of an `async` function (it may `await`; `args` is the argument array)
    /// and returns what it returns; a thrown error fails the test with its stack.
    pub async fn js_async(&self, body: &str, args: Vec<Value>) -> Value {
        let script = format!(
            "const __done = arguments[arguments.length - 1];\n\
             const args = Array.prototype.slice.call(arguments, 0, arguments.length - 1);\n\
             (async () => {{\n{body}\n}})().then(\n\
               (v) => __done({{ ok: v === undefined ? null : v }}),\n\
               (e) => __done({{ err: String(e && e.stack ? e.stack : e) }}));"
        );
        let v = self
            .client
            .execute_async(&script, args)
            .await
            .unwrap_or_else(|e| panic!("async script failed: {e}\n--- script ---\n{body}"));
        if let Some(err) = v.get("err") {
            panic!(
                "async script threw: {}\n--- script ---\n{body}",
                err.as_str().unwrap_or("")
            );
        }
        v["ok"].clone()
    }

    /// Writes a screenshot of the viewport to `target/screenshots/<name>.png` and returns
    /// its path.
    pub async fn screenshot(&self, name: &str) -> PathBuf {
        let png = self.client.screenshot().await.expect("screenshot");
        save_png(name, &png)
    }

    /// Writes a screenshot of one element to `target/screenshots/<name>.png`.
    pub async fn screenshot_element(&self, css: &str, name: &str) -> PathBuf {
        let el = self.find(css).await;
        let png = el.screenshot().await.expect("element screenshot");
        save_png(name, &png)
    }

    /// The element for a CSS selector (fails if absent).
    pub async fn find(&self, css: &str) -> fantoccini::elements::Element {
        self.client
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("no element {css}: {e}"))
    }

    /// Waits until `css` matches a displayed element, and returns it.
    pub async fn wait_visible(&self, css: &str) -> fantoccini::elements::Element {
        let what = format!("{css} to be visible");
        self.wait_for(&what, Duration::from_secs(30), || async {
            match self.client.find(Locator::Css(css)).await {
                Ok(el) => match el.is_displayed().await {
                    Ok(true) => Some(el),
                    _ => None,
                },
                Err(_) => None,
            }
        })
        .await
    }

    /// Waits until `css` matches no displayed element.
    pub async fn wait_hidden(&self, css: &str) {
        let what = format!("{css} to be hidden");
        self.wait_for(&what, Duration::from_secs(30), || async {
            match self.client.find(Locator::Css(css)).await {
                Ok(el) => match el.is_displayed().await {
                    Ok(false) => Some(()),
                    Ok(true) => None,
                    Err(_) => Some(()),
                },
                Err(_) => Some(()),
            }
        })
        .await
    }

    /// Clicks the element for `css` once it is visible.
    pub async fn click(&self, css: &str) {
        let el = self.wait_visible(css).await;
        el.click()
            .await
            .unwrap_or_else(|e| panic!("click {css}: {e}"));
    }

    /// Replaces the value of an input or textarea by typing `text` into it.
    pub async fn type_into(&self, css: &str, text: &str) {
        let el = self.wait_visible(css).await;
        el.clear()
            .await
            .unwrap_or_else(|e| panic!("clear {css}: {e}"));
        el.send_keys(text)
            .await
            .unwrap_or_else(|e| panic!("type into {css}: {e}"));
    }

    /// Sets the value of a form control by script and fires `input` and `change` (for text
    /// that WebDriver keystrokes cannot carry exactly, such as characters outside the BMP).
    pub async fn set_value(&self, css: &str, value: &str) {
        self.wait_visible(css).await;
        self.js(
            "const el = document.querySelector(arguments[0]);\
             el.value = arguments[1];\
             el.dispatchEvent(new Event('input', { bubbles: true }));\
             el.dispatchEvent(new Event('change', { bubbles: true }));",
            vec![json!(css), json!(value)],
        )
        .await;
    }

    /// Text content of the element for `css` (`textContent`, trimmed).
    pub async fn text_of(&self, css: &str) -> String {
        self.js(
            "const el = document.querySelector(arguments[0]);\
             return el ? el.textContent.trim() : null;",
            vec![json!(css)],
        )
        .await
        .as_str()
        .unwrap_or_else(|| panic!("no element {css}"))
        .to_string()
    }

    /// Polls `probe` every 50 ms until it yields a value, or fails after `timeout` with a
    /// screenshot named after `what`.
    pub async fn wait_for<T, F, Fut>(&self, what: &str, timeout: Duration, mut probe: F) -> T
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Option<T>>,
    {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(v) = probe().await {
                return v;
            }
            if Instant::now() >= deadline {
                let name: String = what
                    .chars()
                    .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
                    .take(60)
                    .collect();
                let shot = self.screenshot(&format!("failed-{name}")).await;
                let log = self.console().await;
                panic!(
                    "timed out after {timeout:?} waiting for {what}; screenshot {}; console: {log:#?}",
                    shot.display()
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Polls a JavaScript expression until it is truthy and returns its value.
    pub async fn wait_js(&self, what: &str, timeout: Duration, expr: &str) -> Value {
        let script = format!("return ({expr});");
        self.wait_for(what, timeout, || async {
            match self.client.execute(&script, vec![]).await {
                Ok(v) if is_truthy(&v) => Some(v),
                _ => None,
            }
        })
        .await
    }

    /// Waits for a completed download in the download directory and returns its path.
    pub async fn wait_download(&self, timeout: Duration) -> PathBuf {
        let dir = self.downloads.clone();
        self.wait_for("a finished download", timeout, || {
            let dir = dir.clone();
            async move {
                let entries: Vec<PathBuf> = std::fs::read_dir(&dir)
                    .ok()?
                    .flatten()
                    .map(|e| e.path())
                    .collect();
                let partial = entries.iter().any(|p| {
                    p.extension()
                        .is_some_and(|e| e == "crdownload" || e == "tmp")
                        || p.file_name()
                            .is_some_and(|n| n.to_string_lossy().starts_with(".com.google"))
                });
                if partial {
                    return None;
                }
                entries.into_iter().find(|p| p.is_file())
            }
        })
        .await
    }

    /// The browser profile's directory (its origin-private file system lives under it).
    pub fn profile_dir(&self) -> PathBuf {
        self._profile.path().join("profile")
    }

    /// The process id of this session's chromedriver (Chromium's processes descend from
    /// it; see [`renderer_kib_below`]).
    pub fn driver_pid(&self) -> u32 {
        self.driver.child.id()
    }

    /// Ends the session and stops chromedriver (and Chromium with it).
    pub async fn close(mut self) {
        let _ = tokio::time::timeout(Duration::from_secs(10), self.client.clone().close()).await;
        self.closed = true;
        self.driver.kill();
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if !self.closed {
            // After a panic: no async clean-up is possible here; killing the process group
            // ends chromedriver and Chromium.
            self.driver.kill();
        }
    }
}

/// The parent of process `pid` (from `/proc/<pid>/stat`; 0 when it is gone).
fn parent_of(pid: u32) -> u32 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return 0;
    };
    // `pid (comm) state ppid ...`; comm may hold spaces and parentheses.
    stat.rsplit_once(')')
        .and_then(|(_, rest)| rest.split_whitespace().nth(1))
        .and_then(|p| p.parse().ok())
        .unwrap_or(0)
}

/// Sum of `VmRSS` (KiB) of the `--type=renderer` processes descending from `root`.
pub fn renderer_kib_below(root: u32) -> u64 {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return 0;
    };
    let mut total = 0;
    for entry in dir.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(cmd) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
            continue;
        };
        // Zygote-forked processes rewrite their command line into one space-separated string.
        if !cmd.windows(15).any(|w| w == b"--type=renderer") {
            continue;
        }
        let mut p = pid;
        for _ in 0..10 {
            if p == root || p <= 1 {
                break;
            }
            p = parent_of(p);
        }
        if p != root {
            continue;
        }
        if let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/status")) {
            total += status
                .lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
                .unwrap_or(0);
        }
    }
    total
}

fn is_truthy(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Value::String(s) => !s.is_empty(),
        _ => true,
    }
}

fn save_png(name: &str, png: &[u8]) -> PathBuf {
    let dir = screenshot_dir();
    std::fs::create_dir_all(&dir).expect("create target/screenshots");
    let path = dir.join(format!("{name}.png"));
    std::fs::write(&path, png).expect("write screenshot");
    path
}

/// Decodes the QR codes in an image with `zbarimg` (Debian package zbar-tools) and returns
/// the decoded texts.
pub fn zbarimg(png: &Path) -> Vec<String> {
    let exe = find_program("/usr/bin/zbarimg", "zbarimg").unwrap_or_else(|| {
        panic!("zbarimg is not installed: apt-get install -y zbar-tools (.ci/run installs it)")
    });
    let out = Command::new(exe)
        .args(["--quiet", "--raw", "-Sdisable", "-Sqrcode.enable"])
        .arg(png)
        .output()
        .expect("run zbarimg");
    let text = String::from_utf8(out.stdout).expect("zbarimg output is UTF-8");
    text.lines()
        .filter(|l| !l.is_empty())
        .map(|l| l.to_string())
        .collect()
}
