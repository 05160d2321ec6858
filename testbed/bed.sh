#!/usr/bin/env bash
# esm-controller test bed: a real kube-apiserver (+ embedded etcd), the Lambda
# emulator and optionally moto, all on 127.0.0.1 with free ports.
#
#   bash testbed/bed.sh up       start everything, write .testbed/env
#   bash testbed/bed.sh down     stop everything this bed started (by PID)
#   bash testbed/bed.sh env      print .testbed/env (sourceable)
#   bash testbed/bed.sh status   show what is running
#
# See testbed/README.md for the environment variables that tune it.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

TB="$ROOT/.testbed"
PIDS="$TB/pids"
LOGS="$TB/logs"
RUN="$TB/run"
PKI="$TB/pki"
ENV_FILE="$TB/env"
KUBECONFIG_FILE="$TB/kubeconfig"
CACHE="${ESM_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/esm-controller}"
[[ "$CACHE" = /* ]] || CACHE="$ROOT/$CACHE"
export ESM_CACHE_DIR="$CACHE"

READY_TIMEOUT="${BED_READY_TIMEOUT:-120}"
REGION="${BED_REGION:-us-east-1}"
SA_ISSUER="https://kubernetes.default.svc.cluster.local"

log() { printf '[bed] %s\n' "$*" >&2; }
die() { printf '[bed] ERROR: %s\n' "$*" >&2; exit 1; }

tail_log() {
  local f="$1"
  if [[ -s "$f" ]]; then
    printf '[bed] ---- last 40 lines of %s ----\n' "$f" >&2
    tail -n 40 "$f" >&2 || true
    printf '[bed] ---- end of %s ----\n' "$f" >&2
  fi
}

alive() { [[ -n "${1:-}" ]] && kill -0 "$1" 2>/dev/null; }

# Start time of a process (clock ticks since boot; survives exec, unlike /proc/PID/exe).
starttime() { awk '{sub(/^.*\) /, ""); print $20}' "/proc/$1/stat" 2>/dev/null || true; }

# Is the process in pid file $1 still the one we started? (guards against PID reuse)
ours() {
  local pidf="$1" pid st
  pid="$(head -n1 "$pidf" 2>/dev/null || true)"
  alive "$pid" || return 1
  st="$(sed -n 2p "$pidf" 2>/dev/null || true)"
  [[ -z "$st" || "$st" == "$(starttime "$pid")" ]]
}

# start NAME LOGFILE CMD... : run CMD detached (own session), record its PID.
start_bg() {
  local name="$1" logf="$2"; shift 2
  setsid "$@" </dev/null >"$logf" 2>&1 &
  local pid=$!
  # Line 1: PID; line 2: its start time (to recognise it at `down`).
  printf '%s\n%s\n' "$pid" "$(starttime "$pid")" >"$PIDS/$name.pid"
  log "started $name (pid $pid, log ${logf#"$ROOT"/})"
}

# wait_file FILE PID LOGFILE TIMEOUT WHAT
wait_file() {
  local f="$1" pid="$2" logf="$3" timeout="$4" what="$5" t0=$SECONDS
  until [[ -s "$f" ]]; do
    if ! alive "$pid"; then tail_log "$logf"; die "$what exited before writing $f"; fi
    (( SECONDS - t0 < timeout )) || { tail_log "$logf"; die "$what did not write $f within ${timeout}s"; }
    sleep 0.1
  done
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

cmd_down() {
  [[ -d "$PIDS" ]] || { log "nothing to stop (no $PIDS)"; rm -f "$ENV_FILE"; return 0; }
  local f name pid t0=$SECONDS i left
  local -a pids=() names=()
  for f in "$PIDS"/*.pid; do
    [[ -e "$f" ]] || continue
    name="$(basename "${f%.pid}")"
    pid="$(head -n1 "$f" 2>/dev/null || true)"
    if ours "$f"; then
      log "stopping $name (pid $pid)"
      kill -TERM "$pid" 2>/dev/null || true
      pids+=("$pid"); names+=("$name")
    else
      rm -f "$f"
    fi
  done
  # All were sent SIGTERM together; give them up to 30 s for a graceful exit.
  for i in $(seq 1 300); do
    left=0
    for pid in "${pids[@]}"; do alive "$pid" && left=1; done
    (( left )) || break
    sleep 0.1
  done
  for i in "${!pids[@]}"; do
    pid="${pids[$i]}"; name="${names[$i]}"
    if alive "$pid"; then
      log "$name (pid $pid) still alive after 30s; sending SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
      for _ in $(seq 1 100); do alive "$pid" || break; sleep 0.1; done
    fi
    # Anything left in the session we created for it (setsid => pgid == pid).
    if pgrep -g "$pid" >/dev/null 2>&1; then
      kill -KILL -- "-$pid" 2>/dev/null || true
    fi
    if alive "$pid"; then die "could not stop $name (pid $pid)"; fi
    rm -f "$PIDS/$name.pid"
  done
  rm -f "$ENV_FILE"
  log "down in $(( SECONDS - t0 ))s (logs kept in ${LOGS#"$ROOT"/})"
}

cmd_status() {
  local f any=0
  for f in "$PIDS"/*.pid; do
    [[ -e "$f" ]] || continue
    any=1
    if ours "$f"; then echo "$(basename "${f%.pid}"): running (pid $(head -n1 "$f"))"
    else echo "$(basename "${f%.pid}"): not running (stale pid file)"; fi
  done
  (( any )) || echo "test bed is not running"
  [[ -f "$ENV_FILE" ]] && echo "env: $ENV_FILE"
  return 0
}

cmd_env() {
  [[ -f "$ENV_FILE" ]] || die "$ENV_FILE does not exist: run 'bash testbed/bed.sh up' first"
  echo "# $ENV_FILE"
  cat "$ENV_FILE"
}

# ---------------------------------------------------------------- up

emulator_bin() {
  if [[ -n "${ESM_EMULATOR_BIN:-}" ]]; then
    [[ -x "$ESM_EMULATOR_BIN" ]] || die "ESM_EMULATOR_BIN=$ESM_EMULATOR_BIN is not an executable"
    echo "$ESM_EMULATOR_BIN"
    return
  fi
  command -v cargo >/dev/null 2>&1 || die "cargo not found (needed to build esm-emulator); set ESM_EMULATOR_BIN or BED_SKIP_EMULATOR=1"
  local target="${CARGO_TARGET_DIR:-$ROOT/target}" profile_flag=() profile_dir=debug
  if [[ "${BED_EMULATOR_RELEASE:-0}" == 1 ]]; then profile_flag=(--release); profile_dir=release; fi
  [[ "$target" = /* ]] || target="$ROOT/$target"
  log "building esm-emulator (cargo build -p esm-emulator --bin esm-emulator ${profile_flag[*]})"
  if ! cargo build -p esm-emulator --bin esm-emulator "${profile_flag[@]}" >"$LOGS/emulator-build.log" 2>&1; then
    tail_log "$LOGS/emulator-build.log"
    die "building esm-emulator failed (set BED_SKIP_EMULATOR=1 to start the bed without it, or ESM_EMULATOR_BIN=/path/to/esm-emulator)"
  fi
  [[ -x "$target/$profile_dir/esm-emulator" ]] || die "cargo succeeded but $target/$profile_dir/esm-emulator is missing"
  echo "$target/$profile_dir/esm-emulator"
}

moto_bin() {
  if command -v moto_server >/dev/null 2>&1; then command -v moto_server; return; fi
  local venv="$CACHE/venv-moto"
  if [[ ! -x "$venv/bin/moto_server" ]]; then
    log "moto_server not found; installing moto[server] into $venv"
    if ! { python3 -m venv "$venv" && "$venv/bin/pip" install --quiet 'moto[server]'; } >"$LOGS/moto-install.log" 2>&1; then
      tail_log "$LOGS/moto-install.log"
      die "installing moto failed (Debian's python3 needs the python3-venv package)"
    fi
  fi
  echo "$venv/bin/moto_server"
}

kubectl_tb() { kubectl --kubeconfig "$KUBECONFIG_FILE" "$@"; }

UP_OK=0
on_up_exit() {
  local rc=$?
  if (( ! UP_OK )); then
    if [[ "${BED_KEEP_ON_FAILURE:-0}" == 1 ]]; then
      log "up failed (rc=$rc); BED_KEEP_ON_FAILURE=1 so processes are left running"
    else
      log "up failed (rc=$rc); stopping what was started"
      cmd_down || true
    fi
  fi
}

cmd_up() {
  mkdir -p "$PIDS" "$LOGS" "$RUN"
  local f
  for f in "$PIDS"/*.pid; do
    [[ -e "$f" ]] || continue
    if ours "$f"; then
      die "test bed already running ($(basename "${f%.pid}") pid $(head -n1 "$f")); run 'bash testbed/bed.sh down' first"
    fi
    rm -f "$f"
  done
  command -v curl >/dev/null 2>&1 || die "curl is required"
  command -v python3 >/dev/null 2>&1 || die "python3 is required"

  # Fresh state every time: no controller-manager runs, so nothing would ever
  # clean up old namespaces/objects.
  rm -rf "$TB/etcd" "$PKI" "$RUN" "$ENV_FILE" "$KUBECONFIG_FILE"
  mkdir -p "$RUN"
  rm -f "$LOGS"/*.log

  trap on_up_exit EXIT
  local t_start=$SECONDS

  # 1. Binaries (build before starting anything so a build failure leaves nothing behind).
  local emu=""
  if [[ "${BED_SKIP_EMULATOR:-0}" == 1 ]]; then
    log "BED_SKIP_EMULATOR=1: not starting the Lambda emulator"
  else
    emu="$(emulator_bin)"
  fi
  local apiserver
  apiserver="$(BUILD_LOG="$LOGS/apiserver-build.log" bash "$ROOT/testbed/build-apiserver.sh")" \
    || { tail_log "$LOGS/apiserver-build.log"; die "building kube-apiserver failed"; }
  log "kube-apiserver binary: $apiserver"

  # 2. PKI + static token.
  "$apiserver" gen-pki --dir "$PKI"
  local token
  token="$(cat "$PKI/admin.token")"

  # 3. kube-apiserver with embedded etcd.
  local t_api=$SECONDS
  local extra_api_args=()
  # shellcheck disable=SC2206
  [[ -n "${BED_APISERVER_ARGS:-}" ]] && extra_api_args=(${BED_APISERVER_ARGS})
  start_bg apiserver "$LOGS/apiserver.log" "$apiserver" serve \
    --data-dir "$TB/etcd" \
    --port-file "$RUN/apiserver.port" \
    --etcd-log "$LOGS/etcd.log" \
    -- \
    --advertise-address=127.0.0.1 \
    --bind-address=127.0.0.1 \
    --tls-cert-file="$PKI/apiserver.crt" \
    --tls-private-key-file="$PKI/apiserver.key" \
    --client-ca-file="$PKI/ca.crt" \
    --token-auth-file="$PKI/tokens.csv" \
    --authorization-mode=Node,RBAC \
    --service-account-issuer="$SA_ISSUER" \
    --service-account-key-file="$PKI/sa.pub" \
    --service-account-signing-key-file="$PKI/sa.key" \
    --api-audiences="$SA_ISSUER" \
    --service-cluster-ip-range=10.96.0.0/24 \
    --disable-admission-plugins=StorageObjectInUseProtection \
    --profiling=false \
    --v="${BED_APISERVER_V:-1}" \
    "${extra_api_args[@]}"
  local api_pid
  api_pid="$(head -n1 "$PIDS/apiserver.pid")"
  wait_file "$RUN/apiserver.port" "$api_pid" "$LOGS/apiserver.log" "$READY_TIMEOUT" kube-apiserver
  local api_port server
  api_port="$(cat "$RUN/apiserver.port")"
  server="https://127.0.0.1:$api_port"

  local t0=$SECONDS
  until curl -fsS --max-time 5 --cacert "$PKI/ca.crt" -H "Authorization: Bearer $token" \
        "$server/readyz" >/dev/null 2>"$RUN/readyz.err"; do
    if ! alive "$api_pid"; then tail_log "$LOGS/etcd.log"; tail_log "$LOGS/apiserver.log"; die "kube-apiserver exited"; fi
    if (( SECONDS - t0 >= READY_TIMEOUT )); then
      cat "$RUN/readyz.err" >&2 || true
      curl -sS --max-time 5 --cacert "$PKI/ca.crt" -H "Authorization: Bearer $token" "$server/readyz?verbose" >&2 || true
      tail_log "$LOGS/apiserver.log"
      die "kube-apiserver not ready within ${READY_TIMEOUT}s"
    fi
    sleep 0.25
  done
  log "kube-apiserver ready at $server ($(( SECONDS - t_api ))s after start)"

  # 4. kubeconfig (CA embedded, admin bearer token).
  local ca_b64
  ca_b64="$(base64 -w0 <"$PKI/ca.crt")"
  umask 077
  cat >"$KUBECONFIG_FILE.tmp" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: esm-testbed
  cluster:
    server: $server
    certificate-authority-data: $ca_b64
users:
- name: admin
  user:
    token: $token
contexts:
- name: esm-testbed
  context:
    cluster: esm-testbed
    user: admin
    namespace: default
current-context: esm-testbed
EOF
  umask 022
  mv -f "$KUBECONFIG_FILE.tmp" "$KUBECONFIG_FILE"

  # 5. CRDs.
  if [[ "${BED_SKIP_CRDS:-0}" == 1 ]]; then
    log "BED_SKIP_CRDS=1: not installing crds/"
  elif [[ -d "$ROOT/crds" ]] && compgen -G "$ROOT/crds/*.yaml" >/dev/null; then
    command -v kubectl >/dev/null 2>&1 || die "kubectl is required to install crds/"
    log "installing CRDs from crds/"
    kubectl_tb apply --server-side -f "$ROOT/crds/" >"$LOGS/crds.log" 2>&1 \
      || { tail_log "$LOGS/crds.log"; die "kubectl apply -f crds/ failed"; }
    kubectl_tb wait --for condition=established --timeout=60s -f "$ROOT/crds/" >>"$LOGS/crds.log" 2>&1 \
      || { tail_log "$LOGS/crds.log"; die "CRDs in crds/ did not become established"; }
  fi

  # 6. Lambda emulator.
  local lambda_endpoint=""
  if [[ -n "$emu" ]]; then
    local emu_args=(--addr 127.0.0.1:0 --port-file "$RUN/emulator.port" --region "$REGION")
    # shellcheck disable=SC2206
    [[ -n "${BED_EMULATOR_ARGS:-}" ]] && emu_args+=(${BED_EMULATOR_ARGS})
    start_bg emulator "$LOGS/emulator.log" "$emu" "${emu_args[@]}"
    wait_file "$RUN/emulator.port" "$(head -n1 "$PIDS/emulator.pid")" "$LOGS/emulator.log" 30 esm-emulator
    lambda_endpoint="http://127.0.0.1:$(tr -d '[:space:]' <"$RUN/emulator.port")"
    log "Lambda emulator at $lambda_endpoint"
  fi

  # 7. moto (optional).
  local moto_endpoint=""
  if [[ "${BED_WITH_MOTO:-0}" == 1 ]]; then
    local moto port
    moto="$(moto_bin)"
    port="$(free_port)"
    start_bg moto "$LOGS/moto.log" "$moto" -H 127.0.0.1 -p "$port"
    moto_endpoint="http://127.0.0.1:$port"
    t0=$SECONDS
    until curl -s -o /dev/null --max-time 2 "$moto_endpoint/moto-api/data.json"; do
      alive "$(head -n1 "$PIDS/moto.pid")" || { tail_log "$LOGS/moto.log"; die "moto_server exited"; }
      (( SECONDS - t0 < 60 )) || { tail_log "$LOGS/moto.log"; die "moto_server not answering within 60s"; }
      sleep 0.2
    done
    log "moto at $moto_endpoint"
  fi

  # 8. env file.
  local pids_list="" pf
  for pf in "$PIDS"/*.pid; do pids_list+="${pids_list:+ }$(head -n1 "$pf")"; done
  {
    echo "# written by testbed/bed.sh up at $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "export TESTBED_DIR='$TB'"
    echo "export KUBECONFIG='$KUBECONFIG_FILE'"
    echo "export KUBE_APISERVER_URL='$server'"
    echo "export TESTBED_CA_FILE='$PKI/ca.crt'"
    echo "export TESTBED_ADMIN_TOKEN='$token'"
    echo "export TESTBED_SA_ISSUER='$SA_ISSUER'"
    if [[ -n "$lambda_endpoint" ]]; then
      echo "export LAMBDA_ENDPOINT='$lambda_endpoint'"
      echo "export LAMBDA_ADMIN_URL='$lambda_endpoint/_emulator'"
      echo "export AWS_ENDPOINT_URL_LAMBDA='$lambda_endpoint'"
      # The emulator also speaks STS (AssumeRole, web identity), so roles assumed in the bed
      # resolve to the emulator's accounts.
      echo "export AWS_ENDPOINT_URL_STS='$lambda_endpoint'"
    fi
    echo "export AWS_REGION='$REGION'"
    echo "export AWS_DEFAULT_REGION='$REGION'"
    echo "export AWS_ACCESS_KEY_ID='testing'"
    echo "export AWS_SECRET_ACCESS_KEY='testing'"
    [[ -n "$moto_endpoint" ]] && echo "export MOTO_ENDPOINT='$moto_endpoint'"
    echo "export TESTBED_PID_DIR='$PIDS'"
    echo "export TESTBED_PIDS='$pids_list'"
  } >"$ENV_FILE.tmp"
  mv -f "$ENV_FILE.tmp" "$ENV_FILE"

  UP_OK=1
  log "up in $(( SECONDS - t_start ))s; env: $ENV_FILE  (source it, or: eval \"\$(bash testbed/bed.sh env)\")"
}

case "${1:-}" in
  up) cmd_up ;;
  down) cmd_down ;;
  env) cmd_env ;;
  status) cmd_status ;;
  *) echo "usage: bash testbed/bed.sh {up|down|env|status}" >&2; exit 2 ;;
esac
