"""Many AWS accounts (issue 11), end to end: two tenant namespaces, several accounts, one
controller, driven by kubectl.

The emulator plays STS and serves each Lambda call from the account of the caller's SigV4
access key; every check of where a mapping landed goes through boto3 with that account's own
(assumed-role) credentials, as a person would check it.
"""

from __future__ import annotations

import json
import os
import signal
import time

import pytest

from conftest import (
    ACCOUNT,
    API_VERSION,
    REGION,
    Ctx,
    condition,
    cond_status,
    esm_manifest,
    is_ready,
    make_namespace,
    status,
    stop_and_check,
    unique,
    wait_for,
)

boto3 = pytest.importorskip("boto3")

# The accounts of this module; the controller's own identity is the emulator's default account.
ACCOUNT_A = "111111111111"
ACCOUNT_B = "222222222222"
ACCOUNT_C = "333333333333"  # its role does not trust the controller
ACCOUNT_D = "444444444444"  # granted to tenant two only
CONTROLLER_PRINCIPAL = f"arn:aws:iam::{ACCOUNT}:root"
EXTERNAL_ID = "e2e-external-id"


def role_arn(account: str, name: str) -> str:
    return f"arn:aws:iam::{account}:role/{name}"


def sqs_in(account: str, name: str) -> str:
    return f"arn:aws:sqs:{REGION}:{account}:{name}"


class Accounts:
    """The emulator's account and STS admin API, and boto3 under an account's own credentials."""

    def __init__(self, emulator, endpoint: str):
        self.emu = emulator
        self.endpoint = endpoint

    def seed_role(self, arn: str, trust: list[str], external_id: str | None = None) -> None:
        body = {"roleArn": arn, "trust": trust}
        if external_id:
            body["externalId"] = external_id
        self.emu._call("POST", "/roles", body)

    def seed_function(self, account: str, name: str) -> None:
        self.emu._call("POST", "/functions", {"name": name, "account": account})

    def seed_source(self, account: str, arn: str) -> None:
        self.emu._call("POST", "/event-sources", {"arn": arn, "account": account})

    def calls(self, account: str) -> dict[str, int]:
        return self.emu._call("GET", f"/calls?account={account}") or {}

    def sessions(self) -> list[dict]:
        return self.emu._call("GET", "/sessions") or []

    def lambda_as(self, arn: str, external_id: str | None = None):
        """A boto3 Lambda client with the role's own credentials (assumed as a person would)."""
        sts = boto3.client("sts", endpoint_url=self.endpoint, region_name=REGION,
                           aws_access_key_id="testing", aws_secret_access_key="testing")
        kw = {"RoleArn": arn, "RoleSessionName": "e2e-check"}
        if external_id:
            kw["ExternalId"] = external_id
        creds = sts.assume_role(**kw)["Credentials"]
        return boto3.client("lambda", endpoint_url=self.endpoint, region_name=REGION,
                            aws_access_key_id=creds["AccessKeyId"],
                            aws_secret_access_key=creds["SecretAccessKey"],
                            aws_session_token=creds["SessionToken"])


def binding(name: str, arn: str, tenant: str | None, default: bool = False, **spec) -> dict:
    body = {"roleArn": arn, "default": default, **spec}
    if tenant is not None:
        body["namespaceSelector"] = {"matchLabels": {"e2e-tenant": tenant}}
    return {"apiVersion": API_VERSION, "kind": "LambdaAccount", "metadata": {"name": name}, "spec": body}


def get_binding(kubectl, name: str) -> dict | None:
    out = kubectl("get", "lambdaaccount", name, "-o", "json", "--ignore-not-found")
    return json.loads(out.stdout) if out.stdout.strip() else None


@pytest.fixture(scope="module")
def world(bed, kubectl, emulator, controller_factory):
    """Two tenant namespaces and four bindings:
    - `a` (account A): default for tenant one;
    - `b` (account B, external ID): default for tenant two;
    - `c` (account C): tenant one, but its role trusts nobody;
    - `d` (account D): tenant two only, not default.
    One controller watches both namespaces, with 20-second role sessions."""
    accounts = Accounts(emulator, bed.lambda_endpoint)
    run = unique("acct")
    one, two = f"{run}-one", f"{run}-two"
    ns1 = make_namespace(kubectl, "tenant-one")
    ns2 = make_namespace(kubectl, "tenant-two")
    kubectl("label", "namespace", ns1, f"e2e-tenant={one}")
    kubectl("label", "namespace", ns2, f"e2e-tenant={two}")
    roles = {
        "a": role_arn(ACCOUNT_A, f"esm-{run}"),
        "b": role_arn(ACCOUNT_B, f"esm-{run}"),
        "c": role_arn(ACCOUNT_C, f"esm-{run}"),
        "d": role_arn(ACCOUNT_D, f"esm-{run}"),
    }
    accounts.seed_role(roles["a"], [CONTROLLER_PRINCIPAL])
    accounts.seed_role(roles["b"], [CONTROLLER_PRINCIPAL], external_id=EXTERNAL_ID)
    accounts.seed_role(roles["c"], [])
    accounts.seed_role(roles["d"], [CONTROLLER_PRINCIPAL])
    fn = unique("fn-acct")
    for account in (ACCOUNT, ACCOUNT_A, ACCOUNT_B, ACCOUNT_C, ACCOUNT_D):
        accounts.seed_function(account, fn)
    # Short sessions, so that the controller refreshes credentials during the module.
    emulator._call("POST", "/sts", {"minDurationSeconds": 1})
    names = {key: f"{run}-{key}" for key in roles}
    kubectl.apply(binding(names["a"], roles["a"], one, default=True))
    kubectl.apply(binding(names["b"], roles["b"], two, default=True, externalId=EXTERNAL_ID,
                          sessionTags={"team": "two"}, requestsPerSecond=5))
    kubectl.apply(binding(names["c"], roles["c"], one))
    kubectl.apply(binding(names["d"], roles["d"], two))
    controller = controller_factory(
        "accounts", bed.lambda_endpoint, [ns1, ns2],
        extra_args=["--assume-role-duration", "20s"],
        env={"AWS_ENDPOINT_URL_STS": bed.lambda_endpoint},
    )
    w = {
        "accounts": accounts, "ns1": ns1, "ns2": ns2, "fn": fn, "roles": roles, "names": names,
        "controller": controller, "run": run,
        "one": Ctx(kubectl, emulator, ns1, fn, controller),
        "two": Ctx(kubectl, emulator, ns2, fn, controller),
    }
    yield w
    for ctx in (w["one"], w["two"]):
        ctx.delete_all()
    # Bindings go while the controller runs (their finalizer is the controller's).
    for name in names.values():
        kubectl("delete", "lambdaaccount", name, "--wait=false", "--ignore-not-found")
    wait_for(lambda: all(get_binding(kubectl, n) is None for n in names.values()), 60,
             "the bindings to be deleted")
    emulator._call("POST", "/sts", {"minDurationSeconds": 900})
    stop_and_check(w["controller"])


def sqs_spec(w: dict, account: str, queue: str, **extra) -> dict:
    arn = sqs_in(account, queue)
    w["accounts"].seed_source(account, arn)
    return {"eventSourceARN": arn, "functionName": w["fn"], "batchSize": 5, **extra}


def mappings_seen_by(w: dict, key: str, external_id: str | None = None) -> list[dict]:
    client = w["accounts"].lambda_as(w["roles"][key], external_id)
    return client.list_event_source_mappings(FunctionName=w["fn"])["EventSourceMappings"]


def test_each_mapping_lands_in_its_namespaces_account(world, kubectl):
    w = world
    w["one"].apply("orders", sqs_spec(w, ACCOUNT_A, f"{w['run']}-orders"))
    w["two"].apply("billing", sqs_spec(w, ACCOUNT_B, f"{w['run']}-billing"))
    one = w["one"].wait_ready("orders")
    two = w["two"].wait_ready("billing")
    assert status(one).get("account") == w["names"]["a"], status(one)
    assert status(one).get("accountId") == ACCOUNT_A, status(one)
    assert status(two).get("account") == w["names"]["b"], status(two)
    assert status(two).get("accountId") == ACCOUNT_B, status(two)
    # boto3 under each account's own credentials sees its own mapping and not the other's.
    in_a = mappings_seen_by(w, "a")
    in_b = mappings_seen_by(w, "b", EXTERNAL_ID)
    assert [m["UUID"] for m in in_a] == [status(one)["uuid"]], in_a
    assert [m["UUID"] for m in in_b] == [status(two)["uuid"]], in_b
    assert ACCOUNT_A in in_a[0]["EventSourceMappingArn"]
    # The controller's own account got none of them.
    own = w["accounts"].emu._call("GET", f"/mappings?account={ACCOUNT}")
    assert not [m for m in own if m.get("FunctionArn", "").endswith(f":{w['fn']}")], own
    # The session the controller used names the cluster, carries the binding's tags.
    sessions = [s for s in w["accounts"].sessions() if s.get("roleArn") == w["roles"]["b"]
                and s.get("sessionName", "").startswith("esm-controller@")]
    assert sessions, w["accounts"].sessions()
    assert sessions[0]["sessionName"] == "esm-controller@e2e"
    assert sessions[0].get("tags", {}).get("team") == "two", sessions[0]
    # The bindings count their users, and say the role can be assumed.
    def counted():
        b = get_binding(kubectl, w["names"]["a"])
        return b if b and (b.get("status") or {}).get("resources", 0) >= 1 else None
    b = wait_for(counted, 60, "binding a to count its resource")
    assert cond_status(b, "Ready") == "True", b.get("status")
    assert b["status"]["accountId"] == ACCOUNT_A
    assert w["names"]["a"] + "" in kubectl("get", "lambdaaccounts").stdout


def test_a_binding_that_does_not_select_the_namespace_is_refused_without_any_sts_call(world, kubectl):
    w = world
    d = w["names"]["d"]
    # Wait until binding d has been checked (that assumes its role once), then count.
    wait_for(lambda: cond_status(get_binding(kubectl, d), "Ready") == "True", 60, "binding d Ready")
    before = w["accounts"].calls(ACCOUNT_D)
    # Tenant one names tenant two's account.
    w["one"].apply("sneaky", sqs_spec(w, ACCOUNT_D, f"{w['run']}-sneaky", accountRef=d))
    obj = w["one"].wait(
        "sneaky", lambda o: (condition(o, "Ready") or {}).get("reason") == "AccountNotGranted",
        "stalled AccountNotGranted")
    message = condition(obj, "Ready")["message"]
    assert d in message and w["ns1"] in message, message
    assert cond_status(obj, "Stalled") == "True", obj.get("status")
    time.sleep(3)  # any call it would make would have been made by now
    assert w["accounts"].calls(ACCOUNT_D) == before, "a refused tenant cost an STS or Lambda call"
    assert not status(obj).get("uuid")
    # A binding that does not exist stalls too, with no call anywhere.
    w["one"].apply("nowhere", sqs_spec(w, ACCOUNT_A, f"{w['run']}-nowhere", accountRef="no-such-binding"))
    w["one"].wait("nowhere", lambda o: (condition(o, "Ready") or {}).get("reason") == "AccountNotFound",
                  "stalled AccountNotFound")
    # accountRef cannot change after creation.
    out = kubectl("patch", "eventsourcemapping", "sneaky", "-n", w["ns1"], "--type", "merge",
                  "-p", json.dumps({"spec": {"accountRef": w["names"]["a"]}}), check=False)
    assert out.returncode != 0 and "cannot move between AWS accounts" in out.stderr, out.stderr
    w["one"].k("delete", "eventsourcemapping", "sneaky", "nowhere", "-n", w["ns1"], "--wait=false")
    w["one"].wait_gone("sneaky")
    w["one"].wait_gone("nowhere")


def test_a_role_that_does_not_trust_the_controller_shows_on_the_binding(world, kubectl):
    w = world
    c = w["names"]["c"]
    b = wait_for(lambda: (lambda o: o if cond_status(o, "Ready") == "False" else None)(get_binding(kubectl, c)),
                 60, "binding c Ready=False")
    ready = condition(b, "Ready")
    assert ready["reason"] == "AssumeRoleFailed", ready
    assert "AccessDenied" in ready["message"] or "not authorized" in ready["message"], ready
    assert w["roles"]["c"] in ready["message"], ready


def test_sessions_expire_and_are_refreshed_without_errors(world, kubectl):
    """Sessions last 20 s: over ~50 s of spec changes the controller assumes the role again,
    and no call fails for want of valid credentials."""
    w = world
    w["one"].apply("refresh", sqs_spec(w, ACCOUNT_A, f"{w['run']}-refresh"))
    w["one"].wait_ready("refresh")
    first = {s["accessKeyId"] for s in w["accounts"].sessions() if s.get("roleArn") == w["roles"]["a"]}
    for size in (6, 7, 8, 9, 10):
        w["one"].patch("refresh", {"batchSize": size})
        w["one"].wait("refresh", lambda o, s=size: is_ready(o) and (o.get("status") or {}).get("observedGeneration") == o["metadata"]["generation"],
                      f"batchSize {size} applied")
        time.sleep(10)
    later = {s["accessKeyId"] for s in w["accounts"].sessions() if s.get("roleArn") == w["roles"]["a"]}
    assert later - first, "the controller never assumed the role again"
    log = w["controller"].log()
    assert "ExpiredToken" not in log and "InvalidClientTokenId" not in log, w["controller"].log_tail()
    m = mappings_seen_by(w, "a")
    assert any(x["BatchSize"] == 10 for x in m), m


def test_a_binding_in_use_keeps_its_finalizer_and_a_resource_without_usable_account_says_why(world, kubectl):
    w = world
    # A binding of its own, default for nobody, used by one resource.
    name = f"{w['run']}-e"
    kubectl.apply(binding(name, w["roles"]["a"], w["run"] + "-one"))
    w["one"].apply("pinned", sqs_spec(w, ACCOUNT_A, f"{w['run']}-pinned", accountRef=name))
    w["one"].wait_ready("pinned")
    kubectl("delete", "lambdaaccount", name, "--wait=false")
    b = wait_for(lambda: (lambda o: o if o and (condition(o, "Ready") or {}).get("reason") == "InUse" else None)(get_binding(kubectl, name)),
                 60, "the deleted binding to say it is in use")
    assert "1 EventSourceMapping" in condition(b, "Ready")["message"], b["status"]
    assert b["metadata"].get("deletionTimestamp")
    # The resource still works while its binding waits.
    assert is_ready(w["one"].get("pinned"))
    # Removing the finalizer by hand makes the account unusable: the resource stalls, and its
    # deletion with deletionPolicy Delete says the mapping could not be deleted.
    kubectl("patch", "lambdaaccount", name, "--type", "json",
            "-p", json.dumps([{"op": "remove", "path": "/metadata/finalizers"}]))
    wait_for(lambda: get_binding(kubectl, name) is None, 30, "the binding to go")
    w["one"].patch("pinned", {"batchSize": 7})
    w["one"].wait("pinned", lambda o: (condition(o, "Ready") or {}).get("reason") == "AccountNotFound",
                  "stalled AccountNotFound")
    w["one"].k("delete", "eventsourcemapping", "pinned", "-n", w["ns1"], "--wait=false")
    obj = w["one"].wait("pinned", lambda o: (condition(o, "Ready") or {}).get("reason") == "DeleteBlocked",
                        "DeleteBlocked")
    message = condition(obj, "Ready")["message"]
    assert "could not be deleted" in message and name in message and "Retain" in message, message
    # Retain releases it, and the mapping stays in account A.
    uuid = status(obj)["uuid"]
    w["one"].patch("pinned", {"deletionPolicy": "Retain"})
    w["one"].wait_gone("pinned")
    assert uuid in [m["UUID"] for m in mappings_seen_by(w, "a")]


def test_kill_during_creates_in_two_accounts_leaves_no_duplicate(world, kubectl, controller_factory, bed):
    w = world
    w["controller"].stop()
    emu = w["accounts"].emu
    emu.delays(transition_ms=3000)
    names = [f"burst-{i}" for i in range(12)]
    specs = {}
    for i, n in enumerate(names):
        ctx, account = (w["one"], ACCOUNT_A) if i % 2 == 0 else (w["two"], ACCOUNT_B)
        specs[n] = (ctx, account)
        ctx.apply(n, sqs_spec(w, account, f"{w['run']}-{n}"))
    for round_ in range(3):
        c = controller_factory(f"accounts-kill{round_}", bed.lambda_endpoint, [w["ns1"], w["ns2"]],
                               extra_args=["--assume-role-duration", "20s"],
                               env={"AWS_ENDPOINT_URL_STS": bed.lambda_endpoint})
        time.sleep(2.5 + round_)
        os.killpg(c.proc.pid, signal.SIGKILL)
        c.proc.wait()
    c = controller_factory("accounts-after", bed.lambda_endpoint, [w["ns1"], w["ns2"]],
                           extra_args=["--assume-role-duration", "20s"],
                           env={"AWS_ENDPOINT_URL_STS": bed.lambda_endpoint})
    for n, (ctx, _) in specs.items():
        ctx.wait_ready(n, timeout=120)
    for key, account, ext in (("a", ACCOUNT_A, None), ("b", ACCOUNT_B, EXTERNAL_ID)):
        seen = mappings_seen_by(w, key, ext)
        by_source: dict[str, int] = {}
        for m in seen:
            by_source[m["EventSourceArn"]] = by_source.get(m["EventSourceArn"], 0) + 1
        dupes = {k: v for k, v in by_source.items() if v > 1}
        assert not dupes, f"duplicates in account {account}: {dupes}"
        for n, (ctx, acct) in specs.items():
            if acct == account:
                assert by_source.get(sqs_in(account, f"{w['run']}-{n}")) == 1, (n, account)
    w["controller"] = c
    w["one"].controller = c
    w["two"].controller = c


def test_moto_serves_a_binding_from_the_roles_account(bed, kubectl, controller_factory):
    """The independent check: moto derives the account from the assumed role's credentials
    too. The mapping lands in the role's account, and the controller's own account has none."""
    import io
    import zipfile

    if not bed.moto_endpoint:
        pytest.fail("MOTO_ENDPOINT missing: start the bed with BED_WITH_MOTO=1 (tests/e2e/run.sh does)")
    account = "555555555555"
    role = role_arn(account, unique("esm-moto"))
    base = dict(endpoint_url=bed.moto_endpoint, region_name=REGION,
                aws_access_key_id="testing", aws_secret_access_key="testing")
    creds = boto3.client("sts", **base).assume_role(RoleArn=role, RoleSessionName="e2e-setup")["Credentials"]
    assumed = dict(endpoint_url=bed.moto_endpoint, region_name=REGION,
                   aws_access_key_id=creds["AccessKeyId"], aws_secret_access_key=creds["SecretAccessKey"],
                   aws_session_token=creds["SessionToken"])
    iam, lam, sqs = (boto3.client(s, **assumed) for s in ("iam", "lambda", "sqs"))
    fn_role = iam.create_role(
        RoleName=unique("fn-role"),
        AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}),
    )["Role"]["Arn"]
    assert f":{account}:" in fn_role, f"moto put the setup in another account: {fn_role}"
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("index.py", "def handler(event, context):\n    return {'ok': True}\n")
    fn = unique("fn-moto-acct")
    lam.create_function(FunctionName=fn, Runtime="python3.12", Role=fn_role, Handler="index.handler",
                        Code={"ZipFile": buf.getvalue()})
    url = sqs.create_queue(QueueName=unique("moto-acct-q"))["QueueUrl"]
    queue = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]

    ns = make_namespace(kubectl, "moto-acct")
    tenant = unique("moto")
    kubectl("label", "namespace", ns, f"e2e-tenant={tenant}")
    name = unique("moto-binding")
    kubectl.apply(binding(name, role, tenant, default=True))
    c = controller_factory("moto-accounts", bed.moto_endpoint, [ns],
                           env={"AWS_ENDPOINT_URL_STS": bed.moto_endpoint})
    ctx = Ctx(kubectl, None, ns, fn, c)
    try:
        ctx.apply("orders", {"eventSourceARN": queue, "functionName": fn, "batchSize": 4})
        obj = ctx.wait_ready("orders", timeout=90)
        assert status(obj).get("accountId") == account, status(obj)
        in_role_account = lam.list_event_source_mappings(FunctionName=fn)["EventSourceMappings"]
        assert [m["UUID"] for m in in_role_account] == [status(obj)["uuid"]], in_role_account
        own = boto3.client("lambda", **base).list_event_source_mappings(EventSourceArn=queue)["EventSourceMappings"]
        assert not own, f"the controller's own account has the mapping: {own}"
        ctx.delete_all()
        assert not lam.list_event_source_mappings(FunctionName=fn)["EventSourceMappings"]
    finally:
        kubectl("delete", "lambdaaccount", name, "--wait=false", "--ignore-not-found")
        wait_for(lambda: get_binding(kubectl, name) is None, 60, "the binding to be deleted")
        stop_and_check(c)
