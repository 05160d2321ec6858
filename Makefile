# Top-level tasks. The test bed (testbed/) provides a real kube-apiserver,
# the Lambda emulator and optionally moto; see testbed/README.md.
SHELL := /bin/bash

.PHONY: bed bed-down bed-env bed-smoke apiserver test demo crds bench

## Start the test bed in the background (writes .testbed/env and .testbed/kubeconfig).
bed:
	bash testbed/bed.sh up

## Stop every process the test bed started.
bed-down:
	bash testbed/bed.sh down

## Print the test bed's env file (eval "$$(make -s bed-env)").
bed-env:
	@bash testbed/bed.sh env

## Smoke-test a running bed (RBAC, TokenRequest, Events, Leases, CRD + CEL).
bed-smoke:
	bash testbed/smoke.sh

## Build (or find cached) the test bed kube-apiserver binary; prints its path.
apiserver:
	bash testbed/build-apiserver.sh

test:
	bash scripts/test.sh

demo:
	bash scripts/demo.sh

## Regenerate the CRD in crds/ and in the Helm chart from the Rust types.
crds:
	cargo run --locked -q -- crd --write .

## Benchmark against the test bed: make bench N=1000 MODE=list (or MODE=get) ACCOUNTS=1
## (N resources in each of ACCOUNTS accounts).
N ?= 1000
MODE ?= list
ACCOUNTS ?= 1
bench:
	@bash scripts/bench.sh $(N) $(MODE) $(ACCOUNTS)
