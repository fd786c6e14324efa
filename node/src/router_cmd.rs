//! `rotor router`: the stateless DynamoDB API edge in front of a cluster's nodes.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use rotor_router::conn::ConnectionLimits;
use rotor_router::faults::ApiFaults;
use rotor_router::{ClusterBackend, ClusterOptions, ServerOptions};

use crate::telemetry;

/// Settings of `rotor router`.
#[derive(Debug, Clone, clap::Args)]
pub struct RouterArgs {
    /// Port of the DynamoDB API (http://HOST:PORT).
    #[arg(long, short = 'p', env = "ROTOR_PORT", default_value_t = 8000)]
    pub port: u16,
    /// Address to listen on. Keep the default (loopback) unless other machines must connect.
    #[arg(long, env = "ROTOR_HOST", default_value = "127.0.0.1")]
    pub host: String,
    /// Nodes to learn the cluster from (comma-separated host:port); one reachable is enough.
    #[arg(long, env = "ROTOR_NODES", value_delimiter = ',', required = true)]
    pub nodes: Vec<String>,
    /// Partitions each new table is cut into.
    #[arg(long, env = "ROTOR_PARTITIONS", default_value_t = 4)]
    pub partitions: u32,
    /// Seconds a request may spend finding a leader or a live replica before it fails
    /// with ServiceUnavailable (the client's SDK then retries).
    #[arg(long, env = "ROTOR_REQUEST_DEADLINE_SECS", default_value_t = 10)]
    pub request_deadline_secs: u64,
    #[command(flatten)]
    pub connections: ConnectionArgs,
    /// Enable fault injection: fail a fraction of API calls with a chosen DynamoDB error
    /// and add latency, set over HTTP at `/_rotor/faults` on the API port (see the
    /// README). For testing applications' retries; never in production.
    #[arg(long, env = "ROTOR_FAULT_INJECTION")]
    pub fault_injection: bool,
    /// Log filter, e.g. `info`, `debug`, `rotor_router=debug` (RUST_LOG overrides it).
    #[arg(long, env = "ROTOR_LOG", default_value = "info")]
    pub log: String,
}

/// How the API port bounds its clients (`rotor router` and `rotor dev`).
#[derive(Debug, Clone, clap::Args)]
pub struct ConnectionArgs {
    /// Client connections served at once; more wait to be accepted. Keep it below the
    /// process's open-file limit (`ulimit -n`).
    #[arg(long, env = "ROTOR_MAX_CONNECTIONS", default_value_t = 4096)]
    pub max_connections: usize,
    /// Seconds a client has to send a request's headers, and again its body; a
    /// connection idle or sending more slowly than that is closed (so slow clients
    /// cannot hold connections).
    #[arg(long, env = "ROTOR_READ_TIMEOUT_SECS", default_value_t = 30)]
    pub read_timeout_secs: u64,
}

impl ConnectionArgs {
    pub fn limits(&self) -> ConnectionLimits {
        ConnectionLimits {
            max_connections: self.max_connections.max(1),
            read_timeout: Duration::from_secs(self.read_timeout_secs.max(1)),
        }
    }
}

/// Serves the API for the cluster behind `args.nodes` until `shutdown` resolves.
pub async fn serve(
    args: &RouterArgs,
    metrics: Option<rotor_router::http::MetricsRender>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let addr: SocketAddr = format!("{}:{}", args.host, args.port)
        .parse()
        .with_context(|| format!("--host {} is not an IP address", args.host))?;
    let listener = tokio::net::TcpListener::bind(addr).await.with_context(|| {
        format!("cannot listen on {addr} (is the port in use? choose another with --port)")
    })?;
    let backend = ClusterBackend::connect(
        args.nodes.clone(),
        ClusterOptions {
            partitions_per_table: args.partitions.max(1),
            request_deadline: Duration::from_secs(args.request_deadline_secs.max(1)),
        },
    );
    backend
        .wait_ready(Duration::from_secs(30))
        .await
        .context("no node answered; check --nodes and that the nodes run")?;
    tracing::info!(
        "listening on http://{} (DynamoDB API)",
        listener.local_addr()?
    );
    let faults = args.fault_injection.then(|| {
        tracing::warn!(
            "fault injection enabled: http://{}{}",
            addr,
            rotor_router::http::FAULTS_PATH
        );
        Arc::new(ApiFaults::default())
    });
    let options = ServerOptions {
        limits: args.connections.limits(),
        metrics,
        faults,
    };
    rotor_router::serve(listener, backend, options, shutdown).await?;
    Ok(())
}

pub async fn run(args: RouterArgs) -> anyhow::Result<()> {
    telemetry::init_logging(&args.log);
    let metrics = telemetry::init_metrics();
    let shutdown = async {
        let _ = tokio::signal::ctrl_c().await;
        tracing::info!("shutting down");
    };
    serve(&args, metrics, shutdown).await
}
