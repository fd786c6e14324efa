//! Tests: evaluating conditions against items, and projecting items.

use super::tests_util::*;
use super::*;
use crate::value::{AttributeValue, Item};

fn sample() -> Item {
    item(vec![
        ("pk", s("p")),
        ("num", n("10")),
        ("str", s("banana")),
        ("bin", b(&[1, 2, 3])),
        ("flag", AttributeValue::Bool(true)),
        ("nothing", AttributeValue::Null),
        ("tags", ss(&["red", "green"])),
        ("nums", ns(&["1", "5"])),
        ("letters", l(vec![s("a"), s("b"), n("3")])),
        (
            "info",
            m(vec![
                ("nested", m(vec![("deep", s("x"))])),
                (
                    "arr",
                    l(vec![m(vec![("v", n("1"))]), m(vec![("v", n("2"))])]),
                ),
            ]),
        ),
        ("uni", s("é\u{1D11E}")),
    ])
}

fn input() -> Input {
    Input::values(vec![
        (":nine", n("9")),
        (":ten", n("10.0")),
        (":hundred", n("100")),
        (":apple", s("apple")),
        (":banana", s("banana")),
        (":ban", s("ban")),
        (":nan", s("nan")),
        (":red", s("red")),
        (":blue", s("blue")),
        (":five", n("5")),
        (":three", n("3")),
        (":two", n("2")),
        (":six", n("6")),
        (":x", s("x")),
        (":a", s("a")),
        (":t", AttributeValue::Bool(true)),
        (":b12", b(&[1, 2])),
        (":b23", b(&[2, 3])),
        (":ss", s("SS")),
        (":null", s("NULL")),
        (":s", s("S")),
        (":tags", ss(&["green", "red"])),
    ])
}

fn holds(text: &str) -> bool {
    input().cond(text).unwrap().evaluate(&sample())
}

#[test]
fn comparisons() {
    let truths = [
        ("num > :nine", true),
        ("num < :hundred", true),
        ("num = :ten", true),
        ("num >= :ten AND num <= :ten", true),
        ("str > :apple", true),
        ("str < :apple", false),
        ("str = :banana", true),
        ("str > :nine", false),
        ("str <> :nine", true),
        ("absent <> :nine", true),
        ("absent < :nine", false),
        ("absent = :nine", false),
        ("flag = :t", true),
        ("tags = :tags", true),
        ("bin < :b23", true),
        ("letters[0] = :a", true),
        ("info.nested.deep = :x", true),
        ("info.arr[1].v = :two", true),
    ];
    for (text, want) in truths {
        assert_eq!(holds(text), want, "{text}");
    }
}

#[test]
fn between_and_in() {
    assert!(holds("num BETWEEN :ten AND :hundred"));
    assert!(!holds("num BETWEEN :hundred AND :hundred"));
    assert!(!holds("absent BETWEEN :nine AND :ten"));
    assert!(holds("str IN (:apple, :banana)"));
    assert!(!holds("str IN (:apple)"));
    assert!(!holds("absent IN (:apple)"));
}

#[test]
fn logic_and_precedence() {
    // true OR (true AND false)
    assert!(holds("num = :ten OR num = :ten AND num = :nine"));
    // (true OR true) AND false
    assert!(!holds("(num = :ten OR num = :ten) AND num = :nine"));
    // (NOT false) AND true
    assert!(holds("NOT num = :nine AND num = :ten"));
    assert!(!holds("NOT (num = :ten)"));
}

#[test]
fn functions() {
    let truths = [
        (
            "attribute_exists(num) AND attribute_not_exists(absent)",
            true,
        ),
        ("attribute_exists(nothing)", true),
        ("attribute_not_exists(letters[9])", true),
        (
            "attribute_type(tags, :ss) AND attribute_type(nothing, :null)",
            true,
        ),
        ("attribute_type(num, :s)", false),
        ("begins_with(str, :ban)", true),
        ("begins_with(str, :nan)", false),
        ("begins_with(bin, :b12)", true),
        ("begins_with(num, :ban)", false),
        ("contains(str, :nan)", true),
        ("contains(tags, :red)", true),
        ("contains(tags, :blue)", false),
        ("contains(nums, :five)", true),
        ("contains(letters, :three)", true),
        ("contains(bin, :b23)", true),
        ("contains(absent, :red)", false),
    ];
    for (text, want) in truths {
        assert_eq!(holds(text), want, "{text}");
    }
}

#[test]
fn size() {
    let truths = [
        ("size(str) = :six", true),
        (
            "size(tags) = :two AND size(letters) = :three AND size(info) = :two",
            true,
        ),
        ("size(bin) = :three", true),
        // UTF-16 code units: 1 + 2.
        ("size(uni) = :three", true),
        ("size(absent) = :two", false),
        ("size(absent) <> :two", false),
        ("size(num) = :two", false),
        ("NOT size(absent) = :two", true),
    ];
    for (text, want) in truths {
        assert_eq!(holds(text), want, "{text}");
    }
}

#[test]
fn absent_item() {
    let empty = Item::new();
    let c = input().cond("attribute_not_exists(pk)").unwrap();
    assert!(c.evaluate(&empty));
    let c = input().cond("attribute_exists(pk) OR num = :ten").unwrap();
    assert!(!c.evaluate(&empty));
}

#[test]
fn sort_key_conditions() {
    assert!(SortKeyCondition::Between(n("1"), n("3")).matches(&n("2")));
    assert!(!SortKeyCondition::Lt(n("1")).matches(&n("1")));
    assert!(SortKeyCondition::BeginsWith(s("ab")).matches(&s("abc")));
    assert!(!SortKeyCondition::Eq(s("1")).matches(&n("1")));
}

#[test]
fn projection() {
    let item = sample();
    let paths = Input::default()
        .projection("num, info.nested, letters[2], letters[0], info.arr[1].v, absent, str.x")
        .unwrap();
    let got = project(&item, &paths);
    let want = super::tests_util::item(vec![
        ("num", n("10")),
        (
            "info",
            m(vec![
                ("nested", m(vec![("deep", s("x"))])),
                ("arr", l(vec![m(vec![("v", n("2"))])])),
            ]),
        ),
        ("letters", l(vec![s("a"), n("3")])),
    ]);
    assert_eq!(got, want);
    assert!(project(&Item::new(), &paths).is_empty());
}

#[test]
fn condition_round_trips_through_serde() {
    let c = input()
        .cond("size(str) = :six AND contains(tags, :red)")
        .unwrap();
    let json = serde_json::to_string(&c).unwrap();
    let back: Condition = serde_json::from_str(&json).unwrap();
    assert_eq!(back, c);
}
