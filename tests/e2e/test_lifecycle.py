"""Create, delete (Delete / Retain / while Creating), a missing function, namespace scoping."""

import time

import pytest

from conftest import (
    cond_status, condition, esm_manifest, event_reasons, events_for, function_arn, get_esm, is_ready, kinesis_arn, make_namespace, sqs_arn, status, unique,
    wait_for,
)

# Measurements taken by the scenario tests and judged by separate tests, so that a known
# stall check is a test of its own and the scenario result stays separate.
OBS: dict[str, object] = {}


def test_create_sqs_reports_creating_then_enabled(emu_ctx):
    ctx = emu_ctx
    ctx.emu.delays(transition_ms=2000)
    name = "orders"
    src = sqs_arn(unique("q-orders"))
    ctx.emu.seed_event_source(src)
    ctx.apply(name, {
        "eventSourceARN": src, "functionName": ctx.function, "batchSize": 50,
        "maximumBatchingWindowInSeconds": 5,
        "filterCriteria": {"filters": [{"pattern": '{"body": {"type": ["order"]}}'}]},
        "scalingConfig": {"maximumConcurrency": 20},
        "tags": {"team": "payments"},
    })

    # Follow status.state: it must show Creating before Enabled.
    states: list[str] = []
    def enabled():
        obj = ctx.get(name)
        st = status(obj).get("state")
        if st and (not states or states[-1] != st):
            states.append(st)
        return obj if st == "Enabled" else None
    obj = wait_for(enabled, 60, f"{name} state Enabled", interval=0.1, describe=lambda: ctx.describe(name))
    assert states[0] == "Creating", f"states seen: {states}"
    assert set(states) <= {"Creating", "Enabled"}, f"states seen: {states}"

    # kubectl wait understands the Ready condition.
    p = ctx.k("wait", "--for=condition=Ready", f"esm/{name}", "-n", ctx.ns, "--timeout=60s", check=False)
    assert p.returncode == 0, p.stderr + ctx.describe(name)

    obj = ctx.wait_ready(name)
    st = status(obj)
    m = ctx.one_mapping(src)
    assert st["uuid"] == m["UUID"]
    assert st["eventSourceMappingARN"] == m["EventSourceMappingArn"]
    assert st["functionARN"] == function_arn(ctx.function) == m["FunctionArn"]
    assert st["state"] == m["State"] == "Enabled"
    assert st["observedGeneration"] == obj["metadata"]["generation"]
    # Reconciling and Stalled appear only while True (kstatus: absent means False).
    assert cond_status(obj, "Reconciling") is None and cond_status(obj, "Stalled") is None
    assert condition(obj, "Ready")["reason"] == "Enabled"
    # What the spec says reached Lambda.
    assert m["BatchSize"] == 50 and m["MaximumBatchingWindowInSeconds"] == 5
    assert m["FilterCriteria"] == {"Filters": [{"Pattern": '{"body": {"type": ["order"]}}'}]}
    assert m["ScalingConfig"] == {"MaximumConcurrency": 20}
    # The controller never writes into spec, and it holds its finalizer.
    assert obj["spec"]["batchSize"] == 50 and "uuid" not in obj["spec"]
    assert "lambda.esm-controller.dev/cleanup" in obj["metadata"].get("finalizers", [])

    # A first create publishes no Event (status says it; an Event would cost the API server one
    # more request per resource). A mapping created again after an out-of-band delete does
    # ("Recreated").

    # The user's tags and the controller's ownership tags are on the mapping.
    tags = ctx.emu.lambda_tags(m["EventSourceMappingArn"])
    assert tags.get("team") == "payments", tags
    assert tags.get("esm-controller.dev/owner-uid") == obj["metadata"]["uid"], tags
    assert tags.get("esm-controller.dev/owner") == f"{ctx.ns}/{name}", tags
    assert tags.get("esm-controller.dev/cluster") == "e2e", tags


def test_create_kinesis_with_stream_settings(emu_ctx):
    ctx = emu_ctx
    name = "clicks"
    src = kinesis_arn(unique("clicks"))
    dlq = sqs_arn(unique("dlq"))
    ctx.apply(name, {
        "eventSourceARN": src, "functionName": ctx.function, "startingPosition": "TRIM_HORIZON",
        "batchSize": 200, "parallelizationFactor": 4, "maximumRetryAttempts": 3,
        "bisectBatchOnFunctionError": True, "maximumRecordAgeInSeconds": 3600,
        "destinationConfig": {"onFailure": {"destination": dlq}},
        "functionResponseTypes": ["ReportBatchItemFailures"], "tumblingWindowInSeconds": 60,
    })
    obj = ctx.wait_ready(name)
    m = ctx.one_mapping(src)
    assert status(obj)["uuid"] == m["UUID"]
    assert m["StartingPosition"] == "TRIM_HORIZON"
    assert (m["BatchSize"], m["ParallelizationFactor"], m["MaximumRetryAttempts"]) == (200, 4, 3)
    assert m["BisectBatchOnFunctionError"] is True and m["MaximumRecordAgeInSeconds"] == 3600
    assert m["DestinationConfig"]["OnFailure"]["Destination"] == dlq
    assert m["FunctionResponseTypes"] == ["ReportBatchItemFailures"] and m["TumblingWindowInSeconds"] == 60
    # In sync: a few resyncs later nothing was updated.
    calls = ctx.emu.calls().get("UpdateEventSourceMapping", 0)
    time.sleep(7)
    assert ctx.emu.calls().get("UpdateEventSourceMapping", 0) == calls, "an in-sync mapping was updated"
    assert ctx.get(name)["metadata"]["generation"] == obj["metadata"]["generation"]


def test_delete_policy_delete_removes_mapping(emu_ctx):
    ctx = emu_ctx
    name = "to-delete"
    src = sqs_arn(unique("q-del"))
    ctx.apply(name, {"eventSourceARN": src, "functionName": ctx.function})
    uuid = ctx.wait_ready(name)["status"]["uuid"]
    assert ctx.emu.mapping(uuid)

    p = ctx.k("delete", "esm", name, "-n", ctx.ns, "--wait", "--timeout=60s", check=False)
    assert p.returncode == 0, p.stderr + ctx.describe(name)
    assert ctx.get(name) is None
    # The finalizer was released only after Lambda really removed the mapping.
    assert ctx.emu.mappings_for(src) == [], ctx.emu.mappings_for(src)
    assert "Deleted" in event_reasons(ctx.k, ctx.ns, name)


def test_delete_policy_retain_keeps_mapping_and_reapply_adopts_it(emu_ctx):
    ctx = emu_ctx
    name = "to-retain"
    src = sqs_arn(unique("q-retain"))
    spec = {"eventSourceARN": src, "functionName": ctx.function, "batchSize": 4, "deletionPolicy": "Retain"}
    ctx.apply(name, spec)
    uuid = ctx.wait_ready(name)["status"]["uuid"]

    p = ctx.k("delete", "esm", name, "-n", ctx.ns, "--wait", "--timeout=60s", check=False)
    assert p.returncode == 0, p.stderr + ctx.describe(name)
    assert ctx.get(name) is None
    assert "Retained" in event_reasons(ctx.k, ctx.ns, name)
    time.sleep(4)
    m = ctx.one_mapping(src)
    assert m["UUID"] == uuid and m["State"] == "Enabled"

    # GitOps re-sync: applying the same resource again adopts the retained mapping.
    creates = ctx.emu.calls().get("CreateEventSourceMapping", 0)
    ctx.apply(name, dict(spec, deletionPolicy="Delete"))
    obj = ctx.wait_ready(name)
    assert status(obj)["uuid"] == uuid
    assert ctx.one_mapping(src)["UUID"] == uuid
    ctx.wait_event(name, "Adopted")
    # At most the one Create that met the conflict.
    assert ctx.emu.calls().get("CreateEventSourceMapping", 0) - creates <= 1


def test_delete_while_creating_waits_for_lambda(emu_ctx):
    ctx = emu_ctx
    ctx.emu.delays(transition_ms=8000, deleting_ms=3000)
    name = "early-delete"
    src = sqs_arn(unique("q-early"))
    ctx.apply(name, {"eventSourceARN": src, "functionName": ctx.function})
    obj = ctx.wait(name, lambda o: status(o).get("uuid") and status(o).get("state") == "Creating",
                   "status.uuid recorded while Creating", timeout=30)
    uuid = status(obj)["uuid"]
    ctx.k("delete", "esm", name, "-n", ctx.ns, "--wait=false")


    # The finalizer holds the resource while Lambda is Creating, then Deleting.
    seen_deleting = False
    deadline = time.monotonic() + 120
    while ctx.get(name) is not None:
        m = ctx.emu.mapping(uuid)
        seen_deleting |= m is not None and m["State"] == "Deleting"
        assert time.monotonic() < deadline, "deletion did not complete within 120s\n" + ctx.describe(name)
        time.sleep(0.2)
    # The resource went away only once Lambda had removed the mapping.
    assert ctx.emu.mappings_for(src) == [], ctx.emu.mappings_for(src)
    assert seen_deleting, "never saw the mapping in Deleting: did the controller wait for Creating to end?"


def test_missing_function_stalls_then_recovers(emu_ctx):
    ctx = emu_ctx
    name = "no-function-yet"
    fn = unique("fn-later")
    src = sqs_arn(unique("q-later"))
    ctx.apply(name, {"eventSourceARN": src, "functionName": fn})
    obj = ctx.wait(name, lambda o: cond_status(o, "Stalled") == "True", "Stalled=True")
    assert condition(obj, "Stalled")["reason"] == "FunctionNotFound", obj["status"]
    assert condition(obj, "Ready")["status"] == "False"
    assert cond_status(obj, "Reconciling") is None
    ev = ctx.wait_event(name, "FunctionNotFound")
    assert ev.get("type") == "Warning"
    assert ctx.emu.mappings_for(src) == []
    OBS["function_not_found"] = _watch_stall(ctx, name)

    ctx.emu.seed_function(fn)
    obj = ctx.wait_ready(name, timeout=60)
    m = ctx.one_mapping(src)
    assert status(obj)["uuid"] == m["UUID"] and m["FunctionArn"] == function_arn(fn)


def test_unwatched_namespace_is_left_alone(emu_ctx):
    """The module's controller runs with --namespaces <its namespace>."""
    ctx = emu_ctx
    other = make_namespace(ctx.k, "unwatched")
    src = sqs_arn(unique("q-unwatched"))
    ctx.k.apply(esm_manifest(other, "ignored", {"eventSourceARN": src, "functionName": ctx.function}))
    time.sleep(8)
    obj = get_esm(ctx.k, other, "ignored")
    # Untouched: no finalizer, and nothing but the CRD's status default.
    assert not obj["metadata"].get("finalizers"), obj
    assert not status(obj).get("uuid") and not status(obj).get("conditions"), obj.get("status")
    assert not events_for(ctx.k, other, "ignored")
    assert ctx.emu.mappings_for(src) == []
    ctx.k("delete", "esm", "ignored", "-n", other, "--wait", "--timeout=30s")


def test_foreign_mapping_is_reported_then_adopted_on_request(emu_ctx):
    ctx = emu_ctx
    name = "foreign"
    src = sqs_arn(unique("q-foreign"))
    # Someone else's mapping for the same source and function (no ownership tags).
    theirs = ctx.emu.lambda_create({"EventSourceArn": src, "FunctionName": ctx.function, "BatchSize": 3})
    uuid = theirs["UUID"]
    ctx.apply(name, {"eventSourceARN": src, "functionName": ctx.function, "batchSize": 6})
    obj = ctx.wait(name, lambda o: cond_status(o, "Stalled") == "True", "Stalled=True")
    stalled = condition(obj, "Stalled")
    assert stalled["reason"] == "Conflict", obj["status"]
    assert uuid in stalled["message"] and "adopt-uuid" in stalled["message"], stalled
    ev = ctx.wait_event(name, "Conflict")
    assert uuid in ev.get("note", ""), ev
    # Left alone: still theirs, unchanged.
    m = ctx.one_mapping(src)
    assert m["UUID"] == uuid and m["BatchSize"] == 3
    assert "uuid" not in status(obj)
    OBS["conflict"] = _watch_stall(ctx, name)

    # The owner decides to hand it over.
    ctx.k("annotate", "esm", name, "-n", ctx.ns, f"lambda.esm-controller.dev/adopt-uuid={uuid}")
    obj = ctx.wait(name, lambda o: is_ready(o) and ctx.emu.mapping(uuid)["BatchSize"] == 6,
                   "adopted, Ready and batchSize 6", timeout=60)
    assert status(obj)["uuid"] == uuid
    assert ctx.one_mapping(src)["UUID"] == uuid
    ctx.wait_event(name, "Adopted")


def _watch_stall(ctx, name, seconds=5.0):
    """Watches a stalled resource for a few seconds: the Lambda calls made meanwhile (the
    stalled re-check is 10 s, so at most one round is expected) and the Ready reasons seen."""
    before = ctx.emu.calls()
    reasons = []
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        c = condition(ctx.get(name), "Ready")
        if c and (not reasons or reasons[-1] != c["reason"]):
            reasons.append(c["reason"])
        time.sleep(0.2)
    after = ctx.emu.calls()
    calls = {k: after.get(k, 0) - before.get(k, 0) for k in ("CreateEventSourceMapping", "ListEventSourceMappings")}
    return {"calls": calls, "reasons": reasons}




@pytest.mark.parametrize("case", ["function_not_found", "conflict"])
def test_stalled_resource_stays_quiet(case):
    if case not in OBS:
        pytest.skip("the scenario test did not get that far")
    seen = OBS[case]
    assert seen["calls"]["CreateEventSourceMapping"] <= 1, f"Lambda calls in 5 s while stalled: {seen}"
    assert len(seen["reasons"]) == 1, f"Ready reasons flapped while stalled: {seen}"
