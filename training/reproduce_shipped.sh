#!/usr/bin/env bash
# Reproduce the five models shipped in lstcloud/data/models/: sif-cnn-sr1, sif-cnn-sr2, sc-unet
# (the deck's presets and the scale-consistency baseline) and sif-cnn-sr1-published,
# sif-cnn-sr2-published (the weightings of the authors' code).
#
# They are trained on CPU on the MODIS LST + NDVI of ../shared/data/aster_h18v04_dev (the ASTER
# files are never read), with the configs in training/configs/, seed 0, one thread: 2-8 min each
# on a shared 2-core machine. Only model.safetensors and model.json are copied into the package;
# the full runs (metrics.jsonl, loss_curve.png, checkpoints) stay in $WORK. Then the
# post-processing chosen in training/postprocess.yaml (chosen on the Wald protocol) is written
# into each shipped card (lstcloud.models.cnn.set_postprocess: card only, the weights and their
# canonical SHA-256 are unchanged), and the model as shipped is scored on its validation samples
# (lstcloud.training.shipped.validate_as_shipped: Wald, MODIS files only) into the card's
# `validation_as_shipped`. Training is deterministic (seed 0, one thread), so a rerun gives the
# same weights hash.
#
# usage: training/reproduce_shipped.sh [WORK_DIR]   (default: $TMPDIR/lstcloud-shipped)
#   LSTCLOUD_SHARED_DATA   folder holding aster_h18v04_dev (default ../shared/data)
#   MODELS                 space-separated subset (default: all five, "sif-cnn-sr1 sif-cnn-sr2
#                          sc-unet sif-cnn-sr1-published sif-cnn-sr2-published")
#   THREADS                torch threads (default 1)
set -euo pipefail
cd "$(dirname "$0")/.."
WORK=${1:-${TMPDIR:-/tmp}/lstcloud-shipped}
MODELS=${MODELS:-"sif-cnn-sr1 sif-cnn-sr2 sc-unet sif-cnn-sr1-published sif-cnn-sr2-published"}
THREADS=${THREADS:-1}
export LSTCLOUD_SHARED_DATA=${LSTCLOUD_SHARED_DATA:-../shared/data}
PY=${PYTHON:-.venv/bin/python}
[ -x "$PY" ] || PY=python

for name in $MODELS; do
  echo "== training $name -> $WORK/$name"
  "$PY" -m lstcloud train --config "training/configs/$name.yaml" --out "$WORK/$name" \
    --device cpu --threads "$THREADS" --no-resume --no-progress
  dest="lstcloud/data/models/$name"
  mkdir -p "$dest"
  cp "$WORK/$name/model.safetensors" "$WORK/$name/model.json" "$dest/"
  chmod 644 "$dest/model.safetensors" "$dest/model.json"
  "$PY" - "$dest" "$name" <<'PY'
import sys
from pathlib import Path

import yaml

from lstcloud.models.cnn import set_postprocess
from lstcloud.training.shipped import validate_as_shipped

dest, name = sys.argv[1], sys.argv[2]
table = yaml.safe_load(Path("training/postprocess.yaml").read_text(encoding="utf-8")) or {}
entry = table.get(name) or {}
card = set_postprocess(dest, entry.get("postprocess"), reason=entry.get("reason"))
print(f"   postprocess {card['postprocess']}, receptive_field_px {card['receptive_field_px']}, "
      f"sha256 {card['sha256'][:12]}")
shipped = validate_as_shipped(dest)
print(f"   as shipped: Wald RMSE {shipped['wald_rmse_k']:.3f} K "
      f"(bicubic {shipped['wald_rmse_bicubic_k']:.3f} K) on {shipped['samples']}")
PY
  echo "   shipped -> $dest"
done
