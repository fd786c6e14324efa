//! Tests: values, items, writes and reads go model -> message -> bytes -> message ->
//! model unchanged; bad messages give a WireError naming the field; deep items fit.

use std::collections::BTreeMap;
use std::fmt::Debug;

use prost::Message;
use rotor_model::expr::{ExprInput, ExprKind, Parser};
use rotor_model::read::{IndexRead, RangePage, ReadRange};
use rotor_model::table::TableStats;
use rotor_model::write::{WriteCommand, WriteOutcome, WriteRequest};
use rotor_model::{AttributeValue, Item, Number};

use super::{item_from_wire, item_to_wire, WireError};
use crate::v1 as pb;

/// Model -> message -> bytes -> message -> model.
pub(super) fn round_trip<T, P>(v: &T) -> T
where
    P: for<'a> From<&'a T> + Message + Default,
    T: TryFrom<P, Error = WireError> + PartialEq + Debug,
{
    let bytes = P::from(v).encode_to_vec();
    let back = T::try_from(P::decode(bytes.as_slice()).expect("decodes")).expect("converts");
    assert_eq!(&back, v);
    back
}

fn n(text: &str) -> AttributeValue {
    AttributeValue::N(Number::parse(text).unwrap())
}

fn s(text: &str) -> AttributeValue {
    AttributeValue::S(text.to_owned())
}

/// One value of each of the ten types, some nested.
fn every_type() -> Vec<AttributeValue> {
    let map: BTreeMap<String, AttributeValue> = [
        ("name".to_owned(), s("x")),
        ("with space.and.dots".to_owned(), AttributeValue::Null),
        ("nested".to_owned(), AttributeValue::L(vec![n("1"), s("")])),
    ]
    .into();
    vec![
        s("text ünïcødé"),
        s(""),
        n("0"),
        n("-12.5E-3"),
        n("9.9999999999999999999999999999999999999E+125"),
        n("1E-130"),
        AttributeValue::B(vec![0, 1, 255]),
        AttributeValue::B(vec![]),
        AttributeValue::Bool(true),
        AttributeValue::Bool(false),
        AttributeValue::Null,
        AttributeValue::M(map),
        AttributeValue::M(BTreeMap::new()),
        AttributeValue::L(vec![s("a"), AttributeValue::L(vec![]), n("2")]),
        AttributeValue::Ss(vec!["b".to_owned(), "a".to_owned()]),
        AttributeValue::Ns(vec![
            Number::parse("3").unwrap(),
            Number::parse("-1.5").unwrap(),
        ]),
        AttributeValue::Bs(vec![vec![2], vec![1, 0]]),
    ]
}

fn an_item() -> Item {
    every_type()
        .into_iter()
        .enumerate()
        .map(|(i, v)| (format!("attr{i}"), v))
        .chain([("pk".to_owned(), s("key"))])
        .collect()
}

fn item_round_trip(item: &Item) -> Item {
    let bytes = item_to_wire(item).encode_to_vec();
    let back = item_from_wire(pb::Item::decode(bytes.as_slice()).unwrap()).unwrap();
    assert_eq!(&back, item);
    back
}

#[test]
fn every_value_type_round_trips() {
    for v in every_type() {
        round_trip::<AttributeValue, pb::AttributeValue>(&v);
    }
    item_round_trip(&an_item());
    item_round_trip(&Item::new());
}

fn with_expressions(
    condition: Option<&str>,
    update: Option<&str>,
) -> (
    Option<rotor_model::expr::Condition>,
    Option<rotor_model::expr::UpdateExpr>,
) {
    let names: BTreeMap<String, String> = [
        ("#status".to_owned(), "status".to_owned()),
        ("#odd".to_owned(), "a.b c".to_owned()),
    ]
    .into();
    let values: BTreeMap<String, AttributeValue> = every_type()
        .into_iter()
        .enumerate()
        .map(|(i, v)| (format!(":v{i}"), v))
        .chain([(":l".to_owned(), AttributeValue::L(vec![n("1")]))])
        .collect();
    let mut parser = Parser::new(ExprInput {
        names: Some(&names),
        values: Some(&values),
    });
    let condition = condition.map(|c| parser.condition(c, ExprKind::Condition).unwrap());
    let update = update.map(|u| parser.update(u).unwrap());
    (condition, update)
}

#[test]
fn write_commands_round_trip() {
    let key: Item = [("pk".to_owned(), s("key"))].into();
    let (condition, _) = with_expressions(
        Some("attribute_not_exists(pk) OR (#status = :v0 AND NOT #odd.x[2] IN (:v1, :v11))"),
        None,
    );
    let (update_condition, update) = with_expressions(
        Some("size(a) BETWEEN :v2 AND :v4 AND begins_with(b, :v6)"),
        Some("SET a = list_append(if_not_exists(a, :l), :l), #status = c + :v3 REMOVE d[1] ADD e :v14 DELETE f :v16"),
    );
    let commands = [
        WriteCommand::Put {
            item: an_item(),
            condition: None,
        },
        WriteCommand::Put {
            item: an_item(),
            condition,
        },
        WriteCommand::Update {
            key: key.clone(),
            update: None,
            condition: None,
        },
        WriteCommand::Update {
            key: key.clone(),
            update,
            condition: update_condition.clone(),
        },
        WriteCommand::Delete {
            key: key.clone(),
            condition: None,
        },
        WriteCommand::Delete {
            key,
            condition: update_condition,
        },
    ];
    for command in commands {
        round_trip::<WriteRequest, pb::WriteCommand>(&WriteRequest {
            table_id: 7,
            item_key: vec![0, 0, 0, 7, 1, 2, 3],
            command,
        });
    }
}

#[test]
fn write_outcomes_round_trip() {
    let outcomes = [
        WriteOutcome::Applied {
            old: None,
            new: Some(an_item()),
        },
        WriteOutcome::Applied {
            old: Some(an_item()),
            new: None,
        },
        WriteOutcome::Applied {
            old: None,
            new: None,
        },
        WriteOutcome::ConditionFailed {
            old: Some(an_item()),
        },
        WriteOutcome::ConditionFailed { old: None },
    ];
    for outcome in &outcomes {
        round_trip::<WriteOutcome, pb::WriteOutcome>(outcome);
    }
}

#[test]
fn reads_and_stats_round_trip() {
    let index = IndexRead {
        ordinal: 4,
        fetch_items: true,
    };
    for (max_items, local_index) in [(None, None), (Some(0), Some(index)), (Some(100), None)] {
        round_trip::<ReadRange, pb::ReadRange>(&ReadRange {
            start: vec![0, 0, 0, 1],
            end: vec![0, 0, 0, 2, 0xff],
            reverse: true,
            max_items,
            max_bytes: 1024 * 1024,
            local_index,
        });
    }
    let beyond = pb::ReadRange {
        local_index: Some(pb::IndexRead {
            ordinal: 5,
            fetch_items: false,
        }),
        ..Default::default()
    };
    assert!(ReadRange::try_from(beyond).is_err(), "only 5 LSIs exist");
    round_trip::<RangePage, pb::RangePage>(&RangePage::default());
    round_trip::<RangePage, pb::RangePage>(&RangePage {
        items: vec![(vec![1, 2], an_item()), (vec![1, 3], Item::new())],
        bytes: 4321,
        truncated: true,
    });
    round_trip::<TableStats, pb::TableStats>(&TableStats {
        item_count: 12,
        size_bytes: 1 << 40,
    });
}

/// An item whose attribute `deep` nests `levels` maps and lists (alternately) below it:
/// the innermost, at depth `levels`, is an empty map.
fn nested_item(levels: usize) -> Item {
    let mut v = AttributeValue::M(BTreeMap::new());
    for level in 0..levels {
        v = if level % 2 == 0 {
            AttributeValue::L(vec![v, n("1")])
        } else {
            AttributeValue::M([("m".to_owned(), v)].into())
        };
    }
    [("deep".to_owned(), v)].into()
}

fn put(item: Item) -> WriteRequest {
    WriteRequest {
        table_id: 1,
        item_key: vec![1],
        command: WriteCommand::Put {
            item,
            condition: None,
        },
    }
}

#[test]
fn a_32_level_item_round_trips_in_writes_and_outcomes() {
    let item = nested_item(32);
    rotor_model::value::check_item_nesting(&item).unwrap();
    item_round_trip(&item);
    round_trip::<WriteRequest, pb::WriteCommand>(&put(item.clone()));
    round_trip::<WriteOutcome, pb::WriteOutcome>(&WriteOutcome::Applied {
        old: Some(item.clone()),
        new: Some(item),
    });
}

/// Prost refuses messages nested more than 100 deep. A map or list level costs two
/// messages, so a WriteCommand holds items nested 47 levels (DynamoDB allows 32),
/// leaving 30 levels for the messages that carry it (RPCs, raft entries).
#[test]
fn items_leave_room_for_envelopes_and_deeper_ones_are_refused_cleanly() {
    let decode = |item: Item| {
        pb::WriteCommand::decode(
            pb::WriteCommand::from(&put(item))
                .encode_to_vec()
                .as_slice(),
        )
    };
    let fits = decode(nested_item(47)).expect("47 levels decode");
    assert_eq!(WriteRequest::try_from(fits).unwrap(), put(nested_item(47)));
    let err = decode(nested_item(48)).unwrap_err();
    assert!(err.to_string().contains("recursion limit"), "{err}");
}

#[test]
fn bad_values_name_the_field() {
    let bad = |value: pb::attribute_value::Value| {
        AttributeValue::try_from(pb::AttributeValue { value: Some(value) }).unwrap_err()
    };
    use pb::attribute_value::Value;
    assert_eq!(
        AttributeValue::try_from(pb::AttributeValue { value: None }).unwrap_err(),
        WireError::Missing("AttributeValue.value")
    );
    let err = bad(Value::N("12abc".to_owned()));
    assert!(
        matches!(&err, WireError::Invalid { field: "AttributeValue.n", reason } if reason.contains("cannot be converted into a number")),
        "{err}"
    );
    let err = bad(Value::Ns(pb::StringSet {
        values: vec!["1".to_owned(), "1E+999".to_owned()],
    }));
    assert!(matches!(
        err,
        WireError::Invalid {
            field: "AttributeValue.ns",
            ..
        }
    ));
    assert!(matches!(
        bad(Value::Null(false)),
        WireError::Invalid {
            field: "AttributeValue.null",
            ..
        }
    ));
    let err = bad(Value::M(pb::ValueMap {
        names: vec!["a".to_owned(), "b".to_owned()],
        values: vec![pb::AttributeValue::from(&n("1"))],
    }));
    assert!(matches!(
        err,
        WireError::Invalid {
            field: "ValueMap.values",
            ..
        }
    ));
    let err = bad(Value::M(pb::ValueMap {
        names: vec!["a".to_owned(), "a".to_owned()],
        values: vec![pb::AttributeValue::from(&n("1")); 2],
    }));
    assert!(matches!(
        err,
        WireError::Invalid {
            field: "ValueMap.names",
            ..
        }
    ));
    // Deep inside an item, the innermost field is named.
    let mut item = item_to_wire(&nested_item(5));
    item.attributes
        .insert("x".to_owned(), pb::AttributeValue { value: None });
    assert_eq!(
        item_from_wire(item).unwrap_err(),
        WireError::Missing("AttributeValue.value")
    );
}

#[test]
fn bad_writes_name_the_field() {
    let good = pb::WriteCommand::from(&put(an_item()));
    let missing_op = pb::WriteCommand {
        op: None,
        ..good.clone()
    };
    assert_eq!(
        WriteRequest::try_from(missing_op).unwrap_err(),
        WireError::Missing("WriteCommand.op")
    );
    let no_item = pb::WriteCommand {
        op: Some(pb::write_command::Op::Put(pb::PutOp {
            item: None,
            condition: None,
        })),
        ..good.clone()
    };
    assert_eq!(
        WriteRequest::try_from(no_item).unwrap_err(),
        WireError::Missing("PutOp.item")
    );
    let expression = |text: &str| pb::Expression {
        text: text.to_owned(),
        names: [("#a".to_owned(), "a".to_owned())].into(),
        values: [(":v".to_owned(), pb::AttributeValue::from(&n("1")))].into(),
    };
    let with_condition = |text: &str| pb::WriteCommand {
        op: Some(pb::write_command::Op::Delete(pb::DeleteOp {
            key: Some(item_to_wire(&Item::new())),
            condition: Some(expression(text)),
        })),
        ..good.clone()
    };
    WriteRequest::try_from(with_condition("#a = :v")).unwrap();
    let err = WriteRequest::try_from(with_condition("#a = :missing")).unwrap_err();
    assert!(
        matches!(
            err,
            WireError::Invalid {
                field: "DeleteOp.condition",
                ..
            }
        ),
        "{err}"
    );
    let err = WriteRequest::try_from(with_condition("((#a = :v))")).unwrap_err();
    assert!(err.to_string().contains("redundant parentheses"), "{err}");
    let bad_update = pb::WriteCommand {
        op: Some(pb::write_command::Op::Update(pb::UpdateOp {
            key: Some(item_to_wire(&Item::new())),
            update: Some(expression("SET #a = :v +")),
            condition: None,
        })),
        ..good
    };
    let err = WriteRequest::try_from(bad_update).unwrap_err();
    assert!(
        matches!(
            err,
            WireError::Invalid {
                field: "UpdateOp.update",
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(
        WriteOutcome::try_from(pb::WriteOutcome { result: None }).unwrap_err(),
        WireError::Missing("WriteOutcome.result")
    );
    let page = pb::RangePage {
        items: vec![pb::KeyedItem {
            key: vec![1],
            item: None,
        }],
        bytes: 0,
        truncated: false,
    };
    assert_eq!(
        RangePage::try_from(page).unwrap_err(),
        WireError::Missing("KeyedItem.item")
    );
}
