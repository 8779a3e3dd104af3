//! A local Garage cluster for the S3 tests: three `garage server` processes on loopback with
//! replication factor 3 (every object on every node; reads and writes need 2 of the 3), each
//! with its own metadata and data directories under one temporary directory, one access key,
//! and one bucket the key may read, write and own. [`GarageCluster::stop`] kills a node
//! (SIGKILL) and [`GarageCluster::start`] brings it back on the same directories and ports.
//!
//! The binary comes from `GARAGE_BIN`, else `garage` on `PATH`, else `/opt/garage/bin/garage`,
//! else `~/.cargo/bin/garage`; `.ci/run` installs it with [`INSTALL`].
//!
//! Each test starts a cluster of its own: on the development machine (2 cores) one starts in
//! 1.4 to 2.5 s (`put_get_list_delete` prints it), so a shared, lazily started cluster would
//! save little; it would also need its processes spawned from a thread that outlives every
//! test (the nodes die with the thread that started them, see [`GarageCluster::spawn`]), and
//! tests that kill nodes could not share it. [`GarageCluster::create_bucket`] makes another
//! bucket when a test wants more than one.
//!
//! `benches/s3_store.rs` includes this file as well, so it needs nothing of the test
//! harness but `free_port`, and holds no tests.

#![allow(dead_code)]

use crate::harness::free_port;
use qopy::s3::{Bucket, BucketConfig};
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How `.ci/run` installs Garage; named in the failure when no binary is found.
pub const INSTALL: &str = "cargo install --locked garage --version 2.5.0 \
     --no-default-features --features bundled-libs,lmdb --root /opt/garage";

/// The region every node signs for (`s3_region` of its configuration).
pub const REGION: &str = "garage";

/// The access key every cluster imports (Garage's key IDs are "GK" and 12 bytes in hex,
/// secrets 32 bytes in hex). One key for all: a server in a test reads its credentials from
/// the process's `AWS_*` variables, which all tests share; each cluster is private to its
/// test anyway (its own processes, ports and directories).
pub const KEY_ID: &str = "GK0123456789abcdef01234567";
/// The secret of [`KEY_ID`].
pub const KEY_SECRET: &str = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

/// Nodes of a cluster.
pub const NODES: usize = 3;

/// How long a node may take to listen after it was started, and the cluster to become whole.
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// How long one administrative command may keep failing (the nodes still finding each other,
/// the layout still spreading) before the cluster counts as broken.
const COMMAND_RETRY: Duration = Duration::from_secs(20);

/// One `garage server` process and where it lives.
struct Node {
    /// Its directory: `garage.toml`, `meta/`, `data/` and `log`.
    dir: PathBuf,
    rpc: u16,
    s3: u16,
    admin: u16,
    /// The running process; `None` while stopped.
    child: Option<Child>,
    /// While stopped: its ports, held (see [`PortHold`]).
    held: Vec<PortHold>,
    /// `<full node id>@127.0.0.1:<rpc>`, known once the cluster is formed.
    id: String,
}

impl Node {
    fn config(&self) -> PathBuf {
        self.dir.join("garage.toml")
    }

    fn log(&self) -> PathBuf {
        self.dir.join("log")
    }
}

/// A running three-node Garage cluster; dropping it kills every node.
pub struct GarageCluster {
    bin: PathBuf,
    nodes: Vec<Node>,
    admin_token: String,
    http: reqwest::Client,
    /// The bucket made at start.
    pub bucket: String,
    /// The access key that may read, write and own it ([`KEY_ID`]).
    pub key_id: String,
    /// Its secret ([`KEY_SECRET`]).
    pub secret: String,
    dir: tempfile::TempDir,
}

impl GarageCluster {
    /// Starts a cluster in a new directory under the system's temporary directory.
    pub async fn launch() -> GarageCluster {
        GarageCluster::launch_in(&std::env::temp_dir()).await
    }

    /// Starts a cluster in a new directory under `parent` (a benchmark stores gigabytes, which
    /// may not fit a small `/tmp`), and returns once every node serves the bucket.
    pub async fn launch_in(parent: &Path) -> GarageCluster {
        let bin = garage_bin();
        let dir = tempfile::Builder::new()
            .prefix("garage-")
            .tempdir_in(parent)
            .expect("cannot make the cluster's directory");
        let rpc_secret = random_hex::<32>();
        let admin_token = random_hex::<32>();
        let mut ports = distinct_free_ports(3 * NODES).into_iter();
        let mut nodes = Vec::new();
        for i in 0..NODES {
            let node = Node {
                dir: dir.path().join(format!("node{i}")),
                rpc: ports.next().unwrap(),
                s3: ports.next().unwrap(),
                admin: ports.next().unwrap(),
                child: None,
                held: Vec::new(),
                id: String::new(),
            };
            std::fs::create_dir_all(&node.dir).unwrap();
            std::fs::write(node.config(), node_config(&node, &rpc_secret, &admin_token)).unwrap();
            nodes.push(node);
        }
        let mut c = GarageCluster {
            bin,
            nodes,
            admin_token,
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(5))
                .build()
                .unwrap(),
            bucket: "qopy-test".to_string(),
            key_id: KEY_ID.to_string(),
            secret: KEY_SECRET.to_string(),
            dir,
        };
        for i in 0..NODES {
            c.spawn(i);
        }
        for i in 0..NODES {
            c.wait_listening(i).await;
        }
        c.form().await;
        c.wait_whole().await;
        c
    }

    /// Connects the nodes, gives each a role (one zone each, so the three copies of a
    /// partition are on three nodes), and makes the key and the bucket.
    async fn form(&mut self) {
        for i in 0..NODES {
            // `node id -q` prints `<full id>@<rpc_public_addr>`.
            let out = self.cli(i, &["node", "id", "-q"]).await;
            self.nodes[i].id = out.trim().to_string();
        }
        for i in 1..NODES {
            self.cli(0, &["node", "connect", &self.nodes[i].id]).await;
        }
        for (i, node) in self.nodes.iter().enumerate() {
            let hex = node.id.split('@').next().unwrap();
            let zone = format!("z{i}");
            self.cli(0, &["layout", "assign", "-z", &zone, "-c", "1G", hex])
                .await;
        }
        self.cli(0, &["layout", "apply", "--version", "1"]).await;
        self.cli(
            0,
            &[
                "key",
                "import",
                "--yes",
                "-n",
                "qopy-test",
                &self.key_id,
                &self.secret,
            ],
        )
        .await;
        self.create_bucket(&self.bucket).await;
    }

    /// Makes another bucket that the cluster's key may read, write and own.
    pub async fn create_bucket(&self, name: &str) {
        self.cli(0, &["bucket", "create", name]).await;
        self.cli(
            0,
            &[
                "bucket",
                "allow",
                "--read",
                "--write",
                "--owner",
                name,
                "--key",
                &self.key_id,
            ],
        )
        .await;
    }

    /// Puts the cluster's key in `AWS_ACCESS_KEY_ID` and `AWS_SECRET_ACCESS_KEY`, where a
    /// server with `blob_store = "s3"` reads it. Set once per process: every cluster has the
    /// same key, so no test changes what another reads.
    pub fn export_credentials(&self) {
        static SET: std::sync::Once = std::sync::Once::new();
        SET.call_once(|| {
            std::env::set_var("AWS_ACCESS_KEY_ID", KEY_ID);
            std::env::set_var("AWS_SECRET_ACCESS_KEY", KEY_SECRET);
        });
    }

    /// Points a Qopy configuration at the cluster's bucket through node `node`, below
    /// `prefix` (`blob_store = "s3"`), and exports the credentials it will read.
    pub fn configure(&self, c: &mut qopy::config::Config, node: usize, prefix: &str) {
        self.export_credentials();
        let b = self.bucket_config(node);
        c.blob_store = qopy::config::BlobStore::S3;
        c.s3_endpoint = Some(b.endpoint);
        c.s3_bucket = Some(b.bucket);
        c.s3_region = b.region;
        c.s3_prefix = prefix.to_string();
    }

    /// The S3 endpoint of node `i`: `http://127.0.0.1:PORT`.
    pub fn endpoint(&self, i: usize) -> String {
        format!("http://127.0.0.1:{}", self.nodes[i].s3)
    }

    /// The S3 API port of node `i`.
    pub fn s3_port(&self, i: usize) -> u16 {
        self.nodes[i].s3
    }

    /// The cluster's bucket through node `i`, without a prefix.
    pub fn bucket_config(&self, i: usize) -> BucketConfig {
        BucketConfig {
            endpoint: self.endpoint(i),
            bucket: self.bucket.clone(),
            region: REGION.to_string(),
            prefix: String::new(),
            key_id: self.key_id.clone(),
            secret: self.secret.clone(),
        }
    }

    /// A client of the cluster's bucket through node `i`, below `prefix`.
    pub fn bucket_at(&self, i: usize, prefix: &str) -> Bucket {
        let mut config = self.bucket_config(i);
        config.prefix = prefix.to_string();
        Bucket::open(&config).unwrap()
    }

    /// Kills node `i` (SIGKILL) and reaps it.
    pub fn stop(&mut self, i: usize) {
        if let Some(mut child) = self.nodes[i].child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        let node = &mut self.nodes[i];
        node.held = [node.rpc, node.s3, node.admin]
            .into_iter()
            .filter_map(PortHold::bind)
            .collect();
    }

    /// Starts node `i` again on its directories and ports, and returns once every node is
    /// connected to every other and node `i` serves the bucket.
    pub async fn start(&mut self, i: usize) {
        assert!(self.nodes[i].child.is_none(), "node {i} is running");
        self.nodes[i].held.clear(); // the ports are free for the node again
        self.spawn(i);
        self.wait_listening(i).await;
        // A node retries a lost peer only every 30 s or so, and the restarted node too waits
        // before it calls the peers it remembers; connecting them by hand makes it immediate.
        for other in (0..NODES).filter(|&n| n != i) {
            if self.nodes[other].child.is_some() {
                self.cli(i, &["node", "connect", &self.nodes[other].id])
                    .await;
                self.cli(other, &["node", "connect", &self.nodes[i].id])
                    .await;
            }
        }
        self.wait_whole().await;
    }

    /// The last lines of node `i`'s log.
    pub fn log_tail(&self, i: usize) -> String {
        let log = std::fs::read_to_string(self.nodes[i].log()).unwrap_or_default();
        // Without the harness's own health polls and port probes.
        let lines: Vec<&str> = log
            .lines()
            .filter(|l| !l.contains("GetClusterHealth") && !l.contains("Handshake error"))
            .collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }

    /// Starts node `i`'s process, its output appended to its log. The kernel kills it when
    /// the thread that started it ends (`PR_SET_PDEATHSIG`), so no node outlives an
    /// interrupted test; a test's runtime thread lives as long as the test.
    fn spawn(&mut self, i: usize) {
        let node = &self.nodes[i];
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(node.log())
            .unwrap();
        let mut cmd = Command::new(&self.bin);
        clean_env(&mut cmd);
        cmd.env("RUST_LOG", "garage=info")
            .arg("-c")
            .arg(node.config())
            .arg("server")
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log);
        // SAFETY: prctl is async-signal-safe; it only asks the kernel to SIGKILL the child when
        // the thread that started it ends.
        unsafe {
            use std::os::unix::process::CommandExt;
            cmd.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                Ok(())
            });
        }
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", self.bin.display()));
        self.nodes[i].child = Some(child);
    }

    /// Waits until node `i` accepts connections on its RPC and admin ports; fails the test
    /// with its log when it exits first or takes too long.
    async fn wait_listening(&mut self, i: usize) {
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            let exited = self.nodes[i]
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten());
            if let Some(status) = exited {
                panic!(
                    "garage node {i} exited ({status}); its log:\n{}",
                    self.log_tail(i)
                );
            }
            let node = &self.nodes[i];
            // The RPC port last: each probe of it is a failed handshake in the node's log.
            if listening(node.s3) && listening(node.admin) && listening(node.rpc) {
                return;
            }
            if Instant::now() > deadline {
                panic!(
                    "garage node {i} did not listen within {START_TIMEOUT:?}; its log:\n{}",
                    self.log_tail(i)
                );
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// The nodes whose process runs.
    fn running(&self) -> Vec<usize> {
        (0..NODES)
            .filter(|&i| self.nodes[i].child.is_some())
            .collect()
    }

    /// Waits until every running node is connected to every other running node (with all
    /// three running: the cluster is healthy and every partition complete), then until a
    /// probe object written through one running node reads back through each (when two run,
    /// a quorum; with one, there is nothing more to wait for).
    async fn wait_whole(&self) {
        let deadline = Instant::now() + START_TIMEOUT;
        let running = self.running();
        for &i in &running {
            loop {
                let last = match self.health(i).await {
                    Ok(h) if sees_running(&h, running.len()) => break,
                    Ok(h) => h.to_string(),
                    Err(e) => e,
                };
                if Instant::now() > deadline {
                    panic!(
                        "garage node {i} did not see the {} running nodes within \
                         {START_TIMEOUT:?} (last answer: {last}); the nodes' logs:\n{}",
                        running.len(),
                        (0..NODES)
                            .map(|n| format!("node {n}:\n{}", self.log_tail(n)))
                            .collect::<Vec<_>>()
                            .join("\n")
                    );
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
        if running.len() < 2 {
            return;
        }
        let probe = bytes::Bytes::from(random_hex::<16>());
        let name = format!("garage-probe-{}", random_hex::<8>());
        loop {
            match self.probe(&running, &name, &probe).await {
                Ok(()) => break,
                Err(e) if Instant::now() > deadline => {
                    panic!("the cluster's S3 API did not answer within {START_TIMEOUT:?}: {e}")
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
    }

    /// Writes `data` as `name` through the first of `nodes`, reads it back through each,
    /// deletes it.
    async fn probe(&self, nodes: &[usize], name: &str, data: &bytes::Bytes) -> Result<(), String> {
        let first = self.bucket_at(nodes[0], "");
        first
            .put(name, data.clone())
            .await
            .map_err(|e| e.to_string())?;
        for &i in nodes {
            let got = self
                .bucket_at(i, "")
                .get(name)
                .await
                .map_err(|e| format!("node {i}: {e}"))?;
            if got != *data {
                return Err(format!("node {i} read back other bytes"));
            }
        }
        first.delete(name).await.map_err(|e| e.to_string())
    }

    /// Node `i`'s `GetClusterHealth` answer (admin API).
    pub async fn health(&self, i: usize) -> Result<serde_json::Value, String> {
        let url = format!(
            "http://127.0.0.1:{}/v2/GetClusterHealth",
            self.nodes[i].admin
        );
        let r = self
            .http
            .get(url)
            .bearer_auth(&self.admin_token)
            .send()
            .await
            .map_err(|e| e.to_string())?;
        if !r.status().is_success() {
            return Err(format!("status {}", r.status()));
        }
        r.json().await.map_err(|e| e.to_string())
    }

    /// Runs `garage -c <node i's configuration> args`, retrying while it fails for up to
    /// [`COMMAND_RETRY`] (the daemon may still be starting, the layout still spreading), and
    /// returns its standard output.
    async fn cli(&self, i: usize, args: &[&str]) -> String {
        let deadline = Instant::now() + COMMAND_RETRY;
        loop {
            let mut cmd = tokio::process::Command::new(&self.bin);
            clean_env(cmd.as_std_mut());
            cmd.arg("-c")
                .arg(self.nodes[i].config())
                .args(args)
                .stdin(Stdio::null())
                .kill_on_drop(true);
            let failure = match tokio::time::timeout(Duration::from_secs(10), cmd.output()).await {
                Ok(Ok(out)) if out.status.success() => {
                    return String::from_utf8_lossy(&out.stdout).into_owned();
                }
                Ok(Ok(out)) => format!(
                    "{}: {}{}",
                    out.status,
                    String::from_utf8_lossy(&out.stderr),
                    String::from_utf8_lossy(&out.stdout)
                ),
                Ok(Err(e)) => e.to_string(),
                Err(_) => "no answer within 10 s".to_string(),
            };
            if Instant::now() > deadline {
                // Only the first two words: `key import` carries the secret.
                panic!(
                    "`garage {}` on node {i} kept failing: {failure}\nnode {i}'s log:\n{}",
                    args[..2.min(args.len())].join(" "),
                    self.log_tail(i)
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Drop for GarageCluster {
    fn drop(&mut self) {
        for i in 0..NODES {
            self.stop(i);
        }
    }
}

/// The configuration file of one node. Blocks are stored uncompressed: Qopy stores
/// ciphertext, which does not compress, so zstd would only cost time.
fn node_config(node: &Node, rpc_secret: &str, admin_token: &str) -> String {
    format!(
        r#"metadata_dir = "{meta}"
data_dir = "{data}"
db_engine = "lmdb"
replication_factor = 3
compression_level = "none"
rpc_bind_addr = "127.0.0.1:{rpc}"
rpc_public_addr = "127.0.0.1:{rpc}"
rpc_secret = "{rpc_secret}"

[s3_api]
s3_region = "{REGION}"
api_bind_addr = "127.0.0.1:{s3}"

[admin]
api_bind_addr = "127.0.0.1:{admin}"
admin_token = "{admin_token}"
"#,
        meta = node.dir.join("meta").display(),
        data = node.dir.join("data").display(),
        rpc = node.rpc,
        s3 = node.s3,
        admin = node.admin,
    )
}

/// Whether a health answer shows a node connected to `running` storage nodes (itself
/// included) of the three; with all three, also a healthy cluster with every partition
/// complete.
pub fn sees_running(h: &serde_json::Value, running: usize) -> bool {
    let connected = h["storageNodes"] == NODES
        && h["connectedNodes"] == running
        && h["storageNodesUp"] == running;
    connected
        && (running < NODES
            || (h["status"] == "healthy"
                && h["partitions"].as_u64().is_some()
                && h["partitionsAllOk"] == h["partitions"]))
}

/// Whether something accepts connections on a loopback port.
pub fn listening(port: u16) -> bool {
    std::net::TcpStream::connect_timeout(
        &std::net::SocketAddr::from(([127, 0, 0, 1], port)),
        Duration::from_millis(200),
    )
    .is_ok()
}

/// A loopback port of a stopped node, bound but not listening. While the node is down no
/// other socket can have the port (not a test's server, nor the ephemeral port of a test's
/// connection, which made a restarted node fail to bind it in a loaded CI run), and a
/// connection to it is refused, as to a stopped node. `SO_REUSEADDR` lets it bind over the
/// node's connections in TIME_WAIT; it is closed just before the node starts again.
struct PortHold(libc::c_int);

impl PortHold {
    fn bind(port: u16) -> Option<PortHold> {
        // SAFETY: plain socket calls on a descriptor this function owns; closed on failure.
        unsafe {
            let fd = libc::socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0);
            if fd < 0 {
                return None;
            }
            let hold = PortHold(fd);
            let one: libc::c_int = 1;
            libc::setsockopt(
                fd,
                libc::SOL_SOCKET,
                libc::SO_REUSEADDR,
                &one as *const libc::c_int as *const libc::c_void,
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            );
            let addr = libc::sockaddr_in {
                sin_family: libc::AF_INET as libc::sa_family_t,
                sin_port: port.to_be(),
                sin_addr: libc::in_addr {
                    s_addr: u32::from(std::net::Ipv4Addr::LOCALHOST).to_be(),
                },
                sin_zero: [0; 8],
            };
            let bound = libc::bind(
                fd,
                &addr as *const libc::sockaddr_in as *const libc::sockaddr,
                std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
            );
            (bound == 0).then_some(hold)
        }
    }
}

impl Drop for PortHold {
    fn drop(&mut self) {
        // SAFETY: the descriptor is ours and closed once.
        unsafe {
            libc::close(self.0);
        }
    }
}

/// `n` distinct free loopback ports.
fn distinct_free_ports(n: usize) -> Vec<u16> {
    let mut seen = HashSet::new();
    let mut ports = Vec::new();
    while ports.len() < n {
        let p = free_port();
        if seen.insert(p) {
            ports.push(p);
        }
    }
    ports
}

/// `N` random bytes in hex.
pub fn random_hex<const N: usize>() -> String {
    let mut b = [0u8; N];
    rand::Rng::fill(&mut rand::thread_rng(), &mut b[..]);
    hex::encode(b)
}

/// Removes the test's `GARAGE_*` variables (the daemon and the CLI read `GARAGE_RPC_SECRET`
/// and others, which would override the configuration file).
fn clean_env(cmd: &mut Command) {
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("GARAGE_") {
            cmd.env_remove(k);
        }
    }
}

/// The Garage binary: `GARAGE_BIN`, else `garage` on `PATH`, else the places `cargo install`
/// puts it (`/opt/garage/bin`, as `.ci/run` does, and `~/.cargo/bin`).
pub fn garage_bin() -> PathBuf {
    if let Some(p) = std::env::var_os("GARAGE_BIN").filter(|p| !p.is_empty()) {
        return PathBuf::from(p);
    }
    let on_path = std::env::var_os("PATH")
        .map(|path| {
            std::env::split_paths(&path)
                .map(|d| d.join("garage"))
                .collect::<Vec<_>>()
        })
        .unwrap_or_default();
    let home = std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo/bin/garage"));
    on_path
        .into_iter()
        .chain([PathBuf::from("/opt/garage/bin/garage")])
        .chain(home)
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!(
                "Garage is not installed (the S3 tests start a local Garage cluster): install it \
                 with `{INSTALL}` as .ci/run does, or set GARAGE_BIN to the binary"
            )
        })
}
