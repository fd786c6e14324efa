//! The node's gRPC services: partition reads and writes (from routers), cluster
//! membership and metadata (from routers, nodes and `rotor admin`), raft traffic (from
//! other nodes).
//!
//! This module owns what the three services share (the `NodeService` state, refusals,
//! encoding, the read barrier, admission and accounting) and `serve`; each service's
//! handlers live in their own file.

use std::sync::Arc;

use openraft::error::{CheckIsLeaderError, RaftError};
use rotor_model::cluster::partition_group;
use rotor_proto::v1 as pb;
use tonic::Status;

use crate::host::{Host, PartitionGroup};
use crate::raft::Raft;

mod cluster;
mod partition;
mod raft;

/// How long an eventually consistent read waits for this replica to apply the
/// reader's last write before refusing (the router then asks another replica).
const FRESHNESS_WAIT: std::time::Duration = std::time::Duration::from_millis(30);

#[derive(Clone)]
pub struct NodeService {
    pub host: Arc<Host>,
}

pub(crate) fn refused(reason: pb::Refusal, leader_hint: u64) -> pb::Refused {
    pb::Refused {
        reason: reason as i32,
        leader_hint,
        epoch: 0,
        throttling_reason: String::new(),
    }
}

/// The key is no longer this partition's (a split gave it away): the sender's map is
/// older than `epoch`.
pub(crate) fn stale(epoch: u64) -> pb::Refused {
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
pub(crate) fn account(
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

pub(crate) fn bad_request(what: &str, e: impl std::fmt::Display) -> Status {
    Status::invalid_argument(format!("cannot decode {what}: {e}"))
}

impl NodeService {
    pub(crate) fn map_epoch(&self) -> u64 {
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

    pub(crate) fn partition(
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
        let Some(applied) = group.readable_at(self.host.id) else {
            metrics::counter!("rotor_node_stale_read_refusals_total").increment(1);
            let hint = self.is_leader(raft).err().unwrap_or(0);
            return Ok(Some(refused(pb::Refusal::NotLeader, hint)));
        };
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
