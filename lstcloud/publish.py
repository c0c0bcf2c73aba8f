"""The product's STAC Collection (datacube extension) and one STAC Item per complete day.

``publish_collection`` is run after every daily job: it reads the product cube's summary
(:func:`lstcloud.query.product_info`) and merges it into an existing collection, so the temporal
and spatial extents only ever grow and items of earlier days are kept.

Only new or changed Items are written: the collection records a digest of everything an Item
holds besides its day (``lstcloud:items_digest``); while it is unchanged, the Items already
listed in ``items/`` are left alone, so a daily run writes one Item, not one per day so far.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
from pathlib import Path
from typing import Any

from lstcloud import __version__
from lstcloud.errors import CubeError, redact_url
from lstcloud.query.info import ProductInfo, product_info
from lstcloud.storage import filesystem, join, protocol_of, strip_protocol

__all__ = [
    "DATACUBE_EXTENSION",
    "ZARR_MEDIA_TYPE",
    "collection_dict",
    "item_dict",
    "items_digest",
    "merge_collections",
    "publish_collection",
]

log = logging.getLogger(__name__)

STAC_VERSION = "1.1.0"
DATACUBE_EXTENSION = "https://stac-extensions.github.io/datacube/v2.2.0/schema.json"
ZARR_MEDIA_TYPE = "application/vnd.zarr; version=3"
DEFAULT_COLLECTION_ID = "lstcloud-lst-250m"
DEFAULT_LICENSE = "CC-BY-4.0"
PROVIDERS = [
    {
        "name": "NASA LP DAAC",
        "description": "MODIS Terra/Aqua LST (MOD11A1/MOD21A1) and surface reflectance (MOD09).",
        "roles": ["producer", "licensor"],
        "url": "https://lpdaac.usgs.gov/",
    },
    {
        "name": "lstcloud",
        "description": "Super-resolution of 1 km MODIS LST to 250 m with SIF-CNN-SR.",
        "roles": ["processor"],
        "url": "https://github.com/lstcloud/lstcloud",
    },
]
QUALITY_FLAGS_DOC = (
    "Per-pixel quality flags (uint8 bit field, 0 = valid); the bit meanings are in the "
    "variable's flag_masks / flag_meanings attributes."
)


def _iso(day: dt.date, *, end: bool = False) -> str:
    suffix = "T23:59:59Z" if end else "T00:00:00Z"
    return f"{day.isoformat()}{suffix}"


def _cube_fields(info: ProductInfo, days: tuple[dt.date, dt.date] | None) -> dict[str, Any]:
    """``cube:dimensions`` and ``cube:variables`` of the datacube extension."""
    xmin, ymin, xmax, ymax = info.bounds
    dx, dy = info.resolution_m
    time_extent = [_iso(days[0]), _iso(days[1])] if days else [None, None]
    dimensions = {
        "time": {
            "type": "temporal",
            "description": "Day of the observation (00:00 UTC)",
            "extent": time_extent,
            "step": "P1D",
        },
        "y": {
            "type": "spatial",
            "axis": "y",
            "description": "MODIS sinusoidal northing of the pixel centres (decreasing)",
            "extent": [ymin + dy / 2, ymax - dy / 2],
            "step": -dy,
            "reference_system": info.crs_wkt,
        },
        "x": {
            "type": "spatial",
            "axis": "x",
            "description": "MODIS sinusoidal easting of the pixel centres",
            "extent": [xmin + dx / 2, xmax - dx / 2],
            "step": dx,
            "reference_system": info.crs_wkt,
        },
    }
    variables = {
        "lst_250m": {
            "type": "data",
            "description": "Land-surface temperature at 250 m (float32, NaN = no valid value)",
            "dimensions": ["time", "y", "x"],
            "unit": "K",
        },
    }
    if "lst_250m_quality" in info.variables:
        variables["lst_250m_quality"] = {
            "type": "auxiliary",
            "description": QUALITY_FLAGS_DOC,
            "dimensions": ["time", "y", "x"],
        }
    return {"cube:dimensions": dimensions, "cube:variables": variables}


def _bbox_polygon(bbox: tuple[float, float, float, float]) -> dict[str, Any]:
    w, s, e, n = bbox
    return {"type": "Polygon", "coordinates": [[[w, s], [e, s], [e, n], [w, n], [w, s]]]}


def collection_dict(
    info: ProductInfo,
    *,
    asset_href: str,
    collection_id: str = DEFAULT_COLLECTION_ID,
    license: str = DEFAULT_LICENSE,
    title: str = "lstcloud daily 250 m land-surface temperature (MODIS, super-resolved)",
) -> dict[str, Any]:
    """A STAC 1.1 Collection describing the product cube summarised by ``info``."""
    days = (info.complete_days[0], info.complete_days[-1]) if info.complete_days else None
    collection: dict[str, Any] = {
        "type": "Collection",
        "stac_version": STAC_VERSION,
        "stac_extensions": [DATACUBE_EXTENSION],
        "id": collection_id,
        "title": title,
        "description": (
            "Daily land-surface temperature (K) on the MODIS sinusoidal 250 m grid, super-resolved "
            "from MODIS 1 km LST with 250 m NDVI as guide by a scale-invariance-free CNN "
            "(SIF-CNN-SR). A per-pixel quality layer flags missing inputs (cloud, water, fill) "
            "and pixels outside the method's domain of confidence."
        ),
        "keywords": [
            "MODIS",
            "land surface temperature",
            "LST",
            "super-resolution",
            "250 m",
            "datacube",
            "zarr",
        ],
        "license": license,
        "providers": PROVIDERS,
        "extent": {
            "spatial": {"bbox": [list(info.bbox)]},
            "temporal": {
                "interval": [
                    [_iso(days[0]) if days else None, _iso(days[1], end=True) if days else None]
                ]
            },
        },
        **_cube_fields(info, days),
        "assets": {
            "zarr": {
                "href": asset_href,
                "type": ZARR_MEDIA_TYPE,
                "title": "Product datacube (Zarr v3)",
                "roles": ["data", "zarr"],
            }
        },
        "summaries": {"lstcloud:model_id": _model_ids(info)},
        "lstcloud:complete_days": len(info.complete_days),
        "lstcloud:missing_days": [d.isoformat() for d in info.missing_days],
        "lstcloud:software_version": __version__,
        "links": [],
    }
    return collection


def _provenance(info: ProductInfo, key: str) -> Any:
    """A provenance value by its bare name (``model_name`` also finds ``lstcloud_model_name``)."""
    for name in (key, f"lstcloud_{key}"):
        if name in info.provenance:
            return info.provenance[name]
    return None


def _model_ids(info: ProductInfo) -> list[str]:
    for key in ("model_id", "model_name", "model"):
        value = _provenance(info, key)
        if value is not None:
            return [str(value)]
    return []


def item_dict(
    info: ProductInfo, day: dt.date, *, asset_href: str, collection_id: str = DEFAULT_COLLECTION_ID
) -> dict[str, Any]:
    """A STAC Item for one complete day of the product (the asset is the whole cube)."""
    item_id = f"{collection_id}-{day.isoformat()}"
    properties = {
        "datetime": _iso(day),
        "start_datetime": _iso(day),
        "end_datetime": _iso(day, end=True),
        **_cube_fields(info, (day, day)),
    }
    for key in ("model_name", "model_id", "model_sha256", "input_cube", "software_version"):
        value = _provenance(info, key)
        if value is not None:
            properties[f"lstcloud:{key}"] = value
    return {
        "type": "Feature",
        "stac_version": STAC_VERSION,
        "stac_extensions": [DATACUBE_EXTENSION],
        "id": item_id,
        "collection": collection_id,
        "geometry": _bbox_polygon(info.bbox),
        "bbox": list(info.bbox),
        "properties": properties,
        "assets": {
            "zarr": {
                "href": asset_href,
                "type": ZARR_MEDIA_TYPE,
                "title": f"Product datacube (select time={day.isoformat()})",
                "roles": ["data", "zarr"],
            }
        },
        "links": [
            {"rel": "collection", "href": "../collection.json", "type": "application/json"},
            {"rel": "parent", "href": "../collection.json", "type": "application/json"},
            {"rel": "root", "href": "../collection.json", "type": "application/json"},
        ],
    }


_DIGEST_DAY = dt.date(2000, 1, 1)
ITEMS_DIGEST_FIELD = "lstcloud:items_digest"


def items_digest(info: ProductInfo, *, asset_href: str, collection_id: str) -> str:
    """sha256 of what every day's Item shares (its content for a fixed day)."""
    sample = item_dict(info, _DIGEST_DAY, asset_href=asset_href, collection_id=collection_id)
    return hashlib.sha256(json.dumps(sample, sort_keys=True).encode()).hexdigest()


def merge_collections(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """Merge a freshly computed collection into a previous one.

    Fields of ``new`` win, except that the spatial and temporal extents are the union of both
    and links (items) of ``old`` are kept. Fields only ``old`` has (added by hand) are kept.
    """
    merged = {**old, **new}
    old_box = old.get("extent", {}).get("spatial", {}).get("bbox", [[]])[0]
    new_box = new["extent"]["spatial"]["bbox"][0]
    if len(old_box) == 4:
        merged["extent"]["spatial"]["bbox"] = [
            [
                min(old_box[0], new_box[0]),
                min(old_box[1], new_box[1]),
                max(old_box[2], new_box[2]),
                max(old_box[3], new_box[3]),
            ]
        ]
    old_int = old.get("extent", {}).get("temporal", {}).get("interval", [[None, None]])[0]
    new_int = new["extent"]["temporal"]["interval"][0]
    starts = [t for t in (old_int[0], new_int[0]) if t]
    ends = [t for t in (old_int[1], new_int[1]) if t]
    interval = [min(starts) if starts else None, max(ends) if ends else None]
    merged["extent"]["temporal"]["interval"] = [interval]
    time_dim = merged["cube:dimensions"]["time"]
    if interval[0] and interval[1]:
        time_dim["extent"] = [interval[0], interval[1][:10] + "T00:00:00Z"]
    seen = set()
    links = []
    for link in [*new.get("links", []), *old.get("links", [])]:
        key = (link.get("rel"), link.get("href"))
        if key not in seen:
            seen.add(key)
            links.append(link)
    merged["links"] = links
    return merged


def publish_collection(
    *,
    product_url: str,
    out_dir: str | Path,
    collection_id: str = DEFAULT_COLLECTION_ID,
    asset_href: str | None = None,
    license: str = DEFAULT_LICENSE,
    write_items: bool = True,
    storage_options: dict[str, Any] | None = None,
    out_storage_options: dict[str, Any] | None = None,
) -> Path | str:
    """Write (or update) the product's STAC Collection in ``out_dir``.

    Parameters
    ----------
    product_url
        The product cube.
    out_dir
        Folder or URL (``s3://bucket/stac``) receiving ``collection.json`` and
        ``items/<id>.json`` (one Item per complete day).
    collection_id, license
        Collection identifier and SPDX licence id.
    asset_href
        Href published for the Zarr asset (defaults to ``product_url`` without credentials).
    write_items
        Also write one Item per complete day (only the new ones, and all of them again when
        anything they share changed: extent, provenance, asset href).
    storage_options
        fsspec options to read the product (also used for ``out_dir`` when it is on the same
        kind of storage and ``out_storage_options`` is not given).
    out_storage_options
        fsspec options for ``out_dir``.

    Returns
    -------
    pathlib.Path or str
        Where ``collection.json`` was written (a Path for a local folder, else its URL).

    Raises
    ------
    CubeError
        When the product cannot be read, or the existing ``collection.json`` is not valid JSON.
    """
    info = product_info(product_url, storage_options=storage_options)
    href = asset_href or redact_url(str(product_url))
    out = str(out_dir)
    if out_storage_options is None and protocol_of(out) == protocol_of(str(product_url)):
        out_storage_options = storage_options
    fs = filesystem(out, out_storage_options)
    root = strip_protocol(out)
    fs.makedirs(f"{root}/items", exist_ok=True)
    collection = collection_dict(
        info, asset_href=href, collection_id=collection_id, license=license
    )
    target = f"{root}/collection.json"
    old: dict[str, Any] | None = None
    if fs.exists(target):
        try:
            old = json.loads(fs.cat_file(target))
        except json.JSONDecodeError as exc:
            raise CubeError(
                f"{redact_url(join(out, 'collection.json'))} is not valid JSON: {exc}"
            ) from exc
        if old.get("id") != collection_id:
            old = None
    digest = items_digest(info, asset_href=href, collection_id=collection_id)
    collection[ITEMS_DIGEST_FIELD] = digest
    if write_items:
        unchanged = old is not None and old.get(ITEMS_DIGEST_FIELD) == digest
        present: set[str] = set()
        if unchanged:
            try:
                listing = fs.ls(f"{root}/items", detail=False, refresh=True)
            except FileNotFoundError:
                listing = []
            present = {str(p).rstrip("/").rsplit("/", 1)[-1] for p in listing}
        written = 0
        for day in info.complete_days:
            name = f"{collection_id}-{day.isoformat()}.json"
            if name not in present:
                item = item_dict(info, day, asset_href=href, collection_id=collection_id)
                fs.pipe_file(f"{root}/items/{name}", (json.dumps(item, indent=2) + "\n").encode())
                written += 1
            collection["links"].append(
                {"rel": "item", "href": f"./items/{name}", "type": "application/geo+json"}
            )
        log.info("wrote %d STAC item(s), %d unchanged", written, len(info.complete_days) - written)
    collection["links"] = [
        {"rel": "self", "href": "./collection.json", "type": "application/json"},
        {"rel": "root", "href": "./collection.json", "type": "application/json"},
        *collection["links"],
    ]
    if old is not None:
        collection = merge_collections(old, collection)
    payload = (json.dumps(collection, indent=2) + "\n").encode()
    if protocol_of(out) == "file":
        tmp = Path(target).with_suffix(".json.tmp")
        tmp.write_bytes(payload)
        tmp.replace(target)  # readers never see a half-written collection
    else:
        fs.pipe_file(target, payload)  # an object PUT is atomic
    log.info("published %s (%d complete days)", redact_url(target), len(info.complete_days))
    return Path(target) if protocol_of(out) == "file" else join(out, "collection.json")
