#!/usr/bin/env python3
"""Checks docs/iam-policy.json, docs/iam-trust-policy.json, docs/operating.md and
docs/gitops/flux.md.

    check_docs.py REPO_ROOT

The IAM policy must hold exactly the Lambda actions the controller calls and the STS actions it
needs for account bindings' roles, scoped as documented; the target roles' trust policy example
must trust the controller's role only, require an external ID and allow session tags;
operating.md must cover what a platform team needs; every relative link must resolve; the YAML
and JSON snippets in the docs must parse, and the Flux doc must show a Kustomization that
health-checks EventSourceMappings. Prints ok/FAIL lines and "N passed, N failed".
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import yaml

ROOT = Path(sys.argv[1])
passed = failed = 0


def check(cond: bool, what: str, detail: str = "") -> None:
    global passed, failed
    if cond:
        passed += 1
        print(f"ok   - {what}")
    else:
        failed += 1
        print(f"FAIL - {what}" + (f"\n       {detail}" if detail else ""))


# ------------------------------------------------------------------------------ IAM policy
ESM_ARN = "arn:aws:lambda:*:*:event-source-mapping:*"
# The roles of account bindings (LambdaAccount.spec.roleArn), by the naming convention
# docs/operating.md ("Many accounts") documents.
TARGET_ROLES = "arn:aws:iam::*:role/esm-controller-*"
CONTROLLER_ROLE = "arn:aws:iam::123456789012:role/esm-controller"
WANT = {
    "lambda:CreateEventSourceMapping": "*",
    "lambda:ListEventSourceMappings": "*",
    "lambda:GetEventSourceMapping": ESM_ARN,
    "lambda:UpdateEventSourceMapping": ESM_ARN,
    "lambda:DeleteEventSourceMapping": ESM_ARN,
    "lambda:TagResource": ESM_ARN,
    "lambda:UntagResource": ESM_ARN,
    "lambda:ListTags": ESM_ARN,
    "sts:AssumeRole": TARGET_ROLES,
    "sts:TagSession": TARGET_ROLES,
}
LAMBDA_PART = {a for a in WANT if a.startswith("lambda:")}
try:
    policy = json.loads((ROOT / "docs/iam-policy.json").read_text())
except Exception as e:  # noqa: BLE001
    policy = {}
    check(False, "docs/iam-policy.json is valid JSON", str(e))
check(policy.get("Version") == "2012-10-17", "IAM policy: Version 2012-10-17")
granted: dict[str, set[str]] = {}
for st in policy.get("Statement", []):
    check(st.get("Effect") == "Allow", f"IAM policy: statement {st.get('Sid')} is an Allow")
    actions = st["Action"] if isinstance(st["Action"], list) else [st["Action"]]
    resources = st["Resource"] if isinstance(st["Resource"], list) else [st["Resource"]]
    for a in actions:
        granted.setdefault(a, set()).update(resources)
check(set(granted) == set(WANT), "IAM policy: exactly the Lambda actions the controller calls, and sts:AssumeRole/TagSession",
      f"extra {sorted(set(granted) - set(WANT))}, missing {sorted(set(WANT) - set(granted))}")
check(not any("*" in a for a in granted), "IAM policy: no wildcard actions")
for action, resource in WANT.items():
    if action in granted:
        check(granted[action] == {resource}, f"IAM policy: {action} on {resource}", str(granted[action]))
# A target role gets the Lambda statements only: no statement may mix Lambda and STS actions.
mixed = [st.get("Sid") for st in policy.get("Statement", [])
         if len({a.split(":")[0] for a in (st["Action"] if isinstance(st["Action"], list) else [st["Action"]])}) > 1]
check(not mixed, "IAM policy: Lambda and STS actions in separate statements (target roles take the Lambda ones)", str(mixed))

# ------------------------------------------------------------------- the target roles' trust
try:
    trust = json.loads((ROOT / "docs/iam-trust-policy.json").read_text())
except Exception as e:  # noqa: BLE001
    trust = {}
    check(False, "docs/iam-trust-policy.json is valid JSON", str(e))
check(trust.get("Version") == "2012-10-17", "trust policy: Version 2012-10-17")
trust_by_action: dict[str, list[dict]] = {}
for st in trust.get("Statement", []):
    check(st.get("Effect") == "Allow", f"trust policy: statement {st.get('Sid')} is an Allow")
    check(st.get("Principal") == {"AWS": CONTROLLER_ROLE}, f"trust policy: statement {st.get('Sid')} trusts only the controller's role",
          str(st.get("Principal")))
    for a in st["Action"] if isinstance(st["Action"], list) else [st["Action"]]:
        trust_by_action.setdefault(a, []).append(st)
check(set(trust_by_action) == {"sts:AssumeRole", "sts:TagSession"}, "trust policy: allows exactly sts:AssumeRole and sts:TagSession",
      str(sorted(trust_by_action)))
check(bool(trust_by_action.get("sts:AssumeRole")) and all(
    (st.get("Condition") or {}).get("StringEquals", {}).get("sts:ExternalId") for st in trust_by_action["sts:AssumeRole"]),
      "trust policy: sts:AssumeRole requires an sts:ExternalId (StringEquals)")
ext_id = next(iter((st.get("Condition") or {}).get("StringEquals", {}).get("sts:ExternalId", "")
                   for st in trust_by_action.get("sts:AssumeRole", [])), "")
check(bool(re.fullmatch(r"[\w+=,.@:/-]{2,1224}", ext_id)), f"trust policy: the external ID {ext_id!r} is one LambdaAccount.spec.externalId accepts")

# ---------------------------------------------------------------------------- operating.md
op = (ROOT / "docs/operating.md").read_text()
headings = re.findall(r"^#{2,3} (.+)$", op, re.M)
for needed in ("Install with Helm", "IRSA", "EKS Pod Identity", "The IAM policy", "Health endpoints",
               "Metrics", "Logs", "GitOps", "Upgrading, and the CRD", "Uninstalling", "Many accounts"):
    check(any(needed in h for h in headings), f"operating.md has a section on {needed}")
for path in ("/healthz", "/readyz", "/metrics"):
    check(path in op, f"operating.md documents {path}")
check("eks.amazonaws.com/role-arn" in op, "operating.md shows the IRSA annotation")
check("create-pod-identity-association" in op, "operating.md shows the Pod Identity association")
check("helm.sh/resource-policy: keep" in op, "operating.md explains that uninstall keeps the CRD")

# "Many accounts": what the code does, named as the code names it.
many = op.split("## Many accounts", 1)[1].split("\n## ", 1)[0] if "## Many accounts" in op else ""
for term, why in (
    ("iam-trust-policy.json", "links the target roles' trust policy"),
    ("iam-policy.json", "links the controller's policy"),
    ("--require-account-binding", "documents --require-account-binding"),
    ("controller.requireAccountBinding", "documents the chart value"),
    ("esm-controller@", "names the STS session name (CloudTrail)"),
    ("lambda.esm-controller.dev/in-use", "names the binding's finalizer"),
    ("status.account", "says where a mapping's account is recorded"),
    ("status.resources", "says where a binding counts its users"),
    ("deletionPolicy: Retain", "explains moving a mapping with Retain"),
    ("kubernetes.io/metadata.name", "recommends selecting on a label only cluster admins set"),
    ("DeleteBlocked", "explains DeleteBlocked"),
    ("account=\"own\"", "shows the metric's account label"),
):
    check(term in many, f"operating.md Many accounts: {why} ({term})")
src_reasons = set(re.findall(r'"(Account[A-Za-z]+|NoAccount)"', (ROOT / "src/plan/account.rs").read_text()))
doc_reasons = set(re.findall(r"^\| `(Account[A-Za-z]+|NoAccount)` \|", many, re.M))
check(bool(src_reasons) and src_reasons == doc_reasons, "operating.md Many accounts: the stall reasons table lists exactly src/plan/account.rs's reasons",
      f"in the code only: {sorted(src_reasons - doc_reasons)}; in the docs only: {sorted(doc_reasons - src_reasons)}")


def fenced(text: str, lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", text, re.S)


for i, block in enumerate(fenced(op, "json")):
    try:
        json.loads(block)
        check(True, f"operating.md JSON snippet {i + 1} parses")
    except json.JSONDecodeError as e:
        # A lone condition fragment ("Condition": {...}) is shown for pasting into a statement.
        try:
            json.loads("{" + block + "}")
            check(True, f"operating.md JSON snippet {i + 1} parses (as a fragment)")
        except json.JSONDecodeError:
            check(False, f"operating.md JSON snippet {i + 1} parses", str(e))
kms = [json.loads(b) for b in fenced(op, "json") if "kms:Decrypt" in b]
check(len(kms) == 1 and kms[0].get("Action") == "kms:Decrypt", "operating.md has the optional kms:Decrypt statement")
for i, block in enumerate(fenced(op, "yaml")):
    try:
        yaml.safe_load(block)
        check(True, f"operating.md YAML snippet {i + 1} parses")
    except yaml.YAMLError as e:
        check(False, f"operating.md YAML snippet {i + 1} parses", str(e))

# --------------------------------------------------------------------------------- flux.md
flux = (ROOT / "docs/gitops/flux.md").read_text()
docs = []
for block in fenced(flux, "yaml"):
    try:
        docs += [d for d in yaml.safe_load_all(block) if d]
    except yaml.YAMLError as e:
        check(False, "flux.md YAML snippets parse", str(e))
kustomizations = [d for d in docs if d.get("kind") == "Kustomization" and d.get("apiVersion", "").startswith("kustomize.toolkit.fluxcd.io/")]
check(any(k["spec"].get("wait") is True for k in kustomizations), "flux.md: a Kustomization with wait: true")
check(any(hc.get("kind") == "EventSourceMapping" and hc.get("apiVersion") == "lambda.esm-controller.dev/v1alpha1"
          for k in kustomizations for hc in k["spec"].get("healthChecks", [])),
      "flux.md: a Kustomization with healthChecks on an EventSourceMapping")
check("kstatus" in flux and "observedGeneration" in flux, "flux.md explains kstatus and observedGeneration")

# ------------------------------------------------------------------------- relative links
for doc in ("docs/operating.md", "docs/gitops/flux.md"):
    text = (ROOT / doc).read_text()
    for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", text):
        if re.match(r"[a-z]+://", target):
            continue
        check((ROOT / doc).parent.joinpath(target).resolve().exists(), f"{doc}: link {target} resolves")
    for anchor in re.findall(r"\]\(#([^)]+)\)", text):
        slugs = {re.sub(r"[^a-z0-9 -]", "", h.lower()).replace(" ", "-") for h in re.findall(r"^#+ (.+)$", text, re.M)}
        check(anchor in slugs, f"{doc}: anchor #{anchor} exists")

print(f"check_docs: {passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
