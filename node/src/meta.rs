//! The metadata state machine's logic: how each `MetaCommand` changes the cluster map.
//!
//! Pure and deterministic (every metadata replica applies the same commands in the same
//! order and must reach the same map): placement comes from the consistent-hash ring of
//! the map's active nodes, never from anything local.

use rotor_model::cluster::{
    partition_group, ClusterMap, MetaCommand, MetaOutcome, MetaReply, NodeInfo, NodeState,
    PartitionInfo, TableEntry,
};

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
                let ring = ring_of(map);
                let partitions = (0..def.partition_count)
                    .map(|p| PartitionInfo {
                        replicas: ring.replicas(partition_group(def.id, p)),
                        epoch: map.epoch,
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
    };
    MetaOutcome {
        epoch: map.epoch,
        reply,
    }
}
