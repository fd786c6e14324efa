//! DynamoDB's limits on expressions ("Expression parameters" in its quotas), with its
//! messages. They bound the work a request can cause: the length is checked before the
//! text is read, the operator count and nesting while it is parsed, so that no tree
//! deeper than they allow is ever built, resolved, evaluated or dropped.

use super::parser::ExprKind;

/// Longest expression text, in bytes.
pub const MAX_EXPRESSION_BYTES: usize = 4 * 1024;

/// Most operators and functions in one expression: comparisons, `BETWEEN`, `IN` (one,
/// whatever its operands), `AND`, `OR`, `NOT`, every function call; `+` and `-` in
/// updates (the `=` of `SET` does not count), as DynamoDB counts them.
pub const MAX_OPERATORS: usize = 300;

/// Deepest nesting of parentheses, `NOT`s and function calls the grammar follows.
/// DynamoDB documents no such limit, but every level of a meaningful nesting needs an
/// operator or a function, so within [`MAX_OPERATORS`] anything nested deeper has
/// redundant parentheses, which DynamoDB refuses in every expression. The bound keeps
/// every recursion over the trees well inside a thread's stack (see the
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

/// DynamoDB's message for `((x))`, the only way to nest deeper than [`MAX_NESTING`].
pub(crate) const REDUNDANT_PARENTHESES: &str = "The expression has redundant parentheses;";

/// The message for a document path longer than [`MAX_PATH_DEPTH`].
pub(crate) fn path_too_deep(levels: usize) -> String {
    format!("The document path has too many nesting levels; nesting levels: {levels}")
}
