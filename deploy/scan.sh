#!/usr/bin/env bash
# Security scan of the container image definition and the Kubernetes manifests with checkov,
# offline (--skip-download). checkov pins many dependencies, so it lives in its own virtual
# environment (.venv-tools), created on first use. Skipped checks and their reasons are in
# deploy/.checkov.yaml. Exit status: non-zero when a check fails.
#
# Scans (1) the raw files of deploy/ (Dockerfile, base manifests) and (2) the manifests each
# overlay renders to (kubectl kustomize), i.e. what an operator really applies.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOLS="${LSTCLOUD_TOOLS_VENV:-$ROOT/.venv-tools}"
CHECKOV_VERSION="${CHECKOV_VERSION:-3.3.30}"
if [ ! -x "$TOOLS/bin/checkov" ]; then
  echo "[scan] installing checkov==$CHECKOV_VERSION into $TOOLS" >&2
  python3 -m venv "$TOOLS"
  "$TOOLS/bin/python" -m pip install --quiet --disable-pip-version-check \
    "checkov==$CHECKOV_VERSION" 2>&1 | grep -v "^WARNING: Location" >&2 || true
fi
"$TOOLS/bin/checkov" --version >/dev/null
KUBECTL="${KUBECTL:-kubectl}"
rendered="$(mktemp -d)"
trap 'rm -rf "$rendered"' EXIT
for overlay in "$ROOT"/deploy/overlays/*/; do
  name="$(basename "$overlay")"
  "$KUBECTL" kustomize "$overlay" > "$rendered/$name.yaml"
done
export BC_SKIP_MAPPING=TRUE
common=(--skip-download --quiet --compact --config-file "$ROOT/deploy/.checkov.yaml")
echo "[scan] checkov: deploy/ and the rendered overlays ($(ls "$rendered" | tr '\n' ' '))" >&2
"$TOOLS/bin/checkov" "${common[@]}" -d "$ROOT/deploy" -d "$rendered" \
  --framework kubernetes dockerfile
echo "[scan] no failed check" >&2
