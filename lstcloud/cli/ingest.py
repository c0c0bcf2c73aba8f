"""``lstcloud ingest``: search a STAC API and build / extend the input datacube."""

from __future__ import annotations

import argparse
import json
import sys

__all__ = ["register"]


def add_window_arguments(parser: argparse.ArgumentParser) -> None:
    """``--start`` / ``--end`` (ISO dates, inclusive)."""
    parser.add_argument("--start", required=True, help="first day, YYYY-MM-DD")
    parser.add_argument("--end", required=True, help="last day, YYYY-MM-DD (inclusive)")


def add_worker_timeout_argument(parser: argparse.ArgumentParser) -> None:
    """``--worker-timeout SECONDS``: give up when no Dask worker is left for that long."""
    parser.add_argument(
        "--worker-timeout",
        type=float,
        default=None,
        metavar="SECONDS",
        help=(
            "give up (nonzero exit) after this many seconds with no Dask worker connected; "
            "the run logs that it is waiting meanwhile (default: LSTCLOUD_WORKER_TIMEOUT or 120)"
        ),
    )


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``ingest`` command."""
    p = subparsers.add_parser(
        "ingest",
        help="search MODIS granules through STAC and write them into the input cube",
        description=(
            "Search the STAC API for MODIS LST (1 km) and 250 m reflectance/NDVI granules over a "
            "region and a window of days, decode them (QC-masked) and write them into the input "
            "Zarr cube on a Dask cluster. (day, tile) already complete are skipped."
        ),
    )
    p.add_argument("--provider", required=True, choices=["planetary-computer", "lpcloud"])
    p.add_argument("--stac-url", required=True, help="STAC API root URL")
    p.add_argument(
        "--region",
        required=True,
        help="named region (europe, conus, africa), tile ids (h18v04,h19v04) or W,S,E,N lon/lat",
    )
    add_window_arguments(p)
    p.add_argument("--cube", required=True, help="input cube URL: a folder or s3://bucket/prefix")
    p.add_argument("--scheduler", default=None, help="Dask scheduler address (default: local)")
    add_worker_timeout_argument(p)
    p.add_argument("--night", action="store_true", help="also ingest the night LST")
    p.add_argument("--lst-product", default=None, help="override the day LST product")
    p.add_argument("--ndvi-product", default=None, help="override the 250 m NDVI product")
    p.add_argument("--no-qc", action="store_true", help="keep pixels rejected by QC")
    p.add_argument(
        "--qc-policy",
        default="default",
        metavar="POLICY",
        help=(
            "QC acceptance per product: 'default' (the documented defaults of "
            "lstcloud.products.qc), inline JSON or a JSON/YAML file mapping a product or QC "
            'scheme to policy options, e.g. \'{"MOD21A1D": {"cloud_flag": [0, 1]}}\''
        ),
    )
    p.add_argument(
        "--recheck-no-input",
        action="store_true",
        help="search again for the (day, tile) recorded as having no granule in the catalogue",
    )
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run the ingest.

    Exit codes: 0 when every (day, tile) is written, skipped or has no input in the catalogue
    (``no_input``: not an error), 3 when some failed, 2 for a configuration error (bad dates,
    region, product or QC policy), printed as one line.
    """
    from lstcloud.errors import ConfigError
    from lstcloud.ingest import ingest
    from lstcloud.ingest.qc import parse_qc_policy_arg
    from lstcloud.ingest.run import parse_window

    try:
        start, end = parse_window(args.start, args.end)
        qc_policy = parse_qc_policy_arg(args.qc_policy)
        summary = ingest(
            provider=args.provider,
            stac_url=args.stac_url,
            region=args.region,
            start=start,
            end=end,
            cube_url=args.cube,
            scheduler=args.scheduler,
            include_night=args.night,
            lst_product=args.lst_product,
            ndvi_product=args.ndvi_product,
            apply_qc=not args.no_qc,
            qc_policy=qc_policy,
            recheck_no_input=args.recheck_no_input,
            worker_timeout=args.worker_timeout,
            progress=not args.no_progress and sys.stderr.isatty(),
        )
    except ConfigError as exc:
        message = " ".join(str(exc).split())  # one line (pydantic errors span several)
        print(f"lstcloud ingest: error: {message}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(summary.to_dict(), indent=2))
    else:
        print(summary.format())
    return 0 if summary.ok else 3
