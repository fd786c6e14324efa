//! Raft for Rotor: one openraft group per partition plus the metadata group, all in the
//! node's one RocksDB.
//!
//! ```text
//!   TypeConfig     the command (a partition write or a metadata change) and its reply
//!   log_store      a group's log and vote in shared column families, group-commit fsync
//!   state_machine  a partition (rotor_storage::Partition) or the cluster map, applied
//!                  in log order
//!   snapshots      built into, kept in, sent from and installed from files, in
//!                  bounded memory; installs redone after a crash
//!   snapshot_file  the snapshot file format (rotor.v1.SnapshotFrame frames)
//!   network        openraft RPCs over one gRPC channel per peer node, shared by groups
//!   legacy         the bincode records of data formats 1 and 2, read once to upgrade
//!   records        how each raft record is kept (protobuf)
//!   split_half     a split's half starts formed, with the parent's voters
//!   quiet          idle groups stop heartbeating; node-pair pings keep failover
//!   wire           entries, records and RPCs in their protobuf form (rotor.v1 raft.proto)
//! ```

// openraft's storage traits fix the error type (`openraft::StorageError`, ~224 bytes);
// the helpers that feed them return it as is rather than boxing and unboxing it.
#![allow(clippy::result_large_err)]

pub mod legacy;
pub mod log_store;
pub mod network;
pub mod quiet;
mod records;
pub mod snapshot_file;
#[cfg(test)]
mod snapshot_tests;
mod snapshots;
mod split_half;
pub mod state_machine;
#[cfg(test)]
mod storage_suite_tests;
pub mod wire;
#[cfg(test)]
mod wire_tests;

use openraft::BasicNode;
use rotor_model::cluster::{MetaCommand, MetaOutcome};
use rotor_model::global_index::{GlobalIndexShape, IndexWrite};
use rotor_model::write::{WriteOutcome, WriteRequest};
use serde::{Deserialize, Serialize};

/// What a group's log holds: a write to a partition, a split of it, or a change to
/// the cluster map. (Kept as `rotor.v1.Command`, see `wire`; serde only reads the
/// bincode logs of releases before data format 3, see `legacy`.)
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Command {
    Write(WriteRequest),
    /// (Boxed: a table definition is large next to a write; boxing keeps every log
    /// entry small. Serialised the same as unboxed.)
    Meta(Box<MetaCommand>),
    /// Hands the partition's tokens from `at` on to partition `child` (the map lists the
    /// child already); from here on the partition refuses writes to those tokens.
    Split {
        at: u64,
        child: u32,
    },
    /// An index partition's share of a base partition's changes (see `crate::index`).
    IndexWrite(Box<IndexWrite>),
    /// A base partition's change log is delivered to its indexes up to `position`,
    /// and its items are in the indexes `backfilled` (their tables' ids).
    ChangeProgress {
        position: u64,
        #[serde(default)]
        backfilled: Vec<u32>,
    },
    /// A base partition checks its writes against, and keeps its change log for, these
    /// global secondary indexes from here on (see `crate::index::tracked`).
    TrackIndexes(Vec<GlobalIndexShape>),
}

/// What applying a `Command` decided, handed back to the proposer (in process only;
/// openraft's `serde` feature asks every type to be serde).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Reply {
    /// The outcome of a write, or the client error (DynamoDB's text) that refused it.
    Write(Result<WriteOutcome, String>),
    /// A write for a key the partition gave away in a split: not applied.
    NotOwned,
    /// A split was applied (or had been already).
    Split,
    /// An index write was applied (or found applied); the index partition's log
    /// position.
    IndexApplied,
    /// An index write from a split-off base partition not yet released by its parent.
    NotReleased,
    /// A backfill page that does not follow the pages applied before it: the
    /// backfill must start again.
    BackfillRestart,
    /// The change log's progress was recorded.
    Progress,
    Meta(Box<MetaOutcome>),
    /// A blank or membership entry (raft's own): nobody waits for a reply.
    Internal,
    /// A command sent to a group of the wrong kind (a bug, reported not applied).
    WrongGroup,
}

openraft::declare_raft_types!(
    /// Rotor's raft types: u64 node ids, nodes known by their gRPC address.
    pub TypeConfig:
        D = Command,
        R = Reply,
        NodeId = u64,
        Node = BasicNode,
        SnapshotData = tokio::fs::File,
);

pub type Raft = openraft::Raft<TypeConfig>;
pub type NodeId = u64;
pub type LogId = openraft::LogId<NodeId>;
pub type StoredMembership = openraft::StoredMembership<NodeId, BasicNode>;
pub type StorageError = openraft::StorageError<NodeId>;

/// Raft timing and snapshot settings shared by every group of a node.
#[derive(Debug, Clone)]
pub struct RaftSettings {
    pub heartbeat_ms: u64,
    pub election_min_ms: u64,
    pub election_max_ms: u64,
    /// A snapshot is built after this many entries since the last one.
    pub snapshot_every: u64,
    /// A group with no new entry for this long goes quiet (no heartbeats); 0: never.
    pub quiesce_after_ms: u64,
}

impl Default for RaftSettings {
    fn default() -> Self {
        RaftSettings {
            heartbeat_ms: 150,
            election_min_ms: 750,
            election_max_ms: 1500,
            snapshot_every: 10_000,
            quiesce_after_ms: 2_000,
        }
    }
}

impl RaftSettings {
    pub fn config(&self) -> anyhow::Result<openraft::Config> {
        let config = openraft::Config {
            cluster_name: "rotor".into(),
            heartbeat_interval: self.heartbeat_ms,
            election_timeout_min: self.election_min_ms,
            election_timeout_max: self.election_max_ms,
            snapshot_policy: openraft::SnapshotPolicy::LogsSinceLast(self.snapshot_every),
            max_in_snapshot_log_to_keep: (self.snapshot_every / 10).max(10),
            install_snapshot_timeout: 10_000,
            ..Default::default()
        };
        Ok(config.validate()?)
    }
}

/// An openraft storage error from a Rotor storage error (`read`: while reading).
pub(crate) fn storage_error(read: bool, e: impl std::error::Error + 'static) -> StorageError {
    let source = openraft::AnyError::new(&e);
    let io = if read {
        openraft::StorageIOError::read(source)
    } else {
        openraft::StorageIOError::write(source)
    };
    StorageError::from(io)
}
