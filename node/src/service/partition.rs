//! The `rotor.v1.Partition` service: item writes, gets, range reads and partition
//! stats, from routers; index writes from other nodes (served in `crate::index`).

use openraft::error::{ClientWriteError, RaftError};
use rotor_model::capacity::{read_units, write_units};
use rotor_model::read::ReadRange;
use rotor_model::write::WriteOutcome;
use rotor_model::write::WriteRequest as ModelWrite;
use rotor_proto::v1 as pb;
use rotor_proto::v1::{get_reply, read_range_reply, stats_reply, write_reply};
use tonic::{Request, Response, Status};

use super::{account, bad_request, item_bytes, refused, stale, NodeService};
use crate::host::PartitionGroup;
use crate::raft::{Command, Reply};

#[tonic::async_trait]
impl pb::partition_server::Partition for NodeService {
    async fn write(
        &self,
        request: Request<pb::WriteRequest>,
    ) -> Result<Response<pb::WriteReply>, Status> {
        let req = request.into_inner();
        let Some(group) = self.partition(req.partition)? else {
            return Ok(Response::new(pb::WriteReply {
                result: Some(write_reply::Result::Refused(refused(
                    pb::Refusal::UnknownPartition,
                    0,
                ))),
                log_index: 0,
            }));
        };
        // Refuse before proposing when another node leads (or this one has lost its
        // followers): the write surely did not happen, so the router may send it
        // elsewhere.
        if let Err(hint) = group.leads_for_writes(self.host.id, self.host.liveness.dead_after) {
            return Ok(Response::new(pb::WriteReply {
                result: Some(write_reply::Result::Refused(refused(
                    pb::Refusal::NotLeader,
                    hint,
                ))),
                log_index: 0,
            }));
        }
        let cmd = req
            .command
            .ok_or(rotor_proto::WireError::Missing("WriteRequest.command"))
            .and_then(ModelWrite::try_from)
            .map_err(|e| bad_request("write", e))?;
        if !group.partition.owns_key(&cmd.item_key) {
            return Ok(Response::new(pb::WriteReply {
                result: Some(write_reply::Result::Refused(stale(self.map_epoch()))),
                log_index: 0,
            }));
        }
        let map = match self.admit(&group, true) {
            Ok(map) => map,
            Err(refusal) => {
                return Ok(Response::new(pb::WriteReply {
                    result: Some(write_reply::Result::Refused(refusal)),
                    log_index: 0,
                }))
            }
        };
        let token = rotor_model::keys::token_of_item_key(&cmd.item_key);
        let mut log_index = 0;
        let result = match group.raft.client_write(Command::Write(cmd)).await {
            Ok(resp) => match resp.data {
                Reply::Write(Ok(outcome)) => {
                    log_index = resp.log_id.index;
                    let bytes = match &outcome {
                        WriteOutcome::Applied { old, new } => {
                            item_bytes(old.as_ref()).max(item_bytes(new.as_ref()))
                        }
                        WriteOutcome::ConditionFailed { old } => item_bytes(old.as_ref()),
                    };
                    account(&group, &map, token, true, write_units(bytes));
                    write_reply::Result::Outcome(pb::WriteOutcome::from(&outcome))
                }
                Reply::Write(Err(msg)) => write_reply::Result::Validation(msg),
                // Applied after a split gave the key away: it did not happen.
                Reply::NotOwned => write_reply::Result::Refused(stale(self.map_epoch())),
                other => return Err(Status::internal(format!("unexpected reply {other:?}"))),
            },
            // Leadership was lost after the write was proposed: it may still commit
            // under the next leader. Its fate is unknown; the router must not retry it.
            Err(RaftError::APIError(ClientWriteError::ForwardToLeader(f))) => {
                return Err(Status::aborted(format!(
                    "leadership moved to {:?} while the write was in flight; its outcome is unknown",
                    f.leader_id
                )))
            }
            Err(e) => return Err(Status::internal(e.to_string())),
        };
        Ok(Response::new(pb::WriteReply {
            result: Some(result),
            log_index,
        }))
    }

    async fn get(
        &self,
        request: Request<pb::GetRequest>,
    ) -> Result<Response<pb::GetReply>, Status> {
        let req = request.into_inner();
        let Some(group) = self.partition(req.partition)? else {
            return Ok(Response::new(pb::GetReply {
                result: Some(get_reply::Result::Refused(refused(
                    pb::Refusal::UnknownPartition,
                    0,
                ))),
                ..Default::default()
            }));
        };
        if let Some(r) = self
            .read_barrier(&group, req.consistent, req.min_applied)
            .await?
        {
            return Ok(Response::new(pb::GetReply {
                result: Some(get_reply::Result::Refused(r)),
                ..Default::default()
            }));
        }
        if !group.partition.owns_key(&req.item_key) {
            return Ok(Response::new(pb::GetReply {
                result: Some(get_reply::Result::Refused(stale(self.map_epoch()))),
                ..Default::default()
            }));
        }
        let map = match self.admit(&group, false) {
            Ok(map) => map,
            Err(refusal) => {
                return Ok(Response::new(pb::GetReply {
                    result: Some(get_reply::Result::Refused(refusal)),
                    ..Default::default()
                }))
            }
        };
        let item = rotor_storage::items::get(&self.host.engine, &req.item_key)
            .map_err(|e| Status::internal(e.to_string()))?;
        let units = read_units(item_bytes(item.as_ref()), req.consistent);
        let token = rotor_model::keys::token_of_item_key(&req.item_key);
        account(&group, &map, token, false, units);
        let result = match item {
            Some(item) => get_reply::Result::Item(rotor_proto::item_to_wire(&item)),
            None => get_reply::Result::NotFound(true),
        };
        Ok(Response::new(pb::GetReply {
            result: Some(result),
            applied_index: applied_index(&group),
        }))
    }

    async fn read_range(
        &self,
        request: Request<pb::ReadRangeRequest>,
    ) -> Result<Response<pb::ReadRangeReply>, Status> {
        let req = request.into_inner();
        let Some(group) = self.partition(req.partition)? else {
            return Ok(Response::new(pb::ReadRangeReply {
                result: Some(read_range_reply::Result::Refused(refused(
                    pb::Refusal::UnknownPartition,
                    0,
                ))),
                ..Default::default()
            }));
        };
        if let Some(r) = self
            .read_barrier(&group, req.consistent, req.min_applied)
            .await?
        {
            return Ok(Response::new(pb::ReadRangeReply {
                result: Some(read_range_reply::Result::Refused(r)),
                ..Default::default()
            }));
        }
        let range = req
            .range
            .ok_or(rotor_proto::WireError::Missing("ReadRangeRequest.range"))
            .and_then(ReadRange::try_from)
            .map_err(|e| bad_request("range", e))?;
        if let Some(index) = range.local_index {
            if usize::from(index.ordinal) >= group.partition.local_indexes().indexes.len() {
                return Err(Status::invalid_argument(format!(
                    "table {} has no local secondary index at position {}",
                    group.table_id, index.ordinal
                )));
            }
        }
        let held = range.within(group.table_id, &group.partition.range());
        if !held {
            return Ok(Response::new(pb::ReadRangeReply {
                result: Some(read_range_reply::Result::Refused(stale(self.map_epoch()))),
                ..Default::default()
            }));
        }
        let map = match self.admit(&group, false) {
            Ok(map) => map,
            Err(refusal) => {
                return Ok(Response::new(pb::ReadRangeReply {
                    result: Some(read_range_reply::Result::Refused(refusal)),
                    ..Default::default()
                }))
            }
        };
        let token = range.start_token();
        let consistent = req.consistent;
        let engine = self.host.engine.clone();
        let reader = group.clone();
        let page = tokio::task::spawn_blocking(move || {
            rotor_storage::index::read_index_range(
                &engine,
                reader.partition.local_indexes(),
                reader.table_id,
                &range,
            )
        })
        .await
        .map_err(|e| Status::internal(e.to_string()))?
        .map_err(|e| Status::internal(e.to_string()))?;
        account(
            &group,
            &map,
            token,
            false,
            read_units(page.bytes, consistent),
        );
        Ok(Response::new(pb::ReadRangeReply {
            result: Some(read_range_reply::Result::Page(pb::RangePage::from(&page))),
            applied_index: applied_index(&group),
        }))
    }

    async fn stats(
        &self,
        request: Request<pb::StatsRequest>,
    ) -> Result<Response<pb::StatsReply>, Status> {
        let req = request.into_inner();
        let mut local_indexes = Vec::new();
        let result = match self.partition(req.partition)? {
            Some(group) => match self.read_barrier(&group, false, req.min_applied).await? {
                Some(r) => stats_reply::Result::Refused(r),
                None => {
                    local_indexes = group
                        .local_index_stats(&self.host.engine)
                        .await
                        .map_err(|e| Status::internal(e.to_string()))?
                        .iter()
                        .map(pb::TableStats::from)
                        .collect();
                    stats_reply::Result::Stats(pb::TableStats::from(&group.partition.stats()))
                }
            },
            None => stats_reply::Result::Refused(refused(pb::Refusal::UnknownPartition, 0)),
        };
        Ok(Response::new(pb::StatsReply {
            result: Some(result),
            local_indexes,
        }))
    }

    async fn index_write(
        &self,
        request: Request<pb::IndexWriteRequest>,
    ) -> Result<Response<pb::IndexWriteReply>, Status> {
        let reply = self.serve_index_write(request.into_inner()).await?;
        Ok(Response::new(reply))
    }
}

/// The replica's applied log index now (after a read: an upper bound of what it read).
fn applied_index(group: &PartitionGroup) -> u64 {
    group
        .raft
        .metrics()
        .borrow()
        .last_applied
        .map_or(0, |l| l.index)
}
