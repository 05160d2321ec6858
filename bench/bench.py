#!/usr/bin/env python3
"""The scale benchmark (issue 5): N EventSourceMappings against a real kube-apiserver and the
Lambda emulator (15 requests/s, 100 mappings per List page).

It creates N resources, waits until all are Ready, measures a steady state, changes one mapping
out of band and times the fix. Everything it reports is measured: the emulator counts every
Lambda call, the controller's /metrics counts reconciles, and /proc gives RSS and CPU time.
The last line printed is one JSON object.
"""

import argparse
import json
import os
import random
import shlex
import socket
import subprocess
import sys
import threading
import time
import urllib.request

QUOTA = 15.0  # Lambda's control-plane requests per second (the emulator enforces it)


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
    def start_controller(self):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.http_port = s.getsockname()[1]
        cmd = [self.args.controller, "run",
               "--observe", self.args.mode,
               "--aws-rate-limit", str(self.args.rate), "--aws-burst", str(self.args.burst),
               "--concurrency", str(self.args.concurrency),
               "--resync-period", "5m", "--sweep-interval", "60s",
               "--namespaces", self.ns, "--cluster-name", "bench", "--region", "us-east-1",
               "--http-addr", f"127.0.0.1:{self.http_port}",
               "--log-format", "json", "--log-level", os.environ.get("BENCH_LOG_LEVEL", "warn")]
        env = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/tmp"),
               "KUBECONFIG": self.env["KUBECONFIG"], "AWS_ACCESS_KEY_ID": "testing",
               "AWS_SECRET_ACCESS_KEY": "testing", "AWS_REGION": "us-east-1",
               "AWS_EC2_METADATA_DISABLED": "true",
               "AWS_ENDPOINT_URL_LAMBDA": self.env["LAMBDA_ENDPOINT"]}
        self.log_path = os.path.join(self.env.get("TESTBED_DIR", "."), "logs", f"controller-{self.ns}.log")
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
        out = self.kubectl("get", "esm", "-n", self.ns, "--no-headers",
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

        log(f"steady state for {self.args.steady}s")
        m1, c1, s1 = self.metrics(), self.calls(), time.time()
        time.sleep(self.args.steady)
        m2, c2, s2 = self.metrics(), self.calls(), time.time()
        steady_calls = sum(c2.values()) - sum(c1.values())
        steady_rate = steady_calls / (s2 - s1)

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

        # Drift: change one mapping out of band and time the fix.
        # (A resource that has its mapping: under --ready-timeout some may not yet.)
        for _ in range(100):
            name = f"m-{random.randrange(n):05d}"
            uuid = self.kubectl("get", "esm", "-n", self.ns, name, "-o", "jsonpath={.status.uuid}")
            if uuid:
                break
        self.admin(f"/mappings/{uuid}/oob-update", {"BatchSize": 7})
        t1 = time.time()
        fixed = None
        while time.time() - t1 < 300:
            if self.admin(f"/mappings/{uuid}").get("BatchSize") == 5:
                fixed = time.time() - t1
                break
            time.sleep(0.5)
        log(f"drift on {name} fixed after {fixed}s")

        rss, cpu = self.proc_stats()
        calls_end = self.calls()
        by_op = {op: calls_end.get(op, 0) - calls_start.get(op, 0) for op in calls_end}
        result = {
            "n": n,
            "mode": mode,
            "seconds_to_all_ready": None if all_ready is None else round(all_ready, 1),
            "ready_when_measured": ready,
            "quota_bound_seconds": round(n / QUOTA, 1),
            "steady_aws_calls_per_second": round(steady_rate, 3),
            "drift_fix_seconds": None if fixed is None else round(fixed, 1),
            "noop_reconcile_aws_calls": round(noop_calls, 3),
            "aws_calls_by_operation": {k: v for k, v in sorted(by_op.items()) if v},
            "rss_mib": round(rss, 1),
            "cpu_seconds": round(cpu, 1),
            "create_phase_aws_calls": create_phase_calls,
            "steady_seconds": self.args.steady,
            "aws_rate_limit": self.args.rate,
            "aws_burst": self.args.burst,
        }
        return result

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
