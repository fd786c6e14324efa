#!/usr/bin/env python3
"""CPU time a running rotor spends on each of the costliest requests a client can send.

Starts `rotor dev` (the binary given) on a fresh data directory, creates a table, then
sends each candidate request once and reads the process's CPU time (user + system, from
/proc) before and after, less what the idle cluster spends in the same time. Prints one
line per request: accepted or refused, the status, and the CPU seconds it cost.

    tests/hostile/worst_requests.py target/debug/rotor
"""
import http.client
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

TABLE = "worst"
SETTLE = 1.0  # seconds for followers to apply a write after the answer


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def free_ports(n):
    """The first of n consecutive free loopback ports (rotor dev's node ports)."""
    for _ in range(200):
        base, socks = free_port(), []
        try:
            for i in range(1, n):
                socks.append(socket.socket())
                socks[-1].bind(("127.0.0.1", base + i))
            return base
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    sys.exit(f"no {n} consecutive free loopback ports")


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


def call(port, op, body, timeout=600):
    data = json.dumps(body).encode()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    conn.request("POST", "/", data, {
        "X-Amz-Target": f"DynamoDB_20120810.{op}",
        "Content-Type": "application/x-amz-json-1.0",
        "Authorization": "AWS4-HMAC-SHA256 Credential=AKID/20260101/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=0",
    })
    resp = conn.getresponse()
    text = resp.read().decode(errors="replace")
    conn.close()
    return resp.status, text


def candidates():
    strings = [f"{i:05d}" for i in range(40_000)]  # 200 KB of distinct set members
    half = [f"x{i:05d}" for i in range(30_000)]
    paths = ",".join(f"p{i}" for i in range(40_000))
    haystack = "A" * 266_000 + "AQ=="  # 200 KB of zero bytes, then a 1
    needle = "A" * 133_000 + "AQ=="
    key = {"pk": {"S": "k"}}
    within = []
    while len(",".join(within)) < 4090:
        within.append(f"p{len(within)}")
    within = ",".join(within[:-1])
    return [
        ("PutItem: string set of 40,000 members (duplicate check)", "PutItem",
         {"TableName": TABLE, "Item": {"pk": {"S": "set"}, "s": {"SS": strings}}}),
        ("UpdateItem: ADD 30,000 members to a set of 40,000 (set union, on every replica)", "UpdateItem",
         {"TableName": TABLE, "Key": {"pk": {"S": "set"}}, "UpdateExpression": "ADD s :s",
          "ExpressionAttributeValues": {":s": {"SS": half}}}),
        ("PutItem: condition contains(b, <100 KB>) on a 200 KB binary (substring search)", "PutItem",
         {"TableName": TABLE, "Item": {"pk": {"S": "bin"}, "b": {"B": haystack}},
          "ConditionExpression": "attribute_not_exists(b) OR NOT contains(b, :n)",
          "ExpressionAttributeValues": {":n": {"B": needle}}}),
        ("PutItem: the same condition, on the stored 200 KB binary", "PutItem",
         {"TableName": TABLE, "Item": {"pk": {"S": "bin"}, "b": {"B": haystack}},
          "ConditionExpression": "NOT contains(b, :n)",
          "ExpressionAttributeValues": {":n": {"B": needle}}}),
        ("GetItem: ProjectionExpression of 40,000 paths (overlap check)", "GetItem",
         {"TableName": TABLE, "Key": key, "ProjectionExpression": paths}),
        (f"GetItem: ProjectionExpression of 4 KB ({within.count(',') + 1} paths)", "GetItem",
         {"TableName": TABLE, "Key": key, "ProjectionExpression": within}),
        ("PutItem: ConditionExpression of 299 nested NOT (...)", "PutItem",
         {"TableName": TABLE, "Item": {"pk": {"S": "not"}},
          "ConditionExpression": "NOT (" * 149 + "attribute_not_exists(pk)" + ")" * 149}),
        ("PutItem: ConditionExpression of 1,000 nested parentheses", "PutItem",
         {"TableName": TABLE, "Item": {"pk": {"S": "paren"}},
          "ConditionExpression": "(" * 1000 + "attribute_not_exists(pk)" + ")" * 1000}),
    ]


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    binary = sys.argv[1]
    data = tempfile.mkdtemp(prefix="rotor-worst-")
    port, node_port = free_port(), free_ports(3)
    log = open(os.path.join(data, "rotor.log"), "wb")
    proc = subprocess.Popen([binary, "dev", "--port", str(port), "--node-port", str(node_port),
                             "--data-dir", os.path.join(data, "db")], stdout=log, stderr=log)
    try:
        for _ in range(300):
            try:
                call(port, "ListTables", {}, timeout=2)
                break
            except OSError:
                time.sleep(0.1)
        status, text = call(port, "CreateTable", {
            "TableName": TABLE, "BillingMode": "PAY_PER_REQUEST",
            "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
            "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}]})
        assert status == 200, text
        time.sleep(3)
        start, t0 = cpu_seconds(proc.pid), time.monotonic()
        time.sleep(5)
        idle = (cpu_seconds(proc.pid) - start) / (time.monotonic() - t0)
        print(f"idle cluster: {idle:.3f} CPU s per s")
        for what, op, body in candidates():
            before, t0 = cpu_seconds(proc.pid), time.monotonic()
            try:
                status, text = call(port, op, body)
            except OSError as e:
                print(f"{'':8}          {what}: no answer ({e})")
                break
            time.sleep(SETTLE)
            cost = cpu_seconds(proc.pid) - before - idle * (time.monotonic() - t0)
            verdict = "accepted" if status == 200 else "refused "
            detail = "" if status == 200 else " " + json.loads(text).get("message", "")[:70]
            print(f"{max(cost, 0):8.2f} CPU s  {verdict} {status}  {what}{detail}")
            if proc.poll() is not None:
                break
        if proc.poll() is not None:
            print(f"rotor exited ({proc.returncode}); the end of its log:")
            with open(os.path.join(data, "rotor.log"), errors="replace") as f:
                print("".join(f.readlines()[-5:]))
    finally:
        proc.kill()
        proc.wait()
        shutil.rmtree(data, ignore_errors=True)


if __name__ == "__main__":
    main()
