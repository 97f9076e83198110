#!/usr/bin/env bash
# Checks the Helm chart deploy/helm/wasmward with the real helm CLI
# (helm.sh/helm/v3, built from the Go module proxy and cached under
# ~/.cache/wasmward-tools; it is not a dependency of wasmward's go.mod):
#   helm lint --strict                    the chart, with its default values
#   helm template (default values)        rendered, then checked by the Go test
#   helm template (token, trust, scraper) TestHelmChartRendered (cmd/wasmward)
# TestHelmChartRendered checks the rendered manifests against the real
# program: serve's real flags, the listeners of the configuration the real
# gateway loads, the probe paths its admin handler answers, the security
# context and the NetworkPolicy on the admin port.
# Usage: scripts/helm-check.sh      (HELM=/path/to/helm skips the build;
#                                    HELM_VERSION overrides v3.22.0)
set -euo pipefail
cd "$(dirname "$0")/.."
chart=deploy/helm/wasmward
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

step() { printf '== %s\n' "$*"; }

helm=${HELM:-}
if [ -z "$helm" ]; then
  version=${HELM_VERSION:-v3.22.0}
  cache="${XDG_CACHE_HOME:-$HOME/.cache}/wasmward-tools/helm-$version"
  if [ ! -x "$cache/helm" ]; then
    step "building helm $version into $cache"
    start=$(date +%s)
    mkdir -p "$cache"
    GOBIN="$cache" go install "helm.sh/helm/v3/cmd/helm@$version"
    echo "built in $(( $(date +%s) - start ))s"
  fi
  helm="$cache/helm"
fi
# helm keeps its own state out of the home directory.
export HELM_CACHE_HOME="$work/cache" HELM_CONFIG_HOME="$work/config" HELM_DATA_HOME="$work/data"
"$helm" version --short

step "helm lint"
"$helm" lint --strict "$chart"
"$helm" lint --strict "$chart" --set adminToken.existingSecret=wasmward-admin,trust.configMap=wasmward-trust

i=0
for set in "" \
  "adminToken.existingSecret=wasmward-admin,trust.configMap=wasmward-trust,ports.public=8443,ports.admin=9443,networkPolicy.adminNamespaceSelector.team=monitoring"; do
  i=$((i + 1))
  out="$work/rendered-$i.yaml"
  step "helm template ${set:-(default values)}"
  if [ -n "$set" ]; then
    "$helm" template wasmward "$chart" --namespace wasmward --set "$set" > "$out"
  else
    "$helm" template wasmward "$chart" --namespace wasmward > "$out"
  fi
  step "TestHelmChartRendered on $out"
  WASMWARD_HELM_RENDERED="$out" go test ./cmd/wasmward -count=1 -run '^TestHelmChartRendered$' -v
done
echo "helm chart OK"
