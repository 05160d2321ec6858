"""Coming from ACK (issue 13, item 7; docs/migrating-from-ack.md): a mapping that ACK's
lambda-controller manages is taken over by moving its resource to our apiVersion with the
adopt-uuid annotation. A mapping that already matches is taken over without a Create, Update
or Delete.

The bed runs no ACK controller. ACK's resource is modelled by a stand-in CRD for
`eventsourcemappings.lambda.services.k8s.aws` (schemaless, with a status subresource like
ACK's), the object ACK users have (their manifest plus the status ACK's controller wrote:
status.uuid, status.state, status.ackResourceMetadata) and the mapping itself, created
through the emulator's Lambda API as ACK would have. The guide's steps are then run with
kubectl, in the guide's order."""

import copy
import json
import time

import pytest

from conftest import API_VERSION, condition, is_ready, sqs_arn, status, unique, wait_for

ACK_GROUP = "lambda.services.k8s.aws"
ACK_RESOURCE = f"eventsourcemappings.{ACK_GROUP}"
ACK_DELETION_POLICY = "services.k8s.aws/deletion-policy"
ADOPT_UUID = "lambda.esm-controller.dev/adopt-uuid"
WRITES = ("CreateEventSourceMapping", "UpdateEventSourceMapping", "DeleteEventSourceMapping",
          "TagResource", "UntagResource")

# Spec fields ACK has and we do not: references to other ACK resources, resolved by ACK.
ACK_ONLY_FIELDS = ("functionRef", "eventSourceRef", "queueRefs")

STAND_IN_CRD = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": ACK_RESOURCE},
    "spec": {
        "group": ACK_GROUP,
        "names": {"kind": "EventSourceMapping", "listKind": "EventSourceMappingList",
                  "plural": "eventsourcemappings", "singular": "eventsourcemapping"},
        "scope": "Namespaced",
        "versions": [{
            "name": "v1alpha1", "served": True, "storage": True,
            "subresources": {"status": {}},
            "schema": {"openAPIV3Schema": {"type": "object", "properties": {
                "spec": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
                "status": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
            }}},
        }],
    },
}


def write_counts(emu) -> dict[str, int]:
    calls = emu.calls()
    return {op: calls.get(op, 0) for op in WRITES}


@pytest.fixture(scope="module")
def ack_crd(kubectl):
    kubectl.apply(STAND_IN_CRD)
    kubectl("wait", "--for", "condition=established", "--timeout=60s", f"crd/{ACK_RESOURCE}")
    return ACK_RESOURCE


def to_ours(ack: dict, uuid: str) -> dict:
    """The guide's conversion: our apiVersion, the same spec less ACK's references, the adopt
    annotation; ACK's annotations, status and server-set metadata dropped."""
    meta = ack["metadata"]
    annotations = {k: v for k, v in (meta.get("annotations") or {}).items()
                   if not k.startswith("services.k8s.aws/") and k != "kubectl.kubernetes.io/last-applied-configuration"}
    annotations[ADOPT_UUID] = uuid
    out_meta = {"name": meta["name"], "namespace": meta["namespace"], "annotations": annotations}
    if meta.get("labels"):
        out_meta["labels"] = meta["labels"]
    spec = {k: v for k, v in copy.deepcopy(ack["spec"]).items() if k not in ACK_ONLY_FIELDS}
    return {"apiVersion": API_VERSION, "kind": "EventSourceMapping", "metadata": out_meta, "spec": spec}


def test_ack_managed_mapping_is_taken_over_with_no_lambda_write(emu_ctx, ack_crd):
    ctx = emu_ctx
    name = "orders"
    src = sqs_arn(unique("q-ack-orders"))

    # What ACK users have: the mapping ACK created ...
    created = ctx.emu.lambda_create({
        "EventSourceArn": src, "FunctionName": ctx.function, "BatchSize": 25,
        "MaximumBatchingWindowInSeconds": 3, "ScalingConfig": {"MaximumConcurrency": 10},
        "FilterCriteria": {"Filters": [{"Pattern": '{"body": {"type": ["order"]}}'}]},
        "FunctionResponseTypes": ["ReportBatchItemFailures"],
    })
    uuid = created["UUID"]
    wait_for(lambda: ctx.emu.mapping(uuid)["State"] == "Enabled", 30, "the mapping Enabled")
    # ... and ACK's resource for it, with the status ACK's controller wrote.
    ack_manifest = {
        "apiVersion": f"{ACK_GROUP}/v1alpha1",
        "kind": "EventSourceMapping",
        "metadata": {"name": name, "namespace": ctx.ns, "labels": {"team": "payments"}},
        "spec": {
            "eventSourceARN": src,
            "functionName": ctx.function,
            "batchSize": 25,
            "maximumBatchingWindowInSeconds": 3,
            "scalingConfig": {"maximumConcurrency": 10},
            "filterCriteria": {"filters": [{"pattern": '{"body": {"type": ["order"]}}'}]},
            "functionResponseTypes": ["ReportBatchItemFailures"],
            "enabled": True,
        },
    }
    ctx.k.apply(ack_manifest)
    ack_status = {
        "ackResourceMetadata": {"arn": created["EventSourceMappingArn"], "ownerAccountID": "123456789012",
                                "region": "us-east-1"},
        "conditions": [{"type": "ACK.ResourceSynced", "status": "True", "message": "Resource synced"}],
        "functionARN": created["FunctionArn"],
        "state": "Enabled",
        "uuid": uuid,
    }
    ctx.k("patch", ACK_RESOURCE, name, "-n", ctx.ns, "--subresource=status", "--type=merge",
          "-p", json.dumps({"status": ack_status}))

    before = write_counts(ctx.emu)

    # 1. ACK must leave the mapping in place when its resource goes.
    ctx.k("annotate", ACK_RESOURCE, name, "-n", ctx.ns, f"{ACK_DELETION_POLICY}=retain")
    # 2. The mapping's UUID, from ACK's status.
    got = ctx.k("get", ACK_RESOURCE, name, "-n", ctx.ns, "-o", "jsonpath={.status.uuid}").stdout.strip()
    assert got == uuid
    # 3. Our resource: ACK's, moved to our apiVersion, with the adopt annotation.
    ack = ctx.k.json("get", ACK_RESOURCE, name, "-n", ctx.ns)
    ours = to_ours(ack, got)
    assert ours["spec"] == ack_manifest["spec"], "ACK's field names are ours: the spec is taken as it is"
    ctx.k.apply(ours)
    obj = ctx.wait_ready(name)
    assert status(obj)["uuid"] == uuid
    assert condition(obj, "Ready")["reason"] == "Enabled", obj["status"]
    assert not status(obj).get("drift"), obj["status"]
    ctx.wait_event(name, "Adopted")
    # 4. ACK's resource goes; with retain, ACK's controller leaves the mapping.
    ctx.k("delete", ACK_RESOURCE, name, "-n", ctx.ns, "--wait", "--timeout=60s")
    assert ctx.k("get", ACK_RESOURCE, "-n", ctx.ns, "-o", "name").stdout.strip() == ""

    time.sleep(7)  # a few resyncs and sweeps: nothing more to do
    obj = ctx.get(name)
    assert is_ready(obj) and status(obj)["uuid"] == uuid, ctx.describe(name)
    m = ctx.one_mapping(src)
    assert m["UUID"] == uuid and m["State"] == "Enabled"
    assert m["BatchSize"] == 25 and m["ScalingConfig"] == {"MaximumConcurrency": 10}

    after = write_counts(ctx.emu)
    writes = {op: after[op] - before[op] for op in WRITES if after[op] != before[op]}
    # The issue: taking over a mapping that already matches makes zero Lambda writes.
    assert writes.get("CreateEventSourceMapping", 0) == 0, writes
    assert writes.get("UpdateEventSourceMapping", 0) == 0, writes
    assert writes.get("DeleteEventSourceMapping", 0) == 0, writes
    assert writes.get("UntagResource", 0) == 0, writes
    # Not even its tags: the mapping keeps the tags it had (ACK's included) and gets no
    # ownership tags, which exist to find a mapping whose Create outcome is unknown.
    assert writes.get("TagResource", 0) == 0, writes
    tags = ctx.emu.lambda_tags(created["EventSourceMappingArn"])
    assert "esm-controller.dev/owner-uid" not in tags, tags
