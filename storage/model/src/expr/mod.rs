//! DynamoDB's expression language: condition, filter, key-condition, update and
//! projection expressions. Parsing validates them with DynamoDB's messages and resolves
//! `#names` / `:values`; the resulting trees (serde data) evaluate or apply
//! deterministically.
//!
//! ```text
//!   parser         Parser / ExprInput / ExprKind: the public entry point, unused-name checks
//!   lexer          text -> tokens; syntax-error text
//!   grammar        tokens -> raw syntax tree (syntax.rs)
//!   resolve*       raw tree -> resolved tree (ast.rs) with validation; errors.rs ranks errors
//!   reserved       the reserved words
//!   limits         DynamoDB's limits on expressions (length, operators, nesting)
//!   keycond        KeyConditionExpression's restricted form and key-schema matching
//!   eval, compare  Condition::evaluate and DynamoDB's value comparisons
//!   docpath        following document paths
//!   update         UpdateExpr::apply
//!   project        ProjectionExpression semantics
//!   render         resolved trees back to text (with placeholders) and trusted re-parsing
//! ```
//!
//! Typical use, per request:
//!
//! ```text
//! let mut p = Parser::new(ExprInput { names: Some(&names), values: Some(&values) });
//! let cond = p.condition(text, ExprKind::Condition)?;
//! let update = p.update(update_text)?;
//! p.finish()?; // unused names / values
//! ```

mod ast;
mod compare;
mod docpath;
mod errors;
mod eval;
mod grammar;
mod keycond;
mod lexer;
pub mod limits;
mod parser;
mod project;
mod render;
mod reserved;
mod resolve;
mod resolve_cond;
mod resolve_update;
mod syntax;
mod update;

#[cfg(test)]
mod tests_eval;
#[cfg(test)]
mod tests_limits;
#[cfg(test)]
mod tests_parse;
#[cfg(test)]
mod tests_render;
#[cfg(test)]
mod tests_update;
#[cfg(test)]
mod tests_util;

pub use ast::{
    Comparator, Condition, KeyCondition, Operand, Path, PathElem, SetValue, SortKeyCondition,
    UpdateAction, UpdateExpr, UpdateOperand,
};
pub use compare::{compare_values, values_equal};
pub use docpath::get as get_path;
pub use parser::{check_placeholder, ExprInput, ExprKind, Parser};
pub use project::project;
pub use render::{
    condition_from_text, render_condition, render_update, update_from_text, ExpressionText,
};
pub use reserved::is_reserved;
