"""Choose the test-time adaptation recipe of ``default`` by nested cross-validation.

For every fold ``f`` of the 5-fold protocol (``lstcloud evaluate aster --cv 5``), each candidate
recipe (which members adapt, learning rate, steps; see :mod:`lstcloud.models.adaptation`) is
applied to the fold's models (trained on the other folds' MODIS inputs only, read from the CV's
fold-model cache) on every held-out scene of ``f``, and scored against ASTER with the protocol
of ``lstcloud evaluate aster``. That gives out-of-fold scores for every candidate on all 21
scenes. The nested rule then picks, for each fold ``f``, the candidate with the lowest mean
out-of-fold RMSE over the **other** folds' scenes and reports its score on ``f``'s scenes: a
figure no choice touched. The recipe shipped is the one the nested rule picks most often.

The adaptation itself reads only the scene's MODIS LST and NDVI; ASTER enters the choice of the
recipe only, inside the training folds, as it enters the choice of every other ``default``
candidate.

usage (from the project root, after the cross-validation has trained the fold models):

    python training/select_adaptation.py --data ../shared/data/aster_h18v04_dev \\
        --cv-models out/cv/folds --json out/adaptation.json
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from lstcloud.evaluate.aster import evaluate_aster
from lstcloud.evaluate.baselines import bicubic_upsample
from lstcloud.evaluate.datasets import iter_dev_samples, list_dev_samples
from lstcloud.evaluate.methods import Method
from lstcloud.models.adaptation import Adaptation
from lstcloud.models.ensemble import EnsembleModel
from lstcloud.models.registry import load_model
from lstcloud.training.folds import assign_folds

MEMBERS = ("sif-cnn-sr2-published", "sc-unet")
LRS = (5e-4, 1e-3, 2e-3)
STEPS = (10, 25, 50)
TTA = "flips"


def candidates() -> dict[str, tuple[tuple[str, ...], Adaptation]]:
    """name -> (members averaged, adaptation): no adaptation, or every (lr, steps) with either
    both members adapting or SIF-CNN-SR2 alone (adapted)."""
    out = {"none": (MEMBERS, Adaptation())}
    for lr in LRS:
        for steps in STEPS:
            out[f"both-adapt lr={lr:g} steps={steps}"] = (MEMBERS, Adaptation(steps=steps, lr=lr))
            out[f"sr2p-alone lr={lr:g} steps={steps}"] = (MEMBERS[:1],
                                                          Adaptation(steps=steps, lr=lr))
    return out


def _fold_members(cv_models: Path, fold: int) -> dict[str, object]:
    """The fold's trained members (the CV cache folder ``{member}-{recipe digest}``)."""
    out = {}
    for name in MEMBERS:
        found = sorted((cv_models / f"fold{fold}").glob(f"{name}-*/model.safetensors"))
        if len(found) != 1:
            raise SystemExit(f"{cv_models}/fold{fold}: expected one trained {name}, found "
                             f"{len(found)} (run lstcloud evaluate aster --cv 5 first)")
        out[name] = load_model(found[0].parent, device="cpu")
    return out


def _method(name: str, members: list, adaptation: Adaptation) -> Method:
    model = EnsembleModel(members, tta=TTA, name=name, adaptation=adaptation)
    return Method(name, lambda lst, ndvi: model.predict(lst, ndvi), True, "candidate")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--cv-models", type=Path, required=True, help="the CV fold-model cache")
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    folds = assign_folds(list_dev_samples(args.data), 5)
    cands = candidates()
    rmse: dict[str, dict[str, float]] = {c: {} for c in (*cands, "bicubic")}
    ssim: dict[str, dict[str, float]] = {c: {} for c in rmse}
    for fold, held in enumerate(tqdm(folds, desc="folds")):
        fold_models = _fold_members(args.cv_models, fold)
        methods = [Method("bicubic", lambda lst, ndvi: bicubic_upsample(lst), False, "")]
        methods += [_method(c, [fold_models[m] for m in names], adaptation)
                    for c, (names, adaptation) in cands.items()]
        result = evaluate_aster(iter_dev_samples(args.data, names=held), methods,
                                data=str(args.data))
        for row in result.per_sample:
            rmse[row["method"]][row["sample"]] = float(row["rmse_k"])
            ssim[row["method"]][row["sample"]] = float(row["ssim"])
    nested, picks = {}, {}
    for fold, held in enumerate(folds):
        inner = [s for f, names in enumerate(folds) if f != fold for s in names]
        best = min(cands, key=lambda c: float(np.mean([rmse[c][s] for s in inner])))
        picks[fold] = best
        for s in held:
            nested[s] = (rmse[best][s], ssim[best][s], rmse["bicubic"][s])
    table = {c: {"rmse_k": float(np.mean(list(rmse[c].values()))),
                 "ssim": float(np.mean(list(ssim[c].values()))),
                 "wins_vs_bicubic": int(sum(rmse[c][s] < rmse["bicubic"][s] for s in rmse[c]))}
             for c in rmse}
    chosen, _ = Counter(picks.values()).most_common(1)[0]
    report = {
        "rule": "nested: for each fold, the candidate with the lowest mean out-of-fold ASTER "
                "RMSE over the other folds' scenes; shipped: the most frequent pick",
        "candidates": table,
        "picks": picks,
        "nested_out_of_fold": {
            "rmse_k": float(np.mean([v[0] for v in nested.values()])),
            "ssim": float(np.mean([v[1] for v in nested.values()])),
            "wins_vs_bicubic": int(sum(v[0] < v[2] for v in nested.values())),
            "n_samples": len(nested),
        },
        "chosen": chosen,
        "chosen_recipe": {"members_averaged": list(cands[chosen][0]),
                          "adaptation": cands[chosen][1].to_dict()},
    }
    for c in sorted(table, key=lambda c: table[c]["rmse_k"]):
        r = table[c]
        print(f"{c:36s} RMSE {r['rmse_k']:.3f} K  SSIM {r['ssim']:.3f}  "
              f"wins {r['wins_vs_bicubic']}")
    n = report["nested_out_of_fold"]
    print(f"nested picks {picks}\nnested out-of-fold: RMSE {n['rmse_k']:.3f} K, SSIM "
          f"{n['ssim']:.3f}, wins {n['wins_vs_bicubic']}/{n['n_samples']}; chosen: {chosen}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
