#!/usr/bin/env bash
# How long a global secondary index added to a table with items takes to backfill: a
# `rotor dev` cluster on loopback, a table loaded with N items (BatchWriteItem, 8
# clients), then UpdateTable Create of a KEYS_ONLY index; the time until DescribeTable
# says ACTIVE (polled every 100 ms), and a check that the index holds every entry.
#
# Usage: tests/bench/gsi-backfill.sh [--items 100000]
# Needs the .venv with boto3 (tests/run.sh makes it). Build rotor in release mode and
# set ROTOR_BIN for release figures.
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
ROTOR="${ROTOR_BIN:-$REPO/target/debug/rotor}"
PY="$REPO/.venv/bin/python"
ITEMS=100000
while [[ $# -gt 0 ]]; do
    case "$1" in
        --items) ITEMS="$2"; shift 2 ;;
        *) echo "gsi-backfill.sh: unknown argument $1 (see the header)" >&2; exit 2 ;;
    esac
done
[[ -x "$ROTOR" ]] || { echo "gsi-backfill.sh: build rotor first" >&2; exit 2; }
[[ -x "$PY" ]] || { echo "gsi-backfill.sh: make the .venv first (tests/run.sh does)" >&2; exit 2; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
DIR="$(mktemp -d /tmp/rotor-backfill.XXXXXX)"
PORT=$(free_port); NODE_PORT=$(free_port)
"$ROTOR" dev --data-dir "$DIR" --port "$PORT" --node-port "$NODE_PORT" > "$DIR/dev.log" 2>&1 &
DEV=$!
trap 'kill $DEV 2>/dev/null; wait $DEV 2>/dev/null; rm -rf "$DIR"' EXIT
for _ in $(seq 100); do
    curl -s -o /dev/null "http://127.0.0.1:$PORT" && break
    sleep 0.1
done
ENDPOINT="http://127.0.0.1:$PORT" ITEMS="$ITEMS" "$PY" - <<'PYTHON'
import os, sys, time
from concurrent.futures import ThreadPoolExecutor
import boto3

endpoint, n = os.environ["ENDPOINT"], int(os.environ["ITEMS"])
def client():
    return boto3.client("dynamodb", endpoint_url=endpoint, region_name="us-east-1",
                        aws_access_key_id="bench", aws_secret_access_key="bench")
c = client()
c.create_table(TableName="backfill", KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
               AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
               BillingMode="PAY_PER_REQUEST")
def load(start):
    cl = client()
    for i in range(start, min(n, start + 5000), 25):
        batch = [{"PutRequest": {"Item": {"pk": {"S": f"k{j}"}, "g": {"S": f"g{j % 100}"},
                                          "v": {"N": str(j)}}}} for j in range(i, min(n, i + 25))]
        reply = cl.batch_write_item(RequestItems={"backfill": batch})
        for _ in range(100):
            if not reply.get("UnprocessedItems"):
                break
            reply = cl.batch_write_item(RequestItems=reply["UnprocessedItems"])
t0 = time.time()
with ThreadPoolExecutor(8) as pool:
    list(pool.map(load, range(0, n, 5000)))
print(f"loaded {n} items in {time.time() - t0:.1f} s", flush=True)
t0 = time.time()
c.update_table(TableName="backfill", AttributeDefinitions=[{"AttributeName": "g", "AttributeType": "S"}],
               GlobalSecondaryIndexUpdates=[{"Create": {
                   "IndexName": "by_g", "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}],
                   "Projection": {"ProjectionType": "KEYS_ONLY"}}}])
last = 0.0
while True:
    index = c.describe_table(TableName="backfill")["Table"]["GlobalSecondaryIndexes"][0]
    if index["IndexStatus"] == "ACTIVE":
        break
    if time.time() - t0 > 1800:
        sys.exit("the index was not ACTIVE within 1800 s")
    if time.time() - last >= 5:
        last = time.time()
        print(f"  backfilling: {time.time() - t0:.0f} s", flush=True)
    time.sleep(0.1)
took = time.time() - t0
count, args = 0, {}
while True:
    page = c.query(TableName="backfill", IndexName="by_g", KeyConditionExpression="g = :g",
                   ExpressionAttributeValues={":g": {"S": "g7"}}, Select="COUNT", **args)
    count += page["Count"]
    if "LastEvaluatedKey" not in page:
        break
    args["ExclusiveStartKey"] = page["LastEvaluatedKey"]
want = len(range(7, n, 100))
print(f"backfill of {n} items: ACTIVE after {took:.1f} s ({n / took:.0f} items/s); "
      f"key g7 has {count} entries (expected {want})")
sys.exit(0 if count == want else 1)
PYTHON
