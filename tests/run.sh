#!/usr/bin/env bash
# The whole test suite, from a fresh clone: builds Rotor once (one profile), runs the
# Rust unit and integration tests (AWS SDK for Rust against a real `rotor`), a short
# fuzzing run, then the boto3 suite (pytest, in a virtualenv it creates).
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

step "setup (system packages)"
deploy/setup.sh

step "build"
cargo build --workspace --all-targets

step "Rust tests (unit, and the AWS SDK for Rust against rotor)"
cargo test --workspace

step "fuzzing: every target for 20 s (longer runs: tests/fuzz/run.sh --help)"
tests/fuzz/run.sh --seconds 20

step "Python tests (boto3 against rotor)"
if [ ! -x .venv/bin/pytest ]; then
    python3 -m venv .venv
    .venv/bin/pip install --quiet --disable-pip-version-check -r tests/python/requirements.txt
fi
ROTOR_BIN="${CARGO_TARGET_DIR:-$PWD/target}/debug/rotor" .venv/bin/pytest -q tests/python

step "all tests passed"
