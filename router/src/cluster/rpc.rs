//! The small helpers every gRPC call to a node shares: deadlines on both sides, bincode
//! payloads, readable statuses, the retry counter, and whether a failed call was never sent.

use std::future::Future;
use std::time::Duration;

use serde::de::DeserializeOwned;
use tonic::{Code, Status};

use crate::backend::BackendError;

pub(super) fn retried(reason: &'static str) {
    metrics::counter!("rotor_router_retries_total", "reason" => reason).increment(1);
}

pub(super) fn decode<T: DeserializeOwned>(bytes: &[u8], what: &str) -> Result<T, BackendError> {
    bincode::deserialize(bytes)
        .map_err(|e| BackendError::Internal(format!("undecodable {what} from a node: {e}")))
}

pub(super) fn encode<T: serde::Serialize>(value: &T, what: &str) -> Result<Vec<u8>, BackendError> {
    bincode::serialize(value).map_err(|e| BackendError::Internal(format!("encoding {what}: {e}")))
}

/// A request that tells the server how long the client waits.
pub(super) fn request<T>(message: T, timeout: Duration) -> tonic::Request<T> {
    let mut req = tonic::Request::new(message);
    req.set_timeout(timeout);
    req
}

/// An RPC bounded by `timeout` on this side too.
pub(super) async fn timed<T>(
    timeout: Duration,
    call: impl Future<Output = Result<tonic::Response<T>, Status>>,
) -> Result<T, Status> {
    match tokio::time::timeout(timeout, call).await {
        Ok(result) => result.map(tonic::Response::into_inner),
        Err(_) => Err(Status::deadline_exceeded(format!(
            "no answer within {} ms",
            timeout.as_millis()
        ))),
    }
}

/// True when the call failed while connecting, so the node never saw the request and a
/// write may go elsewhere. A connection lost after sending (reset, keep-alive timeout:
/// also `Unavailable`, "http2 error") leaves a write's fate unknown: not retried.
pub(super) fn never_sent(status: &Status) -> bool {
    status.code() == Code::Unavailable && status.message().contains("connect error")
}

pub(super) fn status_text(s: &Status) -> String {
    let mut text = format!("{:?}: {}", s.code(), s.message());
    if let Some(source) = std::error::Error::source(s) {
        text.push_str(&format!(" ({source})"));
    }
    text
}
