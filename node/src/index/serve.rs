//! The `Partition.IndexWrite` RPC: a base partition's changes proposed to the log of
//! the index partition they are for (its leader).

use openraft::error::{ClientWriteError, RaftError};
use rotor_model::capacity::write_units;
use rotor_model::global_index::{IndexChange, IndexWrite};
use rotor_model::keys::token_of_item_key;
use rotor_proto::v1 as pb;
use rotor_proto::v1::index_write_reply::Result as IndexWriteResult;
use tonic::Status;

use crate::raft::{Command, Reply};
use crate::service::{account, bad_request, refused, stale, NodeService};

impl NodeService {
    pub(crate) async fn serve_index_write(
        &self,
        req: pb::IndexWriteRequest,
    ) -> Result<pb::IndexWriteReply, Status> {
        let reply = |result| pb::IndexWriteReply {
            result: Some(result),
        };
        let Some(group) = self.partition(req.partition)? else {
            let refusal = refused(pb::Refusal::UnknownPartition, 0);
            return Ok(reply(IndexWriteResult::Refused(refusal)));
        };
        if let Err(hint) = group.leads_for_writes(self.host.id, self.host.liveness.dead_after) {
            let refusal = refused(pb::Refusal::NotLeader, hint);
            return Ok(reply(IndexWriteResult::Refused(refusal)));
        }
        let write = req
            .write
            .ok_or(rotor_proto::WireError::Missing("IndexWriteRequest.write"))
            .and_then(IndexWrite::try_from)
            .map_err(|e| bad_request("index write", e))?;
        if !write
            .changes
            .iter()
            .all(|(_, c)| group.partition.owns_key(c.key()))
        {
            return Ok(reply(IndexWriteResult::Refused(stale(self.map_epoch()))));
        }
        let entries = write.changes.len();
        // What the entries cost the index, as DynamoDB meters a GSI's writes: one unit
        // per KB of each entry written or removed (metered where they land, so that
        // the autoscaler splits a hot index partition like a table's).
        let costs: Vec<(Option<u64>, f64)> = write
            .changes
            .iter()
            .map(|(_, c)| {
                let bytes = match c {
                    IndexChange::Put { entry, .. } => rotor_model::value::item_size(entry),
                    IndexChange::Delete { .. } => 1,
                };
                (token_of_item_key(c.key()), write_units(bytes))
            })
            .collect();
        match group
            .raft
            .client_write(Command::IndexWrite(Box::new(write)))
            .await
        {
            Ok(resp) => Ok(reply(match resp.data {
                Reply::IndexApplied => {
                    let map = self.host.map.borrow().clone();
                    for (token, units) in costs {
                        account(&group, &map, token, true, units);
                    }
                    metrics::counter!("rotor_index_writes_total").increment(1);
                    tracing::trace!(entries, "index write applied");
                    IndexWriteResult::AppliedAt(resp.log_id.index)
                }
                Reply::NotReleased => {
                    IndexWriteResult::Refused(refused(pb::Refusal::NotReleased, 0))
                }
                Reply::BackfillRestart => {
                    IndexWriteResult::Refused(refused(pb::Refusal::BackfillRestart, 0))
                }
                Reply::NotOwned => IndexWriteResult::Refused(stale(self.map_epoch())),
                other => return Err(Status::internal(format!("unexpected reply {other:?}"))),
            })),
            // Idempotent: the sender may send it again wherever it lands.
            Err(RaftError::APIError(ClientWriteError::ForwardToLeader(f))) => {
                Err(Status::aborted(format!(
                    "leadership moved to {:?} while the index write was in flight",
                    f.leader_id
                )))
            }
            Err(e) => Err(Status::internal(e.to_string())),
        }
    }
}
