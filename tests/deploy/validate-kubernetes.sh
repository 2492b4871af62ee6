#!/usr/bin/env bash
# Validates deploy/kubernetes and its cluster-mode overlay deploy/kubernetes-cluster offline:
# renders each kustomization.yaml with kustomize, then checks every object they produce, and the
# examples (*.example.yaml: the Secrets, the cluster-status Pod), with kubeconform -strict
# against the Kubernetes API schemas install-kubeconform.sh prepared (one run per Kubernetes version
# there), and the ServiceMonitors against tests/deploy/schemas. A kind without a schema is an error.
#
# usage: tests/deploy/validate-kubernetes.sh TOOLS_DIR   (after install-kubeconform.sh TOOLS_DIR)
set -euo pipefail
TOOLS="$(cd "${1:?usage: validate-kubernetes.sh TOOLS_DIR}" && pwd)"
cd "$(dirname "$0")/../.."

rendered="$(mktemp --suffix=.yaml)"
cluster="$(mktemp --suffix=.yaml)"
trap 'rm -f "$rendered" "$cluster"' EXIT
"$TOOLS/kustomize" build deploy/kubernetes >"$rendered"
"$TOOLS/kustomize" build deploy/kubernetes-cluster >"$cluster"

versions=()
for dir in "$TOOLS"/kubernetes-json-schema/v*-strict; do
  [ -d "$dir" ] || continue
  v="${dir##*/v}"
  versions+=("${v%-strict}")
done
[ ${#versions[@]} -gt 0 ] || { echo "no schemas in $TOOLS/kubernetes-json-schema" >&2; exit 1; }

for version in "${versions[@]}"; do
  echo "== Kubernetes $version"
  "$TOOLS/kubeconform" -strict -summary -output text -kubernetes-version "$version" \
    -schema-location "$TOOLS/kubernetes-json-schema/{{ .NormalizedKubernetesVersion }}{{ .StrictSuffix }}/{{ .ResourceKind }}{{ .KindSuffix }}.json" \
    -schema-location "tests/deploy/schemas/{{ .Group }}/{{ .ResourceKind }}_{{ .ResourceAPIVersion }}.json" \
    "$rendered" "$cluster" deploy/kubernetes/*.example.yaml deploy/kubernetes-cluster/*.example.yaml
done
