"""ConditionExpression: comparators, functions, logic, and failure reporting."""
import pytest
from botocore.exceptions import ClientError

from conftest import error_code, error_message

ITEM = {
    "pk": {"S": "c"},
    "n": {"N": "5"},
    "s": {"S": "hello world"},
    "b": {"B": b"\x01\x02\x03"},
    "t": {"BOOL": True},
    "z": {"NULL": True},
    "l": {"L": [{"S": "a"}, {"N": "2"}]},
    "m": {"M": {"child": {"N": "7"}, "inner": {"N": "7"}, "deep": {"M": {"x": {"S": "y"}}}}},
    "ss": {"SS": ["red", "green"]},
    "ns": {"NS": ["1", "2", "3"]},
    "bs": {"BS": [b"\x01"]},
    "status": {"S": "active"},
    "name": {"S": "Rotor"},
}

V = {
    ":n3": {"N": "3"}, ":n5": {"N": "5"}, ":n10": {"N": "10"}, ":hello": {"S": "hello"}, ":world": {"S": "world"},
    ":red": {"S": "red"}, ":blue": {"S": "blue"}, ":two": {"N": "2"}, ":a": {"S": "a"},
    ":S": {"S": "S"}, ":N": {"S": "N"}, ":B": {"S": "B"}, ":BOOL": {"S": "BOOL"}, ":NULL": {"S": "NULL"},
    ":L": {"S": "L"}, ":M": {"S": "M"}, ":SS": {"S": "SS"}, ":NS": {"S": "NS"}, ":BS": {"S": "BS"},
    ":b01": {"B": b"\x01"}, ":true": {"BOOL": True}, ":active": {"S": "active"}, ":n11": {"N": "11"},
    ":seven": {"N": "7"},
}


def check(client, table, cond, values=None, names=None):
    """True when `cond` holds for ITEM (a PutItem of ITEM under `cond` succeeds)."""
    kw = {}
    # only pass the placeholders the condition uses (unused ones are an error)
    if values is None:
        used = {k: v for k, v in V.items() if _uses(cond, k)}
        if used:
            kw["ExpressionAttributeValues"] = used
    elif values:
        kw["ExpressionAttributeValues"] = values
    if names:
        kw["ExpressionAttributeNames"] = names
    try:
        client.put_item(TableName=table, Item=ITEM, ConditionExpression=cond, **kw)
        return True
    except ClientError as e:
        if e.response["Error"]["Code"] == "ConditionalCheckFailedException":
            return False
        raise


def _uses(cond, placeholder):
    import re
    return re.search(re.escape(placeholder) + r"(?![A-Za-z0-9_])", cond) is not None


@pytest.fixture
def table(client, hash_table):
    client.put_item(TableName=hash_table, Item=ITEM)
    return hash_table


@pytest.mark.parametrize("cond,expected", [
    ("n = :n5", True), ("n = :n3", False),
    ("n <> :n3", True), ("n <> :n5", False),
    ("n < :n10", True), ("n < :n5", False),
    ("n <= :n5", True), ("n <= :n3", False),
    ("n > :n3", True), ("n > :n5", False),
    ("n >= :n5", True), ("n >= :n10", False),
    ("s > :hello", True), ("s < :world", True),
    # comparing different types is never true (except <>)
    ("n = :hello", False), ("n < :hello", False), ("n <> :hello", True),
    ("nope = :n5", False), ("nope <> :n5", True),
    ("n BETWEEN :n3 AND :n10", True), ("n BETWEEN :n5 AND :n5", True), ("n BETWEEN :n10 AND :n11", False),
    ("n IN (:n3, :n5)", True), ("n IN (:n3, :n10)", False), ("s IN (:hello, :world)", False),
    ("n = :n5 AND s = :hello", False), ("n = :n5 OR s = :hello", True),
    ("NOT n = :n3", True), ("NOT (n = :n3 OR n = :n5)", False),
    ("(n = :n3 OR n = :n5) AND attribute_exists(s)", True),
    ("n = :n3 OR n = :n5 AND s = :hello", False),  # AND binds tighter than OR
    ("n = :n5 OR n = :n3 AND s = :hello", True),
    ("NOT n = :n3 AND n = :n3", False),  # NOT binds tighter than AND
    ("attribute_exists(n)", True), ("attribute_exists(nope)", False),
    ("attribute_not_exists(nope)", True), ("attribute_not_exists(n)", False),
    ("attribute_exists(m.child)", True), ("attribute_exists(m.nope)", False), ("attribute_exists(l[1])", True),
    ("attribute_exists(l[5])", False), ("attribute_exists(m.deep.x)", True),
    ("m.child = :seven", True), ("l[0] = :a", True), ("l[1] = :two", True),
    ("attribute_type(s, :S)", True), ("attribute_type(n, :N)", True), ("attribute_type(b, :B)", True),
    ("attribute_type(t, :BOOL)", True), ("attribute_type(z, :NULL)", True), ("attribute_type(l, :L)", True),
    ("attribute_type(m, :M)", True), ("attribute_type(ss, :SS)", True), ("attribute_type(ns, :NS)", True),
    ("attribute_type(bs, :BS)", True), ("attribute_type(s, :N)", False), ("attribute_type(nope, :S)", False),
    ("begins_with(s, :hello)", True), ("begins_with(s, :world)", False), ("begins_with(b, :b01)", True),
    ("contains(s, :world)", True), ("contains(s, :blue)", False),
    ("contains(ss, :red)", True), ("contains(ss, :blue)", False), ("contains(ns, :two)", True),
    ("contains(l, :a)", True), ("contains(l, :two)", True), ("contains(bs, :b01)", True),
    ("size(s) = :n11", True), ("size(ss) = :two", True), ("size(l) = :two", True), ("size(m) = :n3", True),
    ("size(b) > :two", True), ("size(ns) BETWEEN :n3 AND :n5", True), ("size(nope) > :two", False),
    ("t = :true", True),
])
def test_condition_semantics(client, table, cond, expected):
    assert check(client, table, cond) is expected, cond


def test_condition_with_reserved_names_via_placeholders(client, table):
    assert check(client, table, "#st = :active AND #nm = :rotor",
                 values={":active": {"S": "active"}, ":rotor": {"S": "Rotor"}},
                 names={"#st": "status", "#nm": "name"})
    assert check(client, table, "#m.#i = :seven", values={":seven": {"N": "7"}}, names={"#m": "m", "#i": "inner"})


def test_put_if_not_exists(client, hash_table):
    item = {"pk": {"S": "once"}, "v": {"N": "1"}}
    client.put_item(TableName=hash_table, Item=item, ConditionExpression="attribute_not_exists(pk)")
    with pytest.raises(ClientError) as e:
        client.put_item(TableName=hash_table, Item={"pk": {"S": "once"}, "v": {"N": "2"}},
                        ConditionExpression="attribute_not_exists(pk)")
    assert error_code(e) == "ConditionalCheckFailedException"
    assert error_message(e) == "The conditional request failed"
    assert "Item" not in e.value.response  # not asked for
    assert client.get_item(TableName=hash_table, Key={"pk": {"S": "once"}})["Item"] == item


def test_return_values_on_condition_check_failure_all_old(client, hash_table):
    item = {"pk": {"S": "k"}, "v": {"N": "1"}, "ss": {"SS": ["a"]}}
    client.put_item(TableName=hash_table, Item=item)
    with pytest.raises(ClientError) as e:
        client.put_item(TableName=hash_table, Item={"pk": {"S": "k"}}, ConditionExpression="attribute_not_exists(pk)",
                        ReturnValuesOnConditionCheckFailure="ALL_OLD")
    assert error_code(e) == "ConditionalCheckFailedException"
    assert e.value.response["Item"] == item
    with pytest.raises(ClientError) as e:
        client.update_item(TableName=hash_table, Key={"pk": {"S": "k"}}, UpdateExpression="SET v = :v",
                           ConditionExpression="v = :x", ExpressionAttributeValues={":v": {"N": "2"}, ":x": {"N": "9"}},
                           ReturnValuesOnConditionCheckFailure="ALL_OLD")
    assert error_code(e) == "ConditionalCheckFailedException"
    assert e.value.response["Item"] == item
    with pytest.raises(ClientError) as e:
        client.delete_item(TableName=hash_table, Key={"pk": {"S": "k"}}, ConditionExpression="v = :x",
                           ExpressionAttributeValues={":x": {"N": "9"}}, ReturnValuesOnConditionCheckFailure="ALL_OLD")
    assert e.value.response["Item"] == item
    # NONE: no item in the error
    with pytest.raises(ClientError) as e:
        client.delete_item(TableName=hash_table, Key={"pk": {"S": "k"}}, ConditionExpression="v = :x",
                           ExpressionAttributeValues={":x": {"N": "9"}}, ReturnValuesOnConditionCheckFailure="NONE")
    assert "Item" not in e.value.response
    # the item did not exist: no Item either
    with pytest.raises(ClientError) as e:
        client.delete_item(TableName=hash_table, Key={"pk": {"S": "absent"}}, ConditionExpression="attribute_exists(pk)",
                           ReturnValuesOnConditionCheckFailure="ALL_OLD")
    assert error_code(e) == "ConditionalCheckFailedException"
    assert "Item" not in e.value.response


def test_condition_on_missing_item(client, hash_table):
    # On a missing item every attribute is absent
    client.put_item(TableName=hash_table, Item={"pk": {"S": "new1"}}, ConditionExpression="attribute_not_exists(x)")
    client.put_item(TableName=hash_table, Item={"pk": {"S": "new2"}}, ConditionExpression="x <> :v",
                    ExpressionAttributeValues={":v": {"N": "1"}})
    with pytest.raises(ClientError) as e:
        client.put_item(TableName=hash_table, Item={"pk": {"S": "new3"}}, ConditionExpression="x = :v",
                        ExpressionAttributeValues={":v": {"N": "1"}})
    assert error_code(e) == "ConditionalCheckFailedException"


@pytest.mark.parametrize("cond,values,names,msg", [
    ("status = :v", {":v": {"S": "x"}}, None,
     "Invalid ConditionExpression: Attribute name is a reserved keyword; reserved keyword: status"),
    ("m.inner = :v", {":v": {"N": "1"}}, None,
     "Invalid ConditionExpression: Attribute name is a reserved keyword; reserved keyword: inner"),
    ("attribute_exists(name)", None, None,
     "Invalid ConditionExpression: Attribute name is a reserved keyword; reserved keyword: name"),
    ("a = :nope", None, None,
     "Invalid ConditionExpression: An expression attribute value used in expression is not defined; "
     "attribute value: :nope"),
    ("#nope = :v", {":v": {"N": "1"}}, None,
     "Invalid ConditionExpression: An expression attribute name used in the document path is not defined; "
     "attribute name: #nope"),
    ("a = = :v", {":v": {"N": "1"}}, None, 'Invalid ConditionExpression: Syntax error; token: "=", near: "= = :v"'),
    ("a = :v AND", {":v": {"N": "1"}}, None, 'Invalid ConditionExpression: Syntax error; token: "<EOF>", near: "AND"'),
    ("(a = :v", {":v": {"N": "1"}}, None, 'Invalid ConditionExpression: Syntax error; token: "<EOF>", near: ":v"'),
    ('attribute_not_exists("Artist")', None, None,
     'Invalid ConditionExpression: Syntax error; token: """, near: "("Artist"'),
    ("foo(a)", None, None, "Invalid ConditionExpression: Invalid function name; function: foo"),
    ("size(a)", None, None,
     "Invalid ConditionExpression: The function is not allowed to be used this way in an expression; function: size"),
    ("attribute_type(a, :t)", {":t": {"S": "X"}}, None,
     "Invalid ConditionExpression: Invalid attribute type name found; type: X, valid types: "
     "{N,BS,L,B,NULL,M,S,SS,NS,BOOL}"),
    ("a BETWEEN :hi AND :lo", {":hi": {"N": "5"}, ":lo": {"N": "1"}}, None,
     "Invalid ConditionExpression: The BETWEEN operator requires upper bound to be greater than or equal to lower "
     "bound; lower bound operand: AttributeValue: {N:5}, upper bound operand: AttributeValue: {N:1}"),
    ("begins_with(a, :n)", {":n": {"N": "1"}}, None,
     "Invalid ConditionExpression: Incorrect operand type for operator or function; operator or function: "
     "begins_with, operand type: N"),
    ("attribute_exists(:v)", {":v": {"N": "1"}}, None,
     "Invalid ConditionExpression: Operator or function requires a document path; operator or function: "
     "attribute_exists"),
    ("if_not_exists(a, :v) = :v", {":v": {"N": "1"}}, None,
     "Invalid ConditionExpression: The function is not allowed in a condition expression; function: if_not_exists"),
    ("", None, None, "Invalid ConditionExpression: The expression can not be empty;"),
    ("attribute_not_exists(pk)", {":u": {"N": "1"}}, None,
     "Value provided in ExpressionAttributeValues unused in expressions: keys: {:u}"),
    ("attribute_not_exists(pk)", None, {"#u": "x"},
     "Value provided in ExpressionAttributeNames unused in expressions: keys: {#u}"),
    ("attribute_not_exists(pk)", {}, None, "ExpressionAttributeValues must not be empty"),
    ("attribute_not_exists(pk)", None, {}, "ExpressionAttributeNames must not be empty"),
    ("a = :u", {"u": {"N": "1"}}, None, 'ExpressionAttributeValues contains invalid key: Syntax error; key: "u"'),
])
def test_condition_expression_errors(client, hash_table, cond, values, names, msg):
    kw = {}
    if values is not None:
        kw["ExpressionAttributeValues"] = values
    if names is not None:
        kw["ExpressionAttributeNames"] = names
    with pytest.raises(ClientError) as e:
        client.put_item(TableName=hash_table, Item={"pk": {"S": "e"}}, ConditionExpression=cond, **kw)
    assert error_code(e) == "ValidationException"
    assert error_message(e) == msg
    assert "Item" not in client.get_item(TableName=hash_table, Key={"pk": {"S": "e"}})


def test_in_operator_limit(client, hash_table):
    vals = {f":v{i}": {"N": str(i)} for i in range(101)}
    with pytest.raises(ClientError) as e:
        client.put_item(TableName=hash_table, Item={"pk": {"S": "e"}},
                        ConditionExpression="a IN (" + ", ".join(list(vals)) + ")", ExpressionAttributeValues=vals)
    assert error_code(e) == "ValidationException"
    assert error_message(e) == ("Invalid ConditionExpression: The IN operator is provided with too many operands; "
                                "number of operands: 101")
    del vals[":v100"]
    client.put_item(TableName=hash_table, Item={"pk": {"S": "e"}, "a": {"N": "99"}})
    client.put_item(TableName=hash_table, Item={"pk": {"S": "e"}},
                    ConditionExpression="a IN (" + ", ".join(list(vals)) + ")", ExpressionAttributeValues=vals)


def test_expression_attribute_values_without_expression(client, hash_table):
    with pytest.raises(ClientError) as e:
        client.put_item(TableName=hash_table, Item={"pk": {"S": "e"}}, ExpressionAttributeValues={":u": {"N": "1"}})
    assert error_code(e) == "ValidationException"
    assert error_message(e) == "ExpressionAttributeValues can only be specified when using expressions: ConditionExpression is null"
    with pytest.raises(ClientError) as e:
        client.put_item(TableName=hash_table, Item={"pk": {"S": "e"}}, ExpressionAttributeNames={"#u": "x"})
    assert error_code(e) == "ValidationException"
    assert error_message(e) == "ExpressionAttributeNames can only be specified when using expressions"


def test_legacy_and_expression_parameters_together(client, hash_table):
    with pytest.raises(ClientError) as e:
        client.put_item(TableName=hash_table, Item={"pk": {"S": "e"}}, ConditionExpression="attribute_not_exists(pk)",
                        Expected={"a": {"Exists": False}})
    assert error_code(e) == "ValidationException"
    assert error_message(e) == ("Can not use both expression and non-expression parameters in the same request: "
                                "Non-expression parameters: {Expected} Expression parameters: {ConditionExpression}")


def test_resource_conditions(resource, hash_table):
    from boto3.dynamodb.conditions import Attr
    table = resource.Table(hash_table)
    table.put_item(Item={"pk": "r", "n": 1, "tags": {"x"}})
    table.put_item(Item={"pk": "r", "n": 2, "tags": {"x"}},
                   ConditionExpression=Attr("n").eq(1) & Attr("tags").contains("x") & Attr("nope").not_exists())
    with pytest.raises(ClientError) as e:
        table.put_item(Item={"pk": "r", "n": 3}, ConditionExpression=Attr("n").between(5, 9) | Attr("n").is_in([7, 8]))
    assert error_code(e) == "ConditionalCheckFailedException"
    assert table.get_item(Key={"pk": "r"})["Item"]["n"] == 2
