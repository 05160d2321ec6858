#!/usr/bin/env python3
"""The scale benchmark (issue 5): N EventSourceMappings against a real kube-apiserver and the
Lambda emulator (15 requests/s, 100 mappings per List page).

It creates N resources in each of ACCOUNTS accounts, waits until all are Ready, measures a steady
state, changes one mapping out of band and times the fix, then restarts the controller and times
until every resource is re-verified. With one account (the default) the resources use the
controller's own identity, as before account bindings existed. With k > 1 the bench gives each
account a role (trusting the controller's base identity), a namespace and a LambdaAccount that
selects that namespace as its default; each account has its own 15 requests/s in the emulator and
its own lane (and budget) in the controller. At the end it checks that every mapping landed in
its resource's account, once. Everything it reports is measured: the emulator counts every Lambda call, the
controller's /metrics counts reconciles, the kube-apiserver's /metrics counts its requests, and
/proc gives RSS and CPU time. Progress goes to stderr; the one line on stdout is a JSON object.
"""

import argparse
import json
import os
import random
import re
import shlex
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
import urllib.request

QUOTA = 15.0  # Lambda's control-plane requests per second (the emulator enforces it)


ACCOUNT = "123456789012"  # the controller's own account (the emulator's default), ACCOUNTS=1
ROLE = "esm-bench"  # the role the controller assumes in each account (ACCOUNTS > 1)
# The kube-apiserver resources whose requests the bench counts (any API group of that name).
APISERVER_RESOURCES = ("eventsourcemappings", "events", "lambdaaccounts")
TIMELINE_SECONDS = 10  # the create-rate timeline's bucket
_LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


def log(msg):
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def load_env(path):
    env = {}
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line.startswith("export "):
                key, _, value = line[len("export "):].partition("=")
                env[key] = shlex.split(value)[0] if value else ""
    return env


class ReadyWatch:
    """Follows the resources' Ready condition through one kubectl watch and notes, on arrival,
    the moment the last of them turned Ready (overall and per namespace). Polling a list of
    every resource each second would both be late by up to a poll and take the CPU the
    controller and the apiserver need (everything shares two cores)."""

    def __init__(self, kubectl_cmd, per_namespace):
        self.per_namespace = dict(per_namespace)  # namespace -> resources expected there
        self.n = sum(self.per_namespace.values())
        self.ready = {ns: set() for ns in self.per_namespace}
        self.ready_total = 0
        self.all_ready_at = None
        self.namespace_ready_at = {}
        self.done = threading.Event()
        self.proc = subprocess.Popen(
            kubectl_cmd + ["--watch", "--no-headers", "-o",
                           'custom-columns=NS:.metadata.namespace,N:.metadata.name,'
                           'R:.status.conditions[?(@.type=="Ready")].status'],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        threading.Thread(target=self._follow, daemon=True).start()

    def _follow(self):
        for line in self.proc.stdout:
            parts = line.split()
            if len(parts) < 3 or parts[0] not in self.ready:
                continue
            ns, name, status = parts[0], parts[1], parts[2]
            ready = self.ready[ns]
            before = len(ready)
            if status == "True":
                ready.add(name)
            else:
                ready.discard(name)
            self.ready_total += len(ready) - before
            now = time.time()
            if len(ready) == self.per_namespace[ns] and ns not in self.namespace_ready_at:
                self.namespace_ready_at[ns] = now
            if self.ready_total == self.n and self.all_ready_at is None:
                self.all_ready_at = now
                self.done.set()
        self.done.set()  # the watch ended: the caller falls back to its poll

    def stop(self):
        self.proc.kill()


class Sampler:
    """Samples, every second of the create phase, each account's Lambda calls (the emulator's
    admin counts) and the CPU time of the apiserver, the emulator, the controller and the whole
    machine (/proc), so the bench can show the create rate per account over time and where the
    CPU went. One admin request and a few /proc reads a second."""

    def __init__(self, bench, pids):
        self.bench = bench
        self.pids = pids  # name -> pid
        self.samples = []  # (t, {account: creates}, {name: cpu seconds}, machine busy seconds)
        self.stop_flag = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    @staticmethod
    def cpu_of(pid):
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except OSError:
            return None

    @staticmethod
    def machine_busy():
        with open("/proc/stat") as f:
            fields = [int(x) for x in f.readline().split()[1:]]
        idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
        return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")

    def sample(self):
        try:
            by_account = self.bench.calls_by_account()
        except OSError:
            return
        creates = {a: c.get("CreateEventSourceMapping", 0) for a, c in by_account.items()}
        cpu = {name: self.cpu_of(pid) for name, pid in self.pids.items()}
        self.samples.append((time.time(), creates, cpu, self.machine_busy()))

    def _run(self):
        while not self.stop_flag.is_set():
            self.sample()
            self.stop_flag.wait(1.0)

    def start(self):
        self.thread.start()

    def stop(self):
        self.stop_flag.set()
        self.thread.join()
        self.sample()


class Bench:
    def __init__(self, args):
        self.args = args
        self.env = load_env(args.env)
        self.ns = f"bench-{args.mode}-{int(time.time())}"
        k = args.accounts
        if k == 1:
            # As before bindings: one namespace, the controller's own identity and account.
            self.accounts = [ACCOUNT]
            self.namespaces = [self.ns]
        else:
            self.accounts = [f"{100000000000 + i + 1:012d}" for i in range(k)]
            self.namespaces = [f"{self.ns}-a{i:02d}" for i in range(k)]
        self.account_of = dict(zip(self.namespaces, self.accounts))
        self.proc = None
        self.start_seconds = None
        self.http_port = None
        self.bench_lists = 0  # LISTs of the resources the bench itself made (ready_count)

    # ---- helpers ----
    def kubectl(self, *args, stdin=None, check=True):
        env = dict(os.environ, KUBECONFIG=self.env["KUBECONFIG"])
        r = subprocess.run(["kubectl", *args], input=stdin, capture_output=True, text=True, env=env)
        if check and r.returncode != 0:
            raise RuntimeError(f"kubectl {' '.join(args[:3])}: {r.stderr.strip()}")
        return r.stdout

    def admin(self, path, body=None, method=None):
        url = self.env["LAMBDA_ADMIN_URL"] + path
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(url, data=data, method=method or ("POST" if data else "GET"),
                                     headers={"content-type": "application/json"})
        with urllib.request.urlopen(req, timeout=30) as r:
            text = r.read().decode()
            return json.loads(text) if text else None

    def calls(self):
        return self.admin("/calls")

    def calls_by_account(self):
        return self.admin("/calls?by=account")

    def apiserver_requests(self):
        """`apiserver_request_total` from the kube-apiserver's own /metrics (read with the bed's
        admin token, which is in system:masters), summed over codes and API groups for the
        resources in APISERVER_RESOURCES, keyed "resource[/subresource] VERB"."""
        ctx = ssl.create_default_context(cafile=self.env["TESTBED_CA_FILE"])
        req = urllib.request.Request(self.env["KUBE_APISERVER_URL"] + "/metrics",
                                     headers={"authorization": "Bearer " + self.env["TESTBED_ADMIN_TOKEN"]})
        with urllib.request.urlopen(req, timeout=30, context=ctx) as r:
            text = r.read().decode()
        out = {}
        for line in text.splitlines():
            if not line.startswith("apiserver_request_total{"):
                continue
            labels_text, _, value = line.rpartition(" ")
            labels = dict(_LABEL.findall(labels_text))
            if labels.get("resource") not in APISERVER_RESOURCES:
                continue
            sub = labels.get("subresource", "")
            key = f"{labels['resource']}{'/' + sub if sub else ''} {labels.get('verb', '?')}"
            out[key] = out.get(key, 0) + float(value)
        return out

    @staticmethod
    def delta(after, before):
        return {k: after[k] - before.get(k, 0) for k in sorted(after) if after[k] - before.get(k, 0)}

    def metrics(self):
        with urllib.request.urlopen(f"http://127.0.0.1:{self.http_port}/metrics", timeout=10) as r:
            text = r.read().decode()
        out = {}
        for line in text.splitlines():
            if line.startswith("#") or " " not in line:
                continue
            name, _, value = line.rpartition(" ")
            try:
                out[name] = float(value)
            except ValueError:
                pass
        return out

    def proc_stats(self):
        pid = self.proc.pid
        rss_kib = 0
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    rss_kib = int(line.split()[1])
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        ticks = int(fields[11]) + int(fields[12])  # utime + stime
        return rss_kib / 1024.0, ticks / os.sysconf("SC_CLK_TCK")

    # ---- phases ----
    def start_controller(self, suffix=""):
        """Starts the controller; a restart (suffix set) keeps the same flags and port."""
        if self.http_port is None:
            with socket.socket() as s:
                s.bind(("127.0.0.1", 0))
                self.http_port = s.getsockname()[1]
        cmd = [self.args.controller, "run",
               "--observe", self.args.mode,
               "--aws-rate-limit", str(self.args.rate), "--aws-burst", str(self.args.burst),
               "--concurrency", str(self.args.concurrency),
               "--resync-period", "5m",  # the sweep keeps its defaults (--sweep-rate 1)
               "--namespaces", ",".join(self.namespaces), "--cluster-name", "bench", "--region", "us-east-1",
               "--http-addr", f"127.0.0.1:{self.http_port}",
               "--log-format", "json", "--log-level", os.environ.get("BENCH_LOG_LEVEL", "warn")]
        env = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/tmp"),
               "KUBECONFIG": self.env["KUBECONFIG"], "AWS_ACCESS_KEY_ID": "testing",
               "AWS_SECRET_ACCESS_KEY": "testing", "AWS_REGION": "us-east-1",
               "AWS_EC2_METADATA_DISABLED": "true",
               "AWS_ENDPOINT_URL_LAMBDA": self.env["LAMBDA_ENDPOINT"],
               # The emulator answers STS on the same port (AssumeRole for the bindings).
               "AWS_ENDPOINT_URL_STS": self.env["LAMBDA_ENDPOINT"]}
        self.log_path = os.path.join(self.env.get("TESTBED_DIR", "."), "logs", f"controller-{self.ns}{suffix}.log")
        self.proc = subprocess.Popen(cmd, env=env, stdout=open(self.log_path, "w"), stderr=subprocess.STDOUT)
        t = time.time()
        for _ in range(300):
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.http_port}/readyz", timeout=2) as r:
                    if r.status == 200:
                        self.start_seconds = time.time() - t
                        log(f"controller ready after {self.start_seconds:.1f}s")
                        return
            except OSError:
                pass
            if self.proc.poll() is not None:
                raise RuntimeError(f"controller exited: see {self.log_path}")
            time.sleep(0.2)
        raise RuntimeError("controller never became ready")

    def manifests(self, ns, start, end):
        """Resources of one namespace; their event sources live in its account, with no
        accountRef (the namespace's default binding, or the controller's own identity)."""
        account = self.account_of[ns]
        items = []
        for i in range(start, end):
            items.append({
                "apiVersion": "lambda.esm-controller.dev/v1alpha1", "kind": "EventSourceMapping",
                "metadata": {"name": f"m-{i:05d}", "namespace": ns},
                "spec": {"eventSourceARN": f"arn:aws:sqs:us-east-1:{account}:bench-q-{i:05d}",
                         "functionName": "bench-handler", "batchSize": 5},
            })
        return json.dumps({"apiVersion": "v1", "kind": "List", "items": items})

    def scope(self):
        """kubectl's scope for the bench's resources: its namespace, or all of them."""
        return ["-n", self.ns] if len(self.namespaces) == 1 else ["-A"]

    def ready_count(self):
        # One LIST request (no chunking), so the bench can take its own requests out of the
        # apiserver's counts.
        self.bench_lists += 1
        out = self.kubectl("get", "esm", *self.scope(), "--no-headers", "--chunk-size=0",
                           "-o", 'custom-columns=R:.status.conditions[?(@.type=="Ready")].status')
        return sum(1 for line in out.splitlines() if line.strip() == "True")

    def setup_accounts(self):
        """ACCOUNTS > 1: per account a role that trusts the controller's base identity (the
        emulator's default account), the handler function, a namespace, and a LambdaAccount that
        is that namespace's default. One account stays the controller's own: none."""
        if len(self.accounts) == 1:
            self.kubectl("create", "namespace", self.ns)
            return
        bindings, namespaces = [], []
        for ns, account in zip(self.namespaces, self.accounts):
            self.admin("/roles", {"roleArn": f"arn:aws:iam::{account}:role/{ROLE}",
                                  "trust": [f"arn:aws:iam::{ACCOUNT}:root"]})
            self.admin("/functions", {"name": "bench-handler", "account": account})
            namespaces.append({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
            bindings.append({
                "apiVersion": "lambda.esm-controller.dev/v1alpha1", "kind": "LambdaAccount",
                "metadata": {"name": ns},
                "spec": {"roleArn": f"arn:aws:iam::{account}:role/{ROLE}", "default": True,
                         "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": ns}}},
            })
        for items in (namespaces, bindings):
            self.kubectl("apply", "--server-side", "-f", "-",
                         stdin=json.dumps({"apiVersion": "v1", "kind": "List", "items": items}))

    def wait_bindings_ready(self, timeout=120):
        """Bindings exist before their resources: wait until the controller has assumed every
        role (each binding's Ready condition), so the clock starts on resources alone."""
        if len(self.accounts) == 1:
            return
        t = time.time()
        while time.time() - t < timeout:
            out = self.kubectl("get", "lambdaaccounts", "--no-headers", "-o",
                               'custom-columns=N:.metadata.name,R:.status.conditions[?(@.type=="Ready")].status')
            ready = {line.split()[0] for line in out.splitlines() if line.split()[1:] == ["True"]}
            if all(ns in ready for ns in self.namespaces):
                log(f"{len(self.namespaces)} LambdaAccounts Ready after {time.time() - t:.1f}s")
                return
            time.sleep(0.5)
        raise RuntimeError(f"LambdaAccounts not Ready after {timeout}s: {out}")

    def apply_all(self, n):
        """`kubectl apply --server-side` of each namespace's resources, 500 at a time, one
        kubectl after another per namespace and the namespaces side by side (each account has
        its own lane, so its resources should not queue behind another account's). Returns the
        seconds each namespace's applies took."""
        took = {}
        errors = []

        def one(ns):
            t = time.time()
            try:
                for start in range(0, n, 500):
                    self.kubectl("apply", "--server-side", "-f", "-",
                                 stdin=self.manifests(ns, start, min(n, start + 500)))
            except Exception as e:  # noqa: BLE001 (reported below)
                errors.append(e)
            took[ns] = time.time() - t

        threads = [threading.Thread(target=one, args=(ns,)) for ns in self.namespaces]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        if errors:
            raise errors[0]
        return took

    def bed_pids(self):
        pids = {"controller": self.proc.pid}
        for name in ("apiserver", "emulator"):
            try:
                with open(os.path.join(self.env.get("TESTBED_PID_DIR", ""), f"{name}.pid")) as f:
                    pids[name] = int(f.readline())
            except (OSError, ValueError):
                pass
        return pids

    def verify_placement(self, n):
        """Every mapping in its resource's account, once: per account, the emulator's mappings
        (admin snapshot, no quota) must be exactly the N event sources of that account, each
        once, with the account's function; every resource's status.uuid must be a mapping of its
        namespace's account. With k > 1 the controller's own account must hold none."""
        checked = list(self.accounts) + ([ACCOUNT] if len(self.accounts) > 1 else [])
        misplaced = duplicates = missing = 0
        uuids = {}
        counts = {}
        for account in checked:
            mappings = self.admin(f"/mappings?account={account}")
            expected = n if account in self.accounts else 0
            counts[account] = len(mappings)
            sources = {}
            for m in mappings:
                src = m.get("EventSourceArn", "")
                fn = m.get("FunctionArn", "")
                if src.split(":")[4:5] != [account] or fn.split(":")[4:5] != [account] or expected == 0:
                    misplaced += 1
                    continue
                sources[src] = sources.get(src, 0) + 1
                uuids[m["UUID"]] = account
            duplicates += sum(c - 1 for c in sources.values())
            missing += max(0, expected - len(sources))
        out = self.kubectl("get", "esm", *self.scope(), "--no-headers", "--chunk-size=500", "-o",
                           "custom-columns=NS:.metadata.namespace,U:.status.uuid")
        wrong_uuid = 0
        for line in out.splitlines():
            parts = line.split()
            if len(parts) == 2 and parts[0] in self.account_of and uuids.get(parts[1]) != self.account_of[parts[0]]:
                wrong_uuid += 1
        log(f"placement: mappings per account {counts}; misplaced {misplaced}, duplicates {duplicates}, "
            f"missing {missing}, status.uuid not in its account {wrong_uuid}")
        return {
            "misplaced_or_duplicate": misplaced + duplicates + wrong_uuid,
            "placement": {"misplaced": misplaced, "duplicates": duplicates, "missing": missing,
                          "uuid_not_in_account": wrong_uuid},
            "mappings_per_account": counts,
        }

    def run(self):
        n, mode = self.args.n, self.args.mode
        k = len(self.accounts)
        total = n * k
        self.setup_accounts()
        self.start_controller()
        first_start = self.start_seconds
        self.wait_bindings_ready()
        calls_start = self.calls()
        by_account_start = self.calls_by_account()

        log(f"creating {n} resources in each of {k} namespace(s) {', '.join(self.namespaces[:3])}"
            f"{', ...' if k > 3 else ''} (mode {mode}, accounts {', '.join(self.accounts[:3])}{', ...' if k > 3 else ''})")
        watch = ReadyWatch(["kubectl", "--kubeconfig", self.env["KUBECONFIG"], "get", "esm", *self.scope()],
                           {ns: n for ns in self.namespaces})
        time.sleep(1)  # let the watch start before the first resource exists
        sampler = Sampler(self, self.bed_pids())
        sampler.start()
        api_start = self.apiserver_requests()
        lists_start = self.bench_lists
        t0 = time.time()
        apply_took = self.apply_all(n)
        log(f"applied in {time.time() - t0:.1f}s; waiting for Ready")
        deadline = t0 + (self.args.ready_timeout or max(900, n / QUOTA * 4 + 300))
        # The watch notes the moment; a slow poll confirms it and covers a watch that ended.
        ready = 0
        last_log = time.time()
        while time.time() < deadline:
            watch.done.wait(timeout=10)
            if watch.proc.poll() is not None:
                time.sleep(1)
            if watch.done.is_set() or k == 1:
                ready = self.ready_count()
                if ready == total:
                    break
                time.sleep(1)
            if time.time() - last_log >= 10:
                last_log = time.time()
                log(f"{watch.ready_total} Ready (watch) after {last_log - t0:.0f}s")
        t_ready = watch.all_ready_at if ready == total and watch.all_ready_at else time.time()
        # Read before the watch stops: its WATCH request is counted when it ends.
        api_ready = self.apiserver_requests()
        sampler.stop()
        watch.stop()
        if ready == total:
            all_ready = t_ready - t0
            log(f"all {total} Ready after {all_ready:.1f}s (quota bound per account {n / QUOTA:.1f}s)")
        elif self.args.ready_timeout:
            # A baseline that cannot keep up is still measured: the steady state and drift
            # below then run while the backlog is being worked off.
            all_ready = None
            log(f"only {ready}/{total} Ready after {t_ready - t0:.0f}s; measuring on regardless")
        else:
            raise RuntimeError(f"only {ready}/{total} Ready after {t_ready - t0:.0f}s; see {self.log_path}")
        calls_ready = self.calls()
        by_account_ready = self.calls_by_account()
        create_phase_calls = sum(calls_ready.values()) - sum(calls_start.values())
        create_metrics = self.metrics()

        # The apiserver's requests in the create phase, the bench's own taken out: each object
        # of `kubectl apply --server-side` is one APPLY of the resource itself (the controller
        # applies only /status), and each ready_count is one LIST. What is left is the
        # controller's: its GETs, finalizer PATCHes, status APPLYs, Events, and its watch.
        create_api = self.delta(api_ready, api_start)
        bench_applies = create_api.pop("eventsourcemappings APPLY", 0)
        if bench_applies != total:
            log(f"warning: {bench_applies:.0f} APPLYs of the resources for {total} creates")
        own_lists = self.bench_lists - lists_start
        create_api["eventsourcemappings LIST"] = create_api.get("eventsourcemappings LIST", 0) - own_lists
        create_api = {k: v for k, v in create_api.items() if v}

        log(f"steady state for {self.args.steady}s")
        # The bench sends the apiserver nothing in this window.
        m1, c1, a1, s1 = self.metrics(), self.calls(), self.apiserver_requests(), time.time()
        b1 = self.calls_by_account()
        time.sleep(self.args.steady)
        m2, c2, a2, s2 = self.metrics(), self.calls(), self.apiserver_requests(), time.time()
        b2 = self.calls_by_account()
        steady_calls = sum(c2.values()) - sum(c1.values())
        steady_rate = steady_calls / (s2 - s1)
        steady_api = self.delta(a2, a1)
        steady_minutes = (s2 - s1) / 60.0

        # No-op reconciles: poke some resources (an annotation change triggers a reconcile that
        # has nothing to do) and count the Lambda calls per reconcile, the List sweep aside.
        # 50 in all, spread over the namespaces.
        poke = max(1, min(50, total) // k)
        m3, c3 = self.metrics(), self.calls()
        for ns in self.namespaces:
            names = [f"m-{i:05d}" for i in random.sample(range(n), min(poke, n))]
            self.kubectl("annotate", "esm", "-n", ns, "--overwrite", *names, f"bench/poke={int(time.time())}")
        time.sleep(10)
        m4, c4 = self.metrics(), self.calls()
        reconciles = sum(v for k, v in m4.items() if k.startswith("esm_reconciles_total")) - \
            sum(v for k, v in m3.items() if k.startswith("esm_reconciles_total"))
        per_reconcile_calls = sum(c4.get(op, 0) - c3.get(op, 0) for op in c4
                                  if op not in ("ListEventSourceMappings", "AssumeRole"))
        noop_calls = per_reconcile_calls / reconciles if reconciles else float("nan")
        log(f"{reconciles:.0f} no-op reconciles made {per_reconcile_calls} non-List calls")

        # Drift: change one mapping out of band and time until Lambda (the emulator's admin
        # snapshot, not Lambda's API, so the polling costs no quota) shows the spec's value again.
        # (A resource that has its mapping: under --ready-timeout some may not yet.)
        for _ in range(100):
            ns = random.choice(self.namespaces)
            name = f"m-{random.randrange(n):05d}"
            uuid = self.kubectl("get", "esm", "-n", ns, name, "-o", "jsonpath={.status.uuid}")
            if uuid:
                break
        c5 = self.calls()
        self.admin(f"/mappings/{uuid}/oob-update", {"BatchSize": 7})
        t1 = time.time()
        fixed = None
        while time.time() - t1 < 300:
            if self.admin(f"/mappings/{uuid}").get("BatchSize") == 5:
                fixed = time.time() - t1
                break
            time.sleep(0.5)
        c6 = self.calls()
        # Everything Lambda was asked from the out-of-band change to the fix: the fix itself
        # and whatever the sweep read meanwhile (its pages would have been read anyway).
        drift_by_op = self.delta(c6, c5)
        log(f"drift on {ns}/{name} fixed after {fixed}s with {drift_by_op}")
        # Let the fix settle before the restart: Lambda's Updating is over and the resource is
        # Ready again. Otherwise the restart measures a mapping caught mid-update, whose
        # re-verification waits for the next sweep.
        settled = None
        while fixed is not None and time.time() - t1 < 600:
            if self.admin(f"/mappings/{uuid}").get("State") == "Enabled" and self.kubectl(
                    "get", "esm", "-n", ns, name, "-o",
                    'jsonpath={.status.conditions[?(@.type=="Ready")].status}') == "True":
                settled = time.time() - t1
                break
            time.sleep(1)
        log(f"drift on {ns}/{name}: Lambda Enabled and the resource Ready after {settled}s")

        # RSS and CPU of the process that did all of the above, before it is restarted.
        rss, cpu = self.proc_stats()

        restart = self.restart(total)
        placement = self.verify_placement(n)

        calls_end = self.calls()
        by_op = {op: calls_end.get(op, 0) - calls_start.get(op, 0) for op in calls_end}
        per_create = {k: round(v / total, 3) for k, v in create_api.items()}
        per_minute = {k: round(v / steady_minutes, 2) for k, v in steady_api.items()}

        def account_delta(after, before, account, op=None):
            a, b = after.get(account, {}), before.get(account, {})
            if op:
                return a.get(op, 0) - b.get(op, 0)
            return sum(a.values()) - sum(b.values())

        throttled = {}
        for key, value in create_metrics.items():
            if key.startswith("esm_aws_requests_total{") and 'outcome="throttled"' in key:
                labels = dict(_LABEL.findall(key))
                throttled[labels.get("account")] = throttled.get(labels.get("account"), 0) + value
        per_account = {}
        for ns, account in zip(self.namespaces, self.accounts):
            at = watch.namespace_ready_at.get(ns)
            per_account[account] = {
                "namespace": ns,
                "mappings": placement["mappings_per_account"].get(account),
                "creates": account_delta(by_account_ready, by_account_start, account, "CreateEventSourceMapping"),
                "calls": account_delta(by_account_ready, by_account_start, account),
                "seconds_to_all_ready": None if at is None else round(at - t0, 1),
                "apply_seconds": round(apply_took[ns], 1),
                "throttled_by_lambda": throttled.get(account if k > 1 else "own", 0),
                "steady_aws_calls_per_second": round(account_delta(b2, b1, account) / (s2 - s1), 3),
            }
        result = {
            "n": n,
            "mode": mode,
            "accounts": k,
            "resources": total,
            "seconds_to_all_ready": None if all_ready is None else round(all_ready, 1),
            "ready_when_measured": ready,
            "quota_bound_seconds": round(n / QUOTA, 1),
            "steady_aws_calls_per_second": round(steady_rate, 3),
            "drift_fix_seconds": None if fixed is None else round(fixed, 1),
            "drift_ready_seconds": None if settled is None else round(settled, 1),
            "drift_aws_calls": sum(v for k, v in drift_by_op.items() if k != "ListEventSourceMappings"),
            "drift_aws_calls_by_operation": drift_by_op,
            "noop_reconcile_aws_calls": round(noop_calls, 3),
            "aws_calls_by_operation": {k: v for k, v in sorted(by_op.items()) if v},
            "rss_mib": round(rss, 1),
            "cpu_seconds": round(cpu, 1),
            "controller_ready_seconds": round(first_start, 1),
            "create_phase_aws_calls": create_phase_calls,
            **restart,
            "apiserver_requests_per_create": round(sum(create_api.values()) / total, 3),
            "apiserver_requests_per_create_by_verb": per_create,
            "apiserver_requests_per_steady_minute": round(sum(steady_api.values()) / steady_minutes, 2),
            "apiserver_requests_per_steady_minute_by_verb": per_minute,
            "misplaced_or_duplicate": placement["misplaced_or_duplicate"],
            "placement": placement["placement"],
            "per_account": per_account,
            **self.where_time_goes(sampler, t0, t_ready),
            "steady_seconds": self.args.steady,
            "aws_rate_limit": self.args.rate,
            "aws_burst": self.args.burst,
        }
        return result

    def where_time_goes(self, sampler, t0, t_end):
        """The create phase from the samples: each account's creates per TIMELINE_SECONDS, and
        the CPU seconds of the apiserver, the controller, the emulator and the whole machine
        (which the bench's kubectl and anything else running also use) over the phase."""
        samples = [x for x in sampler.samples if x[0] >= t0 - 1.5]
        if len(samples) < 2:
            return {}
        first, last = samples[0], samples[-1]
        buckets = int((last[0] - t0) // TIMELINE_SECONDS) + 1
        timeline = {}
        for account in self.accounts:
            counts = [0] * buckets
            prev = first[1].get(account, 0)
            for t, creates, _, _ in samples[1:]:
                c = creates.get(account, 0)
                counts[max(0, min(buckets - 1, int((t - t0) // TIMELINE_SECONDS)))] += c - prev
                prev = c
            timeline[account] = counts
        wall = last[0] - first[0]
        cpu = {name: round(last[2][name] - first[2][name], 1) for name in last[2]
               if last[2].get(name) is not None and first[2].get(name) is not None}
        busy = last[3] - first[3]
        cpu["machine"] = round(busy, 1)
        cpu["other"] = round(busy - sum(v for k, v in cpu.items() if k != "machine"), 1)
        return {
            "create_phase_seconds": round(t_end - t0, 1),
            "create_phase_cpu_seconds": cpu,
            "create_phase_cpu_capacity_seconds": round(wall * (os.cpu_count() or 1), 1),
            "creates_per_10s_by_account": timeline,
        }

    def restart(self, n):
        """SIGTERM the controller, start it again with the same flags, and time until every
        resource is re-verified.

        "Re-verified" means: the new process has reached a verdict for every resource with its
        mapping in Lambda's Enabled state (`esm_mappings{state="Enabled"}` == N: a per-resource
        gauge that starts at 0 in a new process and counts each resource once, by its last
        verdict), and has counted at least N `ready` results in `esm_reconciles_total`. Every
        such verdict rests on a Lambda observation newer than the restart: the mapping cache
        lives in memory, so the new process can only have it from its own List sweep or Get, and
        a reconcile that has no observation yet waits for the sweep and records no verdict. A
        clean restart changes nothing the apiserver shows (the status is unchanged, so it is not
        written), so this is the controller's own signal; the bench then checks that all N are
        Ready in the apiserver too."""
        log("restarting the controller (SIGTERM)")
        c0, a0 = self.calls(), self.apiserver_requests()
        t0 = time.time()
        self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            raise RuntimeError("the controller did not stop within 60s of SIGTERM")
        stopped = time.time() - t0
        if code != 0:
            log(f"warning: the controller exited with {code} on SIGTERM")
        self.start_controller(suffix="-restart")
        deadline = time.time() + max(300, n / QUOTA * 2)
        done = None
        enabled = ready = 0
        last_log = time.time()
        while time.time() < deadline:
            m = self.metrics()
            enabled = m.get('esm_mappings{state="Enabled"}', 0)
            ready = m.get('esm_reconciles_total{result="ready"}', 0)
            if enabled >= n and ready >= n:
                done = time.time() - t0
                break
            if time.time() - last_log >= 10:
                last_log = time.time()
                log(f"restart: {enabled:.0f} Enabled, {ready:.0f} ready after {last_log - t0:.0f}s")
            time.sleep(0.5)
        c1, a1 = self.calls(), self.apiserver_requests()
        if done is None:
            log(f"restart: only {enabled:.0f} Enabled / {ready:.0f} ready after {time.time() - t0:.0f}s")
        in_kube = self.ready_count()
        by_op = self.delta(c1, c0)
        api = self.delta(a1, a0)  # the bench sent none of these (ready_count comes after)
        rss, _ = self.proc_stats()
        log(f"restart: re-verified after {done}s (stop {stopped:.1f}s), {by_op}, {in_kube} Ready in kube")
        return {
            "restart_seconds": None if done is None else round(done, 1),
            "restart_stop_seconds": round(stopped, 1),
            "restart_aws_calls": sum(by_op.values()),
            "restart_aws_calls_by_operation": by_op,
            "restart_ready_in_apiserver": in_kube,
            "restart_apiserver_requests": api,
            "restart_rss_mib": round(rss, 1),
            "restart_controller_ready_seconds": round(self.start_seconds, 1),
        }

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--n", type=int, default=1000)
    p.add_argument("--mode", choices=["list", "get"], default="list")
    p.add_argument("--accounts", type=int, default=1,
                   help="accounts, each with N resources (1: the controller's own identity, no binding)")
    p.add_argument("--controller", required=True)
    p.add_argument("--env", default=".testbed/env")
    p.add_argument("--rate", type=float, default=QUOTA, help="the controller's AWS budget (requests/s)")
    # A burst below Lambda's own (15) keeps slack in its bucket that absorbs arrival jitter, so
    # running at the full rate does not turn into 429s.
    p.add_argument("--burst", type=float, default=5.0)
    p.add_argument("--concurrency", type=int, default=64)
    p.add_argument("--steady", type=int, default=int(os.environ.get("BENCH_STEADY_SECONDS", "180")))
    p.add_argument("--ready-timeout", type=int, default=int(os.environ.get("BENCH_READY_TIMEOUT", "0")),
                   help="seconds to wait for all Ready, then measure on regardless (0: fail instead)")
    args = p.parse_args()
    bench = Bench(args)
    try:
        result = bench.run()
    finally:
        bench.stop()
    print(json.dumps(result))


if __name__ == "__main__":
    main()
