//! `rotor dev`: the DynamoDB API on localhost over a local store, in one process.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use rotor_router::ServerOptions;
use rotor_storage::Store;

use crate::local::LocalBackend;
use crate::telemetry;

/// Settings of `rotor dev`.
#[derive(Debug, Clone, clap::Args)]
pub struct DevArgs {
    /// Directory holding the data; created if missing, reused across restarts.
    #[arg(long, env = "ROTOR_DATA_DIR", default_value = "./rotor-data")]
    pub data_dir: PathBuf,
    /// Port of the DynamoDB API (http://HOST:PORT).
    #[arg(long, short = 'p', env = "ROTOR_PORT", default_value_t = 8000)]
    pub port: u16,
    /// Address to listen on. Keep the default (loopback) unless other machines must connect.
    #[arg(long, env = "ROTOR_HOST", default_value = "127.0.0.1")]
    pub host: String,
    /// Partitions each new table is cut into (more exercises multi-partition paths).
    #[arg(long, env = "ROTOR_PARTITIONS", default_value_t = 4)]
    pub partitions: u32,
    /// Log filter, e.g. `info`, `debug`, `rotor_router=debug` (RUST_LOG overrides it).
    #[arg(long, default_value = "info")]
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
    let store = Store::open(&args.data_dir).with_context(|| {
        format!(
            "cannot open the data in {} (is another rotor using it? choose another with --data-dir)",
            args.data_dir.display()
        )
    })?;
    let backend = Arc::new(LocalBackend::new(Arc::new(store), args.partitions));
    let addr: SocketAddr = format!("{}:{}", args.host, args.port)
        .parse()
        .with_context(|| format!("--host {} is not an IP address", args.host))?;
    let listener = tokio::net::TcpListener::bind(addr).await.with_context(|| {
        format!("cannot listen on {addr} (is the port in use? choose another with --port)")
    })?;
    let local = listener.local_addr()?;
    tracing::info!(
        "listening on http://{local} (DynamoDB API), data in {}",
        args.data_dir.display()
    );
    let shutdown = async {
        let _ = tokio::signal::ctrl_c().await;
        tracing::info!("shutting down");
    };
    rotor_router::serve(listener, backend, ServerOptions { metrics }, shutdown).await?;
    Ok(())
}
