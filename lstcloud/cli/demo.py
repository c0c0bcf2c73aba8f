"""``lstcloud demo``: the main job end to end on generated sample data (:mod:`lstcloud.demo`)."""

from __future__ import annotations

import argparse
import datetime as dt
import sys

__all__ = ["register"]


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``demo`` command."""
    p = subparsers.add_parser(
        "demo",
        help="run the whole pipeline on generated MODIS-format sample data",
        description=(
            "Generate MODIS-format granules and a STAC catalogue for a small region, serve it on "
            "127.0.0.1, ingest into WORKDIR/input.zarr on a local Dask cluster, super-resolve to "
            "250 m into WORKDIR/product.zarr and draw WORKDIR/quicklook.png."
        ),
    )
    p.add_argument("--workdir", default="demo-output", help="output folder (default: demo-output)")
    p.add_argument("--provider", default="lpcloud", choices=["lpcloud", "planetary-computer"])
    p.add_argument("--tiles", default="h18v04,h19v04", help="comma-separated MODIS tiles")
    p.add_argument("--start", default="2024-07-01", help="first day (YYYY-MM-DD)")
    p.add_argument("--days", type=int, default=2, help="number of days")
    p.add_argument("--model", default="default", help="model name or folder")
    p.add_argument("--workers", type=int, default=2, help="local Dask worker processes")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run the demo and print where everything is."""
    from lstcloud.demo import run_demo

    result = run_demo(
        args.workdir,
        provider=args.provider,
        tiles=[t.strip() for t in args.tiles.split(",") if t.strip()],
        start=dt.date.fromisoformat(args.start),
        days=args.days,
        model=args.model,
        n_workers=args.workers,
        progress=sys.stderr.isatty(),
    )
    print(result.format())
    return 0 if result.ingest.ok else 3
