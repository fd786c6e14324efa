#!/usr/bin/env bash
# Differential run: the fixed request list of tests/python/differential.py
# against DynamoDB Local (the oracle) and, when its binary exists, Rotor; prints
# per-case status / __type / message and where they differ.
#
# Usage:
#   tests/oracle/differential.sh [--no-rotor] [--only SUBSTR] [--json FILE] [--markdown]
#
# Everything runs inside a private network namespace (via
# tests/oracle/dynamodb-local.sh): DynamoDB Local (in memory) and Rotor
# (`rotor dev --port P --data-dir TMP`, binary from ROTOR_BIN or
# target/debug/rotor) both listen on 127.0.0.1 there.
# Exit status: that of differential.py (0 = no status/__type differences).
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
PY="${PYTHON:-$REPO/.venv/bin/python}"
ROTOR_BIN="${ROTOR_BIN:-$REPO/target/debug/rotor}"

if [[ "${1:-}" == __inner ]]; then
    shift
    use_rotor="$1"; shift
    endpoints=("ddblocal=$DYNAMODB_ENDPOINT")
    rpid=""
    tmp=""
    cleanup() {
        if [[ -n "$rpid" ]]; then kill "$rpid" 2>/dev/null || true; wait "$rpid" 2>/dev/null || true; fi
        [[ -n "$tmp" ]] && rm -rf "$tmp"
    }
    trap cleanup EXIT
    if [[ "$use_rotor" == 1 ]]; then
        tmp="$(mktemp -d /tmp/rotor-diff.XXXXXX)"
        mkdir -p "$tmp/db"
        port=8123
        "$ROTOR_BIN" dev --port "$port" --data-dir "$tmp/db" >"$tmp/stdout" 2>"$tmp/stderr" &
        rpid=$!
        ok=0
        for _ in $(seq 1 300); do  # 30 s
            if ! kill -0 "$rpid" 2>/dev/null; then break; fi
            if "$PY" -c "import urllib.request,sys; urllib.request.urlopen('http://127.0.0.1:$port/healthz', timeout=1)" 2>/dev/null; then
                ok=1; break
            fi
            sleep 0.1
        done
        if [[ $ok != 1 ]]; then
            echo "differential.sh: rotor did not become healthy; stderr:" >&2
            tail -n 50 "$tmp/stderr" >&2
            exit 1
        fi
        endpoints+=("rotor=http://127.0.0.1:$port")
    fi
    exec "$PY" "$REPO/tests/python/differential.py" "$@" "${endpoints[@]}"
fi

use_rotor=1
args=()
while [[ $# -gt 0 ]]; do
    case "$1" in
        --no-rotor) use_rotor=0; shift ;;
        --only|--json) args+=("$1" "$2"); shift 2 ;;
        --markdown) args+=("$1"); shift ;;
        -h|--help) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "differential.sh: unknown option $1" >&2; exit 2 ;;
    esac
done
if [[ $use_rotor == 1 && ! -x "$ROTOR_BIN" ]]; then
    echo "differential.sh: no rotor binary at $ROTOR_BIN; running against DynamoDB Local only" >&2
    use_rotor=0
fi
[[ -x "$PY" ]] || { echo "differential.sh: $PY missing (python3 -m venv .venv && .venv/bin/pip install -r tests/python/requirements.txt)" >&2; exit 2; }
exec "$REPO/tests/oracle/dynamodb-local.sh" exec --in-memory -- "$0" __inner "$use_rotor" "${args[@]}"
