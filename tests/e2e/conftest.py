"""Fixtures for the end-to-end suite: the real controller binary against the test bed
(kube-apiserver with RBAC, the Lambda emulator, moto).

Run through tests/e2e/run.sh, which starts the bed, installs deploy/rbac.yaml and mints the
controller's ServiceAccount kubeconfig. Running `python3 -m pytest tests/e2e` by hand also works
against a bed that is already up (`bash testbed/bed.sh up`): the session then installs the RBAC
and mints the token itself.

Environment (set by run.sh):
  E2E_ENV_FILE          the bed's env file (default: <repo>/.testbed/env)
  E2E_SA_KUBECONFIG     kubeconfig of the esm-controller ServiceAccount (never the admin's)
  E2E_CONTROLLER_BIN    the esm-controller binary
  E2E_WORK_DIR          where controller logs and PID files go
"""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid as uuidlib
from pathlib import Path
from typing import Any, Callable, Iterable

import pytest

ROOT = Path(__file__).resolve().parents[2]
GROUP = "lambda.esm-controller.dev"
API_VERSION = f"{GROUP}/v1alpha1"
ACCOUNT = "123456789012"
REGION = "us-east-1"
RUN_ID = uuidlib.uuid4().hex[:6]

# Emulator defaults restored after every test (the bed starts the emulator with these).
DEFAULT_TRANSITION_MS = 1000
DEFAULT_DELETING_MS = 1000
DEFAULT_RATE_LIMIT = 15  # Lambda's control-plane quota, the emulator's default

# Everything the failure report should show (namespaces and controllers in use right now).
_ACTIVE_NAMESPACES: list[str] = []
_ACTIVE_CONTROLLERS: list["Controller"] = []


# --------------------------------------------------------------------------------- bed env


def _read_env_file(path: Path) -> dict[str, str]:
    env: dict[str, str] = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("export "):
            line = line[len("export ") :]
        key, _, value = line.partition("=")
        parts = shlex.split(value) if value else [""]
        env[key] = parts[0] if parts else ""
    return env


class Bed:
    def __init__(self, env: dict[str, str], work: Path):
        self.env = env
        self.work = work
        self.kubeconfig = env["KUBECONFIG"]
        self.lambda_endpoint = env.get("LAMBDA_ENDPOINT", "")
        self.admin_url = env.get("LAMBDA_ADMIN_URL", "")
        self.moto_endpoint = env.get("MOTO_ENDPOINT", "")
        self.region = env.get("AWS_REGION", REGION)
        self.sa_kubeconfig = os.environ.get("E2E_SA_KUBECONFIG", "")
        self.controller_bin = os.environ.get("E2E_CONTROLLER_BIN", "")


@pytest.fixture(scope="session")
def bed() -> Bed:
    env_file = Path(os.environ.get("E2E_ENV_FILE", ROOT / ".testbed" / "env"))
    if not env_file.is_file():
        pytest.exit(f"{env_file} not found: start the bed (bash tests/e2e/run.sh does it)", 2)
    work = Path(os.environ.get("E2E_WORK_DIR", ROOT / ".testbed" / "e2e"))
    work.mkdir(parents=True, exist_ok=True)
    b = Bed(_read_env_file(env_file), work)
    if not b.lambda_endpoint:
        pytest.exit("the bed runs without the Lambda emulator (LAMBDA_ENDPOINT missing)", 2)
    global _BED
    _BED = b
    if not b.controller_bin:
        cache = os.environ.get(
            "ESM_CACHE_DIR",
            os.path.join(os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")), "esm-controller"),
        )
        target = os.environ.get("CARGO_TARGET_DIR", os.path.join(cache, "target"))
        b.controller_bin = os.path.join(target, "debug", "esm-controller")
    if not os.access(b.controller_bin, os.X_OK):
        pytest.exit(f"controller binary {b.controller_bin} missing (cargo build --bin esm-controller)", 2)
    if not b.sa_kubeconfig:
        b.sa_kubeconfig = str(_mint_sa_kubeconfig(b))
    return b


_BED: Bed | None = None


def _mint_sa_kubeconfig(b: Bed) -> Path:
    """Installs deploy/rbac.yaml and writes a kubeconfig with the ServiceAccount's token."""
    run_kubectl(b, "apply", "-f", str(ROOT / "deploy" / "rbac.yaml"))
    token = run_kubectl(b, "-n", "esm-system", "create", "token", "esm-controller", "--duration=2h").stdout.strip()
    return write_token_kubeconfig(b, token, b.work / "sa.kubeconfig")


def write_token_kubeconfig(b: Bed, token: str, path: Path) -> Path:
    server = b.env["KUBE_APISERVER_URL"]
    ca = b.env["TESTBED_CA_FILE"]
    path.write_text(
        json.dumps(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "bed", "cluster": {"server": server, "certificate-authority": ca}}],
                "users": [{"name": "sa", "user": {"token": token}}],
                "contexts": [{"name": "sa", "context": {"cluster": "bed", "user": "sa"}}],
                "current-context": "sa",
            }
        )
    )
    path.chmod(0o600)
    return path


# --------------------------------------------------------------------------------- kubectl


class KubectlError(RuntimeError):
    pass


def run_kubectl(
    b: Bed, *args: str, input: str | None = None, check: bool = True, timeout: float = 90, kubeconfig: str | None = None
) -> subprocess.CompletedProcess:
    cmd = ["kubectl", "--kubeconfig", kubeconfig or b.kubeconfig, *args]
    p = subprocess.run(cmd, input=input, capture_output=True, text=True, timeout=timeout)
    if check and p.returncode != 0:
        raise KubectlError(
            f"kubectl {' '.join(args)} failed (rc={p.returncode})\nstdout: {p.stdout}\nstderr: {p.stderr}"
        )
    return p


class Kubectl:
    """`kubectl(...)` with the admin kubeconfig; returns the CompletedProcess."""

    def __init__(self, b: Bed):
        self.b = b

    def __call__(self, *args: str, input: str | None = None, check: bool = True, timeout: float = 90):
        return run_kubectl(self.b, *args, input=input, check=check, timeout=timeout)

    def json(self, *args: str) -> Any:
        return json.loads(self(*args, "-o", "json").stdout)

    def apply(self, obj: dict, check: bool = True) -> subprocess.CompletedProcess:
        return self("apply", "-f", "-", input=json.dumps(obj), check=check)


@pytest.fixture(scope="session")
def kubectl(bed: Bed) -> Kubectl:
    return Kubectl(bed)


# --------------------------------------------------------------------------------- emulator


class Emulator:
    """The emulator's admin API (/_emulator) and its Lambda view."""

    def __init__(self, admin_url: str, lambda_endpoint: str = ""):
        self.url = admin_url.rstrip("/")
        self.lambda_endpoint = (lambda_endpoint or self.url.rsplit("/_emulator", 1)[0]).rstrip("/")

    def _call(self, method: str, path: str, body: Any = None, base: str | None = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request((base or self.url) + path, data=data, method=method)
        if data is not None:
            req.add_header("content-type", "application/json")
        try:
            with urllib.request.urlopen(req, timeout=10) as resp:
                raw = resp.read()
        except urllib.error.HTTPError as e:
            raise AssertionError(f"emulator {method} {path} -> {e.code}: {e.read()!r}") from None
        return json.loads(raw) if raw else None

    def seed_function(self, name: str) -> None:
        self._call("POST", "/functions", {"name": name})

    def seed_event_source(self, arn: str) -> None:
        self._call("POST", "/event-sources", {"arn": arn})

    def fault(self, **fault: Any) -> None:
        self._call("POST", "/faults", fault)

    def clear_faults(self) -> None:
        self._call("DELETE", "/faults")

    def lose_create_responses(self, count: int = 1) -> None:
        self._call("POST", "/lose-create-responses", {"count": count})

    def oob_update(self, uuid: str, patch: dict) -> None:
        self._call("POST", f"/mappings/{uuid}/oob-update", patch)

    def oob_delete(self, uuid: str) -> None:
        self._call("DELETE", f"/mappings/{uuid}")

    def lambda_disable(self, uuid: str, reason: str) -> None:
        self._call("POST", f"/mappings/{uuid}/lambda-disable", {"reason": reason})

    def mappings(self) -> list[dict]:
        return self._call("GET", "/mappings")

    def mappings_for(self, source_arn: str) -> list[dict]:
        return [m for m in self.mappings() if m.get("EventSourceArn") == source_arn]

    def mapping(self, uuid: str) -> dict | None:
        return next((m for m in self.mappings() if m.get("UUID") == uuid), None)

    def calls(self) -> dict[str, int]:
        return self._call("GET", "/calls") or {}

    def requests(self) -> list[dict]:
        """Every Lambda request in arrival order: seq, method, path, caller (the SigV4 access
        key id), status."""
        return self._call("GET", "/requests") or []

    def delays(self, transition_ms: int | None = None, deleting_ms: int | None = None) -> None:
        body = {}
        if transition_ms is not None:
            body["transitionMs"] = transition_ms
        if deleting_ms is not None:
            body["deletingMs"] = deleting_ms
        self._call("POST", "/delays", body)

    def rate_limit(self, per_second: int | None) -> None:
        self._call("POST", "/rate-limit", {"perSecond": per_second})

    # The Lambda API itself (as another tool or a person would use it; the emulator does not
    # check signatures). These calls are counted like the controller's.
    def lambda_create(self, body: dict) -> dict:
        return self._call("POST", "/2015-03-31/event-source-mappings", body, base=self.lambda_endpoint)

    def lambda_tags(self, arn: str) -> dict[str, str]:
        path = "/2017-03-31/tags/" + urllib.parse.quote(arn, safe="")
        return (self._call("GET", path, base=self.lambda_endpoint) or {}).get("Tags", {})


@pytest.fixture(scope="session")
def emulator(bed: Bed) -> Emulator:
    return Emulator(bed.admin_url, bed.lambda_endpoint)


@pytest.fixture(autouse=True)
def _emulator_defaults(request):
    """Delays and faults are global in the emulator: put them back after every test."""
    yield
    if _BED is not None and _BED.admin_url:
        emu = Emulator(_BED.admin_url)
        try:
            emu.clear_faults()
            emu.delays(DEFAULT_TRANSITION_MS, DEFAULT_DELETING_MS)
            emu.rate_limit(DEFAULT_RATE_LIMIT)
        except Exception as e:  # the bed may be gone; the test already reports that
            print(f"could not restore emulator defaults: {e}", file=sys.stderr)


# --------------------------------------------------------------------------------- controller


def _starttime(pid: int) -> str:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return ""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_get(url: str, timeout: float = 5) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return resp.status, resp.read().decode(errors="replace")
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode(errors="replace")


class Controller:
    """One esm-controller process (the real binary, with the ServiceAccount's kubeconfig)."""

    _seq = 0

    def __init__(self, b: Bed, name: str, endpoint: str, namespaces: Iterable[str], extra_args: Iterable[str] = (),
                 kubeconfig: str | None = None, env: dict[str, str] | None = None):
        Controller._seq += 1
        self.b = b
        self.name = f"{Controller._seq:02d}-{name}"
        self.endpoint = endpoint
        self.namespaces = list(namespaces)
        self.extra_args = list(extra_args)
        self.kubeconfig = kubeconfig or b.sa_kubeconfig
        self.extra_env = env or {}
        self.http_port = free_port()
        self.http_url = f"http://127.0.0.1:{self.http_port}"
        self.log_path = b.work / f"controller-{self.name}.log"
        self.pid_path = b.work / "pids" / f"controller-{self.name}.pid"
        self.proc: subprocess.Popen | None = None
        self._log = None

    def command(self) -> list[str]:
        cmd = [
            self.b.controller_bin, "run",
            "--resync-period", "3s",
            "--stalled-recheck", "10s",
            # List mode (the default) notices out-of-band drift at the next sweep: keep it short.
            "--sweep-interval", "3s",
            "--cluster-name", "e2e",
            "--region", REGION,
            "--log-format", "json",
            "--log-level", "info",
            # Loopback only, and a port of its own (the default 0.0.0.0:8080 would collide).
            "--http-addr", f"127.0.0.1:{self.http_port}",
        ]
        if self.namespaces:
            cmd += ["--namespaces", ",".join(self.namespaces)]
        return cmd + self.extra_args

    def environment(self) -> dict[str, str]:
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(self.b.work),  # no ~/.aws or ~/.kube of the developer
            "KUBECONFIG": self.kubeconfig,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_REGION": REGION,
            "AWS_EC2_METADATA_DISABLED": "true",
            "AWS_ENDPOINT_URL_LAMBDA": self.endpoint,
            "RUST_BACKTRACE": "1",
        }
        env.update(self.extra_env)
        return {k: v for k, v in env.items() if v is not None}

    def start(self, wait_started: bool = True) -> "Controller":
        assert self.proc is None, "already started"
        self.pid_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = open(self.log_path, "ab")
        self._log.write(f"# {' '.join(shlex.quote(c) for c in self.command())}\n".encode())
        self._log.flush()
        self.proc = subprocess.Popen(
            self.command(), env=self.environment(), stdin=subprocess.DEVNULL,
            stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        # run.sh's EXIT trap stops whatever is still listed here (PID + start time).
        self.pid_path.write_text(f"{self.proc.pid}\n{_starttime(self.proc.pid)}\n")
        _ACTIVE_CONTROLLERS.append(self)
        if wait_started:
            wait_for(lambda: "starting esm-controller" in self.log() or self.proc.poll() is not None,
                     30, f"controller {self.name} to start")
            if self.proc.poll() is not None:
                raise AssertionError(f"controller {self.name} exited with {self.proc.returncode}:\n{self.log_tail()}")
        return self

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def log_tail(self, n: int = 60) -> str:
        return "\n".join(self.log().splitlines()[-n:])

    def log_records(self) -> list[dict]:
        out = []
        for line in self.log().splitlines():
            if line.startswith("{"):
                try:
                    out.append(json.loads(line))
                except ValueError:
                    pass
        return out

    def kill(self) -> None:
        """SIGKILL: no graceful shutdown, like a crashed or OOM-killed pod."""
        if self.alive():
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)
        self._forget()

    def stop(self, timeout: float = 20) -> int | None:
        if self.proc is None:
            return None
        if self.alive():
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
        self._forget()
        return self.proc.returncode

    def _forget(self) -> None:
        if self in _ACTIVE_CONTROLLERS:
            _ACTIVE_CONTROLLERS.remove(self)
        self.pid_path.unlink(missing_ok=True)
        if self._log:
            self._log.close()
            self._log = None

    def rbac_denials(self) -> list[str]:
        """Log lines showing the API server refused the controller something (missing RBAC)."""
        return [l for l in self.log().splitlines() if re.search(r"[Ff]orbidden|code: 403\b", l)]


@pytest.fixture(scope="session")
def controller_factory(bed: Bed):
    """`controller_factory(name, endpoint, namespaces)` → a started Controller; all are stopped
    at the end of the session at the latest. A controller that logged RBAC denials fails."""
    started: list[Controller] = []

    def make(name: str, endpoint: str, namespaces: Iterable[str], start: bool = True, **kw) -> Controller:
        c = Controller(bed, name, endpoint, namespaces, **kw)
        started.append(c)
        return c.start() if start else c

    yield make
    for c in started:
        c.stop()


def stop_and_check(c: Controller) -> None:
    """Stops a controller gracefully and checks it exited cleanly and was never refused by RBAC."""
    rc = c.stop()
    denials = c.rbac_denials()
    assert not denials, "the controller was refused by the API server (missing RBAC in deploy/rbac.yaml?):\n" + "\n".join(denials[:20])
    assert rc == 0, f"controller {c.name} exited with {rc} on SIGTERM:\n{c.log_tail()}"


# --------------------------------------------------------------------------------- namespaces, names


def unique(prefix: str) -> str:
    return f"{prefix}-{RUN_ID}-{uuidlib.uuid4().hex[:5]}"


def make_namespace(kubectl: Kubectl, prefix: str) -> str:
    # Namespaces are never deleted (no controller-manager runs on the bed): unique names.
    ns = unique(f"e2e-{prefix}")[:63]
    kubectl("create", "namespace", ns)
    _ACTIVE_NAMESPACES.append(ns)
    return ns


def sqs_arn(name: str) -> str:
    return f"arn:aws:sqs:{REGION}:{ACCOUNT}:{name}"


def kinesis_arn(name: str) -> str:
    return f"arn:aws:kinesis:{REGION}:{ACCOUNT}:stream/{name}"


def dynamodb_arn(table: str) -> str:
    return f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{table}/stream/2026-01-01T00:00:00.000"


def function_arn(name: str) -> str:
    return f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}"


def esm_manifest(ns: str, name: str, spec: dict, annotations: dict | None = None) -> dict:
    meta: dict = {"name": name, "namespace": ns}
    if annotations:
        meta["annotations"] = annotations
    return {"apiVersion": API_VERSION, "kind": "EventSourceMapping", "metadata": meta, "spec": spec}


# --------------------------------------------------------------------------------- waiting, reading


def wait_for(predicate: Callable[[], Any], timeout: float = 60, what: str = "condition",
             interval: float = 0.25, describe: Callable[[], str] | None = None) -> Any:
    """Polls `predicate` until it returns a truthy value (returned). Exceptions inside count as
    "not yet" but the last one is shown on timeout."""
    deadline = time.monotonic() + timeout
    last_exc: BaseException | None = None
    while True:
        try:
            value = predicate()
            if value:
                return value
        except AssertionError:
            raise
        except Exception as e:  # noqa: BLE001 — transient kubectl/urllib errors
            last_exc = e
        if time.monotonic() >= deadline:
            msg = f"timed out after {timeout:.0f}s waiting for {what}"
            if last_exc:
                msg += f" (last error: {last_exc!r})"
            if describe:
                msg += "\n" + describe()
            raise AssertionError(msg)
        time.sleep(interval)


def get_esm(kubectl: Kubectl, ns: str, name: str) -> dict | None:
    p = kubectl("get", "eventsourcemapping", name, "-n", ns, "-o", "json", check=False)
    if p.returncode != 0:
        if "NotFound" in p.stderr or "not found" in p.stderr:
            return None
        raise RuntimeError(f"kubectl get esm {ns}/{name}: {p.stderr}")
    return json.loads(p.stdout)


def condition(obj: dict | None, type_: str) -> dict | None:
    if not obj:
        return None
    for c in (obj.get("status") or {}).get("conditions") or []:
        if c.get("type") == type_:
            return c
    return None


def cond_status(obj: dict | None, type_: str) -> str | None:
    c = condition(obj, type_)
    return c.get("status") if c else None


def status(obj: dict | None) -> dict:
    return (obj or {}).get("status") or {}


def is_ready(obj: dict | None) -> bool:
    """Ready=True for the current generation."""
    c = condition(obj, "Ready")
    return bool(
        c and c.get("status") == "True"
        and status(obj).get("observedGeneration") == obj["metadata"].get("generation")
    )


def events_for(kubectl: Kubectl, ns: str, name: str) -> list[dict]:
    """events.k8s.io/v1 Events about one EventSourceMapping."""
    items = kubectl.json("get", "events.events.k8s.io", "-n", ns)["items"]
    return [e for e in items if (e.get("regarding") or {}).get("name") == name
            and (e.get("regarding") or {}).get("kind") == "EventSourceMapping"]


def event_reasons(kubectl: Kubectl, ns: str, name: str) -> list[str]:
    return [e.get("reason") for e in events_for(kubectl, ns, name)]


class Ctx:
    """Per-module helpers bound to a namespace, a function name and a controller."""

    def __init__(self, kubectl: Kubectl, emulator: Emulator, ns: str, function: str, controller: Controller | None):
        self.k = kubectl
        self.emu = emulator
        self.ns = ns
        self.function = function
        self.controller = controller

    def apply(self, name: str, spec: dict, annotations: dict | None = None, check: bool = True):
        return self.k.apply(esm_manifest(self.ns, name, spec, annotations), check=check)

    def get(self, name: str) -> dict | None:
        return get_esm(self.k, self.ns, name)

    def patch(self, name: str, spec_patch: dict) -> None:
        self.k("patch", "eventsourcemapping", name, "-n", self.ns, "--type", "merge",
               "-p", json.dumps({"spec": spec_patch}))

    def describe(self, name: str | None = None) -> str:
        return diagnostics(self.k, self.emu, [self.ns], [self.controller] if self.controller else [], name)

    def wait(self, name: str, predicate: Callable[[dict], Any], what: str, timeout: float = 60) -> dict:
        def check():
            obj = self.get(name)
            return obj if obj is not None and predicate(obj) else None
        return wait_for(check, timeout, f"{self.ns}/{name}: {what}", describe=lambda: self.describe(name))

    def wait_ready(self, name: str, timeout: float = 60) -> dict:
        return self.wait(name, is_ready, "Ready=True", timeout)

    def wait_gone(self, name: str, timeout: float = 60) -> None:
        wait_for(lambda: self.get(name) is None, timeout, f"{self.ns}/{name} to be deleted",
                 describe=lambda: self.describe(name))

    def wait_event(self, name: str, reason: str, timeout: float = 30) -> dict:
        def check():
            return next((e for e in events_for(self.k, self.ns, name) if e.get("reason") == reason), None)
        return wait_for(check, timeout, f"Event {reason} for {self.ns}/{name}", interval=0.5,
                        describe=lambda: self.describe(name))

    def one_mapping(self, source_arn: str) -> dict:
        ms = self.emu.mappings_for(source_arn)
        assert len(ms) == 1, f"expected exactly one mapping for {source_arn}, found {len(ms)}:\n{json.dumps(ms, indent=1)}\n{self.describe()}"
        return ms[0]

    def delete_all(self, timeout: float = 90) -> None:
        """Deletes every EventSourceMapping of the namespace and waits until they are gone."""
        self.k("delete", "eventsourcemappings", "--all", "-n", self.ns, "--wait=false")
        def none_left():
            return not self.k.json("get", "eventsourcemappings", "-n", self.ns)["items"]
        wait_for(none_left, timeout, f"every EventSourceMapping in {self.ns} to be deleted", interval=0.5,
                 describe=lambda: self.describe())


# --------------------------------------------------------------------------------- diagnostics


def diagnostics(kubectl: Kubectl, emulator: Emulator | None, namespaces: Iterable[str],
                controllers: Iterable[Controller], name: str | None = None) -> str:
    out: list[str] = []
    for ns in namespaces:
        args = ["get", "eventsourcemappings", "-n", ns, "-o", "yaml"]
        if name:
            args = ["get", "eventsourcemapping", name, "-n", ns, "-o", "yaml"]
        p = kubectl(*args, check=False)
        out.append(f"----- kubectl {' '.join(args)}\n{p.stdout}{p.stderr}")
        p = kubectl("get", "events.events.k8s.io", "-n", ns, "-o", "custom-columns=TIME:.metadata.creationTimestamp,TYPE:.type,REASON:.reason,OBJECT:.regarding.name,NOTE:.note", check=False)
        out.append(f"----- events in {ns}\n{p.stdout}{p.stderr}")
    if emulator is not None:
        try:
            out.append("----- emulator mappings\n" + json.dumps(emulator.mappings(), indent=1)[-6000:])
            out.append("----- emulator calls\n" + json.dumps(emulator.calls()))
        except Exception as e:  # noqa: BLE001
            out.append(f"----- emulator unreachable: {e}")
    for c in controllers:
        out.append(f"----- controller {c.name} (alive={c.alive()}) log tail ({c.log_path})\n{c.log_tail(60)}")
    return "\n".join(out)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.failed and _BED is not None:
        try:
            k = Kubectl(_BED)
            emu = Emulator(_BED.admin_url) if _BED.admin_url else None
            report.sections.append(("e2e diagnostics", diagnostics(k, emu, _ACTIVE_NAMESPACES[-2:], list(_ACTIVE_CONTROLLERS))))
        except Exception as e:  # noqa: BLE001
            report.sections.append(("e2e diagnostics", f"could not collect diagnostics: {e}"))


# --------------------------------------------------------------------------------- standard module setup


@pytest.fixture(scope="module")
def emu_ctx(request, bed: Bed, kubectl: Kubectl, emulator: Emulator, controller_factory):
    """A namespace for the module, a seeded function and a controller (emulator backend) that
    watches only that namespace (plus the module's CONTROLLER_ARGS, if any). The controller is
    stopped at the end of the module and must have exited cleanly without RBAC denials."""
    short = request.module.__name__.rsplit(".", 1)[-1].removeprefix("test_").replace("_", "-")
    ns = make_namespace(kubectl, short)
    fn = unique(f"fn-{short}")
    emulator.seed_function(fn)
    extra = list(getattr(request.module, "CONTROLLER_ARGS", []))
    c = controller_factory(short, bed.lambda_endpoint, [ns], extra_args=extra)
    ctx = Ctx(kubectl, emulator, ns, fn, c)
    yield ctx
    # Resources are left behind on purpose (deletion has its own tests, and waiting for every
    # module's mappings to go would add a minute): the namespace is unique and the bed is
    # thrown away at the end.
    if ns in _ACTIVE_NAMESPACES:
        _ACTIVE_NAMESPACES.remove(ns)
    stop_and_check(ctx.controller)
