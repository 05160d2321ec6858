"""Management policies (issue 13) through kubectl: spec.suspend, managementPolicy Observe,
spec.ignoreDrift, the drift report (status.drift, one DriftDetected Event, esm_drift_total) and
the adopt-existing annotation. Each test counts the Lambda calls it must not see in the
emulator's /_emulator/calls, and removes its resources at the end so that the next test's
counts are its own."""

import json
import re
import time
import urllib.parse

import pytest

from conftest import cond_status, condition, http_get, is_ready, sqs_arn, status, unique, wait_for

ADOPT_EXISTING = "lambda.esm-controller.dev/adopt-existing"
WRITES = ("CreateEventSourceMapping", "UpdateEventSourceMapping", "DeleteEventSourceMapping",
          "TagResource", "UntagResource")


def write_counts(ctx) -> dict[str, int]:
    calls = ctx.emu.calls()
    return {op: calls.get(op, 0) for op in WRITES}


def delta(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    return {op: after[op] - before[op] for op in WRITES if after[op] != before[op]}


def calls_naming(ctx, uuid: str, since: int) -> list[dict]:
    """Lambda requests after sequence number `since` whose path names the mapping (Get, Update,
    Delete, and the tag calls on its ARN)."""
    return [r for r in ctx.emu.requests() if r.get("seq", 0) > since and uuid in urllib.parse.unquote(r.get("path", ""))]


def last_seq(ctx) -> int:
    reqs = ctx.emu.requests()
    return max((r.get("seq", 0) for r in reqs), default=0)


def drift_events(ctx, name: str) -> list[dict]:
    from conftest import events_for
    return [e for e in events_for(ctx.k, ctx.ns, name) if e.get("reason") == "DriftDetected"]


def published(events: list[dict]) -> int:
    """How many times Events were published: events.k8s.io folds repeats into `series`."""
    return sum(((e.get("series") or {}).get("count") or 1) for e in events)


def drift_metric(ctx, field: str) -> float:
    code, body = http_get(ctx.controller.http_url + "/metrics")
    assert code == 200, body
    m = re.search(r'^esm_drift_total\{field="' + re.escape(field) + r'"\} (\S+)$', body, re.M)
    return float(m.group(1)) if m else 0.0


def tag_resource(ctx, arn: str, tags: dict[str, str]) -> None:
    """TagResource through the emulator's Lambda API (as another tool would)."""
    path = "/2017-03-31/tags/" + urllib.parse.quote(arn, safe="")
    ctx.emu._call("POST", path, {"Tags": tags}, base=ctx.emu.lambda_endpoint)


def keep(bed, label: str, obj: dict) -> None:
    """Saves a live object in the e2e work dir (for tests/packaging/kstatus/testdata and the
    Argo CD health samples, which mirror them)."""
    (bed.work / f"policies-{label}.json").write_text(json.dumps(obj, indent=2))


@pytest.fixture
def ctx(emu_ctx):
    """The module's context; every resource a test made is deleted after it."""
    yield emu_ctx
    emu_ctx.delete_all()


def test_suspend_makes_no_lambda_call_and_unsuspend_applies(ctx, bed):
    name = "suspended"
    src = sqs_arn(unique("q-suspend"))
    spec = {"eventSourceARN": src, "functionName": ctx.function, "batchSize": 5}
    ctx.apply(name, spec)
    uuid = ctx.wait_ready(name)["status"]["uuid"]

    # Suspended right after it was Ready: Ready stays, with a Suspended condition.
    ctx.patch(name, {"suspend": True})
    obj = ctx.wait(name, lambda o: cond_status(o, "Suspended") == "True"
                   and status(o).get("observedGeneration") == o["metadata"]["generation"],
                   "Suspended=True for the current generation")
    assert condition(obj, "Ready")["status"] == "True", obj["status"]
    assert cond_status(obj, "Reconciling") is None and cond_status(obj, "Stalled") is None, obj["status"]
    assert status(obj)["uuid"] == uuid and status(obj)["state"] == "Enabled"
    keep(bed, "suspended-ready", obj)

    # No Lambda call for it while suspended, not even to fix drift.
    seq = last_seq(ctx)
    before = write_counts(ctx)
    ctx.emu.oob_update(uuid, {"BatchSize": 9})
    time.sleep(8)  # over two resyncs (3 s) and two sweeps (3 s)
    assert calls_naming(ctx, uuid, seq) == [], "a suspended resource's mapping was called"
    assert delta(before, write_counts(ctx)) == {}
    assert ctx.emu.mapping(uuid)["BatchSize"] == 9, "drift was fixed while suspended"
    suspended_events = [e for e in ctx.k.json("get", "events.events.k8s.io", "-n", ctx.ns)["items"]
                        if e["regarding"]["name"] == name and e["reason"] == "Suspended"]
    assert len(suspended_events) == 1 and published(suspended_events) == 1, suspended_events
    assert suspended_events[0]["type"] == "Normal"

    # A spec change while suspended is not applied: not Ready for it, and Stalled (not
    # progressing for ever) with reason Suspended.
    ctx.patch(name, {"batchSize": 7})
    obj = ctx.wait(name, lambda o: cond_status(o, "Stalled") == "True"
                   and status(o).get("observedGeneration") == o["metadata"]["generation"],
                   "Stalled for the new generation")
    assert condition(obj, "Stalled")["reason"] == "Suspended", obj["status"]
    assert condition(obj, "Ready")["status"] == "False"
    assert cond_status(obj, "Suspended") == "True" and cond_status(obj, "Reconciling") is None
    keep(bed, "suspended-after-change", obj)
    time.sleep(4)
    assert calls_naming(ctx, uuid, seq) == [] and delta(before, write_counts(ctx)) == {}
    assert ctx.emu.mapping(uuid)["BatchSize"] == 9

    # Un-suspended: the spec is applied to the same mapping.
    ctx.patch(name, {"suspend": False})
    wait_for(lambda: ctx.emu.mapping(uuid)["BatchSize"] == 7, 60, "BatchSize 7 in Lambda",
             describe=lambda: ctx.describe(name))
    obj = ctx.wait_ready(name)
    assert cond_status(obj, "Suspended") is None, obj["status"]
    assert cond_status(obj, "Stalled") is None
    assert status(obj)["uuid"] == uuid and ctx.one_mapping(src)["UUID"] == uuid

    # Deleting a suspended resource still honours deletionPolicy (Delete, the default).
    ctx.patch(name, {"suspend": True})
    ctx.wait(name, lambda o: cond_status(o, "Suspended") == "True", "Suspended=True")
    ctx.k("delete", "esm", name, "-n", ctx.ns, "--wait=false")
    ctx.wait_gone(name)
    assert ctx.emu.mappings_for(src) == [], "deleting a suspended resource left its mapping"


def test_observe_reports_never_writes_takes_over_and_releases(ctx, bed):
    name = "observed"
    src = sqs_arn(unique("q-observe"))
    # A mapping made by someone else (another tool, the console).
    uuid = ctx.emu.lambda_create({"EventSourceArn": src, "FunctionName": ctx.function, "BatchSize": 7})["UUID"]
    wait_for(lambda: ctx.emu.mapping(uuid)["State"] == "Enabled", 30, "the mapping Enabled")
    before = write_counts(ctx)
    metric_before = drift_metric(ctx, "batchSize")

    ctx.apply(name, {"eventSourceARN": src, "functionName": ctx.function, "batchSize": 5,
                     "managementPolicy": "Observe"})
    obj = ctx.wait(name, lambda o: is_ready(o) and status(o).get("drift"), "Ready and drift reported")
    assert condition(obj, "Ready")["reason"] == "Observed", obj["status"]
    assert status(obj)["uuid"] == uuid, "found without a UUID"
    assert status(obj)["state"] == "Enabled"
    assert status(obj)["drift"] == ["batchSize"], obj["status"]
    assert "batchSize" in condition(obj, "Ready")["message"]
    keep(bed, "observed", obj)
    ctx.wait_event(name, "Observing")
    ev = ctx.wait_event(name, "DriftDetected")
    assert ev["type"] == "Warning" and "batchSize" in ev.get("note", ""), ev
    time.sleep(7)  # a few resyncs and sweeps: one Event, no write
    assert published(drift_events(ctx, name)) == 1, drift_events(ctx, name)
    assert delta(before, write_counts(ctx)) == {}, "Observe wrote to Lambda"
    assert ctx.emu.mapping(uuid)["BatchSize"] == 7
    assert drift_metric(ctx, "batchSize") - metric_before == 1

    # Switching to full management takes it over: brought to the spec, no create.
    ctx.apply(name, {"eventSourceARN": src, "functionName": ctx.function, "batchSize": 5})
    wait_for(lambda: ctx.emu.mapping(uuid)["BatchSize"] == 5, 60, "BatchSize 5 in Lambda",
             describe=lambda: ctx.describe(name))
    obj = ctx.wait(name, lambda o: is_ready(o) and not status(o).get("drift"), "Ready without drift")
    assert status(obj)["uuid"] == uuid and ctx.one_mapping(src)["UUID"] == uuid
    took_over = delta(before, write_counts(ctx))
    assert took_over.get("CreateEventSourceMapping", 0) == 0 and took_over.get("DeleteEventSourceMapping", 0) == 0, took_over

    # Back to Observe: writes stop; a hand change is reported, not reverted.
    ctx.apply(name, {"eventSourceARN": src, "functionName": ctx.function, "batchSize": 5,
                     "managementPolicy": "Observe"})
    ctx.wait(name, lambda o: is_ready(o) and condition(o, "Ready")["reason"] == "Observed", "Observed again")
    before = write_counts(ctx)
    ctx.emu.oob_update(uuid, {"BatchSize": 3})
    ctx.wait(name, lambda o: status(o).get("drift") == ["batchSize"], "the new drift reported")
    time.sleep(5)
    assert delta(before, write_counts(ctx)) == {}, "Observe wrote to Lambda after switching back"
    assert ctx.emu.mapping(uuid)["BatchSize"] == 3

    # Deleting an observed resource releases the mapping (deletionPolicy says Delete).
    ctx.k("delete", "esm", name, "-n", ctx.ns, "--wait", "--timeout=60s")
    assert ctx.get(name) is None
    time.sleep(2)
    assert delta(before, write_counts(ctx)) == {}
    m = ctx.one_mapping(src)
    assert m["UUID"] == uuid and m["State"] == "Enabled", "an observed mapping was deleted"


def test_observe_with_nothing_to_observe_stalls_and_creates_nothing(ctx):
    name = "nothing-there"
    src = sqs_arn(unique("q-nothing"))
    before = write_counts(ctx)
    ctx.apply(name, {"eventSourceARN": src, "functionName": ctx.function, "managementPolicy": "Observe"})
    obj = ctx.wait(name, lambda o: cond_status(o, "Stalled") == "True", "Stalled=True")
    assert condition(obj, "Stalled")["reason"] == "NothingToObserve", obj["status"]
    time.sleep(4)
    assert delta(before, write_counts(ctx)) == {} and ctx.emu.mappings_for(src) == []


def test_ignored_drift_is_reported_once_not_reverted_and_a_spec_change_applies(ctx, bed):
    name = "on-call-knob"
    src = sqs_arn(unique("q-ignore"))
    spec = {"eventSourceARN": src, "functionName": ctx.function, "batchSize": 5, "ignoreDrift": ["batchSize"]}
    ctx.apply(name, spec)
    obj = ctx.wait(name, lambda o: is_ready(o) and "batchSize" in (status(o).get("ignoredFieldDigests") or {}),
                   "Ready with the baseline of batchSize recorded")
    uuid = status(obj)["uuid"]
    metric_before = drift_metric(ctx, "batchSize")
    before = write_counts(ctx)

    # On-call turns the knob by hand: kept, reported.
    ctx.emu.oob_update(uuid, {"BatchSize": 9})
    obj = ctx.wait(name, lambda o: status(o).get("drift") == ["batchSize"], "drift reported")
    assert condition(obj, "Ready")["status"] == "True"
    assert condition(obj, "Ready")["reason"] == "DriftIgnored", obj["status"]
    keep(bed, "drift-ignored", obj)
    ev = ctx.wait_event(name, "DriftDetected")
    assert ev["type"] == "Warning" and "batchSize" in ev.get("note", ""), ev
    time.sleep(8)  # a few resyncs and sweeps
    assert ctx.emu.mapping(uuid)["BatchSize"] == 9, "ignored drift was reverted"
    assert delta(before, write_counts(ctx)) == {}
    assert published(drift_events(ctx, name)) == 1, f"one Event per distinct drift: {drift_events(ctx, name)}"
    assert drift_metric(ctx, "batchSize") - metric_before == 1
    assert status(ctx.get(name))["drift"] == ["batchSize"]

    # A spec change of the ignored field is applied.
    ctx.patch(name, {"batchSize": 8})
    wait_for(lambda: ctx.emu.mapping(uuid)["BatchSize"] == 8, 60, "BatchSize 8 in Lambda",
             describe=lambda: ctx.describe(name))
    obj = ctx.wait(name, lambda o: is_ready(o) and not status(o).get("drift"), "Ready without drift")
    assert condition(obj, "Ready")["reason"] == "Enabled", obj["status"]
    assert status(obj)["uuid"] == uuid
    assert delta(before, write_counts(ctx)) == {"UpdateEventSourceMapping": 1}


def test_adopt_existing_takes_the_one_match_with_no_create(ctx):
    name = "adopter"
    src = sqs_arn(unique("q-adopt"))
    uuid = ctx.emu.lambda_create({"EventSourceArn": src, "FunctionName": ctx.function, "BatchSize": 10})["UUID"]
    wait_for(lambda: ctx.emu.mapping(uuid)["State"] == "Enabled", 30, "the mapping Enabled")
    before = write_counts(ctx)
    ctx.apply(name, {"eventSourceARN": src, "functionName": ctx.function, "batchSize": 10},
              annotations={ADOPT_EXISTING: "true"})
    obj = ctx.wait_ready(name)
    assert status(obj)["uuid"] == uuid
    ev = ctx.wait_event(name, "Adopted")
    assert uuid in ev.get("note", ""), ev
    time.sleep(4)
    assert ctx.one_mapping(src)["UUID"] == uuid
    writes = delta(before, write_counts(ctx))
    assert writes.get("CreateEventSourceMapping", 0) == 0, writes
    assert writes.get("UpdateEventSourceMapping", 0) == 0 and writes.get("DeleteEventSourceMapping", 0) == 0, writes
    # Taking over a mapping whose tags hold the spec's makes no write at all, tags included.
    assert writes.get("UntagResource", 0) == 0, writes
    assert writes.get("TagResource", 0) == 0, writes


def test_adopt_existing_creates_when_none_matches(ctx):
    name = "adopt-or-create"
    src = sqs_arn(unique("q-adopt-none"))
    ctx.apply(name, {"eventSourceARN": src, "functionName": ctx.function}, annotations={ADOPT_EXISTING: "true"})
    obj = ctx.wait_ready(name)
    assert ctx.one_mapping(src)["UUID"] == status(obj)["uuid"]


def test_adopt_existing_refuses_a_mapping_another_resource_owns(ctx):
    name = "not-mine"
    src = sqs_arn(unique("q-owned"))
    theirs = ctx.emu.lambda_create({"EventSourceArn": src, "FunctionName": ctx.function, "BatchSize": 2})
    tag_resource(ctx, theirs["EventSourceMappingArn"], {
        "esm-controller.dev/owner-uid": "0f0e0d0c-0000-4000-8000-000000000000",
        "esm-controller.dev/owner": "other-team/orders",
        "esm-controller.dev/cluster": "elsewhere",
    })
    before = write_counts(ctx)
    ctx.apply(name, {"eventSourceARN": src, "functionName": ctx.function, "batchSize": 2},
              annotations={ADOPT_EXISTING: "true"})
    obj = ctx.wait(name, lambda o: cond_status(o, "Stalled") == "True", "Stalled=True")
    stalled = condition(obj, "Stalled")
    assert stalled["reason"] == "OwnedElsewhere", obj["status"]
    assert theirs["UUID"] in stalled["message"] and "other-team/orders" in stalled["message"], stalled
    time.sleep(4)
    assert delta(before, write_counts(ctx)) == {}
    assert ctx.one_mapping(src)["UUID"] == theirs["UUID"]
    assert "uuid" not in status(ctx.get(name))


@pytest.mark.parametrize("ignore, field, text", [
    (["batchSizes"], "spec.ignoreDrift[0]", "should match"),
    (["batchSize", "scalingConfig.maximumConcurrency", "batchSize"], "spec.ignoreDrift[2]", "Duplicate value"),
])
def test_admission_refuses_bad_ignore_drift(ctx, ignore, field, text):
    src = sqs_arn(unique("q-refused"))
    before = write_counts(ctx)
    p = ctx.apply("refused", {"eventSourceARN": src, "functionName": ctx.function, "ignoreDrift": ignore}, check=False)
    assert p.returncode != 0, p.stdout
    assert field in p.stderr and text in p.stderr, p.stderr
    assert ctx.get("refused") is None
    assert delta(before, write_counts(ctx)) == {}
