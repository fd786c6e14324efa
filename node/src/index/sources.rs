//! An index partition's record of its sources: for each base partition, the log
//! position its changes are in up to (raft state `index_sources`, protobuf
//! `rotor.v1.IndexSources`, written in the batch of each index write). A copy that
//! arrives again, late or from a deposed leader, is thus applied at most once; and a
//! split-off base partition is listed only once its parent released it. A source
//! backfilling into the index has its backfill's cursor here too.

use std::collections::BTreeMap;

use prost::Message;
use rotor_proto::v1 as pb;

/// The raft state record of an index partition's sources.
pub const INDEX_SOURCES: &str = "index_sources";

/// Where a source's backfill stands: its attempt, and the item key its pages are in
/// up to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackfillCursor {
    pub attempt: u64,
    pub through: Vec<u8>,
}

/// Base partition (table id, partition) -> position its changes are in up to; and
/// for those backfilling at that position, their cursor.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Sources(
    pub BTreeMap<(u32, u32), u64>,
    pub BTreeMap<(u32, u32), BackfillCursor>,
);

impl Sources {
    pub fn decode(bytes: Option<&[u8]>) -> Result<Sources, String> {
        let Some(bytes) = bytes else {
            return Ok(Sources::default());
        };
        let record = pb::IndexSources::decode(bytes).map_err(|e| e.to_string())?;
        let mut sources = Sources::default();
        for s in record.sources {
            sources.0.insert((s.table, s.partition), s.position);
            if let Some(b) = s.backfill {
                sources.1.insert(
                    (s.table, s.partition),
                    BackfillCursor {
                        attempt: b.attempt,
                        through: b.through,
                    },
                );
            }
        }
        Ok(sources)
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
                    backfill: self.1.get(&(table, partition)).map(|c| pb::BackfillCursor {
                        attempt: c.attempt,
                        through: c.through.clone(),
                    }),
                })
                .collect(),
        }
        .encode_to_vec()
    }
}
