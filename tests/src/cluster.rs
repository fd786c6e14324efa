//! A cluster of real processes for failure tests: `rotor node` processes (the first
//! bootstraps, the others join it) and `rotor router` processes in front of them, each
//! killable with `kill -9` and restartable on its own data directory and port.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rotor_proto::v1::cluster_client::ClusterClient;
use rotor_proto::v1::{StatusReply, StatusRequest};

use crate::{capture_output, free_port, rotor_bin, sdk_client};

type Log = Arc<Mutex<Vec<String>>>;

/// One process of the cluster.
struct Proc {
    child: Option<Child>,
    port: u16,
    /// A node's HTTP port (metrics, faults), when the cluster injects faults.
    http_port: u16,
    log: Log,
}

impl Proc {
    fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    fn output(&self) -> String {
        self.log.lock().map(|l| l.join("\n")).unwrap_or_default()
    }
}

pub struct Cluster {
    dir: tempfile::TempDir,
    nodes: Vec<Proc>,
    routers: Vec<Proc>,
    node_args: Vec<String>,
    router_args: Vec<String>,
    /// Nodes run with `--fault-injection` (see `set_peer_faults`).
    fault_injection: bool,
}

fn spawn(args: &[String]) -> (Child, Log) {
    let bin = rotor_bin();
    assert!(
        bin.exists(),
        "{} is missing: build the workspace first",
        bin.display()
    );
    let mut child = Command::new(&bin)
        .args(args)
        .env(
            "RUST_LOG",
            std::env::var("ROTOR_TEST_NODE_LOG").unwrap_or_else(|_| "info,openraft=off".into()),
        )
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn rotor");
    let log = capture_output(&mut child);
    (child, log)
}

fn wait_for_line(log: &Log, needle: &str, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if log
            .lock()
            .map(|l| l.iter().any(|line| line.contains(needle)))
            .unwrap_or(false)
        {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!(
        "{what} did not log {needle:?} within 60 s; its output:\n{}",
        log.lock().map(|l| l.join("\n")).unwrap_or_default()
    );
}

impl Cluster {
    /// Starts `nodes` nodes (extra `node_args` for each, e.g. raft timing) and one router.
    pub fn start(nodes: usize, node_args: &[&str], router_args: &[&str]) -> Cluster {
        Cluster::start_with(nodes, node_args, router_args, false)
    }

    /// As `start`, every node taking fault rules for its links (`set_peer_faults`).
    pub fn start_with_fault_injection(
        nodes: usize,
        node_args: &[&str],
        router_args: &[&str],
    ) -> Cluster {
        Cluster::start_with(nodes, node_args, router_args, true)
    }

    fn start_with(
        nodes: usize,
        node_args: &[&str],
        router_args: &[&str],
        fault_injection: bool,
    ) -> Cluster {
        let mut cluster = Cluster {
            dir: tempfile::tempdir().expect("temp dir"),
            nodes: Vec::new(),
            routers: Vec::new(),
            node_args: node_args.iter().map(|s| s.to_string()).collect(),
            router_args: router_args.iter().map(|s| s.to_string()).collect(),
            fault_injection,
        };
        for _ in 0..nodes {
            cluster.add_node();
        }
        cluster.add_router();
        cluster
    }

    fn node_data(&self, id: u64) -> PathBuf {
        self.dir.path().join(format!("node-{id}"))
    }

    pub fn node_addr(&self, id: u64) -> String {
        format!("127.0.0.1:{}", self.nodes[(id - 1) as usize].port)
    }

    /// Ids of the nodes whose process runs.
    pub fn live_nodes(&self) -> Vec<u64> {
        (1..=self.nodes.len() as u64)
            .filter(|id| self.nodes[(*id - 1) as usize].child.is_some())
            .collect()
    }

    /// Starts (or restarts) node `id` on its data directory and port; a node other than
    /// the first joins through a live node.
    pub fn restart_node(&mut self, id: u64) {
        let idx = (id - 1) as usize;
        self.nodes[idx].kill9();
        let mut args: Vec<String> = vec![
            "node".into(),
            "--id".into(),
            id.to_string(),
            "--listen".into(),
            self.node_addr(id),
            "--data-dir".into(),
            self.node_data(id).display().to_string(),
        ];
        if id > 1 {
            let via = self
                .live_nodes()
                .into_iter()
                .find(|n| *n != id)
                .expect("a live node to join through");
            args.push("--join".into());
            args.push(self.node_addr(via));
        }
        args.push("--http-listen".into());
        args.push(format!("127.0.0.1:{}", self.nodes[idx].http_port));
        if self.fault_injection {
            args.push("--fault-injection".into());
        }
        args.extend(self.node_args.iter().cloned());
        let (child, log) = spawn(&args);
        self.nodes[idx].child = Some(child);
        self.nodes[idx].log = log;
        wait_for_line(&self.nodes[idx].log, "node serving", &format!("node {id}"));
    }

    /// Starts one more node, joining the cluster; returns its id.
    pub fn add_node(&mut self) -> u64 {
        self.nodes.push(Proc {
            child: None,
            port: free_port(),
            http_port: free_port(),
            log: Arc::default(),
        });
        let id = self.nodes.len() as u64;
        self.restart_node(id);
        id
    }

    /// Replaces node `id`'s fault rules for its links to peers (the JSON body of
    /// `PUT /_rotor/faults`, see the README); the cluster must inject faults.
    pub async fn set_peer_faults(&self, id: u64, rules: &str) {
        assert!(
            self.fault_injection,
            "start the cluster with fault injection"
        );
        let addr = format!(
            "http://127.0.0.1:{}",
            self.nodes[(id - 1) as usize].http_port
        );
        let rules = rules.to_owned();
        let (status, body) = tokio::task::spawn_blocking(move || {
            crate::http(&addr, "PUT", "/_rotor/faults", &rules)
        })
        .await
        .expect("fault rules request");
        assert_eq!(status, 200, "node {id} refused fault rules: {body}");
    }

    /// Cuts node `id`'s partition groups off from those of `others`, both ways (every
    /// raft RPC of a partition group dropped; the cluster map and routers still reach
    /// it). `heal_faults` undoes it.
    pub async fn cut_off_partitions(&self, id: u64, others: &[u64]) {
        let drop = |peers: &mut dyn Iterator<Item = u64>| {
            let rules: Vec<String> = peers
                .map(|p| format!(r#""{p}": {{"drop_fraction": 1.0, "partitions_only": true}}"#))
                .collect();
            format!(r#"{{"peers": {{{}}}}}"#, rules.join(", "))
        };
        for other in others {
            self.set_peer_faults(*other, &drop(&mut std::iter::once(id)))
                .await;
        }
        self.set_peer_faults(id, &drop(&mut others.iter().copied()))
            .await;
    }

    /// Clears the fault rules of every live node's links.
    pub async fn heal_faults(&self) {
        for id in self.live_nodes() {
            self.set_peer_faults(id, r#"{"peers": {}}"#).await;
        }
    }

    /// The sum of node `id`'s Prometheus samples whose line starts with `series` (a
    /// metric name, or a name and the start of its labels).
    pub async fn node_metric(&self, id: u64, series: &str) -> f64 {
        let addr = format!(
            "http://127.0.0.1:{}",
            self.nodes[(id - 1) as usize].http_port
        );
        let (status, body) =
            tokio::task::spawn_blocking(move || crate::http(&addr, "GET", "/metrics", ""))
                .await
                .expect("metrics request");
        assert_eq!(status, 200, "node {id} /metrics: {body}");
        body.lines()
            .filter(|l| l.starts_with(series))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum()
    }

    /// `kill -9` of node `id`.
    pub fn kill_node(&mut self, id: u64) {
        self.nodes[(id - 1) as usize].kill9();
    }

    /// Starts one more router; returns its index.
    pub fn add_router(&mut self) -> usize {
        self.routers.push(Proc {
            child: None,
            port: free_port(),
            http_port: 0,
            log: Arc::default(),
        });
        let i = self.routers.len() - 1;
        self.restart_router(i);
        i
    }

    pub fn restart_router(&mut self, i: usize) {
        self.routers[i].kill9();
        let nodes: Vec<String> = (1..=self.nodes.len() as u64)
            .map(|id| self.node_addr(id))
            .collect();
        let mut args: Vec<String> = vec![
            "router".into(),
            "--port".into(),
            self.routers[i].port.to_string(),
            "--nodes".into(),
            nodes.join(","),
        ];
        args.extend(self.router_args.iter().cloned());
        let (child, log) = spawn(&args);
        self.routers[i].child = Some(child);
        self.routers[i].log = log;
        wait_for_line(&self.routers[i].log, "listening on", &format!("router {i}"));
    }

    pub fn kill_router(&mut self, i: usize) {
        self.routers[i].kill9();
    }

    pub fn endpoint(&self, router: usize) -> String {
        format!("http://127.0.0.1:{}", self.routers[router].port)
    }

    pub fn client(&self, router: usize) -> aws_sdk_dynamodb::Client {
        sdk_client(&self.endpoint(router))
    }

    /// What node `id`'s process has logged (its latest run).
    pub fn node_output(&self, id: u64) -> String {
        self.nodes[(id - 1) as usize].output()
    }

    /// Every process's output, for a failing test's message.
    pub fn output(&self) -> String {
        let mut out = String::new();
        for (i, n) in self.nodes.iter().enumerate() {
            out.push_str(&format!("--- node {} ---\n{}\n", i + 1, n.output()));
        }
        for (i, r) in self.routers.iter().enumerate() {
            out.push_str(&format!("--- router {i} ---\n{}\n", r.output()));
        }
        out
    }

    /// The raft groups node `id` hosts, as it reports them.
    pub async fn status(&self, id: u64) -> Result<StatusReply, String> {
        let endpoint =
            tonic::transport::Endpoint::from_shared(format!("http://{}", self.node_addr(id)))
                .map_err(|e| e.to_string())?
                .connect_timeout(Duration::from_secs(1))
                .timeout(Duration::from_secs(3));
        let channel = endpoint.connect().await.map_err(|e| e.to_string())?;
        ClusterClient::new(channel)
            .status(StatusRequest {})
            .await
            .map(|r| r.into_inner())
            .map_err(|e| e.to_string())
    }

    /// Waits until every partition group on node `id` has applied as far as its leader
    /// (on a live node) has; returns how long that took.
    pub async fn wait_caught_up(&self, id: u64, timeout: Duration) -> Duration {
        let start = Instant::now();
        loop {
            let mine = self.status(id).await;
            let mut behind = None;
            if let Ok(mine) = &mine {
                for g in &mine.groups {
                    if !g.has_leader {
                        behind = Some(format!("group {:x} has no leader", g.group));
                        break;
                    }
                    if g.leader == id {
                        continue;
                    }
                    let leader = self.status(g.leader).await;
                    let leader_applied = leader.ok().and_then(|s| {
                        s.groups
                            .iter()
                            .find(|x| x.group == g.group)
                            .map(|x| x.applied_index)
                    });
                    match leader_applied {
                        Some(a) if g.applied_index >= a => {}
                        other => {
                            behind = Some(format!(
                                "group {:x}: applied {} vs leader {:?}",
                                g.group, g.applied_index, other
                            ));
                            break;
                        }
                    }
                }
            } else {
                behind = Some(format!("status: {mine:?}"));
            }
            match behind {
                None => return start.elapsed(),
                Some(why) if start.elapsed() > timeout => {
                    panic!(
                        "node {id} did not catch up within {timeout:?}: {why}\n{}",
                        self.output()
                    )
                }
                Some(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
    }

    /// The node leading the most partition groups (ties: lowest id).
    pub async fn busiest_leader(&self) -> u64 {
        let mut counts = std::collections::BTreeMap::new();
        for id in self.live_nodes() {
            if let Ok(s) = self.status(id).await {
                let leads = s
                    .groups
                    .iter()
                    .filter(|g| g.group != 0 && g.has_leader && g.leader == id)
                    .count();
                counts.insert(id, leads);
            }
        }
        counts
            .iter()
            .max_by_key(|(id, n)| (**n, std::cmp::Reverse(**id)))
            .map(|(id, _)| *id)
            .unwrap_or(1)
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for r in &mut self.routers {
            r.kill9();
        }
        for n in &mut self.nodes {
            n.kill9();
        }
    }
}
