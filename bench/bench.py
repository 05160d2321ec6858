#!/usr/bin/env python3
"""The scale benchmark (issue 5): N EventSourceMappings against a real kube-apiserver and the
Lambda emulator (15 requests/s, 100 mappings per List page).

It creates N resources, waits until all are Ready, measures a steady state, changes one mapping
out of band and times the fix, then restarts the controller and times until every resource is
re-verified. Everything it reports is measured: the emulator counts every Lambda call, the
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


ACCOUNT = "123456789012"  # the one account the bench's mappings live in
# The kube-apiserver resources whose requests the bench counts (any API group of that name).
APISERVER_RESOURCES = ("eventsourcemappings", "events")
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
    the moment the last of them turned Ready. Polling a list of every resource each second
    would both be late by up to a poll and take the CPU the controller and the apiserver need
    (everything shares two cores)."""

    def __init__(self, kubectl_cmd, n):
        self.n = n
        self.ready = set()
        self.all_ready_at = None
        self.done = threading.Event()
        self.proc = subprocess.Popen(
            kubectl_cmd + ["--watch", "--no-headers", "-o",
                           'custom-columns=N:.metadata.name,R:.status.conditions[?(@.type=="Ready")].status'],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        threading.Thread(target=self._follow, daemon=True).start()

    def _follow(self):
        for line in self.proc.stdout:
            parts = line.split()
            if len(parts) < 2:
                continue
            name, status = parts[0], parts[1]
            if status == "True":
                self.ready.add(name)
            else:
                self.ready.discard(name)
            if len(self.ready) == self.n and self.all_ready_at is None:
                self.all_ready_at = time.time()
                self.done.set()
        self.done.set()  # the watch ended: the caller falls back to its poll

    def stop(self):
        self.proc.kill()


class Bench:
    def __init__(self, args):
        self.args = args
        self.env = load_env(args.env)
        self.ns = f"bench-{args.mode}-{int(time.time())}"
        self.proc = None
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
               "--namespaces", self.ns, "--cluster-name", "bench", "--region", "us-east-1",
               "--http-addr", f"127.0.0.1:{self.http_port}",
               "--log-format", "json", "--log-level", os.environ.get("BENCH_LOG_LEVEL", "warn")]
        env = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/tmp"),
               "KUBECONFIG": self.env["KUBECONFIG"], "AWS_ACCESS_KEY_ID": "testing",
               "AWS_SECRET_ACCESS_KEY": "testing", "AWS_REGION": "us-east-1",
               "AWS_EC2_METADATA_DISABLED": "true",
               "AWS_ENDPOINT_URL_LAMBDA": self.env["LAMBDA_ENDPOINT"]}
        self.log_path = os.path.join(self.env.get("TESTBED_DIR", "."), "logs", f"controller-{self.ns}{suffix}.log")
        self.proc = subprocess.Popen(cmd, env=env, stdout=open(self.log_path, "w"), stderr=subprocess.STDOUT)
        for _ in range(100):
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.http_port}/readyz", timeout=2) as r:
                    if r.status == 200:
                        return
            except OSError:
                pass
            if self.proc.poll() is not None:
                raise RuntimeError(f"controller exited: see {self.log_path}")
            time.sleep(0.2)
        raise RuntimeError("controller never became ready")

    def manifests(self, start, end):
        items = []
        for i in range(start, end):
            items.append({
                "apiVersion": "lambda.esm-controller.dev/v1alpha1", "kind": "EventSourceMapping",
                "metadata": {"name": f"m-{i:05d}", "namespace": self.ns},
                "spec": {"eventSourceARN": f"arn:aws:sqs:us-east-1:123456789012:bench-q-{i:05d}",
                         "functionName": "bench-handler", "batchSize": 5},
            })
        return json.dumps({"apiVersion": "v1", "kind": "List", "items": items})

    def ready_count(self):
        # One LIST request (no chunking), so the bench can take its own requests out of the
        # apiserver's counts.
        self.bench_lists += 1
        out = self.kubectl("get", "esm", "-n", self.ns, "--no-headers", "--chunk-size=0",
                           "-o", 'custom-columns=R:.status.conditions[?(@.type=="Ready")].status')
        return sum(1 for line in out.splitlines() if line.strip() == "True")

    def run(self):
        n, mode = self.args.n, self.args.mode
        self.kubectl("create", "namespace", self.ns)
        self.start_controller()
        calls_start = self.calls()

        log(f"creating {n} resources in {self.ns} (mode {mode})")
        watch = ReadyWatch(["kubectl", "--kubeconfig", self.env["KUBECONFIG"], "get", "esm", "-n", self.ns], n)
        time.sleep(1)  # let the watch start before the first resource exists
        api_start = self.apiserver_requests()
        lists_start = self.bench_lists
        t0 = time.time()
        for start in range(0, n, 500):
            self.kubectl("apply", "--server-side", "-f", "-", stdin=self.manifests(start, min(n, start + 500)))
        log(f"applied in {time.time() - t0:.1f}s; waiting for Ready")
        deadline = t0 + (self.args.ready_timeout or max(900, n / QUOTA * 4 + 300))
        # The watch notes the moment; a slow poll confirms it and covers a watch that ended.
        ready = 0
        while time.time() < deadline:
            watch.done.wait(timeout=10)
            if watch.proc.poll() is not None:
                time.sleep(1)
            ready = self.ready_count()
            if ready == n:
                break
        t_ready = watch.all_ready_at if ready == n and watch.all_ready_at else time.time()
        # Read before the watch stops: its WATCH request is counted when it ends.
        api_ready = self.apiserver_requests()
        watch.stop()
        if ready == n:
            all_ready = t_ready - t0
            log(f"all {n} Ready after {all_ready:.1f}s (quota bound {n / QUOTA:.1f}s)")
        elif self.args.ready_timeout:
            # A baseline that cannot keep up is still measured: the steady state and drift
            # below then run while the backlog is being worked off.
            all_ready = None
            log(f"only {ready}/{n} Ready after {t_ready - t0:.0f}s; measuring on regardless")
        else:
            raise RuntimeError(f"only {ready}/{n} Ready after {t_ready - t0:.0f}s; see {self.log_path}")
        calls_ready = self.calls()
        create_phase_calls = sum(calls_ready.values()) - sum(calls_start.values())

        # The apiserver's requests in the create phase, the bench's own taken out: each object
        # of `kubectl apply --server-side` is one APPLY of the resource itself (the controller
        # applies only /status), and each ready_count is one LIST. What is left is the
        # controller's: its GETs, finalizer PATCHes, status APPLYs, Events, and its watch.
        create_api = self.delta(api_ready, api_start)
        bench_applies = create_api.pop("eventsourcemappings APPLY", 0)
        if bench_applies != n:
            log(f"warning: {bench_applies:.0f} APPLYs of the resources for {n} creates")
        own_lists = self.bench_lists - lists_start
        create_api["eventsourcemappings LIST"] = create_api.get("eventsourcemappings LIST", 0) - own_lists
        create_api = {k: v for k, v in create_api.items() if v}

        log(f"steady state for {self.args.steady}s")
        # The bench sends the apiserver nothing in this window.
        m1, c1, a1, s1 = self.metrics(), self.calls(), self.apiserver_requests(), time.time()
        time.sleep(self.args.steady)
        m2, c2, a2, s2 = self.metrics(), self.calls(), self.apiserver_requests(), time.time()
        steady_calls = sum(c2.values()) - sum(c1.values())
        steady_rate = steady_calls / (s2 - s1)
        steady_api = self.delta(a2, a1)
        steady_minutes = (s2 - s1) / 60.0

        # No-op reconciles: poke some resources (an annotation change triggers a reconcile that
        # has nothing to do) and count the Lambda calls per reconcile, the List sweep aside.
        poke = min(50, n)
        m3, c3 = self.metrics(), self.calls()
        names = [f"m-{i:05d}" for i in random.sample(range(n), poke)]
        self.kubectl("annotate", "esm", "-n", self.ns, "--overwrite", *names, f"bench/poke={int(time.time())}")
        time.sleep(10)
        m4, c4 = self.metrics(), self.calls()
        reconciles = sum(v for k, v in m4.items() if k.startswith("esm_reconciles_total")) - \
            sum(v for k, v in m3.items() if k.startswith("esm_reconciles_total"))
        per_reconcile_calls = sum(c4.get(op, 0) - c3.get(op, 0) for op in c4 if op != "ListEventSourceMappings")
        noop_calls = per_reconcile_calls / reconciles if reconciles else float("nan")
        log(f"{reconciles:.0f} no-op reconciles made {per_reconcile_calls} non-List calls")

        # Drift: change one mapping out of band and time until Lambda (the emulator's admin
        # snapshot, not Lambda's API, so the polling costs no quota) shows the spec's value again.
        # (A resource that has its mapping: under --ready-timeout some may not yet.)
        for _ in range(100):
            name = f"m-{random.randrange(n):05d}"
            uuid = self.kubectl("get", "esm", "-n", self.ns, name, "-o", "jsonpath={.status.uuid}")
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
        log(f"drift on {name} fixed after {fixed}s with {drift_by_op}")
        # Let the fix settle before the restart: Lambda's Updating is over and the resource is
        # Ready again. Otherwise the restart measures a mapping caught mid-update, whose
        # re-verification waits for the next sweep.
        settled = None
        while fixed is not None and time.time() - t1 < 600:
            if self.admin(f"/mappings/{uuid}").get("State") == "Enabled" and self.kubectl(
                    "get", "esm", "-n", self.ns, name, "-o",
                    'jsonpath={.status.conditions[?(@.type=="Ready")].status}') == "True":
                settled = time.time() - t1
                break
            time.sleep(1)
        log(f"drift on {name}: Lambda Enabled and the resource Ready after {settled}s")

        # RSS and CPU of the process that did all of the above, before it is restarted.
        rss, cpu = self.proc_stats()

        restart = self.restart(n)

        calls_end = self.calls()
        by_op = {op: calls_end.get(op, 0) - calls_start.get(op, 0) for op in calls_end}
        per_create = {k: round(v / n, 3) for k, v in create_api.items()}
        per_minute = {k: round(v / steady_minutes, 2) for k, v in steady_api.items()}
        result = {
            "n": n,
            "mode": mode,
            "accounts": 1,
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
            "create_phase_aws_calls": create_phase_calls,
            **restart,
            "apiserver_requests_per_create": round(sum(create_api.values()) / n, 3),
            "apiserver_requests_per_create_by_verb": per_create,
            "apiserver_requests_per_steady_minute": round(sum(steady_api.values()) / steady_minutes, 2),
            "apiserver_requests_per_steady_minute_by_verb": per_minute,
            # Per-account figures; with one account they are the totals above.
            "by_account": {ACCOUNT: {"n": n, "create_phase_aws_calls": create_phase_calls,
                                     "steady_aws_calls_per_second": round(steady_rate, 3)}},
            "steady_seconds": self.args.steady,
            "aws_rate_limit": self.args.rate,
            "aws_burst": self.args.burst,
        }
        return result

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
