//! The lexer: expression text to tokens with byte spans, and DynamoDB's syntax-error text
//! (`Syntax error; token: "<tok>", near: "<prev tok next>"`).

/// What a token is. Words are all [`TokKind::Word`]; which words are keywords depends on
/// the grammar (see `grammar.rs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TokKind {
    /// `[A-Za-z][A-Za-z0-9_]*`
    Word,
    /// `#[A-Za-z0-9_]+`
    Name,
    /// `:[A-Za-z0-9_]+`
    Value,
    /// `[0-9]+`
    Number,
    /// `= <> < <= > >= + - ( ) [ ] . ,`
    Sym,
    /// Any other character: a token of its own that no rule accepts.
    Other,
    Eof,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Token {
    pub kind: TokKind,
    pub start: usize,
    pub end: usize,
}

fn is_word_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// Splits `src` into tokens; the last is always [`TokKind::Eof`]. Never fails: characters
/// no rule accepts become [`TokKind::Other`] tokens, reported by the parser.
pub(crate) fn lex(src: &str) -> Vec<Token> {
    let b = src.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c.is_ascii_whitespace() {
            i += 1;
            continue;
        }
        let (kind, end) = token_at(src, i);
        out.push(Token {
            kind,
            start: i,
            end,
        });
        i = end;
    }
    out.push(Token {
        kind: TokKind::Eof,
        start: b.len(),
        end: b.len(),
    });
    out
}

fn scan_while(b: &[u8], mut i: usize, f: impl Fn(u8) -> bool) -> usize {
    while i < b.len() && f(b[i]) {
        i += 1;
    }
    i
}

/// The token starting at byte `i` (not whitespace): its kind and end offset.
fn token_at(src: &str, i: usize) -> (TokKind, usize) {
    let b = src.as_bytes();
    let c = b[i];
    let next = b.get(i + 1).copied();
    match c {
        b'a'..=b'z' | b'A'..=b'Z' => (TokKind::Word, scan_while(b, i, is_word_char)),
        b'0'..=b'9' => (TokKind::Number, scan_while(b, i, |c| c.is_ascii_digit())),
        b'#' | b':' if next.is_some_and(is_word_char) => {
            let kind = if c == b'#' {
                TokKind::Name
            } else {
                TokKind::Value
            };
            (kind, scan_while(b, i + 1, is_word_char))
        }
        b'<' if matches!(next, Some(b'>') | Some(b'=')) => (TokKind::Sym, i + 2),
        b'>' if next == Some(b'=') => (TokKind::Sym, i + 2),
        b'=' | b'<' | b'>' | b'+' | b'-' | b'(' | b')' | b'[' | b']' | b'.' | b',' => {
            (TokKind::Sym, i + 1)
        }
        _ => {
            let len = src[i..].chars().next().map_or(1, char::len_utf8);
            (TokKind::Other, i + len)
        }
    }
}

/// DynamoDB's syntax error for the token at `at`: the token's text (`<EOF>` at the end)
/// and the text from the previous token to the next one.
pub(crate) fn syntax_error(src: &str, toks: &[Token], at: usize) -> String {
    let Some(cur) = toks.get(at) else {
        return "Syntax error; token: \"<EOF>\", near: \"\"".to_owned();
    };
    let start = match at.checked_sub(1).and_then(|p| toks.get(p)) {
        Some(prev) => prev.start,
        None => cur.start,
    };
    let (token, end) = if cur.kind == TokKind::Eof {
        ("<EOF>", src.len())
    } else {
        let end = match toks.get(at + 1) {
            Some(next) if next.kind != TokKind::Eof => next.end,
            _ => cur.end,
        };
        (&src[cur.start..cur.end], end)
    };
    let near = src.get(start..end).unwrap_or("");
    format!("Syntax error; token: \"{token}\", near: \"{near}\"")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(src: &str) -> Vec<(TokKind, &str)> {
        lex(src)
            .iter()
            .map(|t| (t.kind, &src[t.start..t.end]))
            .collect()
    }

    #[test]
    fn splits_tokens() {
        use TokKind::*;
        assert_eq!(
            kinds("#a.b[12] <= :v_1 AND x<>y"),
            vec![
                (Name, "#a"),
                (Sym, "."),
                (Word, "b"),
                (Sym, "["),
                (Number, "12"),
                (Sym, "]"),
                (Sym, "<="),
                (Value, ":v_1"),
                (Word, "AND"),
                (Word, "x"),
                (Sym, "<>"),
                (Word, "y"),
                (Eof, ""),
            ]
        );
        assert_eq!(kinds("_a")[0], (Other, "_"));
        assert_eq!(kinds(": x")[0], (Other, ":"));
        assert_eq!(kinds("é")[0], (Other, "é"));
    }

    #[test]
    fn formats_syntax_errors() {
        let src = "ADD hits : incr";
        let t = lex(src);
        assert_eq!(
            syntax_error(src, &t, 2),
            "Syntax error; token: \":\", near: \"hits : incr\""
        );
        let src = "SET";
        let t = lex(src);
        assert_eq!(
            syntax_error(src, &t, 1),
            "Syntax error; token: \"<EOF>\", near: \"SET\""
        );
        let src = "INVALID SYNTAX HERE";
        let t = lex(src);
        assert_eq!(
            syntax_error(src, &t, 0),
            "Syntax error; token: \"INVALID\", near: \"INVALID SYNTAX\""
        );
        let src = "attribute_type()";
        let t = lex(src);
        assert_eq!(
            syntax_error(src, &t, 2),
            "Syntax error; token: \")\", near: \"()\""
        );
    }
}
