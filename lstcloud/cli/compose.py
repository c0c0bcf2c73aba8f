"""``lstcloud compose``: 8-day, 16-day or monthly composites of a product cube."""

from __future__ import annotations

import argparse
import sys


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``compose`` command."""
    parser = subparsers.add_parser(
        "compose",
        help="write 8-day/16-day/monthly composites (mean, clear count, min, max) of a product",
    )
    parser.add_argument("--product", required=True, help="product cube URL (path, s3://...)")
    parser.add_argument(
        "--period",
        required=True,
        choices=("8D", "16D", "1M"),
        help="8D/16D: MODIS periods restarting on 1 January; 1M: months",
    )
    parser.add_argument("--out", required=True, help="composite cube URL (path, s3://...)")
    parser.add_argument("--start", help="first product day YYYY-MM-DD (default: the first)")
    parser.add_argument("--end", help="last product day YYYY-MM-DD, inclusive (default: last)")
    parser.add_argument(
        "--exclude-flags",
        default="",
        help="comma-separated quality flags whose pixels do not count (lst_missing, "
        "ndvi_missing, low_confidence, near_invalid, region_edge); default: every finite "
        "lst_250m counts",
    )
    parser.add_argument(
        "--climatology",
        action="store_true",
        help="also write the period-of-year climatology and anomaly (product spanning years)",
    )
    parser.add_argument(
        "--scheduler", default=None, help="Dask scheduler address (default: this process's threads)"
    )
    parser.set_defaults(func=_compose)


def _compose(args: argparse.Namespace) -> int:
    from lstcloud.compose import compose

    flags = [f.strip() for f in args.exclude_flags.split(",") if f.strip()]
    client = None
    if args.scheduler:
        from lstcloud.cluster import get_client

        client = get_client(args.scheduler)
    try:
        result = compose(
            args.product,
            args.out,
            args.period,
            start=args.start,
            end=args.end,
            exclude_flags=flags,
            climatology=args.climatology,
        )
    finally:
        if client is not None:
            client.close()
    print(
        f"{result.out}: {len(result.written)} period(s) written, {len(result.skipped)} "
        f"already current, {len(result.empty)} without a complete day",
        file=sys.stderr,
    )
    if result.climatology_years:
        print(f"climatology over {result.climatology_years}", file=sys.stderr)
    return 0
