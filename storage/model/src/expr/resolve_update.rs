//! Validation of update trees: sections used once, functions and operand types known
//! before any item is read, overlapping paths; producing the resolved [`UpdateExpr`].

use super::ast::{Path, SetValue, UpdateAction, UpdateExpr, UpdateOperand};
use super::errors::Cat;
use super::limits::REDUNDANT_PARENTHESES;
use super::resolve::{long_type_name, Resolver};
use super::syntax::{RawAction, RawOperand, RawSetValue, RawUpdate};
use crate::value::{AttributeValue, ValueType};

/// Functions of SET values, with their operand counts.
const UPDATE_FUNCTIONS: &[(&str, usize)] = &[("if_not_exists", 2), ("list_append", 2)];

/// Functions of conditions, refused in updates with their own message.
const CONDITION_ONLY_FUNCTIONS: &[&str] = &[
    "attribute_exists",
    "attribute_not_exists",
    "attribute_type",
    "begins_with",
    "contains",
    "size",
];

fn fn_type_error(name: &str, t: ValueType) -> String {
    format!(
        "Incorrect operand type for operator or function; operator or function: {name}, operand type: {}",
        t.descriptor()
    )
}

impl Resolver<'_> {
    /// Resolves a whole update expression.
    pub fn update(&mut self, raw: &RawUpdate) -> Option<UpdateExpr> {
        let mut seen: Vec<&str> = Vec::new();
        let mut actions = Vec::new();
        let mut paths = Vec::new();
        let mut ok = true;
        for (section, list) in &raw.sections {
            if seen.contains(section) {
                self.errs.set(
                    Cat::Section,
                    format!(
                        "The \"{section}\" section can only be used once in an update expression;"
                    ),
                );
            }
            seen.push(section);
            for a in list {
                let (path, action) = self.action(a);
                paths.extend(path);
                match action {
                    Some(a) => actions.push(a),
                    None => ok = false,
                }
            }
        }
        self.check_overlaps(&paths.iter().collect::<Vec<_>>());
        ok.then_some(UpdateExpr { actions })
    }

    /// The action's path (for the overlap check) and the action, if it resolved.
    fn action(&mut self, raw: &RawAction) -> (Option<Path>, Option<UpdateAction>) {
        match raw {
            RawAction::Set(p, v) => {
                let path = self.path(p);
                let value = self.set_value(v);
                let action = value
                    .zip(path.clone())
                    .map(|(v, p)| UpdateAction::Set(p, v));
                (path, action)
            }
            RawAction::Remove(p) => {
                let path = self.path(p);
                (path.clone(), path.map(UpdateAction::Remove))
            }
            RawAction::Add(p, v) | RawAction::Delete(p, v) => {
                let add = matches!(raw, RawAction::Add(..));
                let path = self.path(p);
                let value = self.value(v);
                if let Some(value) = &value {
                    self.check_add_delete(add, value);
                }
                let action = value.zip(path.clone()).map(|(v, p)| match add {
                    true => UpdateAction::Add(p, v),
                    false => UpdateAction::Delete(p, v),
                });
                (path, action)
            }
        }
    }

    /// ADD takes a number or a set; DELETE a set.
    fn check_add_delete(&mut self, add: bool, v: &AttributeValue) {
        let t = v.value_type();
        if v.is_set() || (add && t == ValueType::N) {
            return;
        }
        let op = if add { "ADD" } else { "DELETE" };
        self.errs.set(
            Cat::Operand,
            format!(
                "Incorrect operand type for operator or function; operator: {op}, operand type: {}, typeSet: ALLOWED_FOR_{op}_OPERAND",
                long_type_name(t)
            ),
        );
    }

    fn set_value(&mut self, raw: &RawSetValue) -> Option<SetValue> {
        match raw {
            RawSetValue::Paren(inner) => {
                if matches!(**inner, RawSetValue::Paren(_)) {
                    self.errs.set(Cat::Parens, REDUNDANT_PARENTHESES);
                }
                self.set_value(inner)
            }
            RawSetValue::Operand(o) => Some(SetValue::Operand(self.update_operand(o)?)),
            RawSetValue::Arith(op, a, b) => {
                let (x, y) = (self.update_operand(a), self.update_operand(b));
                for v in [&x, &y] {
                    if let Some(UpdateOperand::Value(v)) = v {
                        if v.value_type() != ValueType::N {
                            self.errs.set(
                                Cat::Function,
                                fn_type_error(&op.to_string(), v.value_type()),
                            );
                        }
                    }
                }
                let (x, y) = (x?, y?);
                Some(match op {
                    '+' => SetValue::Plus(x, y),
                    _ => SetValue::Minus(x, y),
                })
            }
        }
    }

    fn update_operand(&mut self, raw: &RawOperand) -> Option<UpdateOperand> {
        let (op, redundant) = raw.unwrap_parens();
        if redundant {
            self.errs.set(Cat::Parens, REDUNDANT_PARENTHESES);
        }
        match op {
            RawOperand::Path(p) => Some(UpdateOperand::Path(self.path(p)?)),
            RawOperand::Value(v) => Some(UpdateOperand::Value(self.value(v)?)),
            RawOperand::Call(name, args) => self.update_call(name, args),
            RawOperand::Paren(_) => None,
        }
    }

    fn update_call(&mut self, name: &str, args: &[RawOperand]) -> Option<UpdateOperand> {
        let ops: Vec<Option<UpdateOperand>> = args.iter().map(|a| self.update_operand(a)).collect();
        let Some(&(_, arity)) = UPDATE_FUNCTIONS.iter().find(|(n, _)| *n == name) else {
            let msg = if CONDITION_ONLY_FUNCTIONS.contains(&name) {
                format!("The function is not allowed in an update expression; function: {name}")
            } else {
                format!("Invalid function name; function: {name}")
            };
            self.errs.set(Cat::UnknownFunction, msg);
            return None;
        };
        if ops.len() != arity {
            self.errs.set(
                Cat::Function,
                format!("Incorrect number of operands for operator or function; operator or function: {name}, number of operands: {}", ops.len()),
            );
            return None;
        }
        let mut it = ops.into_iter();
        let (a, b) = (it.next().flatten(), it.next().flatten());
        if name == "if_not_exists" {
            let Some(UpdateOperand::Path(p)) = a else {
                if a.is_some() {
                    self.errs.set(
                        Cat::Function,
                        "Operator or function requires a document path; operator or function: if_not_exists",
                    );
                }
                return None;
            };
            return Some(UpdateOperand::IfNotExists(p, Box::new(b?)));
        }
        for v in [&a, &b].into_iter().flatten() {
            match v {
                UpdateOperand::Value(v) if v.value_type() != ValueType::L => {
                    self.errs
                        .set(Cat::Function, fn_type_error(name, v.value_type()));
                }
                // DynamoDB allows no list_append inside another.
                UpdateOperand::ListAppend(..) => self.errs.set(
                    Cat::Misused,
                    "The function is not allowed to be used this way in an expression; function: list_append",
                ),
                _ => {}
            }
        }
        Some(UpdateOperand::ListAppend(Box::new(a?), Box::new(b?)))
    }
}
