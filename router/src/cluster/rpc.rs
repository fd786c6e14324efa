//! The small helpers every gRPC call to a node shares: deadlines on both sides, the
//! model's values out of their messages, readable statuses, the retry counter, and
//! whether a failed call was never sent.

use std::future::Future;
use std::time::Duration;

use rotor_proto::WireError;
use tonic::{Code, Status};

use crate::backend::BackendError;

pub(super) fn retried(reason: &'static str) {
    metrics::counter!("rotor_router_retries_total", "reason" => reason).increment(1);
}

/// A model value from a node's message (`what` names it in the error).
pub(super) fn from_wire<M, T>(message: M, what: &str) -> Result<T, BackendError>
where
    T: TryFrom<M, Error = WireError>,
{
    T::try_from(message).map_err(|e| wire_error(what, e))
}

pub(super) fn wire_error(what: &str, e: WireError) -> BackendError {
    BackendError::Internal(format!("unreadable {what} from a node: {e}"))
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
