#!/usr/bin/env python3
"""Measures how long moving one partition of N items to another node takes.

Starts four `rotor node` processes and a `rotor router` (tables of one partition) on
loopback, loads N items of --item-bytes each with BatchWriteItem, drains one of the
partition's three replicas (`rotor admin drain`), and reports the time until the cluster
map shows the partition on its new node (learner added, caught up by snapshot, promoted,
old replica removed). Then checks every item still reads back.

    tests/cluster/move_time.py --items 20000        # binary: target/debug/rotor or $ROTOR_BIN
"""
import argparse
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

import boto3
from botocore.config import Config

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(path, needle, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with open(path, "rb") as f:
            if needle.encode() in f.read():
                return
        time.sleep(0.05)
    sys.exit(f"{path} never logged {needle!r}")


def status(binary, node_addr):
    return subprocess.run([binary, "admin", "--node", node_addr, "status"],
                          capture_output=True, text=True, timeout=30).stdout


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--items", type=int, default=20000, help="items in the partition (default 20000)")
    ap.add_argument("--item-bytes", type=int, default=200, help="payload bytes per item (default 200)")
    args = ap.parse_args()
    binary = os.environ.get("ROTOR_BIN", os.path.join(REPO, "target", "debug", "rotor"))
    # A `timeout` or Ctrl-C must still stop the processes started here.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit("terminated"))
    work = tempfile.mkdtemp(prefix="rotor-move-")
    procs = []
    try:
        ports = [free_port() for _ in range(4)]
        addrs = [f"127.0.0.1:{p}" for p in ports]
        for i, addr in enumerate(addrs, start=1):
            log = os.path.join(work, f"node-{i}.log")
            cmd = [binary, "node", "--id", str(i), "--listen", addr, "--data-dir", os.path.join(work, f"node-{i}")]
            if i > 1:
                cmd += ["--join", addrs[0]]
            procs.append(subprocess.Popen(cmd, stdout=open(log, "wb"), stderr=subprocess.STDOUT))
            wait_for(log, "node serving")
        api_port = free_port()
        rlog = os.path.join(work, "router.log")
        procs.append(subprocess.Popen([binary, "router", "--port", str(api_port), "--nodes", ",".join(addrs),
                                       "--partitions", "1"], stdout=open(rlog, "wb"), stderr=subprocess.STDOUT))
        wait_for(rlog, "listening on")
        ddb = boto3.client("dynamodb", endpoint_url=f"http://127.0.0.1:{api_port}", region_name="us-east-1",
                           aws_access_key_id="x", aws_secret_access_key="x",
                           config=Config(retries={"max_attempts": 10, "mode": "standard"}))
        ddb.create_table(TableName="moving", KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                         AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                         BillingMode="PAY_PER_REQUEST")
        payload = "x" * args.item_bytes
        started = time.monotonic()
        for start in range(0, args.items, 25):
            batch = [{"PutRequest": {"Item": {"pk": {"S": f"k{i}"}, "v": {"S": payload}}}}
                     for i in range(start, min(start + 25, args.items))]
            pending = {"moving": batch}
            while pending:
                pending = ddb.batch_write_item(RequestItems=pending).get("UnprocessedItems")
            if start % 5000 == 0:
                print(f"  loaded {start}/{args.items} items", flush=True)
        print(f"loaded {args.items} items of {args.item_bytes} bytes in {time.monotonic() - started:.1f} s")

        table_line = [l for l in status(binary, addrs[0]).splitlines() if l.startswith("moving")][0]
        replicas = [int(r) for r in table_line.split()[2].split(",")]
        victim = replicas[-1]
        target = ({1, 2, 3, 4} - set(replicas)).pop()
        print(f"partition replicas {replicas}; draining node {victim}, the partition moves to node {target}")
        moved_at = time.monotonic()
        subprocess.run([binary, "admin", "--node", addrs[0], "drain", str(victim)], check=True, capture_output=True)
        while True:
            line = [l for l in status(binary, addrs[0]).splitlines() if l.startswith("moving")][0]
            now = [int(r) for r in line.split()[2].split(",")]
            if victim not in now and target in now:
                break
            if time.monotonic() - moved_at > 300:
                sys.exit(f"the partition did not move within 300 s: {line}")
            time.sleep(0.1)
        took = time.monotonic() - moved_at
        mb = args.items * args.item_bytes / 1e6
        print(f"moved a partition of {args.items} items (~{mb:.1f} MB of payload) in {took:.2f} s")
        for i in range(0, args.items, max(1, args.items // 200)):
            got = ddb.get_item(TableName="moving", Key={"pk": {"S": f"k{i}"}}, ConsistentRead=True).get("Item")
            if not got:
                sys.exit(f"k{i} missing after the move")
        print("spot-checked 200 items after the move: all present")
    finally:
        for p in procs:
            p.kill()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
