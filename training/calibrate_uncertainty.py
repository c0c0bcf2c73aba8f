"""Calibrate a model's per-pixel uncertainty against ASTER, out of fold, and write it in its card.

For each of the K scene-level folds of ``lstcloud evaluate aster --cv K`` the model's fold model
(trained on the other folds' MODIS inputs only; reused from ``--cv-models``, trained there when
missing unless ``--cached-only``) predicts the held-out scenes; their errors against ASTER
(output -> ASTER grid, bilinear, ASTER > 250 K, mask eroded by 8 px) and the uncertainty
features calibrate a log-linear variance model. The figures are out of fold twice over: the
calibrator that scores fold k was fitted on the other folds' errors only. The shipped
calibrator is fitted on all scenes and, with ``--write-card``, written into the ``uncertainty``
section of the model folder's ``model.json`` (``lstcloud.models.uncertainty``).

usage (from the project root):

    python training/calibrate_uncertainty.py --model default \\
        --data ../shared/data/aster_h18v04_dev --cv-models out/cv/folds \\
        --report out/uncertainty --write-card

``--model`` is a shipped model's name (its folder inside the package is written) or a model
folder. Writes ``REPORT/calibration.md``, ``calibration.json`` and ``reliability.png``.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

from lstcloud.models.registry import load_model
from lstcloud.training.uncertainty import (
    DEFAULT_FEATURES,
    calibrate_uncertainty,
    method_for,
    write_calibration_report,
    write_uncertainty_card,
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="shipped model name or model folder")
    parser.add_argument("--data", type=Path, required=True, help="aster-dev folder")
    parser.add_argument("--cv-models", type=Path, required=True, help="fold models folder")
    parser.add_argument("--report", type=Path, required=True, help="output folder")
    parser.add_argument("--cv", type=int, default=5, help="number of folds (as --cv K)")
    parser.add_argument("--features", default=",".join(DEFAULT_FEATURES))
    parser.add_argument("--write-card", action="store_true",
                        help="write the calibrator into the model folder's card")
    parser.add_argument("--cached-only", action="store_true",
                        help="never train: fail when a fold model is not in --cv-models")
    parser.add_argument("--transductive", action="store_true",
                        help="proxy without fold models: the model itself predicts every scene "
                             "(it saw their MODIS inputs, never ASTER); said so in the card")
    parser.add_argument("--threads", type=int, default=None, help="torch threads")
    args = parser.parse_args(argv)
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    method, folder = method_for(args.model)
    # the card names folders, never a machine path: absolute paths keep their last component
    command = "python training/calibrate_uncertainty.py " + " ".join(
        shlex.quote(Path(a).name if Path(a).is_absolute() else a)
        for a in (argv if argv is not None else sys.argv[1:]))
    outcome = calibrate_uncertainty(
        method, data=args.data, root=args.cv_models, k=args.cv,
        features=[f for f in args.features.split(",") if f], train=not args.cached_only,
        threads=args.threads, command=command,
        fixed=load_model(folder, device="cpu") if args.transductive and folder else None)
    report = write_calibration_report(outcome, args.report)
    print(report.read_text(encoding="utf-8"))
    if args.write_card:
        if folder is None:
            parser.error(f"--write-card: {args.model} has no model folder")
        print(f"wrote the uncertainty section of {write_uncertainty_card(folder, outcome.final)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
