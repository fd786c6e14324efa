//! The cluster map and the metadata group's commands and replies on the wire.

use rotor_model::cluster::{
    ClusterMap, MetaCommand, MetaOutcome, MetaReply, NodeId, NodeInfo, PartitionInfo, TableEntry,
};

use super::table::enum_to_wire;
use super::{enum_from_wire, required, WireError};
use crate::v1 as pb;
use pb::{meta_command::Command, meta_reply::Reply};

fn node_list(nodes: &[NodeId]) -> pb::NodeList {
    pb::NodeList {
        nodes: nodes.to_vec(),
    }
}

impl From<&NodeInfo> for pb::NodeInfo {
    fn from(n: &NodeInfo) -> Self {
        pb::NodeInfo {
            addr: n.addr.clone(),
            state: enum_to_wire::<pb::NodeState, _>(n.state),
        }
    }
}

impl TryFrom<pb::NodeInfo> for NodeInfo {
    type Error = WireError;

    fn try_from(n: pb::NodeInfo) -> Result<Self, WireError> {
        Ok(NodeInfo {
            addr: n.addr,
            state: enum_from_wire::<pb::NodeState, _>(n.state, "NodeInfo.state")?,
        })
    }
}

impl From<&PartitionInfo> for pb::PartitionInfo {
    fn from(p: &PartitionInfo) -> Self {
        pb::PartitionInfo {
            replicas: p.replicas.clone(),
            epoch: p.epoch,
            initial: Some((&p.initial).into()),
            split_from: p.split_from,
            pinned: p.pinned.as_deref().map(node_list),
        }
    }
}

impl TryFrom<pb::PartitionInfo> for PartitionInfo {
    type Error = WireError;

    fn try_from(p: pb::PartitionInfo) -> Result<Self, WireError> {
        Ok(PartitionInfo {
            replicas: p.replicas,
            epoch: p.epoch,
            initial: required(p.initial, "PartitionInfo.initial")?.try_into()?,
            split_from: p.split_from,
            pinned: p.pinned.map(|l| l.nodes),
        })
    }
}

impl From<&TableEntry> for pb::TableEntry {
    fn from(t: &TableEntry) -> Self {
        pb::TableEntry {
            def: Some((&t.def).into()),
            partitions: t.partitions.iter().map(Into::into).collect(),
            scaling_activities: t.scaling_activities.iter().map(Into::into).collect(),
        }
    }
}

impl TryFrom<pb::TableEntry> for TableEntry {
    type Error = WireError;

    fn try_from(t: pb::TableEntry) -> Result<Self, WireError> {
        Ok(TableEntry {
            def: required(t.def, "TableEntry.def")?.try_into()?,
            partitions: t
                .partitions
                .into_iter()
                .map(TryInto::try_into)
                .collect::<Result<_, _>>()?,
            scaling_activities: t
                .scaling_activities
                .into_iter()
                .map(TryInto::try_into)
                .collect::<Result<_, _>>()?,
        })
    }
}

impl From<&ClusterMap> for pb::ClusterMap {
    fn from(m: &ClusterMap) -> Self {
        pb::ClusterMap {
            epoch: m.epoch,
            nodes: m.nodes.iter().map(|(id, n)| (*id, n.into())).collect(),
            tables: m
                .tables
                .iter()
                .map(|(name, t)| (name.clone(), t.into()))
                .collect(),
            next_table_id: m.next_table_id,
            partition_capacity: m.partition_capacity.as_ref().map(Into::into),
        }
    }
}

impl TryFrom<pb::ClusterMap> for ClusterMap {
    type Error = WireError;

    fn try_from(m: pb::ClusterMap) -> Result<Self, WireError> {
        Ok(ClusterMap {
            epoch: m.epoch,
            nodes: m
                .nodes
                .into_iter()
                .map(|(id, n)| Ok((id, n.try_into()?)))
                .collect::<Result<_, WireError>>()?,
            tables: m
                .tables
                .into_iter()
                .map(|(name, t)| Ok((name, t.try_into()?)))
                .collect::<Result<_, WireError>>()?,
            next_table_id: m.next_table_id,
            partition_capacity: m.partition_capacity.map(TryInto::try_into).transpose()?,
        })
    }
}

impl From<&MetaCommand> for pb::MetaCommand {
    fn from(c: &MetaCommand) -> Self {
        let command = match c {
            MetaCommand::AddNode { id, addr } => Command::AddNode(pb::AddNode {
                id: *id,
                addr: addr.clone(),
            }),
            MetaCommand::SetNodeState { id, state } => Command::SetNodeState(pb::SetNodeState {
                id: *id,
                state: enum_to_wire::<pb::NodeState, _>(*state),
            }),
            MetaCommand::CreateTable {
                def,
                global_indexes,
            } => Command::CreateTable(pb::CreateTable {
                def: Some(def.into()),
                global_indexes: global_indexes.iter().map(Into::into).collect(),
            }),
            MetaCommand::UpdateTable { def, expected } => Command::UpdateTable(pb::UpdateTable {
                def: Some(def.into()),
                expected: Some(expected.as_ref().into()),
            }),
            MetaCommand::DeleteTable { name } => {
                Command::DeleteTable(pb::DeleteTable { name: name.clone() })
            }
            MetaCommand::SetReplicas {
                table_id,
                partition,
                replicas,
            } => Command::SetReplicas(pb::SetReplicas {
                table_id: *table_id,
                partition: *partition,
                replicas: replicas.clone(),
            }),
            MetaCommand::SplitPartition {
                table_id,
                partition,
                at,
                child,
                place,
            } => Command::SplitPartition(pb::SplitPartition {
                table_id: *table_id,
                partition: *partition,
                at: *at,
                child: *child,
                place: place.as_deref().map(node_list),
            }),
            MetaCommand::ScaleCapacity {
                table_id,
                dimension,
                from,
                to,
                at,
                cause,
            } => Command::ScaleCapacity(pb::ScaleCapacity {
                table_id: *table_id,
                dimension: enum_to_wire::<pb::CapacityDimension, _>(*dimension),
                from: *from,
                to: *to,
                at: *at,
                cause: cause.clone(),
            }),
            MetaCommand::SetPartitionCapacity { capacity } => {
                Command::SetPartitionCapacity(pb::SetPartitionCapacity {
                    capacity: Some(capacity.into()),
                })
            }
            MetaCommand::CreateGlobalIndex { index } => {
                Command::CreateGlobalIndex(pb::CreateGlobalIndex {
                    index: Some(index.into()),
                })
            }
            MetaCommand::GlobalIndexBackfilled {
                index_table_id,
                partition,
            } => Command::GlobalIndexBackfilled(pb::GlobalIndexBackfilled {
                index_table_id: *index_table_id,
                partition: *partition,
            }),
        };
        pb::MetaCommand {
            command: Some(command),
        }
    }
}

impl TryFrom<pb::MetaCommand> for MetaCommand {
    type Error = WireError;

    fn try_from(c: pb::MetaCommand) -> Result<Self, WireError> {
        Ok(match required(c.command, "MetaCommand.command")? {
            Command::AddNode(c) => MetaCommand::AddNode {
                id: c.id,
                addr: c.addr,
            },
            Command::SetNodeState(c) => MetaCommand::SetNodeState {
                id: c.id,
                state: enum_from_wire::<pb::NodeState, _>(c.state, "SetNodeState.state")?,
            },
            Command::CreateTable(c) => MetaCommand::CreateTable {
                def: required(c.def, "CreateTable.def")?.try_into()?,
                global_indexes: c
                    .global_indexes
                    .into_iter()
                    .map(TryInto::try_into)
                    .collect::<Result<_, _>>()?,
            },
            Command::UpdateTable(c) => MetaCommand::UpdateTable {
                def: required(c.def, "UpdateTable.def")?.try_into()?,
                expected: Box::new(required(c.expected, "UpdateTable.expected")?.try_into()?),
            },
            Command::DeleteTable(c) => MetaCommand::DeleteTable { name: c.name },
            Command::SetReplicas(c) => MetaCommand::SetReplicas {
                table_id: c.table_id,
                partition: c.partition,
                replicas: c.replicas,
            },
            Command::SplitPartition(c) => MetaCommand::SplitPartition {
                table_id: c.table_id,
                partition: c.partition,
                at: c.at,
                child: c.child,
                place: c.place.map(|l| l.nodes),
            },
            Command::ScaleCapacity(c) => MetaCommand::ScaleCapacity {
                table_id: c.table_id,
                dimension: enum_from_wire::<pb::CapacityDimension, _>(
                    c.dimension,
                    "ScaleCapacity.dimension",
                )?,
                from: c.from,
                to: c.to,
                at: c.at,
                cause: c.cause,
            },
            Command::SetPartitionCapacity(c) => MetaCommand::SetPartitionCapacity {
                capacity: required(c.capacity, "SetPartitionCapacity.capacity")?.try_into()?,
            },
            Command::CreateGlobalIndex(c) => MetaCommand::CreateGlobalIndex {
                index: required(c.index, "CreateGlobalIndex.index")?.try_into()?,
            },
            Command::GlobalIndexBackfilled(c) => MetaCommand::GlobalIndexBackfilled {
                index_table_id: c.index_table_id,
                partition: c.partition,
            },
        })
    }
}

impl From<&MetaReply> for pb::MetaReply {
    fn from(r: &MetaReply) -> Self {
        let reply = match r {
            MetaReply::Done => Reply::Done(true),
            MetaReply::Table(def) => Reply::Table(def.into()),
            MetaReply::TableExists(name) => Reply::TableExists(name.clone()),
            MetaReply::TableNotFound(name) => Reply::TableNotFound(name.clone()),
            MetaReply::UnknownNode(id) => Reply::UnknownNode(*id),
            MetaReply::Refused(why) => Reply::Refused(why.clone()),
            MetaReply::Changed(what) => Reply::Changed(what.clone()),
            MetaReply::LimitExceeded(why) => Reply::LimitExceeded(why.clone()),
        };
        pb::MetaReply { reply: Some(reply) }
    }
}

impl TryFrom<pb::MetaReply> for MetaReply {
    type Error = WireError;

    fn try_from(r: pb::MetaReply) -> Result<Self, WireError> {
        Ok(match required(r.reply, "MetaReply.reply")? {
            // (`done` is always written true; its value says nothing more.)
            Reply::Done(_) => MetaReply::Done,
            Reply::Table(def) => MetaReply::Table(def.try_into()?),
            Reply::TableExists(name) => MetaReply::TableExists(name),
            Reply::TableNotFound(name) => MetaReply::TableNotFound(name),
            Reply::UnknownNode(id) => MetaReply::UnknownNode(id),
            Reply::Refused(why) => MetaReply::Refused(why),
            Reply::Changed(what) => MetaReply::Changed(what),
            Reply::LimitExceeded(why) => MetaReply::LimitExceeded(why),
        })
    }
}

impl From<&MetaOutcome> for pb::MetaOutcome {
    fn from(o: &MetaOutcome) -> Self {
        pb::MetaOutcome {
            epoch: o.epoch,
            reply: Some((&o.reply).into()),
        }
    }
}

impl TryFrom<pb::MetaOutcome> for MetaOutcome {
    type Error = WireError;

    fn try_from(o: pb::MetaOutcome) -> Result<Self, WireError> {
        Ok(MetaOutcome {
            epoch: o.epoch,
            reply: required(o.reply, "MetaOutcome.reply")?.try_into()?,
        })
    }
}
