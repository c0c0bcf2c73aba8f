#!/usr/bin/env bash
# Reproduce the models shipped in lstcloud/data/models/ (sif-cnn-sr1, sif-cnn-sr2, sc-unet).
#
# They are trained on CPU on the MODIS LST + NDVI of ../shared/data/aster_h18v04_dev (the ASTER
# files are never read), with the configs in training/configs/, seed 0, one thread: about 10 min
# on one core. Only model.safetensors and model.json are copied into the package; the full runs
# (metrics.jsonl, loss_curve.png, checkpoints) stay in $WORK.
#
# usage: training/reproduce_shipped.sh [WORK_DIR]   (default: $TMPDIR/lstcloud-shipped)
#   LSTCLOUD_SHARED_DATA   folder holding aster_h18v04_dev (default ../shared/data)
#   MODELS                 space-separated subset (default "sif-cnn-sr1 sif-cnn-sr2 sc-unet")
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
  echo "   shipped -> $dest"
done
