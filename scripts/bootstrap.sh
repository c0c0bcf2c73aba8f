#!/usr/bin/env bash
# Create (or reuse) the project's virtual environment in .venv and install lstcloud into it.
# torch 2.13.0 is installed first and on its own: an unpinned torch would pull a multi-GB CUDA build.
# Usage: source scripts/bootstrap.sh   (sets VENV and PY)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${LSTCLOUD_VENV:-$ROOT/.venv}"
PY="$VENV/bin/python"
stamp="$VENV/.lstcloud-installed"
if [ ! -x "$PY" ]; then
  echo "[bootstrap] creating virtual environment in $VENV" >&2
  python3 -m venv "$VENV"
fi
want="$(sha256sum "$ROOT/pyproject.toml" | cut -c1-16)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  echo "[bootstrap] installing torch==2.13.0 and lstcloud[test] (a few minutes the first time)" >&2
  "$PY" -m pip install --quiet --disable-pip-version-check --upgrade pip 2>&1 | grep -v "^WARNING: Location" >&2 || true
  "$PY" -m pip install --quiet --disable-pip-version-check "torch==2.13.0" 2>&1 | grep -v "^WARNING: Location" >&2 || true
  "$PY" -c "import torch" || { echo "[bootstrap] torch failed to install" >&2; exit 1; }
  "$PY" -m pip install --quiet --disable-pip-version-check -e "$ROOT[test]" 2>&1 | grep -v "^WARNING: Location" >&2 || true
  "$PY" -c "import lstcloud, pyhdf, zarr, distributed, pystac_client, moto" || { echo "[bootstrap] install failed" >&2; exit 1; }
  echo "$want" > "$stamp"
fi
export VENV PY
