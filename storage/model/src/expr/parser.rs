//! The public entry point: one [`Parser`] per request parses each of its expressions and
//! tracks which ExpressionAttributeNames / Values were used across all of them.

use std::collections::{BTreeMap, BTreeSet};

use super::ast::{Condition, KeyCondition, Path, UpdateExpr};
use super::errors::Mode;
use super::grammar::{Grammar, CONDITION_KEYWORDS, NO_KEYWORDS, UPDATE_KEYWORDS};
use super::keycond::key_condition;
use super::limits::{size_exceeded, MAX_EXPRESSION_BYTES, MAX_PLACEHOLDER_BYTES};
use super::resolve::Resolver;
use crate::error::{ModelError, Result};
use crate::value::AttributeValue;

/// What a request supplies besides the expression texts.
#[derive(Debug, Clone, Copy, Default)]
pub struct ExprInput<'a> {
    /// ExpressionAttributeNames (`#n` -> name).
    pub names: Option<&'a BTreeMap<String, String>>,
    /// ExpressionAttributeValues (`:v` -> value).
    pub values: Option<&'a BTreeMap<String, AttributeValue>>,
}

impl ExprInput<'_> {
    /// DynamoDB's checks of the maps themselves: not empty, keys `#[A-Za-z0-9_]+` and
    /// `:[A-Za-z0-9_]+`. (Whether they may be given at all, without any expression, is
    /// the caller's check.)
    pub fn validate(&self) -> Result<()> {
        check_keys(
            "ExpressionAttributeNames",
            '#',
            self.names.map(|m| m.keys()),
        )?;
        check_keys(
            "ExpressionAttributeValues",
            ':',
            self.values.map(|m| m.keys()),
        )
    }
}

fn check_keys<'k>(
    what: &str,
    sigil: char,
    keys: Option<impl ExactSizeIterator<Item = &'k String>>,
) -> Result<()> {
    let Some(keys) = keys else { return Ok(()) };
    if keys.len() == 0 {
        return Err(ModelError::validation(format!("{what} must not be empty")));
    }
    keys.into_iter()
        .try_for_each(|key| check_placeholder(what, sigil, key))
}

/// DynamoDB's checks of one key of ExpressionAttributeNames (`what`, sigil `#`) or
/// ExpressionAttributeValues (`:`): at most [`MAX_PLACEHOLDER_BYTES`], checked first,
/// then `#[A-Za-z0-9_]+` / `:[A-Za-z0-9_]+`.
pub fn check_placeholder(what: &str, sigil: char, key: &str) -> Result<()> {
    if key.len() > MAX_PLACEHOLDER_BYTES {
        // DynamoDB gives the size for names only.
        let size = match sigil {
            '#' => format!(" size of key: {}", key.len()),
            _ => String::new(),
        };
        return Err(ModelError::validation(format!(
            "{what} contains invalid key: The expression attribute map contains a key that is too long;{size}"
        )));
    }
    let ok = key.strip_prefix(sigil).is_some_and(|rest| {
        !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
    });
    if !ok {
        return Err(ModelError::validation(format!(
            "{what} contains invalid key: Syntax error; key: \"{key}\""
        )));
    }
    Ok(())
}

/// Which request parameter an expression came from; names it in error messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExprKind {
    Condition,
    Filter,
    KeyCondition,
    Update,
    Projection,
}

impl ExprKind {
    /// The request parameter's name, e.g. `ConditionExpression`.
    pub fn param(self) -> &'static str {
        match self {
            ExprKind::Condition => "ConditionExpression",
            ExprKind::Filter => "FilterExpression",
            ExprKind::KeyCondition => "KeyConditionExpression",
            ExprKind::Update => "UpdateExpression",
            ExprKind::Projection => "ProjectionExpression",
        }
    }

    fn error(self, msg: String) -> ModelError {
        ModelError::validation(format!("Invalid {}: {msg}", self.param()))
    }
}

/// Parses a request's expressions. Call [`Parser::finish`] after the last one.
#[derive(Debug)]
pub struct Parser<'a> {
    input: ExprInput<'a>,
    used_names: BTreeSet<String>,
    used_values: BTreeSet<String>,
    /// The text was rendered by Rotor from a tree already parsed (see [`Parser::trusted`]).
    trusted: bool,
}

impl<'a> Parser<'a> {
    pub fn new(input: ExprInput<'a>) -> Self {
        Parser {
            input,
            used_names: BTreeSet::new(),
            used_values: BTreeSet::new(),
            trusted: false,
        }
    }

    /// A parser of text Rotor rendered from a tree it parsed before (`render.rs`): the
    /// text may be longer than [`MAX_EXPRESSION_BYTES`] (placeholders replace the names
    /// and constants the client wrote); every other check applies. Its callers skip
    /// [`Parser::finish`].
    pub(crate) fn trusted(input: ExprInput<'a>) -> Self {
        Parser {
            trusted: true,
            ..Parser::new(input)
        }
    }

    fn resolver(&mut self, mode: Mode) -> Resolver<'_> {
        Resolver::new(
            self.input.names,
            self.input.values,
            &mut self.used_names,
            &mut self.used_values,
            mode,
        )
    }

    /// Resolves with `f`, turning the collected errors into `kind`'s message.
    fn resolve<T>(
        &mut self,
        kind: ExprKind,
        mode: Mode,
        f: impl FnOnce(&mut Resolver<'_>) -> Option<T>,
    ) -> Result<T> {
        let mut r = self.resolver(mode);
        let out = f(&mut r);
        r.errs.into_result().map_err(|m| kind.error(m))?;
        // Without a recorded error every part resolved, so `out` is set.
        out.ok_or_else(|| kind.error("Syntax error; token: \"<EOF>\", near: \"\"".to_owned()))
    }

    /// The checks on the text itself, before it is read: not empty, within
    /// [`MAX_EXPRESSION_BYTES`] (unless trusted).
    fn check_text(&self, text: &str, kind: ExprKind) -> Result<()> {
        if text.is_empty() {
            return Err(kind.error("The expression can not be empty;".to_owned()));
        }
        if text.len() > MAX_EXPRESSION_BYTES && !self.trusted {
            return Err(kind.error(size_exceeded(kind, text.len())));
        }
        Ok(())
    }

    /// A ConditionExpression or FilterExpression (`which` names it in messages).
    pub fn condition(&mut self, text: &str, which: ExprKind) -> Result<Condition> {
        self.check_text(text, which)?;
        let raw = Grammar::new(text, CONDITION_KEYWORDS)
            .condition()
            .map_err(|m| which.error(m))?;
        self.resolve(which, Mode::Condition, |r| r.condition(&raw))
    }

    /// An UpdateExpression.
    pub fn update(&mut self, text: &str) -> Result<UpdateExpr> {
        let kind = ExprKind::Update;
        self.check_text(text, kind)?;
        let raw = Grammar::new(text, UPDATE_KEYWORDS)
            .update()
            .map_err(|m| kind.error(m))?;
        self.resolve(kind, Mode::Update, |r| r.update(&raw))
    }

    /// A ProjectionExpression: the paths, in order.
    pub fn projection(&mut self, text: &str) -> Result<Vec<Path>> {
        let kind = ExprKind::Projection;
        self.check_text(text, kind)?;
        let raw = Grammar::new(text, NO_KEYWORDS)
            .projection()
            .map_err(|m| kind.error(m))?;
        self.resolve(kind, Mode::Projection, |r| {
            let paths: Vec<Option<Path>> = raw.iter().map(|p| r.path(p)).collect();
            let paths: Option<Vec<Path>> = paths.into_iter().collect();
            if let Some(paths) = &paths {
                r.check_overlaps(&paths.iter().collect::<Vec<_>>());
            }
            paths
        })
    }

    /// A KeyConditionExpression: its conditions by attribute name (see [`KeyCondition`]).
    pub fn key_condition(&mut self, text: &str) -> Result<KeyCondition> {
        let cond = self.condition(text, ExprKind::KeyCondition)?;
        key_condition(&cond).map_err(ModelError::validation)
    }

    /// DynamoDB's final checks: every name and value supplied was used by some
    /// expression of the request.
    pub fn finish(self) -> Result<()> {
        let unused = |what: &str, keys: Vec<&String>| {
            let keys: Vec<&str> = keys.into_iter().map(String::as_str).collect();
            ModelError::validation(format!(
                "Value provided in {what} unused in expressions: keys: {{{}}}",
                keys.join(", ")
            ))
        };
        if let Some(names) = self.input.names {
            let left: Vec<&String> = names
                .keys()
                .filter(|k| !self.used_names.contains(*k))
                .collect();
            if !left.is_empty() {
                return Err(unused("ExpressionAttributeNames", left));
            }
        }
        if let Some(values) = self.input.values {
            let left: Vec<&String> = values
                .keys()
                .filter(|k| !self.used_values.contains(*k))
                .collect();
            if !left.is_empty() {
                return Err(unused("ExpressionAttributeValues", left));
            }
        }
        Ok(())
    }
}
