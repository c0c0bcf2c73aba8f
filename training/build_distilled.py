"""Write the production model ``default`` (lstcloud/data/models/default/) from a distilled student.

``default`` is one SIF-CNN U-Net distilled from the 20-pass ``ensemble``
(``training/configs/default.yaml``, :mod:`lstcloud.training.distill`): one network
pass per pixel instead of 20. This script copies the student's model files, and writes into its
card:

- ``selection``: the out-of-fold ASTER figures of the student, its teacher and the baselines,
  read from the ``cv.json`` of ``lstcloud evaluate aster --cv 5`` (each fold's student distilled
  from that fold's teacher, itself trained on the training folds' MODIS inputs only);
- ``cost``: passes, Mpx/s per CPU core measured here side by side with one pass of
  ``sif-cnn-sr1`` (:func:`lstcloud.models.cost.measure_costs`), FLOPs and one GPU on paper;
- ``validation_as_shipped``: Wald, MODIS only, recomputed for the model as shipped.

usage (from the project root):

    python training/build_distilled.py --student WORK/default --cv-report WORK/cv \\
        --method default --teacher-method ensemble
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

from lstcloud.models.card import CARD_FILE, read_card, write_card
from lstcloud.models.cost import measure_costs
from lstcloud.models.registry import load_model, shipped_models_dir
from lstcloud.training.shipped import validate_as_shipped

KEEP = ("rmse_k", "rmse_std_k", "mae_k", "bias_k", "ssim", "ssim_bbox", "wins_vs_bicubic",
        "n_samples", "gap_closed_mse")
REFERENCE = "sif-cnn-sr1"


def _rows(cv: dict) -> dict[str, dict]:
    return {n: {k: r.get(k) for k in KEEP} for n, r in cv["summary"].items()
            if "wins_vs_bicubic" in r or n == "bicubic"}


def _selection(cv: dict, cv_report: Path, method: str, teacher: str) -> dict:
    student, ens = cv["summary"][method], cv["summary"][teacher]
    return {
        "rule": "the student is distilled from the teacher on the training scenes' MODIS inputs "
                "(early stopping on the distillation loss of validation scenes drawn among them); "
                "it is reported out of fold, each fold's student distilled from that fold's "
                "teacher (trained on the training folds only)",
        "command": cv.get("command", "").replace(str(cv_report.resolve().parent), "WORK"),
        "folds": cv["folds"],
        "fold_rule": cv["fold_rule"],
        "out_of_fold": _rows(cv),
        "student_minus_teacher_rmse_k": student["rmse_k"] - ens["rmse_k"],
        "oracle_rmse_k": cv["summary"].get("oracle (diagnostic, reads ASTER)", {}).get("rmse_k"),
        "reference": "ASTER AST_08 (output -> ASTER grid, bilinear, ASTER > 250 K, "
                     "mask eroded by 8 px), mean over the 21 development scenes",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--student", type=Path, required=True, help="the distilled model folder")
    parser.add_argument("--cv-report", type=Path, required=True, help="folder holding cv.json")
    parser.add_argument("--method", default="default", help="the student's row of cv.json")
    parser.add_argument("--teacher-method", default="ensemble", help="the teacher's row")
    parser.add_argument("--out", type=Path, default=shipped_models_dir() / "default")
    parser.add_argument("--threads", type=int, default=2, help="torch threads of the cost run")
    args = parser.parse_args()

    cv = json.loads((args.cv_report / "cv.json").read_text(encoding="utf-8"))
    for row in (args.method, args.teacher_method):
        if row not in cv["summary"]:
            raise SystemExit(f"{row!r} is not a row of {args.cv_report}/cv.json")
    if args.out.exists():
        shutil.rmtree(args.out)
    args.out.mkdir(parents=True)
    for name in (CARD_FILE, "model.safetensors"):
        shutil.copyfile(args.student / name, args.out / name)

    card = read_card(args.out)
    chosen, teacher = cv["summary"][args.method], cv["summary"][args.teacher_method]
    card["name"] = "default"
    card["selection"] = _selection(cv, args.cv_report, args.method, args.teacher_method)
    card["notes"] = [n for n in card.get("notes", []) if not n.startswith("chosen:")] + [
        f"chosen: {args.method} (distilled, 1 pass), out-of-fold RMSE {chosen['rmse_k']:.3f} K, "
        f"SSIM {chosen['ssim']:.3f}, wins vs bicubic {chosen['wins_vs_bicubic']}/"
        f"{chosen['n_samples']}; its teacher {args.teacher_method} ({card['teacher']['passes']} "
        f"passes) {teacher['rmse_k']:.3f} K; bicubic {cv['summary']['bicubic']['rmse_k']:.3f} K",
    ]
    write_card(args.out, card)
    models = {REFERENCE: load_model(REFERENCE, device="cpu"),
              "default": load_model(args.out, device="cpu"),
              args.teacher_method: load_model(args.teacher_method, device="cpu")}
    figures = measure_costs(models, reference=REFERENCE, threads=args.threads, flops=True)
    card = read_card(args.out)
    card["cost"] = figures["default"].to_card(size=600, threads=args.threads, reference=REFERENCE)
    card["cost"]["teacher"] = figures[args.teacher_method].to_card(
        size=600, threads=args.threads, reference=REFERENCE)
    write_card(args.out, card)
    entry = validate_as_shipped(args.out)
    f = figures["default"]
    print(f"default -> {args.out}: OOF RMSE {chosen['rmse_k']:.3f} K (teacher "
          f"{teacher['rmse_k']:.3f} K); {f.mpx_per_s_per_core:.2f} Mpx/s per core, "
          f"{f.ratio:.2f} x {REFERENCE}; Wald as shipped {entry['wald_rmse_k']:.3f} K "
          f"(bicubic {entry['wald_rmse_bicubic_k']:.3f} K)")


if __name__ == "__main__":
    main()
