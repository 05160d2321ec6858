#!/usr/bin/env bash
# shellcheck disable=SC2015,SC2001  # ok/bad/skip always succeed, so `cond && ok || bad` is safe
# Packaging checks: the Helm chart, the Dockerfile, the Argo CD health check, the examples and
# the docs, statically and then against a real kube-apiserver (the test bed).
#
#   bash tests/packaging/run.sh
#
# Static part: helm lint --strict; helm template for the main value combinations with
# assertions (check_chart.py), including values the schema must refuse; the chart's CRD copy
# equals crds/ byte for byte; the Argo CD Lua health check against sample statuses (lua5.1,
# as Argo CD's gopher-lua, and lua5.4) and its ConfigMap snippet embeds it verbatim; kstatus
# (the real sigs.k8s.io/cli-utils library, built by kstatus.sh) on sample statuses; the IAM
# policy parses and holds exactly the documented actions; every shell command in README.md and
# docs/ is covered (doc_commands.py: run, dry-run, or exempt with a reason) and the helm, make,
# cargo, aws and docker ones are checked (helm template with the command's own --set flags).
# Test bed part (its own copy of testbed/, so a bed someone runs from this checkout is never
# touched): helm install; the CRD and RBAC exist and RBAC denies what the controller does not
# need; the controller runs as a local process with the installed ServiceAccount's token and
# the chart's own args and env, and an SQS EventSourceMapping becomes Ready, gets Events, is
# deleted again; /healthz, /readyz, /metrics and the Lease when the binary has them; the same
# with watchNamespaces (Roles only); every rendered combination and every examples/ manifest is
# accepted by a server-side dry-run (and a broken one refused); helm upgrade, also of the CRD;
# crds.install=false and helm uninstall keep the CRD and users' resources. The docs' kubectl and
# helm commands run (or dry-run) against the bed while the controller runs; the docs'
# esm-controller invocations are parsed by the binary.
# Last: check-dockerfile.sh (invariants, then the Dockerfile's release build outside Docker).
#
# Installs what it needs: helm (built from its Go module by helm.sh), lua5.1/lua5.4 (apt),
# PyYAML (pip) if missing; builds esm-controller and esm-emulator with cargo.
# Every process it starts is stopped by PID on exit, failure included; the bed is brought down.
#
# Env: ESM_CACHE_DIR, CARGO_TARGET_DIR (default $ESM_CACHE_DIR/target);
#   ESM_CONTROLLER_BIN / ESM_EMULATOR_BIN  use these binaries instead of building;
#   PACKAGING_ALLOW_MISSING_FLAGS=1  run the controller without chart flags its binary lacks
#                                    (reported as SKIP) instead of failing;
#   PACKAGING_SKIP_BED=1             static checks only (reported as SKIP);
#   CHECK_DOCKERFILE_SKIP_BUILD=1    no release build (reported as SKIP);
#   PACKAGING_KEEP_WORK=1            keep the work dir (logs, renders, bed) also on success.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
HERE="$ROOT/tests/packaging"
CHART="$ROOT/charts/esm-controller"
cd "$ROOT"
export ESM_CACHE_DIR="${ESM_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/esm-controller}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ESM_CACHE_DIR/target}"
mkdir -p "$ESM_CACHE_DIR"
START=$SECONDS

pass=0 fail=0 skip=0
ok() { pass=$((pass + 1)); echo "ok   - $*"; }
bad() { fail=$((fail + 1)); echo "FAIL - $*"; }
skipped() { skip=$((skip + 1)); echo "SKIP - $*"; }
step() { printf '\n--- %s\n' "$*"; }
# Adds a sub-check's "N passed, N failed" closing line to the totals.
tally() {
  local line p f
  line="$(grep -E '[0-9]+ passed, [0-9]+ failed' <<<"$1" | tail -n 1)"
  if [[ -z "$line" ]]; then bad "$2: no result line"; return; fi
  p="$(grep -oE '[0-9]+ passed' <<<"$line" | grep -oE '[0-9]+')"
  f="$(grep -oE '[0-9]+ failed' <<<"$line" | grep -oE '[0-9]+')"
  pass=$((pass + p)); fail=$((fail + f))
}

WORK="$(mktemp -d "${TMPDIR:-/tmp}/esm-packaging.XXXXXX")"
BED_DIR=""
CHECKS_PID=""

# "PID start-time" lines of the controllers bed-checks.sh starts; a PID is signalled only while
# its start time still matches, so a reused PID is never hit.
CONTROLLER_PIDS_FILE="$WORK/controller.pids"
proc_start() { sed -E 's/^.*\) //' "/proc/$1/stat" 2>/dev/null | awk '{print $20}'; }
stop_recorded() {
  local pid start i
  [[ -f "$CONTROLLER_PIDS_FILE" ]] || return 0
  while read -r pid start; do
    [[ -n "$pid" && "$(proc_start "$pid")" == "$start" ]] || continue
    kill -TERM "$pid" 2>/dev/null
    for ((i = 0; i < 150; i++)); do [[ "$(proc_start "$pid")" == "$start" ]] || break; sleep 0.1; done
    [[ "$(proc_start "$pid")" == "$start" ]] && kill -KILL "$pid" 2>/dev/null
  done <"$CONTROLLER_PIDS_FILE"
}

cleanup() {
  local rc=$?
  set +e
  if [[ -n "$CHECKS_PID" ]] && kill -0 "$CHECKS_PID" 2>/dev/null; then
    # bed-checks.sh runs in its own process group (setsid): signal it and what it started
    # (kubectl, the controllers); its trap stops its controllers.
    kill -TERM -- "-$CHECKS_PID" 2>/dev/null
  fi
  stop_recorded # in case a controller outlived that
  if [[ -n "$CHECKS_PID" ]]; then wait "$CHECKS_PID" 2>/dev/null; fi
  if [[ -n "$BED_DIR" && -f "$BED_DIR/testbed/bed.sh" ]]; then
    bash "$BED_DIR/testbed/bed.sh" down >"$WORK/bed-down.log" 2>&1 || cat "$WORK/bed-down.log"
  fi
  if [[ $rc -ne 0 || $fail -ne 0 || "${PACKAGING_KEEP_WORK:-0}" == 1 ]]; then
    echo "work dir kept: $WORK (controller logs, renders, bed logs in bed/.testbed/logs)"
  else
    rm -rf "$WORK"
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ------------------------------------------------------------------------------------- tools
step "tools"
need() { command -v "$1" >/dev/null 2>&1 || { echo "packaging: $1 is required ($2)" >&2; exit 1; }; }
need python3 "chart assertions"
need go "to build helm from its Go module"
need kubectl "the test bed"
need curl "the test bed"
need setsid "process groups for clean-up"
if ! python3 -c 'import yaml' 2>/dev/null; then
  echo "installing PyYAML"
  python3 -m pip install --quiet pyyaml || python3 -m pip install --quiet --user pyyaml
fi
# The aws CLI checks the docs' aws commands against botocore's model (doc_commands.py).
if ! command -v aws >/dev/null 2>&1; then
  echo "installing the aws CLI (awscli)"
  python3 -m pip install --quiet awscli || python3 -m pip install --quiet --user awscli
fi
LUAS=()
for l in lua5.1 lua5.4; do command -v "$l" >/dev/null 2>&1 && LUAS+=("$l"); done
APT=()
((${#LUAS[@]} < 2)) && APT+=(lua5.1 lua5.4)
command -v jq >/dev/null 2>&1 || APT+=(jq) # a command in docs/operating.md pipes logs into jq
if ((${#APT[@]})); then
  echo "installing ${APT[*]} from Debian"
  SUDO=""; [[ $(id -u) -eq 0 ]] || SUDO="sudo"
  { $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${APT[@]}"; } >"$WORK/apt.log" 2>&1 \
    || { tail -n 20 "$WORK/apt.log"; echo "packaging: cannot install ${APT[*]}" >&2; exit 1; }
  LUAS=(lua5.1 lua5.4)
fi
HELM="$(bash "$HERE/helm.sh")"
echo "helm: $HELM ($("$HELM" version --short)); lua: ${LUAS[*]}"

# ----------------------------------------------------------------------------- static checks
step "helm lint --strict"
for values in "" "replicaCount=2" "watchNamespaces={team-a,team-b}" "serviceMonitor.enabled=true,podDisruptionBudget.enabled=true,networkPolicy.enabled=true" "crds.install=false"; do
  if out="$("$HELM" lint --strict "$CHART" ${values:+--set "$values"} 2>&1)"; then
    ok "helm lint --strict ${values:-(defaults)}"
  else
    echo "$out"; bad "helm lint --strict ${values:-(defaults)}"
  fi
done

step "helm template: value combinations, refused values, examples"
out="$(python3 "$HERE/check_chart.py" "$HELM" "$CHART" "$ROOT" --write-renders "$WORK/renders" 2>&1)" || true
echo "$out"
tally "$out" "check_chart.py"

step "CRD copy in the chart"
for crd_src in "$ROOT"/crds/*.yaml; do
  crd_copy="$CHART/files/crds/$(basename "$crd_src")"
  if cmp -s "$crd_src" "$crd_copy"; then
    ok "charts/esm-controller/files/crds/$(basename "$crd_src") equals crds/ byte for byte"
  else
    bad "the chart's copy of $(basename "$crd_src") differs from crds/ (or is missing): cp crds/*.yaml charts/esm-controller/files/crds/"
  fi
done
for kind in eventsourcemappings lambdaaccounts; do
  [[ -f "$CHART/files/crds/lambda.esm-controller.dev_$kind.yaml" ]] && ok "the chart ships the $kind CRD" || bad "the chart does not ship the $kind CRD"
done
extra="$(comm -3 <(cd "$ROOT/crds" && ls ./*.yaml) <(cd "$CHART/files/crds" && ls ./*.yaml))"
[[ -z "$extra" ]] && ok "the chart ships the same set of CRD files as crds/" || bad "CRD files differ between crds/ and the chart: $extra"

step "Argo CD health check (Lua)"
for lua in "${LUAS[@]}"; do
  echo "$lua:"
  out="$("$lua" "$HERE/test_argocd_health.lua" "$ROOT/docs/gitops/argocd-health.lua" 2>&1)" || true
  echo "$out"
  tally "$out" "argocd health ($lua)"
done
if python3 - "$ROOT/docs/gitops/argocd-cm-snippet.yaml" "$ROOT/docs/gitops/argocd-health.lua" <<'PY'
import sys, yaml
cm = yaml.safe_load(open(sys.argv[1]))
key = "resource.customizations.health.lambda.esm-controller.dev_EventSourceMapping"
sys.exit(0 if cm["kind"] == "ConfigMap" and cm["metadata"]["name"] == "argocd-cm" and cm["data"][key] == open(sys.argv[2]).read() else 1)
PY
then ok "argocd-cm-snippet.yaml embeds argocd-health.lua verbatim under resource.customizations.health.lambda.esm-controller.dev_EventSourceMapping"
else bad "docs/gitops/argocd-cm-snippet.yaml does not embed docs/gitops/argocd-health.lua verbatim"; fi

step "kstatus (sigs.k8s.io/cli-utils, as Flux and kpt compute it)"
out="$(bash "$HERE/kstatus.sh" 2>&1)" || true
echo "$out"
tally "$out" "kstatus.sh"

step "IAM policy and docs"
out="$(python3 "$HERE/check_docs.py" "$ROOT" 2>&1)" || true
echo "$out"
tally "$out" "check_docs.py"

step "commands in README.md and docs/ (coverage, helm template with their flags, make -n, aws, docker)"
out="$(python3 "$HERE/doc_commands.py" static "$ROOT" "$HELM" 2>&1)" || true
echo "$out"
tally "$out" "doc_commands.py static"

# -------------------------------------------------------------------------------- test bed
if [[ "${PACKAGING_SKIP_BED:-0}" == 1 ]]; then
  skipped "test bed checks (PACKAGING_SKIP_BED=1)"
else
  step "binaries"
  if [[ -n "${ESM_CONTROLLER_BIN:-}" && -n "${ESM_EMULATOR_BIN:-}" ]]; then
    CONTROLLER_BIN="$ESM_CONTROLLER_BIN"; EMULATOR_BIN="$ESM_EMULATOR_BIN"
  else
    echo "cargo build --locked -p esm-controller -p esm-emulator (CARGO_TARGET_DIR=$CARGO_TARGET_DIR)"
    cargo build --locked -p esm-controller -p esm-emulator >"$WORK/cargo-build.log" 2>&1 \
      || { tail -n 30 "$WORK/cargo-build.log"; echo "packaging: cargo build failed" >&2; exit 1; }
    CONTROLLER_BIN="${ESM_CONTROLLER_BIN:-$CARGO_TARGET_DIR/debug/esm-controller}"
    EMULATOR_BIN="${ESM_EMULATOR_BIN:-$CARGO_TARGET_DIR/debug/esm-emulator}"
  fi
  echo "controller: $CONTROLLER_BIN; emulator: $EMULATOR_BIN"

  step "esm-controller commands in README.md and docs/ (argument parsing)"
  out="$(python3 "$HERE/doc_commands.py" binary "$ROOT" "$CONTROLLER_BIN" 2>&1)" || true
  echo "$out"
  tally "$out" "doc_commands.py binary"

  step "test bed (a private copy of testbed/, chart-installed CRD)"
  BED_DIR="$WORK/bed"
  mkdir -p "$BED_DIR"
  cp -R "$ROOT/testbed" "$BED_DIR/testbed"
  if ! BED_SKIP_CRDS=1 ESM_EMULATOR_BIN="$EMULATOR_BIN" bash "$BED_DIR/testbed/bed.sh" up >"$WORK/bed-up.log" 2>&1; then
    cat "$WORK/bed-up.log"; echo "packaging: the test bed did not start" >&2; exit 1
  fi
  tail -n 1 "$WORK/bed-up.log"
  # shellcheck disable=SC1091
  source "$BED_DIR/.testbed/env"
  export KUBECONFIG
  # In the background and waited for, so that a signal reaches our trap at once.
  setsid bash "$HERE/bed-checks.sh" "$HELM" "$CONTROLLER_BIN" "$WORK" >"$WORK/bed-checks.out" 2>&1 </dev/null &
  CHECKS_PID=$!
  wait "$CHECKS_PID" || true
  CHECKS_PID=""
  out="$(cat "$WORK/bed-checks.out")"
  echo "$out"
  tally "$out" "bed-checks.sh"
  skip=$((skip + $(grep -c '^SKIP' <<<"$out" || true)))
fi

# ------------------------------------------------------------------------------- Dockerfile
step "Dockerfile"
out="$(bash "$HERE/check-dockerfile.sh" 2>&1)" || true
echo "$out"
tally "$out" "check-dockerfile.sh"
skip=$((skip + $(grep -c '^SKIP' <<<"$out" || true)))

echo
echo "packaging checks took $((SECONDS - START)) s"
echo "packaging: $pass passed, $fail failed, $skip skipped"
((fail == 0))
