//! The resolved expression trees: `#names` substituted, `:values` replaced by constants.
//!
//! These travel in the raft log, so they are plain data (serde) and applying them is
//! deterministic. They are built only by [`super::Parser`], which validates them.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::value::{AttributeValue, ValueType};

/// One step of a document path.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum PathElem {
    /// A map key (or, first, a top-level attribute name).
    Attr(String),
    /// A list index.
    Index(usize),
}

/// A document path such as `a.b[3].c`. Always starts with an [`PathElem::Attr`].
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Path(pub Vec<PathElem>);

impl Path {
    /// A top-level attribute path.
    pub fn attr(name: impl Into<String>) -> Path {
        Path(vec![PathElem::Attr(name.into())])
    }

    /// The top-level attribute this path starts at.
    pub fn top(&self) -> &str {
        match self.0.first() {
            Some(PathElem::Attr(a)) => a,
            _ => "",
        }
    }

    /// True when this path names a top-level attribute only.
    pub fn is_top_level(&self) -> bool {
        self.0.len() == 1
    }
}

/// DynamoDB's rendering in messages: `[a, b, [3]]`.
impl fmt::Display for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[")?;
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            match e {
                PathElem::Attr(a) => f.write_str(a)?,
                PathElem::Index(n) => write!(f, "[{n}]")?,
            }
        }
        f.write_str("]")
    }
}

/// A value in a condition: an attribute, a constant, or `size(...)` of one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Operand {
    Path(Path),
    Value(AttributeValue),
    Size(Box<Operand>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Comparator {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl Comparator {
    pub fn symbol(self) -> &'static str {
        match self {
            Comparator::Eq => "=",
            Comparator::Ne => "<>",
            Comparator::Lt => "<",
            Comparator::Le => "<=",
            Comparator::Gt => ">",
            Comparator::Ge => ">=",
        }
    }

    pub(crate) fn from_symbol(s: &str) -> Option<Comparator> {
        Some(match s {
            "=" => Comparator::Eq,
            "<>" => Comparator::Ne,
            "<" => Comparator::Lt,
            "<=" => Comparator::Le,
            ">" => Comparator::Gt,
            ">=" => Comparator::Ge,
            _ => return None,
        })
    }
}

/// A ConditionExpression / FilterExpression.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Condition {
    Compare(Comparator, Operand, Operand),
    /// `a BETWEEN low AND high`
    Between(Operand, Operand, Operand),
    /// `a IN (b, c, ...)`
    In(Operand, Vec<Operand>),
    AttributeExists(Path),
    AttributeNotExists(Path),
    AttributeType(Path, ValueType),
    BeginsWith(Operand, Operand),
    Contains(Operand, Operand),
    Not(Box<Condition>),
    And(Box<Condition>, Box<Condition>),
    Or(Box<Condition>, Box<Condition>),
}

impl Condition {
    /// Every document path the condition reads, in order (for the caller's checks, such
    /// as a FilterExpression naming a key attribute).
    pub fn paths(&self) -> Vec<&Path> {
        let mut out = Vec::new();
        self.collect_paths(&mut out);
        out
    }

    fn collect_paths<'a>(&'a self, out: &mut Vec<&'a Path>) {
        match self {
            Condition::Compare(_, a, b)
            | Condition::BeginsWith(a, b)
            | Condition::Contains(a, b) => {
                a.collect_paths(out);
                b.collect_paths(out);
            }
            Condition::Between(a, lo, hi) => {
                for op in [a, lo, hi] {
                    op.collect_paths(out);
                }
            }
            Condition::In(a, list) => {
                a.collect_paths(out);
                list.iter().for_each(|op| op.collect_paths(out));
            }
            Condition::AttributeExists(p)
            | Condition::AttributeNotExists(p)
            | Condition::AttributeType(p, _) => out.push(p),
            Condition::Not(c) => c.collect_paths(out),
            Condition::And(a, b) | Condition::Or(a, b) => {
                a.collect_paths(out);
                b.collect_paths(out);
            }
        }
    }
}

impl Operand {
    fn collect_paths<'a>(&'a self, out: &mut Vec<&'a Path>) {
        match self {
            Operand::Path(p) => out.push(p),
            Operand::Value(_) => {}
            Operand::Size(op) => op.collect_paths(out),
        }
    }
}

/// An operand on the right of `SET path = ...`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum UpdateOperand {
    Path(Path),
    Value(AttributeValue),
    /// `if_not_exists(path, fallback)`
    IfNotExists(Path, Box<UpdateOperand>),
    /// `list_append(a, b)`
    ListAppend(Box<UpdateOperand>, Box<UpdateOperand>),
}

/// The right-hand side of a SET action.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum SetValue {
    Operand(UpdateOperand),
    Plus(UpdateOperand, UpdateOperand),
    Minus(UpdateOperand, UpdateOperand),
}

/// One action of an UpdateExpression.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum UpdateAction {
    Set(Path, SetValue),
    Remove(Path),
    /// Number addition or set union; the value is a number or a set.
    Add(Path, AttributeValue),
    /// Set difference; the value is a set.
    Delete(Path, AttributeValue),
}

impl UpdateAction {
    pub fn path(&self) -> &Path {
        match self {
            UpdateAction::Set(p, _)
            | UpdateAction::Remove(p)
            | UpdateAction::Add(p, _)
            | UpdateAction::Delete(p, _) => p,
        }
    }
}

/// A parsed UpdateExpression: its actions in the order written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UpdateExpr {
    pub actions: Vec<UpdateAction>,
}

/// A condition on one key attribute in a KeyConditionExpression.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum SortKeyCondition {
    Eq(AttributeValue),
    Lt(AttributeValue),
    Le(AttributeValue),
    Gt(AttributeValue),
    Ge(AttributeValue),
    Between(AttributeValue, AttributeValue),
    BeginsWith(AttributeValue),
}

/// A parsed KeyConditionExpression, before it is matched to the key schema: one or two
/// conditions, each on a distinct top-level attribute, in the order written. Use
/// [`KeyCondition::for_schema`] to pick out the partition and sort key conditions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KeyCondition {
    pub conditions: Vec<(String, SortKeyCondition)>,
}
