"""The product's STAC Collection (datacube extension) and one STAC Item per complete day.

Each Item carries what loaders need to read the day without lstcloud:

- one asset per product variable (``lst_250m``, ``lst_250m_quality``): a Cloud-Optimized GeoTIFF
  of the day (:mod:`lstcloud.publish.cog`) with the projection extension (``proj:code`` null and
  ``proj:wkt2``: the MODIS sinusoidal sphere has no EPSG code; ``proj:shape``,
  ``proj:transform``) and the band's ``data_type``/``nodata``/``unit`` (STAC 1.1 and
  ``raster:bands``), which is what odc-stac and stackstac read;
- the ``zarr`` asset (the whole cube) with the xarray-assets extension (``xarray:open_kwargs``)
  for Zarr-aware loaders (xpystac, ``xr.open_dataset(**open_kwargs)``), selected by the Item's
  day.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
from typing import Any

from lstcloud import __version__
from lstcloud.query.info import ProductInfo

__all__ = [
    "DATACUBE_EXTENSION",
    "DAY_DIGESTS_FIELD",
    "ITEMS_DIGEST_FIELD",
    "PROJECTION_EXTENSION",
    "RASTER_EXTENSION",
    "XARRAY_EXTENSION",
    "ZARR_MEDIA_TYPE",
    "VariableAsset",
    "collection_dict",
    "item_dict",
    "items_digest",
    "merge_collections",
]

STAC_VERSION = "1.1.0"
DATACUBE_EXTENSION = "https://stac-extensions.github.io/datacube/v2.2.0/schema.json"
PROJECTION_EXTENSION = "https://stac-extensions.github.io/projection/v2.0.0/schema.json"
RASTER_EXTENSION = "https://stac-extensions.github.io/raster/v1.1.0/schema.json"
XARRAY_EXTENSION = "https://stac-extensions.github.io/xarray-assets/v1.0.0/schema.json"
ZARR_MEDIA_TYPE = "application/vnd.zarr; version=3"
COG_MEDIA_TYPE = "image/tiff; application=geotiff; profile=cloud-optimized"
#: How xarray opens the ``zarr`` asset (the cube's metadata is consolidated).
XARRAY_OPEN_KWARGS = {"engine": "zarr", "consolidated": True, "decode_coords": "all", "chunks": {}}
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
UNCERTAINTY_DOC = (
    "1-sigma uncertainty (K) of lst_250m as an estimate of an independent 250 m LST (what "
    "ASTER would measure), calibrated out of fold against ASTER AST_08; CF standard_error of "
    "lst_250m. It includes the MODIS-ASTER sensor mismatch."
)
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
    if "lst_250m_uncertainty" in info.variables:
        variables["lst_250m_uncertainty"] = {
            "type": "auxiliary",
            "description": UNCERTAINTY_DOC,
            "dimensions": ["time", "y", "x"],
            "unit": "K",
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
    consolidated: bool = True,
) -> dict[str, Any]:
    """A STAC 1.1 Collection describing the product cube summarised by ``info``.

    ``consolidated`` says whether the cube has consolidated metadata (``xarray:open_kwargs``).
    """
    days = (info.complete_days[0], info.complete_days[-1]) if info.complete_days else None
    collection: dict[str, Any] = {
        "type": "Collection",
        "stac_version": STAC_VERSION,
        "stac_extensions": [DATACUBE_EXTENSION, XARRAY_EXTENSION],
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
        "assets": {"zarr": _zarr_asset(asset_href, "Product datacube (Zarr v3)", consolidated)},
        "item_assets": _item_assets(),
        "summaries": {"lstcloud:model_id": _model_ids(info)},
        "lstcloud:complete_days": len(info.complete_days),
        "lstcloud:missing_days": [d.isoformat() for d in info.missing_days],
        "lstcloud:software_version": __version__,
        "links": [],
    }
    return collection


def _item_assets() -> dict[str, Any]:
    """What each Item's assets are (STAC 1.1 ``item_assets``)."""
    return {
        "lst_250m": {
            "type": COG_MEDIA_TYPE,
            "roles": ["data"],
            "title": "Land-surface temperature at 250 m (K) of the day, COG",
            "data_type": "float32",
            "nodata": "nan",
            "unit": "K",
        },
        "lst_250m_quality": {
            "type": COG_MEDIA_TYPE,
            "roles": ["data", "quality"],
            "title": "Quality flags of lst_250m of the day (0 = valid), COG",
            "data_type": "uint8",
            "nodata": 255,
        },
        "lst_250m_uncertainty": {
            "type": COG_MEDIA_TYPE,
            "roles": ["data", "quality"],
            "title": "Calibrated 1-sigma uncertainty of lst_250m (K) of the day, COG "
                     "(products of a model with a calibrated uncertainty)",
            "data_type": "float32",
            "nodata": "nan",
            "unit": "K",
        },
        "zarr": {"type": ZARR_MEDIA_TYPE, "roles": ["data", "zarr"], "title": "Product datacube"},
    }


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


@dataclasses.dataclass(frozen=True)
class VariableAsset:
    """A per-variable raster asset of one day (a COG), as published in an Item.

    Attributes
    ----------
    variable
        Product variable, also the asset key (``lst_250m``).
    href
        Public href of the file.
    dtype
        numpy dtype name (``float32``, ``uint8``).
    nodata
        Nodata value (NaN for LST).
    unit
        Unit of the values (``K``).
    size
        File size in bytes (``file:size`` is not published; used for the storage report).
    """

    variable: str
    href: str
    dtype: str
    nodata: float
    unit: str
    size: int = 0


def _nodata(value: float) -> float | str:
    return "nan" if value != value else value  # NaN is published as the string "nan"


def _proj_fields(info: ProductInfo) -> dict[str, Any]:
    """Projection-extension fields of the product's grid (pixel corners, row-major)."""
    xmin, _, _, ymax = info.bounds
    dx, dy = info.resolution_m
    return {
        "proj:code": None,
        "proj:wkt2": info.crs_wkt,
        "proj:shape": [int(info.shape["y"]), int(info.shape["x"])],
        "proj:transform": [dx, 0.0, xmin, 0.0, -dy, ymax],
    }


def _variable_asset(info: ProductInfo, asset: VariableAsset, day: dt.date | None) -> dict[str, Any]:
    title = {
        "lst_250m": "Land-surface temperature at 250 m (K), Cloud-Optimized GeoTIFF",
        "lst_250m_quality": "Quality flags of lst_250m (uint8 bit field, 0 = valid), COG",
        "lst_250m_uncertainty": "Calibrated 1-sigma uncertainty of lst_250m (K), COG",
    }.get(asset.variable, f"{asset.variable} (Cloud-Optimized GeoTIFF)")
    band = {
        "data_type": asset.dtype,
        "nodata": _nodata(asset.nodata),
        "unit": asset.unit,
        "spatial_resolution": info.resolution_m[0],
    }
    out: dict[str, Any] = {
        "href": asset.href,
        "type": COG_MEDIA_TYPE,
        "title": title if day is None else f"{title}, {day.isoformat()}",
        "roles": ["data"],
        **_proj_fields(info),
        "data_type": band["data_type"],
        "nodata": band["nodata"],
        "unit": band["unit"],
        "raster:bands": [{**band, "scale": 1.0, "offset": 0.0}],
    }
    if asset.variable in ("lst_250m_quality", "lst_250m_uncertainty"):
        out["roles"] = ["data", "quality"]
    return out


def _zarr_asset(href: str, title: str, consolidated: bool = True) -> dict[str, Any]:
    return {
        "href": href,
        "type": ZARR_MEDIA_TYPE,
        "title": title,
        "roles": ["data", "zarr"],
        "xarray:open_kwargs": {**XARRAY_OPEN_KWARGS, "consolidated": consolidated},
    }


def item_dict(
    info: ProductInfo,
    day: dt.date,
    *,
    asset_href: str,
    collection_id: str = DEFAULT_COLLECTION_ID,
    assets: dict[str, VariableAsset] | None = None,
    day_digest: str | None = None,
    consolidated: bool = True,
) -> dict[str, Any]:
    """A STAC Item for one complete day of the product.

    Parameters
    ----------
    info
        The product's summary (:func:`lstcloud.query.product_info`).
    day
        A complete day.
    asset_href
        Public href of the product cube (the ``zarr`` asset).
    collection_id
        The collection of the Item; the Item id is ``<collection_id>-<day>``.
    assets
        The day's per-variable raster assets (COGs) by variable name.
    day_digest
        Identifies this writing of the day (``lstcloud:day_digest``).
    consolidated
        Whether the cube has consolidated metadata (the ``zarr`` asset's ``xarray:open_kwargs``).
    """
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
    if day_digest:
        properties["lstcloud:day_digest"] = day_digest
    # share of the day's tiles without a 250 m guide (LST interpolated, flag guide_missing)
    properties["lstcloud:guide_missing_share"] = float(info.without_guide.get(day, 0.0))
    item_assets: dict[str, Any] = {
        name: _variable_asset(info, asset, day) for name, asset in (assets or {}).items()
    }
    item_assets["zarr"] = _zarr_asset(
        asset_href, f"Product datacube, Zarr v3 (select time={day.isoformat()})", consolidated
    )
    extensions = [DATACUBE_EXTENSION, XARRAY_EXTENSION]
    if assets:
        extensions += [PROJECTION_EXTENSION, RASTER_EXTENSION]
    return {
        "type": "Feature",
        "stac_version": STAC_VERSION,
        "stac_extensions": extensions,
        "id": item_id,
        "collection": collection_id,
        "geometry": _bbox_polygon(info.bbox),
        "bbox": list(info.bbox),
        "properties": properties,
        "assets": item_assets,
        "links": [
            {"rel": "collection", "href": "../collection.json", "type": "application/json"},
            {"rel": "parent", "href": "../collection.json", "type": "application/json"},
            {"rel": "root", "href": "../collection.json", "type": "application/json"},
        ],
    }


_DIGEST_DAY = dt.date(2000, 1, 1)


def items_digest(
    info: ProductInfo,
    *,
    asset_href: str,
    collection_id: str,
    cog_href: str | None = None,
    consolidated: bool = True,
) -> str:
    """sha256 of what every day's Item shares (its content for a fixed day).

    ``cog_href`` is the public folder of the COG assets (None: no COG assets).
    """
    sample_assets = None
    if cog_href is not None:
        sample_assets = {
            v: VariableAsset(v, f"{cog_href}/x/{v}.tif", t, n, u)
            for v, t, n, u in (
                ("lst_250m", "float32", float("nan"), "K"),
                ("lst_250m_quality", "uint8", 255.0, "1"),
            )
        }
    sample = item_dict(
        info,
        _DIGEST_DAY,
        asset_href=asset_href,
        collection_id=collection_id,
        assets=sample_assets,
        consolidated=consolidated,
    )
    return hashlib.sha256(json.dumps(sample, sort_keys=True).encode()).hexdigest()


ITEMS_DIGEST_FIELD = "lstcloud:items_digest"
#: ``{day: digest of its completion marker}`` of the published Items (in the Collection).
DAY_DIGESTS_FIELD = "lstcloud:day_digests"


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
