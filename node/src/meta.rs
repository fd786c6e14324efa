//! The metadata state machine's logic: how each `MetaCommand` changes the cluster map.
//!
//! Pure and deterministic (every metadata replica applies the same commands in the same
//! order and must reach the same map): placement comes from the consistent-hash ring of
//! the map's active nodes, never from anything local.

use rotor_model::cluster::{
    partition_group, ClusterMap, MetaCommand, MetaOutcome, MetaReply, NodeId, NodeInfo, NodeState,
    PartitionInfo, TableEntry, SCALING_ACTIVITIES_KEPT,
};
use rotor_model::global_index::{index_table_name, IndexStatus};
use rotor_model::table::{
    CapacityDimension, ScalingActivity, TableDef, TokenRange, MAX_WARM_PARTITIONS,
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

/// Adds a global secondary index to an existing table: CREATING and backfilling
/// until every partition of the table has copied its items in.
fn create_global_index(map: &mut ClusterMap, mut index: TableDef) -> MetaReply {
    let Some(of) = index.global_index_of.as_mut() else {
        return MetaReply::Refused(format!("{} is not a global secondary index", index.name));
    };
    let Some(base) = map.tables.get(&of.base_table).map(|t| t.def.clone()) else {
        return MetaReply::TableNotFound(of.base_table.clone());
    };
    let existing = map.global_indexes_of(base.id);
    if existing.iter().any(|t| {
        t.def
            .global_index_of
            .as_ref()
            .is_some_and(|g| g.index_name == of.index_name)
    }) {
        return MetaReply::Refused(format!("Index with name: {} already exists", of.index_name));
    }
    if existing.len() >= rotor_model::global_index::MAX_GLOBAL_INDEXES {
        return MetaReply::LimitExceeded(format!(
            "Subscriber limit exceeded: The number of global secondary indexes of table {} cannot exceed {}",
            base.name,
            rotor_model::global_index::MAX_GLOBAL_INDEXES
        ));
    }
    if existing.iter().any(|t| {
        t.def
            .global_index_of
            .as_ref()
            .is_some_and(|g| g.status != IndexStatus::Active)
    }) {
        return MetaReply::LimitExceeded(
            "Subscriber limit exceeded: Only 1 online index can be created or deleted simultaneously per table"
                .into(),
        );
    }
    of.base_table_id = base.id;
    of.status = IndexStatus::Creating;
    of.backfilling = true;
    of.online = true;
    of.backfilled.clear();
    index.name = index_table_name(&base.name, &of.index_name);
    index.partition_capacity = map.partition_capacity();
    // The table's attribute definitions gain the index's key attributes.
    let keys = std::iter::once(&index.key_schema.partition).chain(index.key_schema.sort.iter());
    if let Some(entry) = map.tables.get_mut(&base.name) {
        for key in keys {
            if !entry
                .def
                .attribute_definitions
                .iter()
                .any(|a| a.name == key.name)
            {
                entry.def.attribute_definitions.push(key.clone());
            }
        }
    }
    MetaReply::Table(place_table(map, index))
}

/// After index table `removed` of a table is deleted: the table's attribute
/// definitions no key of it or of its other indexes uses any more go too.
fn drop_unused_definitions(map: &mut ClusterMap, removed: &TableDef) {
    let Some(base_id) = removed.global_index_of.as_ref().map(|g| g.base_table_id) else {
        return;
    };
    let mut used: Vec<String> = map
        .global_indexes_of(base_id)
        .iter()
        .flat_map(|t| {
            std::iter::once(t.def.key_schema.partition.name.clone())
                .chain(t.def.key_schema.sort.iter().map(|s| s.name.clone()))
        })
        .collect();
    let Some(entry) = map.tables.values_mut().find(|t| t.def.id == base_id) else {
        return;
    };
    let def = &mut entry.def;
    used.push(def.key_schema.partition.name.clone());
    used.extend(def.key_schema.sort.iter().map(|s| s.name.clone()));
    used.extend(def.local_indexes.iter().map(|l| l.sort.name.clone()));
    def.attribute_definitions.retain(|a| used.contains(&a.name));
}

/// Records that partition `partition` of a table has backfilled the index held by
/// table `index_table_id`; the index is ACTIVE once every partition has.
fn global_index_backfilled(map: &mut ClusterMap, index_table_id: u32, partition: u32) -> MetaReply {
    let Some(base_id) = map
        .table_by_id(index_table_id)
        .and_then(|t| t.def.global_index_of.as_ref())
        .map(|g| g.base_table_id)
    else {
        return MetaReply::TableNotFound(format!("table id {index_table_id}"));
    };
    let Some(partitions) = map.table_by_id(base_id).map(|t| t.partitions.len() as u32) else {
        return MetaReply::TableNotFound(format!("table id {base_id}"));
    };
    let Some(of) = map
        .tables
        .values_mut()
        .find(|t| t.def.id == index_table_id)
        .and_then(|t| t.def.global_index_of.as_mut())
    else {
        return MetaReply::TableNotFound(format!("table id {index_table_id}"));
    };
    if !of.backfilling || !of.backfilled.insert(partition) {
        return MetaReply::Done;
    }
    if (0..partitions).all(|p| of.backfilled.contains(&p)) {
        of.backfilling = false;
        of.status = IndexStatus::Active;
        of.backfilled.clear();
    }
    map.epoch += 1;
    MetaReply::Done
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
mod tests {
    use super::*;
    use rotor_model::table::UnitsPerSecond;

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
            partition_count: partitions,
            ..TableDef::keyed_by_pk("t")
        };
        apply(
            &mut map,
            MetaCommand::CreateTable {
                def,
                global_indexes: Vec::new(),
            },
        );
        map
    }

    #[test]
    fn a_table_is_created_and_deleted_with_the_tables_of_its_global_indexes() {
        use rotor_model::global_index::{GlobalIndexOf, IndexStatus};
        use rotor_model::index::Projection;
        let mut map = map_with_table(1);
        let index = |name: &str, partitions: u32| TableDef {
            partition_count: partitions,
            global_index_of: Some(GlobalIndexOf {
                base_table_id: 0,
                base_table: String::new(),
                index_name: name.into(),
                base_key: TableDef::keyed_by_pk("x").key_schema,
                projection: Projection::KeysOnly,
                status: IndexStatus::Active,
                backfilling: false,
                online: false,
                backfilled: Default::default(),
            }),
            ..TableDef::keyed_by_pk(name)
        };
        let reply = apply(
            &mut map,
            MetaCommand::CreateTable {
                def: TableDef::keyed_by_pk("Music"),
                global_indexes: vec![index("ByAlbum", 2), index("ByYear", 3)],
            },
        );
        let MetaOutcome {
            reply: MetaReply::Table(base),
            ..
        } = reply
        else {
            panic!("not created: {reply:?}");
        };
        let indexes = map.global_indexes_of(base.id);
        let names: Vec<&str> = indexes.iter().map(|t| t.def.name.as_str()).collect();
        assert_eq!(names, ["Music/ByAlbum", "Music/ByYear"]);
        for (t, parts) in indexes.iter().zip([2, 3]) {
            let of = t.def.global_index_of.as_ref().unwrap();
            assert_eq!(
                (of.base_table_id, of.base_table.as_str()),
                (base.id, "Music")
            );
            assert_ne!(t.def.id, base.id);
            assert_eq!(t.partitions.len(), parts, "placed like a table's");
            assert!(t.partitions.iter().all(|p| p.replicas.len() == 3));
        }
        apply(
            &mut map,
            MetaCommand::DeleteTable {
                name: "Music".into(),
            },
        );
        assert!(map.global_indexes_of(base.id).is_empty());
        assert_eq!(map.tables.keys().collect::<Vec<_>>(), ["t"]);
    }

    #[test]
    fn an_index_added_later_is_active_once_every_partition_has_backfilled_it() {
        use rotor_model::global_index::GlobalIndexOf;
        use rotor_model::index::Projection;
        use rotor_model::table::{KeyAttribute, KeySchema, ScalarType};
        let mut map = map_with_table(2);
        let index = |name: &str| TableDef {
            partition_count: 1,
            global_index_of: Some(GlobalIndexOf {
                base_table_id: 0,
                base_table: "t".into(),
                index_name: name.into(),
                base_key: TableDef::keyed_by_pk("x").key_schema,
                projection: Projection::KeysOnly,
                status: IndexStatus::Active,
                backfilling: false,
                online: false,
                backfilled: Default::default(),
            }),
            ..TableDef::new(
                name,
                KeySchema {
                    partition: KeyAttribute {
                        name: "city".into(),
                        ty: ScalarType::S,
                    },
                    sort: None,
                },
                Vec::new(),
            )
        };
        let out = apply(
            &mut map,
            MetaCommand::CreateGlobalIndex {
                index: index("by_city"),
            },
        );
        let MetaReply::Table(placed) = out.reply else {
            panic!("not created: {out:?}");
        };
        assert_eq!(placed.name, "t/by_city");
        let of = placed.global_index_of.clone().unwrap();
        assert!(of.online && of.backfilling && of.status == IndexStatus::Creating);
        let base = &map.tables["t"].def;
        assert!(base.attribute_definitions.iter().any(|a| a.name == "city"));
        // One at a time, and never twice under one name.
        let second = apply(
            &mut map,
            MetaCommand::CreateGlobalIndex {
                index: index("by_zip"),
            },
        );
        assert!(
            matches!(second.reply, MetaReply::LimitExceeded(_)),
            "{second:?}"
        );
        let again = apply(
            &mut map,
            MetaCommand::CreateGlobalIndex {
                index: index("by_city"),
            },
        );
        assert!(matches!(again.reply, MetaReply::Refused(_)), "{again:?}");
        let done = |map: &mut ClusterMap, partition| {
            apply(
                map,
                MetaCommand::GlobalIndexBackfilled {
                    index_table_id: placed.id,
                    partition,
                },
            );
            map.tables["t/by_city"].def.global_index_of.clone().unwrap()
        };
        let of = done(&mut map, 1);
        assert!(of.backfilling && of.backfilled.contains(&1));
        let of = done(&mut map, 0);
        assert!(!of.backfilling && of.status == IndexStatus::Active);
        // Deleting it drops the attribute only it used.
        apply(
            &mut map,
            MetaCommand::DeleteTable {
                name: "t/by_city".into(),
            },
        );
        let base = &map.tables["t"].def;
        assert!(!base.attribute_definitions.iter().any(|a| a.name == "city"));
    }

    #[test]
    fn warm_throughput_makes_a_table_with_enough_partitions() {
        let mut map = map_with_table(2);
        apply(
            &mut map,
            MetaCommand::SetPartitionCapacity {
                capacity: UnitsPerSecond {
                    read: 300,
                    write: 100,
                },
            },
        );
        // The existing table now counts its warm throughput in the new capacity.
        assert_eq!(
            map.tables["t"].def.warm_throughput(),
            UnitsPerSecond {
                read: 600,
                write: 200
            }
        );
        let mut def = map.tables["t"].def.clone();
        def.name = "warm".into();
        def.partition_count = 2;
        def.warm_requested = Some(UnitsPerSecond {
            read: 1000,
            write: 550,
        });
        let out = apply(
            &mut map,
            MetaCommand::CreateTable {
                def: def.clone(),
                global_indexes: Vec::new(),
            },
        );
        // 1000 / 300 -> 4 partitions, 550 / 100 -> 6: six.
        let MetaReply::Table(made) = out.reply else {
            panic!("not created: {out:?}");
        };
        assert_eq!(made.partition_count, 6);
        assert_eq!(map.tables["warm"].partitions.len(), 6);
        assert_eq!(made.warm_partitions_missing(), 0);
        // More than a table may have is refused, saying the most it may ask for.
        def.name = "too_warm".into();
        def.warm_requested = Some(UnitsPerSecond {
            read: 1,
            write: 100 * 257,
        });
        let out = apply(
            &mut map,
            MetaCommand::CreateTable {
                def,
                global_indexes: Vec::new(),
            },
        );
        match out.reply {
            MetaReply::Refused(why) => assert!(why.contains("at most 256"), "{why}"),
            other => panic!("expected a refusal, got {other:?}"),
        }
        assert!(!map.tables.contains_key("too_warm"));
        // UpdateTable asks for more: the table is short of partitions until split.
        let mut update = map.tables["t"].def.clone();
        update.warm_requested = Some(UnitsPerSecond {
            read: 0,
            write: 400,
        });
        let expected = map.tables["t"].def.clone();
        apply(
            &mut map,
            MetaCommand::UpdateTable {
                def: update,
                expected: Box::new(expected),
            },
        );
        assert_eq!(map.tables["t"].def.warm_partitions_missing(), 2);
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
        // UpdateTable keeps the layout, even from a definition read before the split
        // (splits are not a change its user made).
        let mut stale = map.tables["t"].def.clone();
        stale.partition_count = 2;
        stale.layout = Vec::new();
        let mut def = stale.clone();
        def.deletion_protection = true;
        let out = apply(
            &mut map,
            MetaCommand::UpdateTable {
                def,
                expected: Box::new(stale),
            },
        );
        assert!(matches!(out.reply, MetaReply::Table(_)), "{out:?}");
        assert!(map.tables["t"].def.deletion_protection);
        assert_eq!(map.tables["t"].def.partition_count, 3);
        assert_eq!(map.tables["t"].def.layout.len(), 3);
    }

    #[test]
    fn an_update_made_on_a_table_that_changed_meanwhile_is_not_applied() {
        let mut map = map_with_table(1);
        let read = map.tables["t"].def.clone();
        // Auto scaling (here: another change) moves the table on meanwhile.
        let mut other = read.clone();
        other.table_class = Some("STANDARD_INFREQUENT_ACCESS".into());
        apply(
            &mut map,
            MetaCommand::UpdateTable {
                def: other,
                expected: Box::new(read.clone()),
            },
        );
        let mut mine = read.clone();
        mine.deletion_protection = true;
        let epoch = map.epoch;
        let out = apply(
            &mut map,
            MetaCommand::UpdateTable {
                def: mine,
                expected: Box::new(read),
            },
        );
        assert!(matches!(out.reply, MetaReply::Changed(_)), "{out:?}");
        assert_eq!(map.epoch, epoch);
        let now = &map.tables["t"].def;
        assert!(!now.deletion_protection);
        assert_eq!(
            now.table_class.as_deref(),
            Some("STANDARD_INFREQUENT_ACCESS")
        );
    }
}
