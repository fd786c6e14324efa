"""UpdateTable's GlobalSecondaryIndexUpdates through boto3: an index added to a table
that already has items is backfilled from them (CREATING with Backfilling, reads
refused until ACTIVE, writes made during the backfill neither lost nor stale), its
capacity changed, and deleted; and the errors DynamoDB (or, where its documentation
is silent, DynamoDB Local) gives for each.
"""
import time

import pytest
from botocore.exceptions import ClientError

from conftest import error_code, error_message, unique_name

# How long a backfill of a few hundred items may take (it takes well under a second).
ACTIVE_SECONDS = 60


def items_table(client, make_table, count, billing="PAY_PER_REQUEST"):
    name = make_table.adopt(unique_name("Orders"))
    args = dict(
        TableName=name,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode=billing,
    )
    if billing == "PROVISIONED":
        args["ProvisionedThroughput"] = {"ReadCapacityUnits": 100, "WriteCapacityUnits": 100}
    client.create_table(**args)
    for start in range(0, count, 25):
        client.batch_write_item(RequestItems={name: [
            {"PutRequest": {"Item": order(i)}} for i in range(start, min(count, start + 25))
        ]})
    return name


def order(i, city=None):
    item = {"pk": {"S": f"o{i:04}"}, "total": {"N": str(i)}}
    if i % 7 != 0:  # every seventh order has no city: not in the index
        item["city"] = {"S": city or f"city{i % 5}"}
    return item


def create_action(name="by_city", throughput=None, projection=None):
    action = {
        "IndexName": name,
        "KeySchema": [{"AttributeName": "city", "KeyType": "HASH"},
                      {"AttributeName": "total", "KeyType": "RANGE"}],
        "Projection": projection or {"ProjectionType": "INCLUDE", "NonKeyAttributes": ["note"]},
    }
    if throughput:
        action["ProvisionedThroughput"] = throughput
    return {"Create": action}


CITY_DEFS = [{"AttributeName": "city", "AttributeType": "S"},
             {"AttributeName": "total", "AttributeType": "N"}]


def index_of(client, name, index="by_city"):
    table = client.describe_table(TableName=name)["Table"]
    found = [g for g in table.get("GlobalSecondaryIndexes", []) if g["IndexName"] == index]
    return found[0] if found else None


def wait_active(client, name, index="by_city"):
    deadline = time.monotonic() + ACTIVE_SECONDS
    while time.monotonic() < deadline:
        described = index_of(client, name, index)
        if described["IndexStatus"] == "ACTIVE":
            return described
        assert described["IndexStatus"] == "CREATING" and described["Backfilling"], described
        time.sleep(0.05)
    pytest.fail(f"index {index} not ACTIVE within {ACTIVE_SECONDS} s")


def all_pages(call, **args):
    """Every item of a paged Query or Scan."""
    items, start = [], None
    while True:
        page = call(**args, **({"ExclusiveStartKey": start} if start else {}))
        items.extend(page["Items"])
        start = page.get("LastEvaluatedKey")
        if not start:
            return items


def query_city(client, name, city):
    return all_pages(client.query, TableName=name, IndexName="by_city",
                     KeyConditionExpression="city = :c",
                     ExpressionAttributeValues={":c": {"S": city}})


def scan_index(client, name):
    return all_pages(client.scan, TableName=name, IndexName="by_city")


def expected_entries(table_items):
    """What the index must hold: each item with a string city, projected."""
    keep = ("pk", "city", "total", "note")
    return sorted(({k: v for k, v in i.items() if k in keep}
                   for i in table_items if "S" in i.get("city", {})),
                  key=lambda e: e["pk"]["S"])


def table_scan(client, name):
    return all_pages(client.scan, TableName=name, ConsistentRead=True)


def test_an_index_added_to_a_table_with_items_is_backfilled_and_then_kept(client, make_table):
    name = items_table(client, make_table, 400)
    # An item whose city is a number cannot be in an index keyed by a string city: it
    # stays in the table, without an entry (DynamoDB's index key violation).
    client.put_item(TableName=name, Item={"pk": {"S": "odd"}, "city": {"N": "3"},
                                          "total": {"N": "1"}})
    reply = client.update_table(TableName=name, AttributeDefinitions=CITY_DEFS,
                                GlobalSecondaryIndexUpdates=[create_action()])
    described = [g for g in reply["TableDescription"]["GlobalSecondaryIndexes"]
                 if g["IndexName"] == "by_city"][0]
    assert described["IndexStatus"] == "CREATING"
    assert described["Backfilling"] is True
    assert described["Projection"] == {"ProjectionType": "INCLUDE", "NonKeyAttributes": ["note"]}
    defined = {a["AttributeName"]: a["AttributeType"]
               for a in reply["TableDescription"]["AttributeDefinitions"]}
    assert defined == {"pk": "S", "city": "S", "total": "N"}
    # Writes while it backfills: moves, new items, removals, a note to project.
    for i in range(1, 60, 3):
        client.put_item(TableName=name, Item=dict(order(i, city="moved"), note={"S": "n"}))
    for i in range(400, 420):
        client.put_item(TableName=name, Item=order(i))
    for i in range(2, 60, 3):
        client.delete_item(TableName=name, Key={"pk": {"S": f"o{i:04}"}})
    # The new index's key types are checked once each partition tracks it (within
    # moments of UpdateTable); an item written before stays, without an entry.
    deadline = time.monotonic() + 20
    while True:
        try:
            client.put_item(TableName=name, Item={"pk": {"S": "x"}, "city": {"N": "4"}})
        except ClientError as bad:
            assert error_code_of(bad) == "ValidationException"
            assert "by_city" in bad.response["Error"]["Message"]
            break
        assert time.monotonic() < deadline, "the new index's key types are not checked"
        time.sleep(0.05)
    active = wait_active(client, name)
    assert "Backfilling" not in active or active["Backfilling"] is False
    want = expected_entries(table_scan(client, name))
    got = sorted(scan_index(client, name), key=lambda e: e["pk"]["S"])
    assert got == want
    moved = query_city(client, name, "moved")
    assert sorted(e["pk"]["S"] for e in moved) == [f"o{i:04}" for i in range(1, 60, 3) if i % 7]
    # After it is ACTIVE, writes keep it exact as for any index.
    client.update_item(TableName=name, Key={"pk": {"S": "o0001"}},
                       UpdateExpression="SET city = :c", ExpressionAttributeValues={":c": {"S": "later"}})
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and len(query_city(client, name, "later")) != 1:
        time.sleep(0.05)
    assert [e["pk"]["S"] for e in query_city(client, name, "later")] == ["o0001"]


def test_reading_an_index_before_it_is_active_is_refused(client, make_table):
    # Enough items that the backfill is still running when the first query arrives is
    # not guaranteed on a fast machine: the refusal is checked while CREATING only.
    name = items_table(client, make_table, 300)
    client.update_table(TableName=name, AttributeDefinitions=CITY_DEFS,
                        GlobalSecondaryIndexUpdates=[create_action()])
    try:
        client.query(TableName=name, IndexName="by_city",
                     KeyConditionExpression="city = :c",
                     ExpressionAttributeValues={":c": {"S": "city1"}})
        assert index_of(client, name)["IndexStatus"] == "ACTIVE"
    except ClientError as e:
        assert e.response["Error"]["Code"] == "ValidationException"
        assert e.response["Error"]["Message"] == \
            "Cannot read from backfilling global secondary index: by_city"
    wait_active(client, name)
    assert len(query_city(client, name, "city1")) == len(
        [i for i in range(300) if i % 7 and i % 5 == 1])


def test_an_index_capacity_is_updated_and_an_index_deleted(client, make_table):
    name = items_table(client, make_table, 30, billing="PROVISIONED")
    client.update_table(TableName=name, AttributeDefinitions=CITY_DEFS,
                        GlobalSecondaryIndexUpdates=[create_action(
                            throughput={"ReadCapacityUnits": 2, "WriteCapacityUnits": 3})])
    wait_active(client, name)
    reply = client.update_table(TableName=name, GlobalSecondaryIndexUpdates=[{"Update": {
        "IndexName": "by_city",
        "ProvisionedThroughput": {"ReadCapacityUnits": 4, "WriteCapacityUnits": 5}}}])
    described = [g for g in reply["TableDescription"]["GlobalSecondaryIndexes"]][0]
    assert described["ProvisionedThroughput"]["ReadCapacityUnits"] == 4
    assert described["ProvisionedThroughput"]["WriteCapacityUnits"] == 5
    with pytest.raises(ClientError) as same:
        client.update_table(TableName=name, GlobalSecondaryIndexUpdates=[{"Update": {
            "IndexName": "by_city",
            "ProvisionedThroughput": {"ReadCapacityUnits": 4, "WriteCapacityUnits": 5}}}])
    assert error_code(same) == "ValidationException"
    assert "will not change" in error_message(same)
    reply = client.update_table(TableName=name, GlobalSecondaryIndexUpdates=[
        {"Delete": {"IndexName": "by_city"}}])
    assert "GlobalSecondaryIndexes" not in reply["TableDescription"]
    assert [a["AttributeName"] for a in reply["TableDescription"]["AttributeDefinitions"]] == ["pk"]
    with pytest.raises(ClientError) as gone:
        client.query(TableName=name, IndexName="by_city",
                     KeyConditionExpression="city = :c",
                     ExpressionAttributeValues={":c": {"S": "city1"}})
    assert error_code(gone) == "ValidationException"
    # Its key types stop being checked once the table's partitions have let it go.
    deadline = time.monotonic() + 20
    while True:
        try:
            client.put_item(TableName=name, Item={"pk": {"S": "x"}, "city": {"N": "4"}})
            break
        except ClientError as e:
            assert error_code_of(e) == "ValidationException"
            assert time.monotonic() < deadline, "the deleted index's key types are still checked"
            time.sleep(0.05)
    # The same name can be used again.
    client.update_table(TableName=name, AttributeDefinitions=[
        {"AttributeName": "total", "AttributeType": "N"}],
        GlobalSecondaryIndexUpdates=[{"Create": {
            "IndexName": "by_city",
            "KeySchema": [{"AttributeName": "total", "KeyType": "HASH"}],
            "Projection": {"ProjectionType": "KEYS_ONLY"},
            "ProvisionedThroughput": {"ReadCapacityUnits": 1, "WriteCapacityUnits": 1}}}])
    assert wait_active(client, name)["KeySchema"] == [{"AttributeName": "total", "KeyType": "HASH"}]


def error_code_of(e):
    return e.response["Error"]["Code"]


def test_index_update_errors_are_dynamodbs(client, make_table):
    name = items_table(client, make_table, 5)

    def refused(updates, defs=CITY_DEFS):
        args = dict(TableName=name, GlobalSecondaryIndexUpdates=updates)
        if defs is not None:
            args["AttributeDefinitions"] = defs
        with pytest.raises(ClientError) as e:
            client.update_table(**args)
        return error_code(e), error_message(e)

    two = create_action("by_other")
    assert refused([create_action(), two]) == (
        "LimitExceededException",
        "Subscriber limit exceeded: Only 1 online index can be created or deleted simultaneously per table")
    assert refused([create_action()], defs=None) == ("ValidationException", "No Attribute Schema Defined")
    assert refused([create_action()], defs=[{"AttributeName": "total", "AttributeType": "N"}]) == (
        "ValidationException",
        "Global Secondary Index hash key not specified in Attribute Definitions.Type unknown.")
    assert refused([create_action()], defs=[{"AttributeName": "pk", "AttributeType": "N"}]) == (
        "ValidationException",
        "invalid attribute, SchemaElement redefined should be of same type as previously defined")
    assert refused([]) == ("ValidationException", "Nothing to update")
    assert refused([{}]) == ("ValidationException", "Update global secondary index action is null")
    assert refused([{"Delete": {"IndexName": "nope"}}]) == (
        "ResourceNotFoundException", "Requested resource not found")
    assert refused([{"Update": {"IndexName": "nope", "OnDemandThroughput": {
        "MaxReadRequestUnits": 5, "MaxWriteRequestUnits": 5}}}]) == (
        "ValidationException", "Invalid global secondary index name")
    code, message = refused([create_action(throughput={"ReadCapacityUnits": 1, "WriteCapacityUnits": 1})])
    assert code == "ValidationException" and "PAY_PER_REQUEST" in message
    assert refused([create_action(projection={"ProjectionType": "INCLUDE"})]) == (
        "ValidationException",
        "If Projection type INCLUDE is specified, some non-key attributes to include in the projection must be specified as well")
    # Nothing was added by any of them.
    assert "GlobalSecondaryIndexes" not in client.describe_table(TableName=name)["Table"]
    # (While one index is being created another is refused with the same
    # LimitExceededException: the metadata group's test, node/src/meta.rs, checks it
    # without racing a backfill.)
    client.update_table(TableName=name, AttributeDefinitions=CITY_DEFS,
                        GlobalSecondaryIndexUpdates=[create_action()])
    wait_active(client, name)
    code, message = refused([create_action()])
    assert (code, message) == ("ValidationException",
                               "One or more parameter values were invalid: Index with name: by_city already exists")
    assert refused([{"Update": {"IndexName": "by_city", "OnDemandThroughput": {
        "MaxReadRequestUnits": 5, "MaxWriteRequestUnits": 5}}},
        {"Delete": {"IndexName": "by_city"}}]) == (
        "ValidationException",
        "Only one global secondary index update per index is allowed simultaneously.")
