//! A partition's change log on the engine directly: while it is kept, every write that
//! changes an item records the item before and after at its log position, in the
//! same batch; writes that change nothing record nothing; readers resume from a
//! position; trimming drops what every reader is past.

use std::sync::Arc;

use rotor_model::keys::item_key;
use rotor_model::table::TokenRange;
use rotor_model::write::{WriteCommand, WriteRequest};
use rotor_model::{AttributeValue, Item};
use rotor_storage::changelog::{
    read_changes, remove_changes, trim_changes, Change, ChangeFormat, ItemChange,
};
use rotor_storage::{Engine, Partition};

const TABLE: u32 = 4;

/// The test's own encoding of a change (the node's is protobuf).
struct JsonFormat;

impl ChangeFormat for JsonFormat {
    fn encode(&self, c: &Change) -> Vec<u8> {
        let value = match c {
            Change::Item(c) => serde_json::json!({"item": (&c.item_key, &c.old, &c.new)}),
            Change::Split { child, at } => serde_json::json!({"split": (child, at)}),
        };
        serde_json::to_vec(&value).unwrap()
    }

    fn decode(&self, bytes: &[u8]) -> Result<Change, String> {
        let value: serde_json::Value = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
        if let Some(split) = value.get("split") {
            let (child, at): (u32, u64) =
                serde_json::from_value(split.clone()).map_err(|e| e.to_string())?;
            return Ok(Change::Split { child, at });
        }
        let (item_key, old, new): (Vec<u8>, Option<Item>, Option<Item>) =
            serde_json::from_value(value["item"].clone()).map_err(|e| e.to_string())?;
        Ok(Change::Item(ItemChange { item_key, old, new }))
    }
}

fn item(pk: &str, v: i64) -> Item {
    Item::from([
        ("pk".into(), AttributeValue::S(pk.into())),
        (
            "v".into(),
            AttributeValue::N(v.to_string().parse().unwrap()),
        ),
    ])
}

fn key(pk: &str) -> Vec<u8> {
    item_key(TABLE, &AttributeValue::S(pk.into()), None)
}

fn put(pk: &str, v: i64) -> WriteRequest {
    WriteRequest {
        table_id: TABLE,
        item_key: key(pk),
        command: WriteCommand::Put {
            item: item(pk, v),
            condition: None,
        },
    }
}

fn delete(pk: &str) -> WriteRequest {
    WriteRequest {
        table_id: TABLE,
        item_key: key(pk),
        command: WriteCommand::Delete {
            key: Item::from([("pk".into(), AttributeValue::S(pk.into()))]),
            condition: None,
        },
    }
}

#[test]
fn a_kept_change_log_records_each_change_at_its_position() {
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::open(dir.path()).unwrap();
    let partition = Partition::open(&engine, TABLE, 0, TokenRange::ALL, false).unwrap();
    let log = (TABLE, 0);
    // Not kept: nothing is recorded.
    partition
        .apply_at(&engine, &put("a", 1), &[], Some(1))
        .unwrap();
    assert!(read_changes(&engine, &JsonFormat, log, 0, 10)
        .unwrap()
        .is_empty());

    partition.set_change_format(Some(Arc::new(JsonFormat)));
    partition
        .apply_at(&engine, &put("a", 2), &[], Some(5))
        .unwrap();
    // A delete of an item that is not there changes nothing.
    partition
        .apply_at(&engine, &delete("zz"), &[], Some(6))
        .unwrap();
    partition
        .apply_at(&engine, &put("b", 1), &[], Some(7))
        .unwrap();
    partition
        .apply_at(&engine, &delete("a"), &[], Some(9))
        .unwrap();
    let changes = read_changes(&engine, &JsonFormat, log, 0, 10).unwrap();
    assert_eq!(
        changes,
        vec![
            (
                5,
                Change::Item(ItemChange {
                    item_key: key("a"),
                    old: Some(item("a", 1)),
                    new: Some(item("a", 2))
                })
            ),
            (
                7,
                Change::Item(ItemChange {
                    item_key: key("b"),
                    old: None,
                    new: Some(item("b", 1))
                })
            ),
            (
                9,
                Change::Item(ItemChange {
                    item_key: key("a"),
                    old: Some(item("a", 2)),
                    new: None
                })
            ),
        ]
    );
    // A reader resumes from a position, a page at a time.
    let from_6 = read_changes(&engine, &JsonFormat, log, 6, 1).unwrap();
    assert_eq!(from_6.iter().map(|c| c.0).collect::<Vec<_>>(), [7]);
    // Another partition's log is its own.
    assert!(read_changes(&engine, &JsonFormat, (TABLE, 1), 0, 10)
        .unwrap()
        .is_empty());

    // A split is recorded at its position, with the child and the token it cut at.
    partition
        .split(&engine, (1 << 63, 1), Some(11), &[], &[])
        .unwrap();
    let last = read_changes(&engine, &JsonFormat, log, 10, 10).unwrap();
    assert_eq!(
        last,
        vec![(
            11,
            Change::Split {
                child: 1,
                at: 1 << 63
            }
        )]
    );

    trim_changes(&engine, log, 7).unwrap();
    let left = read_changes(&engine, &JsonFormat, log, 0, 10).unwrap();
    assert_eq!(left.iter().map(|c| c.0).collect::<Vec<_>>(), [7, 9, 11]);

    // Stopped: later writes record nothing; a dropped copy drops its log.
    partition.set_change_format(None);
    let below_split = (0..100)
        .map(|i| format!("c{i}"))
        .find(|pk| rotor_model::keys::token(&AttributeValue::S(pk.clone())) < 1 << 63)
        .unwrap();
    partition
        .apply_at(&engine, &put(&below_split, 1), &[], Some(12))
        .unwrap();
    assert_eq!(
        read_changes(&engine, &JsonFormat, log, 0, 10)
            .unwrap()
            .len(),
        3
    );
    remove_changes(&engine, log).unwrap();
    assert!(read_changes(&engine, &JsonFormat, log, 0, 10)
        .unwrap()
        .is_empty());
}

#[test]
fn the_change_log_survives_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    {
        let engine = Engine::open(dir.path()).unwrap();
        let partition = Partition::open(&engine, TABLE, 2, TokenRange::ALL, false).unwrap();
        partition.set_change_format(Some(Arc::new(JsonFormat)));
        partition
            .apply_at(&engine, &put("a", 1), &[], Some(3))
            .unwrap();
        engine.sync_blocking().unwrap();
    }
    let engine = Engine::open(dir.path()).unwrap();
    let changes = read_changes(&engine, &JsonFormat, (TABLE, 2), 0, 10).unwrap();
    assert_eq!(changes.len(), 1);
    let Change::Item(change) = &changes[0].1 else {
        panic!("not an item change: {:?}", changes[0]);
    };
    assert_eq!(change.new, Some(item("a", 1)));
}
