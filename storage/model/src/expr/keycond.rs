//! KeyConditionExpression: the restricted condition form a Query accepts (`key = :v`,
//! optionally AND one sort-key condition), and matching it to a key schema.

use super::ast::{Comparator, Condition, KeyCondition, Operand, Path, SortKeyCondition};
use crate::error::{ModelError, Result};
use crate::value::AttributeValue;

fn invalid_operator(op: &str) -> String {
    format!("Invalid operator used in KeyConditionExpression: {op}")
}

fn invalid_condition(what: &str) -> String {
    format!("Invalid condition in KeyConditionExpression: {what}")
}

/// Splits a validated condition into per-attribute key conditions, with DynamoDB's
/// messages for the forms a key condition cannot take (these name KeyConditionExpression
/// themselves and take no `Invalid KeyConditionExpression: ` prefix).
pub(crate) fn key_condition(cond: &Condition) -> Result<KeyCondition, String> {
    let mut out = KeyCondition {
        conditions: Vec::new(),
    };
    collect(cond, &mut out)?;
    if out.conditions.len() > 2 {
        return Err("Conditions can be of length 1 or 2 only".to_owned());
    }
    Ok(out)
}

fn collect(cond: &Condition, out: &mut KeyCondition) -> Result<(), String> {
    let (attr, kc) = match cond {
        Condition::And(a, b) => {
            collect(a, out)?;
            return collect(b, out);
        }
        Condition::Or(..) => return Err(invalid_operator("OR")),
        Condition::Not(_) => return Err(invalid_operator("NOT")),
        Condition::In(..) => return Err(invalid_operator("IN")),
        Condition::Compare(Comparator::Ne, ..) => return Err(invalid_operator("<>")),
        Condition::AttributeExists(_) => return Err(invalid_operator("attribute_exists")),
        Condition::AttributeNotExists(_) => return Err(invalid_operator("attribute_not_exists")),
        Condition::AttributeType(..) => return Err(invalid_operator("attribute_type")),
        Condition::Contains(..) => return Err(invalid_operator("contains")),
        Condition::Compare(cmp, a, b) => compare(*cmp, a, b)?,
        Condition::Between(a, lo, hi) => between(a, lo, hi)?,
        Condition::BeginsWith(a, p) => begins_with(a, p)?,
    };
    if out.conditions.iter().any(|(n, _)| *n == attr) {
        return Err("KeyConditionExpressions must only contain one condition per key".to_owned());
    }
    out.conditions.push((attr, kc));
    Ok(())
}

/// The operands' single key attribute, and the constants beside it.
fn split<'o>(ops: &[&'o Operand]) -> Result<(String, usize, Vec<&'o AttributeValue>), String> {
    let mut attr: Option<(String, usize)> = None;
    let mut values = Vec::new();
    for (i, op) in ops.iter().enumerate() {
        match op {
            Operand::Size(_) => {
                return Err("KeyConditionExpressions cannot contain nested operations".to_owned())
            }
            Operand::Value(v) => values.push(v),
            Operand::Path(p) => {
                if attr.is_some() {
                    return Err(invalid_condition(
                        "Multiple attribute names used in one condition",
                    ));
                }
                attr = Some((top_level(p)?, i));
            }
        }
    }
    let (name, at) = attr.ok_or_else(|| invalid_condition("No key attribute specified"))?;
    Ok((name, at, values))
}

fn top_level(p: &Path) -> Result<String, String> {
    if !p.is_top_level() {
        return Err(
            "KeyConditionExpressions cannot have conditions on nested attributes".to_owned(),
        );
    }
    Ok(p.top().to_owned())
}

fn compare(
    cmp: Comparator,
    a: &Operand,
    b: &Operand,
) -> Result<(String, SortKeyCondition), String> {
    let (name, at, values) = split(&[a, b])?;
    let v = values
        .first()
        .map(|v| (*v).clone())
        .unwrap_or(AttributeValue::Null);
    // `:v < key` is `key > :v`.
    let flipped = at != 0;
    let kc = match (cmp, flipped) {
        (Comparator::Lt, false) | (Comparator::Gt, true) => SortKeyCondition::Lt(v),
        (Comparator::Le, false) | (Comparator::Ge, true) => SortKeyCondition::Le(v),
        (Comparator::Gt, false) | (Comparator::Lt, true) => SortKeyCondition::Gt(v),
        (Comparator::Ge, false) | (Comparator::Le, true) => SortKeyCondition::Ge(v),
        _ => SortKeyCondition::Eq(v),
    };
    Ok((name, kc))
}

fn between(a: &Operand, lo: &Operand, hi: &Operand) -> Result<(String, SortKeyCondition), String> {
    let (name, at, values) = split(&[a, lo, hi])?;
    if at != 0 {
        return Err(invalid_condition(
            "BETWEEN operator must have the key attribute as its first operand",
        ));
    }
    let [lo, hi] = values.as_slice() else {
        return Err(invalid_condition(
            "Multiple attribute names used in one condition",
        ));
    };
    Ok((
        name,
        SortKeyCondition::Between((*lo).clone(), (*hi).clone()),
    ))
}

fn begins_with(a: &Operand, p: &Operand) -> Result<(String, SortKeyCondition), String> {
    let (name, at, values) = split(&[a, p])?;
    if at != 0 {
        return Err(invalid_condition(
            "begins_with operator must have the key attribute as its first operand",
        ));
    }
    let prefix = values
        .first()
        .map(|v| (*v).clone())
        .unwrap_or(AttributeValue::Null);
    Ok((name, SortKeyCondition::BeginsWith(prefix)))
}

impl KeyCondition {
    /// Matches the conditions to a key schema, as DynamoDB does: the partition key's
    /// value (its condition must be an equality) and the sort key's condition, if any.
    /// Errors: `Query condition missed key schema element`, `Query key condition not
    /// supported`. Value types against the attribute definitions are left to the
    /// caller.
    pub fn for_schema(
        &self,
        partition_key: &str,
        sort_key: Option<&str>,
    ) -> Result<(AttributeValue, Option<SortKeyCondition>)> {
        // DynamoDB Local's text; the real service appends `: <key name>`.
        let missed = |_: &str| ModelError::validation("Query condition missed key schema element");
        let unsupported = || ModelError::validation("Query key condition not supported");
        let find = |k: &str| self.conditions.iter().find(|(n, _)| n == k).map(|(_, c)| c);
        let several = self.conditions.len() > 1;
        if sort_key.is_none() && several {
            return Err(unsupported());
        }
        let Some(partition) = find(partition_key) else {
            return Err(missed(partition_key));
        };
        let SortKeyCondition::Eq(value) = partition else {
            return Err(unsupported());
        };
        let sort = match sort_key {
            Some(sk) => match find(sk) {
                Some(c) => Some(c.clone()),
                None if several => return Err(missed(sk)),
                None => None,
            },
            None => None,
        };
        Ok((value.clone(), sort))
    }
}
