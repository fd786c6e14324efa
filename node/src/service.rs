//! The node's gRPC services: partition reads and writes (from routers), cluster
//! membership and metadata (from routers, nodes and `rotor admin`), raft traffic (from
//! other nodes).

use std::pin::Pin;
use std::sync::Arc;

use futures::{Stream, StreamExt};
use openraft::error::{CheckIsLeaderError, ClientWriteError, RaftError};
use rotor_model::capacity::{read_units, write_units};
use rotor_model::cluster::{partition_group, MetaCommand, META_GROUP};
use rotor_model::read::ReadRange;
use rotor_model::write::WriteOutcome;
use rotor_model::write::WriteRequest as ModelWrite;
use rotor_proto::v1 as pb;
use rotor_proto::v1::{get_reply, read_range_reply, stats_reply, write_reply};
use tokio_stream::wrappers::WatchStream;
use tonic::{Request, Response, Status};
use tracing::Instrument;

use crate::host::{Host, PartitionGroup, ProposeError};
use crate::raft::{Command, Raft, Reply};

/// How long an eventually consistent read waits for this replica to apply the
/// reader's last write before refusing (the router then asks another replica).
const FRESHNESS_WAIT: std::time::Duration = std::time::Duration::from_millis(30);

#[derive(Clone)]
pub struct NodeService {
    pub host: Arc<Host>,
}

fn refused(reason: pb::Refusal, leader_hint: u64) -> pb::Refused {
    pb::Refused {
        reason: reason as i32,
        leader_hint,
        epoch: 0,
        throttling_reason: String::new(),
    }
}

/// The key is no longer this partition's (a split gave it away): the sender's map is
/// older than `epoch`.
fn stale(epoch: u64) -> pb::Refused {
    pb::Refused {
        reason: pb::Refusal::StaleEpoch as i32,
        leader_hint: 0,
        epoch,
        throttling_reason: String::new(),
    }
}

/// The partition's share of the table's capacity is used up: nothing was done.
fn throttled(limit: rotor_model::table::ThroughputLimit, write: bool) -> pb::Refused {
    metrics::counter!("rotor_node_throttled_total", "reason" => limit.reason(write)).increment(1);
    pb::Refused {
        reason: pb::Refusal::Throttled as i32,
        leader_hint: 0,
        epoch: 0,
        throttling_reason: limit.reason(write).to_owned(),
    }
}

/// Counts what an admitted request cost: into its partition's meter (at its key's
/// token, for the split point) and its capacity buckets.
fn account(
    group: &PartitionGroup,
    map: &rotor_model::cluster::ClusterMap,
    token: Option<u64>,
    write: bool,
    units: f64,
) {
    let def = map.table_by_id(group.table_id).map(|t| &t.def);
    if write {
        group.meter.write(token, units);
    } else {
        group.meter.read(token, units);
    }
    group.throttle.charge(def, write, units);
}

fn item_bytes(item: Option<&rotor_model::Item>) -> usize {
    item.map_or(0, rotor_model::value::item_size)
}

fn bad_request(what: &str, e: impl std::fmt::Display) -> Status {
    Status::invalid_argument(format!("cannot decode {what}: {e}"))
}

fn encode<T: serde::Serialize>(value: &T) -> Result<Vec<u8>, Status> {
    bincode::serialize(value).map_err(|e| Status::internal(format!("cannot encode reply: {e}")))
}

impl NodeService {
    fn map_epoch(&self) -> u64 {
        self.host.map.borrow().epoch
    }

    /// Checks a request against its partition's capacity limits. Admitted: the map it
    /// was checked against, whose table definition its cost is then charged under
    /// (`account`). Refused: the answer to send, nothing done.
    fn admit(
        &self,
        group: &PartitionGroup,
        write: bool,
    ) -> Result<Arc<rotor_model::cluster::ClusterMap>, pb::Refused> {
        let map = self.host.map.borrow().clone();
        let def = map.table_by_id(group.table_id).map(|t| &t.def);
        group
            .throttle
            .admit(def, write)
            .map_err(|limit| throttled(limit, write))?;
        Ok(map)
    }

    fn partition(
        &self,
        pref: Option<pb::PartitionRef>,
    ) -> Result<Option<Arc<PartitionGroup>>, Status> {
        let pref = pref.ok_or_else(|| Status::invalid_argument("missing partition"))?;
        Ok(self
            .host
            .group(partition_group(pref.table_id, pref.partition)))
    }

    /// Confirms leadership with a quorum and waits until this replica has applied
    /// everything committed before the read: the read that follows is linearizable.
    async fn linearize(&self, raft: &Raft) -> Result<Option<pb::Refused>, Status> {
        match raft.ensure_linearizable().await {
            Ok(_) => Ok(None),
            Err(RaftError::APIError(CheckIsLeaderError::ForwardToLeader(f))) => Ok(Some(refused(
                pb::Refusal::NotLeader,
                f.leader_id.unwrap_or(0),
            ))),
            Err(RaftError::APIError(CheckIsLeaderError::QuorumNotEnough(_))) => {
                Ok(Some(refused(pb::Refusal::NotLeader, 0)))
            }
            Err(e) => Err(Status::unavailable(e.to_string())),
        }
    }

    /// What must hold before a read: linearizable (`consistent`), or at least the
    /// sender's last write applied here (waiting up to `FRESHNESS_WAIT`). `Some` refuses.
    async fn read_barrier(
        &self,
        group: &PartitionGroup,
        consistent: bool,
        min_applied: u64,
    ) -> Result<Option<pb::Refused>, Status> {
        let raft = &group.raft;
        if consistent {
            return self.linearize(raft).await;
        }
        if !group.ready_for_reads(self.host.id) {
            metrics::counter!("rotor_node_stale_read_refusals_total").increment(1);
            let hint = self.is_leader(raft).err().unwrap_or(0);
            return Ok(Some(refused(pb::Refusal::NotLeader, hint)));
        }
        if min_applied == 0 {
            return Ok(None);
        }
        let applied = raft
            .metrics()
            .borrow()
            .last_applied
            .map(|l| l.index)
            .unwrap_or(0);
        if applied >= min_applied {
            return Ok(None);
        }
        match raft
            .wait(Some(FRESHNESS_WAIT))
            .applied_index_at_least(Some(min_applied), "read your writes")
            .await
        {
            Ok(_) => Ok(None),
            Err(_) => {
                metrics::counter!("rotor_node_stale_read_refusals_total").increment(1);
                let hint = self.is_leader(raft).err().unwrap_or(0);
                Ok(Some(refused(pb::Refusal::NotLeader, hint)))
            }
        }
    }

    fn is_leader(&self, raft: &Raft) -> Result<(), u64> {
        let leader = raft.metrics().borrow().current_leader;
        match leader {
            Some(l) if l == self.host.id => Ok(()),
            Some(l) => Err(l),
            None => Err(0),
        }
    }
}

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
        // Refuse before proposing when another node leads: the write surely did not
        // happen, so the router may send it elsewhere.
        if let Err(hint) = self.is_leader(&group.raft) {
            return Ok(Response::new(pb::WriteReply {
                result: Some(write_reply::Result::Refused(refused(
                    pb::Refusal::NotLeader,
                    hint,
                ))),
                log_index: 0,
            }));
        }
        let cmd: ModelWrite =
            bincode::deserialize(&req.payload).map_err(|e| bad_request("write", e))?;
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
                    write_reply::Result::Outcome(encode(&outcome)?)
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
            Some(item) => get_reply::Result::Item(encode(&item)?),
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
        let range: ReadRange =
            bincode::deserialize(&req.range).map_err(|e| bad_request("range", e))?;
        if !group
            .partition
            .range()
            .holds_keys(group.table_id, &range.start, &range.end)
        {
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
        let token = rotor_model::keys::token_of_item_key(&range.start);
        let consistent = req.consistent;
        let engine = self.host.engine.clone();
        let page =
            tokio::task::spawn_blocking(move || rotor_storage::items::read_range(&engine, &range))
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
            result: Some(read_range_reply::Result::Page(encode(&page)?)),
            applied_index: applied_index(&group),
        }))
    }

    async fn stats(
        &self,
        request: Request<pb::StatsRequest>,
    ) -> Result<Response<pb::StatsReply>, Status> {
        let req = request.into_inner();
        let result = match self.partition(req.partition)? {
            Some(group) => match self.read_barrier(&group, false, req.min_applied).await? {
                Some(r) => stats_reply::Result::Refused(r),
                None => stats_reply::Result::Stats(encode(&group.partition.stats())?),
            },
            None => stats_reply::Result::Refused(refused(pb::Refusal::UnknownPartition, 0)),
        };
        Ok(Response::new(pb::StatsReply {
            result: Some(result),
        }))
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

fn propose_status(e: ProposeError) -> Status {
    match e {
        ProposeError::NoLeader | ProposeError::Forward(_) => Status::unavailable(e.to_string()),
        ProposeError::Raft(_) => Status::internal(e.to_string()),
    }
}

type MapStream = Pin<Box<dyn Stream<Item = Result<pb::MapUpdate, Status>> + Send>>;

#[tonic::async_trait]
impl pb::cluster_server::Cluster for NodeService {
    async fn join(
        &self,
        request: Request<pb::JoinRequest>,
    ) -> Result<Response<pb::JoinReply>, Status> {
        let req = request.into_inner();
        if req.node_id == 0 || req.addr.is_empty() {
            return Err(Status::invalid_argument(
                "a node needs an id above 0 and an address",
            ));
        }
        let epoch = self
            .host
            .handle_join(req.node_id, req.addr)
            .await
            .map_err(propose_status)?;
        Ok(Response::new(pb::JoinReply { epoch }))
    }

    async fn propose(
        &self,
        request: Request<pb::ProposeRequest>,
    ) -> Result<Response<pb::ProposeReply>, Status> {
        let cmd: MetaCommand = bincode::deserialize(&request.into_inner().command)
            .map_err(|e| bad_request("command", e))?;
        let span = tracing::info_span!("meta", command = ?std::mem::discriminant(&cmd));
        let outcome = self
            .host
            .propose(cmd)
            .instrument(span)
            .await
            .map_err(propose_status)?;
        Ok(Response::new(pb::ProposeReply {
            outcome: encode(&outcome)?,
        }))
    }

    type WatchMapStream = MapStream;

    async fn watch_map(
        &self,
        request: Request<pb::WatchRequest>,
    ) -> Result<Response<MapStream>, Status> {
        let after = request.into_inner().after_epoch;
        let stream = WatchStream::new(self.host.map.clone())
            .filter(move |map| {
                let newer = map.epoch > after || (after == 0 && !map.nodes.is_empty());
                async move { newer }
            })
            .map(|map| {
                Ok(pb::MapUpdate {
                    epoch: map.epoch,
                    map: bincode::serialize(&*map).map_err(|e| Status::internal(e.to_string()))?,
                })
            });
        Ok(Response::new(Box::pin(stream)))
    }

    async fn status(
        &self,
        _request: Request<pb::StatusRequest>,
    ) -> Result<Response<pb::StatusReply>, Status> {
        let mut groups = vec![group_status(META_GROUP, &self.host.meta)];
        for (id, g) in self.host.groups() {
            groups.push(group_status(id, &g.raft));
        }
        let (loads, autoscaler_events) = if self.host.is_meta_leader() {
            self.host.autoscaler.view()
        } else {
            (Vec::new(), Vec::new())
        };
        Ok(Response::new(pb::StatusReply {
            node_id: self.host.id,
            map_epoch: self.host.map.borrow().epoch,
            groups,
            loads,
            autoscaler_events,
        }))
    }

    async fn drain(
        &self,
        request: Request<pb::DrainRequest>,
    ) -> Result<Response<pb::DrainReply>, Status> {
        let id = request.into_inner().node_id;
        let outcome = self
            .host
            .propose(MetaCommand::SetNodeState {
                id,
                state: rotor_model::cluster::NodeState::Draining,
            })
            .await
            .map_err(propose_status)?;
        if let rotor_model::cluster::MetaReply::UnknownNode(n) = outcome.reply {
            return Err(Status::not_found(format!("node {n} is not in the cluster")));
        }
        tracing::info!(
            node = id,
            "node draining: its partitions move to the other nodes"
        );
        Ok(Response::new(pb::DrainReply {
            epoch: outcome.epoch,
        }))
    }

    async fn change_replicas(
        &self,
        request: Request<pb::ChangeReplicasRequest>,
    ) -> Result<Response<pb::ChangeReplicasReply>, Status> {
        let req = request.into_inner();
        let group = partition_group(req.table_id, req.partition);
        match self
            .host
            .change_replicas(group, req.voters)
            .await
            .map_err(internal)?
        {
            Ok(()) => Ok(Response::new(pb::ChangeReplicasReply {
                done: true,
                leader_hint: 0,
            })),
            Err(hint) => Ok(Response::new(pb::ChangeReplicasReply {
                done: false,
                leader_hint: hint,
            })),
        }
    }

    async fn load(
        &self,
        _request: Request<pb::LoadRequest>,
    ) -> Result<Response<pb::LoadReply>, Status> {
        let groups = self
            .host
            .groups()
            .into_iter()
            .map(|(_, g)| {
                let (read_units, write_units) = g.meter.totals();
                let stats = g.partition.stats();
                let range = g.partition.range();
                pb::GroupLoad {
                    table_id: g.table_id,
                    partition: g.partition.index(),
                    read_units,
                    write_units,
                    size_bytes: stats.size_bytes,
                    item_count: stats.item_count,
                    leader: self.is_leader(&g.raft).is_ok(),
                    samples: g
                        .meter
                        .samples()
                        .into_iter()
                        .map(|(token, units)| pb::TokenSample { token, units })
                        .collect(),
                    opened_at_ms: g.opened_at_ms,
                    seeded: g.partition.is_seeded(),
                    range_start: range.start,
                    range_end: range.end.unwrap_or(0),
                    range_open_end: range.end.is_none(),
                }
            })
            .collect();
        Ok(Response::new(pb::LoadReply {
            node_id: self.host.id,
            groups,
        }))
    }

    async fn split_point(
        &self,
        request: Request<pb::SplitPointRequest>,
    ) -> Result<Response<pb::SplitPointReply>, Status> {
        let req = request.into_inner();
        let group = self
            .host
            .group(partition_group(req.table_id, req.partition))
            .ok_or_else(|| Status::not_found("partition not hosted here"))?;
        let engine = self.host.engine.clone();
        let median = tokio::task::spawn_blocking(move || group.partition.size_median(&engine))
            .await
            .map_err(internal)?
            .map_err(internal)?;
        Ok(Response::new(pb::SplitPointReply {
            found: median.is_some(),
            token: median.unwrap_or(0),
        }))
    }
}

fn internal(e: impl std::fmt::Display) -> Status {
    Status::internal(e.to_string())
}

fn group_status(group: u64, raft: &Raft) -> pb::GroupStatus {
    let m = raft.metrics().borrow().clone();
    let membership = m.membership_config.membership();
    let single_config = membership.get_joint_config().len() == 1;
    let applied = m.membership_config.log_id() <= &m.last_applied;
    pb::GroupStatus {
        group,
        role: format!("{:?}", m.state).to_lowercase(),
        leader: m.current_leader.unwrap_or(0),
        has_leader: m.current_leader.is_some(),
        term: m.current_term,
        last_log_index: m.last_log_index.unwrap_or(0),
        applied_index: m.last_applied.map(|l| l.index).unwrap_or(0),
        voters: membership.voter_ids().collect(),
        learners: membership.learner_ids().collect(),
        membership_settled: single_config && applied,
    }
}

#[tonic::async_trait]
impl pb::raft_server::Raft for NodeService {
    async fn call(
        &self,
        request: Request<pb::RaftMessage>,
    ) -> Result<Response<pb::RaftMessage>, Status> {
        let msg = request.into_inner();
        let group = if msg.group == META_GROUP {
            None
        } else {
            match self.host.group(msg.group) {
                Some(g) => Some(g),
                None => {
                    return Err(Status::not_found(format!(
                        "group {:x} is not hosted here (yet)",
                        msg.group
                    )))
                }
            }
        };
        let raft = match &group {
            Some(g) => g.raft.clone(),
            None => self.host.meta.clone(),
        };
        let kind = msg.kind();
        let payload = match kind {
            pb::RaftKind::AppendEntries => {
                let rpc: openraft::raft::AppendEntriesRequest<crate::raft::TypeConfig> =
                    bincode::deserialize(&msg.payload).map_err(|e| bad_request("append", e))?;
                if let (Some(g), Some(commit)) = (&group, rpc.leader_commit) {
                    g.note_leader_commit(commit.index);
                }
                encode(&raft.append_entries(rpc).await)?
            }
            pb::RaftKind::Vote => {
                let rpc = bincode::deserialize(&msg.payload).map_err(|e| bad_request("vote", e))?;
                encode(&raft.vote(rpc).await)?
            }
            pb::RaftKind::InstallSnapshot => {
                let rpc =
                    bincode::deserialize(&msg.payload).map_err(|e| bad_request("snapshot", e))?;
                encode(&raft.install_snapshot(rpc).await)?
            }
            pb::RaftKind::Unspecified => {
                return Err(Status::invalid_argument("raft message of no kind"))
            }
        };
        Ok(Response::new(pb::RaftMessage {
            group: msg.group,
            kind: kind as i32,
            payload,
        }))
    }
}

/// Serves the node's three services on `listener` until `shutdown` resolves.
pub async fn serve(
    host: Arc<Host>,
    listener: tokio::net::TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let svc = NodeService { host };
    // Nagle off on every accepted connection: a reply's HEADERS, DATA and trailer
    // frames must not wait for the peer's delayed ACK (40 ms per call otherwise).
    let incoming = tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true));
    tonic::transport::Server::builder()
        .tcp_nodelay(true)
        .add_service(
            pb::partition_server::PartitionServer::new(svc.clone())
                .max_decoding_message_size(64 << 20),
        )
        .add_service(pb::cluster_server::ClusterServer::new(svc.clone()))
        .add_service(pb::raft_server::RaftServer::new(svc).max_decoding_message_size(256 << 20))
        .serve_with_incoming_shutdown(incoming, shutdown)
        .await?;
    Ok(())
}
