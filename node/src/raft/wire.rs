//! Raft's types in their protobuf form (`proto/rotor/v1/raft.proto`): log entries and the
//! records beside them as the log store keeps them, and openraft's messages as replicas
//! exchange them. Everything a peer or the disk hands in is checked here, once: a
//! missing field is an error, never a default.

use std::collections::{BTreeMap, BTreeSet};

use openraft::error::{Fatal, InstallSnapshotError, RaftError, SnapshotMismatch};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest, InstallSnapshotResponse,
    VoteRequest, VoteResponse,
};
use openraft::{BasicNode, CommittedLeaderId, Entry, EntryPayload, Membership, SnapshotMeta};
use openraft::{SnapshotSegmentId, Vote};
use rotor_proto::v1 as pb;
use rotor_proto::WireError;

use super::{Command, LogId, NodeId, StoredMembership, TypeConfig};

pub type Meta = SnapshotMeta<NodeId, BasicNode>;

/// A raft message or record that cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum RaftWireError {
    #[error("raft message without its {0}")]
    Missing(&'static str),
    #[error(transparent)]
    Model(#[from] WireError),
    #[error("undecodable raft message: {0}")]
    Decode(#[from] prost::DecodeError),
}

type Result<T> = std::result::Result<T, RaftWireError>;

fn required<T>(value: Option<T>, what: &'static str) -> Result<T> {
    value.ok_or(RaftWireError::Missing(what))
}

pub fn log_id_to_wire(id: &LogId) -> pb::LogId {
    pb::LogId {
        term: id.leader_id.term,
        node_id: id.leader_id.node_id,
        index: id.index,
    }
}

pub fn log_id_from_wire(id: pb::LogId) -> LogId {
    LogId::new(CommittedLeaderId::new(id.term, id.node_id), id.index)
}

fn opt_log_id_to_wire(id: &Option<LogId>) -> Option<pb::LogId> {
    id.as_ref().map(log_id_to_wire)
}

fn opt_log_id_from_wire(id: Option<pb::LogId>) -> Option<LogId> {
    id.map(log_id_from_wire)
}

pub fn vote_to_wire(vote: &Vote<NodeId>) -> pb::Vote {
    pb::Vote {
        term: vote.leader_id.term,
        node_id: vote.leader_id.node_id,
        committed: vote.committed,
    }
}

pub fn vote_from_wire(vote: pb::Vote) -> Vote<NodeId> {
    if vote.committed {
        Vote::new_committed(vote.term, vote.node_id)
    } else {
        Vote::new(vote.term, vote.node_id)
    }
}

fn vote_field(vote: Option<pb::Vote>) -> Result<Vote<NodeId>> {
    Ok(vote_from_wire(required(vote, "vote")?))
}

pub fn membership_to_wire(m: &Membership<NodeId, BasicNode>) -> pb::Membership {
    pb::Membership {
        configs: m
            .get_joint_config()
            .iter()
            .map(|ids| pb::NodeIds {
                ids: ids.iter().copied().collect(),
            })
            .collect(),
        node_addrs: m.nodes().map(|(id, n)| (*id, n.addr.clone())).collect(),
    }
}

pub fn membership_from_wire(m: pb::Membership) -> Membership<NodeId, BasicNode> {
    let configs: Vec<BTreeSet<NodeId>> = m
        .configs
        .into_iter()
        .map(|c| c.ids.into_iter().collect())
        .collect();
    let nodes: BTreeMap<NodeId, BasicNode> = m
        .node_addrs
        .into_iter()
        .map(|(id, addr)| (id, BasicNode { addr }))
        .collect();
    Membership::new(configs, nodes)
}

pub fn stored_membership_to_wire(m: &StoredMembership) -> pb::StoredMembership {
    pb::StoredMembership {
        log_id: opt_log_id_to_wire(m.log_id()),
        membership: Some(membership_to_wire(m.membership())),
    }
}

pub fn stored_membership_from_wire(m: pb::StoredMembership) -> Result<StoredMembership> {
    let membership = membership_from_wire(required(m.membership, "membership")?);
    Ok(StoredMembership::new(
        opt_log_id_from_wire(m.log_id),
        membership,
    ))
}

pub fn snapshot_meta_to_wire(meta: &Meta) -> pb::SnapshotMeta {
    pb::SnapshotMeta {
        last_log_id: opt_log_id_to_wire(&meta.last_log_id),
        last_membership: Some(stored_membership_to_wire(&meta.last_membership)),
        snapshot_id: meta.snapshot_id.clone(),
    }
}

pub fn snapshot_meta_from_wire(meta: pb::SnapshotMeta) -> Result<Meta> {
    Ok(SnapshotMeta {
        last_log_id: opt_log_id_from_wire(meta.last_log_id),
        last_membership: stored_membership_from_wire(required(
            meta.last_membership,
            "snapshot membership",
        )?)?,
        snapshot_id: meta.snapshot_id,
    })
}

pub fn command_to_wire(command: &Command) -> pb::Command {
    use pb::command::Command as C;
    let command = match command {
        Command::Write(write) => C::Write(pb::WriteCommand::from(write)),
        Command::Meta(meta) => C::Meta(pb::MetaCommand::from(meta.as_ref())),
        Command::Split { at, child } => C::Split(pb::SplitCommand {
            at: *at,
            child: *child,
        }),
        Command::IndexWrite(write) => C::IndexWrite(pb::IndexWrite::from(write.as_ref())),
        Command::ChangeProgress {
            position,
            backfilled,
        } => C::ChangeProgress(pb::ChangeProgress {
            position: *position,
            backfilled: backfilled.clone(),
        }),
        Command::TrackIndexes(indexes) => {
            C::TrackIndexes(crate::index::tracked::track_to_wire(indexes))
        }
    };
    pb::Command {
        command: Some(command),
    }
}

pub fn command_from_wire(command: pb::Command) -> Result<Command> {
    use pb::command::Command as C;
    Ok(match required(command.command, "command")? {
        C::Write(write) => Command::Write(write.try_into()?),
        C::Meta(meta) => Command::Meta(Box::new(meta.try_into()?)),
        C::Split(split) => Command::Split {
            at: split.at,
            child: split.child,
        },
        C::IndexWrite(write) => Command::IndexWrite(Box::new(write.try_into()?)),
        C::ChangeProgress(p) => Command::ChangeProgress {
            position: p.position,
            backfilled: p.backfilled,
        },
        C::TrackIndexes(t) => {
            Command::TrackIndexes(crate::index::tracked::track_from_wire(t).map_err(|reason| {
                WireError::Invalid {
                    field: "TrackIndexes",
                    reason,
                }
            })?)
        }
    })
}

pub fn entry_to_wire(entry: &Entry<TypeConfig>) -> pb::LogEntry {
    use pb::log_entry::Payload;
    let payload = match &entry.payload {
        EntryPayload::Blank => Payload::Blank(pb::Blank {}),
        EntryPayload::Normal(command) => Payload::Command(command_to_wire(command)),
        EntryPayload::Membership(m) => Payload::Membership(membership_to_wire(m)),
    };
    pb::LogEntry {
        log_id: Some(log_id_to_wire(&entry.log_id)),
        payload: Some(payload),
    }
}

pub fn entry_from_wire(entry: pb::LogEntry) -> Result<Entry<TypeConfig>> {
    use pb::log_entry::Payload;
    let payload = match required(entry.payload, "entry payload")? {
        Payload::Blank(_) => EntryPayload::Blank,
        Payload::Command(c) => EntryPayload::Normal(command_from_wire(c)?),
        Payload::Membership(m) => EntryPayload::Membership(membership_from_wire(m)),
    };
    Ok(Entry {
        log_id: log_id_from_wire(required(entry.log_id, "entry log id")?),
        payload,
    })
}

pub fn append_request_to_wire(rpc: &AppendEntriesRequest<TypeConfig>) -> pb::AppendEntriesRequest {
    pb::AppendEntriesRequest {
        vote: Some(vote_to_wire(&rpc.vote)),
        prev_log_id: opt_log_id_to_wire(&rpc.prev_log_id),
        entries: rpc.entries.iter().map(entry_to_wire).collect(),
        leader_commit: opt_log_id_to_wire(&rpc.leader_commit),
    }
}

pub fn append_request_from_wire(
    rpc: pb::AppendEntriesRequest,
) -> Result<AppendEntriesRequest<TypeConfig>> {
    Ok(AppendEntriesRequest {
        vote: vote_field(rpc.vote)?,
        prev_log_id: opt_log_id_from_wire(rpc.prev_log_id),
        entries: rpc
            .entries
            .into_iter()
            .map(entry_from_wire)
            .collect::<Result<_>>()?,
        leader_commit: opt_log_id_from_wire(rpc.leader_commit),
    })
}

/// How a replica's refusal travels; `E` is the request's own error (a snapshot chunk's
/// mismatch), or `Infallible`.
pub trait ApiErrorWire: Sized {
    fn to_wire(&self) -> pb::raft_failure::Failure;
    fn from_wire(failure: pb::raft_failure::Failure) -> std::result::Result<Self, String>;
}

impl ApiErrorWire for openraft::error::Infallible {
    fn to_wire(&self) -> pb::raft_failure::Failure {
        match *self {}
    }

    fn from_wire(failure: pb::raft_failure::Failure) -> std::result::Result<Self, String> {
        Err(format!("unexpected raft failure {failure:?}"))
    }
}

impl ApiErrorWire for InstallSnapshotError {
    fn to_wire(&self) -> pb::raft_failure::Failure {
        let InstallSnapshotError::SnapshotMismatch(m) = self;
        let segment = |s: &SnapshotSegmentId| pb::SnapshotSegment {
            snapshot_id: s.id.clone(),
            offset: s.offset,
        };
        pb::raft_failure::Failure::SnapshotMismatch(pb::SnapshotMismatch {
            expect: Some(segment(&m.expect)),
            got: Some(segment(&m.got)),
        })
    }

    fn from_wire(failure: pb::raft_failure::Failure) -> std::result::Result<Self, String> {
        let pb::raft_failure::Failure::SnapshotMismatch(m) = failure else {
            return Err(format!("unexpected raft failure {failure:?}"));
        };
        let segment = |s: Option<pb::SnapshotSegment>| {
            s.map(|s| SnapshotSegmentId {
                id: s.snapshot_id,
                offset: s.offset,
            })
            .ok_or_else(|| "a snapshot mismatch without its segments".to_owned())
        };
        Ok(InstallSnapshotError::SnapshotMismatch(SnapshotMismatch {
            expect: segment(m.expect)?,
            got: segment(m.got)?,
        }))
    }
}

pub fn failure_to_wire<E: ApiErrorWire>(err: &RaftError<NodeId, E>) -> pb::RaftFailure {
    use pb::raft_failure::Failure;
    let failure = match err {
        RaftError::APIError(e) => e.to_wire(),
        RaftError::Fatal(Fatal::Stopped) => Failure::Stopped(pb::Blank {}),
        RaftError::Fatal(Fatal::Panicked) => Failure::Panicked(pb::Blank {}),
        RaftError::Fatal(Fatal::StorageError(e)) => Failure::Storage(e.to_string()),
    };
    pb::RaftFailure {
        failure: Some(failure),
    }
}

/// A replica's refusal as openraft's error, or (`Err`) a description of a failure that
/// has no openraft form on this side (a peer's storage error).
pub fn failure_from_wire<E: ApiErrorWire>(
    failure: pb::RaftFailure,
) -> std::result::Result<RaftError<NodeId, E>, String> {
    use pb::raft_failure::Failure;
    match failure.failure {
        Some(Failure::Stopped(_)) => Ok(RaftError::Fatal(Fatal::Stopped)),
        Some(Failure::Panicked(_)) => Ok(RaftError::Fatal(Fatal::Panicked)),
        Some(Failure::Storage(message)) => Err(format!("the peer's storage failed: {message}")),
        Some(other) => E::from_wire(other).map(RaftError::APIError),
        None => Err("a raft failure of no kind".to_owned()),
    }
}

pub fn append_reply_to_wire(
    reply: &std::result::Result<AppendEntriesResponse<NodeId>, RaftError<NodeId>>,
) -> pb::AppendEntriesReply {
    use pb::append_entries_reply::Result as R;
    let result = match reply {
        Ok(AppendEntriesResponse::Success) => R::Success(pb::Blank {}),
        Ok(AppendEntriesResponse::PartialSuccess(id)) => R::PartialSuccess(pb::OptionalLogId {
            log_id: opt_log_id_to_wire(id),
        }),
        Ok(AppendEntriesResponse::Conflict) => R::Conflict(pb::Blank {}),
        Ok(AppendEntriesResponse::HigherVote(v)) => R::HigherVote(vote_to_wire(v)),
        Err(e) => R::Failure(failure_to_wire(e)),
    };
    pb::AppendEntriesReply {
        result: Some(result),
    }
}

/// A replica's answer: its response, or its refusal (`Ok(Err)`), or `Err` when the
/// answer itself is unreadable.
pub type Answer<T, E> =
    Result<std::result::Result<T, std::result::Result<RaftError<NodeId, E>, String>>>;

pub fn append_reply_from_wire(
    reply: pb::AppendEntriesReply,
) -> Answer<AppendEntriesResponse<NodeId>, openraft::error::Infallible> {
    use pb::append_entries_reply::Result as R;
    Ok(match required(reply.result, "append entries result")? {
        R::Success(_) => Ok(AppendEntriesResponse::Success),
        R::PartialSuccess(p) => Ok(AppendEntriesResponse::PartialSuccess(opt_log_id_from_wire(
            p.log_id,
        ))),
        R::Conflict(_) => Ok(AppendEntriesResponse::Conflict),
        R::HigherVote(v) => Ok(AppendEntriesResponse::HigherVote(vote_from_wire(v))),
        R::Failure(f) => Err(failure_from_wire(f)),
    })
}

pub fn vote_request_to_wire(rpc: &VoteRequest<NodeId>) -> pb::VoteRequest {
    pb::VoteRequest {
        vote: Some(vote_to_wire(&rpc.vote)),
        last_log_id: opt_log_id_to_wire(&rpc.last_log_id),
    }
}

pub fn vote_request_from_wire(rpc: pb::VoteRequest) -> Result<VoteRequest<NodeId>> {
    Ok(VoteRequest {
        vote: vote_field(rpc.vote)?,
        last_log_id: opt_log_id_from_wire(rpc.last_log_id),
    })
}

pub fn vote_reply_to_wire(
    reply: &std::result::Result<VoteResponse<NodeId>, RaftError<NodeId>>,
) -> pb::VoteReply {
    use pb::vote_reply::Result as R;
    let result = match reply {
        Ok(r) => R::Reply(pb::VoteGranted {
            vote: Some(vote_to_wire(&r.vote)),
            vote_granted: r.vote_granted,
            last_log_id: opt_log_id_to_wire(&r.last_log_id),
        }),
        Err(e) => R::Failure(failure_to_wire(e)),
    };
    pb::VoteReply {
        result: Some(result),
    }
}

pub fn vote_reply_from_wire(
    reply: pb::VoteReply,
) -> Answer<VoteResponse<NodeId>, openraft::error::Infallible> {
    use pb::vote_reply::Result as R;
    Ok(match required(reply.result, "vote result")? {
        R::Reply(r) => Ok(VoteResponse {
            vote: vote_field(r.vote)?,
            vote_granted: r.vote_granted,
            last_log_id: opt_log_id_from_wire(r.last_log_id),
        }),
        R::Failure(f) => Err(failure_from_wire(f)),
    })
}

/// (By value: the chunk, up to a few megabytes, moves into the message uncopied.)
pub fn snapshot_request_to_wire(
    rpc: InstallSnapshotRequest<TypeConfig>,
) -> pb::InstallSnapshotRequest {
    pb::InstallSnapshotRequest {
        vote: Some(vote_to_wire(&rpc.vote)),
        meta: Some(snapshot_meta_to_wire(&rpc.meta)),
        offset: rpc.offset,
        data: rpc.data,
        done: rpc.done,
    }
}

pub fn snapshot_request_from_wire(
    rpc: pb::InstallSnapshotRequest,
) -> Result<InstallSnapshotRequest<TypeConfig>> {
    Ok(InstallSnapshotRequest {
        vote: vote_field(rpc.vote)?,
        meta: snapshot_meta_from_wire(required(rpc.meta, "snapshot meta")?)?,
        offset: rpc.offset,
        data: rpc.data,
        done: rpc.done,
    })
}

pub fn snapshot_reply_to_wire(
    reply: &std::result::Result<
        InstallSnapshotResponse<NodeId>,
        RaftError<NodeId, InstallSnapshotError>,
    >,
) -> pb::InstallSnapshotReply {
    use pb::install_snapshot_reply::Result as R;
    let result = match reply {
        Ok(r) => R::Vote(vote_to_wire(&r.vote)),
        Err(e) => R::Failure(failure_to_wire(e)),
    };
    pb::InstallSnapshotReply {
        result: Some(result),
    }
}

pub fn snapshot_reply_from_wire(
    reply: pb::InstallSnapshotReply,
) -> Answer<InstallSnapshotResponse<NodeId>, InstallSnapshotError> {
    use pb::install_snapshot_reply::Result as R;
    Ok(match required(reply.result, "install snapshot result")? {
        R::Vote(v) => Ok(InstallSnapshotResponse {
            vote: vote_from_wire(v),
        }),
        R::Failure(f) => Err(failure_from_wire(f)),
    })
}
