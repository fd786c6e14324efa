//! Tests: applying update expressions, including runtime errors and all-or-nothing.

use super::tests_util::*;
use super::*;
use crate::value::Item;

fn base() -> Item {
    item(vec![
        ("pk", s("p")),
        ("tally", n("1")),
        ("label", s("x")),
        ("letters", l(vec![n("1"), n("2"), n("3")])),
        ("info", m(vec![("a", n("1"))])),
        ("tags", ss(&["a", "b"])),
        ("f", n("0.1")),
    ])
}

fn input() -> Input {
    Input::values(vec![
        (":a", s("A")),
        (":one", n("1")),
        (":two", n("2")),
        (":ten", n("10")),
        (":zero", n("0")),
        (":f", n("0.2")),
        (":tail", l(vec![n("9")])),
        (":head", l(vec![n("0")])),
        (":empty", l(vec![])),
        (":more", ss(&["b", "c"])),
        (":ns", ns(&["1"])),
        (":ta", ss(&["a"])),
        (":tab", ss(&["a", "b"])),
        (":s", s("str")),
        (":big", n("9E+125")),
    ])
    .names(&[("#l", "letters")])
}

/// Applies `text` to `base()`, returning the new item.
fn apply(text: &str) -> Result<Item, String> {
    let input = input();
    let mut p = input.parser();
    let u = p.update(text).map_err(msg)?;
    let mut it = base();
    let before = it.clone();
    let r = u.apply(&mut it).map_err(msg);
    if r.is_err() {
        assert_eq!(
            it, before,
            "a failed update must leave the item unchanged: {text}"
        );
    }
    r.map(|()| it)
}

fn get<'i>(it: &'i Item, k: &str) -> Option<&'i crate::value::AttributeValue> {
    it.get(k)
}

#[test]
fn set_top_level_nested_and_indexed() {
    let it = apply("SET a = :a, info.b = :two, #l[0] = :zero").unwrap();
    assert_eq!(get(&it, "a"), Some(&s("A")));
    assert_eq!(
        get(&it, "info"),
        Some(&m(vec![("a", n("1")), ("b", n("2"))]))
    );
    assert_eq!(get(&it, "letters"), Some(&l(vec![n("0"), n("2"), n("3")])));
}

#[test]
fn set_past_the_end_appends_in_index_order() {
    let it = apply("SET letters[10] = :ten, letters[5] = :one").unwrap();
    assert_eq!(
        get(&it, "letters"),
        Some(&l(vec![n("1"), n("2"), n("3"), n("1"), n("10")]))
    );
}

#[test]
fn arithmetic_is_exact() {
    let it = apply("SET f = f + :f, tally = tally - :one").unwrap();
    assert_eq!(get(&it, "f"), Some(&n("0.3")));
    assert_eq!(get(&it, "tally"), Some(&n("0")));
}

#[test]
fn operands_read_the_item_before_the_update() {
    let it = apply("SET a = tally, tally = :ten").unwrap();
    assert_eq!(get(&it, "a"), Some(&n("1")));
    assert_eq!(get(&it, "tally"), Some(&n("10")));
}

#[test]
fn if_not_exists_and_list_append() {
    let it = apply(
        "SET tally = if_not_exists(tally, :zero) + :one, fresh = if_not_exists(fresh, :zero)",
    )
    .unwrap();
    assert_eq!(get(&it, "tally"), Some(&n("2")));
    assert_eq!(get(&it, "fresh"), Some(&n("0")));
    let it = apply("SET letters = list_append(letters, :tail), alt = list_append(if_not_exists(alt, :empty), :tail), front = list_append(:head, letters)").unwrap();
    assert_eq!(
        get(&it, "letters"),
        Some(&l(vec![n("1"), n("2"), n("3"), n("9")]))
    );
    assert_eq!(get(&it, "alt"), Some(&l(vec![n("9")])));
    assert_eq!(
        get(&it, "front"),
        Some(&l(vec![n("0"), n("1"), n("2"), n("3")]))
    );
}

#[test]
fn remove_uses_original_indexes() {
    let input = Input::default().names(&[("#n", "label")]);
    let u = input
        .update("REMOVE #n, info.a, letters[0], letters[2], nope, letters[7]")
        .unwrap();
    let mut it = base();
    u.apply(&mut it).unwrap();
    assert_eq!(get(&it, "label"), None);
    assert_eq!(get(&it, "info"), Some(&m(vec![])));
    assert_eq!(get(&it, "letters"), Some(&l(vec![n("2")])));
}

#[test]
fn set_and_remove_in_one_list() {
    let it = apply("SET letters[2] = :ten REMOVE letters[0]").unwrap();
    assert_eq!(get(&it, "letters"), Some(&l(vec![n("2"), n("10")])));
}

#[test]
fn add_numbers_and_sets() {
    let it = apply("ADD tally :ten, newCount :two, tags :more, nums :ns").unwrap();
    assert_eq!(get(&it, "tally"), Some(&n("11")));
    assert_eq!(get(&it, "newCount"), Some(&n("2")));
    assert_eq!(get(&it, "tags"), Some(&ss(&["a", "b", "c"])));
    assert_eq!(get(&it, "nums"), Some(&ns(&["1"])));
    let it = apply("ADD info.c :one").unwrap();
    assert_eq!(
        get(&it, "info"),
        Some(&m(vec![("a", n("1")), ("c", n("1"))]))
    );
}

#[test]
fn delete_from_sets() {
    let it = apply("DELETE tags :ta").unwrap();
    assert_eq!(get(&it, "tags"), Some(&ss(&["b"])));
    let it = apply("DELETE tags :tab, nope :ta").unwrap();
    assert_eq!(get(&it, "tags"), None);
    assert_eq!(get(&it, "nope"), None);
}

#[test]
fn all_clauses_together() {
    let it = apply("SET a = :a REMOVE info ADD tally :one DELETE tags :ta").unwrap();
    assert_eq!(get(&it, "a"), Some(&s("A")));
    assert_eq!(get(&it, "info"), None);
    assert_eq!(get(&it, "tally"), Some(&n("2")));
    assert_eq!(get(&it, "tags"), Some(&ss(&["b"])));
}

#[test]
fn runtime_errors() {
    let missing = "The provided expression refers to an attribute that does not exist in the item";
    let bad_type = "An operand in the update expression has an incorrect data type";
    let bad_path = "The document path provided in the update expression is invalid for update";
    let cases = [
        ("SET a = absent + :one", missing),
        ("SET a = absent", missing),
        ("SET a = label + :one", bad_type),
        ("SET a = list_append(tally, :tail)", bad_type),
        ("ADD label :one", bad_type),
        ("ADD tags :ns", bad_type),
        ("DELETE tally :ta", bad_type),
        ("SET nope.child = :one", bad_path),
        ("SET tally[0] = :one", bad_path),
        ("SET tally.b = :one", bad_path),
        ("SET letters.b = :one", bad_path),
        ("SET a = :a, nope.child = :one", bad_path),
    ];
    for (text, want) in cases {
        assert_eq!(apply(text).unwrap_err(), want, "{text}");
    }
    let overflow = apply("SET a = :big + :big").unwrap_err();
    assert!(overflow.contains("Number overflow"), "{overflow}");
}

#[test]
fn updated_paths_and_projection() {
    let u = input().update("SET info.a = :ten, z = :ten").unwrap();
    let old = base();
    let mut new = old.clone();
    u.apply(&mut new).unwrap();
    let paths: Vec<Path> = u.updated_paths().into_iter().cloned().collect();
    assert_eq!(
        project(&old, &paths),
        item(vec![("info", m(vec![("a", n("1"))]))])
    );
    assert_eq!(
        project(&new, &paths),
        item(vec![("info", m(vec![("a", n("10"))])), ("z", n("10"))])
    );
}

#[test]
fn update_round_trips_through_serde() {
    let u = input()
        .update("SET a = list_append(if_not_exists(a, :empty), :tail) REMOVE b ADD c :one")
        .unwrap();
    let json = serde_json::to_string(&u).unwrap();
    let back: UpdateExpr = serde_json::from_str(&json).unwrap();
    assert_eq!(back, u);
}
