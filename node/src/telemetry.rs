//! Logging (human-readable, `RUST_LOG` or `--log` filters) and Prometheus metrics.

use std::sync::Arc;
use std::time::Duration;

use metrics_exporter_prometheus::PrometheusBuilder;
use rotor_router::http::MetricsRender;
use tracing_subscriber::EnvFilter;

/// Installs the log subscriber: `filter` (e.g. `info`, `rotor=debug`) unless `RUST_LOG` is set.
pub fn init_logging(filter: &str) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(filter));
    // Colours only on a terminal: a log file or a pipe gets plain text.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stdout()))
        .try_init();
}

/// Installs the metrics recorder and returns the `/metrics` renderer.
pub fn init_metrics() -> Option<MetricsRender> {
    let handle = PrometheusBuilder::new().install_recorder().ok()?;
    let upkeep = handle.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(5));
        loop {
            tick.tick().await;
            upkeep.run_upkeep();
        }
    });
    Some(Arc::new(move || handle.render()))
}
