"""CreateTable / DescribeTable / ListTables / UpdateTable / DeleteTable."""
import re
import time

import pytest
from botocore.exceptions import ClientError

from conftest import delete_table_quietly, error_code, error_message, unique_name, wait_active


def test_create_describe_hash_table(client, make_table):
    name = make_table(hash_key="id", hash_type="S")
    t = client.describe_table(TableName=name)["Table"]
    assert t["TableName"] == name
    assert t["TableStatus"] == "ACTIVE"
    assert t["KeySchema"] == [{"AttributeName": "id", "KeyType": "HASH"}]
    assert t["AttributeDefinitions"] == [{"AttributeName": "id", "AttributeType": "S"}]
    assert t["ItemCount"] == 0
    assert t["TableSizeBytes"] == 0
    # Real: arn:aws:dynamodb:us-east-1:123456789012:table/NAME;
    # DynamoDB Local: arn:aws:dynamodb:ddblocal:000000000000:table/NAME.
    assert re.fullmatch(r"arn:aws:dynamodb:[a-z0-9-]+:\d{12}:table/" + re.escape(name), t["TableArn"]), t["TableArn"]
    assert t["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    assert t["ProvisionedThroughput"]["ReadCapacityUnits"] == 0
    assert t["ProvisionedThroughput"]["WriteCapacityUnits"] == 0
    assert "CreationDateTime" in t


def test_create_returns_table_description(client, make_table):
    name = unique_name()
    make_table.adopt(name)
    resp = client.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "a", "KeyType": "HASH"}, {"AttributeName": "b", "KeyType": "RANGE"}],
        AttributeDefinitions=[{"AttributeName": "a", "AttributeType": "N"}, {"AttributeName": "b", "AttributeType": "B"}],
        BillingMode="PAY_PER_REQUEST",
    )
    d = resp["TableDescription"]
    assert d["TableName"] == name
    assert d["TableStatus"] in ("CREATING", "ACTIVE")
    assert d["KeySchema"] == [{"AttributeName": "a", "KeyType": "HASH"}, {"AttributeName": "b", "KeyType": "RANGE"}]
    assert sorted(d["AttributeDefinitions"], key=lambda x: x["AttributeName"]) == [
        {"AttributeName": "a", "AttributeType": "N"}, {"AttributeName": "b", "AttributeType": "B"}]
    assert d["TableArn"].endswith(":table/" + name)
    wait_active(client, name)


def test_create_provisioned_table(client, make_table):
    name = make_table(billing="PROVISIONED", throughput={"ReadCapacityUnits": 3, "WriteCapacityUnits": 7})
    t = client.describe_table(TableName=name)["Table"]
    assert t["ProvisionedThroughput"]["ReadCapacityUnits"] == 3
    assert t["ProvisionedThroughput"]["WriteCapacityUnits"] == 7
    # A table created PROVISIONED may omit BillingModeSummary.
    assert t.get("BillingModeSummary", {"BillingMode": "PROVISIONED"})["BillingMode"] == "PROVISIONED"


def test_describe_item_count_and_size_live(client, hash_table):
    for i in range(3):
        client.put_item(TableName=hash_table, Item={"pk": {"S": f"k{i}"}, "v": {"S": "x" * 100}})
    t = client.describe_table(TableName=hash_table)["Table"]
    # Real DynamoDB refreshes ItemCount/TableSizeBytes about every 6 hours;
    # DynamoDB Local (and Rotor) report them live.
    assert t["ItemCount"] == 3
    # each item: "pk"(2) + "k0"(2) + "v"(1) + 100 = 105 bytes
    assert t["TableSizeBytes"] == 3 * 105
    client.delete_item(TableName=hash_table, Key={"pk": {"S": "k0"}})
    t = client.describe_table(TableName=hash_table)["Table"]
    assert t["ItemCount"] == 2
    assert t["TableSizeBytes"] == 2 * 105


def test_create_existing_table_is_resource_in_use(client, hash_table):
    with pytest.raises(ClientError) as e:
        client.create_table(TableName=hash_table, KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                            BillingMode="PAY_PER_REQUEST")
    assert error_code(e) == "ResourceInUseException"
    # DDB-LOCAL DEPARTURE: Local says "Cannot create preexisting table",
    # real DynamoDB says "Table already exists: <name>".
    assert error_message(e) in ("Cannot create preexisting table", f"Table already exists: {hash_table}")


@pytest.mark.parametrize("op", ["describe_table", "delete_table"])
def test_missing_table_resource_not_found(client, op):
    with pytest.raises(ClientError) as e:
        getattr(client, op)(TableName=unique_name("missing"))
    assert error_code(e) == "ResourceNotFoundException"


def test_update_missing_table(client):
    with pytest.raises(ClientError) as e:
        client.update_table(TableName=unique_name("missing"), BillingMode="PAY_PER_REQUEST")
    assert error_code(e) == "ResourceNotFoundException"


def test_delete_table(client, make_table):
    name = make_table()
    resp = client.delete_table(TableName=name)
    assert resp["TableDescription"]["TableName"] == name
    assert resp["TableDescription"]["TableStatus"] in ("DELETING", "ACTIVE")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            client.describe_table(TableName=name)
        except ClientError as e:
            assert e.response["Error"]["Code"] == "ResourceNotFoundException"
            break
        time.sleep(0.1)
    else:
        pytest.fail("table still exists 30 s after DeleteTable")
    with pytest.raises(ClientError) as e:
        client.get_item(TableName=name, Key={"pk": {"S": "a"}})
    assert error_code(e) == "ResourceNotFoundException"


def test_delete_then_recreate_is_empty(client, make_table):
    name = make_table()
    client.put_item(TableName=name, Item={"pk": {"S": "a"}})
    client.delete_table(TableName=name)
    deadline = time.monotonic() + 30
    while True:
        try:
            client.describe_table(TableName=name)
        except ClientError:
            break
        assert time.monotonic() < deadline
        time.sleep(0.1)
    make_table(name=name)
    assert "Item" not in client.get_item(TableName=name, Key={"pk": {"S": "a"}})
    assert client.scan(TableName=name)["Count"] == 0


def test_list_tables_pagination(client, make_table):
    prefix = unique_name("lst")
    names = sorted(make_table(name=f"{prefix}_{i:02d}") for i in range(7))
    seen = []
    start = None
    for _ in range(1000):  # bounded
        kw = {"Limit": 3}
        if start:
            kw["ExclusiveStartTableName"] = start
        resp = client.list_tables(**kw)
        assert len(resp["TableNames"]) <= 3
        seen.extend(resp["TableNames"])
        start = resp.get("LastEvaluatedTableName")
        if start:
            assert start == resp["TableNames"][-1]
        else:
            break
    else:
        pytest.fail("ListTables pagination did not terminate")
    ours = [n for n in seen if n.startswith(prefix)]
    assert ours == names  # each exactly once, in sorted order
    assert len(seen) == len(set(seen))
    assert seen == sorted(seen)


def test_list_tables_exclusive_start(client, make_table):
    prefix = unique_name("lse")
    names = sorted(make_table(name=f"{prefix}_{i}") for i in range(3))
    resp = client.list_tables(ExclusiveStartTableName=names[0], Limit=100)
    got = resp["TableNames"]
    assert names[0] not in got
    assert names[1] in got and names[2] in got
    assert all(n > names[0] for n in got)


def test_list_tables_limit_validation(client):
    with pytest.raises(ClientError) as e:
        client.list_tables(Limit=101)
    assert error_code(e) == "ValidationException"
    assert error_message(e) in ("Limit in ListTables must be <= 100",
                                "1 validation error detected: Value '101' at 'limit' failed to satisfy "
                                "constraint: Member must have value less than or equal to 100")


def test_update_table_throughput_and_billing_mode(client, make_table):
    name = make_table(billing="PROVISIONED", throughput={"ReadCapacityUnits": 1, "WriteCapacityUnits": 1})
    resp = client.update_table(TableName=name,
                               ProvisionedThroughput={"ReadCapacityUnits": 10, "WriteCapacityUnits": 20})
    assert resp["TableDescription"]["TableName"] == name
    t = wait_active(client, name)
    assert t["ProvisionedThroughput"]["ReadCapacityUnits"] == 10
    assert t["ProvisionedThroughput"]["WriteCapacityUnits"] == 20
    client.update_table(TableName=name, BillingMode="PAY_PER_REQUEST")
    t = wait_active(client, name)
    assert t["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    # the data plane still works after the update
    client.put_item(TableName=name, Item={"pk": {"S": "x"}})
    assert client.get_item(TableName=name, Key={"pk": {"S": "x"}})["Item"] == {"pk": {"S": "x"}}


def test_update_table_ppr_to_provisioned(client, make_table):
    name = make_table()
    client.update_table(TableName=name, BillingMode="PROVISIONED",
                        ProvisionedThroughput={"ReadCapacityUnits": 4, "WriteCapacityUnits": 6})
    t = wait_active(client, name)
    assert t["BillingModeSummary"]["BillingMode"] == "PROVISIONED"
    assert t["ProvisionedThroughput"]["ReadCapacityUnits"] == 4
    assert t["ProvisionedThroughput"]["WriteCapacityUnits"] == 6


def test_update_table_nothing_to_update(client, hash_table):
    with pytest.raises(ClientError) as e:
        client.update_table(TableName=hash_table)
    assert error_code(e) == "ValidationException"


@pytest.mark.parametrize("bad", ["ab", "bad name!", "t" * 256])
def test_invalid_table_name(client, bad):
    with pytest.raises(ClientError) as e:
        client.create_table(TableName=bad, KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                            BillingMode="PAY_PER_REQUEST")
    assert error_code(e) == "ValidationException"


def test_create_key_attribute_not_defined(client):
    name = unique_name()
    with pytest.raises(ClientError) as e:
        client.create_table(TableName=name, KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                            AttributeDefinitions=[{"AttributeName": "other", "AttributeType": "S"}],
                            BillingMode="PAY_PER_REQUEST")
    delete_table_quietly(client, name)
    assert error_code(e) == "ValidationException"


def test_create_unused_attribute_definition(client):
    name = unique_name()
    with pytest.raises(ClientError) as e:
        client.create_table(TableName=name, KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                                                  {"AttributeName": "extra", "AttributeType": "S"}],
                            BillingMode="PAY_PER_REQUEST")
    delete_table_quietly(client, name)
    assert error_code(e) == "ValidationException"
    # DDB-LOCAL DEPARTURE (text): real DynamoDB says "One or more parameter values
    # were invalid: Number of attributes in KeySchema does not exactly match number
    # of attributes defined in AttributeDefinitions".
    assert "number of attributes in key schema must match" in error_message(e).lower() \
        or "does not exactly match number of attributes defined in AttributeDefinitions" in error_message(e)


def test_create_provisioned_without_throughput(client):
    name = unique_name()
    with pytest.raises(ClientError) as e:
        client.create_table(TableName=name, KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                            BillingMode="PROVISIONED")
    delete_table_quietly(client, name)
    assert error_code(e) == "ValidationException"
    # DDB-LOCAL DEPARTURE (text): real DynamoDB says "One or more parameter values
    # were invalid: ReadCapacityUnits and WriteCapacityUnits must both be specified
    # when BillingMode is PROVISIONED".
    assert error_message(e) in ("No provisioned throughput specified for the table",
                                "One or more parameter values were invalid: ReadCapacityUnits and WriteCapacityUnits must both be specified when BillingMode is PROVISIONED")


def test_resource_table_api(resource, make_table):
    name = unique_name("res")
    make_table.adopt(name)
    table = resource.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}, {"AttributeName": "sk", "AttributeType": "N"}],
        BillingMode="PAY_PER_REQUEST",
    )
    table.wait_until_exists(WaiterConfig={"Delay": 1, "MaxAttempts": 30})
    table.reload()
    assert table.table_status == "ACTIVE"
    assert table.key_schema[0] == {"AttributeName": "pk", "KeyType": "HASH"}
    assert table.item_count == 0
    assert table.billing_mode_summary["BillingMode"] == "PAY_PER_REQUEST"
    table.put_item(Item={"pk": "a", "sk": 1, "v": "x"})
    table.reload()
    assert table.item_count == 1
    assert name in [t.name for t in resource.tables.all()]
