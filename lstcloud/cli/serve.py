"""``lstcloud serve``: the read-only web service (viewer, EDR queries, tiles) over a product."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``serve`` command."""
    parser = subparsers.add_parser(
        "serve",
        help="serve a product cube over HTTP: map viewer, OGC API - EDR queries, map tiles",
    )
    parser.add_argument("--product", required=True, help="product cube URL (path, s3://...)")
    parser.add_argument(
        "--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine)"
    )
    parser.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    parser.add_argument(
        "--min-zoom", type=int, default=None, help="refuse tiles below this zoom (default 6)"
    )
    parser.add_argument(
        "--max-days",
        type=int,
        default=None,
        help="refuse point series longer than this many days (default 3660)",
    )
    parser.set_defaults(func=_serve)


def _serve(args: argparse.Namespace) -> int:
    import dataclasses

    from lstcloud.serve import ServeLimits, run

    limits = ServeLimits()
    if args.min_zoom is not None:
        limits = dataclasses.replace(limits, min_zoom=args.min_zoom)
    if args.max_days is not None:
        limits = dataclasses.replace(limits, max_days=args.max_days)
    run(args.product, host=args.host, port=args.port, limits=limits)
    return 0
