//! A node's HTTP side door: `/metrics` (Prometheus), `/healthz` (the process runs) and
//! `/readyz` (the node knows a metadata leader and every partition group it hosts has
//! a leader), for Kubernetes probes and scraping; with `--fault-injection`, also
//! `/_rotor/faults` (GET shows, PUT replaces, DELETE clears the rules on links to peers).

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use rotor_router::http::{pretty_json, MetricsRender};

use crate::faults::PeerFaultRules;
use crate::host::Host;

struct HttpState {
    host: Arc<Host>,
    metrics: Option<MetricsRender>,
}

pub async fn serve(
    host: Arc<Host>,
    metrics: Option<MetricsRender>,
    listener: tokio::net::TcpListener,
    fault_injection: bool,
) -> anyhow::Result<()> {
    let state = Arc::new(HttpState { host, metrics });
    let mut app = axum::Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(render_metrics));
    if fault_injection {
        app = app.route(
            rotor_router::http::FAULTS_PATH,
            get(show_faults).put(set_faults).delete(clear_faults),
        );
    }
    let app = app.with_state(state);
    axum::serve(listener, app).await?;
    Ok(())
}

async fn show_faults(State(state): State<Arc<HttpState>>) -> Response {
    pretty_json(&state.host.peers.faults.rules())
}

async fn set_faults(State(state): State<Arc<HttpState>>, body: Bytes) -> Response {
    let rules: PeerFaultRules = match serde_json::from_slice(&body) {
        Ok(rules) => rules,
        Err(e) => {
            return (
                StatusCode::BAD_REQUEST,
                format!("not peer fault rules ({{\"peers\": {{\"2\": {{\"delay_ms\": 100, \"drop_fraction\": 0.5}}}}}}): {e}\n"),
            )
                .into_response()
        }
    };
    let faults = &state.host.peers.faults;
    match faults.set(rules) {
        Ok(()) => pretty_json(&faults.rules()),
        Err(e) => (StatusCode::BAD_REQUEST, format!("{e}\n")).into_response(),
    }
}

async fn clear_faults(State(state): State<Arc<HttpState>>) -> &'static str {
    state.host.peers.faults.clear();
    "cleared\n"
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
