#!/usr/bin/env bash
# Runs the standard workloads with `rotor bench` against a `rotor dev` started from BIN
# (any build of Rotor: compare two commits, or the cluster with the single-node core).
#
# Usage: tests/bench/dev-workloads.sh [BIN] [-- extra `rotor dev` flags]
#   BIN defaults to target/debug/rotor; the bench itself always runs from that binary.
# Each workload: 64 connections, 8 s measured (PutItem, GetItem eventually and strongly
# consistent, Query of 100 items), then GetItem on one connection for latency.
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
BENCH="$REPO/target/debug/rotor"
BIN="${1:-$BENCH}"
[[ $# -gt 0 ]] && shift
[[ "${1:-}" == "--" ]] && shift
DIR="$(mktemp -d /tmp/rotor-dev-workloads.XXXXXX)"
PORT="${PORT:-18600}"
"$BIN" dev --port "$PORT" --data-dir "$DIR/data" "$@" >"$DIR/log" 2>&1 &
PID=$!
trap 'kill $PID 2>/dev/null; wait $PID 2>/dev/null; rm -rf "$DIR"' EXIT
for _ in $(seq 1 300); do
    curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null && break
    kill -0 $PID 2>/dev/null || { cat "$DIR/log"; exit 1; }
    sleep 0.1
done
E="http://127.0.0.1:$PORT"
run() { echo "=== $*"; "$BENCH" bench --endpoint "$E" "$@" 2>/dev/null | tail -4; }
run --workload put --create-table --keys 10000 --duration 8 --concurrency 64
run --workload get --load --keys 10000 --duration 8 --concurrency 64
run --workload get-strong --keys 10000 --duration 8 --concurrency 64
run --workload query --table benchq --create-table --load --duration 8 --concurrency 64
run --workload get --keys 10000 --duration 5 --concurrency 1
