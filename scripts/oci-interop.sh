#!/usr/bin/env bash
# Proves that wasmward's OCI artefacts interoperate with the real oras CLI
# (oras.land/oras v1.3.x), both directions, against a real registry (the
# distribution v3 registry of internal/oci/ocitest, on loopback):
#   wasmward push           -> oras pull (same bytes), oras manifest fetch (the wasm layout)
#   oras push (wasm layout) -> wasmward pull (same bytes), also digest-pinned
#   oras push (2 layers)    -> refused by wasmward pull
#   wasmward push (auth)    -> oras pull with oras login credentials (docker config file)
#   oras push (auth)        -> wasmward pull reading the same docker config file
#
# Builds oras from the Go module proxy into a temporary directory (about a
# minute; cached by the Go build cache), unless ORAS=/path/to/oras is set.
# Usage: scripts/oci-interop.sh        (ORAS_VERSION overrides v1.3.6)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
export DOCKER_CONFIG="$work/docker" # never the machine's credentials
mkdir -p "$DOCKER_CONFIG"

step() { printf '== %s\n' "$*"; }
fail() { printf 'FAIL: %s\n' "$*" >&2; exit 1; }

oras=${ORAS:-}
if [ -z "$oras" ]; then
  version=${ORAS_VERSION:-v1.3.6}
  step "building oras $version into $work/bin"
  start=$(date +%s)
  GOBIN="$work/bin" go install "oras.land/oras/cmd/oras@$version"
  oras="$work/bin/oras"
  echo "built in $(( $(date +%s) - start ))s"
fi
"$oras" version > "$work/oras-version" && head -1 "$work/oras-version"

step "building wasmward and the test registry"
go build -o "$work/wasmward" ./cmd/wasmward
go build -o "$work/registry" ./internal/oci/ocitest/registry
ww="$work/wasmward"

# start_registry VAR [USER]: starts a registry (requiring USER/$OCITEST_PASSWORD
# when given) and sets VAR to its HOST:PORT.
start_registry() {
  local out="$work/registry-$1.out"
  "$work/registry" ${2:+-htpasswd-user "$2"} >"$out" 2>&1 &
  pids+=($!)
  for _ in $(seq 100); do
    if grep -q '^listening ' "$out"; then
      printf -v "$1" '%s' "$(sed -n 's/^listening //p' "$out")"
      return
    fi
    sleep 0.1
  done
  cat "$out" >&2
  fail "the registry did not start"
}
start_registry reg

cd "$work"
cp "$root/internal/fixture/wasm/gw_hello.wasm" module.wasm

step "wasmward push -> oras pull"
"$ww" push module.wasm "$reg/ww/hello:v1" --created 2026-01-02T03:04:05Z | tee push.out
pinned=$(sed -n 's/^pushed \([^ ]*\) .*/\1/p' push.out)
mkdir -p oras-pulled
"$oras" pull --plain-http "$reg/ww/hello:v1" -o oras-pulled >/dev/null
cmp module.wasm oras-pulled/module.wasm && echo "oras pulled the same bytes"
rm -rf oras-pulled && mkdir oras-pulled
"$oras" pull --plain-http "$pinned" -o oras-pulled >/dev/null
cmp module.wasm oras-pulled/module.wasm && echo "oras pulled the same bytes by digest ($pinned)"

step "oras manifest fetch: the wasm artefact layout"
"$oras" manifest fetch --plain-http "$reg/ww/hello:v1" > manifest.json
python3 - manifest.json <<'EOF'
import json, sys
m = json.load(open(sys.argv[1]))
assert m["mediaType"] == "application/vnd.oci.image.manifest.v1+json", m
assert m["config"]["mediaType"] == "application/vnd.wasm.config.v0+json", m
assert [l["mediaType"] for l in m["layers"]] == ["application/wasm"], m
print("manifest: OCI image manifest, config application/vnd.wasm.config.v0+json, one application/wasm layer")
EOF
"$oras" blob fetch --plain-http --output config.json "$reg/ww/hello@$(python3 -c 'import json;print(json.load(open("manifest.json"))["config"]["digest"])')"
python3 - config.json <<'EOF'
import json, sys
c = json.load(open(sys.argv[1]))
assert c["architecture"] == "wasm" and c["os"] == "wasip1" and c["component"] is None and len(c["layerDigests"]) == 1, c
print("config:", json.dumps(c, sort_keys=True))
EOF

step "oras push (wasm layout) -> wasmward pull"
printf '{"created":"2026-01-02T03:04:05Z","architecture":"wasm","os":"wasip1","layerDigests":["sha256:%s"],"component":null}' \
  "$(sha256sum module.wasm | cut -d' ' -f1)" > wasm-config.json
"$oras" push --plain-http "$reg/oras/hello:v1" \
  --config wasm-config.json:application/vnd.wasm.config.v0+json module.wasm:application/wasm | tee oras-push.out
"$ww" pull "$reg/oras/hello:v1" -o ww-pulled.wasm
cmp module.wasm ww-pulled.wasm && echo "wasmward pulled the same bytes"
digest=$("$oras" resolve --plain-http "$reg/oras/hello:v1")
"$ww" pull "$reg/oras/hello@$digest" -o ww-pinned.wasm
cmp module.wasm ww-pinned.wasm && echo "wasmward pulled the same bytes by digest ($digest)"
"$ww" pull "$reg/oras/hello:v1" --store "$work/store" | tee store-pull.out
"$ww" store ls --store "$work/store" --verify | grep -q "pin/$reg/oras/hello:v1" && echo "stored and pinned"

step "oras push of an older layer type (application/vnd.wasm.content.layer.v1+wasm) -> wasmward pull"
"$oras" push --plain-http "$reg/oras/legacy:v1" --artifact-type application/vnd.wasm.config.v1+json \
  module.wasm:application/vnd.wasm.content.layer.v1+wasm >/dev/null
"$ww" pull "$reg/oras/legacy:v1" -o legacy.wasm
cmp module.wasm legacy.wasm && echo "accepted"

step "oras push with two layers -> refused by wasmward pull"
cp module.wasm second.wasm
"$oras" push --plain-http "$reg/oras/two:v1" --artifact-type application/vnd.wasm.config.v0+json \
  module.wasm:application/wasm second.wasm:application/wasm >/dev/null
if "$ww" pull "$reg/oras/two:v1" -o two.wasm 2>two.err; then fail "wasmward pulled a two-layer artefact"; fi
grep -q "has 2 layers" two.err && [ ! -e two.wasm ] && echo "refused: $(cat two.err)"

step "registry with htpasswd: oras login / docker config file, both directions"
export OCITEST_PASSWORD=interop-Pa55
start_registry areg ci
unset OCITEST_PASSWORD
if "$ww" push module.wasm "$areg/private/hello:v1" 2>noauth.err; then fail "pushed without credentials"; fi
grep -q "check the credentials" noauth.err && echo "refused without credentials"
echo interop-Pa55 | "$oras" login --plain-http -u ci --password-stdin "$areg" >/dev/null
grep -q "$areg" "$DOCKER_CONFIG/config.json" && echo "oras login wrote $DOCKER_CONFIG/config.json"
"$ww" push module.wasm "$areg/private/hello:v1" >/dev/null
rm -rf oras-pulled && mkdir oras-pulled
"$oras" pull --plain-http "$areg/private/hello:v1" -o oras-pulled >/dev/null
cmp module.wasm oras-pulled/module.wasm && echo "wasmward push (docker config) -> oras pull: same bytes"
"$oras" push --plain-http "$areg/private/oras:v1" \
  --config wasm-config.json:application/vnd.wasm.config.v0+json module.wasm:application/wasm >/dev/null
"$ww" pull "$areg/private/oras:v1" -o private.wasm
cmp module.wasm private.wasm && echo "oras push -> wasmward pull (docker config): same bytes"
rm "$DOCKER_CONFIG/config.json"
echo interop-Pa55 | "$ww" pull "$areg/private/oras:v1" --username ci --password-stdin -o private2.wasm 2>pw.err
cmp module.wasm private2.wasm && ! grep -q interop-Pa55 pw.err && echo "--username/--password-stdin: same bytes, password not printed"

step "all oras interoperability checks passed"
