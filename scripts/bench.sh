#!/usr/bin/env bash
# `make bench N=<count> MODE=list|get ACCOUNTS=<k>`: a benchmark (not a test) against the test
# bed: a real kube-apiserver and our Lambda emulator with Lambda's 15 requests/s limit (per
# account) and 100-item pages. N resources in each of k accounts (k = 1: the controller's own).
# Prints its measurements; the last line is one JSON object.
set -euo pipefail
cd "$(dirname "$0")/.."
N="${1:-1000}"
MODE="${2:-list}"
ACCOUNTS="${3:-1}"
export ESM_CACHE_DIR="${ESM_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/esm-controller}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ESM_CACHE_DIR/target}"

cargo build --locked --release -p esm-controller -p esm-emulator >&2
export ESM_EMULATOR_BIN="$CARGO_TARGET_DIR/release/esm-emulator"
# Lambda's control-plane quota and a realistic settle time for state transitions.
export BED_EMULATOR_ARGS="--rate-limit 15 --transition-delay-ms 2000 --deleting-delay-ms 2000 --seed-function bench-handler"

cleanup() { bash testbed/bed.sh down >&2 || true; }
trap cleanup EXIT
bash testbed/bed.sh up >&2
python3 bench/bench.py --n "$N" --mode "$MODE" --accounts "$ACCOUNTS" --controller "$CARGO_TARGET_DIR/release/esm-controller" --env .testbed/env
