import re
"""PutItem / GetItem / DeleteItem, data types, numbers, key and size validation."""
import base64
from decimal import Decimal

import pytest
from boto3.dynamodb.types import Binary
from botocore.exceptions import ClientError

from conftest import error_code, error_message

ALL_TYPES = {
    "pk": {"S": "all"},
    "s": {"S": "héllo wörld ✓"},
    "n": {"N": "-12.5"},
    "b": {"B": b"\x00\x01\xfe\xff"},
    "bool_t": {"BOOL": True},
    "bool_f": {"BOOL": False},
    "null": {"NULL": True},
    "m": {"M": {"inner": {"S": "x"}, "deeper": {"M": {"n": {"N": "1"}}}, "empty": {"M": {}}}},
    "l": {"L": [{"S": "a"}, {"N": "2"}, {"L": []}, {"M": {"k": {"BOOL": False}}}, {"NULL": True}]},
    "ss": {"SS": ["b", "a", "c"]},
    "ns": {"NS": ["3", "1", "2.5"]},
    "bs": {"BS": [b"\x01", b"\x02\x03"]},
    "empty_s": {"S": ""},
    "empty_b": {"B": b""},
    "empty_l": {"L": []},
}


def _norm(item):
    """Sets are unordered: compare them as sets."""
    out = {}
    for k, v in item.items():
        (t, val), = v.items()
        if t in ("SS", "NS", "BS"):
            out[k] = {t: frozenset(val)}
        elif t == "M":
            out[k] = {t: _norm(val)}
        elif t == "L":
            out[k] = {t: [_norm({"x": x})["x"] for x in val]}
        else:
            out[k] = v
    return out


def test_all_types_round_trip(client, hash_table):
    client.put_item(TableName=hash_table, Item=ALL_TYPES)
    got = client.get_item(TableName=hash_table, Key={"pk": {"S": "all"}}, ConsistentRead=True)["Item"]
    assert _norm(got) == _norm(ALL_TYPES)
    # The same through Scan and Query
    assert _norm(client.scan(TableName=hash_table)["Items"][0]) == _norm(ALL_TYPES)
    q = client.query(TableName=hash_table, KeyConditionExpression="pk = :p",
                     ExpressionAttributeValues={":p": {"S": "all"}})
    assert _norm(q["Items"][0]) == _norm(ALL_TYPES)


def test_all_types_round_trip_resource(resource, hash_table):
    table = resource.Table(hash_table)
    item = {"pk": "res", "s": "x", "n": Decimal("3.14"), "i": 42, "b": Binary(b"\x00\x01"), "t": True, "f": False,
            "z": None, "m": {"a": [1, "two", {"three": Decimal("3.0")}]}, "ss": {"x", "y"}, "ns": {1, 2},
            "bs": {Binary(b"a"), Binary(b"b")}}
    table.put_item(Item=item)
    got = table.get_item(Key={"pk": "res"})["Item"]
    assert got["s"] == "x"
    assert got["n"] == Decimal("3.14")
    assert got["i"] == 42
    assert got["b"] == Binary(b"\x00\x01")
    assert got["t"] is True and got["f"] is False
    assert got["z"] is None
    assert got["m"] == {"a": [1, "two", {"three": Decimal("3")}]}
    assert got["ss"] == {"x", "y"}
    assert got["ns"] == {1, 2}
    assert got["bs"] == {Binary(b"a"), Binary(b"b")}


@pytest.mark.parametrize("given,canonical", [
    ("1.50", "1.5"), ("01", "1"), ("-0", "0"), ("0.0", "0"), ("1e2", "100"), ("1.0E+2", "100"),
    ("100", "100"), ("-1.2300", "-1.23"), ("0.001", "0.001"), ("123456789012345678901234567890123456.78",
                                                               "123456789012345678901234567890123456.78"),
])
def test_number_canonical_form(client, hash_table, given, canonical):
    client.put_item(TableName=hash_table, Item={"pk": {"S": "n"}, "n": {"N": given}, "ns": {"NS": [given]}})
    got = client.get_item(TableName=hash_table, Key={"pk": {"S": "n"}})["Item"]
    assert got["n"] == {"N": canonical}
    assert got["ns"] == {"NS": [canonical]}


def test_number_keys_compare_numerically(client, make_table):
    t = make_table(hash_key="id", hash_type="N")
    client.put_item(TableName=t, Item={"id": {"N": "1.50"}, "v": {"S": "a"}})
    # "1.5" and "1.50" are the same key
    got = client.get_item(TableName=t, Key={"id": {"N": "1.5"}})
    assert got["Item"] == {"id": {"N": "1.5"}, "v": {"S": "a"}}
    client.put_item(TableName=t, Item={"id": {"N": "001.5000"}, "v": {"S": "b"}})
    assert client.scan(TableName=t)["Count"] == 1


def test_binary_key(client, make_table):
    t = make_table(hash_key="id", hash_type="B")
    client.put_item(TableName=t, Item={"id": {"B": b"\x00\xff"}, "v": {"N": "1"}})
    got = client.get_item(TableName=t, Key={"id": {"B": b"\x00\xff"}})["Item"]
    assert got == {"id": {"B": b"\x00\xff"}, "v": {"N": "1"}}


def test_put_overwrites_and_get_missing(client, hash_table):
    client.put_item(TableName=hash_table, Item={"pk": {"S": "a"}, "x": {"S": "1"}, "y": {"S": "1"}})
    client.put_item(TableName=hash_table, Item={"pk": {"S": "a"}, "x": {"S": "2"}})
    assert client.get_item(TableName=hash_table, Key={"pk": {"S": "a"}})["Item"] == {
        "pk": {"S": "a"}, "x": {"S": "2"}}
    resp = client.get_item(TableName=hash_table, Key={"pk": {"S": "nope"}})
    assert "Item" not in resp


def test_put_return_values_all_old(client, hash_table):
    r = client.put_item(TableName=hash_table, Item={"pk": {"S": "a"}, "v": {"N": "1"}}, ReturnValues="ALL_OLD")
    assert "Attributes" not in r
    r = client.put_item(TableName=hash_table, Item={"pk": {"S": "a"}, "v": {"N": "2"}}, ReturnValues="ALL_OLD")
    assert r["Attributes"] == {"pk": {"S": "a"}, "v": {"N": "1"}}
    r = client.put_item(TableName=hash_table, Item={"pk": {"S": "a"}, "v": {"N": "3"}}, ReturnValues="NONE")
    assert "Attributes" not in r


def test_put_return_values_invalid(client, hash_table):
    with pytest.raises(ClientError) as e:
        client.put_item(TableName=hash_table, Item={"pk": {"S": "a"}}, ReturnValues="ALL_NEW")
    assert error_code(e) == "ValidationException"
    assert error_message(e) == "Return values set to invalid value"


def test_get_consistent_read(client, range_table):
    client.put_item(TableName=range_table, Item={"pk": {"S": "a"}, "sk": {"N": "1"}, "v": {"S": "x"}})
    for cr in (True, False):
        got = client.get_item(TableName=range_table, Key={"pk": {"S": "a"}, "sk": {"N": "1"}}, ConsistentRead=cr)
        assert got["Item"]["v"] == {"S": "x"}


def test_get_projection_expression(client, hash_table):
    client.put_item(TableName=hash_table, Item={
        "pk": {"S": "p"}, "a": {"S": "A"}, "b": {"N": "2"}, "name": {"S": "reserved"},
        "m": {"M": {"x": {"N": "1"}, "y": {"L": [{"S": "y0"}, {"S": "y1"}, {"M": {"z": {"S": "deep"}}}]}}},
        "l": {"L": [{"N": "0"}, {"N": "1"}, {"N": "2"}]}})
    key = {"pk": {"S": "p"}}
    got = client.get_item(TableName=hash_table, Key=key, ProjectionExpression="a, b")["Item"]
    assert got == {"a": {"S": "A"}, "b": {"N": "2"}}
    got = client.get_item(TableName=hash_table, Key=key, ProjectionExpression="#n, pk",
                          ExpressionAttributeNames={"#n": "name"})["Item"]
    assert got == {"name": {"S": "reserved"}, "pk": {"S": "p"}}
    got = client.get_item(TableName=hash_table, Key=key, ProjectionExpression="m.y[2].z, l[1], m.x")["Item"]
    assert got == {"m": {"M": {"y": {"L": [{"M": {"z": {"S": "deep"}}}]}, "x": {"N": "1"}}},
                   "l": {"L": [{"N": "1"}]}}
    got = client.get_item(TableName=hash_table, Key=key, ProjectionExpression="nope, m.nope, l[9]")
    assert got.get("Item", {}) == {}


def test_get_projection_reserved_word_rejected(client, hash_table):
    with pytest.raises(ClientError) as e:
        client.get_item(TableName=hash_table, Key={"pk": {"S": "p"}}, ProjectionExpression="name")
    assert error_code(e) == "ValidationException"
    assert error_message(e) == "Invalid ProjectionExpression: Attribute name is a reserved keyword; reserved keyword: name"


def test_delete_item_return_values(client, hash_table):
    client.put_item(TableName=hash_table, Item={"pk": {"S": "d"}, "v": {"S": "old"}})
    r = client.delete_item(TableName=hash_table, Key={"pk": {"S": "d"}}, ReturnValues="ALL_OLD")
    assert r["Attributes"] == {"pk": {"S": "d"}, "v": {"S": "old"}}
    assert "Item" not in client.get_item(TableName=hash_table, Key={"pk": {"S": "d"}})
    # deleting a missing item succeeds and returns nothing
    r = client.delete_item(TableName=hash_table, Key={"pk": {"S": "d"}}, ReturnValues="ALL_OLD")
    assert "Attributes" not in r


def test_delete_item_condition(client, hash_table):
    client.put_item(TableName=hash_table, Item={"pk": {"S": "d"}, "v": {"N": "1"}})
    with pytest.raises(ClientError) as e:
        client.delete_item(TableName=hash_table, Key={"pk": {"S": "d"}}, ConditionExpression="v = :two",
                           ExpressionAttributeValues={":two": {"N": "2"}})
    assert error_code(e) == "ConditionalCheckFailedException"
    assert "Item" in client.get_item(TableName=hash_table, Key={"pk": {"S": "d"}})
    client.delete_item(TableName=hash_table, Key={"pk": {"S": "d"}}, ConditionExpression="v = :one",
                       ExpressionAttributeValues={":one": {"N": "1"}})
    assert "Item" not in client.get_item(TableName=hash_table, Key={"pk": {"S": "d"}})
    with pytest.raises(ClientError) as e:
        client.delete_item(TableName=hash_table, Key={"pk": {"S": "d"}}, ConditionExpression="attribute_exists(pk)")
    assert error_code(e) == "ConditionalCheckFailedException"


def test_delete_return_values_invalid(client, hash_table):
    with pytest.raises(ClientError) as e:
        client.delete_item(TableName=hash_table, Key={"pk": {"S": "d"}}, ReturnValues="ALL_NEW")
    assert error_code(e) == "ValidationException"


# ---------------------------------------------------------------- errors

@pytest.mark.parametrize("op", ["put_item", "get_item", "delete_item"])
def test_missing_table(client, op):
    kw = {"Item": {"pk": {"S": "a"}}} if op == "put_item" else {"Key": {"pk": {"S": "a"}}}
    with pytest.raises(ClientError) as e:
        getattr(client, op)(TableName="no_such_table_xyz_123", **kw)
    assert error_code(e) == "ResourceNotFoundException"
    # DDB-LOCAL DEPARTURE: "Cannot do operations on a non-existent table" vs
    # real DynamoDB's "Requested resource not found".
    assert error_message(e) in ("Cannot do operations on a non-existent table", "Requested resource not found")


def test_item_over_400kb(client, hash_table):
    with pytest.raises(ClientError) as e:
        client.put_item(TableName=hash_table, Item={"pk": {"S": "big"}, "d": {"S": "x" * (400 * 1024)}})
    assert error_code(e) == "ValidationException"
    assert error_message(e) == "Item size has exceeded the maximum allowed size"


def test_item_just_under_400kb(client, hash_table):
    # 400 KB = 409600 bytes including attribute names: "pk"+"big" = 5, "d" = 1
    client.put_item(TableName=hash_table, Item={"pk": {"S": "big"}, "d": {"S": "x" * (409600 - 6)}})
    got = client.get_item(TableName=hash_table, Key={"pk": {"S": "big"}})["Item"]
    assert len(got["d"]["S"]) == 409600 - 6
    with pytest.raises(ClientError) as e:
        client.put_item(TableName=hash_table, Item={"pk": {"S": "big"}, "d": {"S": "x" * (409600 - 5)}})
    assert error_code(e) == "ValidationException"


def test_missing_key_attribute(client, range_table):
    with pytest.raises(ClientError) as e:
        client.put_item(TableName=range_table, Item={"pk": {"S": "a"}, "v": {"S": "x"}})
    assert error_code(e) == "ValidationException"
    # DDB-LOCAL DEPARTURE (text): real DynamoDB says "One or more parameter values
    # were invalid: Missing the key <name> in the item" for an item, and "The
    # provided key element does not match the schema" for a Key.
    assert error_message(e) == "One of the required keys was not given a value" \
        or re.fullmatch(r"One or more parameter values were invalid: Missing the key \S+ in the item", error_message(e)) \
        or error_message(e) == "The provided key element does not match the schema"


@pytest.mark.parametrize("item", [
    {"pk": {"N": "1"}, "sk": {"N": "1"}},
    {"pk": {"S": "a"}, "sk": {"S": "1"}},
    {"pk": {"B": b"a"}, "sk": {"N": "1"}},
])
def test_key_wrong_type(client, range_table, item):
    with pytest.raises(ClientError) as e:
        client.put_item(TableName=range_table, Item=item)
    assert error_code(e) == "ValidationException"
    # DDB-LOCAL DEPARTURE (text): real DynamoDB names the key and both types
    # ("... Type mismatch for key pk expected: S actual: N"); for a read's Key it
    # says "The provided key element does not match the schema".
    assert error_message(e).startswith("One or more parameter values were invalid: Type mismatch for key") \
        or error_message(e) == "The provided key element does not match the schema"


def test_get_key_wrong_type_and_extra_attrs(client, range_table):
    with pytest.raises(ClientError) as e:
        client.get_item(TableName=range_table, Key={"pk": {"S": "a"}, "sk": {"S": "1"}})
    assert error_code(e) == "ValidationException"
    with pytest.raises(ClientError) as e:
        client.get_item(TableName=range_table, Key={"pk": {"S": "a"}})
    assert error_code(e) == "ValidationException"
    with pytest.raises(ClientError) as e:
        client.get_item(TableName=range_table, Key={"pk": {"S": "a"}, "sk": {"N": "1"}, "x": {"S": "y"}})
    assert error_code(e) == "ValidationException"


def test_empty_string_key(client, range_table):
    with pytest.raises(ClientError) as e:
        client.put_item(TableName=range_table, Item={"pk": {"S": ""}, "sk": {"N": "1"}})
    assert error_code(e) == "ValidationException"
    assert error_message(e) == ("One or more parameter values are not valid. The AttributeValue for a key "
                                "attribute cannot contain an empty string value. Key: pk")


def test_empty_string_non_key_ok(client, hash_table):
    client.put_item(TableName=hash_table, Item={"pk": {"S": "a"}, "e": {"S": ""}})
    assert client.get_item(TableName=hash_table, Key={"pk": {"S": "a"}})["Item"]["e"] == {"S": ""}


def _key_size_message_ok(msg):
    # DDB-LOCAL DEPARTURE: Local uses one text for both limits; real DynamoDB
    # says "... Size of hashkey has exceeded the maximum size limit of2048 bytes"
    # or "... Aggregated size of all range keys has exceeded the size limit of 1024 bytes".
    return msg in (
        "Hash primary key values must be under 2048 bytes, and range primary key values must be under 1024 bytes",
        "One or more parameter values were invalid: Size of hashkey has exceeded the maximum size limit of2048 bytes",
        "One or more parameter values were invalid: Aggregated size of all range keys has exceeded the size limit "
        "of 1024 bytes",
    )


def test_partition_key_size_limit(client, hash_table):
    client.put_item(TableName=hash_table, Item={"pk": {"S": "k" * 2048}})
    with pytest.raises(ClientError) as e:
        client.put_item(TableName=hash_table, Item={"pk": {"S": "k" * 2049}})
    assert error_code(e) == "ValidationException"
    assert _key_size_message_ok(error_message(e)), error_message(e)
    # the limit is in UTF-8 bytes, not characters
    with pytest.raises(ClientError) as e:
        client.put_item(TableName=hash_table, Item={"pk": {"S": "é" * 1025}})
    assert error_code(e) == "ValidationException"


def test_sort_key_size_limit(client, make_table):
    t = make_table(range_key="sk", range_type="S")
    client.put_item(TableName=t, Item={"pk": {"S": "p"}, "sk": {"S": "s" * 1024}})
    with pytest.raises(ClientError) as e:
        client.put_item(TableName=t, Item={"pk": {"S": "p"}, "sk": {"S": "s" * 1025}})
    assert error_code(e) == "ValidationException"
    assert _key_size_message_ok(error_message(e)), error_message(e)


@pytest.mark.parametrize("attr,msg", [
    ({"SS": []}, "One or more parameter values were invalid: An string set  may not be empty"),
    ({"NS": []}, "One or more parameter values were invalid: An number set  may not be empty"),
    ({"BS": []}, "One or more parameter values were invalid: Binary sets should not be empty"),
])
def test_empty_sets_rejected(client, hash_table, attr, msg):
    with pytest.raises(ClientError) as e:
        client.put_item(TableName=hash_table, Item={"pk": {"S": "a"}, "x": attr})
    assert error_code(e) == "ValidationException"
    # DDB-LOCAL DEPARTURE (text, NS only): Local drops the prefix and the members.
    assert error_message(e) == msg or msg in error_message(e)


@pytest.mark.parametrize("attr,msg", [
    ({"SS": ["a", "a"]}, "One or more parameter values were invalid: Input collection [a, a] contains duplicates"),
    ({"NS": ["1", "1.0"]}, "contains duplicates"),
    ({"BS": [b"\x01", b"\x01"]}, "One or more parameter values were invalid: Input collection of type BS contains "
                                 "duplicates."),
])
def test_duplicate_set_members_rejected(client, hash_table, attr, msg):
    with pytest.raises(ClientError) as e:
        client.put_item(TableName=hash_table, Item={"pk": {"S": "a"}, "x": attr})
    assert error_code(e) == "ValidationException"
    # DDB-LOCAL DEPARTURE (text, NS only): Local drops the prefix and the members.
    assert error_message(e) == msg or msg in error_message(e)


@pytest.mark.parametrize("num,msg", [
    ("abc", "A value provided cannot be converted into a number"),
    ("1" * 39, "38 digits"),
    ("1E126", "Number overflow. Attempting to store a number with magnitude larger than supported range"),
    ("1E-131", "Number underflow. Attempting to store a number with magnitude smaller than supported range"),
])
def test_invalid_numbers(client, hash_table, num, msg):
    with pytest.raises(ClientError) as e:
        client.put_item(TableName=hash_table, Item={"pk": {"S": "a"}, "n": {"N": num}})
    assert error_code(e) == "ValidationException"
    # DDB-LOCAL DEPARTURE (text, precision only): Local says "DynamoDB only supports
    # precision up to 38 digits", real DynamoDB "Attempting to store more than 38
    # significant digits in a Number".
    assert error_message(e) == msg or (msg == "38 digits" and "38" in error_message(e) and "digits" in error_message(e))


def test_number_limits_accepted(client, hash_table):
    for n, canon in [("9.9999999999999999999999999999999999999E+125", None), ("1E-130", None),
                     ("-9.9999999999999999999999999999999999999E+125", None), ("1" * 38, "1" * 38)]:
        client.put_item(TableName=hash_table, Item={"pk": {"S": "a"}, "n": {"N": n}})
        got = client.get_item(TableName=hash_table, Key={"pk": {"S": "a"}})["Item"]["n"]["N"]
        assert Decimal(got) == Decimal(n)
        if canon:
            assert got == canon


def test_nested_depth_limit(client, hash_table):
    def nest(levels):
        v = {"S": "leaf"}
        for _ in range(levels):
            v = {"M": {"d": v}}
        return v
    # DynamoDB supports up to 32 levels of nesting
    client.put_item(TableName=hash_table, Item={"pk": {"S": "a"}, "x": nest(31)})
    with pytest.raises(ClientError) as e:
        client.put_item(TableName=hash_table, Item={"pk": {"S": "a"}, "x": nest(33)})
    assert error_code(e) == "ValidationException"
    assert error_message(e).startswith("Nesting Levels have exceeded supported limits")
