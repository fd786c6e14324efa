//! The raw syntax tree the grammar produces: names and values still unresolved, every
//! function call still generic. `resolve*.rs` validate it into the trees of `ast.rs`.

/// One step of a path as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum RawElem {
    /// A bare identifier (subject to the reserved-word check).
    Ident(String),
    /// A `#name` placeholder.
    Name(String),
    Index(usize),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RawPath(pub Vec<RawElem>);

/// An operand as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum RawOperand {
    Path(RawPath),
    /// A `:value` placeholder.
    Value(String),
    /// `name(args)`: any function, checked later.
    Call(String, Vec<RawOperand>),
    /// `( operand )`
    Paren(Box<RawOperand>),
}

impl RawOperand {
    /// The operand without its parentheses, and whether there were two or more pairs.
    pub fn unwrap_parens(&self) -> (&RawOperand, bool) {
        let mut op = self;
        let mut depth = 0;
        while let RawOperand::Paren(inner) = op {
            op = inner;
            depth += 1;
        }
        (op, depth >= 2)
    }
}

/// A condition as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum RawCond {
    /// Comparator symbol and operands.
    Compare(String, RawOperand, RawOperand),
    Between(RawOperand, RawOperand, RawOperand),
    In(RawOperand, Vec<RawOperand>),
    /// A function call used as a condition (or a parenthesised one).
    Call(RawOperand),
    Not(Box<RawCond>),
    And(Box<RawCond>, Box<RawCond>),
    Or(Box<RawCond>, Box<RawCond>),
    Paren(Box<RawCond>),
}

/// The right of `SET path = ...` as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum RawSetValue {
    Operand(RawOperand),
    /// `a + b` or `a - b` (the char is `+` or `-`).
    Arith(char, RawOperand, RawOperand),
    /// `( a + b )`, or parentheses around such a group.
    Paren(Box<RawSetValue>),
}

/// One update action as written; `section` is SET, REMOVE, ADD or DELETE.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum RawAction {
    Set(RawPath, RawSetValue),
    Remove(RawPath),
    Add(RawPath, String),
    Delete(RawPath, String),
}

/// An update expression: its sections in order, each with its actions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RawUpdate {
    pub sections: Vec<(&'static str, Vec<RawAction>)>,
}
