"""``lstcloud predict``: super-resolve days of the input cube into the 250 m product cube."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys

from lstcloud.cli.ingest import add_worker_timeout_argument
from lstcloud.core.dates import as_date
from lstcloud.core.errors import ConfigError

__all__ = ["register"]


def _date(text: str) -> dt.date:
    try:
        return as_date(text, field="date")
    except ConfigError:
        raise argparse.ArgumentTypeError(f"not an ISO date (YYYY-MM-DD): {text!r}") from None


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``predict`` command."""
    p = subparsers.add_parser(
        "predict",
        help="super-resolve the input cube's days to 250 m and write the product cube",
        description=(
            "Map a super-resolution model over the 1 km LST and 250 m NDVI of the input cube "
            "(Dask map_overlap with the model's receptive field as halo) and write daily 250 m "
            "LST with its quality flags into the product cube. Complete days are skipped."
        ),
    )
    p.add_argument("--cube", required=True, help="input cube URL (folder or s3://...)")
    p.add_argument(
        "--model",
        required=True,
        help="sif-cnn-sr1, sif-cnn-sr2, sc-unet, bicubic, ... or a model folder",
    )
    p.add_argument("--out", required=True, help="product cube URL (folder or s3://...)")
    p.add_argument("--start", required=True, type=_date, help="first day, YYYY-MM-DD")
    p.add_argument("--end", required=True, type=_date, help="last day, YYYY-MM-DD (inclusive)")
    p.add_argument("--scheduler", default=None, help="Dask scheduler address (default: local)")
    p.add_argument(
        "--device",
        choices=["auto", "cpu", "cuda"],
        default="auto",
        help=(
            "model device, chosen on each Dask worker: auto (default) = CUDA on workers that "
            "see a GPU (or their LSTCLOUD_DEVICE), else CPU; cpu or cuda force it (cuda fails "
            "clearly on workers without CUDA)"
        ),
    )
    p.add_argument(
        "--tile",
        type=int,
        default=320,
        help="model tile core in 1 km pixels (default: one tile per 300 px chunk)",
    )
    p.add_argument("--batch-size", type=int, default=2, help="tiles per model call")
    p.add_argument("--overwrite", action="store_true", help="recompute complete days")
    add_worker_timeout_argument(p)
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run the prediction.

    Exit codes: 0 when every day is written or skipped, 3 otherwise, 2 for a configuration error
    (bad dates or device), printed as one line (as ``lstcloud ingest`` does).
    """
    from lstcloud.inference import predict_cube

    try:
        if args.end < args.start:
            raise ConfigError(f"--end {args.end} is before --start {args.start}")
        summary = predict_cube(
            cube_url=args.cube,
            model=args.model,
            out_url=args.out,
            start=args.start,
            end=args.end,
            scheduler=args.scheduler,
            device=args.device,
            tile_1km=args.tile,
            batch_size=args.batch_size,
            overwrite=args.overwrite,
            worker_timeout=args.worker_timeout,
        )
    except ConfigError as exc:
        message = " ".join(str(exc).split())
        print(f"lstcloud predict: error: {message}", file=sys.stderr)
        return 2
    if args.json:
        print(
            json.dumps(
                {
                    "product": summary.product_url,
                    "model": summary.model,
                    "written": [d.isoformat() for d in summary.written],
                    "skipped": [d.isoformat() for d in summary.skipped],
                    "missing": [[d.isoformat(), r] for d, r in summary.missing],
                    "incomplete": [[d.isoformat(), r] for d, r in summary.incomplete],
                    "errors": list(summary.errors),
                    "without_guide": {d.isoformat(): list(t) for d, t in summary.without_guide},
                    "devices": summary.devices,
                    "pixels_250m": summary.pixels_250m,
                    "halo_share": summary.halo_share,
                    "seconds": summary.seconds,
                },
                indent=2,
            )
        )
    else:
        print(summary.format())
    return 0 if summary.ok else 3
