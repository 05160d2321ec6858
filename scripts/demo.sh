#!/usr/bin/env bash
# `make demo`: build, start the test bed (real kube-apiserver + Lambda emulator), start the
# controller, apply an example and watch it become Ready. Stop everything with `make bed-down`.
set -euo pipefail
cd "$(dirname "$0")/.."
export ESM_CACHE_DIR="${ESM_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/esm-controller}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ESM_CACHE_DIR/target}"

say() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }

say "building esm-controller and esm-emulator"
cargo build --locked -p esm-controller -p esm-emulator

say "starting the test bed (kube-apiserver with our CRD, Lambda emulator)"
bash testbed/bed.sh up
# shellcheck disable=SC1091
source .testbed/env

say "seeding the emulator with the example's function"
curl -fsS -X POST -H 'content-type: application/json' -d '{"name":"order-handler"}' "$LAMBDA_ADMIN_URL/functions" >/dev/null

say "starting esm-controller (log: .testbed/logs/controller.log)"
AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing \
  setsid "$CARGO_TARGET_DIR/debug/esm-controller" run \
    --aws-endpoint-url "$LAMBDA_ENDPOINT" --region "$AWS_REGION" --cluster-name demo --resync-period 30s --http-addr 127.0.0.1:0 \
    </dev/null >.testbed/logs/controller.log 2>&1 &
echo $! > .testbed/pids/controller.pid

say "kubectl apply -f examples/sqs.yaml"
kubectl apply -f examples/sqs.yaml
kubectl get esm orders
say "kubectl wait --for=condition=Ready esm/orders"
if ! kubectl wait --for=condition=Ready esm/orders --timeout=60s; then
  kubectl get esm orders -o yaml
  tail -n 30 .testbed/logs/controller.log
  exit 1
fi
kubectl get esm -o wide
kubectl get events.events.k8s.io --field-selector regarding.name=orders -o custom-columns=REASON:.reason,NOTE:.note

cat <<MSG

The demo is running. Try it:

  source .testbed/env                       # KUBECONFIG, LAMBDA_ENDPOINT, LAMBDA_ADMIN_URL, AWS_REGION
  kubectl get esm -w                        # watch the mapping
  kubectl explain eventsourcemapping.spec   # the field reference
  curl -s \$LAMBDA_ADMIN_URL/mappings | jq . # what "Lambda" holds
  # drift: change the mapping behind the controller's back, and watch it come back
  curl -s -X POST -H 'content-type: application/json' -d '{"BatchSize":7}' \\
       \$LAMBDA_ADMIN_URL/mappings/\$(kubectl get esm orders -o jsonpath='{.status.uuid}')/oob-update
  kubectl patch esm orders --type merge -p '{"spec":{"batchSize":25}}'   # a spec change
  kubectl delete esm orders                 # deletes the mapping, then the resource

  Controller log: .testbed/logs/controller.log
  Stop everything: make bed-down
MSG
