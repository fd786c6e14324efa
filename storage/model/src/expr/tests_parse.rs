//! Tests: parsing and validation of every expression kind, accepted and rejected, with
//! DynamoDB's messages.

use super::tests_util::*;
use super::*;
use crate::value::{AttributeValue, ValueType};

fn vals() -> Input {
    Input::values(vec![
        (":v", n("1")),
        (":w", n("2")),
        (":s", s("x")),
        (":l", l(vec![n("1")])),
        (":ss", ss(&["a"])),
        (":t", s("SS")),
    ])
}

fn cond_err(text: &str) -> String {
    vals().cond(text).unwrap_err()
}

fn path(elems: &[&str]) -> Path {
    Path(
        elems
            .iter()
            .map(|e| match e.parse::<usize>() {
                Ok(i) => PathElem::Index(i),
                Err(_) => PathElem::Attr((*e).to_owned()),
            })
            .collect(),
    )
}

#[test]
fn accepts_conditions() {
    let ok = [
        "a = :v",
        "a.b[2].c <> :v",
        "a < :v AND b <= :v OR c > :v AND NOT d >= :v",
        "a BETWEEN :v AND :w",
        "a IN (:v, :w, :s)",
        "attribute_exists(a) AND attribute_not_exists(b.c)",
        "attribute_type(a, :t)",
        "begins_with(a, :s) OR contains(a, :v)",
        "size(a) > :v",
        "(size(a)) > :v",
        ":v < size(a)",
        "(a = :v)",
        "(a) = (:v)",
        "NOT (a = :v OR b = :v)",
        "NOT NOT a = :v",
        "a between :v and :w or a in (:v)",
        "attribute_exists (a)",
    ];
    for text in ok {
        assert!(vals().cond(text).is_ok(), "{text}: {:?}", vals().cond(text));
    }
}

#[test]
fn resolves_names_and_values() {
    let input = Input::values(vec![(":v", n("1"))]).names(&[("#a", "x.y"), ("#b", "status")]);
    let c = input.cond("#a.#b[1] = :v").unwrap();
    let expected = Condition::Compare(
        Comparator::Eq,
        Operand::Path(path(&["x.y", "status", "1"])),
        Operand::Value(n("1")),
    );
    assert_eq!(c, expected);
    let c = vals().cond("attribute_type(a, :t)").unwrap();
    assert_eq!(c, Condition::AttributeType(path(&["a"]), ValueType::Ss));
}

#[test]
fn rejects_condition_syntax() {
    let cases = [
        ("a = = :v", "Syntax error; token: \"=\", near: \"= = :v\""),
        (
            "a = :v AND",
            "Syntax error; token: \"<EOF>\", near: \"AND\"",
        ),
        ("(a = :v", "Syntax error; token: \"<EOF>\", near: \":v\""),
        (
            "attribute_not_exists(\"Artist\")",
            "Syntax error; token: \"\"\", near: \"(\"Artist\"",
        ),
        ("a >", "Syntax error; token: \"<EOF>\", near: \">\""),
        (
            "_hidden = :v",
            "Syntax error; token: \"_\", near: \"_hidden\"",
        ),
        ("a = :v b", "Syntax error; token: \"b\", near: \":v b\""),
        (
            "attribute_type()",
            "Syntax error; token: \")\", near: \"()\"",
        ),
    ];
    for (text, msg) in cases {
        assert_eq!(
            cond_err(text),
            format!("Invalid ConditionExpression: {msg}"),
            "{text}"
        );
    }
}

#[test]
fn rejects_condition_semantics() {
    let cases = [
        ("status = :v", "Attribute name is a reserved keyword; reserved keyword: status"),
        ("attribute_exists(name)", "Attribute name is a reserved keyword; reserved keyword: name"),
        ("a = :nope", "An expression attribute value used in expression is not defined; attribute value: :nope"),
        ("#nope = :v", "An expression attribute name used in the document path is not defined; attribute name: #nope"),
        ("foo(a)", "Invalid function name; function: foo"),
        ("ATTRIBUTE_EXISTS(a)", "Invalid function name; function: ATTRIBUTE_EXISTS"),
        ("size(a)", "The function is not allowed to be used this way in an expression; function: size"),
        ("begins_with(a, :s) = :v", "The function is not allowed to be used this way in an expression; function: begins_with"),
        ("if_not_exists(a, :v) = :v", "The function is not allowed in a condition expression; function: if_not_exists"),
        ("attribute_exists(:v)", "Operator or function requires a document path; operator or function: attribute_exists"),
        ("attribute_type(a, :v)", "Incorrect operand type for operator or function; operator or function: attribute_type, operand type: N"),
        ("begins_with(a, :v)", "Incorrect operand type for operator or function; operator or function: begins_with, operand type: N"),
        ("size(:v) = :v", "Incorrect operand type for operator or function; operator or function: size, operand type: N"),
        ("size(a, b) = :v", "Incorrect number of operands for operator or function; operator or function: size, number of operands: 2"),
        ("contains(a)", "Incorrect number of operands for operator or function; operator or function: contains, number of operands: 1"),
        ("a = a", "The first operand must be distinct from the remaining operands for this operator or function; operator: =, first operand: [a]"),
        ("begins_with(a.b, a.b)", "The first operand must be distinct from the remaining operands for this operator or function; operator: begins_with, first operand: [a, b]"),
        ("a < :l", "Incorrect operand type for operator or function; operator or function: <, operand type: LIST"),
        ("a >= :ss", "Incorrect operand type for operator or function; operator or function: >=, operand type: STRING_SET"),
        ("a BETWEEN :w AND :v", "The BETWEEN operator requires upper bound to be greater than or equal to lower bound; lower bound operand: AttributeValue: {N:2}, upper bound operand: AttributeValue: {N:1}"),
        ("a BETWEEN :v AND :s", "The BETWEEN operator requires same data type for lower and upper bounds; lower bound operand: AttributeValue: {N:1}, upper bound operand: AttributeValue: {S:x}"),
        ("((a = :v))", "The expression has redundant parentheses;"),
        ("((a)) = :v", "The expression has redundant parentheses;"),
    ];
    for (text, msg) in cases {
        assert_eq!(
            cond_err(text),
            format!("Invalid ConditionExpression: {msg}"),
            "{text}"
        );
    }
    let bad_type = Input::values(vec![(":t", s("X"))]).cond("attribute_type(a, :t)");
    assert_eq!(
        bad_type.unwrap_err(),
        "Invalid ConditionExpression: Invalid attribute type name found; type: X, valid types: {N,BS,L,B,NULL,M,S,SS,NS,BOOL}"
    );
}

#[test]
fn ranks_errors_like_dynamodb() {
    // A reserved word beats an undefined value, wherever they are.
    assert_eq!(
        cond_err("a = :nope AND status = :v"),
        "Invalid ConditionExpression: Attribute name is a reserved keyword; reserved keyword: status"
    );
    // Among comparisons' own errors, the first comparison's wins.
    assert_eq!(
        cond_err("begins_with(a, :v) AND b = :nope"),
        "Invalid ConditionExpression: Incorrect operand type for operator or function; operator or function: begins_with, operand type: N"
    );
}

#[test]
fn limits_in_operands() {
    let pairs: Vec<(String, AttributeValue)> =
        (0..101).map(|i| (format!(":v{i}"), n("1"))).collect();
    let input = Input::values(pairs.iter().map(|(k, v)| (k.as_str(), v.clone())).collect());
    let names: Vec<&str> = pairs.iter().map(|(k, _)| k.as_str()).collect();
    let text = format!("a IN ({})", names.join(", "));
    assert_eq!(
        input.cond(&text).unwrap_err(),
        "Invalid ConditionExpression: The IN operator is provided with too many operands; number of operands: 101"
    );
    let text = format!("a IN ({})", names[..100].join(", "));
    let mut p = input.parser();
    assert!(p.condition(&text, ExprKind::Filter).is_ok());
}

#[test]
fn empty_expressions() {
    let input = vals();
    let mut p = input.parser();
    let e = |r: crate::error::Result<()>| msg(r.unwrap_err());
    assert_eq!(
        e(p.condition("", ExprKind::Filter).map(drop)),
        "Invalid FilterExpression: The expression can not be empty;"
    );
    assert_eq!(
        e(p.update("").map(drop)),
        "Invalid UpdateExpression: The expression can not be empty;"
    );
    assert_eq!(
        e(p.projection("").map(drop)),
        "Invalid ProjectionExpression: The expression can not be empty;"
    );
    assert_eq!(
        e(p.key_condition("").map(drop)),
        "Invalid KeyConditionExpression: The expression can not be empty;"
    );
}

#[test]
fn unused_names_and_values() {
    let input = Input::values(vec![(":a", n("1")), (":b", n("2")), (":c", n("3"))])
        .names(&[("#n", "x"), ("#m", "y")]);
    let mut p = input.parser();
    p.condition("#n = :a", ExprKind::Condition).unwrap();
    p.update("SET y = :b").unwrap();
    assert_eq!(
        msg(p.finish().unwrap_err()),
        "Value provided in ExpressionAttributeNames unused in expressions: keys: {#m}"
    );
    let mut p = input.parser();
    p.condition("#n = :a", ExprKind::Condition).unwrap();
    p.projection("#m").unwrap();
    assert_eq!(
        msg(p.finish().unwrap_err()),
        "Value provided in ExpressionAttributeValues unused in expressions: keys: {:b, :c}"
    );
    let mut p = input.parser();
    p.update("SET #n = :a + :b, #m = :c").unwrap();
    assert!(p.finish().is_ok());
}

#[test]
fn validates_input_maps() {
    let empty = Input {
        names: Some(Default::default()),
        values: None,
    };
    let e = |i: &Input| msg(i.parser_input().validate().unwrap_err());
    assert_eq!(e(&empty), "ExpressionAttributeNames must not be empty");
    let bad = Input::values(vec![("u", n("1"))]);
    assert_eq!(
        e(&bad),
        "ExpressionAttributeValues contains invalid key: Syntax error; key: \"u\""
    );
    assert!(vals().parser_input().validate().is_ok());
}

impl Input {
    fn parser_input(&self) -> ExprInput<'_> {
        ExprInput {
            names: self.names.as_ref(),
            values: self.values.as_ref(),
        }
    }
}

#[test]
fn projections() {
    let input = Input::default().names(&[("#n", "name")]);
    assert_eq!(
        input.projection("a, #n.b[3], c[0][1]").unwrap(),
        vec![
            path(&["a"]),
            path(&["name", "b", "3"]),
            path(&["c", "0", "1"])
        ]
    );
    let cases = [
        ("a,,b", "Syntax error; token: \",\", near: \",,b\""),
        ("name", "Attribute name is a reserved keyword; reserved keyword: name"),
        ("m, m.b", "Two document paths overlap with each other; must remove or rewrite one of these paths; path one: [m], path two: [m, b]"),
        ("l[0], l.b", "Two document paths conflict with each other; must remove or rewrite one of these paths; path one: [l, [0]], path two: [l, b]"),
        ("a, a", "Two document paths overlap with each other; must remove or rewrite one of these paths; path one: [a], path two: [a]"),
        ("#x", "An expression attribute name used in the document path is not defined; attribute name: #x"),
        ("l[a]", "Syntax error; token: \"a\", near: \"[a]\""),
    ];
    for (text, m) in cases {
        assert_eq!(
            input.projection(text).unwrap_err(),
            format!("Invalid ProjectionExpression: {m}"),
            "{text}"
        );
    }
}

#[test]
fn update_parsing() {
    let u = vals().update("SET a = b + :v, c[1] = list_append(if_not_exists(c, :l), :l) REMOVE d ADD e :v DELETE f :ss").unwrap();
    assert_eq!(u.actions.len(), 5);
    assert_eq!(u.top_level_attributes(), vec!["a", "c", "d", "e", "f"]);
    assert_eq!(
        u.actions[0],
        UpdateAction::Set(
            path(&["a"]),
            SetValue::Plus(
                UpdateOperand::Path(path(&["b"])),
                UpdateOperand::Value(n("1"))
            )
        )
    );
    assert!(vals().update("set a = (b - :v) remove c").is_ok());
    assert!(vals().update("SET a = (b) + (:v)").is_ok());
    assert!(vals()
        .update("SET a = ((b) + :v), c = list_append((:l), :l)")
        .is_ok());
    assert!(vals()
        .update("SET a = if_not_exists(b, if_not_exists(c, :v))")
        .is_ok());
}

#[test]
fn rejects_updates() {
    let cases = [
        ("SET a = :v SET b = :v", "The \"SET\" section can only be used once in an update expression;"),
        ("SET a = :v REMOVE a", "Two document paths overlap with each other; must remove or rewrite one of these paths; path one: [a], path two: [a]"),
        ("SET m = :v, m.b = :v", "Two document paths overlap with each other; must remove or rewrite one of these paths; path one: [m], path two: [m, b]"),
        ("SET l[0] = :v REMOVE l.b", "Two document paths conflict with each other; must remove or rewrite one of these paths; path one: [l, [0]], path two: [l, b]"),
        ("SET a :v", "Syntax error; token: \":v\", near: \"a :v\""),
        ("PUT a = :v", "Syntax error; token: \"PUT\", near: \"PUT a\""),
        ("SET", "Syntax error; token: \"<EOF>\", near: \"SET\""),
        ("ADD hits : incr", "Syntax error; token: \":\", near: \"hits : incr\""),
        ("SET a = foo(:v)", "Invalid function name; function: foo"),
        ("SET a = size(b)", "The function is not allowed in an update expression; function: size"),
        ("SET a = attribute_exists(b)", "The function is not allowed in an update expression; function: attribute_exists"),
        ("SET a = if_not_exists(:v, a)", "Operator or function requires a document path; operator or function: if_not_exists"),
        ("SET a = list_append(a, :v)", "Incorrect operand type for operator or function; operator or function: list_append, operand type: N"),
        ("SET a = list_append(a)", "Incorrect number of operands for operator or function; operator or function: list_append, number of operands: 1"),
        ("SET a = b + :s", "Incorrect operand type for operator or function; operator or function: +, operand type: S"),
        ("SET a = :nope", "An expression attribute value used in expression is not defined; attribute value: :nope"),
        ("SET #nope = :v", "An expression attribute name used in the document path is not defined; attribute name: #nope"),
        ("SET name = :v", "Attribute name is a reserved keyword; reserved keyword: name"),
        ("ADD n :s", "Incorrect operand type for operator or function; operator: ADD, operand type: STRING, typeSet: ALLOWED_FOR_ADD_OPERAND"),
        ("ADD n :l", "Incorrect operand type for operator or function; operator: ADD, operand type: LIST, typeSet: ALLOWED_FOR_ADD_OPERAND"),
        ("DELETE ss :s", "Incorrect operand type for operator or function; operator: DELETE, operand type: STRING, typeSet: ALLOWED_FOR_DELETE_OPERAND"),
        ("DELETE ss :v", "Incorrect operand type for operator or function; operator: DELETE, operand type: NUMBER, typeSet: ALLOWED_FOR_DELETE_OPERAND"),
        // As DynamoDB Local 1.25 answers them (probed by hand).
        ("SET a = ((:v))", "The expression has redundant parentheses;"),
        ("SET a = ((:v + :v))", "The expression has redundant parentheses;"),
        ("SET a = list_append(((:l)), :l)", "The expression has redundant parentheses;"),
        ("SET a = ((:v)) REMOVE name", "The expression has redundant parentheses;"),
        ("SET a = list_append(list_append(:l, :l), :l)", "The function is not allowed to be used this way in an expression; function: list_append"),
    ];
    for (text, m) in cases {
        assert_eq!(
            vals().update(text).unwrap_err(),
            format!("Invalid UpdateExpression: {m}"),
            "{text}"
        );
    }
}

#[test]
fn key_conditions() {
    let input = Input::values(vec![
        (":p", s("p")),
        (":a", n("1")),
        (":b", n("3")),
        (":s", s("x")),
    ])
    .names(&[("#k", "pk")]);
    let kc = input.key("#k = :p AND sk BETWEEN :a AND :b").unwrap();
    assert_eq!(
        kc.conditions,
        vec![
            ("pk".to_owned(), SortKeyCondition::Eq(s("p"))),
            ("sk".to_owned(), SortKeyCondition::Between(n("1"), n("3"))),
        ]
    );
    let kc = input.key("(begins_with(sk, :s)) AND (:p = pk)").unwrap();
    assert_eq!(
        kc.for_schema("pk", Some("sk")).unwrap(),
        (s("p"), Some(SortKeyCondition::BeginsWith(s("x"))))
    );
    let kc = input.key(":a < sk AND pk = :p").unwrap();
    assert_eq!(
        kc.conditions[0],
        ("sk".to_owned(), SortKeyCondition::Gt(n("1")))
    );
    assert_eq!(
        input
            .key("pk = :p")
            .unwrap()
            .for_schema("pk", None)
            .unwrap(),
        (s("p"), None)
    );
}

#[test]
fn rejects_key_conditions() {
    let input = Input::values(vec![
        (":p", s("p")),
        (":a", n("1")),
        (":b", n("3")),
        (":s", s("x")),
    ]);
    let cases = [
        ("pk = :p OR sk = :a", "Invalid operator used in KeyConditionExpression: OR"),
        ("NOT pk = :p", "Invalid operator used in KeyConditionExpression: NOT"),
        ("pk = :p AND sk <> :a", "Invalid operator used in KeyConditionExpression: <>"),
        ("pk = :p AND sk IN (:a)", "Invalid operator used in KeyConditionExpression: IN"),
        ("pk = :p AND contains(sk, :a)", "Invalid operator used in KeyConditionExpression: contains"),
        ("pk = :p AND attribute_exists(sk)", "Invalid operator used in KeyConditionExpression: attribute_exists"),
        ("pk = :p AND sk > :a AND sk < :b", "KeyConditionExpressions must only contain one condition per key"),
        ("pk = :p AND size(sk) > :a", "KeyConditionExpressions cannot contain nested operations"),
        ("pk.x = :p", "KeyConditionExpressions cannot have conditions on nested attributes"),
        ("pk = sk", "Invalid condition in KeyConditionExpression: Multiple attribute names used in one condition"),
        (":p = :a", "Invalid condition in KeyConditionExpression: No key attribute specified"),
        ("pk = :p AND begins_with(sk, :a)", "Invalid KeyConditionExpression: Incorrect operand type for operator or function; operator or function: begins_with, operand type: N"),
        ("pk = :p AND data = :a", "Invalid KeyConditionExpression: Attribute name is a reserved keyword; reserved keyword: data"),
        ("pk = :p AND sk BETWEEN :b AND :a", "Invalid KeyConditionExpression: The BETWEEN operator requires upper bound to be greater than or equal to lower bound; lower bound operand: AttributeValue: {N:3}, upper bound operand: AttributeValue: {N:1}"),
        ("a = :p AND b = :a AND c = :b", "Conditions can be of length 1 or 2 only"),
    ];
    for (text, m) in cases {
        assert_eq!(input.key(text).unwrap_err(), m, "{text}");
    }
}

#[test]
fn key_conditions_against_a_schema() {
    let input = Input::values(vec![(":p", s("p")), (":a", n("1"))]);
    let schema_err = |text: &str, sk: Option<&str>| {
        msg(input.key(text).unwrap().for_schema("pk", sk).unwrap_err())
    };
    assert_eq!(
        schema_err("pk = :p AND v = :a", Some("sk")),
        "Query condition missed key schema element"
    );
    assert_eq!(
        schema_err("sk = :a", Some("sk")),
        "Query condition missed key schema element"
    );
    assert_eq!(
        schema_err("pk > :p", Some("sk")),
        "Query key condition not supported"
    );
    assert_eq!(
        schema_err("begins_with(pk, :p)", Some("sk")),
        "Query key condition not supported"
    );
    assert_eq!(
        schema_err("pk = :p AND sk = :a", None),
        "Query key condition not supported"
    );
}

#[test]
fn sdk_generated_shapes() {
    // What boto3's condition builders send.
    let input = Input::values(vec![
        (":v0", n("1")),
        (":v1", n("2")),
        (":v2", n("3")),
        (":v3", n("4")),
    ])
    .names(&[("#n0", "n"), ("#n1", "tags"), ("#n2", "nope")]);
    let ok = [
        "((#n0 = :v0 AND contains(#n1, :v1)) AND attribute_not_exists(#n2))",
        "(#n0 BETWEEN :v0 AND :v1 OR #n0 IN (:v2, :v3))",
        "NOT (#n0 = :v0 AND #n1 = :v1)",
    ];
    for text in ok {
        assert!(input.cond(text).is_ok(), "{text}: {:?}", input.cond(text));
    }
    let c = input
        .cond("size(#n1) > :v0 AND #n0 IN (:v1, :v2) OR attribute_exists(#n2)")
        .unwrap();
    assert_eq!(
        c.paths(),
        vec![&path(&["tags"]), &path(&["n"]), &path(&["nope"])]
    );
}
