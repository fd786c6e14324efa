//! Applying an update expression to an item. Every SET value is computed from the item
//! as it was before the update; list indexes refer to the original positions (REMOVE
//! happens last, from the highest index down); a failure leaves the item unchanged.

use std::cmp::Reverse;
use std::collections::HashSet;
use std::hash::Hash;

use super::ast::{Path, PathElem, SetValue, UpdateAction, UpdateExpr, UpdateOperand};
use super::docpath::{self, Parent};
use crate::error::{ModelError, Result};
use crate::value::{AttributeValue, Item};

const MISSING: &str =
    "The provided expression refers to an attribute that does not exist in the item";
const BAD_TYPE: &str = "An operand in the update expression has an incorrect data type";
const BAD_PATH: &str = "The document path provided in the update expression is invalid for update";

/// Errors found while applying carry no `Invalid UpdateExpression: ` prefix (as
/// DynamoDB Local says them; the parse-time ones do).
fn invalid(msg: &str) -> ModelError {
    ModelError::validation(msg)
}

impl UpdateExpr {
    /// Applies the update to `item` (the key attributes alone when the item is new).
    /// All or nothing: on error `item` is unchanged.
    pub fn apply(&self, item: &mut Item) -> Result<()> {
        let values = self
            .actions
            .iter()
            .map(|a| match a {
                UpdateAction::Set(_, v) => set_value(v, item).map(Some),
                _ => Ok(None),
            })
            .collect::<Result<Vec<_>>>()?;
        let mut work = item.clone();
        for i in self.application_order() {
            apply_action(&mut work, &self.actions[i], values[i].clone())?;
        }
        *item = work;
        Ok(())
    }

    /// SET, ADD and DELETE by ascending path (so that writes past a list's end append
    /// in index order), then REMOVE by descending path (so that removing a list element
    /// does not shift the ones still to remove).
    fn application_order(&self) -> Vec<usize> {
        let (mut removes, mut others): (Vec<usize>, Vec<usize>) = (0..self.actions.len())
            .partition(|&i| matches!(self.actions[i], UpdateAction::Remove(_)));
        others.sort_by_key(|&i| self.actions[i].path());
        removes.sort_by_key(|&i| Reverse(self.actions[i].path()));
        others.extend(removes);
        others
    }

    /// The top-level attributes the update writes, each once, in order.
    pub fn top_level_attributes(&self) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::new();
        for a in &self.actions {
            let top = a.path().top();
            if !out.contains(&top) {
                out.push(top);
            }
        }
        out
    }

    /// The paths the update writes (for ReturnValues UPDATED_OLD / UPDATED_NEW).
    pub fn updated_paths(&self) -> Vec<&Path> {
        self.actions.iter().map(UpdateAction::path).collect()
    }
}

fn set_value(v: &SetValue, item: &Item) -> Result<AttributeValue> {
    let number = |o: &UpdateOperand| match operand(o, item)? {
        AttributeValue::N(n) => Ok(n),
        _ => Err(invalid(BAD_TYPE)),
    };
    match v {
        SetValue::Operand(o) => operand(o, item),
        SetValue::Plus(a, b) => Ok(AttributeValue::N(number(a)?.checked_add(&number(b)?)?)),
        SetValue::Minus(a, b) => Ok(AttributeValue::N(number(a)?.checked_sub(&number(b)?)?)),
    }
}

fn operand(o: &UpdateOperand, item: &Item) -> Result<AttributeValue> {
    match o {
        UpdateOperand::Path(p) => docpath::get(item, p)
            .cloned()
            .ok_or_else(|| invalid(MISSING)),
        UpdateOperand::Value(v) => Ok(v.clone()),
        UpdateOperand::IfNotExists(p, fallback) => match docpath::get(item, p) {
            Some(v) => Ok(v.clone()),
            None => operand(fallback, item),
        },
        UpdateOperand::ListAppend(a, b) => match (operand(a, item)?, operand(b, item)?) {
            (AttributeValue::L(mut x), AttributeValue::L(y)) => {
                x.extend(y);
                Ok(AttributeValue::L(x))
            }
            _ => Err(invalid(BAD_TYPE)),
        },
    }
}

fn apply_action(
    item: &mut Item,
    action: &UpdateAction,
    value: Option<AttributeValue>,
) -> Result<()> {
    let bad_path = |_| invalid(BAD_PATH);
    let (mut parent, last) =
        docpath::parent_mut(item, action.path()).ok_or_else(|| invalid(BAD_PATH))?;
    match action {
        UpdateAction::Set(..) => {
            let v = value.ok_or_else(|| invalid(MISSING))?;
            parent.set(last, v).map_err(bad_path)
        }
        UpdateAction::Remove(_) => parent.remove(last).map_err(bad_path),
        UpdateAction::Add(_, v) => {
            let new = add(parent.get(last).map_err(bad_path)?, v)?;
            parent.set(last, new).map_err(bad_path)
        }
        UpdateAction::Delete(_, v) => delete(&mut parent, last, v),
    }
}

/// ADD: number addition (a missing number counts as 0) or set union.
fn add(existing: Option<&AttributeValue>, v: &AttributeValue) -> Result<AttributeValue> {
    use AttributeValue as V;
    let Some(existing) = existing else {
        return Ok(v.clone());
    };
    Ok(match (existing, v) {
        (V::N(a), V::N(b)) => V::N(a.checked_add(b)?),
        (V::Ss(a), V::Ss(b)) => V::Ss(union(a, b)),
        (V::Ns(a), V::Ns(b)) => V::Ns(union(a, b)),
        (V::Bs(a), V::Bs(b)) => V::Bs(union(a, b)),
        _ => return Err(invalid(BAD_TYPE)),
    })
}

/// `a` then the elements of `b` it lacks, in linear time (sets can hold hundreds of
/// thousands of elements).
fn union<T: Eq + Hash + Clone>(a: &[T], b: &[T]) -> Vec<T> {
    let have: HashSet<&T> = a.iter().collect();
    let mut out = a.to_vec();
    out.extend(b.iter().filter(|e| !have.contains(e)).cloned());
    out
}

/// The elements of `a` not in `b`, in linear time.
fn difference<T: Eq + Hash + Clone>(a: &[T], b: &[T]) -> Vec<T> {
    let gone: HashSet<&T> = b.iter().collect();
    a.iter().filter(|e| !gone.contains(e)).cloned().collect()
}

/// DELETE: set difference; a set left empty is removed; a missing set is no change.
fn delete(parent: &mut Parent<'_>, last: &PathElem, v: &AttributeValue) -> Result<()> {
    use AttributeValue as V;
    let bad_path = |_| invalid(BAD_PATH);
    let Some(existing) = parent.get(last).map_err(bad_path)? else {
        return Ok(());
    };
    let new = match (existing, v) {
        (V::Ss(a), V::Ss(b)) => V::Ss(difference(a, b)),
        (V::Ns(a), V::Ns(b)) => V::Ns(difference(a, b)),
        (V::Bs(a), V::Bs(b)) => V::Bs(difference(a, b)),
        _ => return Err(invalid(BAD_TYPE)),
    };
    let empty = matches!(&new, V::Ss(s) if s.is_empty())
        || matches!(&new, V::Ns(s) if s.is_empty())
        || matches!(&new, V::Bs(s) if s.is_empty());
    if empty {
        parent.remove(last).map_err(bad_path)
    } else {
        parent.set(last, new).map_err(bad_path)
    }
}
