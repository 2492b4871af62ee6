#!/usr/bin/env bash
# Validates deploy/kubernetes offline: renders kustomization.yaml with kustomize, then checks every
# object it produces, and the examples (*.example.yaml: the Secrets), with kubeconform -strict
# against the Kubernetes API schemas install-kubeconform.sh prepared (one run per Kubernetes version
# there), and the ServiceMonitors against tests/deploy/schemas. A kind without a schema is an error.
#
# usage: tests/deploy/validate-kubernetes.sh TOOLS_DIR   (after install-kubeconform.sh TOOLS_DIR)
set -euo pipefail
TOOLS="$(cd "${1:?usage: validate-kubernetes.sh TOOLS_DIR}" && pwd)"
cd "$(dirname "$0")/../.."

rendered="$(mktemp --suffix=.yaml)"
trap 'rm -f "$rendered"' EXIT
"$TOOLS/kustomize" build deploy/kubernetes >"$rendered"

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
    "$rendered" deploy/kubernetes/*.example.yaml
done
