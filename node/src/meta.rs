//! The metadata state machine's logic: how each `MetaCommand` changes the cluster map.
//!
//! Pure and deterministic (every metadata replica applies the same commands in the same
//! order and must reach the same map): placement comes from the consistent-hash ring of
//! the map's active nodes, never from anything local.

use rotor_model::cluster::{
    partition_group, ClusterMap, MetaCommand, MetaOutcome, MetaReply, NodeId, NodeInfo, NodeState,
    PartitionInfo, TableEntry,
};
use rotor_model::table::TokenRange;

use crate::placement::{Ring, DEFAULT_VNODES};

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
        MetaCommand::CreateTable { mut def } => {
            if map.tables.contains_key(&def.name) {
                MetaReply::TableExists(def.name)
            } else {
                map.next_table_id = map.next_table_id.max(1);
                def.id = map.next_table_id;
                def.partition_count = def.partition_count.max(1);
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
                    },
                );
                MetaReply::Table(def)
            }
        }
        MetaCommand::UpdateTable { def } => match map.tables.get_mut(&def.name) {
            Some(entry) => {
                // Identity and partitioning stay; the rest is the caller's.
                let mut next = def;
                next.id = entry.def.id;
                next.partition_count = entry.def.partition_count;
                next.layout = entry.def.layout.clone();
                entry.def = next.clone();
                map.epoch += 1;
                MetaReply::Table(next)
            }
            None => MetaReply::TableNotFound(def.name),
        },
        MetaCommand::DeleteTable { name } => match map.tables.remove(&name) {
            Some(entry) => {
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
    };
    MetaOutcome {
        epoch: map.epoch,
        reply,
    }
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
mod tests {
    use super::*;
    use rotor_model::table::{BillingMode, KeyAttribute, KeySchema, ScalarType, TableDef};

    fn map_with_table(partitions: u32) -> ClusterMap {
        let mut map = ClusterMap::default();
        for id in 1..=4 {
            apply(
                &mut map,
                MetaCommand::AddNode {
                    id,
                    addr: format!("127.0.0.1:{}", 7100 + id),
                },
            );
        }
        let def = TableDef {
            name: "t".into(),
            id: 0,
            key_schema: KeySchema {
                partition: KeyAttribute {
                    name: "pk".into(),
                    ty: ScalarType::S,
                },
                sort: None,
            },
            attribute_definitions: vec![],
            billing_mode: BillingMode::PayPerRequest,
            read_capacity_units: 0,
            write_capacity_units: 0,
            creation_time: 0.0,
            last_billing_mode_change: None,
            partition_count: partitions,
            table_class: None,
            deletion_protection: false,
            layout: vec![],
            max_read_request_units: None,
            max_write_request_units: None,
        };
        apply(&mut map, MetaCommand::CreateTable { def });
        map
    }

    #[test]
    fn a_split_adds_a_child_on_the_parents_replicas() {
        let mut map = map_with_table(2);
        let before = map.epoch;
        let parent = map.tables["t"].partitions[0].clone();
        let out = apply(
            &mut map,
            MetaCommand::SplitPartition {
                table_id: 1,
                partition: 0,
                at: 12345,
                child: 2,
                place: Some(vec![4, 1, 2]),
            },
        );
        assert_eq!(out.reply, MetaReply::Done);
        assert!(out.epoch > before);
        let entry = &map.tables["t"];
        assert_eq!(entry.def.partition_count, 3);
        let child = &entry.partitions[2];
        assert_eq!(child.replicas, parent.replicas);
        assert_eq!(child.split_from, Some(0));
        assert_eq!(child.pinned, Some(vec![4, 1, 2]));
        assert_eq!(
            child.initial,
            TokenRange {
                start: 12345,
                end: Some(1 << 63)
            }
        );
        assert_eq!(entry.def.partition_of_token(12344), 0);
        assert_eq!(entry.def.partition_of_token(12345), 2);
        // The parent keeps its creation range; the layout says what it owns now.
        assert_eq!(entry.partitions[0].initial.end, Some(1 << 63));
        // A stale or impossible split changes nothing.
        let epoch = map.epoch;
        for (partition, at, child) in [(0, 12345, 3), (0, 20000, 2), (9, 1, 3), (0, 0, 3)] {
            let out = apply(
                &mut map,
                MetaCommand::SplitPartition {
                    table_id: 1,
                    partition,
                    at,
                    child,
                    place: None,
                },
            );
            assert!(matches!(out.reply, MetaReply::Refused(_)), "{out:?}");
            assert_eq!(map.epoch, epoch);
        }
        // UpdateTable keeps the layout.
        let def = map.tables["t"].def.clone();
        apply(&mut map, MetaCommand::UpdateTable { def });
        assert_eq!(map.tables["t"].def.partition_count, 3);
        assert_eq!(map.tables["t"].def.layout.len(), 3);
    }
}
