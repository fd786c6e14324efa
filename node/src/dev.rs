//! `rotor dev`: a whole cluster in one process: three nodes (each its own RocksDB under
//! the data directory, talking gRPC over loopback) and a router serving the DynamoDB API.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;

use crate::host::NodeConfig;
use crate::node_cmd::{self, AutoscaleArgs, RaftArgs};
use crate::router_cmd::{self, ConnectionArgs, RouterArgs};
use crate::telemetry;

/// Nodes of the local cluster.
const NODES: u64 = 3;

/// Settings of `rotor dev`.
#[derive(Debug, Clone, clap::Args)]
pub struct DevArgs {
    /// Directory holding the data (one subdirectory per node); created if missing,
    /// reused across restarts.
    #[arg(long, env = "ROTOR_DATA_DIR", default_value = "./rotor-data")]
    pub data_dir: PathBuf,
    /// Port of the DynamoDB API (http://HOST:PORT).
    #[arg(long, short = 'p', env = "ROTOR_PORT", default_value_t = 8000)]
    pub port: u16,
    /// Address to listen on. Keep the default (loopback) unless other machines must connect.
    #[arg(long, env = "ROTOR_HOST", default_value = "127.0.0.1")]
    pub host: String,
    /// First of three consecutive loopback ports for the nodes' gRPC servers.
    #[arg(long, env = "ROTOR_NODE_PORT", default_value_t = 7101)]
    pub node_port: u16,
    /// Partitions each new table is cut into (more exercises multi-partition paths).
    #[arg(long, env = "ROTOR_PARTITIONS", default_value_t = 4)]
    pub partitions: u32,
    /// Enable fault injection on the API: fail a fraction of calls with a chosen
    /// DynamoDB error and add latency, set at http://HOST:PORT/_rotor/faults (see the
    /// README). For testing applications' retries.
    #[arg(long, env = "ROTOR_FAULT_INJECTION")]
    pub fault_injection: bool,
    #[command(flatten)]
    pub connections: ConnectionArgs,
    #[command(flatten)]
    pub raft: RaftArgs,
    #[command(flatten)]
    pub autoscale: AutoscaleArgs,
    /// Log filter, e.g. `info`, `debug`, `rotor_router=debug` (RUST_LOG overrides it).
    #[arg(long, env = "ROTOR_LOG", default_value = "info,openraft=off")]
    pub log: String,
}

pub async fn run(args: DevArgs) -> anyhow::Result<()> {
    telemetry::init_logging(&args.log);
    let metrics = telemetry::init_metrics();
    std::fs::create_dir_all(&args.data_dir).with_context(|| {
        format!(
            "cannot create the data directory {}",
            args.data_dir.display()
        )
    })?;
    if args.data_dir.join("CURRENT").exists() {
        anyhow::bail!(
            "{} holds data of the single-node rotor of earlier versions; move it away or \
             choose another --data-dir",
            args.data_dir.display()
        );
    }
    let addr_of = |i: u64| -> anyhow::Result<SocketAddr> {
        let port = u16::try_from(u64::from(args.node_port) + i - 1)
            .context("--node-port is too high for three consecutive ports")?;
        Ok(SocketAddr::from(([127, 0, 0, 1], port)))
    };
    let first = addr_of(1)?;
    let mut nodes = Vec::new();
    for id in 1..=NODES {
        let listen = addr_of(id)?;
        let cfg = NodeConfig {
            id,
            listen,
            advertise: listen.to_string(),
            data_dir: args.data_dir.join(format!("node-{id}")),
            join: (id > 1).then(|| first.to_string()),
            raft: args.raft.settings(),
            autoscale: args.autoscale.config(),
        };
        nodes.push(node_cmd::start(cfg).await.with_context(|| {
            format!(
                "cannot start node {id} (ports {}..{} must be free; see --node-port)",
                args.node_port,
                u32::from(args.node_port) + 2
            )
        })?);
    }
    // Wait until the map lists every node, so the first table gets three replicas.
    let mut map = nodes[0].host.map.clone();
    tokio::time::timeout(
        Duration::from_secs(30),
        map.wait_for(|m| m.nodes.len() as u64 >= NODES),
    )
    .await
    .context("the local nodes did not form a cluster within 30 s")??;
    let router = RouterArgs {
        port: args.port,
        host: args.host.clone(),
        nodes: (1..=NODES)
            .map(|i| addr_of(i).map(|a| a.to_string()))
            .collect::<anyhow::Result<_>>()?,
        partitions: args.partitions,
        request_deadline_secs: 10,
        connections: args.connections.clone(),
        fault_injection: args.fault_injection,
        log: args.log.clone(),
    };
    tracing::info!(
        "local cluster: {NODES} nodes on 127.0.0.1:{}..{}, data in {}",
        args.node_port,
        u32::from(args.node_port) + 2,
        args.data_dir.display()
    );
    let shutdown = async {
        let _ = tokio::signal::ctrl_c().await;
        tracing::info!("shutting down");
    };
    router_cmd::serve(&router, metrics, shutdown).await?;
    for node in &nodes {
        node.host.shutdown().await;
    }
    Ok(())
}
