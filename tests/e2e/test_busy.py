"""Busy Lambda: transitional states, ResourceInUseException and throttling are waited out,
never reported as errors."""

import re
import time
from pathlib import Path

import pytest

from conftest import condition, is_ready, sqs_arn, status, unique

PROGRESS_REASONS = {"Creating", "Waiting", "Updating", "Enabled"}


def _follow(ctx, name, done, allowed_reasons, timeout=120):
    """Polls the resource until done(obj, mapping); at every poll no error condition may show.
    Returns the Ready reasons seen, in order."""
    seen: list[str] = []
    deadline = time.monotonic() + timeout
    while True:
        obj = ctx.get(name)
        stalled = condition(obj, "Stalled")
        ready = condition(obj, "Ready")
        assert not (stalled and stalled["status"] == "True"), f"Stalled appeared: {stalled}\n" + ctx.describe(name)
        if ready:
            if not seen or seen[-1] != ready["reason"]:
                seen.append(ready["reason"])
            assert ready["reason"] in allowed_reasons, f"unexpected Ready reason {ready['reason']!r} ({ready['message']}); seen {seen}\n" + ctx.describe(name)
            if ready["status"] == "False":
                assert condition(obj, "Reconciling")["status"] == "True", f"not Ready but not Reconciling either:\n{obj['status']}"
        uuid = status(obj).get("uuid")
        m = ctx.emu.mapping(uuid) if uuid else None
        if done(obj, m):
            return seen
        assert time.monotonic() < deadline, f"not done within {timeout}s; Ready reasons seen: {seen}\n" + ctx.describe(name)
        time.sleep(0.2)


def _no_warnings(ctx, name):
    warnings = [e for e in ctx.k.json("get", "events.events.k8s.io", "-n", ctx.ns)["items"]
                if e["regarding"]["name"] == name and e.get("type") == "Warning"]
    assert not warnings, warnings


def test_spec_change_while_creating_is_applied_after_creating(emu_ctx):
    ctx = emu_ctx
    ctx.emu.delays(transition_ms=8000)
    name = "change-while-creating"
    src = sqs_arn(unique("q-busy"))
    ctx.apply(name, {"eventSourceARN": src, "functionName": ctx.function, "batchSize": 5})
    obj = ctx.wait(name, lambda o: status(o).get("state") == "Creating", "state Creating", timeout=30)
    uuid = status(obj)["uuid"]
    updates = ctx.emu.calls().get("UpdateEventSourceMapping", 0)

    ctx.patch(name, {"batchSize": 7})
    seen = _follow(ctx, name, lambda o, m: m and m["BatchSize"] == 7 and is_ready(o), PROGRESS_REASONS)
    assert seen[-1] == "Enabled", seen

    obj = ctx.get(name)
    assert status(obj)["uuid"] == uuid and status(obj)["state"] == "Enabled"
    assert ctx.one_mapping(src)["BatchSize"] == 7
    # It waited for Creating to end instead of sending an Update that Lambda would refuse.
    assert ctx.emu.calls().get("UpdateEventSourceMapping", 0) - updates == 1
    _no_warnings(ctx, name)


def test_resource_in_use_exception_is_waited_out(emu_ctx):
    ctx = emu_ctx
    name = "in-use"
    src = sqs_arn(unique("q-in-use"))
    ctx.apply(name, {"eventSourceARN": src, "functionName": ctx.function, "batchSize": 5})
    uuid = ctx.wait_ready(name)["status"]["uuid"]
    updates = ctx.emu.calls().get("UpdateEventSourceMapping", 0)

    ctx.emu.fault(operation="UpdateEventSourceMapping", status=400, code="ResourceInUseException",
                  message="Cannot update the event source mapping because it is in use. The event source mapping is currently in the Updating state.",
                  remaining=1)
    ctx.patch(name, {"batchSize": 6})
    _follow(ctx, name, lambda o, m: m and m["BatchSize"] == 6 and is_ready(o), PROGRESS_REASONS)
    assert ctx.emu.calls().get("UpdateEventSourceMapping", 0) - updates >= 2, "the faulted Update was not retried?"
    assert ctx.one_mapping(src)["UUID"] == uuid
    _no_warnings(ctx, name)


def _throttled_answers(bed) -> int:
    """429s the emulator has answered so far (from its request log)."""
    path = Path(bed.env.get("TESTBED_DIR", "")) / "logs" / "emulator.log"
    try:
        # "<METHOD> <path> <status>[ account=…]": the status is the third field of the message.
        return sum(1 for line in path.read_text(errors="replace").splitlines()
                   if re.search(r"esm_emulator::server: \S+ \S+ 429(\s|$)", line))
    except OSError:
        return -1


def _throttle_scenario(bed, ctx, per_second, count, timeout):
    throttled_before = _throttled_answers(bed)
    ctx.emu.rate_limit(per_second)
    names = [f"throttled-{per_second}-{i}" for i in range(count)]
    sources = {n: sqs_arn(unique(f"q-{n}")) for n in names}
    for n in names:
        ctx.apply(n, {"eventSourceARN": sources[n], "functionName": ctx.function})
    deadline = time.monotonic() + timeout
    for n in names:
        obj = ctx.wait_ready(n, timeout=max(5.0, deadline - time.monotonic()))
        assert ctx.one_mapping(sources[n])["UUID"] == status(obj)["uuid"]
        assert condition(obj, "Stalled") is None, "Stalled appears only while True"
    # The scenario is only meaningful if Lambda did refuse calls.
    if throttled_before >= 0:
        assert _throttled_answers(bed) > throttled_before, "no call was throttled: raise the load or lower the rate"


def test_throttling_is_retried(bed, emu_ctx):
    """Lambda's control-plane quota (429 TooManyRequestsException) slows things down, nothing more."""
    _throttle_scenario(bed, emu_ctx, per_second=2, count=5, timeout=120)


def test_throttling_leaves_room_for_writes(bed, emu_ctx):
    _throttle_scenario(bed, emu_ctx, per_second=1, count=3, timeout=60)
