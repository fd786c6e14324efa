//! A Rotor cluster on test hosts: `rotor node` and `rotor router` processes, each in its
//! own network namespace (`ip netns exec`), with fault injection enabled; every node's
//! data directory on its own small tmpfs (so a disk can be filled); output to log files.
//! Kill, pause, resume and restart act on the real processes.
//!
//! Network calls (readiness, status) must run on the client host's runtime threads
//! (see `scenario`), never on the thread that made the namespaces.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use rotor_proto::v1::cluster_client::ClusterClient;
use rotor_proto::v1::StatusRequest;

use crate::netns::{run, Host, Net};

pub const NODE_PORT: u16 = 7000;
pub const NODE_HTTP_PORT: u16 = 9000;
pub const ROUTER_PORT: u16 = 8000;

/// Shape of a cluster.
#[derive(Debug, Clone)]
pub struct ClusterSpec {
    pub nodes: u64,
    pub routers: usize,
    pub partitions: u32,
    /// The last this many nodes are not started with the cluster: a fault makes them
    /// join later.
    pub spare: u64,
    /// More arguments for every `rotor node` (e.g. a low autoscaler target).
    pub node_args: Vec<String>,
    /// Size of each node's tmpfs, in MiB.
    pub disk_mib: u64,
    pub rotor_bin: PathBuf,
}

/// One process of the cluster.
pub struct Proc {
    pub name: String,
    pub host: Host,
    args: Vec<String>,
    log: PathBuf,
    child: Option<Child>,
}

impl Proc {
    fn start(&mut self, bin: &Path) -> anyhow::Result<()> {
        let mut log = File::options()
            .create(true)
            .append(true)
            .open(&self.log)
            .with_context(|| format!("cannot open {}", self.log.display()))?;
        writeln!(log, "---- start {}", self.args.join(" "))?;
        let child = Command::new("ip")
            .args(["netns", "exec", &self.host.ns])
            .arg(bin)
            .args(&self.args)
            // ROTOR_CHAOS_LOG (a RUST_LOG filter) for more detail in the logs.
            .env(
                "RUST_LOG",
                std::env::var("ROTOR_CHAOS_LOG").unwrap_or_else(|_| "info,openraft=off".into()),
            )
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .with_context(|| format!("cannot start {} ({})", self.name, bin.display()))?;
        self.child = Some(child);
        Ok(())
    }

    pub fn pid(&self) -> Option<i32> {
        self.child.as_ref().map(|c| c.id() as i32)
    }

    pub fn is_running(&self) -> bool {
        self.child.is_some()
    }

    /// `kill -9`.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Sends a signal (SIGSTOP, SIGCONT).
    pub fn signal(&self, sig: i32) {
        if let Some(pid) = self.pid() {
            // SAFETY: kill(2) on a child we own.
            unsafe {
                libc::kill(pid, sig);
            }
        }
    }

    pub fn log_path(&self) -> &Path {
        &self.log
    }
}

/// A running cluster. Processes are killed and disks unmounted on drop.
pub struct Cluster {
    pub spec: ClusterSpec,
    pub nodes: Vec<Proc>,
    pub routers: Vec<Proc>,
    dir: PathBuf,
    mounts: Vec<PathBuf>,
}

/// Host names and last address bytes of a cluster's test hosts, plus the client's.
pub fn host_plan(nodes: u64, routers: usize) -> Vec<(String, u8)> {
    let mut hosts: Vec<(String, u8)> = (1..=nodes).map(|i| (format!("n{i}"), i as u8)).collect();
    hosts.extend((1..=routers).map(|i| (format!("r{i}"), 100 + i as u8)));
    hosts.push(("client".to_owned(), 200));
    hosts
}

impl Cluster {
    /// Starts the processes on `net`'s hosts (named as in [`host_plan`]), with data and
    /// logs under `dir`. Does not wait for them; see [`Cluster::wait_ready`].
    pub fn start(spec: &ClusterSpec, net: &Net, dir: &Path) -> anyhow::Result<Cluster> {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        let mut cluster = Cluster {
            spec: spec.clone(),
            nodes: Vec::new(),
            routers: Vec::new(),
            dir: dir.to_path_buf(),
            mounts: Vec::new(),
        };
        let first = format!("{}:{NODE_PORT}", net.host("n1")?.addr);
        for id in 1..=spec.nodes {
            let host = net.host(&format!("n{id}"))?.clone();
            let data = dir.join(format!("n{id}-data"));
            std::fs::create_dir_all(&data)?;
            run(
                "mount",
                &[
                    "-t",
                    "tmpfs",
                    "-o",
                    &format!("size={}m", spec.disk_mib),
                    "tmpfs",
                    &data.to_string_lossy(),
                ],
            )?;
            cluster.mounts.push(data.clone());
            let listen = format!("{}:{NODE_PORT}", host.addr);
            let mut args = vec![
                "node".to_owned(),
                "--id".to_owned(),
                id.to_string(),
                "--listen".to_owned(),
                listen,
                "--data-dir".to_owned(),
                data.to_string_lossy().into_owned(),
                "--http-listen".to_owned(),
                format!("{}:{NODE_HTTP_PORT}", host.addr),
                "--fault-injection".to_owned(),
            ];
            if id > 1 {
                args.extend(["--join".to_owned(), first.clone()]);
            }
            args.extend(spec.node_args.iter().cloned());
            let mut proc = Proc {
                name: format!("n{id}"),
                host,
                args,
                log: dir.join(format!("n{id}.log")),
                child: None,
            };
            if id + spec.spare <= spec.nodes {
                proc.start(&spec.rotor_bin)?;
            }
            cluster.nodes.push(proc);
        }
        let node_list = cluster
            .nodes
            .iter()
            .filter(|n| n.is_running())
            .map(|n| format!("{}:{NODE_PORT}", n.host.addr))
            .collect::<Vec<_>>()
            .join(",");
        for i in 1..=spec.routers {
            let host = net.host(&format!("r{i}"))?.clone();
            let args = vec![
                "router".to_owned(),
                "--host".to_owned(),
                host.addr.clone(),
                "--port".to_owned(),
                ROUTER_PORT.to_string(),
                "--nodes".to_owned(),
                node_list.clone(),
                "--partitions".to_owned(),
                spec.partitions.to_string(),
                "--fault-injection".to_owned(),
            ];
            let mut proc = Proc {
                name: format!("r{i}"),
                host,
                args,
                log: dir.join(format!("r{i}.log")),
                child: None,
            };
            proc.start(&spec.rotor_bin)?;
            cluster.routers.push(proc);
        }
        Ok(cluster)
    }

    pub fn node(&mut self, id: u64) -> anyhow::Result<&mut Proc> {
        self.nodes
            .get_mut((id as usize).wrapping_sub(1))
            .with_context(|| format!("no node {id}"))
    }

    pub fn restart_node(&mut self, id: u64) -> anyhow::Result<()> {
        let bin = self.spec.rotor_bin.clone();
        let node = self.node(id)?;
        node.kill();
        node.start(&bin)
    }

    pub fn restart_router(&mut self, i: usize) -> anyhow::Result<()> {
        let bin = self.spec.rotor_bin.clone();
        let router = self
            .routers
            .get_mut(i)
            .with_context(|| format!("no router {i}"))?;
        router.kill();
        router.start(&bin)
    }

    /// The DynamoDB endpoints of the routers.
    pub fn router_addrs(&self) -> Vec<std::net::SocketAddr> {
        self.routers
            .iter()
            .filter_map(|r| format!("{}:{ROUTER_PORT}", r.host.addr).parse().ok())
            .collect()
    }

    pub fn node_grpc(&self, id: u64) -> String {
        self.nodes
            .get((id as usize).wrapping_sub(1))
            .map(|n| format!("{}:{NODE_PORT}", n.host.addr))
            .unwrap_or_default()
    }

    pub fn node_http(&self, id: u64) -> String {
        self.nodes
            .get((id as usize).wrapping_sub(1))
            .map(|n| format!("{}:{NODE_HTTP_PORT}", n.host.addr))
            .unwrap_or_default()
    }

    /// The data directory (a tmpfs) of node `id`.
    pub fn node_data(&self, id: u64) -> PathBuf {
        self.dir.join(format!("n{id}-data"))
    }

    /// The last lines of every process's log, for a failure report.
    pub fn log_tails(&self, lines: usize) -> String {
        let mut out = String::new();
        for p in self.nodes.iter().chain(&self.routers) {
            let text = std::fs::read_to_string(&p.log).unwrap_or_default();
            let all: Vec<&str> = text.lines().collect();
            let tail = &all[all.len().saturating_sub(lines)..];
            out.push_str(&format!(
                "--- {} ({})\n{}\n",
                p.name,
                p.log.display(),
                tail.join("\n")
            ));
        }
        out
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for p in self.nodes.iter_mut().chain(self.routers.iter_mut()) {
            p.signal(libc::SIGCONT);
            p.kill();
        }
        for m in &self.mounts {
            let _ = run("umount", &["-l", &m.to_string_lossy()]);
        }
    }
}

/// Waits until every router accepts connections and `check` (a request through the API)
/// passes. Call from the client host's runtime.
pub async fn wait_port(addr: std::net::SocketAddr, timeout: Duration) -> anyhow::Result<()> {
    let deadline = Instant::now() + timeout;
    loop {
        match tokio::net::TcpStream::connect(addr).await {
            Ok(_) => return Ok(()),
            Err(e) if Instant::now() > deadline => {
                bail!("{addr} did not accept connections within {timeout:?}: {e}")
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
}

/// Per node: how many partition groups it leads (None: no answer). Call from the
/// client host's runtime.
pub async fn leaders(nodes: &[(u64, String)]) -> Vec<(u64, Option<usize>)> {
    let mut out = Vec::new();
    for (id, addr) in nodes {
        let leads = async {
            let channel = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
                .ok()?
                .connect_timeout(Duration::from_millis(500))
                .timeout(Duration::from_secs(2))
                .connect()
                .await
                .ok()?;
            let status = ClusterClient::new(channel)
                .status(StatusRequest {})
                .await
                .ok()?
                .into_inner();
            Some(
                status
                    .groups
                    .iter()
                    .filter(|g| g.group != 0 && g.has_leader && g.leader == *id)
                    .count(),
            )
        }
        .await;
        out.push((*id, leads));
    }
    out
}

/// One plain HTTP/1.1 request (for `/_rotor/faults`); returns status and body. Call
/// from the client host's runtime.
pub async fn http(
    addr: &str,
    method: &str,
    path: &str,
    body: &str,
) -> anyhow::Result<(u16, String)> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream =
        tokio::time::timeout(Duration::from_secs(3), tokio::net::TcpStream::connect(addr))
            .await
            .with_context(|| format!("connecting to {addr} timed out"))?
            .with_context(|| format!("cannot connect to {addr}"))?;
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await?;
    let mut response = String::new();
    tokio::time::timeout(Duration::from_secs(3), stream.read_to_string(&mut response))
        .await
        .with_context(|| format!("{addr} did not answer {method} {path}"))??;
    let status = response
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    Ok((status, body))
}
