"""Operations: the /healthz, /readyz and /metrics endpoint, and Lease leader election between
two replicas (with the shipped RBAC)."""

import json
import re
import time

import pytest

from conftest import (
    RUN_ID, Ctx, http_get, is_ready, make_namespace, sqs_arn, status, stop_and_check, unique, wait_for,
)


def test_health_and_metrics(emu_ctx):
    ctx = emu_ctx
    c = ctx.controller
    code, body = http_get(f"{c.http_url}/healthz")
    assert code == 200, body

    name = "metered"
    src = sqs_arn(unique("q-metered"))
    ctx.apply(name, {"eventSourceARN": src, "functionName": ctx.function})
    ctx.wait_ready(name)
    code, text = http_get(f"{c.http_url}/metrics")
    assert code == 200, text
    for metric in ("esm_reconciles_total", "esm_reconcile_duration_seconds", "esm_aws_requests_total",
                   "esm_mappings", "esm_time_to_ready_seconds"):
        assert metric in text, f"{metric} missing from /metrics:\n{text[:3000]}"
    m = re.search(r'esm_aws_requests_total\{[^}]*operation="CreateEventSourceMapping"[^}]*\} (\d+(?:\.\d+)?)', text)
    assert m and float(m.group(1)) >= 1, text[:3000]


def test_readyz_after_cache_sync(emu_ctx):
    """/readyz turns 200 once the watch caches are synced (a regression test: kube's DelayedInit
    wakes only its latest waiter, which once kept /readyz at 503 for ever)."""
    c = emu_ctx.controller
    wait_for(lambda: http_get(f"{c.http_url}/readyz")[0] == 200, 15, "/readyz 200", describe=c.log_tail)
    assert "watch caches synced" in c.log()


LEASE_NS = "esm-system"


def _lease(kubectl, name):
    p = kubectl("get", "lease", name, "-n", LEASE_NS, "-o", "json", check=False)
    if p.returncode != 0:
        return None
    return json.loads(p.stdout)


def _holder(kubectl, name):
    lease = _lease(kubectl, name)
    return ((lease or {}).get("spec") or {}).get("holderIdentity")


@pytest.fixture
def elect_ctx(bed, kubectl, emulator):
    ns = make_namespace(kubectl, "leader")
    fn = unique("fn-leader")
    emulator.seed_function(fn)
    return Ctx(kubectl, emulator, ns, fn, None)


def test_leader_election_one_active_replica_and_failover(bed, elect_ctx, controller_factory):
    ctx = elect_ctx
    lease = f"esm-e2e-{RUN_ID}"
    sa = "system:serviceaccount:esm-system:esm-controller"
    missing = [verb for verb in ("get", "create", "update")
               if ctx.k("auth", "can-i", verb, "leases.coordination.k8s.io", "-n", LEASE_NS, "--as", sa,
                        check=False).stdout.strip() != "yes"]
    if missing:
        pytest.fail(f"deploy/rbac.yaml: the ServiceAccount may not {'/'.join(missing)} "
                     f"coordination.k8s.io leases in {LEASE_NS}, which --leader-elect needs")

    def replica(identity):
        return controller_factory(
            f"leader-{identity}", bed.lambda_endpoint, [ctx.ns],
            extra_args=["--leader-elect", "--leader-election-namespace", LEASE_NS, "--leader-election-id", lease],
            env={"POD_NAME": identity},
        )

    def acquired(c):
        return "acquired leadership" in c.log()

    a = replica("replica-a")
    ctx.controller = a
    wait_for(lambda: acquired(a), 30, "replica-a to acquire the lease",
             describe=lambda: a.log_tail() + "\nRBAC denials:\n" + "\n".join(a.rbac_denials()))
    assert _holder(ctx.k, lease) == "replica-a"
    b = replica("replica-b")
    # A standby is ready (so a rolling update can proceed) but does not reconcile.
    wait_for(lambda: http_get(f"{b.http_url}/readyz")[0] == 200, 30, "standby /readyz 200", describe=b.log_tail)

    name = "led"
    src = sqs_arn(unique("q-led"))
    ctx.apply(name, {"eventSourceARN": src, "functionName": ctx.function, "batchSize": 2})
    uuid = ctx.wait_ready(name)["status"]["uuid"]
    assert ctx.one_mapping(src)["UUID"] == uuid
    assert not acquired(b), b.log_tail()
    assert '"reconciled"' not in b.log(), "the standby replica reconciled:\n" + b.log_tail()

    # The leader dies without releasing the lease: the standby takes over once it expires.
    a.kill()
    ctx.controller = b
    wait_for(lambda: acquired(b), 40, "replica-b to take over the lease", describe=b.log_tail)
    assert _holder(ctx.k, lease) == "replica-b"
    ctx.patch(name, {"batchSize": 3})
    wait_for(lambda: ctx.emu.mapping(uuid)["BatchSize"] == 3, 60, "BatchSize 3 applied by the new leader",
             describe=lambda: ctx.describe(name))
    obj = ctx.wait(name, is_ready, "Ready after failover")
    assert status(obj)["uuid"] == uuid and ctx.one_mapping(src)["UUID"] == uuid

    # A graceful stop releases the lease: the next replica takes over without waiting for expiry.
    stop_and_check(b)
    assert not _holder(ctx.k, lease), _lease(ctx.k, lease)
    t0 = time.monotonic()
    c = replica("replica-c")
    ctx.controller = c
    wait_for(lambda: acquired(c), 10, "replica-c to take the released lease", describe=c.log_tail)
    assert time.monotonic() - t0 < 10

    stop_and_check(c)
