//! Following a document path into an item, for reading and for writing.

use super::ast::{Path, PathElem};
use crate::value::{AttributeValue, Item};

/// The value at `path`, if every step exists (a key of a map, an index of a list).
pub fn get<'i>(item: &'i Item, path: &Path) -> Option<&'i AttributeValue> {
    let (first, rest) = path.0.split_first()?;
    let PathElem::Attr(name) = first else {
        return None;
    };
    let mut cur = item.get(name)?;
    for e in rest {
        cur = step(cur, e)?;
    }
    Some(cur)
}

fn step<'v>(v: &'v AttributeValue, e: &PathElem) -> Option<&'v AttributeValue> {
    match (v, e) {
        (AttributeValue::M(m), PathElem::Attr(k)) => m.get(k),
        (AttributeValue::L(l), PathElem::Index(i)) => l.get(*i),
        _ => None,
    }
}

fn step_mut<'v>(v: &'v mut AttributeValue, e: &PathElem) -> Option<&'v mut AttributeValue> {
    match (v, e) {
        (AttributeValue::M(m), PathElem::Attr(k)) => m.get_mut(k),
        (AttributeValue::L(l), PathElem::Index(i)) => l.get_mut(*i),
        _ => None,
    }
}

/// Where a path's last step lives: the item itself (top-level) or a map or list value.
pub(crate) enum Parent<'i> {
    Item(&'i mut Item),
    Value(&'i mut AttributeValue),
}

/// The container of the path's last step, and that step; `None` if the container is
/// missing.
pub(crate) fn parent_mut<'i>(
    item: &'i mut Item,
    path: &'i Path,
) -> Option<(Parent<'i>, &'i PathElem)> {
    let (last, init) = path.0.split_last()?;
    let Some((first, middle)) = init.split_first() else {
        return Some((Parent::Item(item), last));
    };
    let PathElem::Attr(name) = first else {
        return None;
    };
    let mut cur = item.get_mut(name)?;
    for e in middle {
        cur = step_mut(cur, e)?;
    }
    Some((Parent::Value(cur), last))
}

impl Parent<'_> {
    /// The current value of `elem` in this container; `Err(())` if the container's type
    /// does not fit the step (a list index into a map, a key into a number, ...).
    pub fn get(&self, elem: &PathElem) -> Result<Option<&AttributeValue>, ()> {
        match (self, elem) {
            (Parent::Item(item), PathElem::Attr(k)) => Ok(item.get(k)),
            (Parent::Value(AttributeValue::M(m)), PathElem::Attr(k)) => Ok(m.get(k)),
            (Parent::Value(AttributeValue::L(l)), PathElem::Index(i)) => Ok(l.get(*i)),
            _ => Err(()),
        }
    }

    /// Sets `elem` to `v`; a list index past the end appends. `Err(())` on a type misfit.
    pub fn set(&mut self, elem: &PathElem, v: AttributeValue) -> Result<(), ()> {
        match (self, elem) {
            (Parent::Item(item), PathElem::Attr(k)) => {
                item.insert(k.clone(), v);
            }
            (Parent::Value(AttributeValue::M(m)), PathElem::Attr(k)) => {
                m.insert(k.clone(), v);
            }
            (Parent::Value(AttributeValue::L(l)), PathElem::Index(i)) => match l.get_mut(*i) {
                Some(slot) => *slot = v,
                None => l.push(v),
            },
            _ => return Err(()),
        }
        Ok(())
    }

    /// Removes `elem` if present (later list elements shift down). `Err(())` on a misfit.
    pub fn remove(&mut self, elem: &PathElem) -> Result<(), ()> {
        match (self, elem) {
            (Parent::Item(item), PathElem::Attr(k)) => {
                item.remove(k);
            }
            (Parent::Value(AttributeValue::M(m)), PathElem::Attr(k)) => {
                m.remove(k);
            }
            (Parent::Value(AttributeValue::L(l)), PathElem::Index(i)) => {
                if *i < l.len() {
                    l.remove(*i);
                }
            }
            _ => return Err(()),
        }
        Ok(())
    }
}
