#!/usr/bin/env bash
# End-to-end suite: the real esm-controller binary against the test bed (a real kube-apiserver
# with RBAC, the Lambda emulator and moto), all on 127.0.0.1.
#
#   bash tests/e2e/run.sh                  # everything (called by scripts/test.sh)
#   bash tests/e2e/run.sh -k drift -x      # extra arguments go to pytest
#
# It builds the binaries, starts the bed, installs deploy/rbac.yaml, runs the controller with a
# token of its ServiceAccount (never the admin's: a missing RBAC rule fails the suite), runs
# pytest, and always stops what it started (controllers by PID, then `bed.sh down`).
#
# Environment:
#   ESM_CACHE_DIR / CARGO_TARGET_DIR   build cache (as in scripts/test.sh)
#   E2E_KEEP_BED=1                     leave the bed running afterwards (for debugging)
#   E2E_CRDS_DIR=dir                   install the CRDs from dir instead of crds/ (default: crds/)
#   E2E_PYTEST_ARGS                    extra pytest arguments
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"

export ESM_CACHE_DIR="${ESM_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/esm-controller}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ESM_CACHE_DIR/target}"
[[ "$CARGO_TARGET_DIR" = /* ]] || CARGO_TARGET_DIR="$ROOT/$CARGO_TARGET_DIR"
mkdir -p "$ESM_CACHE_DIR"

WORK="$ROOT/.testbed/e2e"          # logs, SA kubeconfig, controller PID files (.testbed is ignored by git)
PIDDIR="$WORK/pids"
T0=$SECONDS

log() { printf '[e2e] %s\n' "$*" >&2; }
die() { printf '[e2e] ERROR: %s\n' "$*" >&2; exit 1; }

# ------------------------------------------------------------------ cleanup (always)

BED_STARTED=0
starttime() { awk '{sub(/^.*\) /, ""); print $20}' "/proc/$1/stat" 2>/dev/null || true; }

stop_controllers() {
  local f pid st
  [[ -d "$PIDDIR" ]] || return 0
  for f in "$PIDDIR"/*.pid; do
    [[ -e "$f" ]] || continue
    pid="$(sed -n 1p "$f")"; st="$(sed -n 2p "$f")"
    # Only the process we started (same PID *and* start time), never a reused PID.
    if [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null && [[ -z "$st" || "$st" == "$(starttime "$pid")" ]]; then
      log "stopping leftover controller $(basename "$f" .pid) (pid $pid)"
      kill -TERM "$pid" 2>/dev/null || true
      for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      if kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid" 2>/dev/null || true; fi
    fi
    rm -f "$f"
  done
}

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  stop_controllers
  if (( BED_STARTED )); then
    if [[ "${E2E_KEEP_BED:-0}" == 1 ]]; then
      log "E2E_KEEP_BED=1: the bed is left running (bash testbed/bed.sh down to stop it)"
    else
      bash testbed/bed.sh down || log "bed.sh down failed"
    fi
  fi
  if (( rc != 0 )); then
    log "FAILED (rc=$rc) after $(( SECONDS - T0 ))s; logs in ${WORK#"$ROOT"/} and .testbed/logs"
  else
    log "passed in $(( SECONDS - T0 ))s"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# The failing tests' reports already show their controller's log; this adds the tails of the
# most recently active controllers (and lists every log).
# shellcheck disable=SC2012  # our own file names (controller-NN-name.log)
print_controller_logs() {
  local f
  log "controller logs: $(cd "$WORK" && ls controller-*.log 2>/dev/null | tr '\n' ' ')"
  while IFS= read -r f; do
    [[ -n "$f" ]] || continue
    printf '\n[e2e] ---- last 40 lines of %s ----\n' "${f#"$ROOT"/}" >&2
    tail -n 40 "$f" >&2 || true
  done < <(ls -t "$WORK"/controller-*.log 2>/dev/null | head -n 3)
}

# ------------------------------------------------------------------ tools

command -v kubectl >/dev/null 2>&1 || die "kubectl is required"
command -v python3 >/dev/null 2>&1 || die "python3 is required"

PY=python3
if ! python3 -c 'import pytest, boto3' >/dev/null 2>&1; then
  VENV="$ESM_CACHE_DIR/venv-e2e"
  if ! "$VENV/bin/python" -c 'import pytest, boto3' >/dev/null 2>&1; then
    log "pytest/boto3 missing; installing them into $VENV"
    if ! { python3 -m venv "$VENV" && "$VENV/bin/pip" install --quiet pytest boto3; }; then
      die "could not install pytest and boto3"
    fi
  fi
  PY="$VENV/bin/python"
fi

# ------------------------------------------------------------------ build

log "building esm-controller and esm-emulator (CARGO_TARGET_DIR=$CARGO_TARGET_DIR)"
cargo build --locked --bin esm-controller -p esm-controller
cargo build --locked --bin esm-emulator -p esm-emulator
CONTROLLER_BIN="$CARGO_TARGET_DIR/debug/esm-controller"
EMULATOR_BIN="$CARGO_TARGET_DIR/debug/esm-emulator"
[[ -x "$CONTROLLER_BIN" && -x "$EMULATOR_BIN" ]] || die "binaries missing after the build"

# ------------------------------------------------------------------ bed

if bash testbed/bed.sh status 2>/dev/null | grep -q ': running'; then
  die "a test bed is already running in .testbed (bash testbed/bed.sh down first); the suite needs its own fresh bed"
fi
rm -rf "$WORK"
mkdir -p "$WORK" "$PIDDIR"

bed_env=(BED_WITH_MOTO=1 ESM_EMULATOR_BIN="$EMULATOR_BIN")
if [[ -n "${E2E_CRDS_DIR:-}" ]]; then
  log "E2E_CRDS_DIR=$E2E_CRDS_DIR: installing those CRDs instead of crds/"
  bed_env+=(BED_SKIP_CRDS=1)
fi
log "starting the test bed"
BED_STARTED=1
env "${bed_env[@]}" bash testbed/bed.sh up
# shellcheck disable=SC1091
source .testbed/env
[[ -n "${LAMBDA_ENDPOINT:-}" ]] || die "the bed did not start the Lambda emulator"
[[ -n "${MOTO_ENDPOINT:-}" ]] || die "the bed did not start moto"

if [[ -n "${E2E_CRDS_DIR:-}" ]]; then
  kubectl apply --server-side -f "$E2E_CRDS_DIR" >/dev/null
  kubectl wait --for condition=established --timeout=60s -f "$E2E_CRDS_DIR" >/dev/null
fi

# ------------------------------------------------------------------ RBAC and the controller's identity

log "installing deploy/rbac.yaml"
kubectl apply -f deploy/rbac.yaml >/dev/null
TOKEN="$(kubectl -n esm-system create token esm-controller --duration=2h)"
SA_KUBECONFIG="$WORK/sa.kubeconfig"
(
  umask 077
  cat >"$SA_KUBECONFIG" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: esm-testbed
  cluster:
    server: $KUBE_APISERVER_URL
    certificate-authority: $TESTBED_CA_FILE
users:
- name: esm-controller
  user:
    token: $TOKEN
contexts:
- name: esm-controller
  context:
    cluster: esm-testbed
    user: esm-controller
current-context: esm-controller
EOF
)
who="$(kubectl --kubeconfig "$SA_KUBECONFIG" auth whoami -o jsonpath='{.status.userInfo.username}')"
[[ "$who" == "system:serviceaccount:esm-system:esm-controller" ]] || die "the controller's kubeconfig authenticates as '$who'"
log "controller identity: $who"

# ------------------------------------------------------------------ pytest

export E2E_ENV_FILE="$ROOT/.testbed/env"
export E2E_SA_KUBECONFIG="$SA_KUBECONFIG"
export E2E_CONTROLLER_BIN="$CONTROLLER_BIN"
export E2E_WORK_DIR="$WORK"
export PYTHONDONTWRITEBYTECODE=1

log "running pytest (bed up after $(( SECONDS - T0 ))s)"
set +e
# shellcheck disable=SC2086  # E2E_PYTEST_ARGS is split into words on purpose
"$PY" -m pytest tests/e2e -p no:cacheprovider -rfEsxX --durations=10 -o console_output_style=classic \
  ${E2E_PYTEST_ARGS:-} "$@"
rc=$?
set -e
if (( rc != 0 )); then
  print_controller_logs
  exit "$rc"
fi
