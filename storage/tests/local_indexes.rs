//! Local secondary indexes on the engine directly: after any sequence of puts, updates
//! and deletes, every index holds exactly the projection of the items that have its
//! sort key, in index order; a write whose index key has the wrong type changes
//! nothing; a copy of the partition (snapshot) and a removal carry the entries along.

use std::collections::BTreeMap;

use rotor_model::expr::{update_from_text, ExpressionText};
use rotor_model::index::{
    local_index_partition_prefix, local_index_token_prefix, project, LocalIndex, LocalIndexes,
    Projection,
};
use rotor_model::keys::{item_key, prefix_successor, token};
use rotor_model::read::{ReadRange, PAGE_BYTES};
use rotor_model::table::{KeyAttribute, KeySchema, ScalarType, TokenRange};
use rotor_model::write::{WriteCommand, WriteRequest};
use rotor_model::{AttributeValue, Item};
use rotor_storage::{Engine, ExportSink, Partition, PartitionExport};

const TABLE: u32 = 3;

fn s(v: &str) -> AttributeValue {
    AttributeValue::S(v.to_owned())
}

fn n(v: i64) -> AttributeValue {
    AttributeValue::N(v.to_string().parse().unwrap())
}

fn table_key() -> KeySchema {
    KeySchema {
        partition: KeyAttribute {
            name: "pk".into(),
            ty: ScalarType::S,
        },
        sort: Some(KeyAttribute {
            name: "sk".into(),
            ty: ScalarType::S,
        }),
    }
}

fn indexes() -> LocalIndexes {
    LocalIndexes::new(
        table_key(),
        vec![
            LocalIndex {
                name: "by_rank".into(),
                sort: KeyAttribute {
                    name: "rank".into(),
                    ty: ScalarType::N,
                },
                projection: Projection::KeysOnly,
            },
            LocalIndex {
                name: "by_tag".into(),
                sort: KeyAttribute {
                    name: "tag".into(),
                    ty: ScalarType::S,
                },
                projection: Projection::Include(vec!["note".into()]),
            },
        ],
    )
}

fn key_of(pk: &str, sk: &str) -> Vec<u8> {
    item_key(TABLE, &s(pk), Some(&s(sk)))
}

fn put(item: Item) -> WriteRequest {
    let (AttributeValue::S(pk), AttributeValue::S(sk)) = (&item["pk"], &item["sk"]) else {
        panic!("test items have string keys");
    };
    WriteRequest {
        table_id: TABLE,
        item_key: key_of(pk, sk),
        command: WriteCommand::Put {
            item,
            condition: None,
        },
    }
}

fn update(
    pk: &str,
    sk: &str,
    expression: &str,
    names: &[(&str, &str)],
    values: &[(&str, AttributeValue)],
) -> WriteRequest {
    let names: BTreeMap<String, String> = names
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let values: BTreeMap<String, AttributeValue> = values
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect();
    let update = update_from_text(&ExpressionText {
        text: expression.to_owned(),
        names,
        values,
    })
    .unwrap();
    WriteRequest {
        table_id: TABLE,
        item_key: key_of(pk, sk),
        command: WriteCommand::Update {
            key: Item::from([("pk".into(), s(pk)), ("sk".into(), s(sk))]),
            update: Some(update),
            condition: None,
        },
    }
}

fn delete(pk: &str, sk: &str) -> WriteRequest {
    WriteRequest {
        table_id: TABLE,
        item_key: key_of(pk, sk),
        command: WriteCommand::Delete {
            key: Item::from([("pk".into(), s(pk)), ("sk".into(), s(sk))]),
            condition: None,
        },
    }
}

fn item(pk: &str, sk: &str, extra: &[(&str, AttributeValue)]) -> Item {
    let mut out = Item::from([("pk".into(), s(pk)), ("sk".into(), s(sk))]);
    for (k, v) in extra {
        out.insert(k.to_string(), v.clone());
    }
    out
}

fn whole(start: Vec<u8>) -> ReadRange {
    let end = prefix_successor(&start).unwrap();
    ReadRange {
        start,
        end,
        reverse: false,
        max_items: None,
        max_bytes: PAGE_BYTES * 100,
        local_index: None,
    }
}

/// Every entry of index `ordinal` of the table, in index order.
fn index_entries(engine: &Engine, ordinal: u8) -> Vec<Item> {
    let mut start = TABLE.to_be_bytes().to_vec();
    start.push(ordinal);
    rotor_storage::index::read_range(engine, &whole(start))
        .unwrap()
        .items
        .into_iter()
        .map(|(_, item)| item)
        .collect()
}

/// What index `ordinal` must hold: the projections of the items that have its sort
/// key, ordered by partition key token, partition key, index sort key, table sort key.
fn expected_entries(engine: &Engine, ordinal: u8) -> Vec<Item> {
    let idx = indexes();
    let index = &idx.indexes[ordinal as usize];
    let items = rotor_storage::items::read_range(engine, &whole(TABLE.to_be_bytes().to_vec()))
        .unwrap()
        .items;
    let mut keyed: Vec<(Vec<u8>, Item)> = items
        .into_iter()
        .filter_map(|(_, item)| {
            let entry = idx
                .entries(TABLE, token(&item["pk"]), &item)
                .into_iter()
                .find(|e| e.key.get(4) == Some(&ordinal))?;
            Some((entry.key, project(&item, &table_key(), index)))
        })
        .collect();
    keyed.sort_by(|a, b| a.0.cmp(&b.0));
    keyed.into_iter().map(|(_, item)| item).collect()
}

fn assert_exact(engine: &Engine) {
    for ordinal in 0..2 {
        assert_eq!(
            index_entries(engine, ordinal),
            expected_entries(engine, ordinal),
            "index {ordinal}"
        );
    }
}

fn open(engine: &Engine) -> Partition {
    Partition::open(engine, TABLE, 0, TokenRange::ALL, false)
        .unwrap()
        .with_local_indexes(indexes())
}

#[test]
fn entries_follow_every_put_update_and_delete() {
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::open(dir.path()).unwrap();
    let p = open(&engine);
    p.apply(
        &engine,
        &put(item(
            "a",
            "1",
            &[
                ("rank", n(5)),
                ("tag", s("x")),
                ("note", s("hi")),
                ("big", s("not projected")),
            ],
        )),
    )
    .unwrap();
    p.apply(&engine, &put(item("a", "2", &[("rank", n(3))])))
        .unwrap();
    p.apply(&engine, &put(item("b", "1", &[("tag", s("y"))])))
        .unwrap();
    assert_exact(&engine);

    // Within partition key "a", the rank index orders by rank: 3 (sk 2) before 5 (sk 1).
    let by_rank = rotor_storage::index::read_range(
        &engine,
        &whole(local_index_partition_prefix(TABLE, 0, &s("a"))),
    )
    .unwrap();
    let sks: Vec<&AttributeValue> = by_rank.items.iter().map(|(_, i)| &i["sk"]).collect();
    assert_eq!(sks, [&s("2"), &s("1")]);
    assert_eq!(
        by_rank.items[1].1,
        item("a", "1", &[("rank", n(5))]),
        "keys only"
    );
    let by_tag = index_entries(&engine, 1);
    assert_eq!(
        by_tag[by_tag.iter().position(|i| i["pk"] == s("a")).unwrap()],
        item("a", "1", &[("tag", s("x")), ("note", s("hi"))]),
        "keys and the included attribute"
    );

    // An update that changes the index key moves the entry; one that removes it drops it.
    p.apply(
        &engine,
        &update("a", "2", "SET #r = :r", &[("#r", "rank")], &[(":r", n(9))]),
    )
    .unwrap();
    p.apply(&engine, &update("a", "1", "REMOVE tag", &[], &[]))
        .unwrap();
    assert_exact(&engine);
    assert!(index_entries(&engine, 1).iter().all(|i| i["pk"] != s("a")));
    // Replacing an item and deleting one.
    p.apply(
        &engine,
        &put(item("b", "1", &[("tag", s("z")), ("rank", n(1))])),
    )
    .unwrap();
    p.apply(&engine, &delete("a", "2")).unwrap();
    assert_exact(&engine);
    assert_eq!(index_entries(&engine, 0).len(), 2);
}

#[test]
fn a_wrong_index_key_type_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::open(dir.path()).unwrap();
    let p = open(&engine);
    p.apply(&engine, &put(item("a", "1", &[("rank", n(5))])))
        .unwrap();
    let stats = p.stats();
    let e = p
        .apply(&engine, &put(item("a", "1", &[("rank", s("five"))])))
        .unwrap_err()
        .to_string();
    assert_eq!(e, "One or more parameter values were invalid: Type mismatch for Index Key rank Expected: N Actual: S IndexName: by_rank");
    let e = p
        .apply(
            &engine,
            &update("a", "1", "SET tag = :t", &[], &[(":t", s(""))]),
        )
        .unwrap_err()
        .to_string();
    assert!(e.contains("IndexName: by_tag, IndexKey: tag"), "{e}");
    assert_eq!(p.stats(), stats);
    assert_eq!(
        rotor_storage::items::get(&engine, &key_of("a", "1")).unwrap(),
        Some(item("a", "1", &[("rank", n(5))]))
    );
    assert_exact(&engine);
}

#[derive(Default)]
struct Gathered {
    range: Option<TokenRange>,
    items: Vec<(Vec<u8>, Vec<u8>)>,
}

impl ExportSink for Gathered {
    fn begin(&mut self, export: &PartitionExport) -> rotor_storage::error::Result<()> {
        self.range = Some(export.range);
        Ok(())
    }
    fn item(&mut self, key: &[u8], value: &[u8]) -> rotor_storage::error::Result<()> {
        self.items.push((key.to_vec(), value.to_vec()));
        Ok(())
    }

    fn change(&mut self, _position: u64, _record: &[u8]) -> rotor_storage::error::Result<()> {
        // These partitions keep no change log.
        Ok(())
    }
}

#[test]
fn a_copy_rebuilds_the_entries_and_a_removal_takes_them_away() {
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (a, b) = (
        Engine::open(dir_a.path()).unwrap(),
        Engine::open(dir_b.path()).unwrap(),
    );
    let source = open(&a);
    for i in 0..300 {
        let mut extra = vec![("note", s("n"))];
        if i % 3 != 0 {
            extra.push(("rank", n(i % 17)));
        }
        if i % 2 == 0 {
            extra.push(("tag", s(&format!("t{}", i % 5))));
        }
        source
            .apply(
                &a,
                &put(item(&format!("p{}", i % 40), &format!("s{i}"), &extra)),
            )
            .unwrap();
    }
    let mut copy = Gathered::default();
    source.export(&a, &[], &mut copy).unwrap();

    // The receiver held stale entries of its own: they are replaced.
    let target = open(&b);
    target
        .apply(
            &b,
            &put(item("stale", "1", &[("rank", n(1)), ("tag", s("old"))])),
        )
        .unwrap();
    let mut items = copy.items.iter().cloned().map(Ok);
    target
        .import(
            &b,
            copy.range.unwrap(),
            &mut items,
            &dir_b.path().join("in.sst"),
            &[],
        )
        .unwrap();
    for ordinal in 0..2 {
        assert_eq!(index_entries(&b, ordinal), index_entries(&a, ordinal));
    }
    assert_exact(&b);

    // Removing the partition's copy removes its entries.
    let (from, to) = TokenRange::ALL.key_range(TABLE);
    rotor_storage::items::delete_partition(&b, TABLE, 0, (&from, &to)).unwrap();
    for ordinal in 0..2 {
        assert!(index_entries(&b, ordinal).is_empty());
    }
    // And removing the table, the other's.
    rotor_storage::items::delete_table(&a, TABLE).unwrap();
    let table_prefix = local_index_token_prefix(TABLE, 0, 0)[..4].to_vec();
    let left = rotor_storage::index::read_range(&a, &whole(table_prefix)).unwrap();
    assert!(left.items.is_empty());
}
