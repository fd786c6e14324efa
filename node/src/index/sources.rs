//! An index partition's record of its sources: for each base partition, the log
//! position its changes are in up to (raft state `index_sources`, protobuf
//! `rotor.v1.IndexSources`, written in the batch of each index write). A copy that
//! arrives again, late or from a deposed leader, is thus applied at most once; and a
//! split-off base partition is listed only once its parent released it.

use std::collections::BTreeMap;

use prost::Message;
use rotor_proto::v1 as pb;

/// The raft state record of an index partition's sources.
pub const INDEX_SOURCES: &str = "index_sources";

/// Base partition (table id, partition) -> position its changes are in up to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Sources(pub BTreeMap<(u32, u32), u64>);

impl Sources {
    pub fn decode(bytes: Option<&[u8]>) -> Result<Sources, String> {
        let Some(bytes) = bytes else {
            return Ok(Sources::default());
        };
        let record = pb::IndexSources::decode(bytes).map_err(|e| e.to_string())?;
        Ok(Sources(
            record
                .sources
                .into_iter()
                .map(|s| ((s.table, s.partition), s.position))
                .collect(),
        ))
    }

    pub fn encode(&self) -> Vec<u8> {
        pb::IndexSources {
            sources: self
                .0
                .iter()
                .map(|(&(table, partition), &position)| pb::SourcePosition {
                    table,
                    partition,
                    position,
                })
                .collect(),
        }
        .encode_to_vec()
    }
}
