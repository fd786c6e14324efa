//! Resolution shared by every expression kind: substituting `#names` and `:values` (and
//! noting which were used), the reserved-word check, and the overlap check on paths.

use std::collections::{BTreeMap, BTreeSet};

use super::ast::{Path, PathElem};
use super::errors::{Cat, Errors, Mode};
use super::reserved::is_reserved;
use super::syntax::{RawElem, RawPath};
use crate::value::{AttributeValue, ValueType};

/// Resolves one expression's raw tree, collecting its errors.
pub(crate) struct Resolver<'p> {
    names: Option<&'p BTreeMap<String, String>>,
    values: Option<&'p BTreeMap<String, AttributeValue>>,
    used_names: &'p mut BTreeSet<String>,
    used_values: &'p mut BTreeSet<String>,
    pub errs: Errors,
}

impl<'p> Resolver<'p> {
    pub fn new(
        names: Option<&'p BTreeMap<String, String>>,
        values: Option<&'p BTreeMap<String, AttributeValue>>,
        used_names: &'p mut BTreeSet<String>,
        used_values: &'p mut BTreeSet<String>,
        mode: Mode,
    ) -> Self {
        Resolver {
            names,
            values,
            used_names,
            used_values,
            errs: Errors::new(mode),
        }
    }

    /// Substitutes the path's `#names`; checks its bare identifiers against the reserved
    /// words. `None` (with an error recorded) when a name is undefined.
    pub fn path(&mut self, raw: &RawPath) -> Option<Path> {
        let mut out = Vec::with_capacity(raw.0.len());
        let mut ok = true;
        for e in &raw.0 {
            match e {
                RawElem::Ident(s) => {
                    if is_reserved(s) {
                        self.errs.set(
                            Cat::Reserved,
                            format!("Attribute name is a reserved keyword; reserved keyword: {s}"),
                        );
                    }
                    out.push(PathElem::Attr(s.clone()));
                }
                RawElem::Name(n) => match self.name(n) {
                    Some(s) => out.push(PathElem::Attr(s)),
                    None => ok = false,
                },
                RawElem::Index(i) => out.push(PathElem::Index(*i)),
            }
        }
        ok.then_some(Path(out))
    }

    fn name(&mut self, n: &str) -> Option<String> {
        match self.names.and_then(|m| m.get(n)) {
            Some(s) => {
                self.used_names.insert(n.to_owned());
                Some(s.clone())
            }
            None => {
                self.errs.set(
                    Cat::AttrName,
                    format!("An expression attribute name used in the document path is not defined; attribute name: {n}"),
                );
                None
            }
        }
    }

    /// The constant behind a `:value`.
    pub fn value(&mut self, v: &str) -> Option<AttributeValue> {
        match self.values.and_then(|m| m.get(v)) {
            Some(val) => {
                self.used_values.insert(v.to_owned());
                Some(val.clone())
            }
            None => {
                self.errs.set(
                    Cat::AttrVal,
                    format!("An expression attribute value used in expression is not defined; attribute value: {v}"),
                );
                None
            }
        }
    }

    /// Rejects paths that overlap (one is a prefix of the other) or conflict (one has a
    /// map key where the other has a list index), comparing each with the earlier ones.
    ///
    /// In sorted order, if any two paths overlap or conflict then two neighbours do
    /// (every path between a prefix and its extension extends the prefix too; map keys
    /// sort before list indexes), so the common case is O(n log n). Only an expression
    /// that has an error is compared pairwise, to name the pair DynamoDB names; it is at
    /// most [`super::limits::MAX_EXPRESSION_BYTES`] long.
    pub fn check_overlaps(&mut self, paths: &[&Path]) {
        let mut sorted = paths.to_vec();
        sorted.sort_unstable();
        if sorted.windows(2).all(|w| overlap(w[0], w[1]).is_none()) {
            return;
        }
        for (i, later) in paths.iter().enumerate() {
            for earlier in &paths[..i] {
                if let Some((cat, what)) = overlap(earlier, later) {
                    self.errs.set(
                        cat,
                        format!("Two document paths {what} with each other; must remove or rewrite one of these paths; path one: {earlier}, path two: {later}"),
                    );
                }
            }
        }
    }
}

fn overlap(a: &Path, b: &Path) -> Option<(Cat, &'static str)> {
    for (x, y) in a.0.iter().zip(&b.0) {
        match (x, y) {
            (PathElem::Attr(p), PathElem::Attr(q)) if p != q => return None,
            (PathElem::Index(p), PathElem::Index(q)) if p != q => return None,
            (PathElem::Attr(_), PathElem::Index(_)) | (PathElem::Index(_), PathElem::Attr(_)) => {
                return Some((Cat::Conflict, "conflict"))
            }
            _ => {}
        }
    }
    Some((Cat::Overlap, "overlap"))
}

/// DynamoDB's long type names, used by update operators and comparisons.
pub(crate) fn long_type_name(t: ValueType) -> &'static str {
    match t {
        ValueType::S => "STRING",
        ValueType::N => "NUMBER",
        ValueType::B => "BINARY",
        ValueType::Bool => "BOOLEAN",
        ValueType::Null => "NULL",
        ValueType::M => "MAP",
        ValueType::L => "LIST",
        ValueType::Ss => "STRING_SET",
        ValueType::Ns => "NUMBER_SET",
        ValueType::Bs => "BINARY_SET",
    }
}

/// DynamoDB's rendering of a constant in messages: `{N:5}`, `{S:abc}`.
pub(crate) fn show_value(v: &AttributeValue) -> String {
    use base64::Engine as _;
    let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
    let body = match v {
        AttributeValue::S(s) => s.clone(),
        AttributeValue::N(n) => n.to_string(),
        AttributeValue::B(b) => b64(b),
        AttributeValue::Bool(b) => b.to_string(),
        AttributeValue::Null => "true".to_owned(),
        other => other.to_json().to_string(),
    };
    format!("{{{}:{body}}}", v.value_type().descriptor())
}
