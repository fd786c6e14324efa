//! `rotor node`: one storage node (gRPC), bootstrapping a new cluster or joining one.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use tokio::task::JoinHandle;

use std::time::Duration;

use crate::autoscaler::AutoscaleConfig;
use crate::capacity_scaling::ScalingConfig;
use crate::host::{Host, NodeConfig};
use crate::raft::RaftSettings;
use crate::{service, telemetry};

/// Settings of `rotor node`.
#[derive(Debug, Clone, clap::Args)]
pub struct NodeArgs {
    /// This node's id: a number above 0, unique in the cluster and kept across restarts
    /// (in Kubernetes, the StatefulSet ordinal plus one).
    #[arg(long, env = "ROTOR_NODE_ID")]
    pub id: u64,
    /// Address the node's gRPC server listens on.
    #[arg(long, env = "ROTOR_LISTEN", default_value = "127.0.0.1:7101")]
    pub listen: SocketAddr,
    /// Address other nodes and routers reach this node at (default: --listen).
    #[arg(long, env = "ROTOR_ADVERTISE")]
    pub advertise: Option<String>,
    /// Directory holding the node's data; created if missing, reused across restarts.
    #[arg(long, env = "ROTOR_DATA_DIR", default_value = "./rotor-node-data")]
    pub data_dir: PathBuf,
    /// Address of any node of an existing cluster to join. Without it, a node with no
    /// data bootstraps a new cluster (only the first node of a cluster should).
    #[arg(long, env = "ROTOR_JOIN")]
    pub join: Option<String>,
    /// Address for HTTP `/metrics`, `/healthz` and `/readyz` (e.g. 0.0.0.0:9100);
    /// none unless given.
    #[arg(long, env = "ROTOR_HTTP_LISTEN")]
    pub http_listen: Option<SocketAddr>,
    /// Enable fault injection: delays and drops of this node's raft RPCs to named peers,
    /// set over HTTP at `/_rotor/faults` on --http-listen (see the README). For tests
    /// only; never in production.
    #[arg(long, env = "ROTOR_FAULT_INJECTION")]
    pub fault_injection: bool,
    #[command(flatten)]
    pub raft: RaftArgs,
    #[command(flatten)]
    pub autoscale: AutoscaleArgs,
    /// Log filter, e.g. `info`, `debug`, `rotor_node=debug` (RUST_LOG overrides it).
    #[arg(long, env = "ROTOR_LOG", default_value = "info,openraft=off")]
    pub log: String,
}

/// The autoscaler (it runs on the metadata leader), shared by `rotor node` and `rotor dev`.
#[derive(Debug, Clone, clap::Args)]
pub struct AutoscaleArgs {
    /// Never split partitions for their load or size (a table's WarmThroughput and
    /// the auto scaling of provisioned capacity still apply: users ask for those).
    #[arg(long, env = "ROTOR_NO_AUTOSCALE")]
    pub no_autoscale: bool,
    /// Seconds a partition must stay above the target utilisation before it is split
    /// (DynamoDB: two minutes).
    #[arg(long, env = "ROTOR_AUTOSCALE_WINDOW_SECS", default_value_t = 120.0, value_parser = positive_secs)]
    pub autoscale_window_secs: f64,
    /// Seconds between measurements of every partition's load.
    #[arg(long, env = "ROTOR_AUTOSCALE_INTERVAL_SECS", default_value_t = 5.0, value_parser = positive_secs)]
    pub autoscale_interval_secs: f64,
    /// Fraction of a partition's capacity above which it counts as hot (0 to 1).
    #[arg(long, env = "ROTOR_AUTOSCALE_TARGET", default_value_t = 0.7, value_parser = fraction)]
    pub autoscale_target: f64,
    /// Read capacity units per second one partition serves (DynamoDB: 3000): its
    /// limit (past it, after five seconds of burst, its reads are throttled), its share
    /// of a table's warm throughput, and what the autoscaler's target is a fraction of.
    #[arg(long, env = "ROTOR_PARTITION_RCU", default_value_t = 3000.0, value_parser = positive_units)]
    pub partition_rcu: f64,
    /// Write capacity units per second one partition serves (DynamoDB: 1000), in the
    /// same three ways.
    #[arg(long, env = "ROTOR_PARTITION_WCU", default_value_t = 1000.0, value_parser = positive_units)]
    pub partition_wcu: f64,
    /// A partition holding more bytes than this is split at its size median
    /// (DynamoDB: 10 GB).
    #[arg(long, env = "ROTOR_SPLIT_SIZE_BYTES", default_value_t = 10 * 1024 * 1024 * 1024)]
    pub split_size_bytes: u64,
    /// Seconds a provisioned table's consumption must stay above its auto scaling
    /// target before its capacity is raised (DynamoDB: two minutes).
    #[arg(long, env = "ROTOR_CAPACITY_SCALE_OUT_SECS", default_value_t = 120.0, value_parser = positive_secs)]
    pub capacity_scale_out_secs: f64,
    /// Seconds its consumption must stay 20 points below the target before its
    /// capacity is lowered (DynamoDB: fifteen minutes).
    #[arg(long, env = "ROTOR_CAPACITY_SCALE_IN_SECS", default_value_t = 900.0, value_parser = positive_secs)]
    pub capacity_scale_in_secs: f64,
}

fn positive_secs(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v > 0.0 && v <= 86_400.0 => Ok(v),
        _ => Err(format!(
            "`{s}` is not a number of seconds above 0 (at most 86400)"
        )),
    }
}

fn fraction(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v > 0.0 && v <= 1.0 => Ok(v),
        _ => Err(format!(
            "`{s}` is not a fraction above 0 and at most 1 (e.g. 0.7)"
        )),
    }
}

fn positive_units(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v > 0.0 && v.is_finite() => Ok(v),
        _ => Err(format!("`{s}` is not a number of capacity units above 0")),
    }
}

impl AutoscaleArgs {
    pub fn config(&self) -> AutoscaleConfig {
        AutoscaleConfig {
            enabled: !self.no_autoscale,
            interval: Duration::from_secs_f64(self.autoscale_interval_secs),
            window: Duration::from_secs_f64(self.autoscale_window_secs),
            target: self.autoscale_target,
            partition_rcu: self.partition_rcu,
            partition_wcu: self.partition_wcu,
            split_bytes: self.split_size_bytes,
            scaling: ScalingConfig {
                scale_out_after: Duration::from_secs_f64(self.capacity_scale_out_secs),
                scale_in_after: Duration::from_secs_f64(self.capacity_scale_in_secs),
            },
        }
    }
}

/// Raft timing, shared by `rotor node` and `rotor dev`.
#[derive(Debug, Clone, clap::Args)]
pub struct RaftArgs {
    /// Milliseconds between a leader's heartbeats.
    #[arg(long, env = "ROTOR_HEARTBEAT_MS", default_value_t = 150)]
    pub heartbeat_ms: u64,
    /// A follower that hears no leader for a random time between this and twice this
    /// (milliseconds) starts an election: the floor of the failover time.
    #[arg(long, env = "ROTOR_ELECTION_TIMEOUT_MS", default_value_t = 750)]
    pub election_timeout_ms: u64,
    /// Log entries between snapshots of a partition (a lagging replica beyond this
    /// catches up by snapshot instead of by log).
    #[arg(long, env = "ROTOR_SNAPSHOT_EVERY", default_value_t = 10_000)]
    pub snapshot_every: u64,
    /// Milliseconds without a write after which a partition's raft group goes quiet:
    /// no heartbeats until the next write; one ping per node pair keeps failover
    /// working (0: groups always heartbeat).
    #[arg(long, env = "ROTOR_QUIESCE_AFTER_MS", default_value_t = 2_000)]
    pub quiesce_after_ms: u64,
}

impl RaftArgs {
    pub fn settings(&self) -> RaftSettings {
        RaftSettings {
            heartbeat_ms: self.heartbeat_ms,
            election_min_ms: self.election_timeout_ms,
            election_max_ms: self.election_timeout_ms * 2,
            snapshot_every: self.snapshot_every,
            quiesce_after_ms: self.quiesce_after_ms,
        }
    }
}

/// A node serving in this process.
pub struct RunningNode {
    pub host: Arc<Host>,
    pub server: JoinHandle<anyhow::Result<()>>,
}

/// Opens the node, serves gRPC, then bootstraps or joins.
pub async fn start(cfg: NodeConfig) -> anyhow::Result<RunningNode> {
    if cfg.id == 0 {
        anyhow::bail!("--id must be above 0");
    }
    let listener = tokio::net::TcpListener::bind(cfg.listen)
        .await
        .with_context(|| {
            format!(
                "node {} cannot listen on {} (is the port in use? choose another address)",
                cfg.id, cfg.listen
            )
        })?;
    let host = Host::open(&cfg).await?;
    host.log_meta_leaders();
    let server = tokio::spawn(service::serve(
        host.clone(),
        listener,
        std::future::pending(),
    ));
    host.start(cfg.join.clone()).await?;
    tracing::info!(node = cfg.id, addr = %cfg.advertise, data = %cfg.data_dir.display(), "node serving");
    Ok(RunningNode { host, server })
}

pub async fn run(args: NodeArgs) -> anyhow::Result<()> {
    telemetry::init_logging(&args.log);
    let metrics = telemetry::init_metrics();
    if args.fault_injection && args.http_listen.is_none() {
        anyhow::bail!("--fault-injection is controlled over HTTP: give --http-listen too");
    }
    let cfg = NodeConfig {
        id: args.id,
        listen: args.listen,
        advertise: args
            .advertise
            .clone()
            .unwrap_or_else(|| args.listen.to_string()),
        data_dir: args.data_dir.clone(),
        join: args.join.clone(),
        raft: args.raft.settings(),
        autoscale: args.autoscale.config(),
    };
    let node = start(cfg).await?;
    if let Some(addr) = args.http_listen {
        let listener = tokio::net::TcpListener::bind(addr).await.with_context(|| {
            format!("cannot listen on --http-listen {addr} (is the port in use?)")
        })?;
        tracing::info!("metrics and health on http://{addr}");
        if args.fault_injection {
            tracing::warn!("fault injection enabled: http://{addr}/_rotor/faults");
        }
        tokio::spawn(crate::node_http::serve(
            node.host.clone(),
            metrics,
            listener,
            args.fault_injection,
        ));
    }
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {
            tracing::info!("shutting down");
            node.host.shutdown().await;
            Ok(())
        }
        r = node.server => r?,
    }
}
