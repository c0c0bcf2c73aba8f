"""``lstcloud catalog publish``: publish the product's STAC Collection, Items and COGs."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``catalog`` command and its ``publish`` sub-command."""
    parser = subparsers.add_parser("catalog", help="STAC catalogue of the product")
    sub = parser.add_subparsers(dest="catalog_command", metavar="ACTION", required=True)
    publish = sub.add_parser(
        "publish",
        help="write/update DIR/collection.json (+ one item per complete day, with per-day "
        "COGs beside the cube) and/or upsert them into a STAC API",
    )
    publish.add_argument("--product", required=True, help="product cube URL")
    publish.add_argument("--out", help="output folder (or URL) of the static STAC collection")
    publish.add_argument(
        "--api",
        metavar="URL",
        help="STAC API with the Transactions extension: create/update the collection and "
        "upsert new days' items (credentials: LSTCLOUD_STAC_API_TOKEN, or "
        "LSTCLOUD_STAC_API_USERNAME/LSTCLOUD_STAC_API_PASSWORD)",
    )
    publish.add_argument("--collection-id", default="lstcloud-lst-250m")
    publish.add_argument(
        "--asset-href",
        help="public URL of the product (s3://... or https://...); the COG hrefs follow it",
    )
    publish.add_argument(
        "--out-href", help="public URL of --out (the collection's absolute self link)"
    )
    cog = publish.add_mutually_exclusive_group()
    cog.add_argument(
        "--cog",
        dest="cog",
        action="store_true",
        default=True,
        help="write per-day Cloud-Optimized GeoTIFFs beside the cube and publish them as "
        "per-variable assets (default)",
    )
    cog.add_argument(
        "--no-cog", dest="cog", action="store_false", help="publish the Zarr asset only"
    )
    publish.add_argument("--license", default="CC-BY-4.0", help="SPDX licence id")
    publish.add_argument("--no-items", action="store_true", help="write the collection only")
    publish.set_defaults(func=_publish)


def _publish(args: argparse.Namespace) -> int:
    from lstcloud.errors import ConfigError
    from lstcloud.publish import publish

    if args.out is None and args.api is None:
        raise ConfigError("catalog publish: give --out DIR, --api URL or both")
    result = publish(
        product_url=args.product,
        out_dir=args.out,
        collection_id=args.collection_id,
        asset_href=args.asset_href,
        license=args.license,
        write_items=not args.no_items,
        cog=args.cog,
        out_href=args.out_href,
        api_url=args.api,
    )
    print(
        f"published {result.location}: {len(result.items)} day(s), "
        f"{len(result.changed_days)} new or changed, {result.cogs_written} COG(s) written"
    )
    return 0
