//! Tests: rendering trees as text and parsing them back gives the same trees, for every
//! kind of node and the largest trees the limits allow.

use super::limits::{MAX_EXPRESSION_BYTES, MAX_NESTING, MAX_OPERATORS};
use super::tests_util::*;
use super::*;
use crate::value::AttributeValue;

fn input() -> Input {
    Input::values(vec![
        (":s", s("text")),
        (":n", n("-12.5E3")),
        (":big", n("9.9999999999999999999999999999999999999E+125")),
        (":tiny", n("1E-130")),
        (":b", b(&[0, 1, 2, 255])),
        (":yes", AttributeValue::Bool(true)),
        (":no", AttributeValue::Bool(false)),
        (":null", AttributeValue::Null),
        (
            ":m",
            m(vec![
                ("inner", m(vec![("x", n("1"))])),
                ("list", l(vec![s("a"), AttributeValue::Null])),
            ]),
        ),
        (":l", l(vec![n("1"), s("two"), l(vec![b(&[3])])])),
        (":empty", l(vec![])),
        (":ss", ss(&["a", "b"])),
        (":ns", ns(&["1", "2.5", "-3"])),
        (":bs", AttributeValue::Bs(vec![vec![1], vec![2, 3]])),
        (":type", s("SS")),
        (":lo", n("1")),
        (":hi", n("10")),
    ])
    .names(&[
        ("#status", "status"),
        ("#dot", "a.b"),
        ("#sp", "with space"),
        ("#uni", "ünïcødé"),
        ("#odd", "#x:y[0]"),
    ])
}

/// Parses `text` with the client's parser, renders, parses back trusted; the trees
/// must be equal.
fn round_trip_condition(input: &Input, text: &str) -> ExpressionText {
    let tree = input.cond(text).unwrap_or_else(|e| panic!("{text}: {e}"));
    let rendered = render_condition(&tree);
    let back = condition_from_text(&rendered)
        .unwrap_or_else(|e| panic!("{text} -> {}: {e}", rendered.text));
    assert_eq!(back, tree, "{text} -> {}", rendered.text);
    rendered
}

fn round_trip_update(input: &Input, text: &str) -> ExpressionText {
    let tree = input.update(text).unwrap_or_else(|e| panic!("{text}: {e}"));
    let rendered = render_update(&tree);
    let back =
        update_from_text(&rendered).unwrap_or_else(|e| panic!("{text} -> {}: {e}", rendered.text));
    assert_eq!(back, tree, "{text} -> {}", rendered.text);
    rendered
}

#[test]
fn every_condition_node_round_trips() {
    let corpus = [
        // Every comparator, every value type.
        "a = :s",
        "#status <> :n",
        "a.b[2].c < :n",
        "a <= :big",
        "a > :b",
        "a >= :tiny",
        "a = :yes",
        "a <> :no",
        "a = :null",
        "a = :m",
        "a = :l",
        "a = :ss",
        "a = :ns",
        "a = :bs",
        ":s = a",
        ":s = :n",
        // Operands: paths, values, size().
        ":n < size(a)",
        "size(a.b) = :n",
        "size(:s) = :n",
        "(size(a)) > :n",
        "(a) = (:s)",
        // BETWEEN and IN.
        "a BETWEEN :lo AND :hi",
        "size(a) BETWEEN :lo AND :hi AND b = :s",
        "a IN (:s)",
        "#dot IN (:s, :n, :b, :m)",
        "a IN (b, c.d[1], :s) OR a BETWEEN :lo AND :hi",
        // Every function.
        "attribute_exists(#sp)",
        "attribute_not_exists(a.#dot[0])",
        "attribute_type(a, :type)",
        "begins_with(a, :s)",
        "begins_with(#uni, :b)",
        "contains(a, :s)",
        "contains(a.b, :n)",
        "contains(:ss, a)",
        // NOT, AND, OR, with and without parentheses.
        "NOT a = :s",
        "NOT NOT a = :s",
        "NOT (NOT (a = :s))",
        "NOT attribute_exists(a)",
        "NOT (a = :s AND b = :n)",
        "NOT (a = :s OR b = :n)",
        "NOT a BETWEEN :lo AND :hi",
        "a = :s AND b = :n OR c = :s",
        "a = :s OR b = :n AND c = :s",
        "a = :s AND (b = :n OR c = :s)",
        "(a = :s OR b = :n) AND c = :s",
        "(a = :s OR b = :n) AND (c = :s OR d = :s)",
        "a = :s OR (b = :n OR c = :s)",
        "(a = :s OR b = :n) OR c = :s",
        "a = :s AND (b = :n AND c = :s)",
        "(a = :s AND b = :n) AND c = :s",
        "a = :s OR b = :n AND NOT c = :s",
        "NOT (a = :s OR b = :n) AND NOT NOT c = :s",
        "(a = :s)",
        "((a) = :s)",
        // Names that need placeholders: reserved words, dots, spaces, anything.
        "#dot.#sp[3].#status = :n AND #odd = :s AND #uni.#uni = :s",
    ];
    let input = input();
    for text in corpus {
        round_trip_condition(&input, text);
    }
}

#[test]
fn every_update_node_round_trips() {
    let corpus = [
        "SET a = :s",
        "SET a = b",
        "SET a = :m, b = :l, c = :yes, d = :null, e = :b, f = :bs",
        "SET a.b[2].c = :n, #status = #dot + :n, c = d - :n",
        "SET a = :n + :n, b = :n - c",
        "SET a = (b + :n)",
        "SET a = if_not_exists(a, :n) + :n",
        "SET a = if_not_exists(a, b)",
        "SET a = list_append(a, :l), b = list_append(:l, if_not_exists(b, :empty))",
        "SET a = list_append(if_not_exists(a, :empty), b)",
        "REMOVE a, b[1], #sp.x, #uni[0][1]",
        "ADD n :n, s :ss",
        "ADD ns :ns, bs :bs",
        "DELETE s :ss, bs :bs, ns :ns",
        "SET a = :s REMOVE b ADD c :n DELETE d :ss",
        "REMOVE x SET y = :s",
        "DELETE d :ss ADD c :n REMOVE b SET a = :s, #odd = :s",
    ];
    let input = input();
    for text in corpus {
        round_trip_update(&input, text);
    }
}

#[test]
fn rendered_text_uses_placeholders_and_needed_parentheses_only() {
    let input = input();
    let r = round_trip_condition(&input, "(a = :s OR #status.a = :n) AND NOT a[3] = :s");
    assert_eq!(r.text, "(#0 = :0 OR #1.#0 = :1) AND NOT #0[3] = :2");
    assert_eq!(r.names.get("#0").map(String::as_str), Some("a"));
    assert_eq!(r.names.get("#1").map(String::as_str), Some("status"));
    assert_eq!(r.values.get(":2"), Some(&s("text")));
    let r = round_trip_condition(&input, "attribute_type(#dot, :type)");
    assert_eq!(r.text, "attribute_type(#0, :0)");
    assert_eq!(r.values.get(":0"), Some(&s("SS")));
    let r = round_trip_update(&input, "SET a = list_append(a, :l) REMOVE b[1]");
    assert_eq!(r.text, "SET #0 = list_append(#0, :0) REMOVE #1[1]");
}

#[test]
fn updates_are_grouped_by_section() {
    let a = Path::attr("a");
    let b = Path::attr("b");
    let tree = UpdateExpr {
        actions: vec![
            UpdateAction::Remove(a.clone()),
            UpdateAction::Set(b.clone(), SetValue::Operand(UpdateOperand::Value(s("x")))),
            UpdateAction::Remove(Path::attr("c")),
        ],
    };
    let rendered = render_update(&tree);
    assert_eq!(rendered.text, "REMOVE #0, #1 SET #2 = :0");
    let back = update_from_text(&rendered).unwrap();
    assert_eq!(back.actions.len(), 3);
    assert_eq!(back.actions[0], tree.actions[0]);
    assert_eq!(back.actions[1], tree.actions[2]);
    // No actions: empty text, and back.
    let empty = UpdateExpr { actions: vec![] };
    let rendered = render_update(&empty);
    assert_eq!(rendered.text, "");
    assert_eq!(update_from_text(&rendered).unwrap(), empty);
}

#[test]
fn trusted_parsing_skips_the_length_and_unused_checks_only() {
    let long = ExpressionText {
        text: format!("a = :v{}", " ".repeat(MAX_EXPRESSION_BYTES)),
        names: [("#unused".to_owned(), "x".to_owned())].into(),
        values: [(":v".to_owned(), n("1")), (":unused".to_owned(), n("2"))].into(),
    };
    condition_from_text(&long).unwrap();
    let bad = |text: &str| ExpressionText {
        text: text.to_owned(),
        ..long.clone()
    };
    assert!(condition_from_text(&bad("a = :missing")).is_err());
    assert!(condition_from_text(&bad("((a = :v))")).is_err());
    assert!(condition_from_text(&bad("status = :v")).is_err());
    assert!(condition_from_text(&bad("")).is_err());
    assert!(update_from_text(&bad("SET a = :v SET b = :v")).is_err());
    let nots = format!("{}a = :v", "NOT ".repeat(MAX_OPERATORS));
    assert!(condition_from_text(&bad(&nots))
        .unwrap_err()
        .to_string()
        .contains("too many operators"));
    let deep = format!("a{} = :v", ".b".repeat(40));
    assert!(condition_from_text(&bad(&deep))
        .unwrap_err()
        .to_string()
        .contains("nesting levels"));
}

/// `a0.b.c.d.e.f.g.h = :v AND a1.b... = :v AND ...`: the longest AND chain, with paths
/// long enough that the rendered text outgrows the client's 4 KB.
fn and_chain() -> String {
    let terms = MAX_OPERATORS.div_ceil(2);
    (0..terms)
        .map(|i| format!("a{i}.b.c.d.e.f.g = :v"))
        .collect::<Vec<_>>()
        .join(" AND ")
}

/// The largest trees the limits allow, conditions and updates (the nested calls of
/// updates as many as fit in 4 KB).
fn largest_trees() -> (Vec<String>, Vec<String>) {
    let nots = MAX_OPERATORS - 1;
    let right_nested_terms = MAX_OPERATORS.div_ceil(2);
    let conditions = vec![
        and_chain(),
        vec!["attribute_exists(a)"; MAX_OPERATORS / 2].join(" OR "),
        format!("{}a = :v", "NOT ".repeat(nots)),
        format!("{}a = :v{}", "NOT (".repeat(nots), ")".repeat(nots)),
        format!(
            "{}a = :v{}",
            "a = :v AND (".repeat(right_nested_terms - 1),
            ")".repeat(right_nested_terms - 1)
        ),
    ];
    let nested = |open: &str, close: &str| {
        let fits = (MAX_EXPRESSION_BYTES - "SET a = :l".len()) / (open.len() + close.len());
        let calls = fits.min(MAX_OPERATORS);
        format!("SET a = {}:l{}", open.repeat(calls), close.repeat(calls))
    };
    let updates = vec![
        nested("list_append(if_not_exists(b, ", "), :l)"),
        nested("if_not_exists(b, ", ")"),
    ];
    (conditions, updates)
}

#[test]
fn the_largest_trees_round_trip_on_a_small_stack() {
    let run = || {
        let input = Input::values(vec![(":v", n("1")), (":l", l(vec![n("1")]))]);
        let (conditions, updates) = largest_trees();
        for text in &conditions {
            assert!(text.len() <= MAX_EXPRESSION_BYTES, "{}", text.len());
            round_trip_condition(&input, text);
        }
        for text in &updates {
            assert!(text.len() <= MAX_EXPRESSION_BYTES, "{}", text.len());
            round_trip_update(&input, text);
        }
        // The chain is longer as rendered than as written, and parses back all the same.
        let rendered = round_trip_condition(&input, &conditions[0]);
        assert!(rendered.text.len() > MAX_EXPRESSION_BYTES);
        assert_eq!(rendered.values.len(), MAX_OPERATORS.div_ceil(2));
    };
    // As `worst_case_fits_a_small_stack` checks the parser, evaluation and drops.
    on_small_stack(run);
}

#[test]
fn the_deepest_accepted_nesting_round_trips() {
    // One more level of the deepest nesting above is refused, so these are the limit.
    let input = Input::values(vec![(":v", n("1"))]);
    let nots = MAX_OPERATORS - 1;
    assert!(2 * nots <= MAX_NESTING);
    let over = format!("{}a = :v", "NOT ".repeat(MAX_OPERATORS));
    assert!(input.cond(&over).is_err());
    let text = format!("{}a = :v{}", "NOT (".repeat(nots), ")".repeat(nots));
    let rendered = round_trip_condition(&input, &text);
    // Parentheses around a NOT are not needed.
    assert_eq!(rendered.text, format!("{}#0 = :0", "NOT ".repeat(nots)));
}
