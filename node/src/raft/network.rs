//! Raft traffic between nodes: every group's messages to a peer share one gRPC channel
//! (HTTP/2 multiplexes them), addressed by group id (`rotor.v1.Raft/Call`).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use openraft::error::{
    InstallSnapshotError, NetworkError, RPCError, RaftError, RemoteError, Unreachable,
};
use openraft::network::{RPCOption, RaftNetwork, RaftNetworkFactory};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest, InstallSnapshotResponse,
    VoteRequest, VoteResponse,
};
use openraft::BasicNode;
use parking_lot::Mutex;
use rotor_proto::v1::raft_client::RaftClient;
use rotor_proto::v1::{RaftKind, RaftMessage};
use serde::{de::DeserializeOwned, Serialize};
use tonic::transport::{Channel, Endpoint};

use super::{NodeId, TypeConfig};
use crate::faults::{PeerFaults, Verdict};

/// One lazily connected gRPC channel per peer address, shared by all groups, and the
/// faults injected on the links (none unless `--fault-injection`).
#[derive(Default)]
pub struct Peers {
    channels: Mutex<HashMap<String, Channel>>,
    pub faults: Arc<PeerFaults>,
}

impl Peers {
    pub fn channel(&self, addr: &str) -> Result<Channel, tonic::transport::Error> {
        let mut channels = self.channels.lock();
        if let Some(c) = channels.get(addr) {
            return Ok(c.clone());
        }
        let channel = Endpoint::from_shared(format!("http://{addr}"))?
            .connect_timeout(Duration::from_millis(500))
            .tcp_nodelay(true)
            .http2_keep_alive_interval(Duration::from_secs(5))
            .keep_alive_timeout(Duration::from_secs(5))
            .connect_lazy();
        channels.insert(addr.to_owned(), channel.clone());
        Ok(channel)
    }
}

/// Creates a group's connections to its peers.
pub struct NetworkFactory {
    pub group: u64,
    pub peers: Arc<Peers>,
}

impl RaftNetworkFactory<TypeConfig> for NetworkFactory {
    type Network = PeerConnection;

    async fn new_client(&mut self, target: NodeId, node: &BasicNode) -> PeerConnection {
        PeerConnection {
            group: self.group,
            target,
            channel: self.peers.channel(&node.addr).map_err(|e| e.to_string()),
            faults: self.peers.faults.clone(),
        }
    }
}

pub struct PeerConnection {
    group: u64,
    target: NodeId,
    channel: Result<Channel, String>,
    faults: Arc<PeerFaults>,
}

type RpcResult<T, E> = Result<T, RPCError<NodeId, BasicNode, E>>;

impl PeerConnection {
    async fn call<Req, Resp, E>(
        &mut self,
        kind: RaftKind,
        req: &Req,
        option: &RPCOption,
    ) -> RpcResult<Resp, E>
    where
        Req: Serialize,
        Resp: DeserializeOwned,
        E: std::error::Error + DeserializeOwned,
    {
        if self.faults.before_send(self.target, self.group).await == Verdict::Drop {
            let err = std::io::Error::other("dropped by fault injection");
            return Err(RPCError::Unreachable(Unreachable::new(&err)));
        }
        let channel = self
            .channel
            .clone()
            .map_err(|e| RPCError::Unreachable(Unreachable::new(&std::io::Error::other(e))))?;
        let payload =
            bincode::serialize(req).map_err(|e| RPCError::Network(NetworkError::new(&e)))?;
        let mut request = tonic::Request::new(RaftMessage {
            group: self.group,
            kind: kind as i32,
            payload,
        });
        request.set_timeout(option.hard_ttl());
        let mut client = RaftClient::new(channel).max_decoding_message_size(256 << 20);
        metrics::counter!("rotor_raft_rpcs_sent_total", "kind" => kind.as_str_name()).increment(1);
        let reply = match client.call(request).await {
            Ok(reply) => reply.into_inner(),
            Err(status) => {
                metrics::counter!("rotor_raft_rpc_errors_total").increment(1);
                let err = std::io::Error::other(format!("{}: {}", status.code(), status.message()));
                return Err(match status.code() {
                    tonic::Code::Unavailable | tonic::Code::NotFound => {
                        RPCError::Unreachable(Unreachable::new(&err))
                    }
                    _ => RPCError::Network(NetworkError::new(&err)),
                });
            }
        };
        let result: Result<Resp, E> = bincode::deserialize(&reply.payload)
            .map_err(|e| RPCError::Network(NetworkError::new(&e)))?;
        result.map_err(|e| RPCError::RemoteError(RemoteError::new(self.target, e)))
    }
}

impl RaftNetwork<TypeConfig> for PeerConnection {
    async fn append_entries(
        &mut self,
        rpc: AppendEntriesRequest<TypeConfig>,
        option: RPCOption,
    ) -> RpcResult<AppendEntriesResponse<NodeId>, RaftError<NodeId>> {
        self.call(RaftKind::AppendEntries, &rpc, &option).await
    }

    async fn install_snapshot(
        &mut self,
        rpc: InstallSnapshotRequest<TypeConfig>,
        option: RPCOption,
    ) -> RpcResult<InstallSnapshotResponse<NodeId>, RaftError<NodeId, InstallSnapshotError>> {
        self.call(RaftKind::InstallSnapshot, &rpc, &option).await
    }

    async fn vote(
        &mut self,
        rpc: VoteRequest<NodeId>,
        option: RPCOption,
    ) -> RpcResult<VoteResponse<NodeId>, RaftError<NodeId>> {
        self.call(RaftKind::Vote, &rpc, &option).await
    }
}
