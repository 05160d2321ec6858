#!/usr/bin/env bash
# The project's test command (`make test`, called by .ci/run): formatting, lints, the CRD
# freshness check, unit and integration tests, then the end-to-end suite against the real
# kube-apiserver and both Lambda backends when the test bed is available.
set -euo pipefail
cd "$(dirname "$0")/.."

# Heavy build outputs live outside the clone so that a fresh clone reuses them safely (cargo
# fingerprints every input; the Go build cache is content-addressed).
export ESM_CACHE_DIR="${ESM_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/esm-controller}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ESM_CACHE_DIR/target}"
mkdir -p "$ESM_CACHE_DIR"

step() { printf '\n==> %s\n' "$*"; }

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy (warnings are errors)"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "cargo test (unit, planner tables, CRD freshness, reconciler scenarios, emulator, SDK wiring)"
cargo test --workspace --locked

step "packaging: Helm chart, Dockerfile invariants, GitOps health checks, examples, helm install into the bed"
bash tests/packaging/run.sh

if [[ -x tests/e2e/run.sh ]]; then
  step "end-to-end suite (real kube-apiserver, emulator and moto)"
  bash tests/e2e/run.sh
else
  echo "end-to-end suite not present in this checkout (tests/e2e/run.sh)"
fi
step "all tests passed"
