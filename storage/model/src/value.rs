//! AttributeValue: DynamoDB's ten types, DynamoDB JSON in and out, and item size.

use std::collections::{BTreeMap, HashSet};
use std::hash::Hash;

use base64::Engine as _;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value as Json};

use crate::error::{ModelError, Result};
use crate::number::Number;

/// An item: attribute name to value. Ordered, so that every replica serialises it alike.
pub type Item = BTreeMap<String, AttributeValue>;

/// One DynamoDB attribute value. Sets keep the order they were given in and hold no
/// duplicates (checked on input).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum AttributeValue {
    S(String),
    N(Number),
    /// (Encoded as one byte string, not byte by byte: the same bytes in bincode, and a
    /// 400 KB value costs a copy rather than 400,000 calls.)
    B(#[serde(with = "serde_bytes")] Vec<u8>),
    Bool(bool),
    Null,
    M(BTreeMap<String, AttributeValue>),
    L(Vec<AttributeValue>),
    Ss(Vec<String>),
    Ns(Vec<Number>),
    Bs(Vec<Vec<u8>>),
}

/// The type descriptor DynamoDB uses in JSON and in `attribute_type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ValueType {
    S,
    N,
    B,
    Bool,
    Null,
    M,
    L,
    Ss,
    Ns,
    Bs,
}

impl ValueType {
    pub fn descriptor(self) -> &'static str {
        match self {
            ValueType::S => "S",
            ValueType::N => "N",
            ValueType::B => "B",
            ValueType::Bool => "BOOL",
            ValueType::Null => "NULL",
            ValueType::M => "M",
            ValueType::L => "L",
            ValueType::Ss => "SS",
            ValueType::Ns => "NS",
            ValueType::Bs => "BS",
        }
    }

    pub fn from_descriptor(s: &str) -> Option<ValueType> {
        Some(match s {
            "S" => ValueType::S,
            "N" => ValueType::N,
            "B" => ValueType::B,
            "BOOL" => ValueType::Bool,
            "NULL" => ValueType::Null,
            "M" => ValueType::M,
            "L" => ValueType::L,
            "SS" => ValueType::Ss,
            "NS" => ValueType::Ns,
            "BS" => ValueType::Bs,
            _ => return None,
        })
    }
}

/// Deepest nesting of maps and lists DynamoDB stores.
const MAX_NESTING: usize = 32;

const NESTING_EXCEEDED: &str = "Nesting Levels have exceeded supported limits: Attributes in the item have nested levels beyond supported limit";

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

impl AttributeValue {
    pub fn value_type(&self) -> ValueType {
        match self {
            AttributeValue::S(_) => ValueType::S,
            AttributeValue::N(_) => ValueType::N,
            AttributeValue::B(_) => ValueType::B,
            AttributeValue::Bool(_) => ValueType::Bool,
            AttributeValue::Null => ValueType::Null,
            AttributeValue::M(_) => ValueType::M,
            AttributeValue::L(_) => ValueType::L,
            AttributeValue::Ss(_) => ValueType::Ss,
            AttributeValue::Ns(_) => ValueType::Ns,
            AttributeValue::Bs(_) => ValueType::Bs,
        }
    }

    /// Parses one DynamoDB JSON value such as `{"S": "x"}`, with DynamoDB's checks.
    pub fn from_json(json: &Json) -> Result<AttributeValue> {
        AttributeValue::from_json_at(json, 0)
    }

    fn from_json_at(json: &Json, depth: usize) -> Result<AttributeValue> {
        if depth > MAX_NESTING {
            return Err(ModelError::validation(NESTING_EXCEEDED));
        }
        let obj = json.as_object().ok_or_else(|| {
            ModelError::validation(
                "Supplied AttributeValue is empty, must contain exactly one of the supported datatypes",
            )
        })?;
        let mut entries = obj.iter().filter(|(_, v)| !v.is_null());
        let (ty, v) = match (entries.next(), entries.next()) {
            (Some(e), None) => e,
            (None, _) => {
                return Err(ModelError::validation(
                    "Supplied AttributeValue is empty, must contain exactly one of the supported datatypes",
                ))
            }
            (Some(_), Some(_)) => {
                return Err(ModelError::validation(
                    "Supplied AttributeValue has more than one datatypes set, must contain exactly one of the supported datatypes",
                ))
            }
        };
        let bad = |what: &str| {
            ModelError::validation(format!(
                "Supplied AttributeValue has an invalid {what} value for the {ty} datatype"
            ))
        };
        Ok(match ty.as_str() {
            "S" => AttributeValue::S(v.as_str().ok_or_else(|| bad("string"))?.to_owned()),
            "N" => AttributeValue::N(Number::parse(json_scalar_str(v).ok_or_else(|| bad("number"))?)?),
            "B" => AttributeValue::B(decode_b64(v)?),
            "BOOL" => AttributeValue::Bool(v.as_bool().ok_or_else(|| bad("boolean"))?),
            "NULL" => match v.as_bool() {
                Some(true) => AttributeValue::Null,
                _ => {
                    return Err(ModelError::validation(
                        "One or more parameter values were invalid: Null attribute value types must have the value of true",
                    ))
                }
            },
            "M" => {
                let m = v.as_object().ok_or_else(|| bad("map"))?;
                let mut out = BTreeMap::new();
                for (k, v) in m {
                    check_name(k)?;
                    out.insert(k.clone(), AttributeValue::from_json_at(v, depth + 1)?);
                }
                AttributeValue::M(out)
            }
            "L" => {
                let l = v.as_array().ok_or_else(|| bad("list"))?;
                AttributeValue::L(
                    l.iter()
                        .map(|v| AttributeValue::from_json_at(v, depth + 1))
                        .collect::<Result<_>>()?,
                )
            }
            "SS" => {
                let l = v.as_array().ok_or_else(|| bad("string set"))?;
                let mut out: Vec<String> = Vec::with_capacity(l.len());
                for s in l {
                    out.push(s.as_str().ok_or_else(|| bad("string set"))?.to_owned());
                }
                check_set(&out, ValueType::Ss, |s| s.clone())?;
                AttributeValue::Ss(out)
            }
            "NS" => {
                let l = v.as_array().ok_or_else(|| bad("number set"))?;
                let mut out = Vec::with_capacity(l.len());
                for n in l {
                    out.push(Number::parse(json_scalar_str(n).ok_or_else(|| bad("number set"))?)?);
                }
                check_set(&out, ValueType::Ns, |n| n.to_string())?;
                AttributeValue::Ns(out)
            }
            "BS" => {
                let l = v.as_array().ok_or_else(|| bad("binary set"))?;
                let out = l.iter().map(decode_b64).collect::<Result<Vec<_>>>()?;
                check_set(&out, ValueType::Bs, |b| B64.encode(b))?;
                AttributeValue::Bs(out)
            }
            other => {
                return Err(ModelError::validation(format!(
                    "Supplied AttributeValue has an unknown datatype: {other}"
                )))
            }
        })
    }

    /// DynamoDB JSON for this value.
    pub fn to_json(&self) -> Json {
        let mut m = Map::with_capacity(1);
        let (k, v) = match self {
            AttributeValue::S(s) => ("S", Json::String(s.clone())),
            AttributeValue::N(n) => ("N", Json::String(n.to_string())),
            AttributeValue::B(b) => ("B", Json::String(B64.encode(b))),
            AttributeValue::Bool(b) => ("BOOL", Json::Bool(*b)),
            AttributeValue::Null => ("NULL", Json::Bool(true)),
            AttributeValue::M(m) => ("M", item_to_json(m)),
            AttributeValue::L(l) => ("L", Json::Array(l.iter().map(|v| v.to_json()).collect())),
            AttributeValue::Ss(s) => (
                "SS",
                Json::Array(s.iter().map(|s| Json::String(s.clone())).collect()),
            ),
            AttributeValue::Ns(s) => (
                "NS",
                Json::Array(s.iter().map(|n| Json::String(n.to_string())).collect()),
            ),
            AttributeValue::Bs(s) => (
                "BS",
                Json::Array(s.iter().map(|b| Json::String(B64.encode(b))).collect()),
            ),
        };
        m.insert(k.to_owned(), v);
        Json::Object(m)
    }

    /// The bytes this value counts for in DynamoDB's item-size arithmetic.
    pub fn size(&self) -> usize {
        match self {
            AttributeValue::S(s) => s.len(),
            AttributeValue::N(n) => n.size_bytes(),
            AttributeValue::B(b) => b.len(),
            AttributeValue::Bool(_) | AttributeValue::Null => 1,
            AttributeValue::M(m) => {
                3 + m.iter().map(|(k, v)| k.len() + v.size() + 1).sum::<usize>()
            }
            AttributeValue::L(l) => 3 + l.iter().map(|v| v.size() + 1).sum::<usize>(),
            AttributeValue::Ss(s) => s.iter().map(|s| s.len()).sum(),
            AttributeValue::Ns(s) => s.iter().map(|n| n.size_bytes()).sum(),
            AttributeValue::Bs(s) => s.iter().map(|b| b.len()).sum(),
        }
    }

    pub fn as_s(&self) -> Option<&str> {
        match self {
            AttributeValue::S(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_n(&self) -> Option<&Number> {
        match self {
            AttributeValue::N(n) => Some(n),
            _ => None,
        }
    }

    pub fn is_set(&self) -> bool {
        matches!(
            self,
            AttributeValue::Ss(_) | AttributeValue::Ns(_) | AttributeValue::Bs(_)
        )
    }
}

/// The number inside `{"N": ...}`: DynamoDB takes a string; a bare JSON number is accepted
/// too, by its literal text.
fn json_scalar_str(v: &Json) -> Option<&str> {
    v.as_str()
}

fn decode_b64(v: &Json) -> Result<Vec<u8>> {
    let s = v.as_str().ok_or_else(|| {
        ModelError::validation(
            "Supplied AttributeValue has an invalid binary value, must be a base64 string",
        )
    })?;
    B64.decode(s).map_err(|_| {
        ModelError::validation(
            "One or more parameter values were invalid: Invalid Base64 value for a binary attribute",
        )
    })
}

/// DynamoDB's checks of a set: not empty, no duplicates (found in linear time).
fn check_set<T: Eq + Hash>(set: &[T], ty: ValueType, show: impl Fn(&T) -> String) -> Result<()> {
    if set.is_empty() {
        return Err(ModelError::validation(match ty {
            ValueType::Ss => {
                "One or more parameter values were invalid: An string set  may not be empty"
            }
            ValueType::Ns => {
                "One or more parameter values were invalid: An number set  may not be empty"
            }
            _ => "One or more parameter values were invalid: Binary sets should not be empty",
        }));
    }
    let mut seen = HashSet::with_capacity(set.len());
    for a in set {
        if !seen.insert(a) {
            if ty == ValueType::Bs {
                return Err(ModelError::validation(
                    "One or more parameter values were invalid: Input collection of type BS contains duplicates.",
                ));
            }
            let all: Vec<String> = set.iter().map(&show).collect();
            return Err(ModelError::validation(format!(
                "One or more parameter values were invalid: Input collection [{}] contains duplicates",
                all.join(", ")
            )));
        }
    }
    Ok(())
}

/// Longest attribute name (at any depth), in bytes.
pub const MAX_ATTRIBUTE_NAME_BYTES: usize = 65_535;

/// DynamoDB's checks of an attribute name: not empty, at most
/// [`MAX_ATTRIBUTE_NAME_BYTES`].
pub fn check_name(name: &str) -> Result<()> {
    if name.is_empty() {
        return Err(ModelError::validation("Empty attribute name"));
    }
    if name.len() > MAX_ATTRIBUTE_NAME_BYTES {
        return Err(ModelError::validation(
            "Attribute name is too large, must be less than 65536 bytes",
        ));
    }
    Ok(())
}

/// Parses a whole item (`{"name": {"S": ...}, ...}`).
pub fn item_from_json(json: &Json) -> Result<Item> {
    let obj = json
        .as_object()
        .ok_or_else(|| ModelError::validation("Item must be a map of attribute names to values"))?;
    let mut item = Item::new();
    for (k, v) in obj {
        check_name(k)?;
        item.insert(k.clone(), AttributeValue::from_json(v)?);
    }
    Ok(item)
}

/// DynamoDB JSON for a whole item or map.
pub fn item_to_json(item: &BTreeMap<String, AttributeValue>) -> Json {
    Json::Object(item.iter().map(|(k, v)| (k.clone(), v.to_json())).collect())
}

/// DynamoDB's nesting limit on a whole item, checked without recursion (an update can
/// nest a value given at the limit inside one already there).
pub fn check_item_nesting(item: &Item) -> Result<()> {
    let mut stack: Vec<(&AttributeValue, usize)> = item.values().map(|v| (v, 0)).collect();
    while let Some((v, depth)) = stack.pop() {
        if depth > MAX_NESTING {
            return Err(ModelError::validation(NESTING_EXCEEDED));
        }
        match v {
            AttributeValue::M(m) => stack.extend(m.values().map(|c| (c, depth + 1))),
            AttributeValue::L(l) => stack.extend(l.iter().map(|c| (c, depth + 1))),
            _ => {}
        }
    }
    Ok(())
}

/// DynamoDB's size of an item: the sum of attribute name lengths and value sizes.
pub fn item_size(item: &Item) -> usize {
    item.iter().map(|(k, v)| k.len() + v.size()).sum()
}
