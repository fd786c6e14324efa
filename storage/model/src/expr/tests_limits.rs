//! DynamoDB's expression limits, and hostile expressions that must be refused (or
//! accepted) cheaply: deep nesting, long operator chains, huge sets.

use super::limits::{MAX_EXPRESSION_BYTES, MAX_NESTING, MAX_OPERATORS};
use super::tests_util::*;
use super::{Condition, UpdateExpr};
use crate::value::AttributeValue;

fn input() -> Input {
    Input::values(vec![(":v", n("1")), (":w", n("2"))])
}

fn cond_err(text: &str) -> String {
    input().cond(text).unwrap_err()
}

#[test]
fn expressions_longer_than_4_kb_are_refused_by_size() {
    let pad = " ".repeat(MAX_EXPRESSION_BYTES);
    let long = format!("a = :v{pad}");
    assert_eq!(
        cond_err(&long),
        format!(
            "Invalid ConditionExpression: Expression size has exceeded the maximum allowed size; expression size: {}",
            long.len()
        )
    );
    let update = format!("SET a = :v{pad}");
    assert!(input()
        .update(&update)
        .unwrap_err()
        .starts_with("Invalid UpdateExpression: Expression size has exceeded"));
    let projection = format!("a{pad}");
    assert!(input()
        .projection(&projection)
        .unwrap_err()
        .starts_with("Invalid ProjectionExpression: Expression size has exceeded"));
    // Exactly 4 KB is allowed.
    let exact = format!("a = :v{}", " ".repeat(MAX_EXPRESSION_BYTES - 6));
    assert_eq!(exact.len(), MAX_EXPRESSION_BYTES);
    input().cond(&exact).unwrap();
}

/// `a = :v AND a = :v AND ...` with `n` operators in all.
fn and_chain(operators: usize) -> String {
    let comparisons = operators.div_ceil(2);
    let mut text = String::from("a = :v");
    for _ in 1..comparisons {
        text.push_str(" AND a = :v");
    }
    text
}

#[test]
fn at_most_300_operators() {
    let ok = and_chain(MAX_OPERATORS - 1);
    input().cond(&ok).unwrap();
    let over = and_chain(MAX_OPERATORS + 1);
    assert_eq!(
        cond_err(&over),
        "Invalid ConditionExpression: The expression contains too many operators; operator count: 301"
    );
    let nots = format!("{}a = :v", "NOT ".repeat(MAX_OPERATORS));
    assert_eq!(
        cond_err(&nots),
        "Invalid ConditionExpression: The expression contains too many operators; operator count: 301"
    );
    // Function calls count, and `+` and `-` in updates.
    let calls = vec!["attribute_exists(a)"; MAX_OPERATORS / 2].join(" OR ");
    input().cond(&calls).unwrap();
    let calls = vec!["attribute_exists(a)"; MAX_OPERATORS / 2 + 1].join(" OR ");
    assert!(cond_err(&calls).contains("operator count: 301"));
    let sums = (0..MAX_OPERATORS + 1)
        .map(|i| format!("a{i}=:v+:w"))
        .collect::<Vec<_>>()
        .join(",");
    let sums = format!("SET {sums}");
    assert!(sums.len() <= MAX_EXPRESSION_BYTES);
    assert!(input()
        .update(&sums)
        .unwrap_err()
        .contains("too many operators; operator count: 301"));
}

#[test]
fn deep_parentheses_are_refused_without_deep_recursion() {
    // About 2 KB, inside the size limit: this overflowed the stack before the limits.
    let deep = format!("{}a = :v{}", "(".repeat(1000), ")".repeat(1000));
    assert_eq!(
        cond_err(&deep),
        "Invalid ConditionExpression: The expression has redundant parentheses;"
    );
    let operand = format!("{}a{} = :v", "(".repeat(2000), ")".repeat(2000));
    assert_eq!(
        cond_err(&operand),
        "Invalid ConditionExpression: The expression has redundant parentheses;"
    );
    // Past the limit the grammar stops; within it the resolver names the same error.
    for depth in [MAX_NESTING, 2000] {
        let update = format!("SET a = {}:v{}", "(".repeat(depth), ")".repeat(depth));
        assert_eq!(
            input().update(&update).unwrap_err(),
            "Invalid UpdateExpression: The expression has redundant parentheses;"
        );
    }
    // Unbalanced: refused all the same, never read to the end.
    let open = "(".repeat(MAX_EXPRESSION_BYTES);
    assert!(input().cond(&open).is_err());
    let nots = "NOT ".repeat(MAX_EXPRESSION_BYTES / 4);
    assert!(cond_err(&nots).contains("too many operators"));
}

/// The deepest trees the limits allow: `NOT (NOT (... (a = :v) ...))` with 300
/// operators, and the longest AND chain.
fn deepest_accepted() -> Vec<String> {
    let nots = MAX_OPERATORS - 1;
    let nested = format!("{}a = :v{}", "NOT (".repeat(nots), ")".repeat(nots));
    let mut texts = vec![nested, and_chain(MAX_OPERATORS - 1)];
    let fallbacks = 200;
    let if_not_exists = format!(
        "SET a = {}:l{}",
        "if_not_exists(b, ".repeat(fallbacks),
        ")".repeat(fallbacks)
    );
    texts.push(if_not_exists);
    texts
}

/// Parsing, resolving, evaluating, applying and dropping the deepest accepted trees
/// fits in well under half of a tokio worker's 2 MiB stack.
#[test]
fn worst_case_fits_a_small_stack() {
    let run = || {
        let input = Input::values(vec![(":v", n("1")), (":l", l(vec![n("1")]))]);
        for text in deepest_accepted() {
            assert!(text.len() <= MAX_EXPRESSION_BYTES, "{}", text.len());
            let mut it = item(vec![("a", n("1"))]);
            if text.starts_with("SET") {
                let update: UpdateExpr = input.update(&text).unwrap();
                update.apply(&mut it).unwrap();
                assert!(matches!(it.get("a"), Some(AttributeValue::L(l)) if l.len() == 1));
            } else {
                let cond: Condition = input.cond(&text).unwrap();
                cond.evaluate(&it);
                let copy = cond.clone();
                assert_eq!(copy, cond);
                assert!(!format!("{cond:?}").is_empty());
            }
        }
    };
    on_small_stack(run);
}

#[test]
fn huge_sets_are_combined_in_linear_time() {
    let count = 200_000;
    let strings: Vec<String> = (0..count).map(|i| format!("e{i}")).collect();
    let half: Vec<String> = strings[count / 2..].to_vec();
    let existing = AttributeValue::Ss(strings[..count / 2].to_vec());
    let input = Input::values(vec![
        (":all", AttributeValue::Ss(strings.clone())),
        (":half", AttributeValue::Ss(half)),
    ]);
    let mut it = item(vec![("s", existing)]);
    input.update("ADD s :all").unwrap().apply(&mut it).unwrap();
    assert!(matches!(it.get("s"), Some(AttributeValue::Ss(s)) if s.len() == count));
    input
        .update("DELETE s :half")
        .unwrap()
        .apply(&mut it)
        .unwrap();
    assert!(matches!(it.get("s"), Some(AttributeValue::Ss(s)) if s.len() == count / 2));
    let equal = input.cond("s = :all").unwrap();
    assert!(!equal.evaluate(&it));
}

#[test]
fn binary_contains_finds_late_matches() {
    let mut haystack = vec![0u8; 300_000];
    haystack.push(1);
    let mut needle = vec![0u8; 150_000];
    needle.push(1);
    let input = Input::values(vec![(":n", AttributeValue::B(needle))]);
    let cond = input.cond("contains(b, :n)").unwrap();
    assert!(cond.evaluate(&item(vec![("b", AttributeValue::B(haystack))])));
    assert!(!cond.evaluate(&item(vec![("b", b(&[0, 0]))])));
}

#[test]
fn many_projection_paths_are_checked_for_overlaps() {
    let paths: Vec<String> = (0..800).map(|i| format!("p{i}")).collect();
    let text = paths.join(",");
    assert!(text.len() <= MAX_EXPRESSION_BYTES);
    assert_eq!(input().projection(&text).unwrap().len(), 800);
    let overlapping = format!("{text},p3.x");
    assert_eq!(
        input().projection(&overlapping).unwrap_err(),
        "Invalid ProjectionExpression: Two document paths overlap with each other; must remove or rewrite one of these paths; path one: [p3], path two: [p3, x]"
    );
    let conflicting = "a.b, c, a[1]";
    assert!(input()
        .projection(conflicting)
        .unwrap_err()
        .contains("Two document paths conflict with each other"));
}

#[test]
fn document_paths_nest_at_most_32_levels() {
    let path = |levels: usize| {
        (0..levels)
            .map(|i| format!("p{i}"))
            .collect::<Vec<_>>()
            .join(".")
    };
    input().projection(&path(32)).unwrap();
    assert_eq!(
        input().projection(&path(33)).unwrap_err(),
        "Invalid ProjectionExpression: The document path has too many nesting levels; nesting levels: 33"
    );
    let indexed = format!("a{}", "[0]".repeat(40));
    assert!(cond_err(&format!("{indexed} = :v")).contains("nesting levels: 33"));
}

#[test]
fn placeholders_are_at_most_255_bytes() {
    use super::check_placeholder;
    let name = format!("#{}", "n".repeat(254));
    check_placeholder("ExpressionAttributeNames", '#', &name).unwrap();
    let long = format!("#{}", "n".repeat(255));
    assert_eq!(
        msg(check_placeholder("ExpressionAttributeNames", '#', &long).unwrap_err()),
        "ExpressionAttributeNames contains invalid key: The expression attribute map contains a key that is too long; size of key: 256"
    );
    // The length is checked before the syntax, and values get no size.
    let bad = format!(":{}", "-".repeat(300));
    assert_eq!(
        msg(check_placeholder("ExpressionAttributeValues", ':', &bad).unwrap_err()),
        "ExpressionAttributeValues contains invalid key: The expression attribute map contains a key that is too long;"
    );
    assert_eq!(
        msg(check_placeholder("ExpressionAttributeNames", '#', "#a-b").unwrap_err()),
        "ExpressionAttributeNames contains invalid key: Syntax error; key: \"#a-b\""
    );
}

#[test]
fn updates_cannot_nest_values_past_32_levels() {
    use crate::write::WriteCommand;
    let mut deep = n("1");
    for _ in 0..31 {
        deep = m(vec![("m", deep)]);
    }
    let input = Input::values(vec![(":deep", deep)]);
    // Within the limit on its own, and as a new attribute.
    let key = item(vec![("pk", s("k"))]);
    let set = |text: &str| WriteCommand::Update {
        key: key.clone(),
        update: Some(input.update(text).unwrap()),
        condition: None,
    };
    let first = set("SET a = :deep").apply(None).unwrap();
    let crate::write::WriteOutcome::Applied {
        new: Some(current), ..
    } = first
    else {
        panic!("not applied");
    };
    // Nested inside itself: 63 levels.
    let path = format!("a{}", ".m".repeat(30));
    let err = set(&format!("SET {path} = :deep"))
        .apply(Some(current))
        .unwrap_err();
    assert_eq!(
        msg(err),
        "Nesting Levels have exceeded supported limits: Attributes in the item have nested levels beyond supported limit"
    );
}
