#!/usr/bin/env python3
"""Rough throughput of an endpoint with a Python (boto3) client: PutItem, GetItem and a
100-item Query, from a thread pool. A stopgap until `rotor bench` exists; bounded in count.

    throughput.py URL [--ops N] [--threads T]
"""
import argparse
import concurrent.futures as cf
import time
import uuid

import boto3
from botocore.config import Config


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("url")
    ap.add_argument("--ops", type=int, default=3000, help="operations per workload")
    ap.add_argument("--threads", type=int, default=16)
    args = ap.parse_args()
    c = boto3.client("dynamodb", endpoint_url=args.url, region_name="us-east-1",
                     aws_access_key_id="AKID", aws_secret_access_key="SECRET",
                     config=Config(max_pool_connections=args.threads, retries={"max_attempts": 1}))
    table = "tp_" + uuid.uuid4().hex[:8]
    c.create_table(TableName=table, BillingMode="PAY_PER_REQUEST",
                   AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                                         {"AttributeName": "sk", "AttributeType": "N"}],
                   KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"},
                              {"AttributeName": "sk", "KeyType": "RANGE"}])
    payload = {"S": "x" * 100}

    def put(i):
        c.put_item(TableName=table, Item={"pk": {"S": "k%d" % (i % 500)}, "sk": {"N": str(i)}, "v": payload})

    def get(i):
        c.get_item(TableName=table, Key={"pk": {"S": "k%d" % (i % 500)}, "sk": {"N": str(i)}})

    def query(_):
        c.query(TableName=table, KeyConditionExpression="pk = :p", Limit=100,
                ExpressionAttributeValues={":p": {"S": "hot"}})

    for i in range(100):
        c.put_item(TableName=table, Item={"pk": {"S": "hot"}, "sk": {"N": str(i)}, "v": payload})
    with cf.ThreadPoolExecutor(args.threads) as pool:
        for name, fn in (("PutItem", put), ("GetItem", get), ("Query(100 items)", query)):
            start = time.monotonic()
            list(pool.map(fn, range(args.ops)))
            elapsed = time.monotonic() - start
            print("%-18s %6d ops in %6.2f s: %8.0f ops/s" % (name, args.ops, elapsed, args.ops / elapsed))
    c.delete_table(TableName=table)


if __name__ == "__main__":
    main()
