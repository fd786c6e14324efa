//! Value equality and ordering as DynamoDB's expressions see them: numbers by value,
//! strings and binaries bytewise (unsigned), sets regardless of order, lists and maps
//! deeply; only numbers, strings and binaries are ordered.

use std::cmp::Ordering;
use std::collections::HashSet;
use std::hash::Hash;

use crate::value::AttributeValue;

/// Deep equality; sets are equal when they hold the same elements in any order.
pub fn values_equal(a: &AttributeValue, b: &AttributeValue) -> bool {
    use AttributeValue as V;
    match (a, b) {
        (V::L(x), V::L(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| values_equal(p, q))
        }
        (V::M(x), V::M(y)) => {
            x.len() == y.len()
                && x.iter()
                    .zip(y)
                    .all(|((k, p), (l, q))| k == l && values_equal(p, q))
        }
        (V::Ss(x), V::Ss(y)) => same_elements(x, y),
        (V::Ns(x), V::Ns(y)) => same_elements(x, y),
        (V::Bs(x), V::Bs(y)) => same_elements(x, y),
        _ => a == b,
    }
}

/// Sets hold no duplicates, so equal length plus inclusion is equality (in linear time:
/// sets can hold hundreds of thousands of elements).
fn same_elements<T: Eq + Hash>(x: &[T], y: &[T]) -> bool {
    if x.len() != y.len() {
        return false;
    }
    let in_y: HashSet<&T> = y.iter().collect();
    x.iter().all(|e| in_y.contains(e))
}

/// The order of two values of the same scalar type (N, S or B); `None` otherwise.
pub fn compare_values(a: &AttributeValue, b: &AttributeValue) -> Option<Ordering> {
    use AttributeValue as V;
    match (a, b) {
        (V::N(x), V::N(y)) => Some(x.cmp(y)),
        (V::S(x), V::S(y)) => Some(x.as_bytes().cmp(y.as_bytes())),
        (V::B(x), V::B(y)) => Some(x.cmp(y)),
        _ => None,
    }
}

/// Whether `set` (SS, NS or BS) contains the scalar `elem` of its element type.
pub(crate) fn set_contains(set: &AttributeValue, elem: &AttributeValue) -> bool {
    use AttributeValue as V;
    match (set, elem) {
        (V::Ss(s), V::S(e)) => s.contains(e),
        (V::Ns(s), V::N(e)) => s.contains(e),
        (V::Bs(s), V::B(e)) => s.iter().any(|x| x == e),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::number::Number;
    use AttributeValue as V;

    fn n(s: &str) -> V {
        V::N(Number::parse(s).unwrap())
    }

    #[test]
    fn equality() {
        assert!(values_equal(&n("10"), &n("10.0")));
        assert!(values_equal(
            &V::Ss(vec!["a".into(), "b".into()]),
            &V::Ss(vec!["b".into(), "a".into()])
        ));
        assert!(!values_equal(
            &V::L(vec![n("1"), n("2")]),
            &V::L(vec![n("2"), n("1")])
        ));
        assert!(!values_equal(&V::S("1".into()), &n("1")));
    }

    #[test]
    fn ordering() {
        assert_eq!(compare_values(&n("9"), &n("10")), Some(Ordering::Less));
        assert_eq!(
            compare_values(&V::S("\u{FFFD}".into()), &V::S("\u{1F600}".into())),
            Some(Ordering::Less)
        );
        assert_eq!(
            compare_values(&V::B(vec![0x7f]), &V::B(vec![0x80])),
            Some(Ordering::Less)
        );
        assert_eq!(compare_values(&V::S("a".into()), &n("1")), None);
        assert_eq!(compare_values(&V::Bool(false), &V::Bool(true)), None);
    }
}
