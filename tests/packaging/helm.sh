#!/usr/bin/env bash
# Prints the path of a helm binary built from its Go module (no binary downloads): the first
# run does `go install helm.sh/helm/<major>/cmd/helm@$HELM_VERSION` into the cache, later runs
# find it there and return at once.
#
#   HELM_VERSION   default v4.3.1 (the newest release on the Go module proxy when this was
#                  written; its go.mod says go 1.26.0, and it builds with Go 1.26). v3.x works too.
#   ESM_CACHE_DIR  cache root, default ${XDG_CACHE_HOME:-$HOME/.cache}/esm-controller
#   FORCE_REBUILD  1: build even if cached
#
# Cache: $ESM_CACHE_DIR/bin/helm-<version> (+ .lock while building). Go's module and build
# caches (go env GOMODCACHE / GOCACHE) make a rebuild cheap. Build output goes to stderr.
set -euo pipefail

HELM_VERSION="${HELM_VERSION:-v4.3.1}"
ESM_CACHE_DIR="${ESM_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/esm-controller}"
bin_dir="$ESM_CACHE_DIR/bin"
out="$bin_dir/helm-$HELM_VERSION"

[[ "$HELM_VERSION" =~ ^v([34])\.[0-9]+\.[0-9]+$ ]] || {
  echo "helm.sh: HELM_VERSION must look like v4.3.1 or v3.22.0, got '$HELM_VERSION'" >&2
  exit 2
}
major="v${BASH_REMATCH[1]}"

usable() { [[ -x "$1" ]] && "$1" version --short 2>/dev/null | grep -q "^${HELM_VERSION}"; }

if [[ "${FORCE_REBUILD:-0}" != 1 ]] && usable "$out"; then
  echo "$out"
  exit 0
fi

command -v go >/dev/null || { echo "helm.sh: go is required to build helm (Go 1.26 or later)" >&2; exit 1; }
mkdir -p "$bin_dir"
exec 9>"$out.lock"
flock 9 # one build at a time; a waiting run then finds the binary
if [[ "${FORCE_REBUILD:-0}" != 1 ]] && usable "$out"; then
  echo "$out"
  exit 0
fi

tmp="$(mktemp -d "$bin_dir/.helm-build.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
echo "helm.sh: building helm $HELM_VERSION from helm.sh/helm/$major (first run only, ~2-3 min)" >&2
# The same flags as helm's own Makefile: static, stripped, version stamped.
ldflags="-s -w -X helm.sh/helm/$major/internal/version.version=$HELM_VERSION"
if [[ "$major" == v3 ]]; then
  # Helm 3 takes its default Kubernetes version (for kubeVersion checks in `helm template` and
  # `helm lint`) from ldflags, derived from its client-go; without them it assumes 1.20.
  gomod="$(cd "$tmp" && go mod download -json "helm.sh/helm/v3@$HELM_VERSION" | python3 -c 'import json,sys; print(json.load(sys.stdin)["GoMod"])')"
  minor="$(awk '$1 == "k8s.io/client-go" {print $2; exit}' "$gomod" | cut -d. -f2)"
  [[ "$minor" =~ ^[0-9]+$ ]] || { echo "helm.sh: cannot find k8s.io/client-go in $gomod" >&2; exit 1; }
  for pkg in pkg/lint/rules pkg/chartutil; do
    ldflags="$ldflags -X helm.sh/helm/v3/$pkg.k8sVersionMajor=1 -X helm.sh/helm/v3/$pkg.k8sVersionMinor=$minor"
  done
fi
(
  cd "$tmp"
  GOBIN="$tmp" CGO_ENABLED=0 GOFLAGS="${GOFLAGS:-} -trimpath" go install -ldflags "$ldflags" \
    "helm.sh/helm/$major/cmd/helm@$HELM_VERSION"
) >&2
mv -f "$tmp/helm" "$out"
usable "$out" || { echo "helm.sh: built $out but 'helm version' does not report $HELM_VERSION" >&2; exit 1; }
echo "$out"
