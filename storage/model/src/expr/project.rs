//! ProjectionExpression semantics: copying the named document paths out of an item.
//! Nested paths rebuild their enclosing maps and lists; list elements picked by index
//! are compacted, in index order (`a[3], a[1]` gives `a: [a1, a3]`).

use std::collections::BTreeMap;

use super::ast::{Path, PathElem};
use super::docpath;
use crate::value::{AttributeValue, Item};

/// A projection under construction.
enum Node {
    Leaf(AttributeValue),
    Map(BTreeMap<String, Node>),
    List(BTreeMap<usize, Node>),
}

/// The parts of `item` named by `paths`; paths that do not exist are left out.
pub fn project(item: &Item, paths: &[Path]) -> Item {
    let mut root: BTreeMap<String, Node> = BTreeMap::new();
    for path in paths {
        let Some(value) = docpath::get(item, path) else {
            continue;
        };
        let Some((PathElem::Attr(first), rest)) = path.0.split_first() else {
            continue;
        };
        let slot = root
            .entry(first.clone())
            .or_insert_with(|| empty_for(rest.first()));
        insert(slot, rest, value);
    }
    root.into_iter().map(|(k, n)| (k, n.into_value())).collect()
}

fn empty_for(next: Option<&PathElem>) -> Node {
    match next {
        Some(PathElem::Attr(_)) => Node::Map(BTreeMap::new()),
        Some(PathElem::Index(_)) => Node::List(BTreeMap::new()),
        None => Node::Leaf(AttributeValue::Null),
    }
}

/// Places `value` at `rest` below `node`. A whole value already projected wins over a
/// part of it (overlapping paths are rejected at parse time anyway).
fn insert(node: &mut Node, rest: &[PathElem], value: &AttributeValue) {
    let Some((elem, tail)) = rest.split_first() else {
        *node = Node::Leaf(value.clone());
        return;
    };
    let child = match (node, elem) {
        (Node::Map(m), PathElem::Attr(k)) => m.entry(k.clone()),
        (Node::List(l), PathElem::Index(i)) => {
            let child = l.entry(*i).or_insert_with(|| empty_for(tail.first()));
            return insert(child, tail, value);
        }
        _ => return,
    };
    let child = child.or_insert_with(|| empty_for(tail.first()));
    insert(child, tail, value);
}

impl Node {
    fn into_value(self) -> AttributeValue {
        match self {
            Node::Leaf(v) => v,
            Node::Map(m) => {
                AttributeValue::M(m.into_iter().map(|(k, n)| (k, n.into_value())).collect())
            }
            Node::List(l) => AttributeValue::L(l.into_values().map(Node::into_value).collect()),
        }
    }
}
