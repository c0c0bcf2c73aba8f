"""Write the ensemble ``ensemble`` (lstcloud/data/models/ensemble/) from trained members.

``ensemble`` (the production ``default`` until 2026-12-07; now the teacher that ``default`` is
distilled from: ``training/build_distilled.py``) is the method with the best out-of-fold ASTER
RMSE among the candidates scored by ``lstcloud evaluate aster --cv 5`` (see docs/evaluation.md,
"Out-of-fold"). Its members are the shipped models named on the command line (trained on the
MODIS inputs of all 21 development triplets with the same recipes the cross-validation
retrained per fold), averaged over the TTA transforms. The card records the recipe, the
out-of-fold figures read from the CV report's ``cv.json`` (the method's row and the
baselines'), how it was chosen, its cost, and the Wald ``validation_as_shipped`` (MODIS only)
recomputed here.

usage (from the project root):

    python training/build_default.py --cv-report out/cv --method sr2p+sc-d4 \\
        --members sif-cnn-sr2-published sc-unet --tta d4

With ``--postprocess JSON`` the ensemble's mean is post-processed as the card says (for example
the low-pass residual correction, ``{"consistency_correction": "lowpass-residual", "iterations":
1, "sigma_km": 2}``: :mod:`lstcloud.models.postprocess`); the CV candidate of the same name must
carry the same post-processing.

With ``--adaptation REPORT.json`` (written by ``training/select_adaptation.py``) the recipe the
nested cross-validation chose is written into the card (``adaptation``): the members then adapt
to each scene's own MODIS inputs before they predict it (:mod:`lstcloud.models.adaptation`).
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

from lstcloud.models.adaptation import Adaptation
from lstcloud.models.card import read_card, write_card
from lstcloud.models.ensemble import save_ensemble
from lstcloud.models.postprocess import Postprocess
from lstcloud.models.registry import model_folder, shipped_models_dir
from lstcloud.training.shipped import validate_as_shipped

KEEP = ("rmse_k", "rmse_std_k", "mae_k", "bias_k", "ssim", "ssim_bbox", "wins_vs_bicubic",
        "n_samples", "gap_closed_mse")


def _rows(cv: dict, names: list[str]) -> dict[str, dict]:
    summary = cv["summary"]
    return {n: {k: summary[n].get(k) for k in KEEP} for n in names if n in summary}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cv-report", type=Path, required=True, help="folder holding cv.json")
    parser.add_argument("--method", required=True, help="the chosen row of cv.json")
    parser.add_argument("--members", nargs="+", required=True,
                        help="shipped model names or model folders")
    parser.add_argument("--tta", default="d4", choices=("none", "flips", "d4"))
    parser.add_argument("--name", default="ensemble", help="the model's name")
    parser.add_argument("--out", type=Path, default=None,
                        help="model folder (default: the shipped folder of --name)")
    parser.add_argument("--postprocess", type=json.loads, default=None,
                        help="the ensemble's post-processing, a JSON object (card form)")
    parser.add_argument("--adaptation", type=Path, default=None,
                        help="select_adaptation.py's report: ship its chosen recipe")
    args = parser.parse_args()
    adaptation = None
    if args.adaptation is not None:
        chosen = json.loads(args.adaptation.read_text(encoding="utf-8"))
        adaptation = Adaptation.from_dict(chosen["chosen_recipe"]["adaptation"]).to_dict()

    args.out = args.out or shipped_models_dir() / args.name
    postprocess = Postprocess.from_dict(args.postprocess)
    cv = json.loads((args.cv_report / "cv.json").read_text(encoding="utf-8"))
    if args.method not in cv["summary"]:
        raise SystemExit(f"{args.method!r} is not a row of {args.cv_report}/cv.json")
    members = [model_folder(m) for m in args.members]
    member_cards = [read_card(m) for m in members]
    validation = sorted({s for c in member_cards
                         for s in c["training_data"].get("validation_samples", [])})
    learned = [n for n, r in cv["summary"].items() if "wins_vs_bicubic" in r]
    chosen = cv["summary"][args.method]
    others = {n: r["rmse_k"] for n, r in cv["summary"].items()
              if "wins_vs_bicubic" in r and n != args.method}
    card = {
        "description": (
            f"The mean of {', '.join(c['name'] for c in member_cards)} over "
            f"the {args.tta} "
            "test-time augmentation (flips/rotations)"
            + (", each member first adapted to the scene's own MODIS LST and NDVI by a few "
               "self-supervised steps of its training loss" if adaptation else "")
            + (f", then the {postprocess.consistency_correction} correction of the 1 km means"
               + (f" (sigma {postprocess.sigma_km:g} km)"
                  if postprocess.consistency_correction == "lowpass-residual" else "")
               if postprocess.consistency_correction else "")
            + "; per-pixel spread available (predict_with_spread)."
        ),
        "training_data": {
            "source": "dev-folder",
            "path": "aster_h18v04_dev",
            "members": {c["name"]: {k: c["training_data"].get(k) for k in (
                "train_samples", "validation_samples", "files", "files_read_count",
                "aster_files_read")} for c in member_cards},
            "validation_samples": validation,
            "samples": sorted({s for c in member_cards for key in (
                "train_samples", "validation_samples") for s in c["training_data"].get(key, [])}),
            "aster_files_read": any(c["training_data"].get("aster_files_read")
                                    for c in member_cards),
            "note": "derived from the members' cards (each derived from its reader's record)",
        },
        "selection": {
            "rule": "lowest out-of-fold ASTER RMSE (mean over the 21 development scenes) "
                    "among the candidates scored by the cross-validation; every in-method "
                    "choice inside the training folds only (MODIS-only early stopping)",
            # the folder the CV ran in is named WORK, not by its machine path
            "command": cv.get("command", "").replace(str(args.cv_report.resolve().parent), "WORK"),
            "folds": cv["folds"],
            "fold_rule": cv["fold_rule"],
            "out_of_fold": _rows(cv, learned),
            "oracle_rmse_k": cv["summary"].get("oracle (diagnostic, reads ASTER)", {})
            .get("rmse_k"),
            "reference": "ASTER AST_08 (output -> ASTER grid, bilinear, ASTER > 250 K, "
                         "mask eroded by 8 px), mean over scenes",
        },
        "cost": {"network_passes_per_prediction": None},
        "postprocess": postprocess.to_dict() if postprocess.enabled else None,
        **({"adaptation": adaptation} if adaptation else {}),
        "notes": [
            f"chosen: {args.method}, out-of-fold RMSE {chosen['rmse_k']:.3f} K, SSIM "
            f"{chosen['ssim']:.3f}, wins vs bicubic {chosen['wins_vs_bicubic']}/"
            f"{chosen['n_samples']} (others: "
            + ", ".join(f"{n} {v:.3f} K" for n, v in sorted(others.items(), key=lambda x: x[1]))
            + ")",
        ],
    }
    if args.out.exists():
        shutil.rmtree(args.out)
    folder = save_ensemble(args.out, members, tta=args.tta, name=args.name, card=card)
    written = read_card(folder)
    written["cost"] = {
        "network_passes_per_prediction": written["passes"],
        "note": f"{written['passes']} forward passes of the 282,705-parameter U-Net "
                f"({len(members)} members x the {args.tta} transforms) per prediction",
    }
    if adaptation is not None:
        recipe = Adaptation.from_dict(adaptation)
        adapting = len(recipe.members) or len(members)
        written["cost"]["adaptation_steps_per_scene"] = recipe.steps * adapting
        written["cost"]["note"] += (
            f", after {recipe.steps} self-supervised optimiser steps of each of {adapting} "
            f"adapting member(s) on the scene (crops of {recipe.crop_1km} km; per day in the "
            "cube pipeline)")
        report = json.loads(args.adaptation.read_text(encoding="utf-8"))
        written["selection"]["adaptation"] = {
            k: report[k] for k in ("rule", "picks", "nested_out_of_fold", "chosen")}
        written["selection"]["adaptation"]["command"] = (
            "python training/select_adaptation.py --data ../shared/data/aster_h18v04_dev "
            "--cv-models out/cv/folds --json out/adaptation.json")
    write_card(folder, written)
    entry = validate_as_shipped(folder)
    print(f"{args.name} -> {folder}: {args.method}, OOF RMSE {chosen['rmse_k']:.3f} K; Wald as "
          f"shipped {entry['wald_rmse_k']:.3f} K (bicubic {entry['wald_rmse_bicubic_k']:.3f} K)")


if __name__ == "__main__":
    main()
