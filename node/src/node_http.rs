//! A node's HTTP side door: `/metrics` (Prometheus), `/healthz` (the process runs) and
//! `/readyz` (the node knows a metadata leader and every partition group it hosts has
//! a leader), for Kubernetes probes and scraping.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use rotor_router::http::MetricsRender;

use crate::host::Host;

struct HttpState {
    host: Arc<Host>,
    metrics: Option<MetricsRender>,
}

pub async fn serve(
    host: Arc<Host>,
    metrics: Option<MetricsRender>,
    listener: tokio::net::TcpListener,
) -> anyhow::Result<()> {
    let state = Arc::new(HttpState { host, metrics });
    let app = axum::Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(render_metrics))
        .with_state(state);
    axum::serve(listener, app).await?;
    Ok(())
}

async fn readyz(State(state): State<Arc<HttpState>>) -> Response {
    let host = &state.host;
    if host.meta.metrics().borrow().current_leader.is_none() {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            "no metadata leader known\n",
        )
            .into_response();
    }
    let leaderless = host
        .groups()
        .iter()
        .filter(|(_, g)| g.raft.metrics().borrow().current_leader.is_none())
        .count();
    if leaderless > 0 {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("{leaderless} partition groups have no leader\n"),
        )
            .into_response();
    }
    "ready\n".into_response()
}

async fn render_metrics(State(state): State<Arc<HttpState>>) -> Response {
    match &state.metrics {
        Some(render) => render().into_response(),
        None => (StatusCode::NOT_FOUND, "metrics are not enabled\n").into_response(),
    }
}
