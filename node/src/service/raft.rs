//! The `rotor.v1.Raft` service: raft messages (append entries, votes, snapshots) from
//! other nodes, handed to the meta group or the partition group they are for.

use rotor_model::cluster::META_GROUP;
use rotor_proto::v1 as pb;
use tonic::{Request, Response, Status};

use super::{bad_request, encode, NodeService};

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
