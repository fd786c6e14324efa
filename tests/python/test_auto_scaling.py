"""Capacity settings through real clients: WarmThroughput (CreateTable, UpdateTable,
DescribeTable) and auto scaling of provisioned capacity through boto3's
application-autoscaling client pointed at the same endpoint.

DDB-LOCAL DEPARTURE: DynamoDB Local 1.25 ignores WarmThroughput (no WarmThroughput
in its TableDescription, and UpdateTable with only WarmThroughput is "Nothing to
update"), and serves no auto scaling calls (UnknownOperationException /
InvalidAction). Against it, these tests check exactly that.
"""
import os
import time

import boto3
import pytest
from botocore.exceptions import ClientError

from conftest import _boto_kwargs

ORACLE = bool(os.environ.get("DYNAMODB_ENDPOINT"))
WRITE = "dynamodb:table:WriteCapacityUnits"


@pytest.fixture(scope="module")
def autoscaling(endpoint):
    return boto3.client("application-autoscaling", **_boto_kwargs(endpoint))


def test_warm_throughput_on_create_and_update(client, make_table):
    name = make_table.adopt(f"warm_{os.getpid()}_{int(time.time() * 1000) % 100000}")
    created = client.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
        WarmThroughput={"ReadUnitsPerSecond": 15000, "WriteUnitsPerSecond": 5000},
    )["TableDescription"]
    if ORACLE:
        assert "WarmThroughput" not in created
        with pytest.raises(ClientError) as e:
            client.update_table(TableName=name, WarmThroughput={"WriteUnitsPerSecond": 6000})
        assert e.value.response["Error"]["Code"] == "ValidationException"
        return
    # 5,000 write units at 1,000 a partition: five partitions, serving 15,000 reads too.
    assert created["WarmThroughput"] == {
        "ReadUnitsPerSecond": 15000, "WriteUnitsPerSecond": 5000, "Status": "ACTIVE"}
    updated = client.update_table(
        TableName=name, WarmThroughput={"WriteUnitsPerSecond": 6000})["TableDescription"]
    assert updated["TableStatus"] == "UPDATING"
    assert updated["WarmThroughput"]["Status"] == "UPDATING"
    deadline = time.monotonic() + 60
    while True:
        table = client.describe_table(TableName=name)["Table"]
        if table["TableStatus"] == "ACTIVE":
            break
        assert time.monotonic() < deadline, f"still {table['TableStatus']} after 60 s"
        time.sleep(0.25)
    assert table["WarmThroughput"]["WriteUnitsPerSecond"] >= 6000
    assert table["WarmThroughput"]["Status"] == "ACTIVE"
    # It only rises.
    with pytest.raises(ClientError) as e:
        client.update_table(TableName=name, WarmThroughput={"WriteUnitsPerSecond": 1000})
    assert e.value.response["Error"]["Code"] == "ValidationException"
    assert "can only be increased" in e.value.response["Error"]["Message"]


def test_scalable_target_and_policy_round_trip(autoscaling, client, make_table):
    name = make_table(billing="PROVISIONED",
                      throughput={"ReadCapacityUnits": 5, "WriteCapacityUnits": 5})
    resource = f"table/{name}"
    if ORACLE:
        with pytest.raises(ClientError) as e:
            autoscaling.register_scalable_target(
                ServiceNamespace="dynamodb", ResourceId=resource, ScalableDimension=WRITE,
                MinCapacity=10, MaxCapacity=100)
        assert e.value.response["Error"]["Code"] == "InvalidAction"
        return
    arn = autoscaling.register_scalable_target(
        ServiceNamespace="dynamodb", ResourceId=resource, ScalableDimension=WRITE,
        MinCapacity=10, MaxCapacity=100)["ScalableTargetARN"]
    assert arn.startswith("arn:aws:application-autoscaling:us-east-1:")
    policy = autoscaling.put_scaling_policy(
        PolicyName="writes-at-60", ServiceNamespace="dynamodb", ResourceId=resource,
        ScalableDimension=WRITE, PolicyType="TargetTrackingScaling",
        TargetTrackingScalingPolicyConfiguration={
            "TargetValue": 60.0,
            "PredefinedMetricSpecification": {
                "PredefinedMetricType": "DynamoDBWriteCapacityUtilization"},
            "ScaleOutCooldown": 30, "ScaleInCooldown": 120,
        })
    assert policy["PolicyARN"].endswith(f"table/{name}:policyName/writes-at-60")

    targets = autoscaling.describe_scalable_targets(
        ServiceNamespace="dynamodb", ResourceIds=[resource])["ScalableTargets"]
    assert [(t["ScalableDimension"], t["MinCapacity"], t["MaxCapacity"]) for t in targets] == [
        (WRITE, 10, 100)]
    policies = autoscaling.describe_scaling_policies(
        ServiceNamespace="dynamodb", ResourceId=resource)["ScalingPolicies"]
    assert len(policies) == 1
    config = policies[0]["TargetTrackingScalingPolicyConfiguration"]
    assert config["TargetValue"] == 60.0
    assert (config["ScaleOutCooldown"], config["ScaleInCooldown"]) == (30, 120)
    # DynamoDB's own view of the same settings.
    replica = client.describe_table_replica_auto_scaling(TableName=name)[
        "TableAutoScalingDescription"]["Replicas"][0]
    write = replica["ReplicaProvisionedWriteCapacityAutoScalingSettings"]
    assert (write["MinimumUnits"], write["MaximumUnits"]) == (10, 100)
    assert write["ScalingPolicies"][0]["PolicyName"] == "writes-at-60"

    # 5 units is below the new minimum of 10: the scaler raises it within a round or two.
    deadline = time.monotonic() + 30
    while True:
        units = client.describe_table(TableName=name)["Table"]["ProvisionedThroughput"][
            "WriteCapacityUnits"]
        if units == 10:
            break
        assert time.monotonic() < deadline, f"write capacity still {units} after 30 s"
        time.sleep(0.25)
    activities = autoscaling.describe_scaling_activities(
        ServiceNamespace="dynamodb", ResourceId=resource)["ScalingActivities"]
    assert activities and activities[0]["StatusCode"] == "Successful"
    assert activities[0]["Description"] == "Setting write capacity units to 10."
    assert "below the minimum" in activities[0]["Cause"]

    autoscaling.delete_scaling_policy(
        PolicyName="writes-at-60", ServiceNamespace="dynamodb", ResourceId=resource,
        ScalableDimension=WRITE)
    autoscaling.deregister_scalable_target(
        ServiceNamespace="dynamodb", ResourceId=resource, ScalableDimension=WRITE)
    assert autoscaling.describe_scalable_targets(
        ServiceNamespace="dynamodb", ResourceIds=[resource])["ScalableTargets"] == []


def put_write_policy(autoscaling, resource, target):
    return autoscaling.put_scaling_policy(
        PolicyName="p", ServiceNamespace="dynamodb", ResourceId=resource,
        ScalableDimension=WRITE, PolicyType="TargetTrackingScaling",
        TargetTrackingScalingPolicyConfiguration={
            "TargetValue": target,
            "PredefinedMetricSpecification": {
                "PredefinedMetricType": "DynamoDBWriteCapacityUtilization"}})


def test_auto_scaling_errors_say_what_was_wrong(autoscaling, make_table):
    name = make_table(billing="PROVISIONED")
    resource = f"table/{name}"
    with pytest.raises(ClientError) as e:
        put_write_policy(autoscaling, resource, 50.0)
    if ORACLE:
        assert e.value.response["Error"]["Code"] == "InvalidAction"
        return
    assert e.value.response["Error"]["Code"] == "ObjectNotFoundException"
    assert "No scalable target registered" in e.value.response["Error"]["Message"]
    autoscaling.register_scalable_target(
        ServiceNamespace="dynamodb", ResourceId=resource, ScalableDimension=WRITE,
        MinCapacity=5, MaxCapacity=50)
    with pytest.raises(ClientError) as e:
        put_write_policy(autoscaling, resource, 95.0)
    assert e.value.response["Error"]["Code"] == "ValidationException"
    assert "between 20 and 90" in e.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as e:
        autoscaling.register_scalable_target(
            ServiceNamespace="dynamodb", ResourceId=resource, ScalableDimension=WRITE,
            MinCapacity=60, MaxCapacity=50)
    assert e.value.response["Error"]["Code"] == "ValidationException"
    with pytest.raises(ClientError) as e:
        autoscaling.register_scalable_target(
            ServiceNamespace="ecs", ResourceId="service/x/y",
            ScalableDimension="ecs:service:DesiredCount", MinCapacity=1, MaxCapacity=2)
    assert e.value.response["Error"]["Code"] == "ValidationException"
    assert "dynamodb" in e.value.response["Error"]["Message"]
