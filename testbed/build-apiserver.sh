#!/usr/bin/env bash
# Builds (or finds in the cache) the test bed's kube-apiserver binary and
# prints its absolute path on stdout. Progress goes to stderr.
#
#   ESM_CACHE_DIR   cache root (default ${XDG_CACHE_HOME:-$HOME/.cache}/esm-controller)
#   BUILD_LOG       where `go build` output goes (default: stderr)
#   FORCE_REBUILD=1 ignore the cached binary
#
# Cache key: the binary is named kube-apiserver-<first 16 hex of sha256(go.sum)>.
# A sidecar file <binary>.src records a hash of go.mod, go.sum, *.go and the
# build flags; if it differs (e.g. main.go changed but go.sum did not), the
# binary is rebuilt in place (cheap: the Go build cache still has the deps).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
src="$here/kube-apiserver"
cache="${ESM_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/esm-controller}"
[[ "$cache" = /* ]] || cache="$PWD/$cache"
bindir="$cache/bin"
mkdir -p "$bindir"

if ! command -v go >/dev/null 2>&1; then
  echo "build-apiserver: 'go' is not on PATH (Go >= 1.26 is needed to build k8s.io/kubernetes)" >&2
  exit 1
fi

sum_hash="$(sha256sum "$src/go.sum" | cut -c1-16)"
bin="$bindir/kube-apiserver-$sum_hash"

k8s_version="$(awk '$1=="k8s.io/kubernetes" && $2 ~ /^v/ {print $2; exit}' "$src/go.mod")"
if [[ -z "$k8s_version" ]]; then
  echo "build-apiserver: cannot find the k8s.io/kubernetes requirement in $src/go.mod" >&2
  exit 1
fi
major="${k8s_version#v}"; major="${major%%.*}"
minor="${k8s_version#v*.}"; minor="${minor%%.*}"
ldflags="-s -w"
for kv in "gitVersion=$k8s_version" "gitMajor=$major" "gitMinor=$minor" "gitTreeState=clean"; do
  ldflags="$ldflags -X k8s.io/component-base/version.$kv"
done
buildflags=(-trimpath -buildvcs=false -ldflags "$ldflags")

src_hash="$( { cat "$src/go.mod" "$src/go.sum" "$src"/*.go; printf '%s\n' "${buildflags[@]}"; go env GOVERSION; } | sha256sum | cut -c1-64)"

fresh() { [[ -x "$bin" && -f "$bin.src" && "$(cat "$bin.src")" == "$src_hash" ]]; }

if [[ "${FORCE_REBUILD:-0}" != 1 ]] && fresh; then
  echo "$bin"
  exit 0
fi

# One build at a time per cache (parallel `bed.sh up`s would otherwise race).
exec 9>"$bin.lock"
if ! flock -n 9; then
  echo "build-apiserver: another build holds $bin.lock; waiting..." >&2
  flock 9
fi
if [[ "${FORCE_REBUILD:-0}" != 1 ]] && fresh; then
  echo "$bin"
  exit 0
fi

echo "build-apiserver: building k8s.io/kubernetes $k8s_version kube-apiserver -> $bin" >&2
echo "build-apiserver: (a cold first build takes ~6-10 min on 2 cores; later ones hit the Go build cache)" >&2
start=$(date +%s)
tmp="$bin.tmp.$$"
trap 'rm -f "$tmp"' EXIT
(
  cd "$src"
  if [[ -n "${BUILD_LOG:-}" ]]; then
    go build "${buildflags[@]}" -o "$tmp" . >>"$BUILD_LOG" 2>&1 || {
      echo "build-apiserver: go build failed; last lines of $BUILD_LOG:" >&2
      tail -n 40 "$BUILD_LOG" >&2
      exit 1
    }
  else
    go build "${buildflags[@]}" -o "$tmp" . >&2
  fi
)
mv -f "$tmp" "$bin"
printf '%s\n' "$src_hash" >"$bin.src"
echo "build-apiserver: built in $(( $(date +%s) - start ))s" >&2
echo "$bin"
