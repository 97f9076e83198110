#!/usr/bin/env bash
# Proves that wasmward's cosign-style detached signatures interoperate with the
# real cosign CLI, in both directions, offline (no transparency log):
#   cosign keys + cosign sign-blob (signature, bundle v0.3)  ->  wasmward verify
#   cosign's encrypted key                                    ->  wasmward sign  ->  cosign verify-blob
#   wasmward keygen/sign (signature, bundle)                  ->  cosign verify-blob
#   wasmward's encrypted key                                  ->  cosign sign-blob  ->  wasmward verify
#   a modified module                                         ->  refused by both
#   RSA (PKCS#1 v1.5, SHA-256; cosign's scheme for RSA keys), both directions:
#   wasmward keygen --type rsa -> cosign import-key-pair -> cosign sign-blob (sig, bundle) -> wasmward verify
#   wasmward sign (its own key, and cosign's imported encrypted key)      -> cosign verify-blob
#   a modified module signed with RSA                                     -> refused by both
#   OCI artefacts in a registry: wasmward push --key -> cosign verify --key;
#   cosign sign --key -> wasmward pull --trust; untrusted/unsigned refused by both
# RSA-PSS is wasmward-only: cosign's sign-blob/verify-blob use PKCS#1 v1.5 for RSA keys.
#
# Builds cosign from source into a temporary directory (a few minutes; needs
# network access to the Go module proxy), unless COSIGN=/path/to/cosign is set.
# Usage: scripts/cosign-interop.sh        (COSIGN_VERSION overrides v2.6.5)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export TUF_ROOT="$work/tuf" # keep cosign's TUF cache out of $HOME

step() { printf '== %s\n' "$*"; }
fail() { printf 'FAIL: %s\n' "$*" >&2; exit 1; }

cosign=${COSIGN:-}
if [ -z "$cosign" ]; then
  version=${COSIGN_VERSION:-v2.6.5}
  step "building cosign $version into $work/bin"
  start=$(date +%s)
  GOBIN="$work/bin" go install "github.com/sigstore/cosign/v2/cmd/cosign@$version"
  cosign="$work/bin/cosign"
  echo "built in $(( $(date +%s) - start ))s"
fi
"$cosign" version 2>/dev/null | grep -E '^GitVersion' || true

step "building wasmward"
go build -o "$work/wasmward" ./cmd/wasmward
ww="$work/wasmward"

cd "$work"
cp "$root/internal/fixture/wasm/trust_hello.wasm" module.wasm
cp module.wasm modified.wasm
printf '\x00\x04\x03abc' >> modified.wasm # one custom section appended
# An empty trusted root: cosign needs one for new-format bundles, and with
# --insecure-ignore-tlog it then verifies with the key alone, offline.
echo '{"mediaType":"application/vnd.dev.sigstore.trustedroot+json;version=0.1"}' > trusted_root.json
cverify() { "$cosign" verify-blob --insecure-ignore-tlog=true "$@" 2>&1; }

step "cosign generate-key-pair (encrypted, COSIGN_PASSWORD)"
COSIGN_PASSWORD=cosign-pass "$cosign" generate-key-pair >/dev/null 2>&1
grep -q "BEGIN ENCRYPTED SIGSTORE PRIVATE KEY" cosign.key && echo "cosign.key: encrypted (sigstore format)"

step "cosign sign-blob -> wasmward verify --sig"
COSIGN_PASSWORD=cosign-pass "$cosign" sign-blob --yes --key cosign.key --tlog-upload=false \
  --output-signature cosign.sig module.wasm >/dev/null 2>&1
"$ww" verify module.wasm --format cosign --key cosign.pub --sig cosign.sig

step "cosign sign-blob --bundle (v0.3) -> wasmward verify --bundle"
COSIGN_PASSWORD=cosign-pass "$cosign" sign-blob --yes --key cosign.key --tlog-upload=false \
  --new-bundle-format --bundle cosign.bundle module.wasm >/dev/null 2>&1
"$ww" verify module.wasm --format cosign --key cosign.pub --bundle cosign.bundle

step "wasmward sign with cosign's encrypted key -> cosign verify-blob"
COSIGN_PASSWORD=cosign-pass "$ww" sign module.wasm --format cosign --key cosign.key \
  -o ww-cosignkey.sig --bundle ww-cosignkey.bundle 2>/dev/null
cverify --key cosign.pub --signature ww-cosignkey.sig module.wasm | grep -v WARNING
cverify --key cosign.pub --new-bundle-format --trusted-root trusted_root.json --bundle ww-cosignkey.bundle module.wasm | grep -v WARNING

step "wasmward keygen (ecdsa-p256, encrypted) + sign -> cosign verify-blob"
WASMWARD_KEY_PASSWORD=ww-pass "$ww" keygen --type ecdsa-p256 --output-key-prefix ww >/dev/null
grep -q "BEGIN ENCRYPTED SIGSTORE PRIVATE KEY" ww.key && echo "ww.key: encrypted (sigstore format)"
WASMWARD_KEY_PASSWORD=ww-pass "$ww" sign module.wasm --format cosign --key ww.key \
  -o ww.sig --bundle ww.bundle 2>/dev/null
cverify --key ww.pub --signature ww.sig module.wasm | grep -v WARNING
cverify --key ww.pub --new-bundle-format --trusted-root trusted_root.json --bundle ww.bundle module.wasm | grep -v WARNING

step "cosign sign-blob with wasmward's encrypted key -> wasmward verify"
COSIGN_PASSWORD=ww-pass "$cosign" sign-blob --yes --key ww.key --tlog-upload=false \
  --output-signature cosign-wwkey.sig module.wasm >/dev/null 2>&1
"$ww" verify module.wasm --format cosign --key ww.pub --sig cosign-wwkey.sig

step "a modified module is refused by both"
if "$ww" verify modified.wasm --format cosign --key cosign.pub --sig cosign.sig; then fail "wasmward accepted a modified module"; fi
if "$ww" verify modified.wasm --format cosign --key cosign.pub --bundle cosign.bundle; then fail "wasmward accepted a modified module (bundle)"; fi
if cverify --key ww.pub --signature ww.sig modified.wasm >/dev/null; then fail "cosign accepted a modified module"; fi
if cverify --key ww.pub --new-bundle-format --trusted-root trusted_root.json --bundle ww.bundle modified.wasm >/dev/null; then fail "cosign accepted a modified module (bundle)"; fi
echo "refused by both"

for bits in 2048 4096; do
  step "RSA $bits: wasmward keygen --type rsa -> cosign import-key-pair (encrypted)"
  "$ww" keygen --type rsa --bits "$bits" --output-key-prefix "rsa$bits" >/dev/null
  COSIGN_PASSWORD=rsa-pass "$cosign" import-key-pair --key "rsa$bits.key" --output-key-prefix "imp$bits" >/dev/null 2>&1
  grep -q "BEGIN ENCRYPTED SIGSTORE PRIVATE KEY" "imp$bits.key" && echo "imp$bits.key: encrypted RSA (sigstore format)"

  step "RSA $bits: cosign sign-blob (sig, bundle v0.3) -> wasmward verify"
  COSIGN_PASSWORD=rsa-pass "$cosign" sign-blob --yes --key "imp$bits.key" --tlog-upload=false \
    --output-signature "cosign-rsa$bits.sig" module.wasm >/dev/null 2>&1
  COSIGN_PASSWORD=rsa-pass "$cosign" sign-blob --yes --key "imp$bits.key" --tlog-upload=false \
    --new-bundle-format --bundle "cosign-rsa$bits.bundle" module.wasm >/dev/null 2>&1
  "$ww" verify module.wasm --format cosign --key "rsa$bits.pub" --sig "cosign-rsa$bits.sig"
  "$ww" verify module.wasm --format cosign --key "imp$bits.pub" --bundle "cosign-rsa$bits.bundle"

  step "RSA $bits: wasmward sign (own key; cosign's imported encrypted key) -> cosign verify-blob"
  "$ww" sign module.wasm --format cosign --key "rsa$bits.key" -o "ww-rsa$bits.sig" --bundle "ww-rsa$bits.bundle" 2>/dev/null
  cverify --key "rsa$bits.pub" --signature "ww-rsa$bits.sig" module.wasm | grep -v WARNING
  cverify --key "rsa$bits.pub" --new-bundle-format --trusted-root trusted_root.json --bundle "ww-rsa$bits.bundle" module.wasm | grep -v WARNING
  COSIGN_PASSWORD=rsa-pass "$ww" sign module.wasm --format cosign --key "imp$bits.key" -o "ww-imp$bits.sig" 2>/dev/null
  cverify --key "imp$bits.pub" --signature "ww-imp$bits.sig" module.wasm | grep -v WARNING

  step "RSA $bits: a modified module is refused by both"
  if "$ww" verify modified.wasm --format cosign --key "rsa$bits.pub" --sig "cosign-rsa$bits.sig"; then fail "wasmward accepted a modified module (RSA)"; fi
  if cverify --key "rsa$bits.pub" --signature "ww-rsa$bits.sig" modified.wasm >/dev/null; then fail "cosign accepted a modified module (RSA)"; fi
  echo "refused by both"
done

step "RSA: a PSS signature is not a PKCS#1 v1.5 one (cosign refuses it; wasmward verifies it only as pss)"
"$ww" sign module.wasm --format cosign --key rsa2048.key --rsa-scheme pss -o ww-pss.sig 2>/dev/null
"$ww" verify module.wasm --format cosign --key rsa2048.pub --rsa-scheme pss --sig ww-pss.sig
if "$ww" verify module.wasm --format cosign --key rsa2048.pub --sig ww-pss.sig 2>/dev/null; then fail "wasmward accepted PSS as PKCS#1 v1.5"; fi
if cverify --key rsa2048.pub --signature ww-pss.sig module.wasm >/dev/null; then fail "cosign accepted a PSS signature as PKCS#1 v1.5"; fi
echo "refused as pkcs1v15 by both"

# OCI artefacts in a registry (the distribution v3 registry of internal/oci/ocitest, on loopback):
#   wasmward push --key (cosign key and its own)  ->  cosign verify --key
#   cosign sign --key on a wasmward-pushed artefact ->  wasmward pull --trust
#   an untrusted key / an unsigned artefact         ->  refused by both
step "OCI: starting a registry on loopback"
(cd "$root" && go build -o "$work/registry" ./internal/oci/ocitest/registry)
"$work/registry" > registry.out 2>&1 &
regpid=$!
trap 'kill $regpid 2>/dev/null || true; rm -rf "$work"' EXIT
for _ in $(seq 100); do grep -q '^listening ' registry.out && break; sleep 0.1; done
reg=$(sed -n 's/^listening //p' registry.out)
[ -n "$reg" ] || fail "the registry did not start"
export DOCKER_CONFIG="$work/docker" # never the machine's credentials
mkdir -p "$DOCKER_CONFIG"
over() { "$cosign" verify --insecure-ignore-tlog=true --allow-http-registry "$@" 2>&1; }
# over_ok KEY REF: cosign verify --key must succeed and say it checked the signature.
over_ok() {
  over --key "$1" "$2" > over.out || { cat over.out >&2; fail "cosign verify --key $1 $2"; }
  grep -q "signatures were verified against the specified public key" over.out || { cat over.out >&2; fail "cosign verify did not check a signature"; }
  echo "cosign verify --key $1: OK"
}
printf 'keys:\n  - name: cosign\n    public_key: cosign.pub\n' > trust-cosign.yaml
printf 'keys:\n  - name: ww\n    public_key: ww.pub\n' > trust-ww.yaml

step "OCI: wasmward push --key (cosign's encrypted key) -> cosign verify --key"
COSIGN_PASSWORD=cosign-pass "$ww" push module.wasm "$reg/app:cosignkey" --key cosign.key --created 2026-01-01T00:00:00Z | tee push1.out
ref1=$(sed -n 's/^pushed \([^ ]*\) .*/\1/p' push1.out)
over_ok cosign.pub "$ref1"
step "OCI: wasmward push --key (its own key) -> cosign verify --key"
WASMWARD_KEY_PASSWORD=ww-pass "$ww" push module.wasm "$reg/app:wwkey" --key ww.key --created 2026-01-01T00:00:01Z | tee push2.out
ref2=$(sed -n 's/^pushed \([^ ]*\) .*/\1/p' push2.out)
over_ok ww.pub "$ref2"
for bits in 2048; do
  "$ww" push module.wasm "$reg/app:rsa" --key "rsa$bits.key" --created 2026-01-01T00:00:02Z | tee push3.out
  ref3=$(sed -n 's/^pushed \([^ ]*\) .*/\1/p' push3.out)
  over_ok "rsa$bits.pub" "$ref3"
done

step "OCI: cosign sign --key on a wasmward-pushed artefact -> wasmward pull --trust"
"$ww" push module.wasm "$reg/app:unsigned" --created 2026-01-01T00:00:03Z | tee push4.out
ref4=$(sed -n 's/^pushed \([^ ]*\) .*/\1/p' push4.out)
if "$ww" pull "$ref4" --trust trust-cosign.yaml -o refused.wasm 2>unsigned.err; then fail "wasmward pulled an unsigned artefact with --trust"; fi
grep -q "no cosign signature" unsigned.err && [ ! -e refused.wasm ] && echo "unsigned: refused by wasmward"
if over --key cosign.pub "$ref4" >/dev/null; then fail "cosign verified an unsigned artefact"; fi
echo "unsigned: refused by cosign"
COSIGN_PASSWORD=cosign-pass "$cosign" sign --yes --key cosign.key --tlog-upload=false --allow-http-registry "$ref4" >/dev/null 2>&1
"$ww" pull "$ref4" --trust trust-cosign.yaml -o cosign-signed.wasm
cmp module.wasm cosign-signed.wasm && echo "cosign-signed artefact pulled by wasmward --trust"
# The signature manifest cosign wrote gets a second (wasmward) signature appended, and both verify.
WASMWARD_KEY_PASSWORD=ww-pass "$ww" push module.wasm "$reg/app:unsigned" --key ww.key --created 2026-01-01T00:00:03Z >/dev/null
over_ok cosign.pub "$ref4" && over_ok ww.pub "$ref4" && echo "cosign's and wasmward's signatures side by side: both verify with cosign"
"$ww" pull "$ref4" --trust trust-ww.yaml -o both.wasm && echo "and with wasmward"

step "OCI: a signature by an untrusted key is refused by both"
if "$ww" pull "$ref1" --trust trust-ww.yaml -o refused.wasm 2>wrong.err; then fail "wasmward accepted a signature by an untrusted key"; fi
grep -q "made by none of the trusted keys" wrong.err && [ ! -e refused.wasm ] && echo "refused by wasmward"
if over --key ww.pub "$ref1" >/dev/null; then fail "cosign accepted a signature by another key"; fi
echo "refused by cosign"

step "all cosign interoperability checks passed"
