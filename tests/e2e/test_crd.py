"""The CRD as users meet it (explain, printer columns) and the controller's start-up checks."""

import re

from conftest import GROUP, make_namespace, sqs_arn, unique, wait_for, write_token_kubeconfig


def test_crd_is_established_with_our_names(kubectl):
    crd = kubectl.json("get", "crd", f"eventsourcemappings.{GROUP}")
    names = crd["spec"]["names"]
    assert names["kind"] == "EventSourceMapping"
    assert "esm" in names.get("shortNames", [])
    assert crd["spec"]["scope"] == "Namespaced"
    established = [c for c in crd["status"]["conditions"] if c["type"] == "Established"]
    assert established and established[0]["status"] == "True"
    versions = {v["name"]: v for v in crd["spec"]["versions"]}
    assert versions["v1alpha1"]["served"] and versions["v1alpha1"]["storage"]
    assert "status" in versions["v1alpha1"].get("subresources", {})


def test_explain_shows_field_docs(kubectl):
    out = kubectl("explain", "eventsourcemapping.spec.batchSize").stdout
    flat = " ".join(out.split())
    assert "Maximum number of records per invocation" in flat, out
    assert "<integer>" in out, out
    out = kubectl("explain", "eventsourcemapping.spec.deletionPolicy").stdout
    assert "Retain" in out, out
    out = kubectl("explain", "eventsourcemapping.spec.eventSourceARN").stdout
    assert "Cannot change after creation" in " ".join(out.split()), out


def test_get_prints_our_columns(emu_ctx):
    ctx = emu_ctx
    name = "columns"
    src = sqs_arn(unique("q-columns"))
    ctx.apply(name, {"eventSourceARN": src, "functionName": ctx.function, "batchSize": 5})
    obj = ctx.wait_ready(name)
    uuid = obj["status"]["uuid"]

    out = ctx.k("get", "esm", "-n", ctx.ns).stdout
    lines = out.splitlines()
    assert lines[0].split() == ["NAME", "UUID", "STATE", "READY", "FUNCTION", "AGE"], out
    row = next(l for l in lines[1:] if l.split()[0] == name).split()
    assert row[1:5] == [uuid, "Enabled", "True", ctx.function], out

    wide = ctx.k("get", "esm", "-n", ctx.ns, "-o", "wide").stdout
    wlines = wide.splitlines()
    assert wlines[0].split() == ["NAME", "UUID", "STATE", "READY", "FUNCTION", "SUSPENDED", "POLICY", "SOURCE",
                                 "AGE"], wide
    wrow = next(l for l in wlines[1:] if l.split()[0] == name).split()
    # SUSPENDED is blank while spec.suspend is unset; POLICY shows the default, Full.
    assert wrow[-2] == src and wrow[-3] == "Full", wide

    # The category and the full names work too.
    assert name in ctx.k("get", "aws", "-n", ctx.ns).stdout
    assert name in ctx.k("get", f"eventsourcemappings.{GROUP}", "-n", ctx.ns).stdout


def test_controller_refuses_to_start_without_rbac(bed, kubectl, controller_factory):
    """A ServiceAccount without the ClusterRole: the controller exits non-zero and says why."""
    ns = make_namespace(kubectl, "norbac")
    kubectl("-n", ns, "create", "serviceaccount", "nobody")
    token = kubectl("-n", ns, "create", "token", "nobody", "--duration=10m").stdout.strip()
    kc = write_token_kubeconfig(bed, token, bed.work / "nobody.kubeconfig")
    c = controller_factory("norbac", bed.lambda_endpoint, [], start=False, kubeconfig=str(kc))
    c.start(wait_started=False)
    wait_for(lambda: not c.alive(), 30, "the controller without RBAC to exit", describe=c.log_tail)
    rc = c.proc.returncode
    c.stop()
    assert rc != 0, c.log_tail()
    assert "not allowed to list eventsourcemappings" in c.log(), c.log_tail()


def test_controller_refuses_to_start_without_aws_credentials(bed, controller_factory):
    c = controller_factory(
        "nocreds", bed.lambda_endpoint, [], start=False,
        env={"AWS_ACCESS_KEY_ID": None, "AWS_SECRET_ACCESS_KEY": None,
             "AWS_CONFIG_FILE": "/nonexistent/config", "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent/credentials"},
    )
    c.start(wait_started=False)
    wait_for(lambda: not c.alive(), 60, "the controller without AWS credentials to exit", describe=c.log_tail)
    rc = c.proc.returncode
    c.stop()
    assert rc != 0, c.log_tail()
    assert re.search(r"no (usable )?AWS credentials", c.log()), c.log_tail()
