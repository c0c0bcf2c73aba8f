"""``lstcloud info URL``: extent, complete and missing days, model provenance of a product."""

from __future__ import annotations

import argparse
import json


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``info`` command."""
    parser = subparsers.add_parser(
        "info", help="summarise a product cube: extent, complete/missing days, provenance"
    )
    parser.add_argument("url", help="product cube URL (path, s3://...)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of text")
    parser.set_defaults(func=_info)


def _info(args: argparse.Namespace) -> int:
    from lstcloud.query import product_info

    info = product_info(args.url)
    print(json.dumps(info.to_dict(), indent=2) if args.json else info.to_text())
    return 0
