//! Raft data as releases before data format 3 wrote it (bincode encodings of openraft's
//! and Rotor's Rust types), read once, when a data directory is upgraded, and written
//! back as protobuf (see `records`). Nothing else reads bincode.

use openraft::{Entry, Vote};
use rotor_model::cluster::ClusterMap;
use rotor_storage::format::RaftRecordsUpgrade;
use serde::de::DeserializeOwned;

use super::records::Record;
use super::wire::Meta;
use super::{LogId, NodeId, StoredMembership, TypeConfig};

/// Rewrites bincode raft entries and records (formats 1 and 2) as protobuf.
pub struct LegacyRaftRecords;

fn old<T: DeserializeOwned>(what: &str, bytes: &[u8]) -> Result<T, String> {
    bincode::deserialize(bytes).map_err(|e| format!("{what} does not decode as bincode: {e}"))
}

/// A cluster map as a format-1 meta snapshot file holds it.
pub fn cluster_map(bytes: &[u8]) -> Result<ClusterMap, String> {
    old("cluster map", bytes)
}

impl RaftRecordsUpgrade for LegacyRaftRecords {
    fn log_entry(&self, _from: u32, _group: u64, bytes: &[u8]) -> Result<Vec<u8>, String> {
        Ok(old::<Entry<TypeConfig>>("log entry", bytes)?.to_bytes())
    }

    fn record(
        &self,
        _from: u32,
        _group: u64,
        name: &str,
        bytes: &[u8],
    ) -> Result<Option<Vec<u8>>, String> {
        let new = match name {
            "vote" => old::<Vote<NodeId>>(name, bytes)?.to_bytes(),
            "committed" | "applied" => old::<Option<LogId>>(name, bytes)?.to_bytes(),
            "purged" => old::<LogId>(name, bytes)?.to_bytes(),
            "membership" => old::<StoredMembership>(name, bytes)?.to_bytes(),
            "map" => old::<ClusterMap>(name, bytes)?.to_bytes(),
            "snapshot_meta" | "installing" => old::<Meta>(name, bytes)?.to_bytes(),
            _ => return Ok(None),
        };
        Ok(Some(new))
    }
}
