"""Drift: out-of-band edits, deletes and Lambda-initiated disables."""

import time

from conftest import cond_status, condition, is_ready, sqs_arn, status, unique, wait_for


def test_out_of_band_batch_size_is_restored(emu_ctx):
    ctx = emu_ctx
    name = "oob-edit"
    src = sqs_arn(unique("q-oob-edit"))
    ctx.apply(name, {"eventSourceARN": src, "functionName": ctx.function, "batchSize": 5})
    uuid = ctx.wait_ready(name)["status"]["uuid"]
    assert ctx.emu.mapping(uuid)["BatchSize"] == 5

    ctx.emu.oob_update(uuid, {"BatchSize": 9})
    assert ctx.emu.mapping(uuid)["BatchSize"] == 9
    # Restored by the periodic resync (3 s), without any change to the resource.
    wait_for(lambda: ctx.emu.mapping(uuid)["BatchSize"] == 5, 30, "BatchSize back to 5 in Lambda",
             describe=lambda: ctx.describe(name))
    obj = ctx.wait_ready(name)
    assert status(obj)["uuid"] == uuid, "the drift fix must update in place, not recreate"
    assert ctx.one_mapping(src)["UUID"] == uuid
    ev = ctx.wait_event(name, "Updated")
    assert "BatchSize" in ev.get("note", ""), ev


def test_out_of_band_delete_is_recreated(emu_ctx):
    ctx = emu_ctx
    name = "oob-delete"
    src = sqs_arn(unique("q-oob-delete"))
    ctx.apply(name, {"eventSourceARN": src, "functionName": ctx.function, "batchSize": 3})
    old = ctx.wait_ready(name)["status"]["uuid"]

    ctx.emu.oob_delete(old)
    assert ctx.emu.mappings_for(src) == []
    obj = ctx.wait(name, lambda o: status(o).get("uuid") not in (None, old) and is_ready(o),
                   "a new mapping recorded and Ready", timeout=60)
    new = status(obj)["uuid"]
    m = ctx.one_mapping(src)
    assert m["UUID"] == new and m["BatchSize"] == 3
    reasons = [e["reason"] for e in ctx.k.json("get", "events.events.k8s.io", "-n", ctx.ns)["items"]
               if e["regarding"]["name"] == name]
    assert "DeletedOutOfBand" in reasons and "Recreated" in reasons, reasons


def test_lambda_disable_is_reported_and_reenabled_only_on_request(emu_ctx):
    ctx = emu_ctx
    name = "disabled-by-lambda"
    src = sqs_arn(unique("q-disabled"))
    ctx.apply(name, {"eventSourceARN": src, "functionName": ctx.function})  # no `enabled`
    uuid = ctx.wait_ready(name)["status"]["uuid"]

    reason = "PROBLEM: Lambda initiated the disabling of this event source mapping: the function's execution role lacks permissions."
    ctx.emu.lambda_disable(uuid, reason)
    obj = ctx.wait(name, lambda o: cond_status(o, "Stalled") == "True", "Stalled=True")
    stalled = condition(obj, "Stalled")
    assert stalled["reason"] == "DisabledByLambda", obj["status"]
    assert "execution role lacks permissions" in stalled["message"], stalled
    assert condition(obj, "Ready")["status"] == "False" and cond_status(obj, "Reconciling") is None
    assert status(obj)["state"] == "Disabled"
    ev = ctx.wait_event(name, "DisabledByLambda")
    assert ev["type"] == "Warning", ev

    # It is left disabled: no Update over a few resyncs.
    updates = ctx.emu.calls().get("UpdateEventSourceMapping", 0)
    time.sleep(7)
    assert ctx.emu.mapping(uuid)["State"] == "Disabled"
    assert ctx.emu.calls().get("UpdateEventSourceMapping", 0) == updates, "the controller touched a Lambda-disabled mapping"
    assert condition(ctx.get(name), "Stalled")["reason"] == "DisabledByLambda"

    # Asked for explicitly: re-enabled.
    ctx.patch(name, {"enabled": True})
    wait_for(lambda: ctx.emu.mapping(uuid)["State"] == "Enabled", 60, "the mapping Enabled again",
             describe=lambda: ctx.describe(name))
    obj = ctx.wait_ready(name)
    assert status(obj)["uuid"] == uuid and status(obj)["state"] == "Enabled"
    assert cond_status(obj, "Stalled") is None
    ctx.wait_event(name, "ReEnabled")


def test_disabled_in_spec_is_kept_disabled(emu_ctx):
    ctx = emu_ctx
    name = "paused"
    src = sqs_arn(unique("q-paused"))
    ctx.apply(name, {"eventSourceARN": src, "functionName": ctx.function, "enabled": False})
    obj = ctx.wait_ready(name)
    assert condition(obj, "Ready")["reason"] == "Disabled"
    uuid = status(obj)["uuid"]
    assert ctx.emu.mapping(uuid)["State"] == "Disabled"

    # Someone enables it by hand: the spec wins.
    ctx.emu.oob_update(uuid, {"Enabled": True})
    assert ctx.emu.mapping(uuid)["State"] == "Enabled"
    wait_for(lambda: ctx.emu.mapping(uuid)["State"] == "Disabled", 30, "the mapping Disabled again",
             describe=lambda: ctx.describe(name))
    ctx.wait_ready(name)

    # Removing `enabled: false` means enabled (the default).
    ctx.k("patch", "esm", name, "-n", ctx.ns, "--type", "json", "-p", '[{"op":"remove","path":"/spec/enabled"}]')
    wait_for(lambda: ctx.emu.mapping(uuid)["State"] == "Enabled", 60, "the mapping Enabled",
             describe=lambda: ctx.describe(name))
    obj = ctx.wait_ready(name)
    assert condition(obj, "Ready")["reason"] == "Enabled"


def test_removed_settings_are_cleared(emu_ctx):
    ctx = emu_ctx
    name = "clear-me"
    src = sqs_arn(unique("q-clear"))
    ctx.apply(name, {
        "eventSourceARN": src, "functionName": ctx.function, "batchSize": 20,
        "maximumBatchingWindowInSeconds": 2,
        "filterCriteria": {"filters": [{"pattern": '{"body": {"a": [1]}}'}]},
        "scalingConfig": {"maximumConcurrency": 5},
    })
    uuid = ctx.wait_ready(name)["status"]["uuid"]
    m = ctx.emu.mapping(uuid)
    assert "FilterCriteria" in m and "ScalingConfig" in m
    # kubectl apply with the fields gone removes them from the spec.
    ctx.apply(name, {"eventSourceARN": src, "functionName": ctx.function, "batchSize": 20,
                     "maximumBatchingWindowInSeconds": 2})
    def cleared():
        m = ctx.emu.mapping(uuid)
        return "FilterCriteria" not in m and "ScalingConfig" not in m
    wait_for(cleared, 60, "FilterCriteria and ScalingConfig removed in Lambda", describe=lambda: ctx.describe(name))
    obj = ctx.wait_ready(name)
    assert status(obj)["uuid"] == uuid
    assert ctx.emu.mapping(uuid)["BatchSize"] == 20
