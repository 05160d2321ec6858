#!/usr/bin/env bash
# shellcheck disable=SC2015,SC2001  # ok/bad/skip always succeed, so `cond && ok || bad` is safe
# Enforces the Dockerfile's invariants without a Docker engine, then proves its build works:
#   1. static invariants (check_dockerfile.py lint), and a self-test that mutated copies of the
#      Dockerfile (root USER, no --locked, :latest, a second COPY, ...) are each caught;
#   2. the builder stage's /src is recreated from the build context (.dockerignore applied,
#      then the builder's COPY lines) in $ESM_CACHE_DIR/docker-context/src, and the
#      Dockerfile's own `cargo build ...` command runs there (so a file missing from the
#      context or a stale Cargo.lock fails here, as it would in `docker build`);
#   3. the binary runs (--version, `crd`), needs no shared library beyond what
#      distroless/cc-debian12 ships, and its size matches the one stated in the Dockerfile
#      (within 35%).
# Env: ESM_CACHE_DIR; ESM_RELEASE_TARGET_DIR (default $ESM_CACHE_DIR/target-release, kept
# apart from the debug target dir); CHECK_DOCKERFILE_SKIP_BUILD=1 skips steps 2-3 (reported).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
HERE="$ROOT/tests/packaging"
export ESM_CACHE_DIR="${ESM_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/esm-controller}"
target_dir="${ESM_RELEASE_TARGET_DIR:-$ESM_CACHE_DIR/target-release}"

pass=0 fail=0
ok() { pass=$((pass + 1)); echo "ok   - $*"; }
bad() { fail=$((fail + 1)); echo "FAIL - $*"; }

if out="$(python3 "$HERE/check_dockerfile.py" lint "$ROOT/Dockerfile")"; then ok "Dockerfile invariants"; else echo "$out"; bad "Dockerfile invariants"; fi
if out="$(python3 "$HERE/check_dockerfile.py" self-test "$ROOT/Dockerfile")"; then
  ok "each invariant catches a mutated Dockerfile ($(grep -c '^ok' <<<"$out") mutations)"
else
  echo "$out"; bad "Dockerfile lint self-test"
fi

if [[ "${CHECK_DOCKERFILE_SKIP_BUILD:-0}" == 1 ]]; then
  echo "SKIP - the Dockerfile's cargo build (CHECK_DOCKERFILE_SKIP_BUILD=1)"
else
  cmd="$(python3 "$HERE/check_dockerfile.py" build-command "$ROOT/Dockerfile")"
  ctx="$ESM_CACHE_DIR/docker-context/src"
  python3 "$HERE/check_dockerfile.py" context "$ROOT" "$ctx"
  echo "     building in $ctx: $cmd (CARGO_TARGET_DIR=$target_dir)"
  start=$SECONDS
  log="$(mktemp)"
  trap 'rm -f "$log"' EXIT
  # shellcheck disable=SC2086  # the command is word-split as the Dockerfile's shell would
  if (cd "$ctx" && CARGO_TARGET_DIR="$target_dir" $cmd) >"$log" 2>&1; then
    ok "the Dockerfile's '$cmd' builds from the build context ($((SECONDS - start)) s)"
  else
    tail -n 40 "$log"; bad "the Dockerfile's '$cmd' fails on the build context"
  fi
  bin="$target_dir/release/esm-controller"
  if [[ -x "$bin" ]]; then
    version="$("$bin" --version 2>&1 || true)"
    [[ "$version" == "esm-controller "* ]] && ok "the binary runs: $version" || bad "the binary's --version: $version"
    "$bin" crd | grep -q 'kind: CustomResourceDefinition' && ok "the binary prints the CRD" || bad "esm-controller crd"
    # Shared libraries it needs, against what distroless/cc-debian12 provides (libc6,
    # libgcc-s1, libgomp1, libstdc++6, libssl3).
    extra="$(ldd "$bin" | awk '{print $1}' | grep -vE '^(linux-vdso\.so\.1|/lib64/ld-linux-x86-64\.so\.2|/lib/ld-linux-aarch64\.so\.1|libc\.so\.6|libm\.so\.6|libdl\.so\.2|libpthread\.so\.0|librt\.so\.1|libgcc_s\.so\.1|libstdc\+\+\.so\.6|libgomp\.so\.1|libssl\.so\.3|libcrypto\.so\.3)$' || true)"
    [[ -z "$extra" ]] && ok "its shared libraries are all in distroless/cc: $(ldd "$bin" | awk '{print $1}' | tr '\n' ' ')" \
      || bad "it needs libraries distroless/cc does not ship: $extra"
    bytes="$(stat -c %s "$bin")"
    mib="$(python3 -c "print(f'{$bytes/1048576:.1f}')")"
    stated="$(python3 "$HERE/check_dockerfile.py" stated-size "$ROOT/Dockerfile")"
    if python3 -c "import sys; sys.exit(0 if abs($mib-$stated) <= 0.35*$stated else 1)"; then
      ok "binary size $mib MiB matches the Dockerfile's stated ~$stated MiB"
    else
      bad "binary size $mib MiB is far from the Dockerfile's stated ~$stated MiB: update the comment"
    fi
  else
    bad "no binary at $bin"
  fi
fi
echo "check-dockerfile: $pass passed, $fail failed"
(( fail == 0 ))
