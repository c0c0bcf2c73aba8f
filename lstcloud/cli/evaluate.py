"""``lstcloud evaluate wald|aster``: score super-resolution methods on real data and write a
report (``OUT/metrics.json``, ``OUT/report.md``, PNG figures)."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import Any

from lstcloud.errors import ConfigError

log = logging.getLogger(__name__)

__all__ = ["register"]

_METHODS_HELP = (
    "comma-separated methods: nearest, bicubic, tsharp, tsharp-window, dms, sc-unet, "
    "sif-cnn-sr1, sif-cnn-sr2, sif-cnn-sr1-published, sif-cnn-sr2-published "
    "(LST-only: nearest, bicubic)"
)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", required=True, type=Path, help="data folder")
    parser.add_argument("--methods", required=True, help=_METHODS_HELP)
    parser.add_argument("--report", required=True, type=Path, help="output folder")
    parser.add_argument(
        "--model",
        action="append",
        default=[],
        type=Path,
        metavar="DIR",
        help="also evaluate the model in DIR (named after the folder); repeatable",
    )
    parser.add_argument(
        "--samples",
        default=None,
        help="comma-separated sample names (folder or file names without .tif)",
    )
    parser.add_argument(
        "--limit",
        type=int,
        default=None,
        help="evaluate N samples spread evenly over the sorted list",
    )
    parser.add_argument("--panels", type=int, default=3, help="samples drawn as maps (default 3)")
    parser.add_argument(
        "--device",
        default=None,
        choices=("cpu", "cuda"),
        help="torch device of the trained models (default: cuda when available, else cpu)",
    )


def _names(text: str | None) -> list[str] | None:
    if not text:
        return None
    return [n.strip() for n in text.split(",") if n.strip()]


def _run_wald(args: argparse.Namespace) -> int:
    from lstcloud.evaluate import methods as m
    from lstcloud.evaluate.wald import WaldConfig, evaluate_wald, wald_samples

    names = _names(args.samples)
    if names and not (args.data / names[0]).is_dir():
        names = [n if n.endswith(".tif") else f"{n}.tif" for n in names]
    samples, has_ndvi = wald_samples(args.data, band=args.band, names=names, limit=args.limit)
    methods = m.resolve_methods(
        m.parse_methods(args.methods),
        model_paths=args.model,
        require_lst_only=not has_ndvi,
        device=args.device,
    )
    config = WaldConfig(
        degradation=args.degradation,
        border_px=args.border_px,
        min_valid=args.min_valid,
        n_panels=args.panels,
    )
    result = evaluate_wald(samples, methods, data=str(args.data), config=config)
    result.config["band"] = args.band if not has_ndvi else "day (MOD21A1D)"
    _finish(result, args.report)
    return 0


def _run_aster(args: argparse.Namespace) -> int:
    from lstcloud.evaluate import methods as m
    from lstcloud.evaluate.aster import AsterConfig, evaluate_aster
    from lstcloud.evaluate.datasets import detect_layout, iter_dev_samples

    if detect_layout(args.data) != "aster-dev":
        raise ConfigError(f"--data {args.data}: the ASTER protocol needs the aster-dev layout")
    if args.cv:
        return _run_aster_cv(args)
    methods = m.resolve_methods(
        m.parse_methods(args.methods), model_paths=args.model, device=args.device
    )
    config = AsterConfig(
        erode_px=args.erode_px,
        min_valid_k=args.min_valid_k,
        resampling=args.resampling,
        n_panels=args.panels,
    )
    samples = iter_dev_samples(args.data, names=_names(args.samples), limit=args.limit)
    result = evaluate_aster(samples, methods, data=str(args.data), config=config)
    _finish(result, args.report)
    return 0


def _run_aster_cv(args: argparse.Namespace) -> int:
    import shlex

    from lstcloud.evaluate import methods as m
    from lstcloud.evaluate.aster import AsterConfig
    from lstcloud.evaluate.report import write_report
    from lstcloud.training.cv import cross_validate_aster, cv_method, write_cv_summary

    if args.samples or args.limit:
        raise ConfigError("--cv uses every sample of --data: drop --samples / --limit")
    methods = [cv_method(n) for n in m.parse_methods(args.methods)]
    methods += [cv_method(Path(p).name, model_path=p) for p in args.model]
    config = AsterConfig(
        erode_px=args.erode_px,
        min_valid_k=args.min_valid_k,
        resampling=args.resampling,
        n_panels=args.panels,
    )
    outcome = cross_validate_aster(
        args.data,
        methods,
        k=args.cv,
        root=args.cv_models or args.report / "folds",
        config=config,
        max_steps=args.max_steps,
        threads=args.threads,
        progress=not args.no_progress,
    )
    write_report(outcome.result, args.report)
    parts = ["lstcloud", "evaluate", "aster", "--cv", str(args.cv), "--data", str(args.data),
             "--methods", args.methods, *[f"--model={p}" for p in args.model],
             "--report", str(args.report)]
    if args.max_steps is not None:
        parts += ["--max-steps", str(args.max_steps)]
    command = " ".join(shlex.quote(a) for a in parts)
    path = write_cv_summary(outcome, args.report, command=command)
    for name, row in outcome.summary.items():
        if "wins_vs_bicubic" not in row:
            print(f"cv    {name:32s} RMSE {row['rmse_k']:.3f} K")
            continue
        print(
            f"cv    {name:32s} RMSE {row['rmse_k']:.3f} K (sd {row['rmse_std_k']:.2f})  "
            f"SSIM {row['ssim']:.3f}  bias {row['bias_k']:+.3f} K  "
            f"wins {row['wins_vs_bicubic']}/{row['n_samples']}  "
            f"gap closed {100 * row['gap_closed_mse']:.0f} %"
        )
    print(f"report: {path}")
    return 0


def _finish(result: Any, out: Path) -> None:
    from lstcloud.evaluate.report import write_report

    path = write_report(result, out)
    for name, row in result.summary().items():
        print(
            f"{result.protocol:5s} {name:24s} RMSE {row['rmse_k']:.3f} K  MAE {row['mae_k']:.3f} K"
            f"  bias {row['bias_k']:+.3f} K  SSIM {row['ssim']:.3f}  PSNR {row['psnr_db']:.2f} dB"
            f"  gradRMSE {row['grad_rmse_k']:.3f} K/px  n={row['n_samples']}"
        )
    print(f"report: {path}")


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``evaluate`` with sub-commands ``wald`` and ``aster``."""
    parser = subparsers.add_parser(
        "evaluate",
        help="score methods on real data (Wald protocol, ASTER comparison)",
        description="Score super-resolution methods on real MODIS / ASTER data.",
    )
    sub = parser.add_subparsers(dest="protocol", metavar="PROTOCOL", required=True)

    wald = sub.add_parser(
        "wald",
        help="degrade 1 km -> 4 km, super-resolve 4x, score against the real 1 km LST",
        description=(
            "Wald protocol. Works on aster-dev folders (LST + NDVI) and on MOD11A1 patch folders "
            "(LST only: only nearest and bicubic are accepted there)."
        ),
    )
    _common(wald)
    wald.add_argument(
        "--degradation",
        default="gaussian",
        choices=("gaussian", "mean", "l4"),
        help="operator H from lstcloud.ops (default gaussian: PSF with MTF 0.1 at Nyquist + "
        "bicubic decimation, as in the published code; mean: 4x4 block mean; l4: block mean "
        "of T^4 then ^(1/4), NDVI then takes the block mean)",
    )
    wald.add_argument(
        "--min-valid",
        type=float,
        default=1.0,
        help="a degraded LST pixel is NaN when less than this fraction of its block is valid "
        "(default 1.0)",
    )
    wald.add_argument(
        "--band",
        default="day",
        choices=("day", "night"),
        help="MOD11A1 patches: band to use (default day)",
    )
    wald.add_argument(
        "--border-px",
        type=int,
        default=0,
        help="pixels dropped along the patch edges before scoring (default 0)",
    )
    wald.set_defaults(func=_run_wald)

    aster = sub.add_parser(
        "aster",
        help="super-resolve the real 1 km LST and score against ASTER",
        description="ASTER comparison on aster-dev folders (MODIS 1 km, NDVI 250 m, ASTER).",
    )
    _common(aster)
    aster.add_argument(
        "--erode-px",
        type=int,
        default=8,
        help="margin in ASTER pixels dropped around invalid pixels (default 8)",
    )
    aster.add_argument(
        "--min-valid-k",
        type=float,
        default=250.0,
        help="ASTER values below this are invalid (K, default 250)",
    )
    aster.add_argument(
        "--resampling",
        default="bilinear",
        help="rasterio resampling of the 250 m output onto the ASTER grid",
    )
    aster.add_argument(
        "--cv",
        type=int,
        default=0,
        metavar="K",
        help="out-of-fold: K scene-level folds (sorted names, sample i -> fold i mod K); "
        "learned methods are retrained per fold on the other folds' MODIS inputs only",
    )
    aster.add_argument(
        "--cv-models",
        type=Path,
        default=None,
        metavar="DIR",
        help="--cv: cache of the fold models (default REPORT/folds; a rerun resumes)",
    )
    aster.add_argument(
        "--max-steps",
        type=int,
        default=None,
        help="--cv: override every recipe's training length (quick checks)",
    )
    aster.add_argument("--threads", type=int, default=None, help="--cv: torch threads")
    aster.add_argument("--no-progress", action="store_true", help="--cv: no progress bar")
    aster.set_defaults(func=_run_aster)
