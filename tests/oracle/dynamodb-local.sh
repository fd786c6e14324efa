#!/usr/bin/env bash
# DynamoDB Local (Amazon's emulator, the behaviour oracle for Rotor).
#
# DynamoDB Local binds ALL interfaces, so it only ever runs inside a private
# network namespace (`unshare -n`, needs root) whose only interface is
# loopback. Whatever talks to it must run inside the same namespace: this
# script starts DynamoDB Local there, runs your command next to it, then stops
# it.
#
# Usage:
#   tests/oracle/dynamodb-local.sh install
#       Install DynamoDB Local 1.25 (shipped inside the npm package
#       amplify-dynamodb-simulator) into <repo>/.dynamodb-local if missing.
#   tests/oracle/dynamodb-local.sh exec [OPTIONS] -- CMD [ARGS...]
#       Start DynamoDB Local in a fresh network namespace, export
#       DYNAMODB_ENDPOINT=http://127.0.0.1:PORT, run CMD there, stop it.
#       Exits with CMD's exit status.
#   tests/oracle/dynamodb-local.sh test [PYTEST ARGS...]
#       Shorthand: exec -- <repo>/.venv/bin/pytest tests/python [ARGS...]
#   tests/oracle/dynamodb-local.sh shell [OPTIONS]
#       Interactive shell inside the namespace with DynamoDB Local running.
#
# OPTIONS:
#   --port PORT       port to listen on (default 8000)
#   --in-memory       use -inMemory instead of an on-disk database
#   --db-path DIR     on-disk database directory (default: a fresh temp dir,
#                     removed afterwards)
#
# Environment: JAVA (default: java), DDB_LOCAL_DIR (default <repo>/.dynamodb-local),
#              DDB_LOCAL_XMX (default 1g).
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
SELF="$REPO/tests/oracle/dynamodb-local.sh"
DDB_LOCAL_DIR="${DDB_LOCAL_DIR:-$REPO/.dynamodb-local}"
EMULATOR="$DDB_LOCAL_DIR/node_modules/amplify-dynamodb-simulator/emulator"
JAVA="${JAVA:-java}"
XMX="${DDB_LOCAL_XMX:-1g}"

die() { echo "dynamodb-local.sh: $*" >&2; exit 2; }

install() {
    if [[ -f "$EMULATOR/DynamoDBLocal.jar" && -d "$EMULATOR/DynamoDBLocal_lib" ]]; then
        return 0
    fi
    command -v npm >/dev/null || die "npm is required to install DynamoDB Local"
    mkdir -p "$DDB_LOCAL_DIR"
    echo "dynamodb-local.sh: installing DynamoDB Local into $DDB_LOCAL_DIR" >&2
    npm install --no-audit --no-fund --prefix "$DDB_LOCAL_DIR" amplify-dynamodb-simulator >&2
    [[ -f "$EMULATOR/DynamoDBLocal.jar" ]] || die "install finished but $EMULATOR/DynamoDBLocal.jar is missing"
}

# Runs inside the private network namespace.
inner() {
    local port="$1" mode="$2" dbpath="$3"; shift 3
    ip link set lo up
    local logdir; logdir="$(mktemp -d /tmp/ddb-local-log.XXXXXX)"
    local tmpdb=""
    local storage=(-inMemory)
    if [[ "$mode" == disk ]]; then
        if [[ -z "$dbpath" ]]; then
            tmpdb="$(mktemp -d /tmp/ddb-local-db.XXXXXX)"
            dbpath="$tmpdb"
        fi
        mkdir -p "$dbpath"
        storage=(-dbPath "$dbpath")
    fi
    # Run from the emulator dir so its log4j2.xml / relative Class-Path resolve.
    (cd "$EMULATOR" && exec "$JAVA" -Xmx"$XMX" \
        -Djava.library.path="$EMULATOR/DynamoDBLocal_lib" \
        -jar "$EMULATOR/DynamoDBLocal.jar" -port "$port" "${storage[@]}" -disableTelemetry) \
        >"$logdir/stdout" 2>"$logdir/stderr" &
    local jpid=$!
    cleanup() {
        kill "$jpid" 2>/dev/null || true
        wait "$jpid" 2>/dev/null || true
        [[ -n "$tmpdb" ]] && rm -rf "$tmpdb"
        rm -rf "$logdir"
    }
    trap cleanup EXIT
    # Wait (bounded: 60 s) until the port accepts connections.
    local i ok=0
    for i in $(seq 1 120); do
        if ! kill -0 "$jpid" 2>/dev/null; then
            echo "dynamodb-local.sh: DynamoDB Local exited early:" >&2
            cat "$logdir/stdout" "$logdir/stderr" >&2
            exit 1
        fi
        if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then ok=1; break; fi
        sleep 0.5
    done
    if [[ $ok != 1 ]]; then
        echo "dynamodb-local.sh: DynamoDB Local did not open port $port within 60 s" >&2
        cat "$logdir/stdout" "$logdir/stderr" >&2
        exit 1
    fi
    export DYNAMODB_ENDPOINT="http://127.0.0.1:$port"
    echo "dynamodb-local.sh: DynamoDB Local ($mode) up at $DYNAMODB_ENDPOINT" >&2
    local rc=0
    "$@" || rc=$?
    exit "$rc"
}

outer() {
    local sub="$1"; shift
    local port=8000 mode=disk dbpath=""
    while [[ $# -gt 0 ]]; do
        case "$1" in
            --port) port="$2"; shift 2 ;;
            --in-memory) mode=mem; shift ;;
            --db-path) dbpath="$2"; shift 2 ;;
            --) shift; break ;;
            *) if [[ "$sub" == test ]]; then break; else die "unknown option $1"; fi ;;
        esac
    done
    local cmd=()
    case "$sub" in
        exec)  [[ $# -gt 0 ]] || die "exec needs -- CMD [ARGS...]"; cmd=("$@") ;;
        test)  cmd=("$REPO/.venv/bin/pytest" "$REPO/tests/python" "$@") ;;
        shell) cmd=("${SHELL:-bash}") ;;
    esac
    install
    command -v "$JAVA" >/dev/null || die "java (17) is required"
    [[ $(id -u) == 0 ]] || die "must run as root (unshare -n)"
    exec unshare -n -- "$SELF" __inner "$port" "$mode" "$dbpath" "${cmd[@]}"
}

case "${1:-}" in
    install) install ;;
    exec|test|shell) outer "$@" ;;
    __inner) shift; inner "$@" ;;
    *) sed -n '2,30p' "$SELF" | sed 's/^# \{0,1\}//'; exit 2 ;;
esac
