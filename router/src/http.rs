//! The HTTP edge: one `POST /` dispatched on `X-Amz-Target`, plus health and metrics.
//!
//! Every request gets a request id (returned as `x-amzn-RequestId`), a tracing span, a
//! count and a latency in metrics, and a body CRC32 (`x-amz-crc32`, which boto3 checks).
//! Bodies over 16 MB (by their Content-Length, before any is read), malformed JSON and
//! unknown targets are answered with DynamoDB's errors before any work is done; a body
//! that takes longer than the read timeout to arrive is refused and its connection
//! closed.

use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde_json::Value as Json;
use tracing::Instrument;

use crate::backend::Backend;
use crate::conn::{serve_connections, ConnectionLimits};
use crate::error::ApiError;
use crate::faults::{ApiFaultRule, ApiFaults};
use crate::operation::Operation;
use crate::ops;

/// Largest request body DynamoDB accepts.
pub const MAX_BODY_BYTES: usize = 16 * 1024 * 1024;

/// Renders the process's metrics in Prometheus text format.
pub type MetricsRender = Arc<dyn Fn() -> String + Send + Sync>;

#[derive(Clone, Default)]
pub struct ServerOptions {
    /// How many connections at once, and how long a client may take to send.
    pub limits: ConnectionLimits,
    pub metrics: Option<MetricsRender>,
    /// Fault injection (`--fault-injection`): when set, every API call passes through it
    /// and `/_rotor/faults` controls it.
    pub faults: Option<Arc<ApiFaults>>,
}

struct AppState<B> {
    backend: Arc<B>,
    options: ServerOptions,
}

/// Serves the API on `listener` until `shutdown` resolves, then drains connections.
pub async fn serve<B: Backend>(
    listener: tokio::net::TcpListener,
    backend: Arc<B>,
    options: ServerOptions,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let faults = options.faults.clone();
    let limits = options.limits;
    let state = Arc::new(AppState { backend, options });
    let mut app = Router::new()
        .route(
            "/",
            post(handle_api::<B>).get(|| async { "healthy: rotor\n" }),
        )
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(|| async { "ready\n" }))
        .route("/metrics", get(handle_metrics::<B>));
    if let Some(faults) = faults {
        app = app.route(FAULTS_PATH, fault_control(faults));
    }
    let app = app
        // DynamoDB serves its API on any path.
        .fallback(post(handle_api::<B>))
        .layer(axum::extract::DefaultBodyLimit::disable())
        .with_state(state);
    serve_connections(listener, app, limits, shutdown).await
}

/// Where fault injection is controlled, on the API port, when it is enabled.
pub const FAULTS_PATH: &str = "/_rotor/faults";

/// GET shows the rule, PUT replaces it (JSON, see [`ApiFaultRule`]), DELETE clears it.
fn fault_control<S: Clone + Send + Sync + 'static>(
    faults: Arc<ApiFaults>,
) -> axum::routing::MethodRouter<S> {
    let show = faults.clone();
    let replace = faults.clone();
    get(move || async move { pretty_json(&show.rule()) })
        .put(move |body: Bytes| async move {
            let rule: ApiFaultRule = match serde_json::from_slice(&body) {
                Ok(rule) => rule,
                Err(e) => {
                    return (StatusCode::BAD_REQUEST, format!("not a fault rule: {e}\n"))
                        .into_response()
                }
            };
            match replace.set(rule) {
                Ok(()) => pretty_json(&replace.rule()),
                Err(e) => (StatusCode::BAD_REQUEST, format!("{e}\n")).into_response(),
            }
        })
        .delete(move || async move {
            faults.clear();
            "cleared\n"
        })
}

/// A value as a pretty JSON response (the fault-control endpoints of routers and nodes).
pub fn pretty_json(value: &impl serde::Serialize) -> Response {
    let body = serde_json::to_string_pretty(value).unwrap_or_default() + "\n";
    ([("content-type", "application/json")], body).into_response()
}

async fn handle_metrics<B: Backend>(State(state): State<Arc<AppState<B>>>) -> Response {
    match &state.options.metrics {
        Some(render) => render().into_response(),
        None => (StatusCode::NOT_FOUND, "metrics are not enabled\n").into_response(),
    }
}

async fn handle_api<B: Backend>(State(state): State<Arc<AppState<B>>>, req: Request) -> Response {
    let request_id = new_request_id();
    let started = Instant::now();
    let op = target(req.headers()).and_then(Operation::from_target);
    let op_name = op.map_or("Unknown", Operation::name);
    let span = tracing::info_span!("request", op = op_name, id = %request_id);
    let result = async {
        let op = op.ok_or(ApiError::UnknownOperation)?;
        if !req.headers().contains_key("authorization") {
            return Err(ApiError::MissingAuthenticationToken);
        }
        let (parts, body) = req.into_parts();
        let region = signed_region(&parts.headers);
        let too_large =
            || ApiError::RequestTooLarge(format!("Request size exceeded {MAX_BODY_BYTES} bytes"));
        if content_length(&parts.headers).is_some_and(|n| n > MAX_BODY_BYTES as u64) {
            return Err(too_large());
        }
        let read_timeout = state.options.limits.read_timeout;
        let body = tokio::time::timeout(read_timeout, axum::body::to_bytes(body, MAX_BODY_BYTES))
            .await
            .map_err(|_| ApiError::RequestTimeout(read_timeout))?
            .map_err(|_| too_large())?;
        let json = parse_body(&body)?;
        if let Some(faults) = &state.options.faults {
            faults.before_call(op.name()).await?;
        }
        ops::dispatch(state.backend.as_ref(), op, &json, region).await
    }
    .instrument(span.clone())
    .await;
    let elapsed = started.elapsed();
    metrics::histogram!("rotor_api_request_seconds", "op" => op_name).record(elapsed.as_secs_f64());
    let (status, body) = match result {
        Ok(json) => {
            metrics::counter!("rotor_api_requests_total", "op" => op_name, "outcome" => "ok")
                .increment(1);
            (StatusCode::OK, json)
        }
        Err(err) => {
            metrics::counter!("rotor_api_requests_total", "op" => op_name, "outcome" => err.code())
                .increment(1);
            let _enter = span.enter();
            match &err {
                ApiError::Internal(m) => tracing::error!(error = %m, "internal error"),
                ApiError::InjectedInternal(_) => {}
                ApiError::ServiceUnavailable(m) => tracing::warn!(error = %m, "unavailable"),
                other => tracing::debug!(error = %other, code = other.code(), "client error"),
            }
            let status =
                StatusCode::from_u16(err.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            (status, err.body())
        }
    };
    let service = op.map_or(crate::operation::Service::DynamoDb, Operation::service);
    let mut resp = json_response(status, &body, &request_id, service.content_type());
    // A body refused unread (too large, too slow) leaves the connection unusable.
    if matches!(status.as_u16(), 408 | 413) {
        resp.headers_mut()
            .insert("connection", HeaderValue::from_static("close"));
    }
    resp
}

/// The region in the request's SigV4 credential scope
/// (`Credential=<key>/<date>/<region>/<service>/aws4_request`); DynamoDB Local's
/// `ddblocal` when there is none.
fn signed_region(headers: &HeaderMap) -> &str {
    headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|auth| auth.split("Credential=").nth(1))
        .and_then(|scope| scope.split('/').nth(2))
        .filter(|r| !r.is_empty())
        .unwrap_or("ddblocal")
}

fn content_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get("content-length")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
}

fn target(headers: &HeaderMap) -> Option<&str> {
    headers.get("x-amz-target").and_then(|v| v.to_str().ok())
}

fn parse_body(body: &Bytes) -> Result<Json, ApiError> {
    let json: Json = serde_json::from_slice(body).map_err(|_| {
        ApiError::Serialization("Start of structure or map found where not expected.".into())
    })?;
    if !json.is_object() {
        return Err(ApiError::Serialization(
            "Start of structure or map found where not expected.".into(),
        ));
    }
    Ok(json)
}

fn json_response(
    status: StatusCode,
    body: &Json,
    request_id: &str,
    content_type: &'static str,
) -> Response {
    let bytes = serde_json::to_vec(body).unwrap_or_else(|_| b"{}".to_vec());
    let crc = crc32fast::hash(&bytes);
    let mut resp = Response::new(Body::from(bytes));
    *resp.status_mut() = status;
    let headers = resp.headers_mut();
    headers.insert("content-type", HeaderValue::from_static(content_type));
    headers.insert("x-amz-crc32", HeaderValue::from(crc));
    if let Ok(id) = HeaderValue::from_str(request_id) {
        headers.insert("x-amzn-requestid", id);
    }
    resp
}

/// A request id in DynamoDB's shape: 52 upper-case letters and digits.
fn new_request_id() -> String {
    let a = uuid::Uuid::new_v4().simple().to_string().to_uppercase();
    let b = uuid::Uuid::new_v4().simple().to_string().to_uppercase();
    format!("{a}{}", &b[..20])
}
