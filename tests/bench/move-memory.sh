#!/usr/bin/env bash
# Node memory while a large partition moves: three nodes and a router on loopback, one
# table of one partition loaded with SIZE_MB of 390 KB items, then a fourth node joins
# and the first replica is drained, so the partition moves to the new node by snapshot.
# Prints each node's resident memory before the move and its peak (VmHWM) after, and
# how long the move took. Needs the .venv with boto3 (tests/run.sh makes it).
#
# Usage: tests/bench/move-memory.sh [--size-mb 2048]   (KEEP=1 keeps the logs and data)
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
ROTOR="${ROTOR_BIN:-$REPO/target/debug/rotor}"
PY="$REPO/.venv/bin/python"
SIZE_MB=2048
while [[ $# -gt 0 ]]; do
    case "$1" in
        --size-mb) SIZE_MB="$2"; shift 2 ;;
        *) echo "move-memory.sh: unknown argument $1 (see the header)" >&2; exit 2 ;;
    esac
done
[[ -x "$ROTOR" ]] || { echo "move-memory.sh: build rotor first" >&2; exit 2; }
[[ -x "$PY" ]] || { echo "move-memory.sh: no .venv (run tests/run.sh once)" >&2; exit 2; }

DIR="$(mktemp -d /tmp/rotor-move-memory.XXXXXX)"
PIDS=()
cleanup() {
    kill "${PIDS[@]}" 2>/dev/null || true; wait 2>/dev/null || true
    if [[ -n "${KEEP:-}" ]]; then echo "logs and data kept in $DIR" >&2; else rm -rf "$DIR"; fi
}
trap cleanup EXIT
free_port() { "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

declare -A PORT PID
NODE_ARGS=(--snapshot-every 200 --no-autoscale --partition-wcu 10000000 --partition-rcu 10000000)
start_node() {
    local id=$1 join=${2:-}
    PORT[$id]=$(free_port)
    local args=(node --id "$id" --listen "127.0.0.1:${PORT[$id]}" --data-dir "$DIR/node-$id" "${NODE_ARGS[@]}")
    [[ -n "$join" ]] && args+=(--join "127.0.0.1:${PORT[$join]}")
    RUST_LOG=info,openraft=off "$ROTOR" "${args[@]}" >"$DIR/node-$id.log" 2>&1 &
    PID[$id]=$!; PIDS+=($!)
    for _ in $(seq 1 300); do grep -q "node serving" "$DIR/node-$id.log" && return; sleep 0.1; done
    echo "node $id did not start:"; tail -20 "$DIR/node-$id.log"; exit 1
}
rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }
hwm_kb() { awk '/^VmHWM/ {print $2}' "/proc/$1/status"; }
reset_hwm() { echo 5 > "/proc/$1/clear_refs" 2>/dev/null || true; }

start_node 1; start_node 2 1; start_node 3 1
ROUTER_PORT=$(free_port)
"$ROTOR" router --port "$ROUTER_PORT" --nodes "127.0.0.1:${PORT[1]},127.0.0.1:${PORT[2]},127.0.0.1:${PORT[3]}" --partitions 1 >"$DIR/router.log" 2>&1 &
PIDS+=($!)
sleep 2
echo "loading ${SIZE_MB} MB into one partition ..." >&2
"$PY" - "$ROUTER_PORT" "$SIZE_MB" <<'PYEOF'
import os, sys, time, boto3
from botocore.config import Config
port, size_mb = sys.argv[1], int(sys.argv[2])
ddb = boto3.client("dynamodb", endpoint_url=f"http://127.0.0.1:{port}", region_name="us-east-1",
                   aws_access_key_id="x", aws_secret_access_key="x",
                   config=Config(retries={"max_attempts": 10, "mode": "standard"}, read_timeout=120))
ddb.create_table(TableName="big", KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                 AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                 BillingMode="PAY_PER_REQUEST")
item_bytes = 390 * 1024
count = size_mb * 1024 * 1024 // item_bytes
started, sent = time.time(), 0
for batch in range(0, count, 25):
    requests = [{"PutRequest": {"Item": {"pk": {"S": f"k{i}"}, "b": {"B": os.urandom(item_bytes)}}}}
                for i in range(batch, min(batch + 25, count))]
    while requests:
        out = ddb.batch_write_item(RequestItems={"big": requests})
        requests = out.get("UnprocessedItems", {}).get("big", [])
    sent = min(batch + 25, count)
    if sent % 100 == 0 or sent == count:
        print(f"  {sent}/{count} items, {sent * item_bytes / 1e6 / (time.time() - started):.0f} MB/s", file=sys.stderr)
PYEOF

start_node 4 1
sleep 3
for id in 1 2 3 4; do reset_hwm "${PID[$id]}"; done
declare -A BEFORE
for id in 1 2 3 4; do BEFORE[$id]=$(rss_kb "${PID[$id]}"); done
echo "draining node 1: its replica of the partition moves to node 4 ..." >&2
started=$(date +%s.%N)
"$ROTOR" admin --node "127.0.0.1:${PORT[2]}" drain 1 >/dev/null
deadline=$(( $(date +%s) + 1800 ))
# Moved once node 4 has installed the partition's snapshot (the map lists it earlier).
until grep -q "snapshot installed" "$DIR/node-4.log"; do
    (( $(date +%s) < deadline )) || { echo "node 4 installed no snapshot within 30 minutes"; exit 1; }
    sleep 0.5
done
took=$(echo "$(date +%s.%N) - $started" | bc)
echo "partition of ${SIZE_MB} MB moved to node 4 in ${took} s ($(du -sm "$DIR/node-4" | cut -f1) MB on its disk)"
printf '%-6s %14s %14s\n' node "RSS before MB" "peak MB"
for id in 1 2 3 4; do
    printf '%-6s %14d %14d\n' "$id" $(( BEFORE[$id] / 1024 )) $(( $(hwm_kb "${PID[$id]}") / 1024 ))
done
