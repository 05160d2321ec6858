#!/usr/bin/env python3
"""Checks the Dockerfile's invariants without a Docker engine (called by check-dockerfile.sh).

    check_dockerfile.py lint DOCKERFILE              the static invariants
    check_dockerfile.py self-test DOCKERFILE         each invariant fails on a mutated copy
    check_dockerfile.py context ROOT DEST            materialise the builder stage's /src: the
                                                     build context after .dockerignore, then the
                                                     builder's COPY instructions, into DEST
    check_dockerfile.py build-command DOCKERFILE     print the builder's `cargo build ...`
    check_dockerfile.py stated-size DOCKERFILE       print the binary size stated in the comment

Invariants (lint): multi-stage; the builder runs `cargo build` with --release and --locked; the
final stage is FROM distroless or scratch; it has exactly one COPY, which is --from an earlier
stage and copies one file (the binary); no RUN or ADD in the final stage; a numeric non-root
USER (uid:gid) in the final stage; exec-form ENTRYPOINT; no ADD of a URL anywhere; every image
reference has an explicit tag (or digest) that is not `latest`; .dockerignore keeps target/,
.testbed/ and .git/ out of the context.
"""

from __future__ import annotations

import fnmatch
import os
import re
import shlex
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Instr:
    line: int
    cmd: str  # upper-case
    args: str  # raw text after the command, continuations joined


@dataclass
class Stage:
    index: int
    base: str  # as written (ARGs substituted)
    name: str | None
    instrs: list[Instr] = field(default_factory=list)


def parse(text: str) -> tuple[dict[str, str], list[Stage]]:
    """Instructions with line continuations joined; ARGs before the first FROM substituted."""
    logical: list[tuple[int, str]] = []
    buf, start = "", 0
    for n, raw in enumerate(text.splitlines(), 1):
        stripped = raw.strip()
        if not buf and (not stripped or stripped.startswith("#")):
            continue
        if buf and stripped.startswith("#"):
            continue  # comment lines inside a continuation are dropped, as Docker does
        if not buf:
            start = n
        if stripped.endswith("\\"):
            buf += stripped[:-1] + " "
            continue
        buf += stripped
        logical.append((start, buf))
        buf = ""
    if buf:
        logical.append((start, buf))

    global_args: dict[str, str] = {}
    stages: list[Stage] = []
    for n, line in logical:
        cmd, _, rest = line.partition(" ")
        cmd, rest = cmd.upper(), rest.strip()
        if cmd == "ARG" and not stages:
            key, _, default = rest.partition("=")
            global_args[key.strip()] = default.strip().strip('"')
            continue
        if cmd == "FROM":
            words = [w for w in rest.split() if not w.startswith("--platform")]
            base = re.sub(
                r"\$\{?(\w+)\}?",
                lambda m: global_args.get(m.group(1), m.group(0)),
                words[0],
            )
            name = words[2] if len(words) >= 3 and words[1].lower() == "as" else None
            stages.append(Stage(len(stages), base, name))
            continue
        if not stages:
            raise SystemExit(f"line {n}: {cmd} before the first FROM")
        stages[-1].instrs.append(Instr(n, cmd, rest))
    return global_args, stages


def image_problems(ref: str, stage_names: set[str]) -> list[str]:
    if ref == "scratch" or ref in stage_names:
        return []
    if "@sha256:" in ref:
        return []
    last = ref.rsplit("/", 1)[-1]
    if ":" not in last:
        return [f"image {ref!r} has no tag (that means :latest); pin a version"]
    tag = last.split(":", 1)[1]
    if tag == "latest" or "$" in tag:
        return [f"image {ref!r}: tag {tag!r} is not a pinned version"]
    return []


def cargo_build_command(stages: list[Stage]) -> str | None:
    for stage in stages[:-1]:
        for instr in stage.instrs:
            if instr.cmd != "RUN":
                continue
            for part in re.split(r"&&|;", instr.args):
                words = [w for w in shlex.split(part) if not w.startswith("--mount=")]
                if words[:2] == ["cargo", "build"]:
                    return " ".join(words)
    return None


def dockerignore_patterns(root: Path) -> list[tuple[bool, str]] | None:
    path = root / ".dockerignore"
    if not path.exists():
        return None
    patterns = []
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        negate = line.startswith("!")
        pat = line[1:] if negate else line
        pat = os.path.normpath(pat.strip("/")) if pat.strip("/") else "."
        patterns.append((negate, pat))
    return patterns


def _match(pattern: str, path: str) -> bool:
    """Docker's rule: a pattern matches a path or any of its parent directories. `*` does not
    cross `/`; `**` matches any number of directories."""
    parts = path.split("/")
    for i in range(1, len(parts) + 1):
        prefix = "/".join(parts[:i])
        if _glob(pattern, prefix):
            return True
    return False


def _glob(pattern: str, path: str) -> bool:
    regex = ""
    i = 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            regex += "(?:.*/)?"
            i += 3
        elif pattern.startswith("**", i):
            regex += ".*"
            i += 2
        elif pattern[i] == "*":
            regex += "[^/]*"
            i += 1
        elif pattern[i] == "?":
            regex += "[^/]"
            i += 1
        else:
            regex += re.escape(pattern[i])
            i += 1
    return re.fullmatch(regex, path) is not None


def ignored(patterns: list[tuple[bool, str]], path: str) -> bool:
    result = False
    for negate, pat in patterns:
        if _match(pat, path):
            result = not negate
    return result


def lint(dockerfile: Path) -> list[str]:
    problems: list[str] = []
    _, stages = parse(dockerfile.read_text())
    if len(stages) < 2:
        return [f"not multi-stage: {len(stages)} FROM"]
    names = {s.name for s in stages if s.name}
    final = stages[-1]

    for stage in stages:
        problems += image_problems(stage.base, names - {stage.name})
        for instr in stage.instrs:
            if instr.cmd == "ADD" and re.search(r"(https?|ftp)://|git@", instr.args):
                problems.append(f"line {instr.line}: ADD of a URL (download in a RUN with a checksum, or COPY)")
            m = re.search(r"--from=(\S+)", instr.args)
            if instr.cmd == "COPY" and m and not m.group(1).isdigit() and m.group(1) not in names:
                problems += image_problems(m.group(1), set())

    cmd = cargo_build_command(stages)
    if cmd is None:
        problems.append("no `cargo build` in a RUN of a build stage")
    else:
        words = cmd.split()
        for flag in ("--release", "--locked"):
            if flag not in words:
                problems.append(f"the builder's `{cmd}` lacks {flag}")

    base = final.base
    if not (base == "scratch" or re.match(r"^(gcr\.io|cgr\.dev)/(distroless|chainguard)/", base)):
        problems.append(f"final stage FROM {base!r}: use distroless or scratch")

    copies = [i for i in final.instrs if i.cmd == "COPY"]
    if len(copies) != 1:
        problems.append(f"final stage has {len(copies)} COPY instructions; want exactly one (the binary)")
    for c in copies:
        m = re.search(r"--from=(\S+)", c.args)
        if not m:
            problems.append(f"line {c.line}: COPY in the final stage without --from (would copy build context)")
        elif not (m.group(1) in names - {final.name} or (m.group(1).isdigit() and int(m.group(1)) < final.index)):
            problems.append(f"line {c.line}: COPY --from={m.group(1)} is not an earlier stage")
        srcs = [w for w in c.args.split() if not w.startswith("--")][:-1]
        if len(srcs) != 1 or any(ch in srcs[0] for ch in "*?") or srcs[0].endswith("/"):
            problems.append(f"line {c.line}: the final COPY must copy one file (the binary), got {srcs}")
    for i in final.instrs:
        if i.cmd in ("ADD", "RUN"):
            problems.append(f"line {i.line}: {i.cmd} in the final stage")

    users = [i for i in final.instrs if i.cmd == "USER"]
    if not users:
        problems.append("no USER in the final stage (it would run as root)")
    else:
        user = users[-1].args.strip()
        m = re.fullmatch(r"(\d+)(?::(\d+))?", user)
        if not m:
            problems.append(f"USER {user!r} is not numeric uid[:gid] (runAsNonRoot needs a number)")
        elif int(m.group(1)) == 0 or (m.group(2) is not None and int(m.group(2)) == 0):
            problems.append(f"USER {user!r} is root")

    entry = [i for i in final.instrs if i.cmd == "ENTRYPOINT"]
    if not entry or not entry[-1].args.lstrip().startswith("["):
        problems.append("final stage needs an exec-form ENTRYPOINT [\"/binary\"]")

    patterns = dockerignore_patterns(dockerfile.parent)
    if patterns is None:
        problems.append("no .dockerignore next to the Dockerfile")
    else:
        for p in ("target/release/esm-controller", ".testbed/pki/ca.key", ".git/config"):
            if not ignored(patterns, p):
                problems.append(f".dockerignore lets {p} into the build context")
    return problems


MUTATIONS = [
    ("single stage", lambda t: t[t.index("FROM gcr.io"):]),
    ("no --locked", lambda t: t.replace(" --locked", "")),
    ("no --release", lambda t: t.replace("cargo build --release", "cargo build")),
    ("root USER", lambda t: re.sub(r"^USER .*$", "USER 0:0", t, flags=re.M)),
    ("named USER", lambda t: re.sub(r"^USER .*$", "USER nonroot", t, flags=re.M)),
    ("no USER", lambda t: re.sub(r"^USER .*$\n", "", t, flags=re.M)),
    ("debian runtime", lambda t: t.replace("FROM gcr.io/distroless/cc-debian12:nonroot", "FROM debian:bookworm-slim")),
    ("latest tag", lambda t: t.replace("cc-debian12:nonroot", "cc-debian12:latest")),
    ("untagged builder", lambda t: t.replace("rust:${RUST_VERSION}-bookworm", "rust")),
    ("second COPY", lambda t: t.replace("USER 65532", "COPY --from=builder /src/Cargo.toml /Cargo.toml\nUSER 65532")),
    ("COPY from context", lambda t: t.replace("COPY --from=builder /out/esm-controller", "COPY target/release/esm-controller")),
    ("ADD URL", lambda t: t.replace("WORKDIR /src", "WORKDIR /src\nADD https://example.com/x.tar.gz /x")),
    ("RUN in final", lambda t: t.replace("USER 65532", "RUN [\"/esm-controller\", \"--version\"]\nUSER 65532")),
    ("shell ENTRYPOINT", lambda t: t.replace('ENTRYPOINT ["/esm-controller"]', "ENTRYPOINT /esm-controller")),
]


def self_test(dockerfile: Path) -> int:
    """Every invariant must be able to fail: each mutation of the real Dockerfile must be
    reported, and the real one must pass."""
    import tempfile

    text = dockerfile.read_text()
    failures = 0
    base = lint(dockerfile)
    if base:
        print("FAIL - the Dockerfile itself does not pass:", *base, sep="\n  ")
        return 1
    with tempfile.TemporaryDirectory() as tmp:
        shutil.copy(dockerfile.parent / ".dockerignore", Path(tmp) / ".dockerignore")
        for name, mutate in MUTATIONS:
            mutated = mutate(text)
            if mutated == text:
                print(f"FAIL - mutation {name!r} did not change the Dockerfile (update the self-test)")
                failures += 1
                continue
            path = Path(tmp) / "Dockerfile"
            path.write_text(mutated)
            problems = lint(path)
            if problems:
                print(f"ok   - mutation {name!r} is caught: {problems[0]}")
            else:
                print(f"FAIL - mutation {name!r} passes the lint")
                failures += 1
        # A .dockerignore that lets the test bed's secrets in must be caught too.
        (Path(tmp) / "Dockerfile").write_text(text)
        (Path(tmp) / ".dockerignore").write_text("target\n")
        if lint(Path(tmp) / "Dockerfile"):
            print("ok   - mutation '.dockerignore without .testbed' is caught")
        else:
            print("FAIL - a .dockerignore without .testbed passes the lint")
            failures += 1
    return 1 if failures else 0


def materialise_context(root: Path, dest: Path) -> None:
    """What the builder stage's WORKDIR holds before its RUN: the build context (after
    .dockerignore) filtered through the builder's COPY instructions. Files keep their mtimes so
    that cargo's fingerprints stay valid between runs."""
    _, stages = parse((root / "Dockerfile").read_text())
    patterns = dockerignore_patterns(root) or []
    context: list[str] = []
    for dirpath, dirnames, filenames in os.walk(root):
        rel_dir = os.path.relpath(dirpath, root)
        # Never part of a real build context (and .dockerignore is checked to exclude them).
        dirnames[:] = [d for d in dirnames if not (rel_dir == "." and d in (".git", "target", ".testbed"))]
        for f in filenames:
            rel = os.path.normpath(os.path.join(rel_dir, f))
            if not ignored(patterns, rel):
                context.append(rel)
    context_set = set(context)
    wanted: dict[str, str] = {}  # dest rel -> source rel
    for instr in stages[0].instrs:
        if instr.cmd != "COPY" or "--from=" in instr.args:
            continue
        words = [w for w in instr.args.split() if not w.startswith("--")]
        srcs, target = words[:-1], words[-1]
        for src in srcs:
            src = os.path.normpath(src)
            matched = [p for p in context_set if p == src or p.startswith(src + "/")]
            if not matched:
                raise SystemExit(f"COPY {src}: nothing in the build context (check .dockerignore)")
            for p in matched:
                if p == src:  # a file: into a directory target, or as the target
                    is_dir = target.endswith("/") or target in (".", "./")
                    out = os.path.join(target, os.path.basename(p)) if is_dir else target
                else:  # a directory: its contents go into the target
                    out = os.path.join(target, os.path.relpath(p, src))
                wanted[os.path.normpath(out)] = p
    # Sync dest to exactly `wanted`.
    dest.mkdir(parents=True, exist_ok=True)
    for dirpath, dirnames, filenames in os.walk(dest):
        dirnames[:] = [d for d in dirnames if not (dirpath == str(dest) and d == "target")]
        for f in filenames:
            rel = os.path.relpath(os.path.join(dirpath, f), dest)
            if rel not in wanted:
                os.remove(os.path.join(dirpath, f))
    for out, src in wanted.items():
        s, d = root / src, dest / out
        d.parent.mkdir(parents=True, exist_ok=True)
        if not d.exists() or d.stat().st_mtime_ns != s.stat().st_mtime_ns or d.read_bytes() != s.read_bytes():
            shutil.copy2(s, d)
    print(f"{len(wanted)} files from the build context", file=sys.stderr)


def stated_size(dockerfile: Path) -> str:
    m = re.search(r"binary \(~(\d+(?:\.\d+)?) MiB", dockerfile.read_text())
    if not m:
        raise SystemExit("the Dockerfile does not state the binary size as 'binary (~N MiB'")
    return m.group(1)


def main() -> int:
    if len(sys.argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    mode = sys.argv[1]
    if mode == "lint":
        problems = lint(Path(sys.argv[2]))
        for p in problems:
            print(f"FAIL - {p}")
        if not problems:
            print("ok   - Dockerfile invariants hold")
        return 1 if problems else 0
    if mode == "self-test":
        return self_test(Path(sys.argv[2]))
    if mode == "context":
        materialise_context(Path(sys.argv[2]), Path(sys.argv[3]))
        return 0
    if mode == "build-command":
        _, stages = parse(Path(sys.argv[2]).read_text())
        cmd = cargo_build_command(stages)
        if not cmd:
            return 1
        print(cmd)
        return 0
    if mode == "stated-size":
        print(stated_size(Path(sys.argv[2])))
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
