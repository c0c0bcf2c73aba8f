"""``lstcloud query point|bbox``: time series of a pixel and bbox exports of the product."""

from __future__ import annotations

import argparse
import sys


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``query`` command and its ``point`` and ``bbox`` sub-commands."""
    parser = subparsers.add_parser(
        "query", help="read a point time series or a bbox subset from the product cube"
    )
    sub = parser.add_subparsers(dest="query_command", metavar="KIND", required=True)

    point = sub.add_parser("point", help="daily LST of the 250 m pixel holding a lon/lat point")
    point.add_argument("--product", required=True, help="product cube URL (path, s3://...)")
    point.add_argument("--lon", required=True, type=float, help="longitude, degrees")
    point.add_argument("--lat", required=True, type=float, help="latitude, degrees")
    point.add_argument("--start", help="first day YYYY-MM-DD (default: first of the cube)")
    point.add_argument("--end", help="last day YYYY-MM-DD, inclusive (default: last)")
    point.add_argument("--format", choices=("csv", "json"), default="csv")
    point.add_argument("--out", help="write to this file instead of standard output")
    point.set_defaults(func=_point)

    bbox = sub.add_parser("bbox", help="export a lon/lat box of the product to GeoTIFF/NetCDF")
    bbox.add_argument("--product", required=True, help="product cube URL")
    bbox.add_argument("--bbox", required=True, help="W,S,E,N in degrees")
    bbox.add_argument("--date", required=True, help="day YYYY-MM-DD (first day with --end)")
    bbox.add_argument("--end", help="last day YYYY-MM-DD, inclusive (default: --date)")
    bbox.add_argument("--out", help="output FILE.tif or FILE.nc (required unless --stats)")
    bbox.add_argument(
        "--stats", action="store_true",
        help="print daily statistics of the box as CSV (mean/std/min/max K, valid fraction)",
    )
    bbox.add_argument(
        "--crs",
        default=None,
        help="reproject to this CRS (e.g. EPSG:4326); default: native MODIS sinusoidal",
    )
    bbox.add_argument(
        "--variable", default="lst_250m", help="variable of a GeoTIFF (default lst_250m)"
    )
    bbox.add_argument("--resampling", default="nearest", help="LST resampling when reprojecting")
    bbox.add_argument(
        "--allow-partial",
        action="store_true",
        help=(
            "use days without their completion marker (being written, interrupted, never "
            "predicted) and flag them (a 'complete' column, an incomplete_days tag); by default "
            "such days are refused"
        ),
    )
    bbox.set_defaults(func=_bbox)


def _point(args: argparse.Namespace) -> int:
    from lstcloud.query import (
        describe_pixel,
        load_product,
        point_series,
        series_to_csv,
        series_to_json,
    )

    ds = load_product(args.product)
    series = point_series(ds, lon=args.lon, lat=args.lat, start=args.start, end=args.end)
    render = series_to_csv if args.format == "csv" else series_to_json
    text = render(series, args.out)
    print(describe_pixel(series), file=sys.stderr)
    if "day_complete" in series:
        partial = [
            str(t)[:10]
            for t, ok in zip(series["time"].values, series["day_complete"].values, strict=True)
            if not ok
        ]
        if partial:
            print(
                f"warning: {len(partial)} day(s) without a completion marker (complete=false: "
                f"partial or never predicted, not data): {_days_text(partial)}",
                file=sys.stderr,
            )
    if not args.out:
        sys.stdout.write(text)
    else:
        print(f"wrote {series.sizes.get('time', 0)} day(s) to {args.out}", file=sys.stderr)
    return 0


def _bbox(args: argparse.Namespace) -> int:
    from lstcloud.errors import ConfigError
    from lstcloud.query import bbox_statistics, bbox_subset, load_product, write_subset

    if not args.out and not args.stats:
        raise ConfigError("query bbox: give --out FILE.tif|FILE.nc, or --stats")
    ds = load_product(args.product)
    _check_complete(ds, args)
    if args.stats:
        stats = bbox_statistics(ds, bbox=args.bbox, start=args.date, end=args.end or args.date)
        columns = ["mean_k", "std_k", "min_k", "max_k", "valid_pixels", "valid_fraction"]
        flagged = "complete" in stats
        print("date," + ",".join(columns) + (",complete" if flagged else ""))
        for i, time in enumerate(stats["time"].values):
            cells = [str(time)[:10]]
            for name in columns:
                value = float(stats[name].values[i])
                cells.append("" if value != value else f"{value:.4g}")
            if flagged:
                cells.append("true" if bool(stats["complete"].values[i]) else "false")
            print(",".join(cells))
        if not args.out:
            return 0
    subset = bbox_subset(
        ds,
        bbox=args.bbox,
        start=args.date,
        end=args.end or args.date,
        crs=args.crs,
        resampling=args.resampling,
    )
    out = write_subset(subset, args.out, variable=args.variable)
    sizes = ", ".join(f"{k}={v}" for k, v in subset.sizes.items())
    print(f"wrote {out} ({sizes})")
    return 0


def _days_text(days: list[str], limit: int = 10) -> str:
    shown = ", ".join(days[:limit])
    return shown + (f" (and {len(days) - limit} more)" if len(days) > limit else "")


def _check_complete(ds: object, args: argparse.Namespace) -> None:
    """Refuse (or, with ``--allow-partial``, flag) the window's days without a marker."""
    from lstcloud.errors import CubeError
    from lstcloud.query import incomplete_days
    from lstcloud.query._dataset import source_of, time_slice

    window = time_slice(ds, args.date, args.end or args.date)  # type: ignore[arg-type]
    partial = incomplete_days(window)
    if not partial:
        return
    what = f"{len(partial)} day(s) of {source_of(window)} without a completion marker"
    if not args.allow_partial:
        raise CubeError(
            f"{what} (still being written, interrupted or never predicted; their pixels are "
            f"partial, not data): {_days_text(partial)}; refusing to "
            f"{'compute statistics' if args.stats else 'export'} over them. Predict them "
            "again, or give --allow-partial to use them flagged"
        )
    print(
        f"warning: {what}, used as asked (--allow-partial) and flagged "
        f"(complete=false / incomplete_days): {_days_text(partial)}",
        file=sys.stderr,
    )
