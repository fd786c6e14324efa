//! The grammar: a recursive-descent parser from tokens to the raw syntax tree, reporting
//! the first token no rule accepts as DynamoDB does. Precedence, loosest first: OR, AND,
//! NOT, then comparisons / BETWEEN / IN / functions, with parentheses anywhere.
//!
//! Operators are counted and nesting is measured as the text is read, and parsing stops
//! at DynamoDB's limits (`limits.rs`): every recursion here and over the trees built is
//! bounded by [`MAX_NESTING`].

use super::lexer::{lex, syntax_error, TokKind, Token};
use super::limits::{
    path_too_deep, too_many_operators, MAX_NESTING, MAX_OPERATORS, MAX_PATH_DEPTH,
    REDUNDANT_PARENTHESES,
};
use super::syntax::{RawAction, RawCond, RawElem, RawOperand, RawPath, RawSetValue, RawUpdate};

/// Keywords of condition, filter and key-condition expressions.
pub(crate) const CONDITION_KEYWORDS: &[&str] = &["AND", "OR", "NOT", "BETWEEN", "IN"];
/// Keywords of update expressions.
pub(crate) const UPDATE_KEYWORDS: &[&str] = &["SET", "REMOVE", "ADD", "DELETE"];
/// Projection expressions have none.
pub(crate) const NO_KEYWORDS: &[&str] = &[];

/// A syntax error's text (without the `Invalid XExpression: ` prefix).
pub(crate) type PResult<T> = Result<T, String>;

/// A parsed piece of a condition: a condition, or an operand that may still turn out to
/// be the left side of a comparison (inside parentheses). Boxed, so that each level of
/// the recursion keeps only pointers on the stack.
enum Node {
    Cond(Box<RawCond>),
    Operand(Box<RawOperand>),
}

pub(crate) struct Grammar<'s> {
    src: &'s str,
    toks: Vec<Token>,
    pos: usize,
    keywords: &'static [&'static str],
    /// Parentheses, `NOT`s and calls open around the current token.
    nesting: usize,
    /// Operators and functions read so far.
    operators: usize,
}

impl<'s> Grammar<'s> {
    pub fn new(src: &'s str, keywords: &'static [&'static str]) -> Self {
        Grammar {
            src,
            toks: lex(src),
            pos: 0,
            keywords,
            nesting: 0,
            operators: 0,
        }
    }

    // ---- limits ----

    /// Counts one operator or function; fails past [`MAX_OPERATORS`].
    fn operator(&mut self) -> PResult<()> {
        self.operators += 1;
        if self.operators > MAX_OPERATORS {
            return Err(too_many_operators(self.operators));
        }
        Ok(())
    }

    /// Runs `f` one nesting level deeper; fails past [`MAX_NESTING`] (only redundant
    /// parentheses nest that deep within [`MAX_OPERATORS`]).
    fn nested<T>(&mut self, f: impl FnOnce(&mut Self) -> PResult<T>) -> PResult<T> {
        if self.nesting >= MAX_NESTING {
            return Err(REDUNDANT_PARENTHESES.to_owned());
        }
        self.nesting += 1;
        let out = f(self);
        self.nesting -= 1;
        out
    }

    // ---- token helpers ----

    fn peek(&self) -> Token {
        let last = self.toks.len().saturating_sub(1);
        self.toks[self.pos.min(last)]
    }

    fn peek_at(&self, ahead: usize) -> Option<Token> {
        self.toks.get(self.pos + ahead).copied()
    }

    fn text(&self, t: Token) -> &'s str {
        &self.src[t.start..t.end]
    }

    fn bump(&mut self) -> Token {
        let t = self.peek();
        if self.pos + 1 < self.toks.len() {
            self.pos += 1;
        }
        t
    }

    fn fail<T>(&self) -> PResult<T> {
        Err(syntax_error(self.src, &self.toks, self.pos))
    }

    fn is_sym(&self, s: &str) -> bool {
        let t = self.peek();
        t.kind == TokKind::Sym && self.text(t) == s
    }

    fn expect_sym(&mut self, s: &str) -> PResult<()> {
        if self.is_sym(s) {
            self.bump();
            Ok(())
        } else {
            self.fail()
        }
    }

    fn is_keyword(&self, t: Token) -> bool {
        t.kind == TokKind::Word
            && self
                .keywords
                .iter()
                .any(|k| k.eq_ignore_ascii_case(self.text(t)))
    }

    fn is_kw(&self, kw: &str) -> bool {
        let t = self.peek();
        self.is_keyword(t) && self.text(t).eq_ignore_ascii_case(kw)
    }

    fn expect_eof(&self) -> PResult<()> {
        if self.peek().kind == TokKind::Eof {
            Ok(())
        } else {
            self.fail()
        }
    }

    // ---- paths and operands ----

    fn path_name(&mut self) -> PResult<RawElem> {
        let t = self.peek();
        match t.kind {
            TokKind::Word if !self.is_keyword(t) => {
                self.bump();
                Ok(RawElem::Ident(self.text(t).to_owned()))
            }
            TokKind::Name => {
                self.bump();
                Ok(RawElem::Name(self.text(t).to_owned()))
            }
            _ => self.fail(),
        }
    }

    fn index(&mut self) -> PResult<RawElem> {
        let t = self.peek();
        if t.kind != TokKind::Number {
            return self.fail();
        }
        let Ok(n) = self.text(t).parse::<usize>() else {
            return self.fail();
        };
        self.bump();
        self.expect_sym("]")?;
        Ok(RawElem::Index(n))
    }

    /// `name ( . name | [ digits ] )*`
    pub fn path(&mut self) -> PResult<RawPath> {
        let mut elems = vec![self.path_name()?];
        loop {
            if elems.len() > MAX_PATH_DEPTH {
                return Err(path_too_deep(elems.len()));
            }
            if self.is_sym(".") {
                self.bump();
                elems.push(self.path_name()?);
            } else if self.is_sym("[") {
                self.bump();
                elems.push(self.index()?);
            } else {
                return Ok(RawPath(elems));
            }
        }
    }

    fn is_call_start(&self) -> bool {
        let t = self.peek();
        let next_is_paren = self
            .peek_at(1)
            .is_some_and(|n| n.kind == TokKind::Sym && self.text(n) == "(");
        t.kind == TokKind::Word && !self.is_keyword(t) && next_is_paren
    }

    /// `( operand ) | name ( args ) | :value | path`
    fn operand(&mut self) -> PResult<RawOperand> {
        if self.is_sym("(") {
            self.bump();
            let inner = self.nested(Self::operand)?;
            self.expect_sym(")")?;
            return Ok(RawOperand::Paren(Box::new(inner)));
        }
        if self.is_call_start() {
            return self.call();
        }
        let t = self.peek();
        if t.kind == TokKind::Value {
            self.bump();
            return Ok(RawOperand::Value(self.text(t).to_owned()));
        }
        Ok(RawOperand::Path(self.path()?))
    }

    fn call(&mut self) -> PResult<RawOperand> {
        let t = self.bump();
        let name = self.text(t).to_owned();
        self.operator()?;
        self.expect_sym("(")?;
        let args = self.nested(Self::operand_list)?;
        self.expect_sym(")")?;
        Ok(RawOperand::Call(name, args))
    }

    fn operand_list(&mut self) -> PResult<Vec<RawOperand>> {
        let mut args = vec![self.operand()?];
        while self.is_sym(",") {
            self.bump();
            args.push(self.operand()?);
        }
        Ok(args)
    }

    // ---- conditions ----

    /// A whole condition expression.
    pub fn condition(&mut self) -> PResult<RawCond> {
        let node = self.or(false)?;
        self.expect_eof()?;
        self.need_cond(node).map(|c| *c)
    }

    fn need_cond(&self, node: Node) -> PResult<Box<RawCond>> {
        match node {
            Node::Cond(c) => Ok(c),
            Node::Operand(o) if matches!(o.unwrap_parens().0, RawOperand::Call(..)) => {
                Ok(Box::new(RawCond::Call(*o)))
            }
            Node::Operand(_) => self.fail(),
        }
    }

    /// `group`: this is the first thing inside a `(`, so a lone operand followed by `)`
    /// is allowed (it is the left side of a comparison like `(a) = :v`).
    fn or(&mut self, group: bool) -> PResult<Node> {
        let mut left = self.and(group)?;
        while self.is_kw("OR") {
            let l = self.need_cond(left)?;
            self.bump();
            self.operator()?;
            let r = self.and(false)?;
            let r = self.need_cond(r)?;
            left = Node::Cond(Box::new(RawCond::Or(l, r)));
        }
        Ok(left)
    }

    fn and(&mut self, group: bool) -> PResult<Node> {
        let mut left = self.not(group)?;
        while self.is_kw("AND") {
            let l = self.need_cond(left)?;
            self.bump();
            self.operator()?;
            let r = self.not(false)?;
            let r = self.need_cond(r)?;
            left = Node::Cond(Box::new(RawCond::And(l, r)));
        }
        Ok(left)
    }

    fn not(&mut self, group: bool) -> PResult<Node> {
        if !self.is_kw("NOT") {
            return self.primary(group);
        }
        self.bump();
        self.operator()?;
        let inner = self.nested(|g| g.not(false))?;
        let inner = self.need_cond(inner)?;
        Ok(Node::Cond(Box::new(RawCond::Not(inner))))
    }

    fn primary(&mut self, group: bool) -> PResult<Node> {
        let left = if self.is_sym("(") {
            self.bump();
            let inner = self.nested(|g| g.or(true))?;
            self.expect_sym(")")?;
            match inner {
                Node::Cond(c) => return Ok(Node::Cond(Box::new(RawCond::Paren(c)))),
                Node::Operand(o) => RawOperand::Paren(o),
            }
        } else {
            self.operand()?
        };
        if let Some(cond) = self.comparison_tail(&left)? {
            return Ok(Node::Cond(cond));
        }
        if group && self.is_sym(")") {
            return Ok(Node::Operand(Box::new(left)));
        }
        if matches!(left.unwrap_parens().0, RawOperand::Call(..)) {
            return Ok(Node::Cond(Box::new(RawCond::Call(left))));
        }
        self.fail()
    }

    /// The rest of `left <cmp> x`, `left BETWEEN x AND y` or `left IN (...)`, if present.
    fn comparison_tail(&mut self, left: &RawOperand) -> PResult<Option<Box<RawCond>>> {
        let t = self.peek();
        let sym = self.text(t);
        if t.kind == TokKind::Sym && matches!(sym, "=" | "<>" | "<" | "<=" | ">" | ">=") {
            self.bump();
            self.operator()?;
            let right = self.operand()?;
            return Ok(Some(Box::new(RawCond::Compare(
                sym.to_owned(),
                left.clone(),
                right,
            ))));
        }
        if self.is_kw("BETWEEN") {
            self.bump();
            self.operator()?;
            let low = self.operand()?;
            if !self.is_kw("AND") {
                return self.fail();
            }
            self.bump();
            let high = self.operand()?;
            return Ok(Some(Box::new(RawCond::Between(left.clone(), low, high))));
        }
        if self.is_kw("IN") {
            self.bump();
            self.operator()?;
            self.expect_sym("(")?;
            let list = self.operand_list()?;
            self.expect_sym(")")?;
            return Ok(Some(Box::new(RawCond::In(left.clone(), list))));
        }
        Ok(None)
    }

    // ---- projections ----

    /// `path ( , path )*`
    pub fn projection(&mut self) -> PResult<Vec<RawPath>> {
        let mut paths = vec![self.path()?];
        while self.is_sym(",") {
            self.bump();
            paths.push(self.path()?);
        }
        self.expect_eof()?;
        Ok(paths)
    }

    // ---- updates ----

    /// `( SET ... | REMOVE ... | ADD ... | DELETE ... )+`
    pub fn update(&mut self) -> PResult<RawUpdate> {
        let mut sections = Vec::new();
        loop {
            let Some(section) = UPDATE_KEYWORDS.iter().copied().find(|k| self.is_kw(k)) else {
                return self.fail();
            };
            self.bump();
            let mut actions = vec![self.action(section)?];
            while self.is_sym(",") {
                self.bump();
                actions.push(self.action(section)?);
            }
            sections.push((section, actions));
            if self.peek().kind == TokKind::Eof {
                return Ok(RawUpdate { sections });
            }
        }
    }

    fn action(&mut self, section: &str) -> PResult<RawAction> {
        let path = self.path()?;
        match section {
            "SET" => {
                self.expect_sym("=")?;
                Ok(RawAction::Set(path, self.set_value()?))
            }
            "REMOVE" => Ok(RawAction::Remove(path)),
            _ => {
                let t = self.peek();
                if t.kind != TokKind::Value {
                    return self.fail();
                }
                self.bump();
                let v = self.text(t).to_owned();
                Ok(match section {
                    "ADD" => RawAction::Add(path, v),
                    _ => RawAction::Delete(path, v),
                })
            }
        }
    }

    /// `term ( (+|-) term )?`, where a parenthesised `(a + b)` is a term of its own.
    fn set_value(&mut self) -> PResult<RawSetValue> {
        let left = if self.is_sym("(") {
            self.bump();
            let inner = self.nested(Self::set_value)?;
            self.expect_sym(")")?;
            match inner {
                RawSetValue::Arith(..) | RawSetValue::Paren(_) => {
                    return Ok(RawSetValue::Paren(Box::new(inner)))
                }
                RawSetValue::Operand(o) => RawOperand::Paren(Box::new(o)),
            }
        } else {
            self.operand()?
        };
        for op in ['+', '-'] {
            if self.is_sym(&op.to_string()) {
                self.bump();
                self.operator()?;
                let right = self.operand()?;
                return Ok(RawSetValue::Arith(op, left, right));
            }
        }
        Ok(RawSetValue::Operand(left))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cond(src: &str) -> PResult<RawCond> {
        Grammar::new(src, CONDITION_KEYWORDS).condition()
    }

    fn p(s: &str) -> RawOperand {
        RawOperand::Path(RawPath(vec![RawElem::Ident(s.into())]))
    }

    fn v(s: &str) -> RawOperand {
        RawOperand::Value(s.into())
    }

    fn cmp(a: &str, b: &str) -> RawCond {
        RawCond::Compare("=".into(), p(a), v(b))
    }

    #[test]
    fn precedence() {
        let c = cond("a = :a OR b = :b AND NOT c = :c").unwrap();
        let not_c = RawCond::Not(Box::new(cmp("c", ":c")));
        let and = RawCond::And(Box::new(cmp("b", ":b")), Box::new(not_c));
        assert_eq!(c, RawCond::Or(Box::new(cmp("a", ":a")), Box::new(and)));
    }

    #[test]
    fn parenthesised_operands_and_conditions() {
        assert_eq!(
            cond("(a) = :a").unwrap(),
            RawCond::Compare("=".into(), RawOperand::Paren(Box::new(p("a"))), v(":a"))
        );
        assert_eq!(
            cond("(a = :a)").unwrap(),
            RawCond::Paren(Box::new(cmp("a", ":a")))
        );
        assert!(cond("(size(a)) > :v").is_ok());
        assert!(cond("(attribute_exists(a))").is_ok());
        assert!(cond("a BETWEEN :x AND :y AND b IN (:a, :b)").is_ok());
    }

    #[test]
    fn syntax_errors() {
        let err = |s| cond(s).unwrap_err();
        assert_eq!(err("a"), "Syntax error; token: \"<EOF>\", near: \"a\"");
        assert_eq!(
            err("a = = :v"),
            "Syntax error; token: \"=\", near: \"= = :v\""
        );
        assert_eq!(err("(NOT a)"), "Syntax error; token: \")\", near: \"a)\"");
        assert_eq!(
            err("a AND b = :v"),
            "Syntax error; token: \"AND\", near: \"a AND b\""
        );
        assert_eq!(err("f()"), "Syntax error; token: \")\", near: \"()\"");
        assert_eq!(
            err("a = :v b"),
            "Syntax error; token: \"b\", near: \":v b\""
        );
        assert_eq!(
            err("a IN :v"),
            "Syntax error; token: \":v\", near: \"IN :v\""
        );
        assert_eq!(
            err("a[x] = :v"),
            "Syntax error; token: \"x\", near: \"[x]\""
        );
    }

    #[test]
    fn updates() {
        let u = Grammar::new(
            "SET a = b + :v, c = (d - :w) REMOVE e[1] ADD f :x",
            UPDATE_KEYWORDS,
        )
        .update()
        .unwrap();
        assert_eq!(u.sections.len(), 3);
        let err = |s| Grammar::new(s, UPDATE_KEYWORDS).update().unwrap_err();
        assert_eq!(err("SET"), "Syntax error; token: \"<EOF>\", near: \"SET\"");
        assert_eq!(
            err("ADD hits : incr"),
            "Syntax error; token: \":\", near: \"hits : incr\""
        );
        assert_eq!(
            err("SET a = b + c + d"),
            "Syntax error; token: \"+\", near: \"c + d\""
        );
        assert_eq!(err("a = :v"), "Syntax error; token: \"a\", near: \"a =\"");
    }
}
