#!/usr/bin/env bash
# shellcheck disable=SC2015  # ok/bad always succeed: `cond && ok || bad` is safe here
# Smoke test of a running test bed (bash testbed/bed.sh up first):
# RBAC, ServiceAccount tokens (TokenRequest), Events, Leases, CRDs with CEL.
# Leaves its namespace behind (no controller-manager => no namespace deletion).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ENV_FILE="$ROOT/.testbed/env"
[[ -f "$ENV_FILE" ]] || { echo "no $ENV_FILE: run 'bash testbed/bed.sh up' first" >&2; exit 1; }
# shellcheck disable=SC1090
source "$ENV_FILE"

pass=0 fail=0
ok() { pass=$((pass + 1)); echo "ok   - $*"; }
bad() { fail=$((fail + 1)); echo "FAIL - $*"; }
check() { local what="$1"; shift; if "$@" >/tmp/smoke.$$ 2>&1; then ok "$what"; else bad "$what"; sed 's/^/       /' /tmp/smoke.$$; fi; }
trap 'rm -f /tmp/smoke.$$' EXIT

ns="smoke-$(date +%s)-$RANDOM"
k() { kubectl "$@"; }

check "kubectl get ns" k get ns
[[ "$(k auth can-i '*' '*' 2>&1)" == yes ]] && ok "admin can-i '*' '*' = yes" || bad "admin can-i '*' '*' != yes"
check "server version" k version
check "create namespace $ns" k create namespace "$ns"
check "create serviceaccount robot" k -n "$ns" create serviceaccount robot

tok="$(k -n "$ns" create token robot --duration=10m 2>&1)" && ok "kubectl create token (TokenRequest)" || { bad "kubectl create token: $tok"; tok=""; }
if [[ -n "$tok" ]]; then
  who="$(k --token="$tok" auth whoami -o jsonpath='{.status.userInfo.username}' 2>&1 || true)"
  [[ "$who" == "system:serviceaccount:$ns:robot" ]] && ok "SA token authenticates as $who" || bad "SA token whoami: $who"
  out="$(k --token="$tok" -n "$ns" get secrets 2>&1 || true)"
  [[ "$out" == *Forbidden* || "$out" == *forbidden* ]] && ok "SA token forbidden to list secrets before binding" || bad "SA token not forbidden: $out"
  check "create role+rolebinding" bash -c "kubectl -n '$ns' create role secret-reader --verb=get,list --resource=secrets && kubectl -n '$ns' create rolebinding robot-secret-reader --role=secret-reader --serviceaccount='$ns:robot'"
  allowed=0
  for _ in $(seq 1 50); do
    if k --token="$tok" -n "$ns" get secrets >/dev/null 2>&1; then allowed=1; break; fi
    sleep 0.2
  done
  (( allowed )) && ok "SA token may list secrets after binding" || bad "SA token still forbidden after binding"
  tr_user="$(k create -o jsonpath='{.status.user.username}' -f - <<EOF 2>&1 || true
apiVersion: authentication.k8s.io/v1
kind: TokenReview
spec:
  token: $tok
EOF
)"
  [[ "$tr_user" == "system:serviceaccount:$ns:robot" ]] && ok "TokenReview validates SA token" || bad "TokenReview: $tr_user"
fi

check "create core/v1 Event" k -n "$ns" create -f - <<EOF
apiVersion: v1
kind: Event
metadata:
  name: smoke.1
involvedObject:
  kind: ServiceAccount
  name: robot
  namespace: $ns
reason: Smoke
message: smoke test event
type: Normal
source:
  component: smoke
EOF
check "create events.k8s.io/v1 Event" k -n "$ns" create -f - <<EOF
apiVersion: events.k8s.io/v1
kind: Event
metadata:
  name: smoke.2
eventTime: "$(date -u +%Y-%m-%dT%H:%M:%S.000000Z)"
reportingController: testbed/smoke
reportingInstance: smoke-1
action: Smoke
reason: Smoke
note: smoke test event
type: Normal
regarding:
  kind: ServiceAccount
  name: robot
  namespace: $ns
EOF
check "list events" k -n "$ns" get events
check "create Lease" k -n "$ns" create -f - <<EOF
apiVersion: coordination.k8s.io/v1
kind: Lease
metadata:
  name: smoke-leader
spec:
  holderIdentity: smoke-1
  leaseDurationSeconds: 15
EOF
check "update Lease" k -n "$ns" patch lease smoke-leader --type=merge -p '{"spec":{"holderIdentity":"smoke-2"}}'

check "apply CRD with CEL rule" k apply --server-side -f - <<'EOF'
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.smoke.testbed.local
spec:
  group: smoke.testbed.local
  scope: Namespaced
  names: {plural: widgets, singular: widget, kind: Widget}
  versions:
  - name: v1
    served: true
    storage: true
    subresources: {status: {}}
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            x-kubernetes-validations:
            - rule: "self.min <= self.max"
              message: "min must be <= max"
            properties:
              min: {type: integer}
              max: {type: integer}
          status:
            type: object
            x-kubernetes-preserve-unknown-fields: true
EOF
check "CRD established" k wait --for condition=established --timeout=60s crd/widgets.smoke.testbed.local
created=0
for _ in $(seq 1 50); do   # discovery may lag establishment by a moment
  if k -n "$ns" create -f - >/tmp/smoke.$$ 2>&1 <<'EOF'
apiVersion: smoke.testbed.local/v1
kind: Widget
metadata: {name: good}
spec: {min: 1, max: 2}
EOF
  then created=1; break; fi
  sleep 0.2
done
(( created )) && ok "valid Widget accepted" || { bad "valid Widget rejected"; cat /tmp/smoke.$$; }
out="$(k -n "$ns" create -f - 2>&1 <<'EOF' || true
apiVersion: smoke.testbed.local/v1
kind: Widget
metadata: {name: bad}
spec: {min: 3, max: 2}
EOF
)"
[[ "$out" == *"min must be <= max"* ]] && ok "CEL rule rejects invalid Widget" || bad "invalid Widget not rejected by CEL: $out"
check "status subresource patch" k -n "$ns" patch widget good --subresource=status --type=merge -p '{"status":{"phase":"Ready"}}'
check "delete Widget" k -n "$ns" delete widget good --wait=false

echo "$pass passed, $fail failed"
(( fail == 0 ))
