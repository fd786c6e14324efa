import re
"""BatchGetItem / BatchWriteItem."""
import pytest
from botocore.exceptions import ClientError

from conftest import error_code, error_message


def _fill(client, table, n, prefix="k"):
    for start in range(0, n, 25):
        resp = client.batch_write_item(RequestItems={table: [
            {"PutRequest": {"Item": {"pk": {"S": f"{prefix}{i}"}, "i": {"N": str(i)}}}}
            for i in range(start, min(n, start + 25))]})
        assert resp["UnprocessedItems"] == {}


def test_batch_write_25_and_get_100(client, hash_table):
    _fill(client, hash_table, 100)
    assert client.scan(TableName=hash_table, Select="COUNT")["Count"] == 100
    resp = client.batch_get_item(RequestItems={hash_table: {"Keys": [{"pk": {"S": f"k{i}"}} for i in range(100)]}})
    got = resp["Responses"][hash_table]
    assert sorted(int(i["i"]["N"]) for i in got) == list(range(100))
    assert resp["UnprocessedKeys"] == {}


def test_batch_get_missing_keys_are_omitted(client, hash_table):
    _fill(client, hash_table, 3)
    resp = client.batch_get_item(RequestItems={hash_table: {"Keys": [{"pk": {"S": "k0"}}, {"pk": {"S": "nope"}}]}})
    assert resp["Responses"][hash_table] == [{"pk": {"S": "k0"}, "i": {"N": "0"}}]


def test_batch_get_projection_and_consistent_read(client, hash_table):
    client.put_item(TableName=hash_table, Item={"pk": {"S": "a"}, "x": {"N": "1"}, "name": {"S": "n"}})
    resp = client.batch_get_item(RequestItems={hash_table: {
        "Keys": [{"pk": {"S": "a"}}], "ProjectionExpression": "#n, x", "ExpressionAttributeNames": {"#n": "name"},
        "ConsistentRead": True}})
    assert resp["Responses"][hash_table] == [{"x": {"N": "1"}, "name": {"S": "n"}}]


def test_batch_multiple_tables(client, make_table):
    t1 = make_table()
    t2 = make_table(range_key="sk", range_type="N")
    client.batch_write_item(RequestItems={
        t1: [{"PutRequest": {"Item": {"pk": {"S": "a"}}}}, {"PutRequest": {"Item": {"pk": {"S": "b"}}}}],
        t2: [{"PutRequest": {"Item": {"pk": {"S": "a"}, "sk": {"N": "1"}}}}],
    })
    resp = client.batch_get_item(RequestItems={
        t1: {"Keys": [{"pk": {"S": "a"}}, {"pk": {"S": "b"}}]},
        t2: {"Keys": [{"pk": {"S": "a"}, "sk": {"N": "1"}}]},
    })
    assert len(resp["Responses"][t1]) == 2
    assert resp["Responses"][t2] == [{"pk": {"S": "a"}, "sk": {"N": "1"}}]


def test_batch_write_deletes(client, hash_table):
    _fill(client, hash_table, 10)
    client.batch_write_item(RequestItems={hash_table: [
        {"DeleteRequest": {"Key": {"pk": {"S": f"k{i}"}}}} for i in range(5)] + [
        {"DeleteRequest": {"Key": {"pk": {"S": "never-existed"}}}},
        {"PutRequest": {"Item": {"pk": {"S": "new"}}}}]})
    keys = sorted(i["pk"]["S"] for i in client.scan(TableName=hash_table)["Items"])
    assert keys == sorted([f"k{i}" for i in range(5, 10)] + ["new"])


def test_batch_get_over_100_keys(client, hash_table):
    with pytest.raises(ClientError) as e:
        client.batch_get_item(RequestItems={hash_table: {"Keys": [{"pk": {"S": f"k{i}"}} for i in range(101)]}})
    assert error_code(e) == "ValidationException"
    # real DynamoDB: "Too many items requested for the BatchGetItem call"
    assert error_message(e) == "Too many items requested for the BatchGetItem call"


def test_batch_get_over_100_keys_across_tables(client, make_table):
    t1, t2 = make_table(), make_table()
    with pytest.raises(ClientError) as e:
        client.batch_get_item(RequestItems={t1: {"Keys": [{"pk": {"S": f"k{i}"}} for i in range(51)]},
                                            t2: {"Keys": [{"pk": {"S": f"k{i}"}} for i in range(50)]}})
    assert error_code(e) == "ValidationException"


def test_batch_write_over_25(client, hash_table):
    with pytest.raises(ClientError) as e:
        client.batch_write_item(RequestItems={hash_table: [
            {"PutRequest": {"Item": {"pk": {"S": f"k{i}"}}}} for i in range(26)]})
    assert error_code(e) == "ValidationException"
    assert error_message(e) == "Too many items requested for the BatchWriteItem call"
    # nothing was written
    assert client.scan(TableName=hash_table, Select="COUNT")["Count"] == 0


def test_batch_duplicate_keys(client, hash_table):
    with pytest.raises(ClientError) as e:
        client.batch_get_item(RequestItems={hash_table: {"Keys": [{"pk": {"S": "a"}}, {"pk": {"S": "a"}}]}})
    assert error_code(e) == "ValidationException"
    assert error_message(e) == "Provided list of item keys contains duplicates"
    with pytest.raises(ClientError) as e:
        client.batch_write_item(RequestItems={hash_table: [
            {"PutRequest": {"Item": {"pk": {"S": "a"}}}}, {"DeleteRequest": {"Key": {"pk": {"S": "a"}}}}]})
    assert error_code(e) == "ValidationException"
    assert error_message(e) == "Provided list of item keys contains duplicates"


def test_batch_missing_table(client):
    with pytest.raises(ClientError) as e:
        client.batch_get_item(RequestItems={"no_such_table_b1": {"Keys": [{"pk": {"S": "a"}}]}})
    assert error_code(e) == "ResourceNotFoundException"
    with pytest.raises(ClientError) as e:
        client.batch_write_item(RequestItems={"no_such_table_b1": [{"PutRequest": {"Item": {"pk": {"S": "a"}}}}]})
    assert error_code(e) == "ResourceNotFoundException"


def test_batch_write_item_validation_is_atomic(client, hash_table):
    # one invalid put (empty set) rejects the whole batch
    with pytest.raises(ClientError) as e:
        client.batch_write_item(RequestItems={hash_table: [
            {"PutRequest": {"Item": {"pk": {"S": "ok"}}}},
            {"PutRequest": {"Item": {"pk": {"S": "bad"}, "x": {"SS": []}}}}]})
    assert error_code(e) == "ValidationException"
    assert "Item" not in client.get_item(TableName=hash_table, Key={"pk": {"S": "ok"}})


def test_batch_key_errors(client, hash_table):
    with pytest.raises(ClientError) as e:
        client.batch_get_item(RequestItems={hash_table: {"Keys": [{"pk": {"N": "1"}}]}})
    # DDB-LOCAL DEPARTURE (text): real DynamoDB names the key and both types
    # ("... Type mismatch for key pk expected: S actual: N"); for a read's Key it
    # says "The provided key element does not match the schema".
    assert error_message(e).startswith("One or more parameter values were invalid: Type mismatch for key") \
        or error_message(e) == "The provided key element does not match the schema"
    with pytest.raises(ClientError) as e:
        client.batch_write_item(RequestItems={hash_table: [{"PutRequest": {"Item": {"x": {"N": "1"}}}}]})
    # DDB-LOCAL DEPARTURE (text): real DynamoDB says "One or more parameter values
    # were invalid: Missing the key <name> in the item" for an item, and "The
    # provided key element does not match the schema" for a Key.
    assert error_message(e) == "One of the required keys was not given a value" \
        or re.fullmatch(r"One or more parameter values were invalid: Missing the key \S+ in the item", error_message(e)) \
        or error_message(e) == "The provided key element does not match the schema"
    with pytest.raises(ClientError) as e:
        client.batch_write_item(RequestItems={hash_table: [
            {"PutRequest": {"Item": {"pk": {"S": "big"}, "d": {"S": "x" * (400 * 1024)}}}}]})
    assert error_message(e) == "Item size has exceeded the maximum allowed size"


def test_resource_batch_writer_and_batch_get(resource, hash_table):
    table = resource.Table(hash_table)
    with table.batch_writer() as bw:
        for i in range(60):  # more than 25: the writer splits into batches
            bw.put_item(Item={"pk": f"w{i}", "i": i})
    resp = resource.batch_get_item(RequestItems={hash_table: {"Keys": [{"pk": f"w{i}"} for i in range(0, 60, 2)]}})
    got = resp["Responses"][hash_table]
    assert sorted(int(x["i"]) for x in got) == list(range(0, 60, 2))
    with table.batch_writer() as bw:
        for i in range(0, 60, 3):
            bw.delete_item(Key={"pk": f"w{i}"})
    assert table.scan(Select="COUNT")["Count"] == 40
