#!/usr/bin/env python3
"""Every shell command in the docs, run or dry-run as written.

    doc_commands.py list   ROOT                    the commands found, and how each is checked
    doc_commands.py static ROOT HELM               coverage, then the checks that need no bed
    doc_commands.py binary ROOT BIN                esm-controller invocations (argument parsing)
    doc_commands.py bed    ROOT HELM WORK CTRL_LOG CTRL_PORT
                                                   the rest, against the test bed with the
                                                   controller running (called by bed-checks.sh;
                                                   env: KUBECONFIG, LAMBDA_ADMIN_URL)

Where: README.md, every .md under docs/, and any README*.md under examples/. What: every command
in a fenced code block labelled sh, bash, shell, zsh, console or shell-session, and in unlabelled
blocks that look like shell (a line starts with `$ ` or a known command). Continuation lines
(trailing backslash) are joined; in console blocks only `$ ` lines are commands, the rest is
output; comments are dropped. Placeholders such as `<your registry>` are replaced with the test
values in PLACEHOLDERS; a placeholder missing there fails the check.

Each command is split at |, &&, || and ; and its words are expanded by bash (quotes, escapes,
$(...)) exactly as a user's shell would. The first command of the line decides how it is
checked (HANDLERS below):

  helm install/upgrade/template   `helm template` with the command's own flags (the chart's
                                  values.schema.json applies), the rendering server-side
                                  dry-run; install and upgrade also with --dry-run=server
                                  against the bed's release; uninstall with --dry-run
  kubectl                         reads (get, describe, wait, explain, ...) run for real against
                                  the bed while the controller runs; creating a namespace or
                                  applying EventSourceMappings runs for real (a later `kubectl
                                  wait` needs it; the resources are deleted afterwards); every
                                  other change runs with --dry-run=server; `rollout status` and
                                  `logs` need a kubelet, which the bed has not: the object they
                                  name must exist, and a command the logs are piped into (jq)
                                  runs on the controller's own log
  make TARGET                     make -n
  cargo SUB ...                   cargo parses the arguments (`... --help`); `cargo build
                                  --release` must put the esm-controller binary where the docs
                                  run it from
  esm-controller, ./target/...    the binary parses the arguments (`... --help` after them)
  curl http://localhost:PORT/...  against the running controller's HTTP port
  aws, docker                     exempt (EXEMPT), checked syntactically only

A command no handler knows, and that EXEMPT does not list, fails the static phase, naming the
file, the line and the command. So does an EXEMPT entry that matches no command.
"""

from __future__ import annotations

import http.server
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import yaml

# Test values for placeholders in commands ("<your registry>" and the like).
PLACEHOLDERS = {
    "<your registry>": "registry.example.com/platform",
    "<count>": "1000",
}

# Commands that are not run, not even as a dry-run, each with the reason. Keep this short: a
# command that can be run or dry-run against the chart, the bed or the binary belongs in a
# handler. Entries are regular expressions matched against the command as written (after
# placeholder substitution); an entry that matches nothing fails the check.
EXEMPT = [
    # Needs a Docker daemon and a registry. Checked: docker's CLI accepts the arguments, the
    # build context has a Dockerfile, the tag is a valid image reference, and a pushed image is
    # the one the same page's `helm install` pulls (image.repository, tag = the chart's
    # appVersion unless image.tag is set). The Dockerfile's build itself is check-dockerfile.sh.
    (r"^docker (build|push) ", "needs a Docker daemon and a registry"),
    # Needs an AWS account (and for `aws eks`, a cluster). Checked: the aws CLI parses the
    # arguments and validates them against botocore's service model, then sends the request to
    # a local stub that answers with an error; the request's operation is recorded.
    (r"^aws ", "needs an AWS account"),
    # ACK's own resources (docs/migrating-from-ack.md): the bed has no ACK CRD. The same steps,
    # in the guide's order, run in tests/e2e/test_migrating_from_ack.py against a stand-in CRD.
    (r"^kubectl .*\beventsourcemappings\.lambda\.services\.k8s\.aws\b", "ACK's resources: the bed has no ACK CRD (tests/e2e/test_migrating_from_ack.py runs these steps)"),
]

SHELL_LANGS = {"sh", "bash", "shell", "zsh", "console", "shell-session", "shellsession", "terminal"}
KNOWN_COMMANDS = {"helm", "kubectl", "make", "cargo", "esm-controller", "aws", "docker", "curl", "jq",
                  "bash", "source", "export", "git", "go", "python3", "eksctl", "flux", "argocd"}
CHART_REL = "charts/esm-controller"

passed = failed = 0


def check(cond: bool, what: str, detail: str = "") -> bool:
    global passed, failed
    if cond:
        passed += 1
        print(f"ok   - {what}")
    else:
        failed += 1
        print(f"FAIL - {what}")
        for line in detail.strip().splitlines()[-20:]:
            print(f"       {line}")
    return cond


# ------------------------------------------------------------------------------ extraction
@dataclass
class Segment:
    op: str                  # the operator before it: "", "|", "&&", "||", ";"
    words: list[str]         # raw words, as written
    redirects: list[str]
    env: dict[str, str] = field(default_factory=dict)
    argv: list[str] = field(default_factory=list)  # after bash's expansion


@dataclass
class Command:
    file: str
    line: int
    text: str                # as written, continuation lines joined, placeholders replaced
    segments: list[Segment] = field(default_factory=list)
    error: str = ""

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}"

    @property
    def argv(self) -> list[str]:
        return self.segments[0].argv if self.segments else []

    def short(self, n: int = 110) -> str:
        t = " ".join(self.text.split())
        return t if len(t) <= n else t[: n - 3] + "..."


def doc_files(root: Path) -> list[Path]:
    files = [root / "README.md"] + sorted((root / "docs").rglob("*.md"))
    if (root / "examples").is_dir():
        files += sorted(p for p in (root / "examples").rglob("*.md") if p.name.lower().startswith("readme"))
    return [f for f in files if f.is_file()]


FENCE = re.compile(r"^(\s*)(`{3,}|~{3,})\s*([^\s`]*)")


def blocks(text: str):
    """(language, first content line number, content lines) of each fenced block."""
    lines = text.split("\n")
    i = 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        indent, fence, lang = len(m.group(1)), m.group(2), m.group(3).lower()
        start, body = i + 2, []
        i += 1
        while i < len(lines) and not re.match(rf"^\s*{re.escape(fence[0])}{{{len(fence)},}}\s*$", lines[i]):
            ln = lines[i]
            body.append(ln[indent:] if ln[:indent].strip() == "" else ln.lstrip())
            i += 1
        i += 1
        yield lang, start, body


def looks_like_shell(body: list[str]) -> bool:
    for ln in body:
        s = ln.strip()
        if s.startswith("$ "):
            return True
        first = s.split(" ", 1)[0] if s else ""
        if first in KNOWN_COMMANDS or first.startswith("./"):
            return True
    return False


def block_commands(lang: str, start: int, body: list[str]):
    """(line number, command text) of each command in a shell block."""
    console = lang in {"console", "shell-session", "shellsession", "terminal"} or (
        lang == "" and any(ln.startswith("$ ") for ln in body))
    i = 0
    while i < len(body):
        ln, no = body[i], start + i
        i += 1
        if console:
            if not ln.startswith("$ "):
                continue
            ln = ln[2:]
        s = ln.strip()
        if not s or s.startswith("#"):
            continue
        parts = [s]
        while parts[-1].endswith("\\") and i < len(body):
            parts[-1] = parts[-1][:-1].rstrip()
            parts.append(body[i].strip())
            i += 1
        yield no, " ".join(parts)


def split_shell(text: str) -> list[Segment]:
    """Splits a command line at unquoted |, &&, ||, ; into segments of raw words."""
    segs: list[Segment] = []
    words: list[str] = []
    redirects: list[str] = []
    cur, op, i, n = "", "", 0, len(text)
    in_word = False

    def flush():
        nonlocal cur, in_word
        if in_word:
            words.append(cur)
        cur, in_word = "", False

    def close_paren(j: int) -> int:  # index after the ) matching the ( at j
        depth = 0
        while j < n:
            if text[j] == "(":
                depth += 1
            elif text[j] == ")":
                depth -= 1
                if depth == 0:
                    return j + 1
            elif text[j] == "'":
                j = text.index("'", j + 1)
            j += 1
        raise ValueError("unbalanced $(")

    while i < n:
        c = text[i]
        if c in " \t":
            flush()
            i += 1
        elif c == "#" and not in_word:
            break
        elif c == "'":
            j = text.find("'", i + 1)
            if j < 0:
                raise ValueError("unbalanced '")
            cur += text[i : j + 1]
            in_word, i = True, j + 1
        elif c == '"':
            j = i + 1
            while j < n and text[j] != '"':
                if text[j] == "\\":
                    j += 1
                elif text.startswith("$(", j):
                    j = close_paren(j + 1) - 1
                j += 1
            if j >= n:
                raise ValueError('unbalanced "')
            cur += text[i : j + 1]
            in_word, i = True, j + 1
        elif c == "\\":
            cur += text[i : i + 2]
            in_word, i = True, i + 2
        elif text.startswith("$(", i):
            j = close_paren(i + 1)
            cur += text[i:j]
            in_word, i = True, j
        elif c in "|&;":
            flush()
            two = text[i : i + 2]
            new_op = two if two in ("&&", "||") else c
            if new_op == "&":
                raise ValueError("a background job (&)")
            segs.append(Segment(op, words, redirects))
            words, redirects, op = [], [], new_op
            i += len(new_op)
        elif c in "<>":
            if in_word and cur.isdigit():
                cur, in_word = "", False
            else:
                flush()
            j = i
            while j < n and text[j] in "<>&":
                j += 1
            while j < n and text[j] == " ":
                j += 1
            k = j
            while k < n and text[k] not in " \t|;&":
                k += 1
            redirects.append(text[i:k].strip())
            i = k
        else:
            cur += c
            in_word, i = True, i + 1
    flush()
    segs.append(Segment(op, words, redirects))
    for s in segs:
        if not s.words:
            raise ValueError("an empty command")
        while s.words and re.match(r"^[A-Za-z_][A-Za-z0-9_]*=", s.words[0]):
            k, v = s.words.pop(0).split("=", 1)
            s.env[k] = v
    return segs


def expand(words: list[str], cwd: Path) -> list[str]:
    """The argv bash makes of these words (quotes, escapes, $(...), globs)."""
    proc = subprocess.run(["bash", "-c", "printf '%s\\0' " + " ".join(words)], cwd=cwd,
                          capture_output=True, text=True)
    if proc.returncode != 0:
        raise ValueError(f"bash cannot expand the words: {proc.stderr.strip()}")
    return proc.stdout.split("\0")[:-1]


def extract(root: Path) -> list[Command]:
    cmds: list[Command] = []
    for path in doc_files(root):
        rel = str(path.relative_to(root))
        for lang, start, body in blocks(path.read_text()):
            if lang not in SHELL_LANGS and not (lang == "" and looks_like_shell(body)):
                continue
            for no, text in block_commands(lang, start, body):
                cmd = Command(rel, no, text)
                for ph, value in PLACEHOLDERS.items():
                    cmd.text = cmd.text.replace(ph, value)
                left = re.findall(r"<[a-z][^<>]*>", cmd.text)
                try:
                    if left:
                        raise ValueError(f"placeholder {', '.join(left)} has no test value: add it to PLACEHOLDERS "
                                         "in tests/packaging/doc_commands.py")
                    cmd.segments = split_shell(cmd.text)
                    for s in cmd.segments:
                        s.argv = expand(s.words, root)
                        s.env = {k: expand([v], root)[0] for k, v in s.env.items()}
                except ValueError as e:
                    cmd.error = str(e)
                cmds.append(cmd)
    return cmds


def yaml_before(root: Path, cmd: Command) -> str | None:
    """The last yaml block above the command in its file (what `-f orders.yaml` refers to)."""
    found = None
    for lang, start, body in blocks((root / cmd.file).read_text()):
        if start > cmd.line:
            break
        if lang in ("yaml", "yml"):
            found = "\n".join(body)
    return found


# ---------------------------------------------------------------------------- classification
@dataclass
class Plan:
    kind: str   # "executed", "dry-run", "syntax" (exempt: checked syntactically only)
    how: str    # one line: what the suite does with it
    phases: set[str]


def kubectl_verb(argv: list[str]) -> tuple[str, list[str]]:
    """kubectl's verb and the arguments after it (global flags before the verb skipped)."""
    i = 1
    while i < len(argv):
        a = argv[i]
        if a.startswith("-"):
            if "=" not in a and a in ("-n", "--namespace", "--context", "--kubeconfig", "--cluster", "--user", "-s", "--server"):
                i += 1
            i += 1
            continue
        return a, argv[i + 1 :]
    return "", []


KUBECTL_READ = {"get", "describe", "explain", "wait", "api-resources", "api-versions", "version", "auth",
                "events", "cluster-info", "top"}
KUBECTL_CHANGE = {"apply", "create", "delete", "annotate", "label", "patch", "replace", "scale", "set",
                  "rollout", "taint", "cordon", "drain", "uncordon", "autoscale", "expose", "run"}


def binary_path(argv0: str) -> bool:
    return argv0 == "esm-controller" or argv0.endswith("/esm-controller")


def plan_for(cmd: Command) -> Plan | None:
    argv = cmd.argv
    tool = argv[0]
    if len(cmd.segments) > 1 and not (tool == "kubectl" and kubectl_verb(argv)[0] == "logs"):
        return None  # pipelines and lists are handled only where a handler knows them
    if tool == "helm" and len(argv) > 1:
        sub = argv[1]
        if sub == "install":
            return Plan("dry-run", "helm template with its flags, the rendering and the install dry-run against the bed", {"static", "bed"})
        if sub == "upgrade":
            return Plan("dry-run", "helm template with its flags; the upgrade with --dry-run=server against the bed's release", {"static", "bed"})
        if sub == "uninstall":
            return Plan("dry-run", "helm uninstall --dry-run against the bed's release", {"bed"})
        if sub in ("template", "lint", "show"):
            return Plan("executed", "run as written", {"static"})
        if sub in ("status", "list", "ls", "get", "history"):
            return Plan("executed", "run as written against the bed", {"bed"})
        return None
    if tool == "kubectl":
        verb, rest = kubectl_verb(argv)
        if verb == "logs":
            if len(cmd.segments) > 2 or (len(cmd.segments) == 2 and (cmd.segments[1].op != "|" or cmd.segments[1].argv[0] != "jq")):
                return None
            return Plan("dry-run", "the object must exist (no kubelet in the bed); the jq filter runs on the controller's log", {"bed"})
        if verb == "rollout" and rest[:1] == ["status"]:
            return Plan("dry-run", "the object must exist (no kubelet in the bed to roll it out)", {"bed"})
        if verb in KUBECTL_READ:
            return Plan("executed", "run as written against the bed, controller running", {"bed"})
        if verb in KUBECTL_CHANGE:
            if real_kubectl_change(verb, rest, cmd):
                return Plan("executed", "run as written against the bed (the resources are removed afterwards)", {"bed"})
            return Plan("dry-run", "run with --dry-run=server against the bed", {"bed"})
        return None
    if tool == "make" and len(argv) > 1:
        return Plan("dry-run", "make -n", {"static"})
    if tool == "cargo" and len(argv) > 1:
        return Plan("dry-run", "cargo parses the arguments (--help)", {"static"})
    if binary_path(tool):
        return Plan("dry-run", "the binary parses the arguments (--help after them)", {"binary"} | ({"static"} if "/" in tool else set()))
    if tool == "curl":
        return Plan("executed", "run against the running controller's HTTP port", {"bed"})
    if tool == "docker" and len(argv) > 1 and argv[1] in ("build", "push"):
        return Plan("syntax", "docker's CLI parses the arguments; tag and build context checked", {"static"})
    if tool == "aws" and len(argv) > 2:
        return Plan("syntax", "the aws CLI parses and validates the arguments; the request goes to a local stub", {"static"})
    return None


ROOT = Path(".")


def real_kubectl_change(verb: str, rest: list[str], cmd: Command | None = None) -> bool:
    """Changes that run for real: creating a namespace; applying manifests of EventSourceMappings
    and Namespaces only (files in the repository, or the yaml block shown above the command)."""
    if verb == "create" and rest[:1] in (["namespace"], ["ns"]):
        return True
    if verb != "apply" or any(a.startswith("--dry-run") for a in rest):
        return False
    files = file_args(rest)
    try:
        docs = []
        for f in files:
            if (ROOT / f).exists():
                docs += manifests_of([f], ROOT)
            elif cmd is not None and (block := yaml_before(ROOT, cmd)) is not None:
                docs += [d for d in yaml.safe_load_all(block) if d]
            else:
                return False
    except (OSError, yaml.YAMLError):
        return False
    return bool(docs) and all(d.get("kind") in ("EventSourceMapping", "Namespace") for d in docs)


def exemption(cmd: Command) -> str | None:
    for pattern, reason in EXEMPT:
        if re.search(pattern, cmd.text):
            return reason
    return None


def classify(cmds: list[Command]):
    rows = []
    for c in cmds:
        plan = None if c.error else plan_for(c)
        rows.append((c, plan, exemption(c)))
    return rows


# --------------------------------------------------------------------------------- helpers
def run(argv: list[str], cwd: Path | None = None, env: dict | None = None, input: str | None = None, timeout: int = 180,
        unset: tuple[str, ...] = ()):
    full_env = {k: v for k, v in dict(os.environ, **(env or {})).items() if k not in unset}
    try:
        return subprocess.run(argv, cwd=cwd, env=full_env, input=input, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as e:
        return subprocess.CompletedProcess(argv, 124, e.stdout or "", f"timed out after {timeout} s")
    except FileNotFoundError as e:
        return subprocess.CompletedProcess(argv, 127, "", str(e))


def label(cmd: Command) -> str:
    return f"{cmd.where}: {cmd.short()}"


def why(proc, cmd: Command | None = None) -> str:
    out = (proc.stderr or "").strip() or (proc.stdout or "").strip()
    ran = " ".join(proc.args) if isinstance(proc.args, list) else str(proc.args)
    head = f"command: {cmd.text}\n" if cmd else ""
    return f"{head}ran: {ran}\nexit {proc.returncode}: {out}"


def helm_template_argv(helm: str, argv: list[str]) -> list[str]:
    """`helm install|upgrade ...` as `helm template ...` with the same release, chart and values."""
    out = [helm, "template"]
    drop_flag = {"--reuse-values", "--reset-values", "--reset-then-reuse-values", "--install", "-i", "--atomic",
                 "--rollback-on-failure", "--cleanup-on-fail", "--wait", "--force", "--force-replace", "--force-conflicts"}
    drop_with_value = {"--timeout", "--history-max", "--max-history"}
    rest = argv[2:]
    i = 0
    while i < len(rest):
        a = rest[i]
        name = a.split("=", 1)[0]
        if name in drop_flag:
            i += 1
            continue
        if name in drop_with_value:
            i += 1 if "=" in a else 2
            continue
        out.append(a)
        i += 1
    return out


def manifests_of(paths: list[str], cwd: Path) -> list[dict]:
    docs = []
    for p in paths:
        for f in sorted(Path(cwd, p).glob("*.yaml")) if Path(cwd, p).is_dir() else [Path(cwd, p)]:
            docs += [d for d in yaml.safe_load_all(f.read_text()) if d]
    return docs


def file_args(rest: list[str]) -> list[str]:
    out = []
    for i, a in enumerate(rest):
        if a in ("-f", "--filename") and i + 1 < len(rest):
            out.append(rest[i + 1])
        elif a.startswith("--filename=") or a.startswith("-f="):
            out.append(a.split("=", 1)[1])
    return out


# ----------------------------------------------------------------------------------- phases
def phase_list(root: Path) -> None:
    for c, plan, ex in classify(extract(root)):
        kind = plan.kind if plan else ("exempt" if ex else "NOT CHECKED")
        print(f"{c.where:28} {kind:11} {c.short(90)}")
        print(f"{'':28} {'':11} -> {c.error or (plan.how if plan else ex or 'no handler')}")


# The extractor on its own, on the shapes the docs use (and a few they may use later).
SELFTEST_DOC = """
Text with `kubectl inline` code, which is prose.

```sh
# a comment
helm install r charts/esm-controller \\
  --set a."b\\.c/d"=e   # trailing comment
A=1 B='x y' ./target/release/esm-controller run --flag "$(echo v)"
```

   ```console
   $ kubectl get esm -o jsonpath='{.items[*].a|b}' | jq -c 'select(.x == "y")'
   NAME   READY
   $ make -n demo && echo ok
   ```

```yaml
kind: NotACommand
```

```
kubectl get ns > out.txt 2>&1
```
"""
SELFTEST_WANT = [
    (6, [(["helm", "install", "r", "charts/esm-controller", "--set", "a.b\\.c/d=e"], {})]),
    (8, [(["./target/release/esm-controller", "run", "--flag", "v"], {"A": "1", "B": "x y"})]),
    (12, [(["kubectl", "get", "esm", "-o", "jsonpath={.items[*].a|b}"], {}), (["jq", "-c", 'select(.x == "y")'], {})]),
    (14, [(["make", "-n", "demo"], {}), (["echo", "ok"], {})]),
    (22, [(["kubectl", "get", "ns"], {})]),
]


def selftest() -> None:
    with tempfile.TemporaryDirectory() as d:
        (Path(d) / "README.md").write_text(SELFTEST_DOC)
        got = [(c.line, [(seg.argv, seg.env) for seg in c.segments]) for c in extract(Path(d))]
    check(got == SELFTEST_WANT, "the extractor reads fenced shell blocks as bash would (self-test)",
          f"got {got}\nwant {SELFTEST_WANT}")


def phase_static(root: Path, helm: str) -> None:
    selftest()
    cmds = extract(root)
    rows = classify(cmds)
    # Coverage: every command has a handler or an exemption; every exemption is used.
    for c, plan, ex in rows:
        if c.error:
            check(False, f"{label(c)}: can be read as a shell command", c.error)
        elif plan is None and ex is None:
            check(False, f"{label(c)}: is checked by the suite",
                  f"no handler in tests/packaging/doc_commands.py knows `{c.argv[0]}` in this form, and EXEMPT does not "
                  "list it: add a check that runs or dry-runs it (preferred) or an exemption with its reason")
        elif plan is not None and plan.kind == "syntax" and ex is None:
            check(False, f"{label(c)}: is checked by the suite",
                  "this command is only checked syntactically, so it must be listed in EXEMPT with the reason it cannot run")
    for pattern, reason in EXEMPT:
        check(any(re.search(pattern, c.text) for c in cmds), f"exemption {pattern!r} ({reason}) matches a command in the docs",
              "remove it from EXEMPT")
    counts: dict[str, int] = {}
    for c, plan, ex in rows:
        k = "exempt" if ex else (plan.kind if plan else "unchecked")
        k = "exempt" if k == "syntax" else k
        counts[k] = counts.get(k, 0) + 1
    print(f"     {len(cmds)} commands in {len(doc_files(root))} files: "
          + ", ".join(f"{v} {k}" for k, v in sorted(counts.items())))

    for c, plan, ex in rows:
        if not plan or "static" not in plan.phases:
            continue
        tool = c.argv[0]
        if tool == "helm":
            static_helm(root, helm, c)
        elif tool == "make":
            proc = run(["make", "-n", *c.argv[1:]], cwd=root, env=c.segments[0].env)
            check(proc.returncode == 0, f"{label(c)}: make -n", why(proc, c))
        elif tool == "cargo":
            proc = run([*c.argv, "--help"], cwd=root, env=c.segments[0].env)
            check(proc.returncode == 0, f"{label(c)}: cargo accepts the arguments", why(proc, c))
        elif binary_path(tool):
            static_binary_path(root, c)
        elif tool == "docker":
            static_docker(root, c, cmds)
        elif tool == "aws":
            static_aws(c)


def static_helm(root: Path, helm: str, c: Command) -> None:
    sub = c.argv[1]
    argv = [helm, *c.argv[1:]] if sub in ("template", "lint", "show") else helm_template_argv(helm, c.argv)
    proc = run(argv, cwd=root)
    what = "runs" if sub in ("template", "lint", "show") else "renders with its flags (helm template, values.schema.json)"
    check(proc.returncode == 0, f"{label(c)}: {what}", why(proc, c))


def static_binary_path(root: Path, c: Command) -> None:
    """`./target/release/esm-controller` is where `cargo build --release` puts the binary."""
    tool = c.argv[0]
    proc = run(["cargo", "metadata", "--no-deps", "--format-version", "1", "--offline"], cwd=root,
               unset=("CARGO_TARGET_DIR",))  # where a user's `cargo build` puts it, not this run's
    if not check(proc.returncode == 0, f"{label(c)}: cargo metadata", why(proc, c)):
        return
    meta = json.loads(proc.stdout)
    bins = {t["name"] for p in meta["packages"] if p["id"] in meta.get("workspace_default_members", [p["id"]])
            for t in p["targets"] if "bin" in t["kind"]}
    profile = "release" if "/release/" in tool else "debug"
    want = Path(meta["target_directory"]) / profile / "esm-controller"
    check("esm-controller" in bins and (root / tool).resolve() == want.resolve(),
          f"{label(c)}: `cargo build{' --release' if profile == 'release' else ''}` in the repository puts the binary at {tool}",
          f"cargo's target directory is {meta['target_directory']}, default binaries {sorted(bins)}")


def static_docker(root: Path, c: Command, cmds: list[Command]) -> None:
    argv = c.argv
    if shutil.which("docker"):
        proc = run([*argv, "--help"], cwd=root)
        check(proc.returncode == 0, f"{label(c)}: docker's CLI accepts the arguments", why(proc, c))
    else:
        print(f"     ({c.where}: no docker CLI here: its arguments are not parsed)")
    positional = [a for i, a in enumerate(argv[2:]) if not a.startswith("-") and not (i > 0 and argv[2:][i - 1] in ("-t", "--tag", "-f", "--file", "--build-arg", "--target", "--platform"))]
    tags = [argv[i + 1] for i in range(len(argv) - 1) if argv[i] in ("-t", "--tag")] + [a.split("=", 1)[1] for a in argv if a.startswith("--tag=")]
    ref_re = re.compile(r"^[a-z0-9]+([._-][a-z0-9]+)*(:[0-9]+)?(/[a-z0-9]+([._-][a-z0-9]+)*)*(:[\w][\w.-]{0,127})?$")
    if argv[1] == "build":
        ctx = root / positional[-1] if positional else None
        check(ctx is not None and (ctx / "Dockerfile").is_file(), f"{label(c)}: the build context has a Dockerfile",
              f"context {positional[-1:] or 'missing'}")
    else:
        tags = positional[:1]
    for t in tags:
        check(bool(ref_re.match(t)), f"{label(c)}: {t} is a valid image reference")
    if argv[1] != "push" or not tags:
        return
    # The image pushed here is the one a `helm install` on the same page pulls.
    repo, _, tag = tags[0].rpartition(":")
    chart = yaml.safe_load((root / CHART_REL / "Chart.yaml").read_text())
    defaults = yaml.safe_load((root / CHART_REL / "values.yaml").read_text())["image"]
    pulls = {}
    for h in cmds:
        if h.file != c.file or not h.segments or h.argv[:2] != ["helm", "install"]:
            continue
        sets = dict(a.split("=", 1) for i, a in enumerate(h.argv) if i > 0 and h.argv[i - 1] == "--set" and "=" in a)
        pulls[h.where] = (sets.get("image.repository", defaults["repository"]),
                          sets.get("image.tag", defaults.get("tag") or str(chart["appVersion"])))
    check(not pulls or (repo, tag) in pulls.values(),
          f"{label(c)}: the image pushed is the one the helm install on this page pulls",
          f"pushed {repo}:{tag}; " + "; ".join(f"{w} pulls {r}:{t}" for w, (r, t) in pulls.items())
          + " (image.tag defaults to the chart's appVersion)")


class _AwsStub(http.server.BaseHTTPRequestHandler):
    seen: list[str] = []

    def _answer(self):
        n = int(self.headers.get("content-length") or 0)
        self.rfile.read(n)
        _AwsStub.seen.append(f"{self.command} {self.path} {self.headers.get('x-amz-target', '')}".strip())
        body = b'{"__type":"DocsDryRun","message":"docs dry run"}'
        self.send_response(400)
        self.send_header("x-amzn-ErrorType", "DocsDryRun")
        self.send_header("content-type", "application/x-amz-json-1.1")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = _answer

    def log_message(self, *args):
        pass


def static_aws(c: Command) -> None:
    if not shutil.which("aws"):
        check(False, f"{label(c)}: the aws CLI parses the arguments", "no aws CLI on PATH (pip install awscli)")
        return
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _AwsStub)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        _AwsStub.seen = []
        env = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "eu-west-1",
               "AWS_CONFIG_FILE": "/dev/null", "AWS_SHARED_CREDENTIALS_FILE": "/dev/null", "AWS_MAX_ATTEMPTS": "1",
               "AWS_PAGER": "", **c.segments[0].env}
        env.pop("AWS_PROFILE", None)
        proc = run([*c.argv, "--endpoint-url", f"http://127.0.0.1:{server.server_port}"], env=env, timeout=60)
        sent = "DocsDryRun" in proc.stderr and _AwsStub.seen
        check(bool(sent), f"{label(c)}: the aws CLI accepts the arguments (botocore's model) and sends the request",
              why(proc, c))
        if sent:
            print(f"     (sent: {_AwsStub.seen[0]})")
    finally:
        server.shutdown()


def phase_binary(root: Path, binary: str) -> None:
    for c, plan, ex in classify(extract(root)):
        if not plan or "binary" not in plan.phases:
            continue
        proc = run([binary, *c.argv[1:], "--help"], cwd=root, env=c.segments[0].env)
        check(proc.returncode == 0, f"{label(c)}: esm-controller accepts the arguments", why(proc, c))
    # The flags table in the README names flags `esm-controller run` has.
    readme = (root / "README.md").read_text()
    helptext = run([binary, "run", "--help"]).stdout
    have = set(re.findall(r"--[a-z][a-z0-9-]+", helptext))
    table = re.findall(r"^\| `(--[a-z][a-z0-9-]+)` \|", readme, re.M)
    missing = [f for f in table if f not in have]
    check(bool(table) and not missing, f"README.md: the {len(table)} flags in the flags table are flags of `esm-controller run`",
          f"not in `esm-controller run --help`: {' '.join(missing)}" if table else "no flags table found")


def phase_bed(root: Path, helm: str, work: Path, ctrl_log: Path, ctrl_port: str) -> None:
    rows = [(c, p) for c, p, ex in classify(extract(root)) if p and "bed" in p.phases and not ex]
    scratch = Path(tempfile.mkdtemp(prefix="doc-commands.", dir=work))
    created: list[tuple[Command, Path]] = []
    # What the docs assume exists: the Lambda functions the applied mappings name.
    for c, _ in rows:
        verb, rest = kubectl_verb(c.argv) if c.argv[0] == "kubectl" else ("", [])
        if verb == "apply" and real_kubectl_change(verb, rest, c):
            try:
                docs = manifests_of([resolve_file(root, c, f, scratch) for f in file_args(rest)], root)
            except Exception:  # noqa: BLE001  the command itself reports it
                docs = []
            for d in docs:
                fn = (d.get("spec") or {}).get("functionName")
                if d.get("kind") == "EventSourceMapping" and fn:
                    req = urllib.request.Request(f"{os.environ['LAMBDA_ADMIN_URL']}/functions", method="POST",
                                                 data=json.dumps({"name": fn}).encode(), headers={"content-type": "application/json"})
                    try:
                        urllib.request.urlopen(req, timeout=10).read()
                    except Exception as e:  # noqa: BLE001
                        print(f"     (seeding function {fn} in the emulator: {e})")
    for c, plan in rows:
        tool = c.argv[0]
        if tool == "helm":
            bed_helm(root, helm, c)
        elif tool == "kubectl":
            bed_kubectl(root, c, scratch, ctrl_log, created)
        elif tool == "curl":
            argv = [re.sub(r"^(https?://)(localhost|127\.0\.0\.1)(:\d+)?", rf"\g<1>127.0.0.1:{ctrl_port}", a) for a in c.argv]
            proc = run(argv, cwd=root)
            check(proc.returncode == 0, f"{label(c)}: runs against the controller's HTTP port", why(proc, c))
    # Clean up what ran for real, through the controller (its finalizer deletes the mappings).
    for c, path in reversed(created):
        proc = run(["kubectl", "delete", "-f", str(path), "--ignore-not-found", "--timeout=120s"], cwd=root, timeout=150)
        if proc.returncode != 0:
            print(f"     (cleaning up after {c.where}: {why(proc, c)})")


def resolve_file(root: Path, c: Command, f: str, scratch: Path) -> str:
    """A -f argument: a path in the repository, or else the yaml block above the command."""
    if (root / f).exists() or f == "-" or "://" in f:
        return f
    block = yaml_before(root, c)
    if block is None:
        raise ValueError(f"{f} is neither a file in the repository nor shown in a yaml block above {c.where}")
    p = scratch / f"{c.file.replace('/', '_')}-{c.line}-{Path(f).name}"
    p.write_text(block + "\n")
    return str(p)


def bed_helm(root: Path, helm: str, c: Command) -> None:
    sub = c.argv[1]
    argv = [helm, *c.argv[1:]]
    if sub == "install":
        proc = run([*argv, "--dry-run=server"], cwd=root)
        check(proc.returncode == 0, f"{label(c)}: helm install --dry-run=server against the bed", why(proc, c))
        tmpl = run(helm_template_argv(helm, c.argv), cwd=root)
        if tmpl.returncode != 0:
            return  # reported by the static phase
        docs = [d for d in yaml.safe_load_all(tmpl.stdout) if d and d.get("kind") != "ServiceMonitor"]
        ns = next((argv[i + 1] for i, a in enumerate(argv[:-1]) if a in ("-n", "--namespace")), None)
        if ns:
            run(["kubectl", "create", "namespace", ns])  # what --create-namespace would do
        proc = run(["kubectl", "apply", "--dry-run=server", "-f", "-"], cwd=root, input=yaml.safe_dump_all(docs))
        check(proc.returncode == 0, f"{label(c)}: what it installs is accepted by the API server (server-side dry-run)", why(proc, c))
    elif sub == "upgrade":
        proc = run([*argv, "--dry-run=server"], cwd=root)
        check(proc.returncode == 0, f"{label(c)}: helm upgrade --dry-run=server against the bed's release", why(proc, c))
    elif sub == "uninstall":
        proc = run([*argv, "--dry-run"], cwd=root)
        check(proc.returncode == 0, f"{label(c)}: helm uninstall --dry-run against the bed's release", why(proc, c))
    else:
        proc = run(argv, cwd=root)
        check(proc.returncode == 0, f"{label(c)}: runs against the bed", why(proc, c))


def bed_kubectl(root: Path, c: Command, scratch: Path, ctrl_log: Path, created: list) -> None:
    argv = list(c.argv)
    verb, rest = kubectl_verb(argv)
    # -f arguments that name a manifest shown in the doc rather than a file in the repository.
    try:
        for i, a in enumerate(argv):
            if i > 0 and argv[i - 1] in ("-f", "--filename"):
                argv[i] = resolve_file(root, c, a, scratch)
    except ValueError as e:
        check(False, f"{label(c)}: its files exist", str(e))
        return
    if verb in ("logs",) or (verb == "rollout" and rest[:1] == ["status"]):
        # No kubelet: check the object the command names, with the command's own namespace flags.
        target = [a for a in (rest[1:] if verb == "rollout" else rest) if not a.startswith("-")][:1]
        flags = []
        for i, a in enumerate(argv):
            if a in ("-n", "--namespace") and i + 1 < len(argv):
                flags += [a, argv[i + 1]]
            elif a.startswith("--namespace=") or (a.startswith("-n") and len(a) > 2):
                flags.append(a)
        obj = target[0] if target else ""
        proc = run(["kubectl", *flags, "get", obj], cwd=root)
        check(proc.returncode == 0, f"{label(c)}: the object it reads ({obj}) exists (no kubelet in the bed to run it)", why(proc, c))
        if verb == "logs" and len(c.segments) == 2:
            consumer = c.segments[1].argv
            proc = run(consumer, cwd=root, input=ctrl_log.read_text())
            check(proc.returncode == 0 and proc.stdout.strip() != "",
                  f"{label(c)}: `{' '.join(consumer)}` selects lines from the controller's log",
                  why(proc, c) if proc.returncode else "it selected nothing")
        return
    real = verb in KUBECTL_READ or real_kubectl_change(verb, rest, c)
    run_argv = argv if real else [*argv, "--dry-run=server"]
    proc = run(run_argv, cwd=root, timeout=150)
    how = "runs against the bed" if real else "runs with --dry-run=server against the bed"
    check(proc.returncode == 0, f"{label(c)}: {how}", why(proc, c))
    if real and verb == "apply" and proc.returncode == 0:
        for f in file_args(argv[argv.index(verb) + 1 :]):
            created.append((c, Path(root, f)))


def main() -> None:
    global ROOT
    mode, root = sys.argv[1], Path(sys.argv[2]).resolve()
    ROOT = root
    start = time.monotonic()
    if mode == "list":
        phase_list(root)
        return
    if mode == "static":
        phase_static(root, sys.argv[3])
    elif mode == "binary":
        phase_binary(root, sys.argv[3])
    elif mode == "bed":
        phase_bed(root, sys.argv[3], Path(sys.argv[4]), Path(sys.argv[5]), sys.argv[6])
    else:
        sys.exit(f"unknown mode {mode}")
    print(f"     (doc_commands {mode} took {time.monotonic() - start:.1f} s)")
    print(f"doc_commands {mode}: {passed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
