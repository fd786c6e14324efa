//! The cluster map: which nodes exist, which tables exist, and which nodes hold each
//! table's partitions. The metadata raft group owns it; routers and nodes watch copies of
//! it. Every change bumps `epoch`, so a copy can tell whether it is older than another.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::table::{CapacityDimension, ScalingActivity, TableDef, TokenRange, UnitsPerSecond};

pub type NodeId = u64;

/// Raft group id of the metadata group.
pub const META_GROUP: u64 = 0;

/// Raft group id of one partition of one table (never 0: table ids start at 1).
pub fn partition_group(table_id: u32, partition: u32) -> u64 {
    (u64::from(table_id) << 32) | u64::from(partition)
}

/// The table id and partition index of a partition's group id.
pub fn group_partition(group: u64) -> (u32, u32) {
    ((group >> 32) as u32, group as u32)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum NodeState {
    /// Holds replicas and receives new ones.
    Active,
    /// Being emptied (`rotor admin drain`): receives no new replicas.
    Draining,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeInfo {
    /// gRPC address other nodes and routers reach it at (`host:port`).
    pub addr: String,
    pub state: NodeState,
}

/// One partition of a table: its replicas, the first being the one that forms the group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartitionInfo {
    pub replicas: Vec<NodeId>,
    /// The map epoch at which this partition's replica set last changed.
    pub epoch: u64,
    /// The tokens the partition owned when it was made (its state machine narrows them
    /// as it applies its own splits; the table's layout says what it owns now).
    pub initial: TokenRange,
    /// The partition this one was split from: its first replicas hold its items already
    /// (from the parent's log); any other replica receives them by snapshot.
    pub split_from: Option<u32>,
    /// Nodes the partition is placed on instead of where the ring says (the autoscaler
    /// places a split's new half on the least loaded nodes).
    pub pinned: Option<Vec<NodeId>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TableEntry {
    pub def: TableDef,
    pub partitions: Vec<PartitionInfo>,
    /// What auto scaling changed, oldest first (the latest `SCALING_ACTIVITIES_KEPT`).
    pub scaling_activities: Vec<ScalingActivity>,
}

/// Scaling activities a table keeps.
pub const SCALING_ACTIVITIES_KEPT: usize = 50;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ClusterMap {
    pub epoch: u64,
    pub nodes: BTreeMap<NodeId, NodeInfo>,
    pub tables: BTreeMap<String, TableEntry>,
    /// Next table id to hand out; ids are never reused.
    pub next_table_id: u32,
    /// What one partition serves at once (`--partition-rcu`/`--partition-wcu` of the
    /// metadata leader); None: DynamoDB's default.
    pub partition_capacity: Option<UnitsPerSecond>,
}

impl ClusterMap {
    pub fn table(&self, name: &str) -> Option<&TableEntry> {
        self.tables.get(name)
    }

    /// The tables holding table `base_id`'s global secondary indexes, oldest first.
    pub fn global_indexes_of(&self, base_id: u32) -> Vec<&TableEntry> {
        let mut out: Vec<&TableEntry> = self
            .tables
            .values()
            .filter(|t| {
                t.def
                    .global_index_of
                    .as_ref()
                    .is_some_and(|g| g.base_table_id == base_id)
            })
            .collect();
        out.sort_by_key(|t| t.def.id);
        out
    }

    pub fn table_by_id(&self, id: u32) -> Option<&TableEntry> {
        self.tables.values().find(|t| t.def.id == id)
    }

    /// The replicas of partition `partition` of table `table_id`, if it exists.
    pub fn replicas(&self, table_id: u32, partition: u32) -> Option<&PartitionInfo> {
        self.table_by_id(table_id)?
            .partitions
            .get(partition as usize)
    }

    /// What one partition serves at once.
    pub fn partition_capacity(&self) -> UnitsPerSecond {
        self.partition_capacity
            .unwrap_or(crate::table::DEFAULT_PARTITION_CAPACITY)
    }

    /// Whether any of a table's partitions is still on its way to where it is pinned.
    pub fn table_moving(&self, name: &str) -> bool {
        self.table(name).is_some_and(|t| {
            t.partitions.iter().any(|p| {
                p.pinned.as_ref().is_some_and(|pins| {
                    let mut want = pins.clone();
                    let mut have = p.replicas.clone();
                    want.sort_unstable();
                    have.sort_unstable();
                    want != have
                })
            })
        })
    }

    pub fn node_addr(&self, node: NodeId) -> Option<&str> {
        self.nodes.get(&node).map(|n| n.addr.as_str())
    }
}

/// A change to the cluster map, proposed to the metadata group and applied by every
/// member in log order (so every copy of the map is the same at the same epoch).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum MetaCommand {
    /// Registers a node (or its new address); idempotent.
    AddNode {
        id: NodeId,
        addr: String,
    },
    SetNodeState {
        id: NodeId,
        state: NodeState,
    },
    /// Creates a table: assigns its id and places its `def.partition_count` partitions;
    /// likewise the tables holding its global secondary indexes (`global_indexes`,
    /// each with `global_index_of` set; named and tied to the table here).
    CreateTable {
        def: TableDef,
        /// (Not in the bincode logs of formats 1 and 2, which serde reads only to
        /// upgrade: none had indexes.)
        #[serde(skip)]
        global_indexes: Vec<TableDef>,
    },
    /// Replaces a table's definition (capacity settings) if it is still `expected`
    /// (else `Changed`); partitions are unchanged.
    UpdateTable {
        def: TableDef,
        expected: Box<TableDef>,
    },
    DeleteTable {
        name: String,
    },
    /// Replaces the replica set of one partition (a move step).
    SetReplicas {
        table_id: u32,
        partition: u32,
        replicas: Vec<NodeId>,
    },
    /// Cuts a partition at token `at`: the new partition `child` (the table's next
    /// partition id) takes the tokens from `at` on, starts on the same replicas, and is
    /// then moved to `place` (when given).
    SplitPartition {
        table_id: u32,
        partition: u32,
        at: u64,
        child: u32,
        place: Option<Vec<NodeId>>,
    },
    /// Auto scaling moves a provisioned table's capacity (from `from` to `to`; refused
    /// when the capacity is no longer `from`).
    ScaleCapacity {
        table_id: u32,
        dimension: CapacityDimension,
        from: u64,
        to: u64,
        at: f64,
        cause: String,
    },
    /// Sets what one partition serves at once, for the map and every table.
    SetPartitionCapacity {
        capacity: UnitsPerSecond,
    },
    /// Adds a global secondary index to an existing table (UpdateTable): `index` is
    /// the index's table, `global_index_of` naming the table; it starts CREATING and
    /// backfilling. Refused while another index of the table is being created.
    CreateGlobalIndex {
        index: TableDef,
    },
    /// Partition `partition` of an index's table has copied its items into the index
    /// (table `index_table_id`); once all have, the index is ACTIVE.
    GlobalIndexBackfilled {
        index_table_id: u32,
        partition: u32,
    },
}

/// What applying a `MetaCommand` decided. (One per metadata change, sent once: the size
/// of the `Table` variant costs nothing worth boxing it for.)
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum MetaReply {
    Done,
    Table(TableDef),
    TableExists(String),
    TableNotFound(String),
    UnknownNode(NodeId),
    /// The command no longer fits the map (a split of a range that moved on); why.
    Refused(String),
    /// The table is no longer as the change expected it; what changed.
    Changed(String),
    /// Too much at once (DynamoDB's LimitExceededException); why.
    LimitExceeded(String),
}

/// A `MetaReply` and the map epoch right after it was applied, so that a caller can wait
/// until its own copy of the map has caught up.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetaOutcome {
    pub epoch: u64,
    pub reply: MetaReply,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn group_ids_round_trip_and_never_collide_with_metadata() {
        for (t, p) in [(1, 0), (1, 3), (u32::MAX, u32::MAX), (7, 1 << 20)] {
            let g = partition_group(t, p);
            assert_ne!(g, META_GROUP);
            assert_eq!(group_partition(g), (t, p));
        }
    }
}
