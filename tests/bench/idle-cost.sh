#!/usr/bin/env bash
# What an idle cluster costs per node as its partition count grows: three nodes and a
# router on loopback, one table of N partitions (each a raft group on all three nodes),
# no requests; after a settling pause, each node's CPU use and raft RPCs sent per second
# over a measured window. Run for 10, 100 and 1,000 partitions by default.
#
# Usage: tests/bench/idle-cost.sh [--partitions "10 100 1000"] [--seconds 20]
# Needs the .venv with boto3 (tests/run.sh makes it).
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
ROTOR="${ROTOR_BIN:-$REPO/target/debug/rotor}"
PARTITIONS="10 100 1000"; SECONDS_MEASURED=20
while [[ $# -gt 0 ]]; do
    case "$1" in
        --partitions) PARTITIONS="$2"; shift 2 ;;
        --seconds) SECONDS_MEASURED="$2"; shift 2 ;;
        *) echo "idle-cost.sh: unknown argument $1 (see the header)" >&2; exit 2 ;;
    esac
done
[[ -x "$ROTOR" ]] || { echo "idle-cost.sh: build rotor first" >&2; exit 2; }
TICKS=$(getconf CLK_TCK)
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
rpcs_sent() { curl -s "http://127.0.0.1:$1/metrics" | awk '/^rotor_raft_rpcs_sent_total/ {s += $NF} END {print s + 0}'; }

printf '%-11s %-5s %10s %12s\n' partitions node "CPU %" "RPCs/s"
for N in $PARTITIONS; do
    DIR="$(mktemp -d /tmp/rotor-idle.XXXXXX)"
    PIDS=()
    declare -A PORT HTTP PID
    for id in 1 2 3; do
        PORT[$id]=$(free_port); HTTP[$id]=$(free_port)
        args=(node --id "$id" --listen "127.0.0.1:${PORT[$id]}" --http-listen "127.0.0.1:${HTTP[$id]}" --data-dir "$DIR/node-$id" --no-autoscale)
        (( id > 1 )) && args+=(--join "127.0.0.1:${PORT[1]}")
        "$ROTOR" "${args[@]}" >"$DIR/node-$id.log" 2>&1 &
        PID[$id]=$!; PIDS+=($!)
        for _ in $(seq 1 300); do grep -q "node serving" "$DIR/node-$id.log" && break; sleep 0.1; done
    done
    RP=$(free_port)
    "$ROTOR" router --port "$RP" --nodes "127.0.0.1:${PORT[1]}" --partitions "$N" >"$DIR/router.log" 2>&1 &
    PIDS+=($!)
    sleep 2
    "$REPO/.venv/bin/python" - "$RP" <<'PYEOF'
import sys, boto3
boto3.client("dynamodb", endpoint_url=f"http://127.0.0.1:{sys.argv[1]}", region_name="us-east-1",
             aws_access_key_id="x", aws_secret_access_key="x").create_table(
    TableName="idle", BillingMode="PAY_PER_REQUEST",
    KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
    AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}])
PYEOF
    echo "  $N partitions: waiting for every group to form ..." >&2
    for _ in $(seq 1 600); do
        formed=$(grep -c "partition group formed" "$DIR"/node-*.log | awk -F: '{s += $2} END {print s}')
        (( formed >= N )) && break
        sleep 0.5
    done
    sleep 10
    declare -A C0 R0
    for id in 1 2 3; do C0[$id]=$(cpu_ticks "${PID[$id]}"); R0[$id]=$(rpcs_sent "${HTTP[$id]}"); done
    sleep "$SECONDS_MEASURED"
    for id in 1 2 3; do
        c=$(( $(cpu_ticks "${PID[$id]}") - C0[$id] )); r=$(( $(rpcs_sent "${HTTP[$id]}") - R0[$id] ))
        printf '%-11s %-5s %10.1f %12.0f\n' "$N" "$id" "$(echo "100 * $c / $TICKS / $SECONDS_MEASURED" | bc -l)" "$(echo "$r / $SECONDS_MEASURED" | bc -l)"
    done
    kill "${PIDS[@]}" 2>/dev/null || true; wait 2>/dev/null || true
    rm -rf "$DIR"
    unset PORT HTTP PID C0 R0
done
