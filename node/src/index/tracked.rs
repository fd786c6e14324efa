//! A base partition's record of the global secondary indexes it feeds (raft state
//! `tracked_indexes`, protobuf `rotor.v1.TrackedIndexes`): which indexes its writes
//! are checked against and its change log is kept for, from which log position each
//! was added, and whether its items before that are in the index yet (the backfill).
//!
//! The record changes only by a `TrackIndexes` entry of the partition's own log, so
//! every replica checks the same writes against the same indexes and starts logging
//! at the same position. The partition's leader proposes one when the cluster map's
//! indexes of its table differ from the record (an index created or deleted by
//! UpdateTable). A partition made before the record existed, or with its table, has
//! the indexes made with its table.

use std::sync::Arc;

use prost::Message;
use rotor_model::cluster::ClusterMap;
use rotor_model::global_index::GlobalIndexShape;
use rotor_proto::v1 as pb;
use rotor_storage::{GroupLog, Partition, StateRecord, StorageError};

use crate::raft::Reply;

/// The raft state record of a base partition's tracked indexes.
pub const TRACKED_INDEXES: &str = "tracked_indexes";

/// One index a base partition feeds.
#[derive(Debug, Clone, PartialEq)]
pub struct TrackedIndex {
    pub shape: GlobalIndexShape,
    /// The partition's log position the index was added at (0: with the partition).
    pub start: u64,
    /// Whether the partition's items from before `start` are in the index.
    pub backfilled: bool,
    /// Whether the partition had the index when it was split off its parent (whose
    /// changes reach the index first; its own wait until the parent releases it).
    pub inherited: bool,
}

/// The indexes a base partition feeds, in index table id order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Tracked(pub Vec<TrackedIndex>);

impl Tracked {
    pub fn decode(bytes: &[u8]) -> Result<Tracked, String> {
        let record = pb::TrackedIndexes::decode(bytes).map_err(|e| e.to_string())?;
        record
            .indexes
            .into_iter()
            .map(|t| {
                Ok(TrackedIndex {
                    start: t.start,
                    backfilled: t.backfilled,
                    inherited: t.inherited,
                    shape: shape_from_wire(t)?,
                })
            })
            .collect::<Result<_, String>>()
            .map(Tracked)
    }

    pub fn encode(&self) -> Vec<u8> {
        pb::TrackedIndexes {
            indexes: self
                .0
                .iter()
                .map(|t| pb::TrackedIndex {
                    start: t.start,
                    backfilled: t.backfilled,
                    inherited: t.inherited,
                    ..shape_to_wire(&t.shape)
                })
                .collect(),
        }
        .encode_to_vec()
    }

    /// The indexes made with table `table_id` (a partition without a record: made
    /// with its table, or before the record existed). Counted as inherited: such a
    /// partition split off another was gated for every index.
    pub fn made_with_table(map: &ClusterMap, table_id: u32) -> Tracked {
        Tracked(
            map.global_indexes_of(table_id)
                .iter()
                .filter(|t| t.def.global_index_of.as_ref().is_some_and(|g| !g.online))
                .filter_map(|t| t.def.global_index_shape())
                .map(|shape| TrackedIndex {
                    shape,
                    start: 0,
                    backfilled: true,
                    inherited: true,
                })
                .collect(),
        )
    }

    pub fn shapes(&self) -> Vec<GlobalIndexShape> {
        self.0.iter().map(|t| t.shape.clone()).collect()
    }

    pub fn ids(&self) -> Vec<u32> {
        self.0.iter().map(|t| t.shape.table_id).collect()
    }

    /// The record after a `TrackIndexes` entry at log position `at`: `indexes` from
    /// now on; those already tracked keep where they stand, new ones start at `at`
    /// with their backfill ahead.
    pub fn track(&self, indexes: Vec<GlobalIndexShape>, at: u64) -> Tracked {
        let mut next: Vec<TrackedIndex> = indexes
            .into_iter()
            .map(
                |shape| match self.0.iter().find(|t| t.shape.table_id == shape.table_id) {
                    Some(known) => TrackedIndex {
                        shape,
                        ..known.clone()
                    },
                    None => TrackedIndex {
                        shape,
                        start: at,
                        backfilled: false,
                        inherited: false,
                    },
                },
            )
            .collect();
        next.sort_by_key(|t| t.shape.table_id);
        Tracked(next)
    }

    /// The record a split-off half starts with: the same indexes, inherited, their
    /// backfills (where not done) ahead of it from its first position.
    pub fn for_split_half(&self) -> Tracked {
        Tracked(
            self.0
                .iter()
                .map(|t| TrackedIndex {
                    start: 0,
                    inherited: true,
                    ..t.clone()
                })
                .collect(),
        )
    }

    /// The record once the indexes `ids` have the partition's items.
    pub fn backfilled(&self, ids: &[u32]) -> Tracked {
        Tracked(
            self.0
                .iter()
                .map(|t| TrackedIndex {
                    backfilled: t.backfilled || ids.contains(&t.shape.table_id),
                    ..t.clone()
                })
                .collect(),
        )
    }

    /// The index whose backfill comes next (the one added first), if any is left.
    pub fn next_backfill(&self) -> Option<&TrackedIndex> {
        self.0
            .iter()
            .filter(|t| !t.backfilled)
            .min_by_key(|t| (t.start, t.shape.table_id))
    }
}

fn shape_to_wire(s: &GlobalIndexShape) -> pb::TrackedIndex {
    pb::TrackedIndex {
        table_id: s.table_id,
        name: s.name.clone(),
        index_key: Some((&s.index_key).into()),
        base_key: Some((&s.base_key).into()),
        projection: Some((&s.projection).into()),
        ..Default::default()
    }
}

fn shape_from_wire(t: pb::TrackedIndex) -> Result<GlobalIndexShape, String> {
    let missing = |what: &str| format!("TrackedIndex.{what} is missing");
    Ok(GlobalIndexShape {
        table_id: t.table_id,
        name: t.name,
        index_key: t
            .index_key
            .ok_or_else(|| missing("index_key"))?
            .try_into()
            .map_err(|e: rotor_proto::WireError| e.to_string())?,
        base_key: t
            .base_key
            .ok_or_else(|| missing("base_key"))?
            .try_into()
            .map_err(|e: rotor_proto::WireError| e.to_string())?,
        projection: t
            .projection
            .ok_or_else(|| missing("projection"))?
            .try_into()
            .map_err(|e: rotor_proto::WireError| e.to_string())?,
    })
}

/// `TrackIndexes` on the wire: the shapes only (where each stands is the record's).
pub fn track_to_wire(indexes: &[GlobalIndexShape]) -> pb::TrackIndexes {
    pb::TrackIndexes {
        indexes: indexes.iter().map(shape_to_wire).collect(),
    }
}

pub fn track_from_wire(t: pb::TrackIndexes) -> Result<Vec<GlobalIndexShape>, String> {
    t.indexes.into_iter().map(shape_from_wire).collect()
}

/// The partition's tracked indexes: its record, else those made with its table.
pub fn read(
    log: &GroupLog,
    map: Option<&ClusterMap>,
    table_id: u32,
) -> Result<Tracked, StorageError> {
    match log.record(TRACKED_INDEXES)? {
        Some(bytes) => decode_record(&bytes),
        None => Ok(map.map_or_else(Tracked::default, |m| Tracked::made_with_table(m, table_id))),
    }
}

fn decode_record(bytes: &[u8]) -> Result<Tracked, StorageError> {
    Tracked::decode(bytes).map_err(|e| StorageError::Corrupt(format!("{TRACKED_INDEXES}: {e}")))
}

/// Makes the partition check its writes against `tracked` and keep a change log while
/// it feeds any index.
pub fn install(partition: &Partition, tracked: &Tracked) {
    let format: Option<Arc<dyn rotor_storage::changelog::ChangeFormat>> = if tracked.0.is_empty() {
        None
    } else {
        Some(Arc::new(crate::changelog::ProtoChangeFormat))
    };
    partition.set_change_format(format);
    partition.set_global_indexes(tracked.shapes());
}

/// When a partition group opens: its tracked indexes (from `map` when it has no
/// record yet, which is then written), installed.
pub fn open(
    log: &GroupLog,
    partition: &Partition,
    map: &ClusterMap,
) -> Result<Tracked, StorageError> {
    let tracked = match log.record(TRACKED_INDEXES)? {
        Some(bytes) => decode_record(&bytes)?,
        None => {
            let made = Tracked::made_with_table(map, partition.table_id());
            if !made.0.is_empty() {
                log.put_record(TRACKED_INDEXES, made.encode())?;
            }
            made
        }
    };
    install(partition, &tracked);
    Ok(tracked)
}

/// After a snapshot is installed: the tracked indexes it brought, installed.
pub fn reload(log: &GroupLog, partition: &Partition) -> Result<(), StorageError> {
    if let Some(bytes) = log.record(TRACKED_INDEXES)? {
        install(partition, &decode_record(&bytes)?);
    }
    Ok(())
}

/// Applies a `TrackIndexes` entry at log position `at`: the partition feeds `indexes`
/// from here on. Its change log goes when it feeds none.
pub fn apply_track(
    log: &GroupLog,
    partition: &Partition,
    indexes: Vec<GlobalIndexShape>,
    at: u64,
    applied: StateRecord,
) -> Result<Reply, StorageError> {
    let before = read(log, None, partition.table_id())?;
    let after = before.track(indexes, at);
    log.put_records(&[applied, log.state_record(TRACKED_INDEXES, after.encode())])?;
    if after.0.is_empty() && !before.0.is_empty() {
        rotor_storage::changelog::remove_changes(
            log.engine(),
            (partition.table_id(), partition.index()),
        )?;
    }
    install(partition, &after);
    Ok(Reply::Progress)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rotor_model::index::Projection;
    use rotor_model::table::{KeyAttribute, KeySchema, ScalarType};

    fn shape(id: u32) -> GlobalIndexShape {
        let key = |name: &str| KeySchema {
            partition: KeyAttribute {
                name: name.into(),
                ty: ScalarType::S,
            },
            sort: None,
        };
        GlobalIndexShape {
            table_id: id,
            name: format!("idx{id}"),
            index_key: key("city"),
            base_key: key("pk"),
            projection: Projection::Include(vec!["note".into()]),
        }
    }

    #[test]
    fn new_indexes_start_where_they_are_added_and_known_ones_keep_their_place() {
        let before = Tracked::default().track(vec![shape(4)], 10);
        assert_eq!(before.0[0].start, 10);
        assert!(!before.0[0].backfilled && !before.0[0].inherited);
        let done = before.backfilled(&[4]);
        let after = done.track(vec![shape(7), shape(4)], 25);
        assert_eq!(after.ids(), [4, 7]);
        assert_eq!((after.0[0].start, after.0[0].backfilled), (10, true));
        assert_eq!((after.0[1].start, after.0[1].backfilled), (25, false));
        assert_eq!(after.next_backfill().map(|t| t.shape.table_id), Some(7));
        let dropped = after.track(vec![shape(7)], 30);
        assert_eq!(dropped.ids(), [7]);
        assert!(dropped.track(Vec::new(), 31).0.is_empty());
    }

    #[test]
    fn a_split_half_inherits_every_index_and_the_backfills_left() {
        let parent = Tracked::default()
            .track(vec![shape(4)], 3)
            .backfilled(&[4])
            .track(vec![shape(4), shape(9)], 8);
        let half = parent.for_split_half();
        assert!(half.0.iter().all(|t| t.inherited && t.start == 0));
        assert_eq!(
            half.0.iter().map(|t| t.backfilled).collect::<Vec<_>>(),
            [true, false]
        );
    }

    #[test]
    fn the_record_round_trips_through_protobuf() {
        let tracked = Tracked::default()
            .track(vec![shape(4), shape(9)], 12)
            .backfilled(&[9])
            .for_split_half();
        assert_eq!(Tracked::decode(&tracked.encode()).unwrap(), tracked);
        assert!(Tracked::decode(&[0xff, 0x01]).is_err());
        let wire = track_to_wire(&[shape(3)]);
        assert_eq!(track_from_wire(wire).unwrap(), vec![shape(3)]);
    }
}
