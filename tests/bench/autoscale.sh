#!/usr/bin/env bash
# Throughput of a skewed write workload on one partition, before and after the
# autoscaler splits it: a `rotor dev` whose tables start as one partition, `rotor bench`
# PutItem with a zipfian key distribution, measured once before any split, then kept up
# while the autoscaler splits and moves the hot partitions, then measured again.
#
# Usage: tests/bench/autoscale.sh [BIN] [-- extra `rotor dev` flags]
#   WINDOW (default 30): the autoscaler's window in seconds (DynamoDB's is 120); longer
#   than the before-phase (6 s warm-up and MEASURE), so nothing splits before it ends
#   SETTLE (default 60): seconds of load between the two measurements
#   MEASURE (default 10), CONCURRENCY (default 64), ITEM_BYTES (default 1000)
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
BENCH="$REPO/target/debug/rotor"
BIN="${1:-$BENCH}"
[[ $# -gt 0 ]] && shift
[[ "${1:-}" == "--" ]] && shift
WINDOW="${WINDOW:-30}"
SETTLE="${SETTLE:-60}"
MEASURE="${MEASURE:-10}"
CONCURRENCY="${CONCURRENCY:-64}"
ITEM_BYTES="${ITEM_BYTES:-1000}"
PORT="${PORT:-18700}"
NODE_PORT="${NODE_PORT:-18711}"
DIR="$(mktemp -d /tmp/rotor-autoscale-bench.XXXXXX)"
"$BIN" dev --port "$PORT" --node-port "$NODE_PORT" --data-dir "$DIR/data" --partitions 1 \
    --autoscale-window-secs "$WINDOW" --autoscale-interval-secs 1 "$@" >"$DIR/log" 2>&1 &
PID=$!
trap 'kill $PID 2>/dev/null; wait $PID 2>/dev/null; rm -rf "$DIR"' EXIT
for _ in $(seq 1 300); do
    curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null && break
    kill -0 $PID 2>/dev/null || { cat "$DIR/log"; exit 1; }
    sleep 0.1
done
E="http://127.0.0.1:$PORT"
bench() {
    "$BENCH" bench --endpoint "$E" --workload put --distribution zipfian --keys 100000 \
        --item-bytes "$ITEM_BYTES" --concurrency "$CONCURRENCY" "$@"
}
partitions() {
    "$BENCH" admin --node "127.0.0.1:$NODE_PORT" status | awk '$1 == "bench" && $2 ~ /^[0-9]+$/ { n++ } END { print n + 0 }'
}
throughput() {
    python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print("%.0f" % r["total"]["ops_per_sec"])' "$1"
}

echo "=== before: one partition, ${MEASURE} s measured (the window is ${WINDOW} s, so no split yet)"
# (Warm-up past the partition's five seconds of burst above its limit.)
bench --create-table --warmup 6 --duration "$MEASURE" --json "$DIR/before.json" 2>/dev/null | tail -3
BEFORE_PARTS=$(partitions)
echo "=== ${SETTLE} s of the same load while the autoscaler splits (progress on stderr)"
bench --duration "$SETTLE" 2>&1 >/dev/null | awk 'NR % 10 == 0' || true
echo "=== after: ${MEASURE} s measured"
bench --duration "$MEASURE" --json "$DIR/after.json" 2>/dev/null | tail -3
AFTER_PARTS=$(partitions)
echo
"$BENCH" admin --node "127.0.0.1:$NODE_PORT" status | sed -n '/^TABLE/,$p'
echo
B=$(throughput "$DIR/before.json")
A=$(throughput "$DIR/after.json")
python3 - "$B" "$A" "$BEFORE_PARTS" "$AFTER_PARTS" <<'EOF'
import sys
b, a, pb, pa = map(float, sys.argv[1:])
print(f"PutItem, zipfian: {b:,.0f}/s on {pb:.0f} partition(s) before, {a:,.0f}/s on {pa:.0f} after: {a / b:.2f}x")
EOF
