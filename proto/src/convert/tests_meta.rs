//! Tests: the cluster map, table definitions and metadata commands and replies go
//! model -> message -> bytes -> message -> model unchanged; bad enums and missing
//! fields give a WireError naming the field.

use prost::Message;
use rotor_model::cluster::{
    ClusterMap, MetaCommand, MetaOutcome, MetaReply, NodeInfo, NodeState, PartitionInfo, TableEntry,
};
use rotor_model::table::{
    BillingMode, CapacityChanges, CapacityDimension, CapacityScaling, KeyAttribute, KeySchema,
    ScalarType, ScalingActivity, TableDef, TargetTracking, TokenRange, UnitsPerSecond,
};

use rotor_model::global_index::{GlobalIndexOf, IndexStatus};
use rotor_model::index::{LocalIndex, Projection};

use super::tests_model::round_trip;
use super::WireError;
use crate::v1 as pb;

fn bin_key() -> KeyAttribute {
    KeyAttribute {
        name: "gsi".to_owned(),
        ty: ScalarType::B,
    }
}

/// A provisioned table with a sort key, auto scaling, a split layout and every option set.
fn scaled_table() -> TableDef {
    let pk = KeyAttribute {
        name: "pk".to_owned(),
        ty: ScalarType::S,
    };
    let sk = KeyAttribute {
        name: "sk".to_owned(),
        ty: ScalarType::N,
    };
    let bin = KeyAttribute {
        name: "gsi".to_owned(),
        ty: ScalarType::B,
    };
    let mut t = TableDef::new(
        "orders",
        KeySchema {
            partition: pk.clone(),
            sort: Some(sk.clone()),
        },
        vec![pk, sk, bin],
    );
    t.id = 3;
    t.billing_mode = BillingMode::Provisioned;
    t.read_capacity_units = 50;
    t.write_capacity_units = 20;
    t.creation_time = 1_700_000_000.125;
    t.last_billing_mode_change = Some(1_700_000_100.5);
    t.table_class = Some("STANDARD_INFREQUENT_ACCESS".to_owned());
    t.deletion_protection = true;
    t.partition_count = 2;
    assert!(t.split(0, 1 << 40, 2));
    t.max_read_request_units = Some(4000);
    t.max_write_request_units = None;
    t.partition_capacity = UnitsPerSecond {
        read: 300,
        write: 100,
    };
    t.warm_requested = Some(UnitsPerSecond {
        read: 12_000,
        write: 4000,
    });
    t.read_scaling = Some(CapacityScaling {
        min_units: 5,
        max_units: 500,
        policy: Some(TargetTracking {
            name: "reads".to_owned(),
            target_percent: 70.5,
            scale_in_cooldown_secs: 60,
            scale_out_cooldown_secs: 30,
            disable_scale_in: true,
            created_at: 1_700_000_200.0,
        }),
        disabled: false,
        created_at: 1_700_000_150.0,
    });
    t.write_scaling = Some(CapacityScaling {
        min_units: 1,
        max_units: 10,
        policy: None,
        disabled: true,
        created_at: 1_700_000_160.0,
    });
    t.local_indexes = vec![
        LocalIndex {
            name: "by_blob".to_owned(),
            sort: bin_key(),
            projection: Projection::Include(vec!["note".to_owned(), "total".to_owned()]),
        },
        LocalIndex {
            name: "by_blob_keys".to_owned(),
            sort: bin_key(),
            projection: Projection::KeysOnly,
        },
        LocalIndex {
            name: "by_blob_all".to_owned(),
            sort: bin_key(),
            projection: Projection::All,
        },
    ];
    t.global_index_of = Some(GlobalIndexOf {
        base_table_id: 7,
        base_table: "orders".to_owned(),
        index_name: "by_customer".to_owned(),
        base_key: t.key_schema.clone(),
        projection: Projection::Include(vec!["note".to_owned()]),
        status: IndexStatus::Creating,
        backfilling: true,
        online: true,
        backfilled: [0].into(),
    });
    t.capacity_changes = CapacityChanges {
        last_increase: Some(1_700_000_300.0),
        last_decrease: None,
        decreases_that_day: 3,
    };
    assert!(!t.layout.is_empty());
    t
}

fn activity(dimension: CapacityDimension) -> ScalingActivity {
    ScalingActivity {
        dimension,
        from: 10,
        to: 25,
        at: 1_700_000_400.25,
        cause: "monitor alarm exceeded".to_owned(),
    }
}

fn a_map() -> ClusterMap {
    let nodes = [
        (
            1,
            NodeInfo {
                addr: "10.0.0.1:7000".to_owned(),
                state: NodeState::Active,
            },
        ),
        (
            2,
            NodeInfo {
                addr: "[::1]:7001".to_owned(),
                state: NodeState::Draining,
            },
        ),
    ];
    let partitions = vec![
        PartitionInfo {
            replicas: vec![1, 2, 3],
            epoch: 4,
            initial: TokenRange {
                start: 0,
                end: Some(1 << 63),
            },
            split_from: None,
            pinned: None,
        },
        PartitionInfo {
            replicas: vec![2],
            epoch: 9,
            initial: TokenRange::ALL,
            split_from: Some(0),
            pinned: Some(vec![3, 1]),
        },
        PartitionInfo {
            replicas: vec![],
            epoch: 0,
            initial: TokenRange {
                start: 1 << 40,
                end: None,
            },
            split_from: Some(0),
            pinned: Some(vec![]),
        },
    ];
    let entry = TableEntry {
        def: scaled_table(),
        partitions,
        scaling_activities: vec![
            activity(CapacityDimension::Read),
            activity(CapacityDimension::Write),
        ],
    };
    let plain = TableEntry {
        def: TableDef::keyed_by_pk("plain"),
        partitions: vec![],
        scaling_activities: vec![],
    };
    ClusterMap {
        epoch: 42,
        nodes: nodes.into(),
        tables: [("orders".to_owned(), entry), ("plain".to_owned(), plain)].into(),
        next_table_id: 5,
        partition_capacity: Some(UnitsPerSecond {
            read: 300,
            write: 100,
        }),
    }
}

#[test]
fn tables_and_the_cluster_map_round_trip() {
    round_trip::<TableDef, pb::TableDef>(&scaled_table());
    round_trip::<TableDef, pb::TableDef>(&TableDef::keyed_by_pk("t"));
    round_trip::<ClusterMap, pb::ClusterMap>(&a_map());
    round_trip::<ClusterMap, pb::ClusterMap>(&ClusterMap::default());
}

fn every_command() -> Vec<MetaCommand> {
    vec![
        MetaCommand::AddNode {
            id: 7,
            addr: "node7:7000".to_owned(),
        },
        MetaCommand::SetNodeState {
            id: 7,
            state: NodeState::Draining,
        },
        MetaCommand::SetNodeState {
            id: 7,
            state: NodeState::Active,
        },
        MetaCommand::CreateTable {
            def: scaled_table(),
            global_indexes: vec![scaled_table()],
        },
        MetaCommand::UpdateTable {
            def: scaled_table(),
            expected: Box::new(TableDef::keyed_by_pk("orders")),
        },
        MetaCommand::DeleteTable {
            name: "orders".to_owned(),
        },
        MetaCommand::SetReplicas {
            table_id: 3,
            partition: 1,
            replicas: vec![3, 1, 2],
        },
        MetaCommand::SplitPartition {
            table_id: 3,
            partition: 0,
            at: u64::MAX - 1,
            child: 4,
            place: Some(vec![2, 3]),
        },
        MetaCommand::SplitPartition {
            table_id: 3,
            partition: 0,
            at: 1,
            child: 4,
            place: None,
        },
        MetaCommand::ScaleCapacity {
            table_id: 3,
            dimension: CapacityDimension::Write,
            from: 20,
            to: 40,
            at: 1_700_000_500.75,
            cause: "target tracking".to_owned(),
        },
        MetaCommand::SetPartitionCapacity {
            capacity: UnitsPerSecond {
                read: 3000,
                write: 1000,
            },
        },
        MetaCommand::CreateGlobalIndex {
            index: scaled_table(),
        },
        MetaCommand::GlobalIndexBackfilled {
            index_table_id: 9,
            partition: 2,
        },
    ]
}

#[test]
fn every_meta_command_round_trips() {
    for command in every_command() {
        round_trip::<MetaCommand, pb::MetaCommand>(&command);
    }
}

#[test]
fn every_meta_reply_round_trips() {
    let replies = [
        MetaReply::Done,
        MetaReply::Table(scaled_table()),
        MetaReply::TableExists("orders".to_owned()),
        MetaReply::TableNotFound("nope".to_owned()),
        MetaReply::UnknownNode(99),
        MetaReply::Refused("the range moved on".to_owned()),
        MetaReply::Changed("write capacity".to_owned()),
        MetaReply::LimitExceeded("one index at a time".to_owned()),
    ];
    for (epoch, reply) in replies.into_iter().enumerate() {
        round_trip::<MetaReply, pb::MetaReply>(&reply);
        round_trip::<MetaOutcome, pb::MetaOutcome>(&MetaOutcome {
            epoch: epoch as u64 + 1,
            reply,
        });
    }
}

#[test]
fn unspecified_and_unknown_enums_are_refused() {
    let state = |state: i32| pb::MetaCommand {
        command: Some(pb::meta_command::Command::SetNodeState(pb::SetNodeState {
            id: 1,
            state,
        })),
    };
    assert_eq!(
        MetaCommand::try_from(state(0)).unwrap_err(),
        WireError::Invalid {
            field: "SetNodeState.state",
            reason: "UNSPECIFIED".to_owned()
        }
    );
    let err = MetaCommand::try_from(state(17)).unwrap_err();
    assert!(
        matches!(&err, WireError::Invalid { field: "SetNodeState.state", reason } if reason.contains("17"))
    );

    let mut def = pb::TableDef::from(&scaled_table());
    def.billing_mode = pb::BillingMode::Unspecified as i32;
    let err = TableDef::try_from(def).unwrap_err();
    assert!(
        matches!(
            err,
            WireError::Invalid {
                field: "TableDef.billing_mode",
                ..
            }
        ),
        "{err}"
    );

    let mut def = pb::TableDef::from(&scaled_table());
    if let Some(schema) = def.key_schema.as_mut() {
        if let Some(sort) = schema.sort.as_mut() {
            sort.scalar_type = 0;
        }
    }
    let err = TableDef::try_from(def).unwrap_err();
    assert!(
        matches!(
            err,
            WireError::Invalid {
                field: "KeyAttribute.scalar_type",
                ..
            }
        ),
        "{err}"
    );

    let mut map = pb::ClusterMap::from(&a_map());
    if let Some(entry) = map.tables.get_mut("orders") {
        entry.scaling_activities[0].dimension = 0;
    }
    let err = ClusterMap::try_from(map).unwrap_err();
    assert!(
        matches!(
            err,
            WireError::Invalid {
                field: "ScalingActivity.dimension",
                ..
            }
        ),
        "{err}"
    );

    // A message decoded from bytes with the enum left out reads as UNSPECIFIED.
    let bytes = pb::NodeInfo {
        addr: "a:1".to_owned(),
        state: 0,
    }
    .encode_to_vec();
    let err = NodeInfo::try_from(pb::NodeInfo::decode(bytes.as_slice()).unwrap()).unwrap_err();
    assert!(matches!(
        err,
        WireError::Invalid {
            field: "NodeInfo.state",
            ..
        }
    ));
}

#[test]
fn missing_fields_are_named() {
    assert_eq!(
        MetaCommand::try_from(pb::MetaCommand { command: None }).unwrap_err(),
        WireError::Missing("MetaCommand.command")
    );
    assert_eq!(
        MetaOutcome::try_from(pb::MetaOutcome {
            epoch: 1,
            reply: None
        })
        .unwrap_err(),
        WireError::Missing("MetaOutcome.reply")
    );
    assert_eq!(
        MetaReply::try_from(pb::MetaReply { reply: None }).unwrap_err(),
        WireError::Missing("MetaReply.reply")
    );
    let mut def = pb::TableDef::from(&scaled_table());
    def.key_schema = None;
    assert_eq!(
        TableDef::try_from(def).unwrap_err(),
        WireError::Missing("TableDef.key_schema")
    );
    let create = pb::MetaCommand {
        command: Some(pb::meta_command::Command::CreateTable(pb::CreateTable {
            def: None,
            global_indexes: Vec::new(),
        })),
    };
    assert_eq!(
        MetaCommand::try_from(create).unwrap_err(),
        WireError::Missing("CreateTable.def")
    );
    let mut map = pb::ClusterMap::from(&a_map());
    if let Some(entry) = map.tables.get_mut("orders") {
        entry.partitions[1].initial = None;
    }
    assert_eq!(
        ClusterMap::try_from(map).unwrap_err(),
        WireError::Missing("PartitionInfo.initial")
    );
}
