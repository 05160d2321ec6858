#!/usr/bin/env bash
# shellcheck disable=SC2015,SC2001  # ok/bad/skip always succeed, so `cond && ok || bad` is safe
# The chart against the test bed's real kube-apiserver (called by run.sh, with the bed's env
# sourced: KUBECONFIG, KUBE_APISERVER_URL, TESTBED_CA_FILE, LAMBDA_ENDPOINT, LAMBDA_ADMIN_URL,
# AWS_REGION).
#
#   bed-checks.sh HELM CONTROLLER_BIN WORK_DIR
#
# Prints ok/FAIL/SKIP lines and "N passed, N failed". Stops every controller it starts, by
# PID, on exit (failure included).
set -uo pipefail

HELM="$1" BIN="$2" WORK="$3"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
CHART="$ROOT/charts/esm-controller"
REL=esm-controller RNS=esm-system           # the main release (all namespaces, leader election)
SREL=esm-scoped SNS=esm-scoped-system       # a second one with watchNamespaces
RUN_ID="$(date +%s)-$RANDOM"
GROUP=lambda.esm-controller.dev
CRD="eventsourcemappings.$GROUP"
ACRD="lambdaaccounts.$GROUP"
OWN_ACCOUNT=123456789012                    # the emulator's account for the controller's own keys
MAIN_ACCOUNT=210987654321 SCOPED_ACCOUNT=310987654321   # the accounts the bindings grant

pass=0 fail=0
ok() { pass=$((pass + 1)); echo "ok   - $*"; }
bad() { fail=$((fail + 1)); echo "FAIL - $*"; }
skip() { echo "SKIP - $*"; }
check() { local what="$1"; shift; local out; if out="$("$@" 2>&1)"; then ok "$what"; else bad "$what"; sed 's/^/       /' <<<"$out" | tail -n 15; fi; }

PIDS=()
stop_pid() {
  local pid="$1" i
  kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid" 2>/dev/null
  for ((i = 0; i < 150; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
  return 0
}
finish() {
  for pid in "${PIDS[@]}"; do stop_pid "$pid"; done
  echo "bed-checks: $pass passed, $fail failed"
}
trap finish EXIT
trap 'exit 130' INT TERM

k() { kubectl "$@"; }
h() { "$HELM" --kubeconfig "$KUBECONFIG" "$@"; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
as_sa() { echo "system:serviceaccount:$1:$2"; }

# Flags `esm-controller run` accepts.
SUPPORTED_FLAGS="$("$BIN" run --help 2>&1 | grep -oE -- '--[a-z][a-z0-9-]+' | sort -u)"
supports() { grep -qx -- "$1" <<<"$SUPPORTED_FLAGS"; }

# Writes the command line the chart's Deployment would run, adapted to a local process, to
# $1.args (one per line) and its env to $1.env: the Deployment's args, except --http-addr on a
# free loopback port; env with the downward-API fields filled in as the kubelet would.
controller_cmd() {
  local out="$1" manifest="$2" pod_name="$3" pod_ns="$4" port="$5"
  python3 - "$manifest" "$out" "$pod_name" "$pod_ns" "$port" <<'PY'
import sys, yaml
manifest, out, pod_name, pod_ns, port = sys.argv[1:]
deploys = [d for d in yaml.safe_load_all(open(manifest)) if d and d["kind"] == "Deployment"]
assert len(deploys) == 1, f"{len(deploys)} Deployments"
c = deploys[0]["spec"]["template"]["spec"]["containers"][0]
args = [f"--http-addr=127.0.0.1:{port}" if a.startswith("--http-addr=") else a for a in c["args"]]
env = {}
for e in c.get("env", []):
    if "value" in e:
        env[e["name"]] = e["value"]
    else:
        field = e["valueFrom"]["fieldRef"]["fieldPath"]
        env[e["name"]] = {"metadata.name": pod_name, "metadata.namespace": pod_ns}[field]
open(out + ".args", "w").write("\n".join(args) + "\n")
open(out + ".env", "w").write("\n".join(f"{k}={v}" for k, v in env.items()) + "\n")
PY
}

# Starts the controller as the chart would run it, with a ServiceAccount's token.
# Sets CTRL_PID, CTRL_LOG, CTRL_PORT, CTRL_HTTP (1 if the binary serves HTTP), CTRL_LEADER.
start_controller() {
  local name="$1" rel="$2" ns="$3" sa="$4"
  local kc="$WORK/$name.kubeconfig" token
  token="$(k -n "$ns" create token "$sa" --duration=1h)" || { bad "[$name] kubectl create token $sa"; return 1; }
  kubectl config --kubeconfig="$kc" set-cluster bed --server="$KUBE_APISERVER_URL" \
    --certificate-authority="$TESTBED_CA_FILE" --embed-certs=true >/dev/null
  kubectl config --kubeconfig="$kc" set-credentials sa --token="$token" >/dev/null
  kubectl config --kubeconfig="$kc" set-context sa --cluster=bed --user=sa --namespace="$ns" >/dev/null
  kubectl config --kubeconfig="$kc" use-context sa >/dev/null
  local who
  who="$(k --kubeconfig "$kc" auth whoami -o jsonpath='{.status.userInfo.username}' 2>&1)"
  [[ "$who" == "$(as_sa "$ns" "$sa")" ]] && ok "[$name] the token authenticates as $who" || bad "[$name] token whoami: $who"

  h get manifest "$rel" -n "$ns" >"$WORK/$name.manifest.yaml"
  CTRL_PORT="$(free_port)"
  controller_cmd "$WORK/$name" "$WORK/$name.manifest.yaml" "$name-0" "$ns" "$CTRL_PORT" \
    || { bad "[$name] reading the Deployment's args and env"; return 1; }
  local args=() missing=() a flag
  while IFS= read -r a; do
    flag="${a%%=*}"
    if [[ "$flag" == --* ]] && ! supports "$flag"; then missing+=("$flag"); continue; fi
    args+=("$a")
  done <"$WORK/$name.args"
  if ((${#missing[@]})); then
    if [[ "${PACKAGING_ALLOW_MISSING_FLAGS:-0}" == 1 ]]; then
      skip "[$name] the binary does not accept the chart's ${missing[*]} yet: running without them"
    else
      bad "[$name] the chart passes ${missing[*]}, which '$BIN run' does not accept (the pod would crash)"
      return 1
    fi
  else
    ok "[$name] the binary accepts every flag the chart's Deployment passes"
  fi
  CTRL_HTTP=0; [[ " ${args[*]} " == *" --http-addr="* ]] && CTRL_HTTP=1
  CTRL_LEADER=0; [[ " ${args[*]} " == *" --leader-elect "* ]] && CTRL_LEADER=1
  local envs=()
  mapfile -t envs <"$WORK/$name.env"
  CTRL_LOG="$WORK/$name.log"
  echo "     $name: $BIN ${args[*]}" 
  env -u KUBERNETES_SERVICE_HOST -u KUBERNETES_SERVICE_PORT -u AWS_ENDPOINT_URL_LAMBDA -u AWS_PROFILE \
    KUBECONFIG="$kc" AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing "${envs[@]}" \
    "$BIN" "${args[@]}" </dev/null >"$CTRL_LOG" 2>&1 &
  CTRL_PID=$!
  PIDS+=("$CTRL_PID")
  # For run.sh, which stops it too if this script is interrupted: PID and start time.
  echo "$CTRL_PID $(sed -E 's/^.*\) //' "/proc/$CTRL_PID/stat" | awk '{print $20}')" >>"$WORK/controller.pids"
  return 0
}

stop_controller() { stop_pid "$CTRL_PID"; }

# The controller creates a mapping for an SQS EventSourceMapping and reports it Ready.
# With ACCOUNT (a third argument), the mapping must land in that AWS account (a default
# LambdaAccount of the namespace grants it).
create_scenario() {
  local name="$1" ns="$2" account="${3:-$OWN_ACCOUNT}" esm="orders-$RUN_ID" fn="pkg-fn-$RUN_ID-$1"
  curl -fsS -X POST -H 'content-type: application/json' -d "{\"name\":\"$fn\",\"account\":\"$account\"}" "$LAMBDA_ADMIN_URL/functions" >/dev/null \
    || { bad "[$name] seeding function $fn in the emulator"; return 1; }
  k apply -f - >/dev/null <<EOF
apiVersion: $GROUP/v1alpha1
kind: EventSourceMapping
metadata:
  name: $esm
  namespace: $ns
spec:
  eventSourceARN: arn:aws:sqs:$AWS_REGION:$account:orders-$RUN_ID-$name
  functionName: $fn
  batchSize: 5
EOF
  if k -n "$ns" wait --for=condition=Ready "esm/$esm" --timeout=120s >/dev/null 2>&1; then
    ok "[$name] an SQS EventSourceMapping becomes Ready (the chart's RBAC is enough to create it)"
  else
    bad "[$name] the EventSourceMapping did not become Ready"
    k -n "$ns" get esm "$esm" -o yaml | sed -n '/^status:/,$p' | sed 's/^/       /'
    tail -n 20 "$CTRL_LOG" | sed 's/^/       log: /'
    return 1
  fi
  local uuid
  uuid="$(k -n "$ns" get esm "$esm" -o jsonpath='{.status.uuid}')"
  curl -fsS "$LAMBDA_ADMIN_URL/mappings?account=$account" | grep -q "$uuid" \
    && ok "[$name] Lambda (the emulator) has mapping $uuid in account $account" || bad "[$name] mapping $uuid not in the emulator's account $account"
  local fin
  fin="$(k -n "$ns" get esm "$esm" -o jsonpath='{.metadata.finalizers}')"
  [[ -n "$fin" ]] && ok "[$name] the controller set its finalizer ($fin)" || bad "[$name] no finalizer on the resource"
  # Deletion: the controller deletes the mapping in Lambda, then removes its finalizer.
  k -n "$ns" delete esm "$esm" --wait=false >/dev/null
  if k -n "$ns" wait --for=delete "esm/$esm" --timeout=120s >/dev/null 2>&1; then
    ok "[$name] deleting the resource deletes the mapping and removes the finalizer"
  else
    bad "[$name] the resource was not deleted"; tail -n 20 "$CTRL_LOG" | sed 's/^/       log: /'
  fi
  local mappings
  if mappings="$(curl -fsS "$LAMBDA_ADMIN_URL/mappings")" && [[ -n "$uuid" ]] && ! grep -q "$uuid" <<<"$mappings"; then
    ok "[$name] the mapping is gone from Lambda"
  else
    bad "[$name] mapping $uuid still in the emulator (or the emulator did not answer)"
  fi
  # A first create publishes no Event (status says it); the deletion does: the chart's RBAC must
  # let the controller create Events.
  local reasons=""
  for _ in $(seq 1 50); do
    reasons="$(k -n "$ns" get events.events.k8s.io --field-selector "regarding.name=$esm" -o jsonpath='{range .items[*]}{.reason}{" "}{end}' 2>&1)"
    [[ "$reasons" == *Deleted* ]] && break
    sleep 0.2
  done
  [[ "$reasons" == *Deleted* ]] && ok "[$name] Events recorded on the resource: $reasons" || bad "[$name] no Deleted Event for $esm (got: $reasons)"
}

# poll WANT SECONDS kubectl-get-args...: until `kubectl get ARGS` prints WANT.
poll() {
  local want="$1" secs="$2" got="" i
  shift 2
  for ((i = 0; i < secs * 5; i++)); do
    got="$(k get "$@" 2>/dev/null)"
    [[ "$got" == "$want" ]] && return 0
    sleep 0.2
  done
  echo "want '$want', last got '$got'"
  return 1
}
READY_REASON='jsonpath={.status.conditions[?(@.type=="Ready")].reason}'

# seed_role ARN: a role in the emulator's STS that trusts the controller's own account, with
# an external ID.
seed_role() {
  curl -fsS -X POST -H 'content-type: application/json' \
    -d "{\"roleArn\":\"$1\",\"trust\":[\"arn:aws:iam::$OWN_ACCOUNT:root\"],\"externalId\":\"pkg-external-id\"}" \
    "$LAMBDA_ADMIN_URL/roles" >/dev/null
}

# apply_binding NAME ROLE NAMESPACE DEFAULT: a LambdaAccount selecting one namespace by name.
apply_binding() {
  k apply -f - >/dev/null <<EOF
apiVersion: $GROUP/v1alpha1
kind: LambdaAccount
metadata:
  name: $1
spec:
  roleArn: $2
  externalId: pkg-external-id
  namespaceSelector:
    matchLabels:
      kubernetes.io/metadata.name: $3
  default: $4
  requestsPerSecond: 5
EOF
}

# Account bindings with the chart's RBAC: a binding turns Ready (the controller assumed its
# role: the binding's status and finalizer are written), a resource naming it gets its mapping
# in the binding's account, a resource in a namespace the binding does not select stalls, a
# binding in use is kept while resources use it, and goes once none does.
account_scenario() {
  local name="$1" ns="pkg-acct-$RUN_ID" other="pkg-other-$RUN_ID" acct="$MAIN_ACCOUNT"
  local binding="pkg-acct-$RUN_ID" fn="pkg-fn-acct-$RUN_ID" role="arn:aws:iam::$MAIN_ACCOUNT:role/esm-pkg-$RUN_ID"
  k create namespace "$ns" >/dev/null && k create namespace "$other" >/dev/null
  seed_role "$role" || { bad "[$name] seeding role $role in the emulator"; return 1; }
  curl -fsS -X POST -H 'content-type: application/json' -d "{\"name\":\"$fn\",\"account\":\"$acct\"}" "$LAMBDA_ADMIN_URL/functions" >/dev/null \
    || { bad "[$name] seeding function $fn in account $acct"; return 1; }
  check "[$name] a LambdaAccount is accepted" apply_binding "$binding" "$role" "$ns" false
  check "[$name] the binding turns Ready: the controller assumed its role (STS), and wrote its status" \
    poll True 60 lambdaaccount "$binding" -o 'jsonpath={.status.conditions[?(@.type=="Ready")].status}'
  check "[$name] the binding's status names its account ($acct)" poll "$acct" 10 lambdaaccount "$binding" -o 'jsonpath={.status.accountId}'
  check "[$name] the binding carries the in-use finalizer" \
    poll lambda.esm-controller.dev/in-use 10 lambdaaccount "$binding" -o 'jsonpath={.metadata.finalizers[0]}'
  for n in "$ns" "$other"; do
    k apply -f - >/dev/null <<EOF
apiVersion: $GROUP/v1alpha1
kind: EventSourceMapping
metadata: {name: acct, namespace: $n}
spec:
  accountRef: $binding
  eventSourceARN: arn:aws:sqs:$AWS_REGION:$acct:acct-$RUN_ID-$n
  functionName: $fn
EOF
  done
  if k -n "$ns" wait --for=condition=Ready esm/acct --timeout=120s >/dev/null 2>&1; then
    ok "[$name] an EventSourceMapping with spec.accountRef becomes Ready"
  else
    bad "[$name] the EventSourceMapping with spec.accountRef did not become Ready"
    k -n "$ns" get esm acct -o yaml | sed -n '/^status:/,$p' | sed 's/^/       /'
  fi
  check "[$name] its status records the binding and account ($binding, $acct)" \
    poll "$binding/$acct" 10 -n "$ns" esm acct -o 'jsonpath={.status.account}/{.status.accountId}'
  local uuid
  uuid="$(k -n "$ns" get esm acct -o jsonpath='{.status.uuid}')"
  [[ -n "$uuid" ]] && curl -fsS "$LAMBDA_ADMIN_URL/mappings?account=$acct" | grep -q "$uuid" \
    && ok "[$name] the mapping is in account $acct (the emulator serves the role's credentials from there)" \
    || bad "[$name] mapping '$uuid' not in the emulator's account $acct"
  check "[$name] a resource in a namespace the binding does not select stalls: AccountNotGranted" \
    poll AccountNotGranted 60 -n "$other" esm acct -o "$READY_REASON"
  # Deleting the binding while resources use it: kept, and says so.
  k delete lambdaaccount "$binding" --wait=false >/dev/null
  check "[$name] a binding in use is kept when deleted (Ready reason InUse)" \
    poll InUse 60 lambdaaccount "$binding" -o "$READY_REASON"
  k -n "$ns" delete esm acct --wait=false >/dev/null
  k -n "$other" delete esm acct --wait=false >/dev/null
  check "[$name] both resources are deleted (the mapping in its account; the refused one without any call)" \
    bash -c "kubectl -n $ns wait --for=delete esm/acct --timeout=120s && kubectl -n $other wait --for=delete esm/acct --timeout=60s"
  ! curl -fsS "$LAMBDA_ADMIN_URL/mappings?account=$acct" | grep -q "${uuid:-none}" \
    && ok "[$name] the mapping is gone from account $acct" || bad "[$name] mapping $uuid still in account $acct"
  check "[$name] the unused binding goes (its finalizer released after a cluster-wide count)" \
    k wait --for=delete "lambdaaccount/$binding" --timeout=90s
  k delete namespace "$ns" "$other" --wait=false >/dev/null 2>&1
}

controller_alive() {
  if kill -0 "$CTRL_PID" 2>/dev/null; then return 0; fi
  bad "[$1] the controller exited"; tail -n 30 "$CTRL_LOG" | sed 's/^/       log: /'; return 1
}

log_checks() {
  local name="$1"
  local denied='forbidden|not allowed to|code: ?403|"code": ?403'
  if grep -qiE "$denied" "$CTRL_LOG"; then
    bad "[$name] the controller log shows permission errors"; grep -iE "$denied" "$CTRL_LOG" | head -n 5 | sed 's/^/       /'
  else
    ok "[$name] no permission errors in the controller log"
  fi
  if python3 - "$CTRL_LOG" <<'PY'
import json, sys
lines = [l for l in open(sys.argv[1]) if l.strip()]
bad = [l for l in lines if not l.lstrip().startswith("{")]
for l in lines:
    if l.lstrip().startswith("{"):
        json.loads(l)
sys.exit(1 if bad or not lines else 0)
PY
  then ok "[$name] every log line is a JSON object (the chart's default --log-format=json)"
  else bad "[$name] log lines that are not JSON:"; grep -v '^{' "$CTRL_LOG" | head -n 3 | sed 's/^/       /'; fi
}

# ======================================================================= install (main release)
echo "--- helm install $REL into the bed"
if out="$(h install bad-values "$CHART" -n "$RNS" --create-namespace --set replicaCount=-1 2>&1)"; then
  bad "helm install with replicaCount=-1 was accepted"
else
  grep -q "schema" <<<"$out" && ok "helm install refuses invalid values (values.schema.json)" || bad "helm install failed without a schema error: $out"
fi
h status bad-values -n "$RNS" >/dev/null 2>&1 && bad "a release was left behind by the refused install" || ok "no release left by the refused install"

check "helm install $REL (leaderElection on, region, endpoint, observe mode, AWS rate, STS endpoint set)" \
  h install "$REL" "$CHART" -n "$RNS" --create-namespace \
  --set clusterName=packaging --set aws.region="$AWS_REGION" --set aws.endpointUrl="$LAMBDA_ENDPOINT" \
  --set leaderElection.enabled=true --set controller.resyncPeriod=30s \
  --set controller.observe=list --set controller.sweepInterval=5s --set controller.awsRateLimit=20 --set controller.awsBurst=20 \
  --set 'controller.extraEnv[0].name=AWS_ENDPOINT_URL_STS' --set "controller.extraEnv[0].value=$LAMBDA_ENDPOINT"
check "the CRD is established" k wait --for condition=established --timeout=60s "crd/$CRD"
check "the LambdaAccount CRD is established (the chart installs both CRDs)" k wait --for condition=established --timeout=60s "crd/$ACRD"
check "the LambdaAccount CRD is cluster-scoped" bash -c "kubectl get crd $ACRD -o jsonpath='{.spec.scope}' | grep -qx Cluster"
check "the LambdaAccount CRD carries helm.sh/resource-policy: keep" \
  bash -c "kubectl get crd $ACRD -o jsonpath='{.metadata.annotations.helm\.sh/resource-policy}' | grep -qx keep"
check "the CRD carries helm.sh/resource-policy: keep" \
  bash -c "kubectl get crd $CRD -o jsonpath='{.metadata.annotations.helm\.sh/resource-policy}' | grep -qx keep"
check "the CRD is owned by the release" \
  bash -c "kubectl get crd $CRD -o jsonpath='{.metadata.annotations.meta\.helm\.sh/release-name}' | grep -qx $REL"
check "CEL admission rules are live (a FIFO queue with batchSize 20 is refused)" bash -c "! kubectl apply --dry-run=server -f - <<EOF 2>&1
apiVersion: $GROUP/v1alpha1
kind: EventSourceMapping
metadata: {name: bad-fifo, namespace: default}
spec: {eventSourceARN: 'arn:aws:sqs:us-east-1:123456789012:q.fifo', functionName: f, batchSize: 20}
EOF"
for obj in "serviceaccount/$REL" "deployment/$REL" "service/$REL-metrics" "role/$REL-leader-election" "rolebinding/$REL-leader-election"; do
  check "$RNS/$obj exists" k -n "$RNS" get "$obj"
done
check "clusterrole/$REL exists" k get clusterrole "$REL"
check "clusterrolebinding/$REL exists" k get clusterrolebinding "$REL"

SA="$(as_sa "$RNS" "$REL")"
# can_i WANT VERB RESOURCE [SUBRESOURCE]: `kubectl auth can-i` as the ServiceAccount, in default.
can_i() {
  local want="$1" verb="$2" res="$3" sub="${4:-}" got
  got="$(k auth can-i "$verb" "$res" ${sub:+--subresource="$sub"} -n default --as "$SA" 2>/dev/null)"
  local what="$verb $res${sub:+/$sub}"
  if [[ "$want" == yes ]]; then
    [[ "$got" == yes ]] && ok "RBAC allows: $what" || bad "RBAC denies: $what"
  else
    [[ "$got" == no ]] && ok "RBAC denies what it does not need: $what" || bad "RBAC allows more than needed: $what"
  fi
}
for v in get list watch patch; do can_i yes "$v" "$CRD"; done
can_i yes patch "$CRD" status
can_i yes update "$CRD" finalizers
can_i yes create events.events.k8s.io
can_i no patch events.events.k8s.io   # events are only created, one per transition
for v in create update delete deletecollection; do can_i no "$v" "$CRD"; done
can_i no update "$CRD" status
can_i no get secrets
can_i no list configmaps
can_i no create events   # core/v1 Events: the controller uses events.k8s.io
# Cluster-scoped: account bindings and namespaces (asked without a namespace).
can_i_cluster() {
  local want="$1" verb="$2" res="$3" sub="${4:-}" got
  got="$(k auth can-i "$verb" "$res" ${sub:+--subresource="$sub"} --as "$SA" 2>/dev/null)"
  local what="$verb $res${sub:+/$sub} (cluster-scoped)"
  if [[ "$want" == yes ]]; then
    [[ "$got" == yes ]] && ok "RBAC allows: $what" || bad "RBAC denies: $what"
  else
    [[ "$got" == no ]] && ok "RBAC denies what it does not need: $what" || bad "RBAC allows more than needed: $what"
  fi
}
for v in get list watch patch; do can_i_cluster yes "$v" "$ACRD"; done
can_i_cluster yes patch "$ACRD" status
can_i_cluster yes update "$ACRD" finalizers
for v in create update delete deletecollection; do can_i_cluster no "$v" "$ACRD"; done
can_i_cluster no update "$ACRD" status
for v in get list watch; do can_i_cluster yes "$v" namespaces; done
for v in create update patch delete; do can_i_cluster no "$v" namespaces; done   # never labels a namespace

# Tenants get nothing on account bindings: a namespace admin (the built-in `admin` role in one
# namespace) can neither read nor create LambdaAccounts, nor relabel its namespace (labels are
# what bindings select); the aggregated admin/edit/view roles hold no rule on them.
TENANT_NS="pkg-tenant-$RUN_ID" TENANT=pkg-tenant-admin
k create namespace "$TENANT_NS" >/dev/null
k -n "$TENANT_NS" create rolebinding tenant-admin --clusterrole=admin --user="$TENANT" >/dev/null
for v in get list create patch delete; do
  [[ "$(k auth can-i "$v" "$ACRD" --as "$TENANT")" == no ]] \
    && ok "a namespace admin may not $v lambdaaccounts" || bad "a namespace admin may $v lambdaaccounts"
done
for v in patch update; do
  [[ "$(k auth can-i "$v" "namespace/$TENANT_NS" --as "$TENANT")" == no ]] \
    && ok "a namespace admin may not $v its own namespace (its labels)" || bad "a namespace admin may $v its namespace"
done
for role in admin edit view; do
  k get clusterrole "$role" -o json | grep -q lambdaaccounts \
    && bad "the aggregated ClusterRole $role holds lambdaaccounts" || ok "the aggregated ClusterRole $role holds nothing on lambdaaccounts"
done
k delete namespace "$TENANT_NS" --wait=false >/dev/null
can_i no create leases.coordination.k8s.io
[[ "$(k auth can-i create leases -n "$RNS" --as "$SA")" == yes ]] && ok "Lease: create in $RNS" || bad "Lease: cannot create in $RNS"
[[ "$(k auth can-i update leases/esm-controller -n "$RNS" --as "$SA")" == yes ]] && ok "Lease: update its own Lease" || bad "Lease: cannot update leases/esm-controller"
[[ "$(k auth can-i update leases/other -n "$RNS" --as "$SA")" == no ]] && ok "Lease: no update of other Leases" || bad "Lease: may update other Leases"
[[ "$(k auth can-i create leases -n kube-system --as "$SA")" == no ]] && ok "Lease: nothing outside $RNS" || bad "Lease: may create leases in kube-system"

# The pod the Deployment would create passes the "restricted" Pod Security Standard (the bed
# runs the PodSecurity admission plugin; a pod that escalates privileges is the control).
h get manifest "$REL" -n "$RNS" >"$WORK/main.manifest.yaml"
python3 - "$WORK/main.manifest.yaml" "$WORK/pss-pod.yaml" "$WORK/pss-bad-pod.yaml" <<'PY'
import copy, sys, yaml
d = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d and d["kind"] == "Deployment"][0]
pod = {"apiVersion": "v1", "kind": "Pod",
       "metadata": {"name": "pss-probe", "namespace": d["metadata"]["namespace"], "labels": d["spec"]["template"]["metadata"]["labels"]},
       "spec": d["spec"]["template"]["spec"]}
yaml.safe_dump(pod, open(sys.argv[2], "w"))
bad = copy.deepcopy(pod)
bad["spec"]["containers"][0]["securityContext"]["allowPrivilegeEscalation"] = True
yaml.safe_dump(bad, open(sys.argv[3], "w"))
PY
k label namespace "$RNS" pod-security.kubernetes.io/enforce=restricted --overwrite >/dev/null
check "the controller's pod is admitted under Pod Security 'restricted' (server dry-run)" k create --dry-run=server -f "$WORK/pss-pod.yaml"
! k create --dry-run=server -f "$WORK/pss-bad-pod.yaml" >/dev/null 2>&1 \
  && ok "control: a pod with allowPrivilegeEscalation is refused there" || bad "Pod Security 'restricted' is not enforced in the bed"

# ============================================================= the controller with the SA's token
echo "--- esm-controller with the $REL ServiceAccount's token"
if start_controller main "$REL" "$RNS" "$REL"; then
  if ((CTRL_HTTP)); then
    healthy=0
    for _ in $(seq 1 150); do
      kill -0 "$CTRL_PID" 2>/dev/null || break
      curl -fsS "http://127.0.0.1:$CTRL_PORT/readyz" >/dev/null 2>&1 && { healthy=1; break; }
      sleep 0.2
    done
    ((healthy)) && ok "[main] /readyz answers 200 once caches are synced" || bad "[main] /readyz not 200 within 30 s"
    check "[main] /healthz answers 200" curl -fsS "http://127.0.0.1:$CTRL_PORT/healthz"
  else
    skip "[main] /healthz, /readyz (binary without --http-addr)"
    sleep 2
  fi
  controller_alive main && create_scenario main default
  controller_alive main && account_scenario main
  if ((CTRL_HTTP)); then
    curl -fsS "http://127.0.0.1:$CTRL_PORT/metrics" >"$WORK/metrics.txt" 2>&1
    grep -q '^esm_' "$WORK/metrics.txt" && ok "[main] /metrics serves esm_* metrics" || bad "[main] no esm_ metrics at /metrics"
    grep -qE "^esm_aws_requests_total\{[^}]*account=\"$MAIN_ACCOUNT\"" "$WORK/metrics.txt" \
      && grep -qE '^esm_aws_requests_total\{[^}]*account="own"[^}]*region="' "$WORK/metrics.txt" \
      && ok "[main] esm_aws_requests_total is labelled by account (the binding's ID, and own) and region" \
      || { bad "[main] esm_aws_requests_total has no account=$MAIN_ACCOUNT / account=own series"; grep '^esm_aws_requests_total' "$WORK/metrics.txt" | head -n 5 | sed 's/^/       /'; }
    diff="$(python3 - "$ROOT/docs/operating.md" "$WORK/metrics.txt" <<'PY'
import re, sys
doc = open(sys.argv[1]).read()
section = doc.split("## Metrics", 1)[1].split("\n## ", 1)[0]
documented = {n[: -len("_total")] if n.endswith("_total") else n for n in re.findall(r"`(esm_[a-z_]+)", section)}
served = set(re.findall(r"^# TYPE (esm_[a-z_]+) ", open(sys.argv[2]).read(), re.M))
out = []
if not documented:
    out.append("no metric names in the Metrics section")
if documented - served:
    out.append("documented but not served: " + " ".join(sorted(documented - served)))
if served - documented:
    out.append("served but not documented: " + " ".join(sorted(served - documented)))
print("; ".join(out))
PY
)"
    [[ -z "$diff" ]] && ok "[main] docs/operating.md lists exactly the metric families /metrics serves" || bad "[main] metrics vs docs/operating.md: $diff"
  else
    skip "[main] /metrics (binary without --http-addr)"
  fi
  if ((CTRL_LEADER)); then
    holder="$(k -n "$RNS" get lease esm-controller -o jsonpath='{.spec.holderIdentity}' 2>&1)"
    [[ "$holder" == main-0 ]] && ok "[main] the Lease $RNS/esm-controller is held by POD_NAME (main-0)" || bad "[main] Lease holder: $holder"
  else
    skip "[main] Lease (binary without --leader-elect)"
  fi
  # The commands of README.md and docs/ (doc_commands.py), while the controller runs: the
  # release and namespace are the docs' own (esm-controller in esm-system).
  echo "--- commands in README.md and docs/ against the bed"
  docs_out="$(python3 "$ROOT/tests/packaging/doc_commands.py" bed "$ROOT" "$HELM" "$WORK" "$CTRL_LOG" "$CTRL_PORT" 2>&1)"
  grep -vE '^doc_commands bed: [0-9]+ passed' <<<"$docs_out"
  docs_line="$(grep -E '^doc_commands bed: [0-9]+ passed, [0-9]+ failed' <<<"$docs_out" | tail -n 1)"
  if [[ -n "$docs_line" ]]; then
    pass=$((pass + $(grep -oE '[0-9]+ passed' <<<"$docs_line" | grep -oE '[0-9]+')))
    fail=$((fail + $(grep -oE '[0-9]+ failed' <<<"$docs_line" | grep -oE '[0-9]+')))
  else
    bad "doc_commands.py bed: no result line"
  fi
  controller_alive main
  stop_controller
  log_checks main
fi

# ==================================================================== examples and renders
echo "--- server-side dry-run of examples/ and of every rendered value combination"
# The namespaces the examples live in (a user has them; a dry-run cannot create them).
for ns in $(python3 -c 'import sys, yaml; print(" ".join(sorted({d["metadata"]["namespace"] for f in sys.argv[1:] for d in yaml.safe_load_all(open(f)) if d and d.get("metadata", {}).get("namespace")})))' "$ROOT"/examples/*.yaml); do
  k create namespace "$ns" >/dev/null 2>&1
done
for f in "$ROOT"/examples/*.yaml; do
  check "examples/$(basename "$f") is accepted by the API server" k apply --dry-run=server -f "$f"
done
k create namespace argocd >/dev/null 2>&1
check "docs/gitops/argocd-cm-snippet.yaml is accepted by the API server" k apply --dry-run=server -f "$ROOT/docs/gitops/argocd-cm-snippet.yaml"
for ns in team-a team-b; do k create namespace "$ns" >/dev/null 2>&1; done
for f in "$WORK"/renders/*.yaml; do
  python3 - "$f" "$f.server" <<'PY'
import sys, yaml
docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d and d["kind"] != "ServiceMonitor"]
yaml.safe_dump_all(docs, open(sys.argv[2], "w"))
PY
  check "helm template ($(basename "$f" .yaml)) is accepted by the API server" k apply --dry-run=server -f "$f.server"
done

# ============================================================ watchNamespaces: Roles, not ClusterRole
echo "--- a second release with watchNamespaces (Role per namespace)"
TEAM=pkg-team-$RUN_ID
k create namespace "$TEAM" >/dev/null
check "helm install $SREL with watchNamespaces=[$TEAM], crds.install=false, requireAccountBinding" \
  h install "$SREL" "$CHART" -n "$SNS" --create-namespace --set fullnameOverride="$SREL" \
  --set "watchNamespaces={$TEAM}" --set crds.install=false --set clusterName=packaging-scoped \
  --set aws.region="$AWS_REGION" --set aws.endpointUrl="$LAMBDA_ENDPOINT" \
  --set controller.requireAccountBinding=true \
  --set 'controller.extraEnv[0].name=AWS_ENDPOINT_URL_STS' --set "controller.extraEnv[0].value=$LAMBDA_ENDPOINT"
check "Role and RoleBinding in $TEAM" k -n "$TEAM" get "role/$SREL" "rolebinding/$SREL"
! k get clusterrole "$SREL" >/dev/null 2>&1 && ok "no ClusterRole $SREL for EventSourceMappings" || bad "a ClusterRole $SREL exists"
check "clusterrole/$SREL-accounts and its binding exist (LambdaAccounts and namespaces are cluster-scoped)" \
  k get "clusterrole/$SREL-accounts" "clusterrolebinding/$SREL-accounts"
SSA="$(as_sa "$SNS" "$SREL")"
[[ "$(k auth can-i list "$CRD" -n "$TEAM" --as "$SSA")" == yes ]] && ok "$SREL may list in $TEAM" || bad "$SREL may not list in $TEAM"
for v in get watch patch; do
  [[ "$(k auth can-i "$v" "$CRD" -n default --as "$SSA")" == no ]] && ok "$SREL may not $v EventSourceMappings in default" || bad "$SREL may $v in default"
done
[[ "$(k auth can-i list "$CRD" --all-namespaces --as "$SSA")" == yes ]] \
  && ok "$SREL may list EventSourceMappings cluster-wide (to count a deleted binding's users), nothing more" \
  || bad "$SREL may not list cluster-wide: a deleted binding's finalizer would never go"
[[ "$(k auth can-i watch "$ACRD" --as "$SSA")" == yes && "$(k auth can-i patch "$ACRD" --subresource=status --as "$SSA")" == yes \
  && "$(k auth can-i watch namespaces --as "$SSA")" == yes ]] \
  && ok "$SREL may watch LambdaAccounts and namespaces and patch bindings' status" || bad "$SREL lacks the account rules"
[[ "$(k auth can-i create "$ACRD" --as "$SSA")" == no ]] && ok "$SREL may not create LambdaAccounts" || bad "$SREL may create LambdaAccounts"
if start_controller scoped "$SREL" "$SNS" "$SREL"; then
  grep -qx -- --require-account-binding "$WORK/scoped.args" \
    && ok "[scoped] controller.requireAccountBinding=true passes --require-account-binding" || bad "[scoped] no --require-account-binding in the args"
  sleep 2
  if controller_alive scoped; then
    # No binding selects $TEAM yet, and the own identity is refused: stalled, nothing created.
    k apply -f - >/dev/null <<EOF
apiVersion: $GROUP/v1alpha1
kind: EventSourceMapping
metadata: {name: no-account, namespace: $TEAM}
spec: {eventSourceARN: 'arn:aws:sqs:$AWS_REGION:$OWN_ACCOUNT:no-account-$RUN_ID', functionName: f}
EOF
    check "[scoped] with requireAccountBinding, a resource no binding covers stalls: NoAccount" \
      poll NoAccount 60 -n "$TEAM" esm no-account -o "$READY_REASON"
    ! curl -fsS "$LAMBDA_ADMIN_URL/mappings" | grep -q "no-account-$RUN_ID" \
      && ok "[scoped] no mapping was created for it" || bad "[scoped] a mapping was created with the refused own identity"
    check "[scoped] it is deleted without any AWS call" bash -c "kubectl -n $TEAM delete esm no-account --timeout=60s"
    # A default binding for $TEAM: resources without accountRef use it.
    seed_role "arn:aws:iam::$SCOPED_ACCOUNT:role/esm-pkg-$RUN_ID"
    check "[scoped] a default LambdaAccount for $TEAM" apply_binding "pkg-scoped-$RUN_ID" "arn:aws:iam::$SCOPED_ACCOUNT:role/esm-pkg-$RUN_ID" "$TEAM" true
    check "[scoped] the binding turns Ready" \
      poll True 60 lambdaaccount "pkg-scoped-$RUN_ID" -o 'jsonpath={.status.conditions[?(@.type=="Ready")].status}'
    create_scenario scoped "$TEAM" "$SCOPED_ACCOUNT"
    k delete lambdaaccount "pkg-scoped-$RUN_ID" --wait=false >/dev/null
    check "[scoped] the unused binding goes (counted cluster-wide with the accounts ClusterRole)" \
      k wait --for=delete "lambdaaccount/pkg-scoped-$RUN_ID" --timeout=90s
  fi
  controller_alive scoped
  stop_controller
  log_checks scoped
fi

# ============================================================================ helm upgrade
echo "--- helm upgrade"
check "helm upgrade $REL --reuse-values --set replicaCount=2" h upgrade "$REL" "$CHART" -n "$RNS" --reuse-values --set replicaCount=2
[[ "$(k -n "$RNS" get deploy "$REL" -o jsonpath='{.spec.replicas}/{.spec.strategy.type}')" == "2/RollingUpdate" ]] \
  && ok "after the upgrade: 2 replicas, RollingUpdate" || bad "the upgrade did not change the Deployment"
[[ "$(h status "$REL" -n "$RNS" -o json | python3 -c 'import json,sys; print(json.load(sys.stdin)["version"])')" == 2 ]] \
  && ok "release revision 2" || bad "release revision is not 2"

# The chart upgrades its CRD: a chart whose CRD has an extra printer column...
cp -R "$CHART" "$WORK/chart-next"
python3 - "$WORK/chart-next/files/crds/lambda.esm-controller.dev_eventsourcemappings.yaml" <<'PY'
import sys, yaml
path = sys.argv[1]
crd = yaml.safe_load(open(path))
crd["spec"]["versions"][0]["additionalPrinterColumns"].append(
    {"name": "PackagingProbe", "type": "string", "jsonPath": ".spec.functionName", "priority": 1})
yaml.safe_dump(crd, open(path, "w"))
PY
cols() { k get crd "$CRD" -o jsonpath='{.spec.versions[0].additionalPrinterColumns[*].name}'; }
check "helm upgrade with a changed CRD" h upgrade "$REL" "$WORK/chart-next" -n "$RNS" --reuse-values
[[ " $(cols) " == *" PackagingProbe "* ]] && ok "helm upgrade upgraded the CRD (new printer column)" || bad "the CRD was not upgraded: columns $(cols)"
check "helm upgrade back to the real chart" h upgrade "$REL" "$CHART" -n "$RNS" --reuse-values
[[ " $(cols) " != *" PackagingProbe "* ]] && ok "the CRD is back to crds/'s version" || bad "the CRD still has the probe column"

# crds.install=false and uninstall keep the CRD, and with it users' resources.
k apply -f - >/dev/null <<EOF
apiVersion: $GROUP/v1alpha1
kind: EventSourceMapping
metadata: {name: keep-me-$RUN_ID, namespace: default}
spec: {eventSourceARN: 'arn:aws:sqs:us-east-1:123456789012:keep-me', functionName: f}
EOF
check "helm upgrade --set crds.install=false" h upgrade "$REL" "$CHART" -n "$RNS" --reuse-values --set crds.install=false
check "the CRD survives crds.install=false (resource-policy keep)" k get crd "$CRD"
check "helm uninstall $REL" h uninstall "$REL" -n "$RNS"
check "helm uninstall $SREL" h uninstall "$SREL" -n "$SNS"
check "the CRD survives helm uninstall" k get crd "$CRD"
check "the LambdaAccount CRD survives helm uninstall" k get crd "$ACRD"
check "users' EventSourceMappings survive helm uninstall" k -n default get esm "keep-me-$RUN_ID"
! k get clusterrole "$REL" >/dev/null 2>&1 && ok "uninstall removed the ClusterRole" || bad "the ClusterRole is still there"
! k -n "$RNS" get deploy "$REL" >/dev/null 2>&1 && ok "uninstall removed the Deployment" || bad "the Deployment is still there"
