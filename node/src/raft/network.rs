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
use rotor_model::cluster::META_GROUP;
use rotor_proto::v1::raft_client::RaftClient;
use rotor_proto::v1::raft_message::Body;
use rotor_proto::v1::{PingRequest, RaftMessage};
use tonic::transport::{Channel, Endpoint};

use super::quiet::GroupQuiet;
use super::{wire, NodeId, TypeConfig};
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

    /// Tells node `target` at `addr` that node `from` is alive; true when it answered
    /// (so it is alive too). Subject to the injected faults, as raft traffic is.
    pub async fn ping(&self, from: NodeId, target: NodeId, addr: &str, timeout: Duration) -> bool {
        if self.faults.before_send(target, META_GROUP).await == Verdict::Drop {
            return false;
        }
        let Ok(channel) = self.channel(addr) else {
            return false;
        };
        metrics::counter!("rotor_raft_rpcs_sent_total", "kind" => "ping").increment(1);
        let mut request = tonic::Request::new(PingRequest { from });
        request.set_timeout(timeout);
        let mut client = RaftClient::new(channel);
        matches!(
            tokio::time::timeout(timeout, client.ping(request)).await,
            Ok(Ok(_))
        )
    }
}

/// Creates a group's connections to its peers.
pub struct NetworkFactory {
    pub group: u64,
    pub peers: Arc<Peers>,
    pub quiet: Arc<GroupQuiet>,
}

impl RaftNetworkFactory<TypeConfig> for NetworkFactory {
    type Network = PeerConnection;

    async fn new_client(&mut self, target: NodeId, node: &BasicNode) -> PeerConnection {
        PeerConnection {
            group: self.group,
            target,
            channel: self.peers.channel(&node.addr).map_err(|e| e.to_string()),
            faults: self.peers.faults.clone(),
            quiet: self.quiet.clone(),
        }
    }
}

pub struct PeerConnection {
    group: u64,
    target: NodeId,
    channel: Result<Channel, String>,
    faults: Arc<PeerFaults>,
    quiet: Arc<GroupQuiet>,
}

type RpcResult<T, E> = Result<T, RPCError<NodeId, BasicNode, E>>;

/// A transport failure as openraft's error.
fn network_error<E: std::error::Error>(
    err: impl std::fmt::Display,
) -> RPCError<NodeId, BasicNode, E> {
    RPCError::Network(NetworkError::new(&std::io::Error::other(err.to_string())))
}

impl PeerConnection {
    /// Sends one raft message to the peer and returns its reply's body.
    async fn call<E: std::error::Error>(
        &mut self,
        kind: &'static str,
        body: Body,
        group_idle: bool,
        option: &RPCOption,
    ) -> RpcResult<Body, E> {
        if self.faults.before_send(self.target, self.group).await == Verdict::Drop {
            let err = std::io::Error::other("dropped by fault injection");
            return Err(RPCError::Unreachable(Unreachable::new(&err)));
        }
        let channel = self
            .channel
            .clone()
            .map_err(|e| RPCError::Unreachable(Unreachable::new(&std::io::Error::other(e))))?;
        let mut request = tonic::Request::new(RaftMessage {
            group: self.group,
            body: Some(body),
            group_idle,
        });
        request.set_timeout(option.hard_ttl());
        let mut client = RaftClient::new(channel).max_decoding_message_size(256 << 20);
        metrics::counter!("rotor_raft_rpcs_sent_total", "kind" => kind).increment(1);
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
        reply
            .body
            .ok_or_else(|| network_error(format!("{kind} reply without a body")))
    }

    /// The peer's answer as openraft expects it: its refusal a remote error, an answer
    /// that cannot be read a network error.
    fn answer<T, E: std::error::Error>(
        &self,
        answer: Result<wire::Answer<T, E>, String>,
    ) -> RpcResult<T, RaftError<NodeId, E>> {
        match answer.map_err(network_error)?.map_err(network_error)? {
            Ok(response) => Ok(response),
            Err(Ok(refusal)) => Err(RPCError::RemoteError(RemoteError::new(
                self.target,
                refusal,
            ))),
            Err(Err(failure)) => Err(network_error(failure)),
        }
    }
}

fn unexpected<T>(kind: &str, body: &Body) -> Result<T, String> {
    Err(format!("{kind} answered with {}", body_kind(body)))
}

/// The name of a raft message body, for errors and metrics.
pub fn body_kind(body: &Body) -> &'static str {
    match body {
        Body::AppendEntries(_) => "append_entries",
        Body::AppendEntriesReply(_) => "append_entries_reply",
        Body::Vote(_) => "vote",
        Body::VoteReply(_) => "vote_reply",
        Body::InstallSnapshot(_) => "install_snapshot",
        Body::InstallSnapshotReply(_) => "install_snapshot_reply",
    }
}

impl RaftNetwork<TypeConfig> for PeerConnection {
    async fn append_entries(
        &mut self,
        rpc: AppendEntriesRequest<TypeConfig>,
        option: RPCOption,
    ) -> RpcResult<AppendEntriesResponse<NodeId>, RaftError<NodeId>> {
        let idle = self.quiet.on_send(!rpc.entries.is_empty());
        let body = Body::AppendEntries(wire::append_request_to_wire(&rpc));
        let reply = self.call("append_entries", body, idle, &option).await?;
        let answer = match reply {
            Body::AppendEntriesReply(r) => Ok(wire::append_reply_from_wire(r)),
            other => unexpected("append_entries", &other),
        };
        self.answer(answer)
    }

    async fn install_snapshot(
        &mut self,
        rpc: InstallSnapshotRequest<TypeConfig>,
        option: RPCOption,
    ) -> RpcResult<InstallSnapshotResponse<NodeId>, RaftError<NodeId, InstallSnapshotError>> {
        let body = Body::InstallSnapshot(wire::snapshot_request_to_wire(rpc));
        let reply = self.call("install_snapshot", body, false, &option).await?;
        let answer = match reply {
            Body::InstallSnapshotReply(r) => Ok(wire::snapshot_reply_from_wire(r)),
            other => unexpected("install_snapshot", &other),
        };
        self.answer(answer)
    }

    async fn vote(
        &mut self,
        rpc: VoteRequest<NodeId>,
        option: RPCOption,
    ) -> RpcResult<VoteResponse<NodeId>, RaftError<NodeId>> {
        let body = Body::Vote(wire::vote_request_to_wire(&rpc));
        let reply = self.call("vote", body, false, &option).await?;
        let answer = match reply {
            Body::VoteReply(r) => Ok(wire::vote_reply_from_wire(r)),
            other => unexpected("vote", &other),
        };
        self.answer(answer)
    }
}
