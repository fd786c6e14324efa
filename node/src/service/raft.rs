//! The `rotor.v1.Raft` service: raft messages (append entries, votes, snapshots) from
//! other nodes, handed to the meta group or the partition group they are for.

use rotor_model::cluster::META_GROUP;
use rotor_proto::v1 as pb;
use rotor_proto::v1::raft_message::Body;
use tonic::{Request, Response, Status};

use super::{bad_request, NodeService};
use openraft::raft::AppendEntriesResponse;

use crate::raft::network::body_kind;
use crate::raft::wire;

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
        let (raft, quiet) = match &group {
            Some(g) => (g.raft.clone(), g.quiet.clone()),
            None => (self.host.meta.clone(), self.host.meta_quiet.clone()),
        };
        let body = msg
            .body
            .ok_or_else(|| Status::invalid_argument("raft message without a body"))?;
        let reply = match body {
            Body::AppendEntries(rpc) => {
                let rpc =
                    wire::append_request_from_wire(rpc).map_err(|e| bad_request("append", e))?;
                if let (Some(g), Some(commit)) = (&group, rpc.leader_commit) {
                    g.note_leader_commit(commit.index);
                }
                let idle = msg.group_idle && rpc.entries.is_empty();
                let reply = raft.append_entries(rpc).await;
                let accepted = matches!(reply, Ok(AppendEntriesResponse::Success));
                quiet.on_append(idle, accepted);
                Body::AppendEntriesReply(wire::append_reply_to_wire(&reply))
            }
            Body::Vote(rpc) => {
                let rpc = wire::vote_request_from_wire(rpc).map_err(|e| bad_request("vote", e))?;
                quiet.on_other_message();
                Body::VoteReply(wire::vote_reply_to_wire(&raft.vote(rpc).await))
            }
            Body::InstallSnapshot(rpc) => {
                let rpc = wire::snapshot_request_from_wire(rpc)
                    .map_err(|e| bad_request("snapshot", e))?;
                quiet.on_other_message();
                Body::InstallSnapshotReply(wire::snapshot_reply_to_wire(
                    &raft.install_snapshot(rpc).await,
                ))
            }
            reply => {
                return Err(Status::invalid_argument(format!(
                    "a {} is a reply, not a raft request",
                    body_kind(&reply)
                )))
            }
        };
        Ok(Response::new(pb::RaftMessage {
            group: msg.group,
            body: Some(reply),
            group_idle: false,
        }))
    }

    async fn ping(
        &self,
        request: Request<pb::PingRequest>,
    ) -> Result<Response<pb::PingReply>, Status> {
        // Only the map's nodes are tracked: a peer cannot grow the table with made-up ids.
        let from = request.into_inner().from;
        if self.host.map.borrow().nodes.contains_key(&from) {
            self.host.liveness.heard(from);
        }
        Ok(Response::new(pb::PingReply {
            node_id: self.host.id,
        }))
    }
}
