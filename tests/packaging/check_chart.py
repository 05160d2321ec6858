#!/usr/bin/env python3
"""Renders charts/esm-controller with `helm template` for the main value combinations and checks
what comes out. Also checks that invalid values are refused, and that examples/ covers every
source type.

    check_chart.py HELM CHART_DIR REPO_ROOT [--write-renders DIR]

With --write-renders, each combination's manifest is written to DIR/<name>.yaml (run.sh then
server-side dry-runs them against the test bed's API server).
Prints ok/FAIL lines and "N passed, N failed"; exits non-zero on failure.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import yaml

HELM, CHART, ROOT = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
RENDER_DIR = Path(sys.argv[sys.argv.index("--write-renders") + 1]) if "--write-renders" in sys.argv else None
RELEASE, NAMESPACE = "esm-controller", "esm-system"
FULLNAME = "esm-controller"  # the release name contains the chart name
GROUP = "lambda.esm-controller.dev"
CRD_FILE = ROOT / "crds" / "lambda.esm-controller.dev_eventsourcemappings.yaml"

# The Kubernetes API calls the controller makes (its runtime contract), as RBAC rules.
ESM_RULES = [
    {"apiGroups": [GROUP], "resources": ["eventsourcemappings"], "verbs": ["get", "list", "watch", "patch"]},
    {"apiGroups": [GROUP], "resources": ["eventsourcemappings/status"], "verbs": ["patch"]},
    {"apiGroups": [GROUP], "resources": ["eventsourcemappings/finalizers"], "verbs": ["update"]},
    {"apiGroups": ["events.k8s.io"], "resources": ["events"], "verbs": ["create"]},
]
LEASE_VERBS = {"get", "create", "update"}

passed = failed = 0


def check(cond: bool, what: str, detail: str = "") -> bool:
    global passed, failed
    if cond:
        passed += 1
        print(f"ok   - {what}")
    else:
        failed += 1
        print(f"FAIL - {what}" + (f"\n       {detail}" if detail else ""))
    return cond


def helm_template(sets: list[str], values_yaml: str | None = None) -> subprocess.CompletedProcess:
    cmd = [HELM, "template", RELEASE, str(CHART), "--namespace", NAMESPACE]
    for s in sets:
        cmd += ["--set", s]
    if values_yaml is not None:
        cmd += ["--values", "-"]
    return subprocess.run(cmd, input=values_yaml, capture_output=True, text=True)


def render(name: str, sets: list[str], values_yaml: str | None = None) -> tuple[list[dict], str]:
    proc = helm_template(sets, values_yaml)
    if not check(proc.returncode == 0, f"[{name}] helm template succeeds", proc.stderr.strip()):
        return [], ""
    if RENDER_DIR:
        RENDER_DIR.mkdir(parents=True, exist_ok=True)
        (RENDER_DIR / f"{name}.yaml").write_text(proc.stdout)
    docs = [d for d in yaml.safe_load_all(proc.stdout) if d]
    return docs, proc.stdout


def find(docs, kind, name=None, namespace=None):
    return [
        d for d in docs
        if d["kind"] == kind
        and (name is None or d["metadata"]["name"] == name)
        and (namespace is None or d["metadata"].get("namespace") == namespace)
    ]


def one(docs, kind, name=None, namespace=None):
    found = find(docs, kind, name, namespace)
    check(len(found) == 1, f"exactly one {kind}" + (f" {namespace or ''}/{name}" if name else ""), f"found {len(found)}")
    return found[0] if found else {}


def kinds(docs) -> set[str]:
    return {d["kind"] for d in docs}


def normalise_rules(rules):
    return sorted(
        (tuple(sorted(r.get("apiGroups", []))), tuple(sorted(r.get("resources", []))),
         tuple(sorted(r.get("resourceNames", []))), tuple(sorted(r.get("verbs", []))))
        for r in rules
    )


def container(deploy) -> dict:
    return deploy["spec"]["template"]["spec"]["containers"][0]


def args(deploy) -> list[str]:
    return container(deploy).get("args", [])


def rules_have_comments(text: str, kind: str) -> bool:
    """Every rule in each rendered `kind` has a comment line right above it."""
    ok = True
    for doc in text.split("\n---"):
        if f"\nkind: {kind}\n" not in doc:
            continue
        lines = doc.splitlines()
        for i, line in enumerate(lines):
            if line.strip().startswith("- apiGroups:"):
                if i == 0 or not lines[i - 1].strip().startswith("#"):
                    ok = False
    return ok


# ------------------------------------------------------------------------------------ defaults
docs, text = render("defaults", [])
check(
    kinds(docs) == {"CustomResourceDefinition", "ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Deployment", "Service"},
    "[defaults] renders CRD, ServiceAccount, ClusterRole(+Binding), Deployment, Service and nothing else",
    str(sorted(kinds(docs))),
)
crd = one(docs, "CustomResourceDefinition", f"eventsourcemappings.{GROUP}")
want_crd = yaml.safe_load(CRD_FILE.read_text())
check(crd.get("spec") == want_crd["spec"], "[defaults] the rendered CRD's spec equals crds/ (parsed)")
check(
    crd.get("metadata", {}).get("annotations", {}).get("helm.sh/resource-policy") == "keep",
    "[defaults] the CRD is annotated helm.sh/resource-policy: keep (uninstall leaves users' resources)",
)
sa = one(docs, "ServiceAccount", FULLNAME, NAMESPACE)
deploy = one(docs, "Deployment", FULLNAME, NAMESPACE)
spec = deploy.get("spec", {})
pod = spec.get("template", {}).get("spec", {})
c = container(deploy) if deploy else {}
check(spec.get("replicas") == 1, "[defaults] 1 replica")
check(spec.get("strategy", {}).get("type") == "Recreate", "[defaults] strategy Recreate (never two pods writing to AWS)")
check(pod.get("serviceAccountName") == FULLNAME, "[defaults] the pod uses the chart's ServiceAccount")
psc = pod.get("securityContext", {})
check(psc.get("runAsNonRoot") is True, "[defaults] pod runAsNonRoot: true")
check(psc.get("runAsUser") == 65532 and psc.get("runAsGroup") == 65532, "[defaults] numeric runAsUser/runAsGroup 65532", str(psc))
check(psc.get("seccompProfile", {}).get("type") == "RuntimeDefault", "[defaults] seccompProfile RuntimeDefault")
csc = c.get("securityContext", {})
check(csc.get("readOnlyRootFilesystem") is True, "[defaults] readOnlyRootFilesystem: true")
check(csc.get("allowPrivilegeEscalation") is False, "[defaults] allowPrivilegeEscalation: false")
check(csc.get("capabilities", {}).get("drop") == ["ALL"], "[defaults] capabilities drop [ALL]")
ports = {p["name"]: p["containerPort"] for p in c.get("ports", [])}
check(ports == {"http": 8080}, "[defaults] one container port, http 8080", str(ports))
live, ready = c.get("livenessProbe", {}).get("httpGet", {}), c.get("readinessProbe", {}).get("httpGet", {})
check(live.get("path") == "/healthz" and live.get("port") == "http", "[defaults] liveness probe GET /healthz on http")
check(ready.get("path") == "/readyz" and ready.get("port") == "http", "[defaults] readiness probe GET /readyz on http")
res = c.get("resources", {})
check(
    all(k in res.get(part, {}) for part in ("requests", "limits") for k in ("cpu", "memory")),
    "[defaults] cpu and memory requests and limits", str(res),
)
env = {e["name"]: e for e in c.get("env", [])}
check(
    env.get("POD_NAME", {}).get("valueFrom", {}).get("fieldRef", {}).get("fieldPath") == "metadata.name"
    and env.get("POD_NAMESPACE", {}).get("valueFrom", {}).get("fieldRef", {}).get("fieldPath") == "metadata.namespace",
    "[defaults] POD_NAME and POD_NAMESPACE from the downward API",
)
a = args(deploy) if deploy else []
check(a[:1] == ["run"], "[defaults] args start with the run subcommand", str(a))
check("--log-format=json" in a, "[defaults] JSON logs", str(a))
check("--http-addr=0.0.0.0:8080" in a, "[defaults] --http-addr on the probe/metrics port", str(a))
check(not any(x.startswith("--leader-elect") for x in a), "[defaults] no leader election with one replica", str(a))
check(not any(x.startswith("--namespaces") for x in a), "[defaults] watches all namespaces", str(a))
check(not any(x.split("=")[0] in ("--observe", "--sweep-interval", "--sweep-rate", "--aws-rate-limit", "--aws-burst") for x in a),
      "[defaults] observe mode and AWS rate left to the controller's defaults", str(a))
check(c.get("image") == "esm-controller:0.1.0", "[defaults] image tag defaults to appVersion 0.1.0", str(c.get("image")))
cr = one(docs, "ClusterRole", FULLNAME)
check(normalise_rules(cr.get("rules", [])) == normalise_rules(ESM_RULES), "[defaults] ClusterRole has exactly the controller's permissions",
      f"got {cr.get('rules')}")
check(rules_have_comments(text, "ClusterRole"), "[defaults] every ClusterRole rule has a comment saying why")
crb = one(docs, "ClusterRoleBinding", FULLNAME)
check(
    crb.get("roleRef", {}).get("name") == FULLNAME
    and crb.get("subjects") == [{"kind": "ServiceAccount", "name": FULLNAME, "namespace": NAMESPACE}],
    "[defaults] ClusterRoleBinding binds the ClusterRole to the ServiceAccount",
)
svc = one(docs, "Service", f"{FULLNAME}-metrics", NAMESPACE)
pod_labels = deploy.get("spec", {}).get("template", {}).get("metadata", {}).get("labels", {})
check(
    svc and all(pod_labels.get(k) == v for k, v in svc["spec"]["selector"].items())
    and svc["spec"]["ports"][0]["targetPort"] == "http",
    "[defaults] the metrics Service selects the pods' http port",
)
check(
    all(spec.get("selector", {}).get("matchLabels", {}).get(k) == v for k, v in
        {"app.kubernetes.io/name": "esm-controller", "app.kubernetes.io/instance": RELEASE}.items()),
    "[defaults] Deployment selector uses the standard name/instance labels",
)

# --------------------------------------------------------------------------- replicas=2
docs, text = render("replicas-2", ["replicaCount=2"])
deploy = one(docs, "Deployment", FULLNAME, NAMESPACE)
a = args(deploy) if deploy else []
check(deploy.get("spec", {}).get("replicas") == 2, "[replicas=2] 2 replicas")
check(
    "--leader-elect" in a and f"--leader-election-namespace={NAMESPACE}" in a and "--leader-election-id=esm-controller" in a,
    "[replicas=2] leader election switched on automatically (--leader-elect, namespace, id)", str(a),
)
check(
    "--leader-election-lease-duration=15s" in a and "--leader-election-renew-deadline=10s" in a
    and "--leader-election-retry-period=2s" in a,
    "[replicas=2] lease timing passed (15s lease, 10s renew deadline, 2s retry period)", str(a),
)
check(deploy.get("spec", {}).get("strategy", {}).get("type") == "RollingUpdate", "[replicas=2] strategy RollingUpdate")
role = one(docs, "Role", f"{FULLNAME}-leader-election", NAMESPACE)
lease_rules = role.get("rules", [])
check(
    all(r["apiGroups"] == ["coordination.k8s.io"] and r["resources"] == ["leases"] for r in lease_rules)
    and set(v for r in lease_rules for v in r["verbs"]) == LEASE_VERBS,
    "[replicas=2] Lease Role: get/create/update on leases only", str(lease_rules),
)
check(
    all(r.get("resourceNames") == ["esm-controller"] for r in lease_rules if set(r["verbs"]) & {"get", "update"}),
    "[replicas=2] get/update limited to the controller's own Lease", str(lease_rules),
)
check(rules_have_comments(text, "Role"), "[replicas=2] every Lease rule has a comment saying why")
rb = one(docs, "RoleBinding", f"{FULLNAME}-leader-election", NAMESPACE)
check(rb.get("subjects") == [{"kind": "ServiceAccount", "name": FULLNAME, "namespace": NAMESPACE}], "[replicas=2] Lease RoleBinding to the ServiceAccount")
check("ClusterRole" in kinds(docs), "[replicas=2] still a ClusterRole for the resources")

docs, _ = render("leader-election-1-replica", ["leaderElection.enabled=true", "leaderElection.namespace=kube-system", "leaderElection.id=esm-prod"])
deploy = one(docs, "Deployment", FULLNAME, NAMESPACE)
a = args(deploy) if deploy else []
check("--leader-elect" in a and "--leader-election-namespace=kube-system" in a and "--leader-election-id=esm-prod" in a,
      "[leaderElection.enabled, 1 replica] flags with the chosen namespace and id", str(a))
role = find(docs, "Role", f"{FULLNAME}-leader-election", "kube-system")
check(len(role) == 1 and any(r.get("resourceNames") == ["esm-prod"] for r in role[0]["rules"]),
      "[leaderElection.enabled] the Lease Role is in the Lease's namespace, for its name")
docs, _ = render("replicas-2-recreate", ["replicaCount=2", "strategy.type=Recreate"])
deploy = one(docs, "Deployment", FULLNAME, NAMESPACE)
check(deploy.get("spec", {}).get("strategy", {}).get("type") == "Recreate", "[replicas=2, strategy Recreate] the chosen strategy is kept")

# ----------------------------------------------------------------------- watchNamespaces
docs, text = render("watch-namespaces", ["watchNamespaces={team-a,team-b}"])
check(not ({"ClusterRole", "ClusterRoleBinding"} & kinds(docs)), "[watchNamespaces=a,b] no ClusterRole or ClusterRoleBinding", str(sorted(kinds(docs))))
for ns in ("team-a", "team-b"):
    r = one(docs, "Role", FULLNAME, ns)
    check(normalise_rules(r.get("rules", [])) == normalise_rules(ESM_RULES), f"[watchNamespaces] Role in {ns} has exactly the controller's permissions")
    b = one(docs, "RoleBinding", FULLNAME, ns)
    check(b.get("subjects") == [{"kind": "ServiceAccount", "name": FULLNAME, "namespace": NAMESPACE}], f"[watchNamespaces] RoleBinding in {ns} to the ServiceAccount in {NAMESPACE}")
check(rules_have_comments(text, "Role"), "[watchNamespaces] every Role rule has a comment saying why")
check(not find(docs, "Role", f"{FULLNAME}-leader-election"), "[watchNamespaces] no Lease Role without leader election")
deploy = one(docs, "Deployment", FULLNAME, NAMESPACE)
check("--namespaces=team-a,team-b" in (args(deploy) if deploy else []), "[watchNamespaces] --namespaces=team-a,team-b")

# ------------------------------------------------------------- optional objects switched on
docs, _ = render("extras", [
    "serviceMonitor.enabled=true", "serviceMonitor.labels.release=prometheus",
    "podDisruptionBudget.enabled=true", "networkPolicy.enabled=true",
    "networkPolicy.metricsFrom[0].namespaceSelector.matchLabels.name=monitoring",
])
check({"ServiceMonitor", "PodDisruptionBudget", "NetworkPolicy"} <= kinds(docs), "[serviceMonitor/pdb/networkPolicy on] all three rendered")
deploy = one(docs, "Deployment", FULLNAME, NAMESPACE)
pod_labels = deploy.get("spec", {}).get("template", {}).get("metadata", {}).get("labels", {})
svc = one(docs, "Service", f"{FULLNAME}-metrics", NAMESPACE)
sm = one(docs, "ServiceMonitor", FULLNAME, NAMESPACE)
svc_port_names = {p["name"] for p in svc.get("spec", {}).get("ports", [])}
check(
    sm and all(svc["metadata"]["labels"].get(k) == v for k, v in sm["spec"]["selector"]["matchLabels"].items())
    and sm["spec"]["endpoints"][0]["port"] in svc_port_names and sm["spec"]["endpoints"][0]["path"] == "/metrics"
    and sm["metadata"]["labels"].get("release") == "prometheus",
    "[serviceMonitor] selects the metrics Service's port, path /metrics, with the extra labels",
)
pdb = one(docs, "PodDisruptionBudget", FULLNAME, NAMESPACE)
check(pdb and all(pod_labels.get(k) == v for k, v in pdb["spec"]["selector"]["matchLabels"].items())
      and pdb["spec"].get("maxUnavailable") == 1 and "minAvailable" not in pdb["spec"],
      "[pdb] selects the pods, maxUnavailable 1")
np_ = one(docs, "NetworkPolicy", FULLNAME, NAMESPACE)
if np_:
    npspec = np_["spec"]
    check(all(pod_labels.get(k) == v for k, v in npspec["podSelector"]["matchLabels"].items()), "[networkPolicy] selects the pods")
    check(npspec["ingress"][0]["ports"] == [{"port": "http", "protocol": "TCP"}]
          and npspec["ingress"][0]["from"] == [{"namespaceSelector": {"matchLabels": {"name": "monitoring"}}}],
          "[networkPolicy] ingress only to the http port, from the given peers", str(npspec["ingress"]))
    egress_ports = {(p["port"], p["protocol"]) for rule in npspec.get("egress", []) for p in rule.get("ports", [])}
    check({(53, "UDP"), (53, "TCP"), (443, "TCP")} <= egress_ports and "Egress" in npspec["policyTypes"],
          "[networkPolicy] egress restricted to DNS and HTTPS (API server, AWS)", str(egress_ports))
docs, _ = render("pdb-min-available", ["podDisruptionBudget.enabled=true", "podDisruptionBudget.minAvailable=1", "podDisruptionBudget.maxUnavailable=null", "replicaCount=2"])
pdb = one(docs, "PodDisruptionBudget", FULLNAME, NAMESPACE)
check(pdb.get("spec", {}).get("minAvailable") == 1 and "maxUnavailable" not in pdb.get("spec", {}), "[pdb minAvailable=1] minAvailable only")

# ------------------------------------------------------------------------------ CRDs off
docs, _ = render("no-crds", ["crds.install=false"])
check(not find(docs, "CustomResourceDefinition"), "[crds.install=false] no CRD rendered")
check("Deployment" in kinds(docs), "[crds.install=false] the rest is still rendered")
docs, _ = render("crds-no-keep", ["crds.keep=false"])
crds = find(docs, "CustomResourceDefinition")
check(len(crds) == len(list((ROOT / "crds").glob("*.yaml"))), "[crds.keep=false] every CRD of crds/ rendered", f"found {len(crds)}")
check(all("helm.sh/resource-policy" not in (c.get("metadata", {}).get("annotations") or {}) for c in crds), "[crds.keep=false] no keep annotation")

# ------------------------------------------------------------------- IRSA, region, settings
docs, _ = render("irsa", [], values_yaml="""
serviceAccount:
  annotations:
    eks.amazonaws.com/role-arn: arn:aws:iam::123456789012:role/esm-controller
clusterName: prod-eu
aws:
  region: eu-west-1
labelSelector: team=payments
controller:
  logFormat: text
  concurrency: 8
  extraArgs: ["--stalled-recheck=10m"]
  observe: get
  sweepInterval: 30s
  sweepRate: 0.5
  awsRateLimit: 2.5
  awsBurst: 4
image:
  repository: registry.example.com/esm-controller
  digest: sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
""")
sa = one(docs, "ServiceAccount", FULLNAME, NAMESPACE)
check(sa.get("metadata", {}).get("annotations", {}).get("eks.amazonaws.com/role-arn") == "arn:aws:iam::123456789012:role/esm-controller",
      "[irsa] ServiceAccount carries the eks.amazonaws.com/role-arn annotation")
deploy = one(docs, "Deployment", FULLNAME, NAMESPACE)
a = args(deploy) if deploy else []
for flag in ("--cluster-name=prod-eu", "--region=eu-west-1", "--label-selector=team=payments", "--log-format=text", "--concurrency=8",
             "--stalled-recheck=10m", "--observe=get", "--sweep-interval=30s", "--sweep-rate=0.5", "--aws-rate-limit=2.5", "--aws-burst=4"):
    check(flag in a, f"[settings] {flag} passed to the controller", str(a))
env = {e["name"]: e.get("value") for e in container(deploy).get("env", [])} if deploy else {}
check(env.get("AWS_REGION") == "eu-west-1", "[settings] AWS_REGION exported for the SDK (STS, IRSA)")
check(container(deploy).get("image", "").endswith("@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef") if deploy else False,
      "[settings] image.digest pins the image")

# ------------------------------------------------------------------- values that must fail
BAD = [
    ("replicaCount=-1", ["replicaCount=-1"]),
    ("replicaCount=two", ["replicaCount=two"]),
    ("misspelt key replicas=2", ["replicas=2"]),
    ("controller.logFormat=xml", ["controller.logFormat=xml"]),
    ("controller.resyncPeriod=soon", ["controller.resyncPeriod=soon"]),
    ("controller.concurrency=0", ["controller.concurrency=0"]),
    ("watchNamespaces with an invalid name", ["watchNamespaces={Team_A}"]),
    ("aws.region=mars", ["aws.region=mars"]),
    ("podSecurityContext.runAsNonRoot=false", ["podSecurityContext.runAsNonRoot=false"]),
    ("podSecurityContext.runAsUser=0", ["podSecurityContext.runAsUser=0"]),
    ("securityContext.allowPrivilegeEscalation=true", ["securityContext.allowPrivilegeEscalation=true"]),
    ("securityContext.privileged=true", ["securityContext.privileged=true"]),
    ("http.port=80 (privileged port without capabilities)", ["http.port=80"]),
    ("strategy RollingUpdate without leader election", ["strategy.type=RollingUpdate"]),
    ("strategy.type=Blue", ["strategy.type=Blue"]),
    ("pdb with both minAvailable and maxUnavailable", ["podDisruptionBudget.enabled=true", "podDisruptionBudget.minAvailable=1"]),
    ("serviceAccount.create=false without a name", ["serviceAccount.create=false"]),
    ("image.digest not a sha256", ["image.digest=latest"]),
    ("crds.install=yes (string)", ["crds.install=yes"]),
    ("controller.observe=poll", ["controller.observe=poll"]),
    ("controller.awsRateLimit=0", ["controller.awsRateLimit=0"]),
    ("controller.awsRateLimit=fast", ["controller.awsRateLimit=fast"]),
    # The binary refuses a budget outside 0.1 to 1000; the chart must not render one.
    ("controller.awsRateLimit=0.05 (string)", ["controller.awsRateLimit=0.05"]),
    ("controller.awsRateLimit=5000", ["controller.awsRateLimit=5000"]),
    ("controller.awsBurst=5000", ["controller.awsBurst=5000"]),
]
for what, sets in BAD:
    proc = helm_template(sets)
    check(proc.returncode != 0, f"[bad values] {what} is refused", "helm template succeeded")

# ---------------------------------------------------------------------------- examples/
kinds_seen = {}
for path in sorted((ROOT / "examples").glob("*.yaml")):
    for doc in yaml.safe_load_all(path.read_text()):
        if not doc or doc.get("kind") != "EventSourceMapping":
            continue
        spec_ = doc["spec"]
        arn = spec_.get("eventSourceARN", "")
        if "selfManagedEventSource" in spec_:
            kind = "self-managed Kafka"
        else:
            service = arn.split(":")[2] if arn.count(":") >= 5 else "?"
            kind = {"sqs": "SQS FIFO" if arn.endswith(".fifo") else "SQS standard", "kinesis": "Kinesis",
                    "dynamodb": "DynamoDB Streams", "kafka": "MSK", "mq": "Amazon MQ", "rds": "DocumentDB"}.get(service, service)
        kinds_seen.setdefault(kind, []).append((path.name, spec_))
for kind in ("SQS standard", "SQS FIFO", "Kinesis", "DynamoDB Streams", "MSK", "self-managed Kafka", "Amazon MQ", "DocumentDB"):
    check(kind in kinds_seen, f"[examples] an example for {kind}", str(sorted(kinds_seen)))
ddb = kinds_seen.get("DynamoDB Streams", [])
check(any(s.get("filterCriteria", {}).get("filters") for _, s in ddb), "[examples] the DynamoDB Streams example has filter criteria")
smk = kinds_seen.get("self-managed Kafka", [])
sac_types = {a["type"] for _, s in smk for a in s.get("sourceAccessConfigurations", [])}
check({"SASL_SCRAM_512_AUTH", "VPC_SUBNET", "VPC_SECURITY_GROUP"} <= sac_types,
      "[examples] self-managed Kafka uses a SASL/SCRAM secret, VPC subnets and a security group", str(sac_types))
mq = kinds_seen.get("Amazon MQ", [])
check(any(a["type"] == "BASIC_AUTH" for _, s in mq for a in s.get("sourceAccessConfigurations", [])), "[examples] Amazon MQ uses BASIC_AUTH")
for kind, items in kinds_seen.items():
    for name, _ in items:
        first = (ROOT / "examples" / name).read_text().lstrip().splitlines()[0]
        check(first.startswith("#"), f"[examples] {name} starts with a comment explaining it")

print(f"check_chart: {passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
