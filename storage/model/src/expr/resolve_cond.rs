//! Validation of condition trees (ConditionExpression, FilterExpression and, before its
//! own checks, KeyConditionExpression): functions, operand counts and types, distinct
//! operands, parentheses; producing the resolved [`Condition`].

use super::ast::{Comparator, Condition, Operand, Path};
use super::compare::compare_values;
use super::errors::Cat;
use super::limits::REDUNDANT_PARENTHESES;
use super::resolve::{long_type_name, show_value, Resolver};
use super::syntax::{RawCond, RawOperand};
use crate::value::{AttributeValue, ValueType};

/// Functions that are conditions, with their operand counts.
const CONDITION_FUNCTIONS: &[(&str, usize)] = &[
    ("attribute_exists", 1),
    ("attribute_not_exists", 1),
    ("attribute_type", 2),
    ("begins_with", 2),
    ("contains", 2),
];

/// Functions of update expressions, refused in conditions with their own message.
const UPDATE_ONLY_FUNCTIONS: &[&str] = &["if_not_exists", "list_append"];

const MAX_IN_OPERANDS: usize = 100;

fn fn_arity(name: &str) -> Option<usize> {
    CONDITION_FUNCTIONS
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, a)| *a)
}

/// The type an operand is known to have before evaluation.
fn static_type(op: &Operand) -> Option<ValueType> {
    match op {
        Operand::Value(v) => Some(v.value_type()),
        Operand::Size(_) => Some(ValueType::N),
        Operand::Path(_) => None,
    }
}

fn operand_type_error(name: &str, ty: &str) -> String {
    format!("Incorrect operand type for operator or function; operator or function: {name}, operand type: {ty}")
}

impl Resolver<'_> {
    /// Resolves a whole condition.
    pub fn condition(&mut self, raw: &RawCond) -> Option<Condition> {
        match raw {
            RawCond::Paren(inner) => {
                if matches!(**inner, RawCond::Paren(_)) {
                    self.errs.set(Cat::Parens, REDUNDANT_PARENTHESES);
                }
                self.condition(inner)
            }
            RawCond::Not(c) => Some(Condition::Not(Box::new(self.condition(c)?))),
            RawCond::And(a, b) => {
                let (a, b) = (self.condition(a), self.condition(b));
                Some(Condition::And(Box::new(a?), Box::new(b?)))
            }
            RawCond::Or(a, b) => {
                let (a, b) = (self.condition(a), self.condition(b));
                Some(Condition::Or(Box::new(a?), Box::new(b?)))
            }
            leaf => {
                let out = self.leaf(leaf);
                self.errs.end_leaf();
                out
            }
        }
    }

    fn leaf(&mut self, raw: &RawCond) -> Option<Condition> {
        match raw {
            RawCond::Compare(sym, a, b) => self.compare(sym, a, b),
            RawCond::Between(a, lo, hi) => self.between(a, lo, hi),
            RawCond::In(a, list) => self.in_list(a, list),
            RawCond::Call(call) => self.condition_call(call),
            _ => None,
        }
    }

    /// An operand of a comparison or function: a path, a value or `size(...)`.
    pub fn operand(&mut self, raw: &RawOperand) -> Option<Operand> {
        let (op, redundant) = raw.unwrap_parens();
        if redundant {
            self.errs.set(Cat::Parens, REDUNDANT_PARENTHESES);
        }
        match op {
            RawOperand::Path(p) => Some(Operand::Path(self.path(p)?)),
            RawOperand::Value(v) => Some(Operand::Value(self.value(v)?)),
            RawOperand::Call(name, args) => self.operand_call(name, args),
            RawOperand::Paren(_) => None,
        }
    }

    fn operand_call(&mut self, name: &str, args: &[RawOperand]) -> Option<Operand> {
        let ops: Vec<Option<Operand>> = args.iter().map(|a| self.operand(a)).collect();
        if name != "size" {
            if fn_arity(name).is_some() {
                self.misused(name);
            } else {
                self.unknown_function(name);
            }
            return None;
        }
        if ops.len() != 1 {
            self.wrong_count(name, ops.len());
            return None;
        }
        let arg = ops.into_iter().next().flatten()?;
        if let Some(t @ (ValueType::N | ValueType::Bool | ValueType::Null)) = static_type(&arg) {
            self.errs
                .set(Cat::Function, operand_type_error("size", t.descriptor()));
        }
        Some(Operand::Size(Box::new(arg)))
    }

    fn misused(&mut self, name: &str) {
        self.errs.set(
            Cat::Misused,
            format!("The function is not allowed to be used this way in an expression; function: {name}"),
        );
    }

    fn unknown_function(&mut self, name: &str) {
        let msg = if UPDATE_ONLY_FUNCTIONS.contains(&name) {
            format!("The function is not allowed in a condition expression; function: {name}")
        } else {
            format!("Invalid function name; function: {name}")
        };
        self.errs.set(Cat::UnknownFunction, msg);
    }

    fn wrong_count(&mut self, name: &str, n: usize) {
        self.errs.set(
            Cat::Operand,
            format!("Incorrect number of operands for operator or function; operator or function: {name}, number of operands: {n}"),
        );
    }

    /// `first` must differ from every other operand when both are paths.
    fn check_distinct(&mut self, op: &str, first: &Option<Operand>, others: &[&Option<Operand>]) {
        let Some(Operand::Path(p)) = first else {
            return;
        };
        if others
            .iter()
            .any(|o| matches!(o, Some(Operand::Path(q)) if q == p))
        {
            self.errs.set(
                Cat::Distinct,
                format!("The first operand must be distinct from the remaining operands for this operator or function; operator: {op}, first operand: {p}"),
            );
        }
    }

    /// Ordering operators take numbers, strings and binaries only.
    fn check_orderable(&mut self, op: &str, operand: &Option<Operand>) {
        if let Some(Operand::Value(v)) = operand {
            let t = v.value_type();
            if !matches!(t, ValueType::N | ValueType::S | ValueType::B) {
                self.errs
                    .set(Cat::Function, operand_type_error(op, long_type_name(t)));
            }
        }
    }

    fn compare(&mut self, sym: &str, a: &RawOperand, b: &RawOperand) -> Option<Condition> {
        let (x, y) = (self.operand(a), self.operand(b));
        let cmp = Comparator::from_symbol(sym)?;
        self.check_distinct(sym, &x, &[&y]);
        if !matches!(cmp, Comparator::Eq | Comparator::Ne) {
            self.check_orderable(sym, &x);
            self.check_orderable(sym, &y);
        }
        Some(Condition::Compare(cmp, x?, y?))
    }

    fn between(&mut self, a: &RawOperand, lo: &RawOperand, hi: &RawOperand) -> Option<Condition> {
        let (x, l, h) = (self.operand(a), self.operand(lo), self.operand(hi));
        self.check_distinct("BETWEEN", &x, &[&l, &h]);
        for op in [&x, &l, &h] {
            self.check_orderable("BETWEEN", op);
        }
        if let (Some(Operand::Value(l)), Some(Operand::Value(h))) = (&l, &h) {
            self.check_bounds(l, h);
        }
        Some(Condition::Between(x?, l?, h?))
    }

    fn check_bounds(&mut self, l: &AttributeValue, h: &AttributeValue) {
        let what = if l.value_type() != h.value_type() {
            "requires same data type for lower and upper bounds"
        } else if compare_values(l, h) == Some(std::cmp::Ordering::Greater) {
            "requires upper bound to be greater than or equal to lower bound"
        } else {
            return;
        };
        self.errs.set(
            Cat::Function,
            format!(
                "The BETWEEN operator {what}; lower bound operand: AttributeValue: {}, upper bound operand: AttributeValue: {}",
                show_value(l),
                show_value(h)
            ),
        );
    }

    fn in_list(&mut self, a: &RawOperand, list: &[RawOperand]) -> Option<Condition> {
        let x = self.operand(a);
        let items: Vec<Option<Operand>> = list.iter().map(|o| self.operand(o)).collect();
        if items.len() > MAX_IN_OPERANDS {
            self.errs.set(
                Cat::Operand,
                format!(
                    "The IN operator is provided with too many operands; number of operands: {}",
                    items.len()
                ),
            );
        }
        self.check_distinct("IN", &x, &items.iter().collect::<Vec<_>>());
        let items: Option<Vec<Operand>> = items.into_iter().collect();
        Some(Condition::In(x?, items?))
    }

    /// A function call in the position of a condition.
    fn condition_call(&mut self, call: &RawOperand) -> Option<Condition> {
        let (op, redundant) = call.unwrap_parens();
        if redundant {
            self.errs.set(Cat::Parens, REDUNDANT_PARENTHESES);
        }
        let RawOperand::Call(name, args) = op else {
            return None;
        };
        let ops: Vec<Option<Operand>> = args.iter().map(|a| self.operand(a)).collect();
        let Some(arity) = fn_arity(name) else {
            if name == "size" {
                self.misused(name);
            } else {
                self.unknown_function(name);
            }
            return None;
        };
        if ops.len() != arity {
            self.wrong_count(name, ops.len());
            return None;
        }
        if arity == 2 {
            self.check_distinct(name, &ops[0], &[&ops[1]]);
        }
        self.function(name, ops)
    }

    fn function(&mut self, name: &str, ops: Vec<Option<Operand>>) -> Option<Condition> {
        let mut it = ops.into_iter();
        let (a, b) = (it.next().flatten(), it.next().flatten());
        match name {
            "attribute_exists" => Some(Condition::AttributeExists(self.need_path(name, a?)?)),
            "attribute_not_exists" => {
                Some(Condition::AttributeNotExists(self.need_path(name, a?)?))
            }
            "attribute_type" => {
                let t = self.type_name(b?);
                Some(Condition::AttributeType(self.need_path(name, a?)?, t?))
            }
            "begins_with" => {
                for op in [&a, &b].into_iter().flatten() {
                    self.check_string_or_binary(name, op);
                }
                Some(Condition::BeginsWith(a?, b?))
            }
            _ => Some(Condition::Contains(a?, b?)),
        }
    }

    fn need_path(&mut self, name: &str, op: Operand) -> Option<Path> {
        match op {
            Operand::Path(p) => Some(p),
            _ => {
                self.errs.set(
                    Cat::Function,
                    format!("Operator or function requires a document path; operator or function: {name}"),
                );
                None
            }
        }
    }

    fn check_string_or_binary(&mut self, name: &str, op: &Operand) {
        if let Some(t) = static_type(op) {
            if !matches!(t, ValueType::S | ValueType::B) {
                self.errs
                    .set(Cat::Function, operand_type_error(name, t.descriptor()));
            }
        }
    }

    /// The second operand of `attribute_type`: a string naming a type.
    fn type_name(&mut self, op: Operand) -> Option<ValueType> {
        let msg = match &op {
            Operand::Value(AttributeValue::S(s)) => match ValueType::from_descriptor(s) {
                Some(t) => return Some(t),
                None => format!(
                    "Invalid attribute type name found; type: {s}, valid types: {{N,BS,L,B,NULL,M,S,SS,NS,BOOL}}"
                ),
            },
            other => {
                let ty = static_type(other).map_or("{NS,SS,L,BS,N,M,B,BOOL,NULL,S}", |t| t.descriptor());
                operand_type_error("attribute_type", ty)
            }
        };
        self.errs.set(Cat::Function, msg);
        None
    }
}
