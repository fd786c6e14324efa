//! How raft's records are kept in RocksDB: each one a rotor.v1 protobuf message (the
//! log's entries, the vote, the committed and purged positions, a state machine's
//! applied position, membership and cluster map, a snapshot's meta). A record that does
//! not decode is a storage error naming it, never a default.

use openraft::{Entry, Vote};
use prost::Message;
use rotor_model::cluster::ClusterMap;
use rotor_proto::v1 as pb;

use super::wire::{self, Meta};
use super::{storage_error, LogId, NodeId, StorageError, StoredMembership, TypeConfig};

/// A value the log store or a state machine keeps as one RocksDB value.
pub(crate) trait Record: Sized {
    fn to_bytes(&self) -> Vec<u8>;
    fn from_bytes(bytes: &[u8]) -> Result<Self, StorageError>;
}

fn unreadable(what: &str, e: impl std::fmt::Display) -> StorageError {
    storage_error(
        true,
        std::io::Error::other(format!("unreadable {what} record: {e}")),
    )
}

fn decode<M: Message + Default>(what: &str, bytes: &[u8]) -> Result<M, StorageError> {
    M::decode(bytes).map_err(|e| unreadable(what, e))
}

impl Record for Entry<TypeConfig> {
    fn to_bytes(&self) -> Vec<u8> {
        wire::entry_to_wire(self).encode_to_vec()
    }

    fn from_bytes(bytes: &[u8]) -> Result<Self, StorageError> {
        wire::entry_from_wire(decode("log entry", bytes)?).map_err(|e| unreadable("log entry", e))
    }
}

impl Record for Vote<NodeId> {
    fn to_bytes(&self) -> Vec<u8> {
        wire::vote_to_wire(self).encode_to_vec()
    }

    fn from_bytes(bytes: &[u8]) -> Result<Self, StorageError> {
        Ok(wire::vote_from_wire(decode("vote", bytes)?))
    }
}

impl Record for LogId {
    fn to_bytes(&self) -> Vec<u8> {
        wire::log_id_to_wire(self).encode_to_vec()
    }

    fn from_bytes(bytes: &[u8]) -> Result<Self, StorageError> {
        Ok(wire::log_id_from_wire(decode("log id", bytes)?))
    }
}

impl Record for Option<LogId> {
    fn to_bytes(&self) -> Vec<u8> {
        pb::OptionalLogId {
            log_id: self.as_ref().map(wire::log_id_to_wire),
        }
        .encode_to_vec()
    }

    fn from_bytes(bytes: &[u8]) -> Result<Self, StorageError> {
        let id: pb::OptionalLogId = decode("log position", bytes)?;
        Ok(id.log_id.map(wire::log_id_from_wire))
    }
}

impl Record for StoredMembership {
    fn to_bytes(&self) -> Vec<u8> {
        wire::stored_membership_to_wire(self).encode_to_vec()
    }

    fn from_bytes(bytes: &[u8]) -> Result<Self, StorageError> {
        wire::stored_membership_from_wire(decode("membership", bytes)?)
            .map_err(|e| unreadable("membership", e))
    }
}

impl Record for Meta {
    fn to_bytes(&self) -> Vec<u8> {
        wire::snapshot_meta_to_wire(self).encode_to_vec()
    }

    fn from_bytes(bytes: &[u8]) -> Result<Self, StorageError> {
        wire::snapshot_meta_from_wire(decode("snapshot meta", bytes)?)
            .map_err(|e| unreadable("snapshot meta", e))
    }
}

impl Record for ClusterMap {
    fn to_bytes(&self) -> Vec<u8> {
        pb::ClusterMap::from(self).encode_to_vec()
    }

    fn from_bytes(bytes: &[u8]) -> Result<Self, StorageError> {
        ClusterMap::try_from(decode::<pb::ClusterMap>("cluster map", bytes)?)
            .map_err(|e| unreadable("cluster map", e))
    }
}
