//! The `rotor.v1.Cluster` service: joins, metadata proposals, the map watch, status,
//! drains, replica changes, load reports and split points, from routers, nodes and
//! `rotor admin`.

use std::pin::Pin;

use futures::{Stream, StreamExt};
use rotor_model::cluster::{partition_group, MetaCommand, META_GROUP};
use rotor_proto::v1 as pb;
use tokio_stream::wrappers::WatchStream;
use tonic::{Request, Response, Status};
use tracing::Instrument;

use super::{bad_request, NodeService};
use crate::host::ProposeError;
use crate::raft::Raft;

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
        let cmd = request
            .into_inner()
            .command
            .ok_or(rotor_proto::WireError::Missing("ProposeRequest.command"))
            .and_then(MetaCommand::try_from)
            .map_err(|e| bad_request("command", e))?;
        let span = tracing::info_span!("meta", command = ?std::mem::discriminant(&cmd));
        let outcome = self
            .host
            .propose(cmd)
            .instrument(span)
            .await
            .map_err(propose_status)?;
        Ok(Response::new(pb::ProposeReply {
            outcome: Some(pb::MetaOutcome::from(&outcome)),
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
                    map: Some(pb::ClusterMap::from(&*map)),
                })
            });
        Ok(Response::new(Box::pin(stream)))
    }

    async fn status(
        &self,
        _request: Request<pb::StatusRequest>,
    ) -> Result<Response<pb::StatusReply>, Status> {
        let mut groups = vec![group_status(
            META_GROUP,
            &self.host.meta,
            self.host.meta_quiet.is_quiet(),
        )];
        for (id, g) in self.host.groups() {
            let mut status = group_status(id, &g.raft, g.quiet.is_quiet());
            if g.partition.change_format().is_some() {
                let log = rotor_storage::GroupLog::new(self.host.engine.clone(), id);
                let source = (g.table_id, g.partition.index());
                status.index_lag = crate::index::apply::delivered(&log)
                    .and_then(|from| {
                        rotor_storage::changelog::count_from(log.engine(), source, from, 1_000_000)
                    })
                    .ok();
            }
            groups.push(status);
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

fn group_status(group: u64, raft: &Raft, quiet: bool) -> pb::GroupStatus {
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
        quiet,
        index_lag: None,
    }
}
