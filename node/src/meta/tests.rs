//! The metadata state machine's tests: each command's effect on a map.

use super::*;
use rotor_model::global_index::{GlobalIndexOf, IndexStatus};
use rotor_model::index::Projection;
use rotor_model::table::{KeyAttribute, KeySchema, ScalarType, UnitsPerSecond};

/// The table of an index `name` of table `base`, keyed by string attribute `key`.
fn index_table(name: &str, base: &str, key: &str, partitions: u32) -> TableDef {
    TableDef {
        partition_count: partitions,
        global_index_of: Some(GlobalIndexOf {
            base_table_id: 0,
            base_table: base.into(),
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
                    name: key.into(),
                    ty: ScalarType::S,
                },
                sort: None,
            },
            Vec::new(),
        )
    }
}

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
    let mut map = map_with_table(1);
    let index = |name: &str, partitions: u32| index_table(name, "", "city", partitions);
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
    let mut map = map_with_table(2);
    let index = |name: &str| index_table(name, "t", "city", 1);
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
