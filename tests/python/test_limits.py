"""DynamoDB's request limits through boto3: expression sizes, operator counts, path
depth, placeholder and attribute name lengths, item nesting after an update. Each is
refused with DynamoDB's error, and a request just inside each limit is served."""
import pytest
from botocore.exceptions import ClientError

from conftest import error_code, error_message


def refused(call, **kwargs):
    with pytest.raises(ClientError) as e:
        call(**kwargs)
    assert error_code(e) == "ValidationException", error_message(e)
    return error_message(e)


def test_expression_size_limit(client, hash_table):
    at_limit = "attribute_not_exists(pk)" + " " * (4096 - 24)
    client.put_item(TableName=hash_table, Item={"pk": {"S": "a"}}, ConditionExpression=at_limit)
    msg = refused(client.put_item, TableName=hash_table, Item={"pk": {"S": "b"}},
                  ConditionExpression=at_limit + " ")
    assert msg.startswith("Invalid ConditionExpression: Expression size has exceeded the maximum allowed size")
    msg = refused(client.update_item, TableName=hash_table, Key={"pk": {"S": "b"}},
                  UpdateExpression="SET a = :v" + " " * 4096, ExpressionAttributeValues={":v": {"N": "1"}})
    assert msg.startswith("Invalid UpdateExpression: Expression size has exceeded the maximum allowed size")


def test_operator_limit(client, hash_table):
    values = {":v": {"N": "1"}}
    ok = " OR ".join(["a = :v"] * 149)  # with the function and its OR: 299 operators
    client.put_item(TableName=hash_table, Item={"pk": {"S": "a"}}, ConditionExpression=f"attribute_not_exists(pk) OR {ok}",
                    ExpressionAttributeValues=values)
    # Function calls count as operators.
    msg = refused(client.put_item, TableName=hash_table, Item={"pk": {"S": "b"}},
                  ConditionExpression=" OR ".join(["attribute_exists(a)"] * 151))
    assert "operator count: 301" in msg
    over = " OR ".join(["a = :v"] * 151)  # 301
    msg = refused(client.put_item, TableName=hash_table, Item={"pk": {"S": "b"}},
                  ConditionExpression=over, ExpressionAttributeValues=values)
    assert "The expression contains too many operators; operator count: 301" in msg
    nested = "(" * 1000 + "a = :v" + ")" * 1000
    msg = refused(client.put_item, TableName=hash_table, Item={"pk": {"S": "b"}},
                  ConditionExpression=nested, ExpressionAttributeValues=values)
    assert msg == "Invalid ConditionExpression: The expression has redundant parentheses;"


def test_document_path_depth(client, hash_table):
    path = ".".join(f"p{i}" for i in range(33))
    msg = refused(client.get_item, TableName=hash_table, Key={"pk": {"S": "a"}}, ProjectionExpression=path)
    assert msg == "Invalid ProjectionExpression: The document path has too many nesting levels; nesting levels: 33"


def test_placeholder_and_name_lengths(client, hash_table):
    long_key = "#" + "k" * 255
    msg = refused(client.update_item, TableName=hash_table, Key={"pk": {"S": "a"}},
                  UpdateExpression=f"SET {long_key} = :v", ExpressionAttributeNames={long_key: "a"},
                  ExpressionAttributeValues={":v": {"N": "1"}})
    assert msg.startswith("ExpressionAttributeNames contains invalid key: The expression attribute map contains a key that is too long")
    long_name = "n" * 65536
    msg = refused(client.put_item, TableName=hash_table, Item={"pk": {"S": "a"}, long_name: {"S": "x"}})
    assert "Attribute name is too large, must be less than 65536 bytes" in msg
    client.put_item(TableName=hash_table, Item={"pk": {"S": "a"}, "n" * 65535: {"S": "x"}})


def test_redundant_parentheses_in_updates(client, hash_table):
    msg = refused(client.update_item, TableName=hash_table, Key={"pk": {"S": "a"}},
                  UpdateExpression="SET a = ((:v + :v))", ExpressionAttributeValues={":v": {"N": "1"}})
    assert msg == "Invalid UpdateExpression: The expression has redundant parentheses;"
    client.update_item(TableName=hash_table, Key={"pk": {"S": "a"}},
                       UpdateExpression="SET a = ((:v) + :v)", ExpressionAttributeValues={":v": {"N": "1"}})


def test_update_cannot_nest_past_the_limit(client, hash_table):
    deep = {"N": "1"}
    for _ in range(31):
        deep = {"M": {"m": deep}}
    client.update_item(TableName=hash_table, Key={"pk": {"S": "a"}}, UpdateExpression="SET a = :d",
                       ExpressionAttributeValues={":d": deep})
    path = "a" + ".m" * 30
    msg = refused(client.update_item, TableName=hash_table, Key={"pk": {"S": "a"}},
                  UpdateExpression=f"SET {path} = :d", ExpressionAttributeValues={":d": deep})
    assert msg.startswith("Nesting Levels have exceeded supported limits")
