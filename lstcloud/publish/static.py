"""Publish the product: COGs beside the cube, a static STAC folder, and/or a STAC API.

``publish_collection`` is run after every daily job: it reads the product cube's summary
(:func:`lstcloud.query.product_info`) and its completion markers, writes the COGs of complete
days that have none yet (or whose day was written again), and merges the fresh Collection into
the one already published, so the temporal and spatial extents only ever grow and Items of
earlier days are kept. Days without a completion marker are never published.

Only new or changed Items are written: the collection records a digest of everything the Items
share besides their day (``lstcloud:items_digest``) and each day's digest (its completion
marker, ``lstcloud:day_digests``); while they are unchanged, the Items already published are
left alone, so a daily run writes one Item, not one per day so far.
"""

from __future__ import annotations

import copy
import dataclasses
import datetime as dt
import json
import logging
from pathlib import Path
from typing import Any

from lstcloud.errors import CubeError, redact_url
from lstcloud.publish.cog import (
    CogAsset,
    cog_root,
    day_digest,
    list_cogs,
    write_day_cogs,
)
from lstcloud.publish.stac import (
    DAY_DIGESTS_FIELD,
    DEFAULT_COLLECTION_ID,
    DEFAULT_LICENSE,
    ITEMS_DIGEST_FIELD,
    VariableAsset,
    collection_dict,
    item_dict,
    items_digest,
    merge_collections,
)
from lstcloud.query.info import ProductInfo, product_info
from lstcloud.storage import filesystem, join, protocol_of, strip_protocol

__all__ = ["PublishResult", "absolute_url", "publish_collection"]

log = logging.getLogger(__name__)

VARIABLES = ("lst_250m", "lst_250m_quality", "lst_250m_uncertainty")


@dataclasses.dataclass(frozen=True)
class PublishResult:
    """What one publication did.

    Attributes
    ----------
    collection
        The Collection as published (merged with the previous one).
    items
        Every complete day's Item, by day.
    changed_days
        Days whose Item was new or changed (written to ``out_dir`` / upserted to the API).
    cogs_written
        COG files written by this run.
    cog_bytes
        Total size of the COG files of the published days.
    location
        Where ``collection.json`` was written (a Path for a local folder, else its URL), or
        the Collection's URL in the STAC API when no folder was given.
    """

    collection: dict[str, Any]
    items: dict[dt.date, dict[str, Any]]
    changed_days: tuple[dt.date, ...]
    cogs_written: int
    cog_bytes: int
    location: Path | str


def absolute_url(url: str) -> str:
    """``url`` as an absolute href: URLs unchanged, local paths made absolute, no credentials."""
    if protocol_of(str(url)) == "file":
        return str(Path(strip_protocol(str(url))).resolve())
    return redact_url(str(url))


def _markers(product_url: str, storage_options: dict[str, Any] | None) -> dict[dt.date, str]:
    from lstcloud.cube.product import complete_days

    records = complete_days(product_url, storage_options=storage_options)
    return {day: day_digest(record) for day, record in records.items()}


def _day_cogs(
    info: ProductInfo,
    *,
    product_url: str,
    public_root: str,
    digests: dict[dt.date, str],
    storage_options: dict[str, Any] | None,
) -> tuple[dict[dt.date, dict[str, VariableAsset]], int]:
    """The COG assets of every complete day, writing those missing. Returns (assets, written)."""
    present = list_cogs(product_url, storage_options=storage_options)
    variables = [v for v in VARIABLES if v in info.variables]
    ds = None
    written = 0
    out: dict[dt.date, dict[str, VariableAsset]] = {}
    for day in info.complete_days:
        digest = digests[day]
        names = {v: f"{day.isoformat()}/{v}-{digest}.tif" for v in variables}
        if all(n in present for n in names.values()):
            cogs = {
                v: CogAsset(v, "", n, *_band(v), size=present[n]) for v, n in names.items()
            }
        else:
            if ds is None:
                from lstcloud.cube.product import open_product

                ds = open_product(product_url, storage_options=storage_options)
            cogs = write_day_cogs(
                ds,
                day,
                product_url=product_url,
                digest=digest,
                variables=tuple(variables),
                storage_options=storage_options,
            )
            written += len(cogs)
            log.info("wrote the COGs of %s", day)
        out[day] = {
            v: VariableAsset(v, f"{public_root}/{c.name}", c.dtype, c.nodata, c.unit, c.size)
            for v, c in cogs.items()
        }
    return out, written


def _has_consolidated_metadata(product_url: str, storage_options: dict[str, Any] | None) -> bool:
    fs = filesystem(product_url, storage_options)
    try:
        root = json.loads(fs.cat_file(f"{strip_protocol(product_url).rstrip('/')}/zarr.json"))
    except (FileNotFoundError, json.JSONDecodeError):
        return False
    return bool(root.get("consolidated_metadata"))


def _band(variable: str) -> tuple[str, float, str]:
    if variable in ("lst_250m", "lst_250m_uncertainty"):
        return ("float32", float("nan"), "K")
    return ("uint8", 255.0, "1")


def _read_json(fs: Any, path: str, shown: str) -> dict[str, Any] | None:
    if not fs.exists(path):
        return None
    try:
        return json.loads(fs.cat_file(path))
    except json.JSONDecodeError as exc:
        raise CubeError(f"{redact_url(shown)} is not valid JSON: {exc}") from exc


def _write_static(
    out: str,
    *,
    collection: dict[str, Any],
    items: dict[dt.date, dict[str, Any]],
    previous: dict[str, Any] | None,
    out_href: str,
    storage_options: dict[str, Any] | None,
) -> tuple[dict[str, Any], list[dt.date], Path | str]:
    """Write changed Items and the merged Collection to ``out``."""
    fs = filesystem(out, storage_options)
    root = strip_protocol(out).rstrip("/")
    fs.makedirs(f"{root}/items", exist_ok=True)
    present: set[str] = set()
    same_shared = previous is not None and (
        previous.get(ITEMS_DIGEST_FIELD) == collection[ITEMS_DIGEST_FIELD]
    )
    old_days = (previous or {}).get(DAY_DIGESTS_FIELD, {}) if same_shared else {}
    if same_shared:
        try:
            listing = fs.ls(f"{root}/items", detail=False, refresh=True)
        except FileNotFoundError:
            listing = []
        present = {str(p).rstrip("/").rsplit("/", 1)[-1] for p in listing}
    changed = []
    links = []
    for day, item in items.items():
        name = f"{item['id']}.json"
        digest = item["properties"].get("lstcloud:day_digest")
        if name not in present or old_days.get(day.isoformat()) != digest:
            fs.pipe_file(f"{root}/items/{name}", (json.dumps(item, indent=2) + "\n").encode())
            changed.append(day)
        links.append({"rel": "item", "href": f"./items/{name}", "type": "application/geo+json"})
    log.info("wrote %d STAC item(s), %d unchanged", len(changed), len(items) - len(changed))
    self_href = f"{out_href.rstrip('/')}/collection.json"
    collection["links"] = [
        {"rel": "self", "href": self_href, "type": "application/json"},
        {"rel": "root", "href": "./collection.json", "type": "application/json"},
        *links,
    ]
    if previous is not None:
        previous["links"] = [
            link for link in previous.get("links", []) if link.get("rel") not in ("self", "root")
        ]
        collection = merge_collections(previous, collection)
    target = f"{root}/collection.json"
    payload = (json.dumps(collection, indent=2) + "\n").encode()
    if protocol_of(out) == "file":
        tmp = Path(target).with_suffix(".json.tmp")
        tmp.write_bytes(payload)
        tmp.replace(target)  # readers never see a half-written collection
        where: Path | str = Path(target)
    else:
        fs.pipe_file(target, payload)  # an object PUT is atomic
        where = join(out, "collection.json")
    return collection, changed, where


def publish_collection(
    *,
    product_url: str,
    out_dir: str | Path | None = None,
    collection_id: str = DEFAULT_COLLECTION_ID,
    asset_href: str | None = None,
    license: str = DEFAULT_LICENSE,
    write_items: bool = True,
    cog: bool = True,
    out_href: str | None = None,
    api_url: str | None = None,
    storage_options: dict[str, Any] | None = None,
    out_storage_options: dict[str, Any] | None = None,
) -> Path | str:
    """Publish the product's STAC Collection and one Item per complete day.

    Parameters
    ----------
    product_url
        The product cube.
    out_dir
        Folder or URL (``s3://bucket/stac``) receiving ``collection.json`` and
        ``items/<id>.json``; may be None when ``api_url`` is given.
    collection_id, license
        Collection identifier and SPDX licence id.
    asset_href
        Public href of the product (``s3://...`` or ``https://...``); defaults to
        ``product_url`` (absolute, without credentials). The COG hrefs are derived from it
        the same way their files are from ``product_url`` (``<name>-cog/`` beside it).
    write_items
        Also publish one Item per complete day (only the new or changed ones).
    cog
        Write one Cloud-Optimized GeoTIFF per variable and complete day beside the cube and
        publish them as the Items' per-variable assets (default; what odc-stac, stackstac and
        GDAL-only tools read). Without it, the Items carry only the Zarr asset.
    out_href
        Public URL of ``out_dir`` (the Collection's absolute ``self`` link); defaults to
        ``out_dir`` made absolute.
    api_url
        A STAC API with the Transactions extension: the Collection is created or updated and
        the new or changed Items are upserted (:mod:`lstcloud.publish.api`).
    storage_options
        fsspec options to read the product and write its COGs (also used for ``out_dir`` when
        it is on the same kind of storage and ``out_storage_options`` is not given).
    out_storage_options
        fsspec options for ``out_dir``.

    Returns
    -------
    pathlib.Path or str
        Where ``collection.json`` was written (a Path for a local folder, else its URL), or
        the Collection's URL in the API when ``out_dir`` is None.

    Raises
    ------
    CubeError
        When the product cannot be read, or the existing ``collection.json`` is not valid JSON.
    StacApiError
        When the STAC API refuses the Collection or an Item (after retries for 5xx).
    """
    result = publish(
        product_url=product_url,
        out_dir=out_dir,
        collection_id=collection_id,
        asset_href=asset_href,
        license=license,
        write_items=write_items,
        cog=cog,
        out_href=out_href,
        api_url=api_url,
        storage_options=storage_options,
        out_storage_options=out_storage_options,
    )
    return result.location


def publish(
    *,
    product_url: str,
    out_dir: str | Path | None = None,
    collection_id: str = DEFAULT_COLLECTION_ID,
    asset_href: str | None = None,
    license: str = DEFAULT_LICENSE,
    write_items: bool = True,
    cog: bool = True,
    out_href: str | None = None,
    api_url: str | None = None,
    storage_options: dict[str, Any] | None = None,
    out_storage_options: dict[str, Any] | None = None,
) -> PublishResult:
    """:func:`publish_collection`, returning a :class:`PublishResult`."""
    if out_dir is None and api_url is None:
        raise CubeError("publish: give an output folder (out_dir) or a STAC API (api_url)")
    info = product_info(product_url, storage_options=storage_options)
    href = asset_href or absolute_url(str(product_url))
    digests = _markers(product_url, storage_options) if info.complete_days else {}
    digests = {d: digests.get(d, "00000000") for d in info.complete_days}
    cog_assets: dict[dt.date, dict[str, VariableAsset]] = {}
    written = 0
    if cog and write_items:
        cog_assets, written = _day_cogs(
            info,
            product_url=str(product_url),
            public_root=cog_root(href),
            digests=digests,
            storage_options=storage_options,
        )
    consolidated = _has_consolidated_metadata(str(product_url), storage_options)
    collection = collection_dict(
        info, asset_href=href, collection_id=collection_id, license=license,
        consolidated=consolidated,
    )
    collection[ITEMS_DIGEST_FIELD] = items_digest(
        info,
        asset_href=href,
        collection_id=collection_id,
        cog_href=cog_root(href) if cog else None,
        consolidated=consolidated,
    )
    items: dict[dt.date, dict[str, Any]] = {}
    if write_items:
        for day in info.complete_days:
            items[day] = item_dict(
                info,
                day,
                asset_href=href,
                collection_id=collection_id,
                assets=cog_assets.get(day),
                day_digest=digests[day],
                consolidated=consolidated,
            )
    collection[DAY_DIGESTS_FIELD] = {d.isoformat(): digests[d] for d in items}
    changed: set[dt.date] = set()
    published = collection
    where: Path | str | None = None
    if out_dir is not None:
        out = str(out_dir)
        if out_storage_options is None and protocol_of(out) == protocol_of(str(product_url)):
            out_storage_options = storage_options
        fs = filesystem(out, out_storage_options)
        previous = _read_json(
            fs, f"{strip_protocol(out).rstrip('/')}/collection.json", join(out, "collection.json")
        )
        if previous is not None and previous.get("id") != collection_id:
            previous = None
        published, static_changed, where = _write_static(
            out,
            collection=copy.deepcopy(collection),
            items=items,
            previous=previous,
            out_href=out_href or absolute_url(out),
            storage_options=out_storage_options,
        )
        changed.update(static_changed)
    if api_url is not None:
        from lstcloud.publish.api import publish_to_api

        api_collection, api_changed = publish_to_api(
            api_url, collection=copy.deepcopy(collection), items=items
        )
        changed.update(api_changed)
        if where is None:
            published, where = api_collection, join(api_url, "collections", collection_id)
    log.info("published %s (%d complete days)", redact_url(str(where)), len(info.complete_days))
    cog_bytes = sum(a.size for assets in cog_assets.values() for a in assets.values())
    return PublishResult(
        collection=published,
        items=items,
        changed_days=tuple(sorted(changed)),
        cogs_written=written,
        cog_bytes=cog_bytes,
        location=where if where is not None else "",
    )
