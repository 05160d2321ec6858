"""`esm-controller diff -f`: what applying manifests would do in Lambda, and that it writes
nothing, neither to Kubernetes nor to Lambda.

`diff` runs with its own AWS access key, so the emulator's request log tells its calls from the
controller's: every one of them must be a GET (GetEventSourceMapping, ListTags)."""

import json
import os
import subprocess
from pathlib import Path

from conftest import REGION, RUN_ID, esm_manifest, function_arn, sqs_arn, unique

DIFF_KEY = f"AKIADIFF{RUN_ID.upper()}"


def run_diff(bed, *args: str, input: str | None = None, kubeconfig: str | None = None) -> subprocess.CompletedProcess:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(bed.work),
        "KUBECONFIG": kubeconfig or bed.kubeconfig,
        "AWS_ACCESS_KEY_ID": DIFF_KEY,
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_REGION": REGION,
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_ENDPOINT_URL_LAMBDA": bed.lambda_endpoint,
    }
    return subprocess.run([bed.controller_bin, "diff", *args], env=env, input=input,
                          capture_output=True, text=True, timeout=120)


def yaml_docs(*objects: dict) -> str:
    """A multi-document YAML file (JSON is YAML's flow style)."""
    return "".join(f"---\n{json.dumps(o, indent=2)}\n" for o in objects)


def shown(p: subprocess.CompletedProcess) -> str:
    return f"rc={p.returncode}\nstdout:\n{p.stdout}\nstderr:\n{p.stderr}"


def test_diff_reports_update_create_no_change_and_refusal_without_writing(emu_ctx, bed, tmp_path: Path):
    ctx = emu_ctx
    name, src = "diffed", sqs_arn(unique("q-diff"))
    spec = {"eventSourceARN": src, "functionName": ctx.function, "batchSize": 5, "tags": {"team": "a"}}
    ctx.apply(name, spec)
    obj = ctx.wait_ready(name)
    uuid = obj["status"]["uuid"]
    version = obj["metadata"]["resourceVersion"]
    new_src = sqs_arn(unique("q-diff-new"))

    def manifest(**changes):
        return esm_manifest(ctx.ns, name, {**spec, **changes})

    configmap = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "settings", "namespace": ctx.ns}}
    new = esm_manifest(ctx.ns, "diff-new", {"eventSourceARN": new_src, "functionName": ctx.function})
    changed = tmp_path / "changed.yaml"
    changed.write_text(yaml_docs(configmap, manifest(batchSize=7, tags={"team": "b"}), new))

    # A changed field and tag, a new resource, a ConfigMap skipped with a note.
    p = run_diff(bed, "-f", str(changed))
    assert p.returncode == 1, shown(p)
    assert f"eventsourcemapping {ctx.ns}/{name}: update mapping {uuid} ({REGION})\n" in p.stdout, shown(p)
    assert "\n  batchSize: 5 → 7\n" in p.stdout, shown(p)
    assert '\n  tags.team: "a" → "b"\n' in p.stdout, shown(p)
    assert f"eventsourcemapping {ctx.ns}/diff-new: create ({REGION})\n" in p.stdout, shown(p)
    assert f'\n  eventSourceARN: "{new_src}"\n' in p.stdout, shown(p)
    assert "2 EventSourceMappings: 1 to create, 1 to update" in p.stdout, shown(p)
    assert "skipped ConfigMap settings" in p.stderr, shown(p)

    # The same manifest as applied: no change, also with the function as its full ARN (the
    # controller's normalization) and from stdin.
    p = run_diff(bed, "-f", "-", input=yaml_docs(manifest(functionName=function_arn(ctx.function))))
    assert p.returncode == 0, shown(p)
    assert p.stdout.startswith(f"eventsourcemapping {ctx.ns}/{name}: no change (mapping {uuid}, {REGION})\n"), shown(p)

    # A create-only change: refused at admission, with the CRD rule's message.
    moved = tmp_path / "moved"
    moved.mkdir()
    (moved / "esm.yml").write_text(yaml_docs(manifest(eventSourceARN=new_src, batchSize=7)))
    (moved / "notes.txt").write_text("not a manifest")
    p = run_diff(bed, "-f", str(moved))
    assert p.returncode == 2, shown(p)
    assert f"eventsourcemapping {ctx.ns}/{name}: refused at admission\n" in p.stdout, shown(p)
    assert "eventSourceARN cannot change after the mapping is created" in p.stdout, shown(p)
    # ... which is what the API server says too (a server-side dry run, by kubectl, not diff).
    dry = ctx.k("apply", "--dry-run=server", "-f", str(moved / "esm.yml"), check=False)
    assert dry.returncode != 0 and "eventSourceARN cannot change" in dry.stderr, dry.stderr

    # For tools: one JSON document.
    p = run_diff(bed, "-f", str(changed), "-o", "json")
    assert p.returncode == 1, shown(p)
    report = json.loads(p.stdout)
    by_name = {r["name"]: r for r in report["resources"]}
    assert by_name[name]["action"] == "update" and by_name[name]["uuid"] == uuid, report
    assert by_name[name]["region"] == REGION and by_name[name]["namespace"] == ctx.ns, report
    assert {"field": "batchSize", "live": 5, "desired": 7} in by_name[name]["changes"], report
    assert by_name["diff-new"]["action"] == "create" and by_name["diff-new"]["uuid"] is None, report
    assert report["skipped"][0]["kind"] == "ConfigMap", report

    # No Lambda write: every request with diff's key is a read, and nothing changed.
    mine = [r for r in ctx.emu.requests() if r.get("caller") == DIFF_KEY]
    assert mine, "diff made no Lambda request at all"
    assert all(r["method"] == "GET" for r in mine), mine
    assert ctx.emu.mapping(uuid)["BatchSize"] == 5
    assert ctx.emu.mappings_for(new_src) == []
    # No Kubernetes write: the resource is as it was, and the new one was not created.
    assert ctx.get(name)["metadata"]["resourceVersion"] == version
    assert ctx.get("diff-new") is None
    assert ctx.k("get", "configmap", "settings", "-n", ctx.ns, check=False).returncode != 0


def test_diff_fails_with_2_on_unreadable_manifests_and_an_unreachable_cluster(bed, tmp_path: Path):
    p = run_diff(bed, "-f", str(tmp_path / "missing.yaml"))
    assert p.returncode == 2 and "cannot read" in p.stderr, shown(p)
    bad = tmp_path / "bad.yaml"
    bad.write_text("apiVersion: [unclosed\n")
    p = run_diff(bed, "-f", str(bad))
    assert p.returncode == 2 and "not valid YAML" in p.stderr, shown(p)

    nowhere = tmp_path / "nowhere.kubeconfig"
    nowhere.write_text(json.dumps({
        "apiVersion": "v1", "kind": "Config",
        "clusters": [{"name": "c", "cluster": {"server": "https://127.0.0.1:1", "insecure-skip-tls-verify": True}}],
        "users": [{"name": "u", "user": {"token": "t"}}],
        "contexts": [{"name": "x", "context": {"cluster": "c", "user": "u"}}],
        "current-context": "x",
    }))
    esm = tmp_path / "esm.yaml"
    esm.write_text(yaml_docs(esm_manifest("default", "x", {"eventSourceARN": sqs_arn("q"), "functionName": "f"})))
    p = run_diff(bed, "-f", str(esm), kubeconfig=str(nowhere))
    assert p.returncode == 2 and "cannot reach the Kubernetes API" in p.stderr, shown(p)
