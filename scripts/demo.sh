#!/usr/bin/env bash
# The main job end to end on the embedded default: generated MODIS-format granules served by a local
# STAC API, ingested into a local Zarr cube on a local Dask cluster, then predicted to 250 m.
# Usage: bash scripts/demo.sh [WORKDIR]   (default: ./demo-output)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=scripts/bootstrap.sh
source "$ROOT/scripts/bootstrap.sh"
exec "$VENV/bin/lstcloud" demo --workdir "${1:-$ROOT/demo-output}"
