#!/usr/bin/env bash
# Fuzzes Rotor's parsers of client input with libFuzzer (cargo fuzz): every target for
# --seconds each (default 20), or only those named. Installs cargo-fuzz if missing.
# cargo fuzz needs nightly features; the stable toolchain allows them with
# RUSTC_BOOTSTRAP=1, set here for this build only.
#
#   tests/fuzz/run.sh                         # every target, 20 s each (the test suite)
#   tests/fuzz/run.sh --seconds 3600 request  # one target for an hour
#   tests/fuzz/run.sh --jobs 2 --seconds 600  # two processes per target
#
# A crash stops the run: the input is saved under tests/fuzz/fuzz/artifacts/<target>/,
# and the command to replay it is printed. Fix the bug, then copy the input into
# tests/fuzz/corpus/<target>/ so that `cargo test -p rotor-fuzz` replays it forever.
# New inputs libFuzzer finds go to tests/fuzz/fuzz/corpus/<target>/ (not committed);
# the seeds in tests/fuzz/corpus/ are read, never written.
set -euo pipefail
cd "$(dirname "$0")/../.."

seconds=20
jobs=1
targets=()
while [ $# -gt 0 ]; do
    case "$1" in
        --seconds) seconds="$2"; shift 2 ;;
        --jobs) jobs="$2"; shift 2 ;;
        -h|--help) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        -*) echo "fuzz: unknown option $1 (see --help)" >&2; exit 2 ;;
        *) targets+=("$1"); shift ;;
    esac
done
if [ ${#targets[@]} -eq 0 ]; then
    targets=(attribute_value expression key_encoding request)
fi

if ! command -v cargo-fuzz >/dev/null; then
    echo "fuzz: installing cargo-fuzz (once)" >&2
    cargo install --quiet --locked cargo-fuzz --version 0.13.2
fi

export RUSTC_BOOTSTRAP=1
root=$(pwd)
fuzz=(cargo fuzz run --fuzz-dir "$root/tests/fuzz/fuzz" --release --sanitizer none)
echo "fuzz: building the targets (coverage-instrumented, release)" >&2
cargo fuzz build --fuzz-dir tests/fuzz/fuzz --release --sanitizer none

# Several processes per target only when asked: libFuzzer then logs each to fuzz-N.log
# (in the target's artifacts folder, where the run starts).
parallel=()
if [ "$jobs" -gt 1 ]; then
    parallel=(-jobs="$jobs" -workers="$jobs")
fi
summary=()
for t in "${targets[@]}"; do
    artifacts="$root/tests/fuzz/fuzz/artifacts/$t"
    mkdir -p "$root/tests/fuzz/fuzz/corpus/$t" "$artifacts"
    rm -f "$artifacts"/fuzz-*.log
    log="$artifacts/last-run.log"
    touch "$artifacts/.started"
    echo "fuzz: $t for ${seconds}s" >&2
    set +e
    (cd "$artifacts" && "${fuzz[@]}" "$t" "$root/tests/fuzz/fuzz/corpus/$t" "$root/tests/fuzz/corpus/$t" -- \
        -max_total_time="$seconds" -max_len=8192 -rss_limit_mb=4096 -timeout=10 \
        "${parallel[@]}" -print_final_stats=1 -artifact_prefix="$artifacts/") 2>&1 | tee "$log" |
        grep --line-buffered -E 'pulse|Done|ERROR|panicked|deadly' >&2
    status=${PIPESTATUS[0]}
    set -e
    found=$(find "$artifacts" -maxdepth 1 -newer "$artifacts/.started" \
        \( -name 'crash-*' -o -name 'oom-*' -o -name 'timeout-*' -o -name 'leak-*' \))
    if [ "$status" -ne 0 ] || [ -n "$found" ]; then
        echo "fuzz: $t FAILED (exit $status); its output: $log" >&2
        [ -z "$found" ] || printf 'fuzz: input %s\n' $found >&2
        echo "fuzz: replay with: RUSTC_BOOTSTRAP=1 ${fuzz[*]} $t <input>" >&2
        exit 1
    fi
    # With several processes the run's own log repeats theirs: count each once.
    counted="$log"
    [ "$jobs" -gt 1 ] && counted="$artifacts/fuzz-*.log"
    runs=$(cat $counted | grep -oE 'stat::number_of_executed_units: *[0-9]+' |
        awk '{s+=$2} END {print s+0}' || true)
    summary+=("$t: $runs executions in ${seconds}s x $jobs process(es), no crash")
done
printf 'fuzz: %s\n' "${summary[@]}" >&2
