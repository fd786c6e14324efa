//! Attribute values, items and expressions on the wire.

use std::collections::BTreeMap;

use rotor_model::expr::ExpressionText;
use rotor_model::{AttributeValue, Item, Number};

use super::{required, WireError};
use crate::v1 as pb;
use pb::attribute_value::Value;

/// Deepest nesting of maps and lists converted from the wire. Prost stops decoding at
/// 100 nested messages (two per level here), so a decoded value never gets near; this
/// bounds the recursion for values built in memory too.
const MAX_VALUE_DEPTH: usize = 100;

impl From<&AttributeValue> for pb::AttributeValue {
    fn from(v: &AttributeValue) -> Self {
        let value = match v {
            AttributeValue::S(s) => Value::S(s.clone()),
            AttributeValue::N(n) => Value::N(n.to_string()),
            AttributeValue::B(b) => Value::B(b.clone()),
            AttributeValue::Bool(b) => Value::Bool(*b),
            AttributeValue::Null => Value::Null(true),
            AttributeValue::M(m) => Value::M(pb::ValueMap {
                names: m.keys().cloned().collect(),
                values: m.values().map(pb::AttributeValue::from).collect(),
            }),
            AttributeValue::L(l) => Value::L(pb::ValueList {
                values: l.iter().map(pb::AttributeValue::from).collect(),
            }),
            AttributeValue::Ss(s) => Value::Ss(pb::StringSet { values: s.clone() }),
            AttributeValue::Ns(s) => Value::Ns(pb::StringSet {
                values: s.iter().map(Number::to_string).collect(),
            }),
            AttributeValue::Bs(s) => Value::Bs(pb::BinarySet { values: s.clone() }),
        };
        pb::AttributeValue { value: Some(value) }
    }
}

impl TryFrom<pb::AttributeValue> for AttributeValue {
    type Error = WireError;

    fn try_from(v: pb::AttributeValue) -> Result<Self, WireError> {
        value_from_wire(v, 0)
    }
}

/// A value `depth` maps and lists deep.
fn value_from_wire(v: pb::AttributeValue, depth: usize) -> Result<AttributeValue, WireError> {
    if depth > MAX_VALUE_DEPTH {
        return Err(WireError::invalid(
            "AttributeValue.value",
            format!("nested deeper than {MAX_VALUE_DEPTH} levels"),
        ));
    }
    Ok(match required(v.value, "AttributeValue.value")? {
        Value::S(s) => AttributeValue::S(s),
        Value::N(n) => AttributeValue::N(number(&n, "AttributeValue.n")?),
        Value::B(b) => AttributeValue::B(b),
        Value::Bool(b) => AttributeValue::Bool(b),
        Value::Null(true) => AttributeValue::Null,
        Value::Null(false) => {
            return Err(WireError::invalid("AttributeValue.null", "must be true"));
        }
        Value::M(m) => {
            if m.names.len() != m.values.len() {
                return Err(WireError::invalid(
                    "ValueMap.values",
                    format!("{} names but {} values", m.names.len(), m.values.len()),
                ));
            }
            let mut out = BTreeMap::new();
            for (name, value) in m.names.into_iter().zip(m.values) {
                let value = value_from_wire(value, depth + 1)?;
                if out.insert(name, value).is_some() {
                    return Err(WireError::invalid("ValueMap.names", "a name repeats"));
                }
            }
            AttributeValue::M(out)
        }
        Value::L(l) => AttributeValue::L(
            l.values
                .into_iter()
                .map(|v| value_from_wire(v, depth + 1))
                .collect::<Result<_, _>>()?,
        ),
        Value::Ss(s) => AttributeValue::Ss(s.values),
        Value::Ns(s) => AttributeValue::Ns(
            s.values
                .iter()
                .map(|n| number(n, "AttributeValue.ns"))
                .collect::<Result<_, _>>()?,
        ),
        Value::Bs(s) => AttributeValue::Bs(s.values),
    })
}

fn number(text: &str, field: &'static str) -> Result<Number, WireError> {
    Number::parse(text).map_err(|e| WireError::invalid(field, format!("{text:?}: {e}")))
}

/// An item's message.
pub fn item_to_wire(item: &Item) -> pb::Item {
    pb::Item {
        attributes: item
            .iter()
            .map(|(name, v)| (name.clone(), pb::AttributeValue::from(v)))
            .collect(),
    }
}

/// The item a message describes.
pub fn item_from_wire(item: pb::Item) -> Result<Item, WireError> {
    values_from_wire(item.attributes)
}

fn values_from_wire(
    values: BTreeMap<String, pb::AttributeValue>,
) -> Result<BTreeMap<String, AttributeValue>, WireError> {
    values
        .into_iter()
        .map(|(name, v)| Ok((name, AttributeValue::try_from(v)?)))
        .collect()
}

impl From<&ExpressionText> for pb::Expression {
    fn from(e: &ExpressionText) -> Self {
        pb::Expression {
            text: e.text.clone(),
            names: e.names.clone(),
            values: e
                .values
                .iter()
                .map(|(k, v)| (k.clone(), pb::AttributeValue::from(v)))
                .collect(),
        }
    }
}

impl TryFrom<pb::Expression> for ExpressionText {
    type Error = WireError;

    fn try_from(e: pb::Expression) -> Result<Self, WireError> {
        Ok(ExpressionText {
            text: e.text,
            names: e.names,
            values: values_from_wire(e.values)?,
        })
    }
}
