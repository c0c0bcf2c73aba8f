"""How far each fold model's 1 km means drift from its MODIS input, out of fold, MODIS only.

For every recipe cached by ``lstcloud evaluate aster --cv K`` (``--cv-models`` folder), each fold
model predicts the scenes of its held-out fold, and the drift of its 1 km means from the 1 km LST
it was given, ``blockmean4(prediction) - LST_1km`` over the valid 1 km pixels, is summarised: the
scene mean (the large-scale drift that ``postprocess: lowpass-residual`` removes) and the RMS
(which also holds the 1 km detail the network adds). The same is shown after the low-pass
correction. Only the MODIS LST and NDVI files are read (``DevFolderPairs``); ASTER never is.

usage (from the project root, after the cross-validation):

    python training/diagnose_drift.py --data ../shared/data/aster_h18v04_dev \\
        --cv-models out/cv/folds
"""

from __future__ import annotations

import argparse
from collections import defaultdict
from pathlib import Path

import numpy as np

from lstcloud.evaluate.datasets import list_dev_samples
from lstcloud.models import load_model
from lstcloud.models.ensemble import EnsembleModel
from lstcloud.training.data import DevFolderPairs
from lstcloud.training.folds import assign_folds

LOWPASS = {"consistency_correction": "lowpass-residual", "iterations": 1, "sigma_km": 2.0}


def _drift(pred: np.ndarray, lst: np.ndarray) -> np.ndarray:
    h, w = lst.shape
    means = pred[: 4 * h, : 4 * w].reshape(h, 4, w, 4).mean(axis=(1, 3))
    diff = means - lst
    return diff[np.isfinite(diff)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="aster-dev folder")
    parser.add_argument("--cv-models", type=Path, required=True, help="fold models folder")
    parser.add_argument("--folds", type=int, default=5)
    args = parser.parse_args()
    folds = assign_folds(list_dev_samples(args.data), args.folds)
    rows: dict[str, list[tuple[float, float, float]]] = defaultdict(list)
    for k, held in enumerate(folds):
        scenes = DevFolderPairs(args.data, samples=held, patch_1km=8).scenes
        for folder in sorted((args.cv_models / f"fold{k}").iterdir()):
            model = load_model(folder, device="cpu")
            corrected = EnsembleModel([model], tta="none", name="lp", postprocess=LOWPASS)
            recipe = folder.name.rsplit("-", 1)[0]
            for scene in scenes.values():
                raw = _drift(model.predict(scene.lst_1km, scene.ndvi_250m), scene.lst_1km)
                lp = _drift(corrected.predict(scene.lst_1km, scene.ndvi_250m), scene.lst_1km)
                rows[recipe].append((float(raw.mean()), float(np.sqrt(np.mean(raw**2))),
                                     float(lp.mean())))
    print("| recipe (fold models) | scenes | mean drift (K), mean / min / max over scenes | "
          "RMS drift (K) | after lowpass-residual: mean drift (K) |")
    print("|---|---|---|---|---|")
    for recipe, values in sorted(rows.items()):
        a = np.array(values)
        print(f"| {recipe} | {len(a)} | {a[:, 0].mean():+.3f} / {a[:, 0].min():+.3f} / "
              f"{a[:, 0].max():+.3f} | {a[:, 1].mean():.3f} | {a[:, 2].mean():+.3f} |")


if __name__ == "__main__":
    main()
