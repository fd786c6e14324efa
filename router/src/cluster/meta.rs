//! Metadata changes: proposing a command to any node (which forwards it to the metadata
//! leader) and waiting until the cached map has caught up with its outcome.

use rotor_model::cluster::{MetaCommand, MetaOutcome, MetaReply};
use rotor_proto::v1 as pb;
use rotor_proto::v1::cluster_client::ClusterClient;
use tokio::time::Instant;
use tonic::Code;

use rotor_proto::WireError;

use super::rpc::{from_wire, request, retried, status_text, timed, wire_error};
use super::{ClusterBackend, MAX_CALL, PROPOSE_BACKOFF};
use crate::backend::BackendError;

impl ClusterBackend {
    /// Proposes a metadata change to any node, then waits (within `deadline`) until the
    /// cached map has caught up with it, so that the caller's next request sees it.
    pub(super) async fn apply_meta(&self, command: MetaCommand) -> Result<MetaReply, BackendError> {
        let deadline = Instant::now() + self.options.request_deadline;
        let outcome = self.propose(&command, deadline).await?;
        if !self.wait_for_epoch(outcome.epoch, deadline).await {
            tracing::warn!(
                epoch = outcome.epoch,
                cached = self.map().epoch,
                "cluster map did not catch up with a metadata change in time"
            );
        }
        Ok(outcome.reply)
    }

    async fn propose(
        &self,
        command: &MetaCommand,
        deadline: Instant,
    ) -> Result<MetaOutcome, BackendError> {
        let payload = pb::MetaCommand::from(command);
        let mut last = String::from("no node is known");
        loop {
            for addr in self.shared.addresses() {
                let now = Instant::now();
                if now >= deadline {
                    break;
                }
                let per_call = (deadline - now).min(MAX_CALL);
                let channel = match self.shared.channel(&addr) {
                    Ok(c) => c,
                    Err(e) => {
                        last = e;
                        continue;
                    }
                };
                let mut client = ClusterClient::new(channel);
                let req = request(
                    pb::ProposeRequest {
                        command: Some(payload.clone()),
                    },
                    per_call,
                );
                match timed(per_call, client.propose(req)).await {
                    Ok(reply) => {
                        let outcome = reply.outcome.ok_or_else(|| {
                            wire_error(
                                "metadata outcome",
                                WireError::Missing("ProposeReply.outcome"),
                            )
                        })?;
                        return from_wire(outcome, "metadata outcome");
                    }
                    Err(s) if s.code() == Code::Unavailable => {
                        last = format!("{addr}: {}", status_text(&s));
                        retried("meta_unavailable");
                        tracing::debug!(node = %addr, error = %last, "metadata proposal not taken; trying another node");
                    }
                    // The change may or may not have been applied: do not propose it twice.
                    Err(s) => {
                        return Err(BackendError::Unavailable(format!(
                            "metadata change failed at {addr}: {}",
                            status_text(&s)
                        )))
                    }
                }
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(BackendError::Unavailable(format!(
                    "no node took the metadata change within {} s: {last}",
                    self.options.request_deadline.as_secs_f64()
                )));
            }
            tokio::time::sleep_until((now + PROPOSE_BACKOFF).min(deadline)).await;
        }
    }
}
