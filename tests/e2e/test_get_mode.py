"""The same core paths with `--observe get` (one GetEventSourceMapping per reconcile) instead
of the default List sweep."""

from conftest import is_ready, sqs_arn, status, unique, wait_for

CONTROLLER_ARGS = ["--observe", "get"]


def test_get_mode_create_drift_recreate_delete(emu_ctx):
    ctx = emu_ctx
    assert '"observe":"Get"' in ctx.controller.log(), ctx.controller.log_tail(5)
    name = "get-mode"
    src = sqs_arn(unique("q-get"))
    ctx.apply(name, {"eventSourceARN": src, "functionName": ctx.function, "batchSize": 5})
    uuid = ctx.wait_ready(name)["status"]["uuid"]
    assert ctx.one_mapping(src)["UUID"] == uuid
    gets = ctx.emu.calls().get("GetEventSourceMapping", 0)

    # Out-of-band edit: restored at the next resync.
    ctx.emu.oob_update(uuid, {"BatchSize": 9})
    wait_for(lambda: ctx.emu.mapping(uuid)["BatchSize"] == 5, 30, "BatchSize back to 5",
             describe=lambda: ctx.describe(name))
    assert ctx.emu.calls().get("GetEventSourceMapping", 0) > gets, "get mode made no GetEventSourceMapping call?"

    # Out-of-band delete: recreated.
    ctx.wait_ready(name)
    ctx.emu.oob_delete(uuid)
    obj = ctx.wait(name, lambda o: status(o).get("uuid") not in (None, uuid) and is_ready(o),
                   "recreated and Ready")
    assert ctx.one_mapping(src)["UUID"] == status(obj)["uuid"]

    p = ctx.k("delete", "esm", name, "-n", ctx.ns, "--wait", "--timeout=60s", check=False)
    assert p.returncode == 0, p.stderr + ctx.describe(name)
    assert ctx.emu.mappings_for(src) == []
