//! The partition state machine on RocksDB: the same commands give the same state on
//! every replica, statistics follow the items, and everything survives a reopen.

use std::collections::BTreeMap;

use rotor_model::expr::{ExprInput, Parser};
use rotor_model::keys::item_key;
use rotor_model::read::ReadRange;
use rotor_model::table::TableDef;
use rotor_model::write::{WriteCommand, WriteOutcome, WriteRequest};
use rotor_model::{AttributeValue, Item, Number};
use rotor_storage::Store;

fn table_def() -> TableDef {
    TableDef {
        partition_count: 1,
        ..TableDef::keyed_by_pk("songs")
    }
}

fn key(pk: &str) -> Item {
    Item::from([("pk".to_owned(), AttributeValue::S(pk.to_owned()))])
}

/// A mixed sequence: puts, counter updates, a conditional put that fails, a delete.
fn commands(table_id: u32) -> Vec<WriteRequest> {
    let values = BTreeMap::from([
        (":one".to_owned(), AttributeValue::N(Number::from_i64(1))),
        (":zero".to_owned(), AttributeValue::N(Number::from_i64(0))),
    ]);
    let mut parser = Parser::new(ExprInput {
        names: None,
        values: Some(&values),
    });
    let add_one = parser
        .update("SET n = if_not_exists(n, :zero) + :one")
        .unwrap();
    let absent = parser
        .condition(
            "attribute_not_exists(pk)",
            rotor_model::expr::ExprKind::Condition,
        )
        .unwrap();
    let mut out = Vec::new();
    for i in 0..20 {
        let pk = format!("k{}", i % 7);
        let item_key = item_key(table_id, &AttributeValue::S(pk.clone()), None);
        let command = match i % 4 {
            0 => WriteCommand::Put {
                item: key(&pk),
                condition: Some(absent.clone()),
            },
            1 | 2 => WriteCommand::Update {
                key: key(&pk),
                update: Some(add_one.clone()),
                condition: None,
            },
            _ => WriteCommand::Delete {
                key: key(&pk),
                condition: None,
            },
        };
        out.push(WriteRequest {
            table_id,
            item_key,
            command,
        });
    }
    out
}

fn all_items(store: &Store, table_id: u32) -> Vec<(Vec<u8>, Item)> {
    let range = ReadRange {
        start: table_id.to_be_bytes().to_vec(),
        end: (table_id + 1).to_be_bytes().to_vec(),
        reverse: false,
        max_items: None,
        max_bytes: usize::MAX,
        local_index: None,
    };
    store.read_range(&range).unwrap().items
}

#[tokio::test]
async fn replicas_applying_the_same_log_agree() {
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (a, b) = (
        Store::open(dir_a.path()).unwrap(),
        Store::open(dir_b.path()).unwrap(),
    );
    let def_a = a.create_table(table_def()).unwrap();
    let def_b = b.create_table(table_def()).unwrap();
    assert_eq!(def_a.id, def_b.id);
    let mut outcomes_a = Vec::new();
    let mut outcomes_b = Vec::new();
    for req in commands(def_a.id) {
        outcomes_a.push(a.write(0, &req).await.unwrap());
        outcomes_b.push(b.write(0, &req).await.unwrap());
    }
    assert_eq!(outcomes_a, outcomes_b, "same verdicts on every replica");
    assert!(
        outcomes_a
            .iter()
            .any(|o| matches!(o, WriteOutcome::ConditionFailed { .. })),
        "the log exercises a failed condition"
    );
    let (items_a, items_b) = (all_items(&a, def_a.id), all_items(&b, def_b.id));
    assert_eq!(items_a, items_b, "same items on every replica");
    let stats = a.table_stats(&def_a);
    assert_eq!(stats, b.table_stats(&def_b));
    assert_eq!(
        stats.item_count,
        items_a.len() as u64,
        "ItemCount follows the items"
    );
}

#[tokio::test]
async fn state_and_statistics_survive_reopen_and_delete_table_clears_them() {
    let dir = tempfile::tempdir().unwrap();
    let (expected_items, expected_stats, table_id) = {
        let store = Store::open(dir.path()).unwrap();
        let def = store.create_table(table_def()).unwrap();
        for req in commands(def.id) {
            store.write(0, &req).await.unwrap();
        }
        (all_items(&store, def.id), store.table_stats(&def), def.id)
    };
    let store = Store::open(dir.path()).unwrap();
    let def = store.table("songs").expect("table survives reopen");
    assert_eq!(all_items(&store, table_id), expected_items);
    assert_eq!(store.table_stats(&def), expected_stats);
    assert!(expected_stats.size_bytes > 0);

    store.delete_table("songs").unwrap();
    assert!(store.table("songs").is_none());
    assert!(
        all_items(&store, table_id).is_empty(),
        "DeleteTable removes the items"
    );
    let again = store.create_table(table_def()).unwrap();
    assert_ne!(again.id, table_id, "table ids are never reused");
    assert_eq!(store.table_stats(&again).item_count, 0);
}
