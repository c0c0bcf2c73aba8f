#!/usr/bin/env bash
# Reproduce the production model `default` (lstcloud/data/models/default/) and its teacher
# `ensemble` (lstcloud/data/models/ensemble/) from scratch:
#   1. train the seed members (training/configs/*-seed*.yaml: the shipped recipes of
#      sif-cnn-sr2-published and sc-unet with other seeds) on the MODIS LST + NDVI of the 21
#      development triplets, CPU, one thread (the seed-0 members are the shipped models, see
#      training/reproduce_shipped.sh);
#   2. write the candidate ensembles (training/make_candidates.py);
#   3. score every candidate out of fold (`lstcloud evaluate aster --cv 5`: each member is
#      retrained per fold from the recipe in its card, on the other folds' MODIS inputs only,
#      and scored against ASTER on the held-out fold);
#   4. write `ensemble` from the chosen candidate (training/build_default.py), which records the
#      out-of-fold figures of every candidate and the selection rule in its card;
#   5. distil `default` from `ensemble` (training/configs/default.yaml: one U-Net,
#      trained on the MODIS inputs to reproduce the ensemble's output), score it out of fold
#      (each fold's student distilled from that fold's teacher, whose members step 3 cached) and
#      write `default` with its cost (training/build_distilled.py).
# About 45 min of CPU on a 2-core machine for steps 1-4 (steps 1 and 3 are the cost; step 3
# caches the fold models in WORK/cv/folds, so a rerun resumes), and about 40 min for step 5.
#
# usage: training/reproduce_default.sh [WORK_DIR]   (default: $TMPDIR/lstcloud-default)
#   LSTCLOUD_SHARED_DATA   folder holding aster_h18v04_dev (default ../shared/data)
#   THREADS                torch threads (default 1)
set -euo pipefail
cd "$(dirname "$0")/.."
WORK=${1:-${TMPDIR:-/tmp}/lstcloud-default}
THREADS=${THREADS:-1}
export LSTCLOUD_SHARED_DATA=${LSTCLOUD_SHARED_DATA:-../shared/data}
PY=${PYTHON:-.venv/bin/python}
[ -x "$PY" ] || PY=python
DEV="$LSTCLOUD_SHARED_DATA/aster_h18v04_dev"

SR2P="sif-cnn-sr2-published $WORK/members/sif-cnn-sr2-published-seed1 $WORK/members/sif-cnn-sr2-published-seed2 $WORK/members/sif-cnn-sr2-published-seed3"
SC3="sc-unet $WORK/members/sc-unet-seed1 $WORK/members/sc-unet-seed2"
LOWPASS='{"consistency_correction": "lowpass-residual", "iterations": 1, "sigma_km": 2.0}'

for name in sif-cnn-sr2-published-seed1 sif-cnn-sr2-published-seed2 \
    sif-cnn-sr2-published-seed3 sc-unet-seed1 sc-unet-seed2; do
  echo "== training $name -> $WORK/members/$name"
  "$PY" -m lstcloud train --config "training/configs/$name.yaml" --out "$WORK/members/$name" \
    --device cpu --threads "$THREADS" --no-resume --no-progress
done

join() { local IFS=,; echo "$*"; }
# shellcheck disable=SC2086
"$PY" training/make_candidates.py --out "$WORK/cand" \
  "sr2p+sc-flips=$(join sif-cnn-sr2-published sc-unet):flips" \
  "sr2p+sc-flips-lp2=$(join sif-cnn-sr2-published sc-unet):flips:lowpass2" \
  "sr2p4-flips-lp2=$(join $SR2P):flips:lowpass2" \
  "sr2p4+sc-flips-lp2=$(join $SR2P sc-unet):flips:lowpass2" \
  "sr2p4+sc-lp2=$(join $SR2P sc-unet):none:lowpass2" \
  "sr2p4+sc3-flips-lp2=$(join $SR2P $SC3):flips:lowpass2"

"$PY" -m lstcloud evaluate aster --cv 5 --data "$DEV" \
  --methods bicubic,nearest,tsharp,tsharp-window,dms,sc-unet,sif-cnn-sr2-published \
  --model "$WORK/cand/sr2p+sc-flips" --model "$WORK/cand/sr2p+sc-flips-lp2" \
  --model "$WORK/cand/sr2p4-flips-lp2" --model "$WORK/cand/sr2p4+sc-flips-lp2" \
  --model "$WORK/cand/sr2p4+sc-lp2" --model "$WORK/cand/sr2p4+sc3-flips-lp2" \
  --report "$WORK/cv" --threads "$THREADS" --no-progress

# shellcheck disable=SC2086
"$PY" training/build_default.py --cv-report "$WORK/cv" --method sr2p4+sc-flips-lp2 \
  --members $SR2P sc-unet --tta flips --postprocess "$LOWPASS"

# 5. the distilled `default`
"$PY" -m lstcloud train --config training/configs/default.yaml --out "$WORK/default" \
  --device cpu --threads "$THREADS" --no-resume --no-progress
"$PY" -m lstcloud evaluate aster --cv 5 --data "$DEV" \
  --methods bicubic,nearest,tsharp,tsharp-window,dms,sc-unet,sif-cnn-sr2-published,ensemble \
  --model "$WORK/default" --cv-models "$WORK/cv/folds" --report "$WORK/cv-distilled" \
  --threads "$THREADS" --no-progress
"$PY" training/build_distilled.py --student "$WORK/default" --cv-report "$WORK/cv-distilled" \
  --method default --teacher-method ensemble
