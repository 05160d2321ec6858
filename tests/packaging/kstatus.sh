#!/usr/bin/env bash
# kstatus (sigs.k8s.io/cli-utils/pkg/kstatus/status, the library Flux, kpt and cli-utils'
# apply use to wait for resources) against sample EventSourceMappings shaped like the ones the
# controller writes: each tests/packaging/kstatus/testdata/*.json names the status kstatus must
# compute in its annotation esm-controller.dev/test-expect-kstatus.
#
#   bash tests/packaging/kstatus.sh
#
# Prints one ok/FAIL line per sample and "N passed, N failed" (run.sh adds it up).
#
# The checker (kstatus/main.go) is built with Go from kstatus/go.mod (the module proxy serves
# the library) into $ESM_CACHE_DIR/bin/kstatus-<digest of go.mod, go.sum, main.go>: the first
# run takes a minute, later runs reuse it. Go's module and build caches make a rebuild cheap.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
SRC="$HERE/kstatus"
ESM_CACHE_DIR="${ESM_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/esm-controller}"
command -v go >/dev/null || { echo "kstatus.sh: go is required" >&2; exit 1; }

digest="$(cat "$SRC/go.mod" "$SRC/go.sum" "$SRC/main.go" | sha256sum | cut -c1-16)"
bin_dir="$ESM_CACHE_DIR/bin"
bin="$bin_dir/kstatus-$digest"
if [[ ! -x "$bin" ]]; then
  mkdir -p "$bin_dir"
  exec 9>"$bin_dir/kstatus.lock"
  flock 9 # one build at a time; a waiting run then finds the binary
  if [[ ! -x "$bin" ]]; then
    echo "kstatus.sh: building the kstatus checker (first run only)" >&2
    tmp="$(mktemp "$bin_dir/.kstatus-build.XXXXXX")"
    (cd "$SRC" && CGO_ENABLED=0 GOFLAGS="${GOFLAGS:-} -mod=readonly -trimpath -buildvcs=false" go build -o "$tmp" .) >&2 \
      || { rm -f "$tmp"; echo "kstatus.sh: go build failed" >&2; exit 1; }
    mv -f "$tmp" "$bin"
    for old in "$bin_dir"/kstatus-*; do [[ "$old" == "$bin" || "$old" == *.lock ]] || rm -f "$old"; done
  fi
  exec 9>&-
fi

lib="$(awk '$1 == "sigs.k8s.io/cli-utils" {print $2; exit}' "$SRC/go.mod")"
echo "kstatus: sigs.k8s.io/cli-utils $lib ($bin)"

pass=0 fail=0
for f in "$SRC"/testdata/*.json; do
  name="$(basename "$f" .json)"
  want="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["metadata"]["annotations"]["esm-controller.dev/test-expect-kstatus"])' "$f")"
  if ! line="$("$bin" "$f" 2>&1)"; then
    fail=$((fail + 1)); echo "FAIL - kstatus $name: $line"; continue
  fi
  got="$(cut -f2 <<<"$line")"
  msg="$(cut -f3- <<<"$line")"
  if [[ "$got" == "$want" ]]; then
    pass=$((pass + 1)); echo "ok   - kstatus $name -> $got ($msg)"
  else
    fail=$((fail + 1)); echo "FAIL - kstatus $name -> $got, want $want ($msg)"
  fi
done
echo "kstatus: $pass passed, $fail failed"
((fail == 0))
