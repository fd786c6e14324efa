//! Rendering resolved trees back to DynamoDB expression text, and reading that text back.
//!
//! A write command's condition and update travel between processes (and sit in raft
//! logs) as DynamoDB expression text, whose meaning is DynamoDB's own stable contract,
//! rather than as a Rust tree. [`render_condition`] and [`render_update`] write a tree
//! as text with every attribute name a `#n` placeholder (names may hold any character
//! or be reserved words) and every constant a `:n` placeholder; list indexes stay
//! `[3]`; parentheses appear only where precedence needs them (DynamoDB refuses
//! redundant ones). [`condition_from_text`] and [`update_from_text`] parse the text back
//! with [`Parser::trusted`]: every limit but the text length applies, and unused names or
//! values are not an error.
//!
//! Trees may be as deep as the limits allow (hundreds of levels), so rendering walks
//! them with an explicit stack instead of recursing.

use std::collections::BTreeMap;

use super::ast::{
    Condition, Operand, Path, PathElem, SetValue, UpdateAction, UpdateExpr, UpdateOperand,
};
use super::parser::{ExprInput, ExprKind, Parser};
use crate::error::Result;
use crate::value::{AttributeValue, ValueType};

/// An expression as DynamoDB takes it: the text and its ExpressionAttributeNames
/// (`#n` -> attribute name) and ExpressionAttributeValues (`:n` -> value).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ExpressionText {
    pub text: String,
    pub names: BTreeMap<String, String>,
    pub values: BTreeMap<String, AttributeValue>,
}

impl ExpressionText {
    fn input(&self) -> ExprInput<'_> {
        ExprInput {
            names: Some(&self.names),
            values: Some(&self.values),
        }
    }
}

/// A condition as text that parses back to the same tree.
pub fn render_condition(c: &Condition) -> ExpressionText {
    let mut r = Renderer::default();
    r.run(vec![Step::Cond(c)]);
    r.out
}

/// An update as text that parses back to the same tree. Actions are written in their
/// order, grouped in sections (`SET`, `REMOVE`, `ADD`, `DELETE`) in the order each kind
/// first appears; a parsed update is already grouped so, and the order of actions of
/// different kinds does not change what the update does. No actions: empty text.
pub fn render_update(u: &UpdateExpr) -> ExpressionText {
    let mut r = Renderer::default();
    let mut sections: Vec<(&'static str, Vec<&UpdateAction>)> = Vec::new();
    for action in &u.actions {
        let keyword = section_keyword(action);
        match sections.iter_mut().find(|(k, _)| *k == keyword) {
            Some((_, list)) => list.push(action),
            None => sections.push((keyword, vec![action])),
        }
    }
    for (i, (keyword, actions)) in sections.iter().enumerate() {
        if i > 0 {
            r.out.text.push(' ');
        }
        r.out.text.push_str(keyword);
        r.out.text.push(' ');
        for (j, action) in actions.iter().enumerate() {
            if j > 0 {
                r.out.text.push_str(", ");
            }
            r.action(action);
        }
    }
    r.out
}

/// Parses a rendered condition back (see [`Parser::trusted`]).
pub fn condition_from_text(e: &ExpressionText) -> Result<Condition> {
    Parser::trusted(e.input()).condition(&e.text, ExprKind::Condition)
}

/// Parses a rendered update back (see [`Parser::trusted`]); empty text is the update
/// with no actions, as [`render_update`] writes it.
pub fn update_from_text(e: &ExpressionText) -> Result<UpdateExpr> {
    if e.text.is_empty() {
        return Ok(UpdateExpr {
            actions: Vec::new(),
        });
    }
    Parser::trusted(e.input()).update(&e.text)
}

fn section_keyword(action: &UpdateAction) -> &'static str {
    match action {
        UpdateAction::Set(..) => "SET",
        UpdateAction::Remove(_) => "REMOVE",
        UpdateAction::Add(..) => "ADD",
        UpdateAction::Delete(..) => "DELETE",
    }
}

/// How tightly a condition binds: a child binding looser than its place requires is
/// parenthesised.
fn precedence(c: &Condition) -> u8 {
    match c {
        Condition::Or(..) => OR,
        Condition::And(..) => AND,
        Condition::Not(_) => NOT,
        _ => LEAF,
    }
}

const OR: u8 = 1;
const AND: u8 = 2;
const NOT: u8 = 3;
const LEAF: u8 = 4;

/// One piece of text still to write.
enum Step<'t> {
    Text(&'static str),
    Cond(&'t Condition),
    Operand(&'t Operand),
    UpdateOperand(&'t UpdateOperand),
    Path(&'t Path),
    Value(&'t AttributeValue),
    /// `attribute_type`'s second operand: the type's descriptor as a string value.
    TypeName(ValueType),
}

#[derive(Default)]
struct Renderer<'t> {
    out: ExpressionText,
    /// Placeholder already given to each attribute name.
    placeholders: BTreeMap<&'t str, String>,
}

impl<'t> Renderer<'t> {
    /// Writes `steps` (the first is written first), and everything they expand to.
    fn run(&mut self, mut steps: Vec<Step<'t>>) {
        steps.reverse();
        // Last step on top: each expansion is pushed last-first.
        while let Some(step) = steps.pop() {
            match step {
                Step::Text(s) => self.out.text.push_str(s),
                Step::Cond(c) => expand_condition(c, &mut steps),
                Step::Operand(o) => match o {
                    Operand::Path(p) => self.path(p),
                    Operand::Value(v) => self.value(v.clone()),
                    Operand::Size(inner) => {
                        steps.extend([Step::Text(")"), Step::Operand(inner), Step::Text("size(")])
                    }
                },
                Step::UpdateOperand(o) => match o {
                    UpdateOperand::Path(p) => self.path(p),
                    UpdateOperand::Value(v) => self.value(v.clone()),
                    UpdateOperand::IfNotExists(p, fallback) => steps.extend([
                        Step::Text(")"),
                        Step::UpdateOperand(fallback),
                        Step::Text(", "),
                        Step::Path(p),
                        Step::Text("if_not_exists("),
                    ]),
                    UpdateOperand::ListAppend(a, b) => steps.extend([
                        Step::Text(")"),
                        Step::UpdateOperand(b),
                        Step::Text(", "),
                        Step::UpdateOperand(a),
                        Step::Text("list_append("),
                    ]),
                },
                Step::Path(p) => self.path(p),
                Step::Value(v) => self.value(v.clone()),
                Step::TypeName(t) => self.value(AttributeValue::S(t.descriptor().to_owned())),
            }
        }
    }

    fn action(&mut self, action: &'t UpdateAction) {
        let steps = match action {
            UpdateAction::Set(p, value) => {
                let mut steps = vec![Step::Path(p), Step::Text(" = ")];
                match value {
                    SetValue::Operand(o) => steps.push(Step::UpdateOperand(o)),
                    SetValue::Plus(a, b) | SetValue::Minus(a, b) => {
                        let sign = match value {
                            SetValue::Plus(..) => " + ",
                            _ => " - ",
                        };
                        steps.extend([
                            Step::UpdateOperand(a),
                            Step::Text(sign),
                            Step::UpdateOperand(b),
                        ]);
                    }
                }
                steps
            }
            UpdateAction::Remove(p) => vec![Step::Path(p)],
            UpdateAction::Add(p, v) | UpdateAction::Delete(p, v) => {
                vec![Step::Path(p), Step::Text(" "), Step::Value(v)]
            }
        };
        self.run(steps);
    }

    /// `#0.#1[3]`: every attribute name a placeholder, indexes as they are.
    fn path(&mut self, path: &'t Path) {
        for (i, elem) in path.0.iter().enumerate() {
            match elem {
                PathElem::Attr(name) => {
                    if i > 0 {
                        self.out.text.push('.');
                    }
                    let next = self.placeholders.len();
                    let placeholder = self
                        .placeholders
                        .entry(name.as_str())
                        .or_insert_with(|| format!("#{next}"));
                    self.out.text.push_str(placeholder);
                    self.out.names.insert(placeholder.clone(), name.clone());
                }
                PathElem::Index(n) => {
                    self.out.text.push('[');
                    self.out.text.push_str(&n.to_string());
                    self.out.text.push(']');
                }
            }
        }
    }

    /// A new `:n` placeholder for the constant (constants are not shared).
    fn value(&mut self, v: AttributeValue) {
        let placeholder = format!(":{}", self.out.values.len());
        self.out.text.push_str(&placeholder);
        self.out.values.insert(placeholder, v);
    }
}

/// Pushes (last-first) what one condition node writes.
fn expand_condition<'t>(c: &'t Condition, steps: &mut Vec<Step<'t>>) {
    match c {
        Condition::Compare(cmp, a, b) => steps.extend([
            Step::Operand(b),
            Step::Text(" "),
            Step::Text(cmp.symbol()),
            Step::Text(" "),
            Step::Operand(a),
        ]),
        Condition::Between(a, lo, hi) => steps.extend([
            Step::Operand(hi),
            Step::Text(" AND "),
            Step::Operand(lo),
            Step::Text(" BETWEEN "),
            Step::Operand(a),
        ]),
        Condition::In(a, list) => {
            steps.push(Step::Text(")"));
            for (i, op) in list.iter().enumerate().rev() {
                steps.push(Step::Operand(op));
                if i > 0 {
                    steps.push(Step::Text(", "));
                }
            }
            steps.extend([Step::Text(" IN ("), Step::Operand(a)]);
        }
        Condition::AttributeExists(p) => function(steps, "attribute_exists(", p, None),
        Condition::AttributeNotExists(p) => function(steps, "attribute_not_exists(", p, None),
        Condition::AttributeType(p, t) => {
            function(steps, "attribute_type(", p, Some(Step::TypeName(*t)))
        }
        Condition::BeginsWith(a, b) | Condition::Contains(a, b) => {
            let name = match c {
                Condition::BeginsWith(..) => "begins_with(",
                _ => "contains(",
            };
            steps.extend([
                Step::Text(")"),
                Step::Operand(b),
                Step::Text(", "),
                Step::Operand(a),
                Step::Text(name),
            ]);
        }
        Condition::Not(inner) => {
            child(steps, inner, NOT);
            steps.push(Step::Text("NOT "));
        }
        // Both chains are read left to right, so a right operand of the same operator
        // needs parentheses and a left one does not.
        Condition::And(a, b) => {
            child(steps, b, NOT);
            steps.push(Step::Text(" AND "));
            child(steps, a, AND);
        }
        Condition::Or(a, b) => {
            child(steps, b, AND);
            steps.push(Step::Text(" OR "));
            child(steps, a, OR);
        }
    }
}

/// Pushes (last-first) `name` `path` [`, ` second] `)`.
fn function<'t>(
    steps: &mut Vec<Step<'t>>,
    name: &'static str,
    path: &'t Path,
    second: Option<Step<'t>>,
) {
    steps.push(Step::Text(")"));
    if let Some(second) = second {
        steps.extend([second, Step::Text(", ")]);
    }
    steps.extend([Step::Path(path), Step::Text(name)]);
}

/// Pushes (last-first) a sub-condition, parenthesised when it binds looser than `min`.
fn child<'t>(steps: &mut Vec<Step<'t>>, c: &'t Condition, min: u8) {
    if precedence(c) >= min {
        steps.push(Step::Cond(c));
    } else {
        steps.extend([Step::Text(")"), Step::Cond(c), Step::Text("(")]);
    }
}
