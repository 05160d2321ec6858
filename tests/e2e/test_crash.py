"""Crash safety: no duplicate mapping after a lost Create response or a controller killed
between Lambda's Create and the status write."""

import time

import pytest

from conftest import Ctx, is_ready, make_namespace, sqs_arn, status, stop_and_check, unique, wait_for


@pytest.fixture(scope="module")
def crash_ctx(bed, kubectl, emulator, controller_factory):
    """Like emu_ctx, but each test manages its controller processes itself."""
    ns = make_namespace(kubectl, "crash")
    fn = unique("fn-crash")
    emulator.seed_function(fn)
    ctx = Ctx(kubectl, emulator, ns, fn, None)

    def start():
        # Never two controllers on one namespace: stop the previous one first.
        if ctx.controller is not None and ctx.controller.alive():
            stop_and_check(ctx.controller)
        ctx.controller = controller_factory("crash", bed.lambda_endpoint, [ns])
        return ctx.controller
    ctx.start_controller = start
    yield ctx
    if ctx.controller is not None and ctx.controller.alive():
        stop_and_check(ctx.controller)


def _settled_single_mapping(ctx, name, src):
    obj = ctx.wait_ready(name, timeout=90)
    m = ctx.one_mapping(src)
    assert status(obj)["uuid"] == m["UUID"], f"status.uuid {status(obj)['uuid']} != Lambda's {m['UUID']}"
    assert "createRequestedAt" not in status(obj), status(obj)
    # And it stays that way over a resync or two.
    time.sleep(4)
    assert ctx.one_mapping(src)["UUID"] == m["UUID"]
    assert status(ctx.get(name))["uuid"] == m["UUID"]
    return m


def test_lost_create_response_creates_no_duplicate(crash_ctx):
    ctx = crash_ctx
    c = ctx.start_controller()
    name = "lost-response"
    src = sqs_arn(unique("q-lost"))
    creates = ctx.emu.calls().get("CreateEventSourceMapping", 0)
    ctx.emu.lose_create_responses(1)
    ctx.apply(name, {"eventSourceARN": src, "functionName": ctx.function, "batchSize": 4})
    m = _settled_single_mapping(ctx, name, src)
    assert m["BatchSize"] == 4
    ctx.wait_event(name, "Recovered")
    # The lost one, at most one more that met the conflict.
    assert ctx.emu.calls().get("CreateEventSourceMapping", 0) - creates <= 2


def test_kill_between_create_and_status_write(crash_ctx):
    """Deterministic window: Lambda creates the mapping at once but answers 3 s later (an
    injected response latency). The controller is SIGKILLed while waiting for that answer, so
    status has createRequestedAt but no UUID. The next controller must find the mapping by its
    ownership tag instead of creating a second one."""
    ctx = crash_ctx
    ctx.emu.delays(transition_ms=5000)
    c = ctx.start_controller()
    name = "killed-mid-create"
    src = sqs_arn(unique("q-killed"))
    ctx.emu.fault(operation="CreateEventSourceMapping", code="", latencyMs=3000, remaining=1)
    ctx.apply(name, {"eventSourceARN": src, "functionName": ctx.function})
    wait_for(lambda: ctx.emu.mappings_for(src), 30, "the mapping to appear in Lambda", interval=0.02,
             describe=ctx.describe)
    c.kill()
    obj = ctx.get(name)
    assert "uuid" not in status(obj), f"the status write was not held back: {status(obj)}"
    assert status(obj).get("createRequestedAt"), f"createRequestedAt was not recorded before Create: {status(obj)}"

    ctx.start_controller()
    _settled_single_mapping(ctx, name, src)
    ctx.wait_event(name, "Recovered")


def test_kill_right_after_create_appears(crash_ctx):
    """The brief's race: SIGKILL as soon as Lambda shows the mapping; status may or may not have
    the UUID. Either way there is exactly one mapping after a restart."""
    ctx = crash_ctx
    ctx.emu.delays(transition_ms=5000)
    c = ctx.start_controller()
    name = "killed-after-create"
    src = sqs_arn(unique("q-killed2"))
    ctx.apply(name, {"eventSourceARN": src, "functionName": ctx.function})
    wait_for(lambda: ctx.emu.mappings_for(src), 30, "the mapping to appear in Lambda", interval=0.005,
             describe=ctx.describe)
    c.kill()
    recorded = status(ctx.get(name)).get("uuid")
    print(f"status.uuid at kill time: {recorded!r}")

    ctx.start_controller()
    m = _settled_single_mapping(ctx, name, src)
    if recorded:
        assert recorded == m["UUID"]


def test_restart_mid_update_converges(crash_ctx):
    """SIGKILL while Lambda is Updating; the next controller finishes the job without a
    duplicate and without a second Update."""
    ctx = crash_ctx
    c = ctx.start_controller()
    name = "killed-mid-update"
    src = sqs_arn(unique("q-killed3"))
    ctx.apply(name, {"eventSourceARN": src, "functionName": ctx.function, "batchSize": 2})
    uuid = ctx.wait_ready(name)["status"]["uuid"]
    ctx.emu.delays(transition_ms=5000)
    updates = ctx.emu.calls().get("UpdateEventSourceMapping", 0)
    ctx.patch(name, {"batchSize": 3})
    wait_for(lambda: ctx.emu.mapping(uuid)["State"] == "Updating", 30, "Updating", interval=0.05,
             describe=ctx.describe)
    c.kill()
    ctx.start_controller()
    obj = ctx.wait(name, lambda o: is_ready(o) and ctx.emu.mapping(uuid)["BatchSize"] == 3, "Ready with batchSize 3",
                   timeout=90)
    assert status(obj)["uuid"] == uuid
    assert ctx.one_mapping(src)["UUID"] == uuid
    assert ctx.emu.calls().get("UpdateEventSourceMapping", 0) - updates == 1
