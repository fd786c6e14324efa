"""ReturnConsumedCapacity=TOTAL: capacity units reported per operation.

Read units: 1 per 4 KB for strongly consistent reads, half that for
eventually consistent; write units: 1 per 1 KB (rounded up).
"""
import os

import pytest


def _cu(resp):
    cc = resp["ConsumedCapacity"]
    return cc["CapacityUnits"], cc["TableName"]


@pytest.fixture
def small(client, hash_table):
    client.put_item(TableName=hash_table, Item={"pk": {"S": "s"}, "v": {"S": "small"}})
    return hash_table


def test_get_item_capacity(client, small):
    cu, name = _cu(client.get_item(TableName=small, Key={"pk": {"S": "s"}}, ReturnConsumedCapacity="TOTAL"))
    assert name == small
    assert cu == 0.5
    cu, _ = _cu(client.get_item(TableName=small, Key={"pk": {"S": "s"}}, ConsistentRead=True,
                                ReturnConsumedCapacity="TOTAL"))
    assert cu == 1.0


def test_get_missing_item_still_costs(client, small):
    cu, _ = _cu(client.get_item(TableName=small, Key={"pk": {"S": "none"}}, ReturnConsumedCapacity="TOTAL"))
    assert cu == 0.5


def test_get_large_item_capacity(client, hash_table):
    client.put_item(TableName=hash_table, Item={"pk": {"S": "L"}, "d": {"S": "x" * 10_000}})  # ~10 KB -> 3 x 4 KB
    cu, _ = _cu(client.get_item(TableName=hash_table, Key={"pk": {"S": "L"}}, ConsistentRead=True,
                                ReturnConsumedCapacity="TOTAL"))
    assert cu == 3.0
    cu, _ = _cu(client.get_item(TableName=hash_table, Key={"pk": {"S": "L"}}, ReturnConsumedCapacity="TOTAL"))
    assert cu == 1.5


def test_put_item_capacity(client, hash_table):
    cu, name = _cu(client.put_item(TableName=hash_table, Item={"pk": {"S": "p"}}, ReturnConsumedCapacity="TOTAL"))
    assert name == hash_table
    assert cu == 1.0
    cu, _ = _cu(client.put_item(TableName=hash_table, Item={"pk": {"S": "p2"}, "d": {"S": "x" * 2500}},
                                ReturnConsumedCapacity="TOTAL"))
    assert cu == 3.0  # ~2.5 KB -> 3 x 1 KB


def test_update_and_delete_capacity(client, small):
    cu, _ = _cu(client.update_item(TableName=small, Key={"pk": {"S": "s"}}, UpdateExpression="SET a = :v",
                                   ExpressionAttributeValues={":v": {"N": "1"}}, ReturnConsumedCapacity="TOTAL"))
    assert cu == 1.0
    cu, _ = _cu(client.delete_item(TableName=small, Key={"pk": {"S": "s"}}, ReturnConsumedCapacity="TOTAL"))
    assert cu == 1.0


def test_no_capacity_unless_asked(client, small):
    assert "ConsumedCapacity" not in client.get_item(TableName=small, Key={"pk": {"S": "s"}})
    assert "ConsumedCapacity" not in client.get_item(TableName=small, Key={"pk": {"S": "s"}},
                                                     ReturnConsumedCapacity="NONE")


def test_query_scan_capacity(client, range_table):
    for i in range(3):
        client.put_item(TableName=range_table, Item={"pk": {"S": "p"}, "sk": {"N": str(i)}})
    resp = client.query(TableName=range_table, KeyConditionExpression="pk = :p",
                        ExpressionAttributeValues={":p": {"S": "p"}}, ReturnConsumedCapacity="TOTAL")
    assert resp["ConsumedCapacity"]["CapacityUnits"] == 0.5  # 3 tiny items < 4 KB, eventually consistent
    resp = client.query(TableName=range_table, KeyConditionExpression="pk = :p", ConsistentRead=True,
                        ExpressionAttributeValues={":p": {"S": "p"}}, ReturnConsumedCapacity="TOTAL")
    assert resp["ConsumedCapacity"]["CapacityUnits"] == 1.0
    resp = client.scan(TableName=range_table, ReturnConsumedCapacity="TOTAL")
    assert resp["ConsumedCapacity"]["CapacityUnits"] == 0.5


def test_batch_capacity(client, hash_table):
    resp = client.batch_write_item(RequestItems={hash_table: [
        {"PutRequest": {"Item": {"pk": {"S": f"b{i}"}}}} for i in range(4)]}, ReturnConsumedCapacity="TOTAL")
    assert resp["ConsumedCapacity"] == [{"TableName": hash_table, "CapacityUnits": 4.0}]
    resp = client.batch_get_item(RequestItems={hash_table: {"Keys": [{"pk": {"S": f"b{i}"}} for i in range(4)]}},
                                 ReturnConsumedCapacity="TOTAL")
    assert resp["ConsumedCapacity"] == [{"TableName": hash_table, "CapacityUnits": 2.0}]  # 4 x 0.5


def test_query_capacity_sums_item_sizes(client, range_table):
    # 3 items of ~3 KB: 9 KB read -> 3 units strongly consistent, 1.5 eventually consistent
    for i in range(3):
        client.put_item(TableName=range_table, Item={"pk": {"S": "q"}, "sk": {"N": str(i)}, "d": {"S": "x" * 3000}})
    base = dict(TableName=range_table, KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": {"S": "q"}},
                ReturnConsumedCapacity="TOTAL")
    assert client.query(ConsistentRead=True, **base)["ConsumedCapacity"]["CapacityUnits"] == 3.0
    assert client.query(**base)["ConsumedCapacity"]["CapacityUnits"] == 1.5


def test_provisioned_table_throttles_past_its_burst(client, make_table):
    """1 WCU: the burst (five minutes of capacity) is served, then the SDK sees
    ProvisionedThroughputExceededException with DynamoDB's ThrottlingReasons."""
    from botocore.exceptions import ClientError

    name = make_table(billing="PROVISIONED", throughput={"ReadCapacityUnits": 1, "WriteCapacityUnits": 1})
    refused = None
    written = 0
    for i in range(2000):
        try:
            client.put_item(TableName=name, Item={"pk": {"S": f"k{i}"}})
            written += 1
        except ClientError as e:
            refused = e
            break
    if refused is None:
        # DDB-LOCAL DEPARTURE: DynamoDB Local never throttles; real DynamoDB (and
        # Rotor) refuse once a partition's burst capacity is spent.
        assert os.environ.get("DYNAMODB_ENDPOINT"), "Rotor never throttled 2000 writes at 1 WCU"
        return
    assert refused.response["Error"]["Code"] == "ProvisionedThroughputExceededException"
    assert "provisioned throughput" in refused.response["Error"]["Message"]
    reasons = refused.response.get("ThrottlingReasons", [])
    assert reasons and reasons[0]["reason"] == "TableWriteProvisionedThroughputExceeded"
    assert reasons[0]["resource"].endswith("table/" + name)
    assert written >= 60, f"throttled after only {written} writes: no burst capacity"
