"""A paused leader must not write (issue 12, item 5).

Two replicas with leader election, each signing its Lambda requests with its own access key id
so that the emulator's request log (`/_emulator/requests`) tells them apart. The leader is
frozen with SIGSTOP for longer than the lease while it has writes queued up, the standby takes
over and writes, and the old leader is thawed with SIGCONT while more resources are created and
changed. Its timers fire late and its watch delivers a backlog of events at once: the very
moment a leader without a local lease check would send its stale writes. The log must show no
write from the old leader after the new leader's first, and the old leader must have exited
non-zero (its pod restarts, as a standby).
"""

import os
import signal
import time

import pytest

from conftest import (
    RUN_ID, Ctx, http_get, make_namespace, sqs_arn, status, stop_and_check, unique, wait_for,
)

LEASE_NS = "esm-system"
# Short, valid timings (renew deadline < lease duration) so the pause and takeover stay brief.
TIMING = [
    "--leader-election-lease-duration", "6s",
    "--leader-election-renew-deadline", "4s",
    "--leader-election-retry-period", "1s",
]
# How long Lambda's throttle tells the leader to hold back (Retry-After).
RETRY_AFTER_S = 8
KEY_A = "AKIDREPLICAAAAAAAAAA"
KEY_B = "AKIDREPLICABBBBBBBBB"


def is_write(request: dict) -> bool:
    # Every Lambda route that is not a GET changes something (Create/Update/Delete, Tag/Untag).
    return request["method"] != "GET"


@pytest.fixture
def ctx(bed, kubectl, emulator):
    ns = make_namespace(kubectl, "paused")
    fn = unique("fn-paused")
    emulator.seed_function(fn)
    return Ctx(kubectl, emulator, ns, fn, None)


def test_a_paused_leader_does_not_write_after_the_standby_took_over(bed, ctx, controller_factory):
    lease = f"esm-e2e-paused-{RUN_ID}"
    emu = ctx.emu

    def replica(identity, key):
        return controller_factory(
            f"paused-{identity}", bed.lambda_endpoint, [ctx.ns],
            extra_args=["--leader-elect", "--leader-election-namespace", LEASE_NS,
                        "--leader-election-id", lease, *TIMING],
            env={"POD_NAME": identity, "AWS_ACCESS_KEY_ID": key},
        )

    def requests_from(key):
        return [r for r in emu.requests() if r["caller"] == key]

    a = replica("replica-a", KEY_A)
    ctx.controller = a
    wait_for(lambda: "acquired leadership" in a.log(), 30, "replica-a to lead", describe=a.log_tail)
    b = replica("replica-b", KEY_B)
    wait_for(lambda: "standing by" in b.log(), 30, "replica-b to stand by", describe=b.log_tail)
    wait_for(lambda: http_get(f"{b.http_url}/readyz")[0] == 200, 30, "standby /readyz 200", describe=b.log_tail)

    ctx.apply("r1", {"eventSourceARN": sqs_arn(unique("q-r1")), "functionName": ctx.function, "batchSize": 2})
    uuid1 = ctx.wait_ready("r1")["status"]["uuid"]
    assert any(is_write(r) for r in requests_from(KEY_A)), "the leader's writes are not attributed to its key"
    assert not requests_from(KEY_B), "the standby called Lambda"

    # Queue writes up inside the leader: Lambda throttles one create with a Retry-After, so the
    # leader's AWS budget holds every further call back for a while. Creates that come in
    # meanwhile record createRequestedAt, then wait in the budget, ready to go the instant the
    # wait is over: with no request of any kind before them once the process wakes up.
    emu.fault(operation="CreateEventSourceMapping", status=429, code="TooManyRequestsException",
              message="Rate exceeded", remaining=1, retryAfterSeconds=RETRY_AFTER_S)
    ctx.apply("r2", {"eventSourceARN": sqs_arn(unique("q-r2")), "functionName": ctx.function})

    def throttled():
        return next((r for r in requests_from(KEY_A) if r["status"] == 429), None)
    throttle = wait_for(throttled, 30, "the leader's create to be throttled", describe=ctx.describe)
    throttled_at = time.monotonic()
    queued = ["r3", "r4"]
    for name in queued:
        ctx.apply(name, {"eventSourceARN": sqs_arn(unique(f"q-{name}")), "functionName": ctx.function})
    wait_for(lambda: all(status(ctx.get(n)).get("createRequestedAt") for n in queued), RETRY_AFTER_S / 2,
             "the leader to start the queued creates", describe=ctx.describe)
    os.kill(a.proc.pid, signal.SIGSTOP)
    try:
        # The queued creates are still waiting in the budget: nothing left the leader since.
        late = [r for r in requests_from(KEY_A) if r["seq"] > throttle["seq"] and is_write(r)]
        assert not late, f"the queued creates were sent before the pause (test set-up): {late}"
        # During the pause: a new resource (the new leader must create it) and a change.
        ctx.apply("r5", {"eventSourceARN": sqs_arn(unique("q-r5")), "functionName": ctx.function})
        ctx.patch("r1", {"batchSize": 3})
        wait_for(lambda: "acquired leadership" in b.log(), 40, "replica-b to take over", describe=b.log_tail)
        ctx.controller = b
        for name in ["r2", *queued, "r5"]:
            ctx.wait_ready(name)
        wait_for(lambda: emu.mapping(uuid1)["BatchSize"] == 3, 30, "r1's change applied by the new leader",
                 describe=lambda: ctx.describe("r1"))
        assert a.alive(), "the paused leader exited while stopped"
        # Thaw only once the budget's hold is over, so that the queued creates are due at once.
        time.sleep(max(0.0, throttled_at + RETRY_AFTER_S + 1 - time.monotonic()))
    finally:
        os.kill(a.proc.pid, signal.SIGCONT)

    # The old leader wakes up with late timers and a backlog of watch events; meanwhile more work.
    ctx.apply("r6", {"eventSourceARN": sqs_arn(unique("q-r6")), "functionName": ctx.function})
    ctx.patch("r2", {"batchSize": 7})
    ctx.patch("r1", {"batchSize": 4})

    rc = a.proc.wait(30)
    assert rc != 0, f"the old leader exited with {rc}:\n{a.log_tail()}"
    assert "lost leadership" in a.log(), a.log_tail()

    uuid2 = ctx.wait_ready("r2")["status"]["uuid"]
    ctx.wait_ready("r6")
    wait_for(lambda: emu.mapping(uuid2)["BatchSize"] == 7 and emu.mapping(uuid1)["BatchSize"] == 4, 30,
             "the changes after the thaw applied by the new leader", describe=ctx.describe)

    log = emu.requests()
    first_b_write = min(r["seq"] for r in log if r["caller"] == KEY_B and is_write(r))
    stale = [r for r in log if r["caller"] == KEY_A and is_write(r) and r["seq"] > first_b_write]
    assert not stale, f"the old leader wrote after the new leader's first write (seq {first_b_write}):\n{stale}"
    for name in ["r1", "r2", "r3", "r4", "r5", "r6"]:
        # r1 and r2 were just updated: Lambda shows Updating until its transition ends.
        obj = ctx.wait_ready(name, timeout=30)
        assert len(emu.mappings_for(obj["spec"]["eventSourceARN"])) == 1, obj

    # What Kubernetes does next: the pod restarts, and the old leader comes back as a standby.
    a2 = replica("replica-a", KEY_A)
    wait_for(lambda: "standing by" in a2.log(), 30, "the restarted replica to stand by", describe=a2.log_tail)
    assert "acquired leadership" not in a2.log()
    stop_and_check(a2)
    stop_and_check(b)
    assert not [r for r in emu.requests() if r["caller"] == KEY_A and r["seq"] > first_b_write and is_write(r)]
