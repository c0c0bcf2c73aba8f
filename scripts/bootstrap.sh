#!/usr/bin/env bash
# Create (or reuse) the project's virtual environment in .venv and install lstcloud into it.
# torch 2.13.0 is installed first and on its own: an unpinned torch would pull a multi-GB CUDA build.
# Quiet: one line per step; a failing step prints its whole output.
# Usage: source scripts/bootstrap.sh   (sets VENV and PY)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${LSTCLOUD_VENV:-$ROOT/.venv}"
PY="$VENV/bin/python"
stamp="$VENV/.lstcloud-installed"

# step LABEL CMD...: run CMD with its output captured; print "ok (N s)", or the output in full.
step() {
  local label="$1" log t0=$SECONDS rc=0
  shift
  log="$(mktemp -t lstcloud-bootstrap.XXXXXX.log)"
  printf '[bootstrap] %s ... ' "$label" >&2
  "$@" >"$log" 2>&1 || rc=$?
  if [ "$rc" -eq 0 ]; then
    echo "ok ($((SECONDS - t0)) s)" >&2
  else
    echo "FAILED (exit $rc); its output:" >&2
    cat "$log" >&2
  fi
  rm -f "$log"
  return "$rc"
}

pip_install() { "$PY" -m pip install --disable-pip-version-check --no-input --progress-bar off "$@"; }

if [ ! -x "$PY" ]; then
  step "creating the virtual environment $VENV" python3 -m venv "$VENV"
fi
want="$(sha256sum "$ROOT/pyproject.toml" | cut -c1-16)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  step "upgrading pip" pip_install --upgrade pip
  step "installing torch==2.13.0 (CPU wheel; a few minutes the first time)" pip_install "torch==2.13.0"
  step "installing lstcloud[test] (editable)" pip_install -e "$ROOT[test]"
  step "checking the imports" "$PY" -c "import lstcloud, torch, pyhdf, zarr, distributed, pystac_client, moto, odc.stac"
  echo "$want" > "$stamp"
fi
export VENV PY
