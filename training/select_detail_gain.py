"""Choose the detail gain of each shipped model on the Wald protocol only (never ASTER).

    out = bicubic + lambda * (model - bicubic)        (card: postprocess.detail_gain)

Rule, fixed before any figure was measured: every shipped model is scored as shipped (its
card's consistency correction kept) with lambda in GAINS on the Wald protocol of the MODIS
inputs of the 21 development triplets (real 1 km LST degraded to 4 km and 250 m NDVI to 1 km,
H = gaussian and H = mean, mean RMSE over samples; only the MODIS files are opened). lambda* is
the grid value with the lowest mean of the two RMSEs; it is shipped only if it lowers the Wald
RMSE under BOTH H by at least 0.01 K against lambda = 1, else the model keeps lambda = 1.

usage: python training/select_detail_gain.py [DEV_FOLDER] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from lstcloud.models import load_model
from lstcloud.models.postprocess import Postprocess
from lstcloud.training.data import default_dev_folder
from lstcloud.training.shipped import wald_scores

GAINS = (0.25, 0.5, 0.75, 1.0, 1.25, 1.5)
MODELS = ("sif-cnn-sr1", "sif-cnn-sr2", "sc-unet", "sif-cnn-sr1-published",
          "sif-cnn-sr2-published")
MIN_GAIN_K = 0.01


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", nargs="?", default=str(default_dev_folder()))
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    table: dict[str, dict] = {}
    dataset = None
    for name in MODELS:
        model = load_model(name, device="cpu")
        base = Postprocess.from_dict(model.card["postprocess"])
        variants = {}
        for g in GAINS:
            pp = Postprocess(base.consistency_correction, base.iterations, g)
            variants[f"{g:g}"] = model.with_postprocess(pp if pp.enabled else None)
        scores, dataset = wald_scores(variants, data=args.data, dataset=dataset)
        rows = {g: {h: scores[g][h] for h in ("gaussian", "mean")} for g in scores}
        mean = {g: (r["gaussian"]["rmse_k"] + r["mean"]["rmse_k"]) / 2 for g, r in rows.items()}
        best = min(mean, key=mean.get)
        ref = rows["1"]
        passes = best != "1" and all(
            rows[best][h]["rmse_k"] <= ref[h]["rmse_k"] - MIN_GAIN_K for h in ("gaussian", "mean")
        )
        table[name] = {"rows": rows, "best": best, "ship": float(best) if passes else 1.0}
        print(f"\n{name} (postprocess {model.card['postprocess']})")
        print("lambda | Wald RMSE gauss | SSIM gauss | RMSE mean | SSIM mean")
        for g, r in rows.items():
            print(f"{g:>6} | {r['gaussian']['rmse_k']:.3f} | {r['gaussian']['ssim']:.3f} | "
                  f"{r['mean']['rmse_k']:.3f} | {r['mean']['ssim']:.3f}")
        print(f"lambda* = {best}; ship detail_gain = {table[name]['ship']:g}")
    described = dataset.describe() if dataset is not None else {}
    print(f"\nfiles read: {described.get('files')} ({described.get('files_read_count')}); "
          f"aster_files_read {described.get('aster_files_read')}")
    if args.json:
        Path(args.json).write_text(json.dumps(table, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
