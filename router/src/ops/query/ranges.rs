//! Key conditions and the storage-key ranges they select; parallel-scan segments.

use rotor_model::expr::{KeyCondition, SortKeyCondition};
use rotor_model::keys::{encode_bytes_prefix, encode_key_value, prefix_successor};
use rotor_model::table::KeySchema;
use rotor_model::AttributeValue;
use serde_json::Value as Json;

use crate::error::{ApiError, ApiResult};
use crate::request::Request;

/// The smallest storage key greater than `key` (item keys are prefix-free).
pub(super) fn after(key: &[u8]) -> Vec<u8> {
    let mut k = key.to_vec();
    k.push(0);
    k
}

/// Picks the partition-key equality and the optional sort-key condition out of a parsed
/// KeyConditionExpression.
pub(super) fn resolve_key_condition(
    kc: &KeyCondition,
    schema: &KeySchema,
) -> ApiResult<(AttributeValue, Option<SortKeyCondition>)> {
    let (pk, sk) = kc.for_schema(
        &schema.partition.name,
        schema.sort.as_ref().map(|s| s.name.as_str()),
    )?;
    let mismatch = || {
        ApiError::validation("One or more parameter values were invalid: Condition parameter type does not match schema type")
    };
    if pk.value_type().descriptor() != schema.partition.ty.descriptor() {
        return Err(mismatch());
    }
    if let (Some(cond), Some(sort)) = (&sk, &schema.sort) {
        let operands: Vec<&AttributeValue> = match cond {
            SortKeyCondition::Between(a, b) => vec![a, b],
            SortKeyCondition::Eq(v)
            | SortKeyCondition::Lt(v)
            | SortKeyCondition::Le(v)
            | SortKeyCondition::Gt(v)
            | SortKeyCondition::Ge(v)
            | SortKeyCondition::BeginsWith(v) => vec![v],
        };
        if operands
            .iter()
            .any(|v| v.value_type().descriptor() != sort.ty.descriptor())
        {
            return Err(mismatch());
        }
        if let (SortKeyCondition::BeginsWith(_), "N") = (cond, sort.ty.descriptor()) {
            return Err(ApiError::validation(
                "Invalid KeyConditionExpression: Incorrect operand type for operator or function; operator or function: begins_with, operand type: N",
            ));
        }
    }
    Ok((pk, sk))
}

/// The storage key range `[start, end)` holding the items (or index entries) a key
/// condition selects, under `prefix`: their partition key's.
pub(super) fn sort_key_range(
    prefix: Vec<u8>,
    sort: Option<&SortKeyCondition>,
) -> ApiResult<(Vec<u8>, Vec<u8>)> {
    let prefix_end = prefix_successor(&prefix).unwrap_or_else(|| after(&prefix));
    let at = |v: &AttributeValue| {
        let mut k = prefix.clone();
        encode_key_value(v, &mut k);
        k
    };
    // Past every key that starts with `v`'s encoding: an index entry's key goes on
    // with its table sort key (encodings delimit themselves, so no other value's
    // encoding starts with `v`'s).
    let past = |v: &AttributeValue| prefix_successor(&at(v)).unwrap_or_else(|| prefix_end.clone());
    Ok(match sort {
        None => (prefix.clone(), prefix_end.clone()),
        Some(SortKeyCondition::Eq(v)) => (at(v), past(v)),
        Some(SortKeyCondition::Lt(v)) => (prefix.clone(), at(v)),
        Some(SortKeyCondition::Le(v)) => (prefix.clone(), past(v)),
        Some(SortKeyCondition::Gt(v)) => (past(v), prefix_end.clone()),
        Some(SortKeyCondition::Ge(v)) => (at(v), prefix_end.clone()),
        Some(SortKeyCondition::Between(a, b)) => {
            if at(a) > at(b) {
                return Err(ApiError::validation(format!(
                    "Invalid KeyConditionExpression: The BETWEEN operator requires upper bound to be greater than or equal to lower bound; lower bound operand: AttributeValue: {}, upper bound operand: AttributeValue: {}",
                    brief(a),
                    brief(b)
                )));
            }
            (at(a), past(b))
        }
        Some(SortKeyCondition::BeginsWith(v)) => {
            let mut k = prefix.clone();
            match v {
                AttributeValue::S(s) => encode_bytes_prefix(s.as_bytes(), &mut k),
                AttributeValue::B(b) => encode_bytes_prefix(b, &mut k),
                _ => {}
            }
            let end = prefix_successor(&k).unwrap_or_else(|| prefix_end.clone());
            (k, end)
        }
    })
}

/// `{S:abc}` as DynamoDB shows an operand in messages.
pub(super) fn brief(v: &AttributeValue) -> String {
    match v.to_json() {
        Json::Object(m) => m
            .iter()
            .map(|(k, v)| {
                format!(
                    "{{{k}:{}}}",
                    v.as_str().map_or_else(|| v.to_string(), str::to_owned)
                )
            })
            .collect(),
        other => other.to_string(),
    }
}

/// The token range `[lo, hi)` of a parallel-scan segment (`hi = None`: to the end).
pub(super) fn segment_tokens(req: &Request) -> ApiResult<(u64, Option<u64>)> {
    let segment = req.int("Segment")?;
    let total = req.int("TotalSegments")?;
    match (segment, total) {
        (None, None) => Ok((0, None)),
        (Some(_), None) => Err(ApiError::validation(
            "If segment is specified, total segment must also be specified",
        )),
        (None, Some(_)) => Err(ApiError::validation(
            "If total segments is specified, a particular segment must also be specified for this request",
        )),
        (Some(s), Some(t)) => {
            if !(1..=1_000_000).contains(&t) {
                return Err(ApiError::validation(format!(
                    "1 validation error detected: Value '{t}' at 'totalSegments' failed to satisfy constraint: Member must have value {}",
                    if t < 1 { "greater than or equal to 1" } else { "less than or equal to 1000000" }
                )));
            }
            if s < 0 {
                return Err(ApiError::validation(format!(
                    "1 validation error detected: Value '{s}' at 'segment' failed to satisfy constraint: Member must have value greater than or equal to 0"
                )));
            }
            if s >= t {
                return Err(ApiError::validation(format!(
                    "1 validation error detected: Value '{s}' at 'segment' failed to satisfy constraint: Member must have value less than or equal to {}",
                    t - 1
                )));
            }
            let bound = |i: i64| ((u128::from(i as u64) << 64) / u128::from(t as u64)) as u64;
            let hi = if s + 1 == t { None } else { Some(bound(s + 1)) };
            Ok((bound(s), hi))
        }
    }
}
