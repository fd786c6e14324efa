//! Evaluating a condition against an item (empty when the item is absent). Nothing here
//! fails: a missing attribute, a type mismatch or `size` of something sizeless makes the
//! comparison false, as in DynamoDB.

use std::borrow::Cow;
use std::cmp::Ordering;

use super::ast::{Comparator, Condition, Operand, SortKeyCondition};
use super::compare::{compare_values, set_contains, values_equal};
use super::docpath;
use crate::number::Number;
use crate::value::{AttributeValue, Item};

impl Condition {
    /// Whether the condition holds for `item`.
    pub fn evaluate(&self, item: &Item) -> bool {
        match self {
            Condition::Compare(cmp, a, b) => compare(*cmp, resolve(a, item), resolve(b, item)),
            Condition::Between(a, lo, hi) => between(
                known(resolve(a, item)).as_deref(),
                known(resolve(lo, item)).as_deref(),
                known(resolve(hi, item)).as_deref(),
            ),
            Condition::In(a, list) => {
                let Ok(Some(x)) = resolve(a, item) else {
                    return false;
                };
                list.iter()
                    .any(|o| matches!(resolve(o, item), Ok(Some(y)) if values_equal(&x, &y)))
            }
            Condition::AttributeExists(p) => docpath::get(item, p).is_some(),
            Condition::AttributeNotExists(p) => docpath::get(item, p).is_none(),
            Condition::AttributeType(p, t) => {
                docpath::get(item, p).is_some_and(|v| v.value_type() == *t)
            }
            Condition::BeginsWith(a, b) => match (resolve(a, item), resolve(b, item)) {
                (Ok(Some(x)), Ok(Some(y))) => begins_with(&x, &y),
                _ => false,
            },
            Condition::Contains(a, b) => match (resolve(a, item), resolve(b, item)) {
                (Ok(Some(x)), Ok(Some(y))) => contains(&x, &y),
                _ => false,
            },
            Condition::Not(c) => !c.evaluate(item),
            Condition::And(a, b) => a.evaluate(item) && b.evaluate(item),
            Condition::Or(a, b) => a.evaluate(item) || b.evaluate(item),
        }
    }
}

/// An operand's value: `Ok(None)` when the attribute is missing, `Err(())` when `size`
/// cannot be taken (missing or sizeless), which fails the whole comparison.
type Resolved<'i> = Result<Option<Cow<'i, AttributeValue>>, ()>;

fn known(r: Resolved<'_>) -> Option<Cow<'_, AttributeValue>> {
    r.ok().flatten()
}

fn resolve<'i>(op: &'i Operand, item: &'i Item) -> Resolved<'i> {
    match op {
        Operand::Path(p) => Ok(docpath::get(item, p).map(Cow::Borrowed)),
        Operand::Value(v) => Ok(Some(Cow::Borrowed(v))),
        Operand::Size(inner) => {
            let v = resolve(inner, item)?.ok_or(())?;
            let n = size_of(&v).ok_or(())?;
            Ok(Some(Cow::Owned(AttributeValue::N(Number::from_i64(n)))))
        }
    }
}

/// DynamoDB's `size`: UTF-16 code units of a string, bytes of a binary, elements of a
/// set, list or map.
fn size_of(v: &AttributeValue) -> Option<i64> {
    let n = match v {
        AttributeValue::S(s) => s.encode_utf16().count(),
        AttributeValue::B(b) => b.len(),
        AttributeValue::Ss(s) => s.len(),
        AttributeValue::Ns(s) => s.len(),
        AttributeValue::Bs(s) => s.len(),
        AttributeValue::L(l) => l.len(),
        AttributeValue::M(m) => m.len(),
        AttributeValue::N(_) | AttributeValue::Bool(_) | AttributeValue::Null => return None,
    };
    i64::try_from(n).ok()
}

fn compare(cmp: Comparator, a: Resolved<'_>, b: Resolved<'_>) -> bool {
    let (Ok(a), Ok(b)) = (a, b) else {
        return false;
    };
    match cmp {
        Comparator::Eq => matches!((&a, &b), (Some(x), Some(y)) if values_equal(x, y)),
        Comparator::Ne => match (&a, &b) {
            (Some(x), Some(y)) => !values_equal(x, y),
            (None, None) => false,
            _ => true,
        },
        _ => {
            let (Some(x), Some(y)) = (a, b) else {
                return false;
            };
            compare_values(&x, &y).is_some_and(|o| ordering_holds(cmp, o))
        }
    }
}

fn ordering_holds(cmp: Comparator, o: Ordering) -> bool {
    match cmp {
        Comparator::Eq => o == Ordering::Equal,
        Comparator::Ne => o != Ordering::Equal,
        Comparator::Lt => o == Ordering::Less,
        Comparator::Le => o != Ordering::Greater,
        Comparator::Gt => o == Ordering::Greater,
        Comparator::Ge => o != Ordering::Less,
    }
}

fn between(
    a: Option<&AttributeValue>,
    lo: Option<&AttributeValue>,
    hi: Option<&AttributeValue>,
) -> bool {
    let (Some(a), Some(lo), Some(hi)) = (a, lo, hi) else {
        return false;
    };
    compare_values(a, lo).is_some_and(|o| o != Ordering::Less)
        && compare_values(a, hi).is_some_and(|o| o != Ordering::Greater)
}

fn begins_with(a: &AttributeValue, prefix: &AttributeValue) -> bool {
    match (a, prefix) {
        (AttributeValue::S(s), AttributeValue::S(p)) => s.starts_with(p.as_str()),
        (AttributeValue::B(b), AttributeValue::B(p)) => b.starts_with(p),
        _ => false,
    }
}

/// `contains`: a substring of a string or binary, an element of a set, or an element
/// of a list (deep equality).
fn contains(a: &AttributeValue, x: &AttributeValue) -> bool {
    match (a, x) {
        (AttributeValue::S(s), AttributeValue::S(sub)) => s.contains(sub.as_str()),
        // A linear-time search: a naive window scan is quadratic on a 400 KB value.
        (AttributeValue::B(b), AttributeValue::B(sub)) => memchr::memmem::find(b, sub).is_some(),
        (AttributeValue::L(l), _) => l.iter().any(|e| values_equal(e, x)),
        _ => set_contains(a, x),
    }
}

impl SortKeyCondition {
    /// Whether a key value satisfies this condition (same type required).
    pub fn matches(&self, v: &AttributeValue) -> bool {
        let cmp = |c: Comparator, w: &AttributeValue| {
            compare_values(v, w).is_some_and(|o| ordering_holds(c, o))
        };
        match self {
            SortKeyCondition::Eq(w) => cmp(Comparator::Eq, w),
            SortKeyCondition::Lt(w) => cmp(Comparator::Lt, w),
            SortKeyCondition::Le(w) => cmp(Comparator::Le, w),
            SortKeyCondition::Gt(w) => cmp(Comparator::Gt, w),
            SortKeyCondition::Ge(w) => cmp(Comparator::Ge, w),
            SortKeyCondition::Between(lo, hi) => between(Some(v), Some(lo), Some(hi)),
            SortKeyCondition::BeginsWith(p) => begins_with(v, p),
        }
    }
}
