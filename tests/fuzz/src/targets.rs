//! The fuzz targets. Each must return normally on any input; a panic is a bug.

use std::collections::BTreeMap;

use rotor_model::expr::{ExprInput, ExprKind, Parser};
use rotor_model::keys::{decode_key_value, encode_key_value};
use rotor_model::number::Number;
use rotor_model::table::ScalarType;
use rotor_model::value::{item_from_json, item_size, item_to_json};
use rotor_model::{AttributeValue, Item};
use rotor_router::Operation;

use crate::memory::MemoryBackend;

/// DynamoDB JSON in: whatever decodes re-encodes to JSON that decodes to the same item.
pub fn attribute_value(data: &[u8]) {
    let Ok(json) = serde_json::from_slice::<serde_json::Value>(data) else {
        return;
    };
    let Ok(item) = item_from_json(&json) else {
        return;
    };
    let back = item_from_json(&item_to_json(&item)).expect("re-encoded item decodes");
    assert_eq!(back, item, "DynamoDB JSON round trip");
    let _ = item_size(&item);
}

/// Names and values every expression may use.
fn substitutions() -> (BTreeMap<String, String>, BTreeMap<String, AttributeValue>) {
    let names = [("#a", "a"), ("#b", "b"), ("#l", "l"), ("#m", "m")]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    let number = |s: &str| Number::parse(s).expect("a number");
    let n = |s: &str| AttributeValue::N(number(s));
    let values = [
        (":n", n("1")),
        (":z", n("-99.5e10")),
        (":s", AttributeValue::S("ab".into())),
        (":b", AttributeValue::B(vec![0, 1])),
        (":t", AttributeValue::Bool(true)),
        (":l", AttributeValue::L(vec![n("1"), AttributeValue::Null])),
        (":ss", AttributeValue::Ss(vec!["x".into(), "y".into()])),
        (":ns", AttributeValue::Ns(vec![number("1"), number("2")])),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    (names, values)
}

/// Items conditions are evaluated on and updates applied to.
fn items() -> Vec<Item> {
    let n = |s: &str| AttributeValue::N(Number::parse(s).expect("a number"));
    let nested = AttributeValue::M(
        [(
            "b".to_owned(),
            AttributeValue::L(vec![n("3"), AttributeValue::S("x".into())]),
        )]
        .into_iter()
        .collect(),
    );
    vec![
        Item::new(),
        [
            ("a".to_owned(), n("1")),
            ("b".to_owned(), AttributeValue::S("ab".into())),
            (
                "l".to_owned(),
                AttributeValue::L(vec![n("1"), n("2"), n("3")]),
            ),
            ("m".to_owned(), nested),
            ("s".to_owned(), AttributeValue::Ss(vec!["x".into()])),
        ]
        .into_iter()
        .collect(),
    ]
}

/// The expression language: the first byte picks the kind, the rest is the text.
/// Parsing (and resolving) must refuse or accept without panicking; what it accepts
/// evaluates and applies on sample items.
pub fn expression(data: &[u8]) {
    let Some((&kind, text)) = data.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(text) else {
        return;
    };
    let (names, values) = substitutions();
    let mut parser = Parser::new(ExprInput {
        names: Some(&names),
        values: Some(&values),
    });
    match kind % 5 {
        0 | 1 => {
            let which = if kind % 5 == 0 {
                ExprKind::Condition
            } else {
                ExprKind::Filter
            };
            if let Ok(cond) = parser.condition(text, which) {
                for item in items() {
                    cond.evaluate(&item);
                }
            }
        }
        2 => {
            if let Ok(update) = parser.update(text) {
                for mut item in items() {
                    let before = item.clone();
                    if update.apply(&mut item).is_err() {
                        assert_eq!(item, before, "a failed update leaves the item unchanged");
                    }
                    let _ = item_size(&item);
                }
            }
        }
        3 => {
            if let Ok(paths) = parser.projection(text) {
                for item in items() {
                    rotor_model::expr::project(&item, &paths);
                }
            }
        }
        _ => {
            let _ = parser.key_condition(text);
        }
    }
    let _ = parser.finish();
}

/// Key values: the first byte picks the type, the rest is the value. Its encoding
/// decodes to itself, and two values' encodings order as the values do.
pub fn key_encoding(data: &[u8]) {
    let Some((&kind, rest)) = data.split_first() else {
        return;
    };
    let (a, b) = rest.split_at(rest.len() / 2);
    let value = |bytes: &[u8]| -> Option<(AttributeValue, ScalarType)> {
        Some(match kind % 3 {
            0 => (
                AttributeValue::S(std::str::from_utf8(bytes).ok()?.to_owned()),
                ScalarType::S,
            ),
            1 => (
                AttributeValue::N(Number::parse(std::str::from_utf8(bytes).ok()?).ok()?),
                ScalarType::N,
            ),
            _ => (AttributeValue::B(bytes.to_vec()), ScalarType::B),
        })
    };
    let encode = |v: &AttributeValue| {
        let mut out = Vec::new();
        encode_key_value(v, &mut out);
        out
    };
    let (Some((a, ty)), Some((b, _))) = (value(a), value(b)) else {
        return;
    };
    let (ea, eb) = (encode(&a), encode(&b));
    let mut both = ea.clone();
    both.extend_from_slice(&eb);
    let (first, used) = decode_key_value(&both, ty).expect("an encoding decodes");
    assert_eq!(first, a, "key encoding round trip");
    assert_eq!(used, ea.len(), "an encoding is self-delimiting");
    let (second, _) = decode_key_value(&both[used..], ty).expect("an encoding decodes");
    assert_eq!(second, b, "key encoding round trip");
    let order = rotor_model::expr::compare_values(&a, &b).expect("same type");
    assert_eq!(ea.cmp(&eb), order, "encodings order as values: {a:?} {b:?}");
}

/// Whole requests through the router's validation and operations, on an in-memory
/// cluster: the first byte picks the operation, the rest is the body. Any answer is
/// fine; a panic is not.
pub fn request(data: &[u8]) {
    let Some((&op, body)) = data.split_first() else {
        return;
    };
    let op = Operation::ALL[usize::from(op) % Operation::ALL.len()];
    let Ok(json) = serde_json::from_slice::<serde_json::Value>(body) else {
        return;
    };
    let backend = MemoryBackend::with_tables();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("a runtime");
    let _ = runtime.block_on(rotor_router::ops::dispatch(
        &backend,
        op,
        &json,
        "us-east-1",
    ));
}
