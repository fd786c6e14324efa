//! DynamoDB's limits on expressions ("Expression parameters" in its quotas), with its
//! messages. They bound the work a request can cause: the length is checked before the
//! text is read, the operator count and nesting while it is parsed, so that no tree
//! deeper than they allow is ever built, resolved, evaluated or dropped.

use super::parser::ExprKind;

/// Longest expression text, in bytes.
pub const MAX_EXPRESSION_BYTES: usize = 4 * 1024;

/// Most operators in one expression: comparisons, `BETWEEN`, `IN` (one, whatever its
/// operands), `AND`, `OR`, `NOT`; `+` and `-` in updates. Function calls and the `=` of
/// `SET` do not count, as in DynamoDB.
pub const MAX_OPERATORS: usize = 300;

/// Deepest nesting of parentheses, `NOT`s and function calls the grammar follows.
/// DynamoDB documents no such limit. Every level of a meaningful nesting needs an
/// operator, so within [`MAX_OPERATORS`] a condition nested deeper has redundant
/// parentheses (DynamoDB's error for it); updates may nest functions and parentheses
/// this deep, which no real expression does (the 4 KB hold 290 `list_append`s). The
/// bound keeps every recursion over the trees well inside a thread's stack (see the
/// `worst_case_fits_a_small_stack` test).
pub const MAX_NESTING: usize = 2 * MAX_OPERATORS + 2;

/// Longest document path in an expression, in steps (DynamoDB's 32 levels of nesting).
pub const MAX_PATH_DEPTH: usize = 32;

/// Longest `#name` or `:value` placeholder, in bytes.
pub const MAX_PLACEHOLDER_BYTES: usize = 255;

/// Most bytes of ExpressionAttributeNames and ExpressionAttributeValues together
/// (placeholders, names and values).
pub const MAX_SUBSTITUTION_BYTES: usize = 2 * 1024 * 1024;

/// The message for an expression longer than [`MAX_EXPRESSION_BYTES`]: DynamoDB gives
/// the size for conditions and filters only.
pub(crate) fn size_exceeded(kind: ExprKind, size: usize) -> String {
    let base = "Expression size has exceeded the maximum allowed size;";
    match kind {
        ExprKind::Condition | ExprKind::Filter => format!("{base} expression size: {size}"),
        ExprKind::KeyCondition | ExprKind::Update | ExprKind::Projection => base.to_owned(),
    }
}

/// The message for an expression with more than [`MAX_OPERATORS`] operators.
pub(crate) fn too_many_operators(count: usize) -> String {
    format!("The expression contains too many operators; operator count: {count}")
}

/// DynamoDB's message for `((x))`; in conditions, the only reason to nest deeper than
/// [`MAX_NESTING`].
pub(crate) const REDUNDANT_PARENTHESES: &str = "The expression has redundant parentheses;";

/// The message for a document path longer than [`MAX_PATH_DEPTH`].
pub(crate) fn path_too_deep(levels: usize) -> String {
    format!("The document path has too many nesting levels; nesting levels: {levels}")
}

/// The message for an update expression nested deeper than [`MAX_NESTING`].
pub(crate) fn nested_too_deeply() -> String {
    format!(
        "The expression is nested too deeply; nesting levels: {}, maximum: {MAX_NESTING}",
        MAX_NESTING + 1
    )
}
