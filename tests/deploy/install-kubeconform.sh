#!/usr/bin/env bash
# Installs what the Kubernetes manifest tests need into TOOLS_DIR (default: build/tools), offline
# from then on:
#   kubeconform   manifest validation       github.com/yannh/kubeconform (Go module proxy)
#   kustomize     renders kustomization.yaml sigs.k8s.io/kustomize/kustomize/v5 (Go module proxy)
#   JSON schemas  of the Kubernetes API      from the PyPI package kubernetes-validate, which bundles
#                                           them; kubeconform's default schema source is a web site
#                                           this machine cannot reach.
# Idempotent: a stamp file per pinned version; a second run does nothing.
#
# usage: tests/deploy/install-kubeconform.sh [TOOLS_DIR]
# Needs: go (>= 1.24), python3 with pip. Environment: GO (default go), PYTHON (default python3).
set -euo pipefail

readonly KUBECONFORM_VERSION=v0.7.0
readonly KUSTOMIZE_VERSION=v5.8.1
readonly KUBERNETES_VALIDATE_VERSION=1.37.0
# The Kubernetes API versions manifests are validated against: the oldest supported and the newest.
readonly KUBERNETES_VERSIONS=(1.29.0 1.37.0)

cd "$(dirname "$0")/../.."
TOOLS_DIR="$(mkdir -p "${1:-build/tools}" && cd "${1:-build/tools}" && pwd)"
PYTHON="${PYTHON:-python3}"
GO="${GO:-go}"

die() { echo "install-kubeconform: $*" >&2; exit 1; }

go_install() {  # go_install NAME MODULE@VERSION
  local stamp="$TOOLS_DIR/.$1-${2##*@}"
  if [ -x "$TOOLS_DIR/$1" ] && [ -e "$stamp" ]; then return 0; fi
  command -v "$GO" >/dev/null || die "$GO is not installed (needed to build $1)"
  echo "install-kubeconform: go install $2" >&2
  GOBIN="$TOOLS_DIR" "$GO" install "$2" || die "go install $2 failed"
  rm -f "$TOOLS_DIR/.$1-"*
  touch "$stamp"
}

go_install kubeconform "github.com/yannh/kubeconform/cmd/kubeconform@$KUBECONFORM_VERSION"
go_install kustomize "sigs.k8s.io/kustomize/kustomize/v5@$KUSTOMIZE_VERSION"

schemas="$TOOLS_DIR/kubernetes-json-schema"
versions_id="$(IFS=_; echo "${KUBERNETES_VERSIONS[*]}")"
stamp="$schemas/.kubernetes-validate-$KUBERNETES_VALIDATE_VERSION-$versions_id"
if [ ! -e "$stamp" ]; then
  download="$(mktemp -d)"
  trap 'rm -rf "$download"' EXIT
  echo "install-kubeconform: pip download kubernetes-validate==$KUBERNETES_VALIDATE_VERSION" >&2
  "$PYTHON" -m pip download --quiet --no-deps --only-binary=:all: -d "$download" \
    "kubernetes-validate==$KUBERNETES_VALIDATE_VERSION" ||
    die "pip download kubernetes-validate==$KUBERNETES_VALIDATE_VERSION failed"
  rm -rf "$schemas"
  mkdir -p "$schemas"
  # The package's "-local-strict" schemas refer to one another by absolute https://kubernetes.io/
  # addresses (their $id). Make the references relative file paths so that kubeconform resolves
  # them from disk, and lay the directories out as kubeconform's
  # {{ .NormalizedKubernetesVersion }}{{ .StrictSuffix }} template expects (v1.29.0-strict).
  "$PYTHON" - "$download"/kubernetes_validate-*.whl "$schemas" "${KUBERNETES_VERSIONS[@]}" <<'EOF'
import json, os, sys, zipfile

wheel, out, versions = sys.argv[1], sys.argv[2], sys.argv[3:]
prefix = "kubernetes_validate/kubernetes-json-schema/"

def relative(node):
    if isinstance(node, dict):
        node.pop("$id", None)
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("/api/_definitions.json"):
            node["$ref"] = ref[len("/api/"):]
        for value in node.values():
            relative(value)
    elif isinstance(node, list):
        for value in node:
            relative(value)

with zipfile.ZipFile(wheel) as z:
    for version in versions:
        source = f"{prefix}v{version}-local-strict/"
        names = [n for n in z.namelist() if n.startswith(source) and n.endswith(".json")]
        if not names:
            sys.exit(f"kubernetes-validate has no schemas for Kubernetes {version}")
        target = os.path.join(out, f"v{version}-strict")
        os.makedirs(target)
        for name in names:
            schema = json.loads(z.read(name))
            relative(schema)
            with open(os.path.join(target, os.path.basename(name)), "w") as f:
                json.dump(schema, f)
        print(f"install-kubeconform: {len(names)} schemas for Kubernetes {version}", file=sys.stderr)
EOF
  touch "$stamp"
fi
