"""``lstcloud catalog publish``: write or update the product's STAC Collection and Items."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``catalog`` command and its ``publish`` sub-command."""
    parser = subparsers.add_parser("catalog", help="STAC catalogue of the product")
    sub = parser.add_subparsers(dest="catalog_command", metavar="ACTION", required=True)
    publish = sub.add_parser(
        "publish",
        help="write/update DIR/collection.json (+ one item per complete day) for a product",
    )
    publish.add_argument("--product", required=True, help="product cube URL")
    publish.add_argument("--out", required=True, help="output folder of the STAC collection")
    publish.add_argument("--collection-id", default="lstcloud-lst-250m")
    publish.add_argument("--asset-href", help="href published for the Zarr asset")
    publish.add_argument("--license", default="CC-BY-4.0", help="SPDX licence id")
    publish.add_argument("--no-items", action="store_true", help="write the collection only")
    publish.set_defaults(func=_publish)


def _publish(args: argparse.Namespace) -> int:
    from lstcloud.publish import publish_collection

    path = publish_collection(
        product_url=args.product,
        out_dir=args.out,
        collection_id=args.collection_id,
        asset_href=args.asset_href,
        license=args.license,
        write_items=not args.no_items,
    )
    print(f"published {path}")
    return 0
