//! The metadata state machine's logic: how each `MetaCommand` changes the cluster map.
//!
//! Pure and deterministic (every metadata replica applies the same commands in the same
//! order and must reach the same map): placement comes from the consistent-hash ring of
//! the map's active nodes, never from anything local.

use rotor_model::cluster::{
    partition_group, ClusterMap, MetaCommand, MetaOutcome, MetaReply, NodeId, NodeInfo, NodeState,
    PartitionInfo, TableEntry, SCALING_ACTIVITIES_KEPT,
};
use rotor_model::global_index::index_table_name;
use rotor_model::table::{
    CapacityDimension, ScalingActivity, TableDef, TokenRange, MAX_WARM_PARTITIONS,
};

use crate::placement::{Ring, DEFAULT_VNODES};
use global_indexes::{create_global_index, drop_unused_definitions, global_index_backfilled};

mod global_indexes;

/// The ring of nodes that receive new replicas (active ones).
pub fn ring_of(map: &ClusterMap) -> Ring {
    Ring::with_nodes(
        map.nodes
            .iter()
            .filter(|(_, n)| n.state == NodeState::Active)
            .map(|(id, _)| *id),
        DEFAULT_VNODES,
    )
}

/// Applies one command; the epoch moves only when the map changed.
pub fn apply(map: &mut ClusterMap, cmd: MetaCommand) -> MetaOutcome {
    let reply = match cmd {
        MetaCommand::AddNode { id, addr } => {
            let info = NodeInfo {
                addr,
                state: NodeState::Active,
            };
            if map.nodes.get(&id) != Some(&info) {
                map.nodes.insert(id, info);
                map.epoch += 1;
            }
            MetaReply::Done
        }
        MetaCommand::SetNodeState { id, state } => match map.nodes.get_mut(&id) {
            Some(node) => {
                if node.state != state {
                    node.state = state;
                    map.epoch += 1;
                }
                MetaReply::Done
            }
            None => MetaReply::UnknownNode(id),
        },
        MetaCommand::CreateTable {
            mut def,
            mut global_indexes,
        } => {
            def.partition_capacity = map.partition_capacity();
            for index in &mut global_indexes {
                index.partition_capacity = def.partition_capacity;
            }
            let too_warm = std::iter::once(&def)
                .chain(&global_indexes)
                .map(|d| (d, d.warm_requested.map_or(1, |w| d.partitions_for(w))))
                .find(|(_, warm)| *warm > u64::from(MAX_WARM_PARTITIONS));
            if map.tables.contains_key(&def.name) {
                MetaReply::TableExists(def.name)
            } else if let Some((d, warm)) = too_warm {
                MetaReply::Refused(warm_refusal(d, warm))
            } else {
                let def = place_table(map, def);
                for mut index in global_indexes {
                    let Some(of) = index.global_index_of.as_mut() else {
                        continue;
                    };
                    of.base_table_id = def.id;
                    of.base_table = def.name.clone();
                    index.name = index_table_name(&def.name, &of.index_name);
                    place_table(map, index);
                }
                MetaReply::Table(def)
            }
        }
        MetaCommand::UpdateTable { def, expected } => match map.tables.get_mut(&def.name) {
            Some(entry) if !same_settings(&entry.def, &expected) => MetaReply::Changed(format!(
                "table {} changed since the update was made",
                def.name
            )),
            Some(entry) => {
                // Identity and partitioning stay; the rest is the caller's.
                let mut next = def;
                next.id = entry.def.id;
                next.partition_count = entry.def.partition_count;
                next.layout = entry.def.layout.clone();
                next.partition_capacity = entry.def.partition_capacity;
                let warm = next.warm_requested.map_or(1, |w| next.partitions_for(w));
                if warm > u64::from(MAX_WARM_PARTITIONS) {
                    MetaReply::Refused(warm_refusal(&next, warm))
                } else {
                    entry.def = next.clone();
                    map.epoch += 1;
                    MetaReply::Table(next)
                }
            }
            None => MetaReply::TableNotFound(def.name),
        },
        MetaCommand::DeleteTable { name } => match map.tables.remove(&name) {
            Some(entry) => {
                drop_unused_definitions(map, &entry.def);
                // Its global secondary indexes go with it.
                map.tables.retain(|_, t| {
                    t.def
                        .global_index_of
                        .as_ref()
                        .is_none_or(|g| g.base_table_id != entry.def.id)
                });
                map.epoch += 1;
                MetaReply::Table(entry.def)
            }
            None => MetaReply::TableNotFound(name),
        },
        MetaCommand::SetReplicas {
            table_id,
            partition,
            replicas,
        } => {
            let epoch = map.epoch + 1;
            let found = map
                .tables
                .values_mut()
                .find(|t| t.def.id == table_id)
                .and_then(|t| t.partitions.get_mut(partition as usize));
            match found {
                Some(info) => {
                    if info.replicas != replicas {
                        info.replicas = replicas;
                        info.epoch = epoch;
                        map.epoch = epoch;
                    }
                    MetaReply::Done
                }
                None => MetaReply::TableNotFound(format!("table id {table_id}")),
            }
        }
        MetaCommand::SplitPartition {
            table_id,
            partition,
            at,
            child,
            place,
        } => split_partition(map, table_id, partition, at, child, place),
        MetaCommand::ScaleCapacity {
            table_id,
            dimension,
            from,
            to,
            at,
            cause,
        } => match map.tables.values_mut().find(|t| t.def.id == table_id) {
            Some(entry) if entry.def.provisioned(dimension) == from && from != to => {
                entry.def.set_provisioned(dimension, to, at);
                entry.scaling_activities.push(ScalingActivity {
                    dimension,
                    from,
                    to,
                    at,
                    cause,
                });
                let excess = entry
                    .scaling_activities
                    .len()
                    .saturating_sub(SCALING_ACTIVITIES_KEPT);
                entry.scaling_activities.drain(..excess);
                map.epoch += 1;
                MetaReply::Done
            }
            Some(entry) => MetaReply::Refused(format!(
                "{} capacity of table {} is {}, not {from}",
                match dimension {
                    CapacityDimension::Read => "read",
                    CapacityDimension::Write => "write",
                },
                entry.def.name,
                entry.def.provisioned(dimension)
            )),
            None => MetaReply::TableNotFound(format!("table id {table_id}")),
        },
        MetaCommand::SetPartitionCapacity { capacity } => {
            if map.partition_capacity != Some(capacity) {
                map.partition_capacity = Some(capacity);
                for entry in map.tables.values_mut() {
                    entry.def.partition_capacity = capacity;
                }
                map.epoch += 1;
            }
            MetaReply::Done
        }
        MetaCommand::CreateGlobalIndex { index } => create_global_index(map, index),
        MetaCommand::GlobalIndexBackfilled {
            index_table_id,
            partition,
        } => global_index_backfilled(map, index_table_id, partition),
    };
    MetaOutcome {
        epoch: map.epoch,
        reply,
    }
}

/// Whether two definitions of a table agree on everything its users set (what splits
/// change is the metadata group's own, and does not count).
fn same_settings(a: &TableDef, b: &TableDef) -> bool {
    let owned = |d: &TableDef| TableDef {
        partition_count: 0,
        layout: Vec::new(),
        partition_capacity: Default::default(),
        ..d.clone()
    };
    owned(a) == owned(b)
}

/// Gives a new table (or a global secondary index's table) its id and places its
/// partitions on the ring, under a new epoch.
fn place_table(map: &mut ClusterMap, mut def: TableDef) -> TableDef {
    let warm = def.warm_requested.map_or(1, |w| def.partitions_for(w));
    map.next_table_id = map.next_table_id.max(1);
    def.id = map.next_table_id;
    // WarmThroughput: made with as many partitions as serve it at once.
    def.partition_count = def.partition_count.max(warm as u32).max(1);
    map.next_table_id += 1;
    map.epoch += 1;
    def.layout = rotor_model::table::equal_layout(def.partition_count);
    let ring = ring_of(map);
    let partitions = (0..def.partition_count)
        .map(|p| PartitionInfo {
            replicas: ring.replicas(partition_group(def.id, p)),
            epoch: map.epoch,
            initial: def.partition_tokens(p).unwrap_or(TokenRange::ALL),
            split_from: None,
            pinned: None,
        })
        .collect();
    map.tables.insert(
        def.name.clone(),
        TableEntry {
            def: def.clone(),
            partitions,
            scaling_activities: Vec::new(),
        },
    );
    def
}

/// Why a `WarmThroughput` request was refused: it needs more partitions than a table
/// may have.
fn warm_refusal(def: &TableDef, partitions: u64) -> String {
    let most = def.partition_capacity;
    format!(
        "WarmThroughput needs {partitions} partitions at {} read and {} write units per second each; a table may have at most {MAX_WARM_PARTITIONS} (at most {} read and {} write units per second)",
        most.read,
        most.write,
        most.read * u64::from(MAX_WARM_PARTITIONS),
        most.write * u64::from(MAX_WARM_PARTITIONS)
    )
}

/// A split: the child takes the parent's tokens from `at` on and starts on the parent's
/// replicas (they hold its items); `place` pins where it then moves.
fn split_partition(
    map: &mut ClusterMap,
    table_id: u32,
    partition: u32,
    at: u64,
    child: u32,
    place: Option<Vec<NodeId>>,
) -> MetaReply {
    let epoch = map.epoch + 1;
    let Some(entry) = map.tables.values_mut().find(|t| t.def.id == table_id) else {
        return MetaReply::TableNotFound(format!("table id {table_id}"));
    };
    let Some(parent) = entry.partitions.get(partition as usize).cloned() else {
        return MetaReply::Refused(format!("table id {table_id} has no partition {partition}"));
    };
    let Some(range) = entry.def.partition_tokens(partition) else {
        return MetaReply::Refused(format!("partition {partition} owns no tokens"));
    };
    if entry.partitions.len() as u32 != child || !entry.def.split(partition, at, child) {
        return MetaReply::Refused(format!(
            "partition {partition} ({range:?}) cannot be split at {at} into partition {child}"
        ));
    }
    entry.partitions.push(PartitionInfo {
        replicas: parent.replicas.clone(),
        epoch,
        initial: TokenRange {
            start: at,
            end: range.end,
        },
        split_from: Some(partition),
        pinned: place.filter(|p| !p.is_empty()),
    });
    map.epoch = epoch;
    MetaReply::Done
}

#[cfg(test)]
mod tests;
