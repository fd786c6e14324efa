"""UpdateItem: SET/REMOVE/ADD/DELETE, functions, nested paths, ReturnValues."""
import pytest
from botocore.exceptions import ClientError

from conftest import error_code, error_message

K = {"pk": {"S": "u"}}


def _put(client, table, **attrs):
    item = dict(K)
    item.update(attrs)
    client.put_item(TableName=table, Item=item)


def _get(client, table):
    return client.get_item(TableName=table, Key=K, ConsistentRead=True).get("Item")


def test_update_creates_item(client, hash_table):
    client.update_item(TableName=hash_table, Key=K, UpdateExpression="SET a = :v",
                       ExpressionAttributeValues={":v": {"S": "x"}})
    assert _get(client, hash_table) == {"pk": {"S": "u"}, "a": {"S": "x"}}


def test_update_without_expression_creates_key_only_item(client, hash_table):
    client.update_item(TableName=hash_table, Key=K)
    assert _get(client, hash_table) == K


def test_set_arithmetic(client, hash_table):
    _put(client, hash_table, n={"N": "10"}, m={"N": "3"})
    client.update_item(TableName=hash_table, Key=K,
                       UpdateExpression="SET a = n + :one, b = n - :one, c = n - m, d = :one + :one",
                       ExpressionAttributeValues={":one": {"N": "1"}})
    item = _get(client, hash_table)
    assert item["a"] == {"N": "11"}
    assert item["b"] == {"N": "9"}
    assert item["c"] == {"N": "7"}
    assert item["d"] == {"N": "2"}
    client.update_item(TableName=hash_table, Key=K, UpdateExpression="SET n = n + :d",
                       ExpressionAttributeValues={":d": {"N": "0.25"}})
    assert _get(client, hash_table)["n"] == {"N": "10.25"}
    client.update_item(TableName=hash_table, Key=K, UpdateExpression="SET n = n - :d",
                       ExpressionAttributeValues={":d": {"N": "10.25"}})
    # DDB-LOCAL DEPARTURE: DynamoDB Local keeps the BigDecimal scale of an
    # arithmetic result and stores "0.00"; real DynamoDB stores numbers in
    # canonical form ("0"), as it does for every number written by PutItem.
    assert _get(client, hash_table)["n"]["N"] in ("0", "0.00")
    client.update_item(TableName=hash_table, Key=K, UpdateExpression="SET n = :a + :b",
                       ExpressionAttributeValues={":a": {"N": "1.5"}, ":b": {"N": "1.5"}})
    assert _get(client, hash_table)["n"]["N"] in ("3", "3.0")  # same departure


def test_set_arithmetic_on_missing_attribute_fails(client, hash_table):
    _put(client, hash_table)
    with pytest.raises(ClientError) as e:
        client.update_item(TableName=hash_table, Key=K, UpdateExpression="SET a = nope + :one",
                           ExpressionAttributeValues={":one": {"N": "1"}})
    assert error_code(e) == "ValidationException"
    assert error_message(e) == "The provided expression refers to an attribute that does not exist in the item"


def test_set_arithmetic_type_mismatch(client, hash_table):
    _put(client, hash_table, s={"S": "str"})
    with pytest.raises(ClientError) as e:
        client.update_item(TableName=hash_table, Key=K, UpdateExpression="SET a = s + :one",
                           ExpressionAttributeValues={":one": {"N": "1"}})
    assert error_code(e) == "ValidationException"
    assert error_message(e) == "An operand in the update expression has an incorrect data type"


def test_if_not_exists(client, hash_table):
    client.update_item(TableName=hash_table, Key=K,
                       UpdateExpression="SET c = if_not_exists(c, :zero) + :one",
                       ExpressionAttributeValues={":zero": {"N": "0"}, ":one": {"N": "1"}})
    assert _get(client, hash_table)["c"] == {"N": "1"}
    client.update_item(TableName=hash_table, Key=K,
                       UpdateExpression="SET c = if_not_exists(c, :zero) + :one, d = if_not_exists(d, :s)",
                       ExpressionAttributeValues={":zero": {"N": "0"}, ":one": {"N": "1"}, ":s": {"S": "init"}})
    item = _get(client, hash_table)
    assert item["c"] == {"N": "2"}
    assert item["d"] == {"S": "init"}
    client.update_item(TableName=hash_table, Key=K, UpdateExpression="SET d = if_not_exists(d, :s)",
                       ExpressionAttributeValues={":s": {"S": "other"}})
    assert _get(client, hash_table)["d"] == {"S": "init"}


def test_list_append(client, hash_table):
    _put(client, hash_table, l={"L": [{"N": "1"}]})
    client.update_item(TableName=hash_table, Key=K, UpdateExpression="SET l = list_append(l, :tail)",
                       ExpressionAttributeValues={":tail": {"L": [{"N": "2"}, {"N": "3"}]}})
    client.update_item(TableName=hash_table, Key=K, UpdateExpression="SET l = list_append(:head, l)",
                       ExpressionAttributeValues={":head": {"L": [{"N": "0"}]}})
    client.update_item(TableName=hash_table, Key=K,
                       UpdateExpression="SET m = list_append(if_not_exists(m, :empty), :x)",
                       ExpressionAttributeValues={":empty": {"L": []}, ":x": {"L": [{"S": "x"}]}})
    item = _get(client, hash_table)
    assert item["l"] == {"L": [{"N": "0"}, {"N": "1"}, {"N": "2"}, {"N": "3"}]}
    assert item["m"] == {"L": [{"S": "x"}]}


def test_list_append_non_list_operand(client, hash_table):
    _put(client, hash_table, l={"L": []})
    with pytest.raises(ClientError) as e:
        client.update_item(TableName=hash_table, Key=K, UpdateExpression="SET l = list_append(l, :n)",
                           ExpressionAttributeValues={":n": {"N": "1"}})
    assert error_code(e) == "ValidationException"
    assert error_message(e) == ("Invalid UpdateExpression: Incorrect operand type for operator or function; "
                                "operator or function: list_append, operand type: N")


def test_remove(client, hash_table):
    _put(client, hash_table, a={"S": "1"}, b={"S": "2"}, l={"L": [{"N": "0"}, {"N": "1"}, {"N": "2"}, {"N": "3"}]},
         m={"M": {"x": {"N": "1"}, "y": {"N": "2"}}})
    client.update_item(TableName=hash_table, Key=K, UpdateExpression="REMOVE a, nope, l[1], l[3], m.x")
    item = _get(client, hash_table)
    assert "a" not in item
    assert item["b"] == {"S": "2"}
    assert item["l"] == {"L": [{"N": "0"}, {"N": "2"}]}
    assert item["m"] == {"M": {"y": {"N": "2"}}}


def test_add_number_and_sets(client, hash_table):
    _put(client, hash_table, n={"N": "5"}, ss={"SS": ["a"]}, ns={"NS": ["1"]})
    client.update_item(TableName=hash_table, Key=K,
                       UpdateExpression="ADD n :d, newn :d, ss :ss, ns :ns, newss :ss",
                       ExpressionAttributeValues={":d": {"N": "-2"}, ":ss": {"SS": ["b", "a"]}, ":ns": {"NS": ["2"]}})
    item = _get(client, hash_table)
    assert item["n"] == {"N": "3"}
    assert item["newn"] == {"N": "-2"}
    assert sorted(item["ss"]["SS"]) == ["a", "b"]
    assert sorted(item["ns"]["NS"]) == ["1", "2"]
    assert sorted(item["newss"]["SS"]) == ["a", "b"]


def test_delete_from_sets(client, hash_table):
    _put(client, hash_table, ss={"SS": ["a", "b", "c"]}, ns={"NS": ["1", "2"]}, bs={"BS": [b"\x01", b"\x02"]})
    client.update_item(TableName=hash_table, Key=K, UpdateExpression="DELETE ss :ss, ns :ns, bs :bs, nope :ss",
                       ExpressionAttributeValues={":ss": {"SS": ["a", "zz"]}, ":ns": {"NS": ["1", "2"]},
                                                  ":bs": {"BS": [b"\x02"]}})
    item = _get(client, hash_table)
    assert sorted(item["ss"]["SS"]) == ["b", "c"]
    assert "ns" not in item  # a set emptied by DELETE disappears
    assert item["bs"] == {"BS": [b"\x01"]}
    assert "nope" not in item


def test_add_and_delete_type_errors(client, hash_table):
    _put(client, hash_table, s={"S": "x"}, ss={"SS": ["a"]}, n={"N": "1"})
    cases = [
        ("ADD s :n", {":n": {"N": "1"}}, "An operand in the update expression has an incorrect data type"),
        ("ADD ss :ns", {":ns": {"NS": ["1"]}}, "An operand in the update expression has an incorrect data type"),
        ("ADD n :s", {":s": {"S": "x"}}, "Invalid UpdateExpression: Incorrect operand type for operator or function; "
                                         "operator: ADD, operand type: STRING, typeSet: ALLOWED_FOR_ADD_OPERAND"),
        ("DELETE n :ss", {":ss": {"SS": ["x"]}}, "An operand in the update expression has an incorrect data type"),
        ("DELETE ss :s", {":s": {"S": "x"}}, "Invalid UpdateExpression: Incorrect operand type for operator or "
                                             "function; operator: DELETE, operand type: STRING, typeSet: "
                                             "ALLOWED_FOR_DELETE_OPERAND"),
    ]
    for expr, values, msg in cases:
        with pytest.raises(ClientError) as e:
            client.update_item(TableName=hash_table, Key=K, UpdateExpression=expr, ExpressionAttributeValues=values)
        assert error_code(e) == "ValidationException", expr
        assert error_message(e) == msg, expr


def test_nested_paths(client, hash_table):
    _put(client, hash_table, a={"M": {"b": {"L": [{"N": "0"}, {"N": "1"}, {"N": "2"}, {"M": {"c": {"S": "old"}}}]}}})
    client.update_item(TableName=hash_table, Key=K, UpdateExpression="SET a.b[3].c = :v, a.b[0] = :z, a.n = :z",
                       ExpressionAttributeValues={":v": {"S": "new"}, ":z": {"N": "9"}})
    item = _get(client, hash_table)
    assert item["a"]["M"]["b"]["L"][3] == {"M": {"c": {"S": "new"}}}
    assert item["a"]["M"]["b"]["L"][0] == {"N": "9"}
    assert item["a"]["M"]["n"] == {"N": "9"}
    # nested names with #placeholders, including dots inside an attribute name
    client.update_item(TableName=hash_table, Key=K, UpdateExpression="SET #a.#b[3].#c = :v, #dotted = :v",
                       ExpressionAttributeNames={"#a": "a", "#b": "b", "#c": "c", "#dotted": "x.y"},
                       ExpressionAttributeValues={":v": {"S": "named"}})
    item = _get(client, hash_table)
    assert item["a"]["M"]["b"]["L"][3] == {"M": {"c": {"S": "named"}}}
    assert item["x.y"] == {"S": "named"}
    # SET past the end of a list appends
    client.update_item(TableName=hash_table, Key=K, UpdateExpression="SET a.b[10] = :v",
                       ExpressionAttributeValues={":v": {"S": "end"}})
    lst = _get(client, hash_table)["a"]["M"]["b"]["L"]
    assert len(lst) == 5 and lst[4] == {"S": "end"}


def test_nested_path_invalid_parent(client, hash_table):
    _put(client, hash_table, n={"N": "1"})
    for expr in ("SET nope.b = :v", "SET n[0] = :v", "SET n.b = :v"):
        with pytest.raises(ClientError) as e:
            client.update_item(TableName=hash_table, Key=K, UpdateExpression=expr,
                               ExpressionAttributeValues={":v": {"N": "1"}})
        assert error_code(e) == "ValidationException", expr
        assert error_message(e) == "The document path provided in the update expression is invalid for update", expr


def test_all_clauses_together(client, hash_table):
    _put(client, hash_table, a={"N": "1"}, r={"S": "x"}, ss={"SS": ["a", "b"]})
    client.update_item(TableName=hash_table, Key=K, UpdateExpression="SET a = a + :one REMOVE r ADD c :one DELETE ss :a",
                       ExpressionAttributeValues={":one": {"N": "1"}, ":a": {"SS": ["a"]}})
    item = _get(client, hash_table)
    assert item == {"pk": {"S": "u"}, "a": {"N": "2"}, "c": {"N": "1"}, "ss": {"SS": ["b"]}}


def test_return_values(client, hash_table):
    _put(client, hash_table, a={"N": "1"}, b={"S": "keep"})
    upd = dict(TableName=hash_table, Key=K, UpdateExpression="SET a = a + :one, c = :c",
               ExpressionAttributeValues={":one": {"N": "1"}, ":c": {"S": "new"}})
    r = client.update_item(ReturnValues="NONE", **upd)
    assert "Attributes" not in r
    r = client.update_item(ReturnValues="ALL_OLD", **upd)
    assert r["Attributes"] == {"pk": {"S": "u"}, "a": {"N": "2"}, "b": {"S": "keep"}, "c": {"S": "new"}}
    r = client.update_item(ReturnValues="UPDATED_OLD", **upd)
    assert r["Attributes"] == {"a": {"N": "3"}, "c": {"S": "new"}}
    r = client.update_item(ReturnValues="ALL_NEW", **upd)
    assert r["Attributes"] == {"pk": {"S": "u"}, "a": {"N": "5"}, "b": {"S": "keep"}, "c": {"S": "new"}}
    r = client.update_item(ReturnValues="UPDATED_NEW", **upd)
    assert r["Attributes"] == {"a": {"N": "6"}, "c": {"S": "new"}}


def test_return_values_updated_old_on_new_attribute(client, hash_table):
    _put(client, hash_table)
    r = client.update_item(TableName=hash_table, Key=K, UpdateExpression="SET x = :v",
                           ExpressionAttributeValues={":v": {"N": "1"}}, ReturnValues="UPDATED_OLD")
    assert "Attributes" not in r or r["Attributes"] == {}
    r = client.update_item(TableName=hash_table, Key=K, UpdateExpression="REMOVE x", ReturnValues="UPDATED_OLD")
    assert r["Attributes"] == {"x": {"N": "1"}}


def test_return_values_nested_updated(client, hash_table):
    _put(client, hash_table, m={"M": {"a": {"N": "1"}, "b": {"N": "2"}}})
    # DynamoDB Local returns the whole top-level attribute that contains an
    # updated nested path; the documented contract ("only the updated
    # attributes") also admits returning just the updated sub-path, so both
    # shapes are accepted.
    r = client.update_item(TableName=hash_table, Key=K, UpdateExpression="SET m.a = :v",
                           ExpressionAttributeValues={":v": {"N": "5"}}, ReturnValues="UPDATED_NEW")
    assert r["Attributes"] in ({"m": {"M": {"a": {"N": "5"}, "b": {"N": "2"}}}}, {"m": {"M": {"a": {"N": "5"}}}})
    r = client.update_item(TableName=hash_table, Key=K, UpdateExpression="SET m.a = :v",
                           ExpressionAttributeValues={":v": {"N": "6"}}, ReturnValues="UPDATED_OLD")
    assert r["Attributes"] in ({"m": {"M": {"a": {"N": "5"}, "b": {"N": "2"}}}}, {"m": {"M": {"a": {"N": "5"}}}})


def test_update_with_condition(client, hash_table):
    _put(client, hash_table, v={"N": "1"})
    client.update_item(TableName=hash_table, Key=K, UpdateExpression="SET v = :two", ConditionExpression="v = :one",
                       ExpressionAttributeValues={":one": {"N": "1"}, ":two": {"N": "2"}})
    with pytest.raises(ClientError) as e:
        client.update_item(TableName=hash_table, Key=K, UpdateExpression="SET v = :two",
                           ConditionExpression="v = :one",
                           ExpressionAttributeValues={":one": {"N": "1"}, ":two": {"N": "2"}})
    assert error_code(e) == "ConditionalCheckFailedException"
    assert error_message(e) == "The conditional request failed"
    # update on a missing item with attribute_exists fails and creates nothing
    with pytest.raises(ClientError) as e:
        client.update_item(TableName=hash_table, Key={"pk": {"S": "other"}}, UpdateExpression="SET v = :two",
                           ConditionExpression="attribute_exists(pk)", ExpressionAttributeValues={":two": {"N": "2"}})
    assert error_code(e) == "ConditionalCheckFailedException"
    assert "Item" not in client.get_item(TableName=hash_table, Key={"pk": {"S": "other"}})


@pytest.mark.parametrize("expr", ["SET pk = :v", "REMOVE pk"])
def test_update_key_attribute_rejected(client, hash_table, expr):
    _put(client, hash_table)
    kw = {"ExpressionAttributeValues": {":v": {"S": "z"}}} if ":v" in expr else {}
    with pytest.raises(ClientError) as e:
        client.update_item(TableName=hash_table, Key=K, UpdateExpression=expr, **kw)
    assert error_code(e) == "ValidationException"
    assert error_message(e) == ("One or more parameter values were invalid: Cannot update attribute pk. "
                                "This attribute is part of the key")


def test_update_range_key_attribute_rejected(client, range_table):
    with pytest.raises(ClientError) as e:
        client.update_item(TableName=range_table, Key={"pk": {"S": "a"}, "sk": {"N": "1"}},
                           UpdateExpression="SET sk = :v", ExpressionAttributeValues={":v": {"N": "2"}})
    assert error_code(e) == "ValidationException"
    assert error_message(e) == ("One or more parameter values were invalid: Cannot update attribute sk. "
                                "This attribute is part of the key")


def test_update_item_grows_past_400kb(client, hash_table):
    _put(client, hash_table, a={"S": "x" * 300_000})
    with pytest.raises(ClientError) as e:
        client.update_item(TableName=hash_table, Key=K, UpdateExpression="SET b = :v",
                           ExpressionAttributeValues={":v": {"S": "y" * 200_000}})
    assert error_code(e) == "ValidationException"
    assert error_message(e) == "Item size to update has exceeded the maximum allowed size"


@pytest.mark.parametrize("expr,values,msg", [
    ("SET a = :v SET b = :v", {":v": {"N": "1"}},
     'Invalid UpdateExpression: The "SET" section can only be used once in an update expression;'),
    ("SET a = :v REMOVE a", {":v": {"N": "1"}},
     "Invalid UpdateExpression: Two document paths overlap with each other; must remove or rewrite one of these "
     "paths; path one: [a], path two: [a]"),
    ("SET m = :v, m.b = :v", {":v": {"N": "1"}},
     "Invalid UpdateExpression: Two document paths overlap with each other; must remove or rewrite one of these "
     "paths; path one: [m], path two: [m, b]"),
    ("SET a :v", {":v": {"N": "1"}}, 'Invalid UpdateExpression: Syntax error; token: ":v", near: "a :v"'),
    ("PUT a = :v", {":v": {"N": "1"}}, 'Invalid UpdateExpression: Syntax error; token: "PUT", near: "PUT a"'),
    ("SET a = foo(:v)", {":v": {"N": "1"}}, "Invalid UpdateExpression: Invalid function name; function: foo"),
    ("SET a = size(b)", None,
     "Invalid UpdateExpression: The function is not allowed in an update expression; function: size"),
    ("SET a = if_not_exists(:v, a)", {":v": {"N": "1"}},
     "Invalid UpdateExpression: Operator or function requires a document path; operator or function: if_not_exists"),
    ("SET a = :nope", None,
     "Invalid UpdateExpression: An expression attribute value used in expression is not defined; "
     "attribute value: :nope"),
    ("SET name = :v", {":v": {"N": "1"}},
     "Invalid UpdateExpression: Attribute name is a reserved keyword; reserved keyword: name"),
    ("", None, "Invalid UpdateExpression: The expression can not be empty;"),
])
def test_update_expression_errors(client, hash_table, expr, values, msg):
    _put(client, hash_table)
    kw = {"ExpressionAttributeValues": values} if values else {}
    with pytest.raises(ClientError) as e:
        client.update_item(TableName=hash_table, Key=K, UpdateExpression=expr, **kw)
    assert error_code(e) == "ValidationException"
    assert error_message(e) == msg


def test_set_empty_set_rejected(client, hash_table):
    with pytest.raises(ClientError) as e:
        client.update_item(TableName=hash_table, Key=K, UpdateExpression="SET x = :e",
                           ExpressionAttributeValues={":e": {"SS": []}})
    assert error_code(e) == "ValidationException"
    assert error_message(e) == ("ExpressionAttributeValues contains invalid value: One or more parameter values "
                                "were invalid: An string set  may not be empty for key :e")


def test_update_resource_api(resource, hash_table):
    table = resource.Table(hash_table)
    table.put_item(Item={"pk": "r", "count": 1, "tags": {"a"}})
    r = table.update_item(Key={"pk": "r"}, UpdateExpression="SET #c = #c + :one ADD tags :t",
                          ExpressionAttributeNames={"#c": "count"},
                          ExpressionAttributeValues={":one": 1, ":t": {"b"}}, ReturnValues="ALL_NEW")
    assert r["Attributes"] == {"pk": "r", "count": 2, "tags": {"a", "b"}}
