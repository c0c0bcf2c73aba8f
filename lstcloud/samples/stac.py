"""Sample STAC catalogues shaped like Planetary Computer's and NASA CMR-STAC's MODIS items.

:func:`build_sample_catalog` writes real-format asset files (COGs per SDS for
``planetary-computer``, whole HDF4-EOS granules for ``lpcloud``, through
:mod:`lstcloud.samples.granules`) and the STAC collections and items describing them, ready to be
served by :class:`lstcloud.stacserver.StacServer`. The JSON follows the real examples in
``../shared/data/stac_examples``:

Planetary Computer (stactools-modis items)
    id ``MOD11A1.A2022041.h19v02.061.2022042095544``; extensions projection v1.0.0, eo v1.0.0,
    raster v1.1.0; properties ``start_datetime`` / ``end_datetime`` with ``datetime: null``,
    ``modis:horizontal-tile``, ``modis:vertical-tile``, ``modis:tile-id`` (``"51019002"``),
    ``proj:epsg: null``, ``proj:wkt2``, ``proj:geometry``, ``proj:shape``, ``proj:transform``,
    ``platform``, ``instruments``, ``created``, ``updated``, ``eo:cloud_cover``; assets = one COG
    per SDS keyed by SDS name (spaces as underscores) with ``raster:bands``, plus ``hdf``
    (``application/x-hdf``) and ``metadata`` (``application/xml``).
CMR-STAC LPCLOUD
    id = granule UR; no extensions; properties ``datetime``, ``start_datetime``, ``end_datetime``;
    assets ``data`` (``application/x-hdfeos``, the whole granule), ``browse`` (``image/jpeg``) and
    ``metadata`` (``application/xml``); collection ids ``SHORTNAME_061``.

The pure builders (:func:`pc_item`, :func:`cmr_item`, :func:`pc_collection`,
:func:`cmr_collection`) only make dicts, for tests that need items without files.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from lstcloud.core.errors import ConfigError
from lstcloud.grid import EARTH_RADIUS, SINUSOIDAL_WKT, Tile
from lstcloud.products import ProductSpec, get_product

__all__ = [
    "PC_WKT2",
    "SampleCatalog",
    "build_sample_catalog",
    "cmr_collection",
    "cmr_item",
    "pc_collection",
    "pc_item",
    "tile_footprint",
]

#: ``proj:wkt2`` exactly as the Planetary Computer / stactools-modis items give it.
PC_WKT2 = SINUSOIDAL_WKT

_COG_TYPE = "image/tiff; application=geotiff; profile=cloud-optimized"
_PROJ = "https://stac-extensions.github.io/projection/v1.0.0/schema.json"
_EO = "https://stac-extensions.github.io/eo/v1.0.0/schema.json"
_RASTER = "https://stac-extensions.github.io/raster/v1.1.0/schema.json"
_ITEM_ASSETS = "https://stac-extensions.github.io/item-assets/v1.0.0/schema.json"
_SCIENTIFIC = "https://stac-extensions.github.io/scientific/v1.0.0/schema.json"
_STAC_VERSION = "1.0.0"

#: Units as the PC ``raster:bands`` spell them.
_PC_UNITS = {"K": "Kelvin", "hours": "Hours", "degrees": "Degree", "degree": "Degree"}


# ---------------------------------------------------------------------------- geometry
def _tile_hv(tile: Any) -> tuple[int, int]:
    parsed = Tile.parse(tile)
    return parsed.h, parsed.v


def _tile_id(tile: Any) -> str:
    return Tile.parse(tile).id


def tile_footprint(tile: Any, *, points_per_edge: int = 8) -> dict[str, Any]:
    """GeoJSON lon/lat polygon of a MODIS tile (densified edges, clipped to +-180 degrees)."""
    x0, y0, x1, y1 = Tile.parse(tile).bounds
    ring_xy: list[tuple[float, float]] = []
    steps = np.linspace(0.0, 1.0, points_per_edge + 1)[:-1]
    for (xa, ya), (xb, yb) in (
        ((x1, y0), (x1, y1)),
        ((x1, y1), (x0, y1)),
        ((x0, y1), (x0, y0)),
        ((x0, y0), (x1, y0)),
    ):
        ring_xy.extend((xa + (xb - xa) * t, ya + (yb - ya) * t) for t in steps)
    ring: list[list[float]] = []
    for x, y in ring_xy:
        lat = math.degrees(y / EARTH_RADIUS)
        cos = math.cos(math.radians(lat))
        lon = 0.0 if cos < 1e-12 else math.degrees(x / (EARTH_RADIUS * cos))
        point = [round(max(-180.0, min(180.0, lon)), 6), round(lat, 6)]
        if not ring or ring[-1] != point:
            ring.append(point)
    ring.append(ring[0])
    return {"type": "Polygon", "coordinates": [ring]}


def _bbox(geometry: Mapping[str, Any]) -> list[float]:
    coords = np.asarray(geometry["coordinates"][0], dtype=float)
    return [
        float(coords[:, 0].min()),
        float(coords[:, 1].min()),
        float(coords[:, 0].max()),
        float(coords[:, 1].max()),
    ]


def _proj_fields(spec: ProductSpec, tile: Any) -> dict[str, Any]:
    n = spec.shape[0]
    x0, y0, x1, y1 = Tile.parse(tile).bounds
    ring = [[x1, y0], [x1, y1], [x0, y1], [x0, y0], [x1, y0]]
    return {
        "proj:epsg": None,
        "proj:wkt2": PC_WKT2,
        "proj:geometry": {
            "type": "Polygon",
            "coordinates": [[[round(a, 6), round(b, 6)] for a, b in ring]],
        },
        "proj:shape": [n, n],
        "proj:transform": [(x1 - x0) / n, 0.0, round(x0, 6), 0.0, -(y1 - y0) / n, round(y1, 6)],
    }


# ---------------------------------------------------------------------------- time
def _period(spec: ProductSpec, date: dt.date) -> tuple[dt.date, dt.date]:
    start = spec.period_start(date)
    end = start + dt.timedelta(days=spec.composite_days - 1)
    return start, min(end, dt.date(start.year, 12, 31))


def _stamp(when: dt.datetime, *, millis: bool = False) -> str:
    if millis:
        return when.strftime("%Y-%m-%dT%H:%M:%S.000Z")
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def _production_time(production: str | None, start: dt.date) -> dt.datetime:
    if production and len(production) == 13 and production.isdigit():
        year, doy = int(production[:4]), int(production[4:7])
        base = dt.datetime(year, 1, 1) + dt.timedelta(days=doy - 1)
        return base.replace(
            hour=int(production[7:9]), minute=int(production[9:11]), second=int(production[11:13])
        )
    return dt.datetime.combine(start + dt.timedelta(days=1), dt.time(9, 55, 44))


def granule_id(
    product: str | ProductSpec, tile: Any, date: dt.date, *, production: str | None = None
) -> str:
    """The granule name without ``.hdf``: ``MOD11A1.A2022041.h19v02.061.2022042095544``.

    ``production`` is the 13-digit production stamp; by default the deterministic one of
    :func:`lstcloud.samples.granules.granule_id` (so item ids match the written file names).
    """
    spec = get_product(product)
    if production is None:
        from lstcloud.samples.granules import granule_id as _writer_granule_id

        return _writer_granule_id(spec, Tile.parse(tile), date)
    start, _ = _period(spec, date)
    return f"{spec.name}.A{start.year:04d}{start:%j}.{_tile_id(tile)}.061.{production}"


# ---------------------------------------------------------------------------- items
def _raster_band(spec: ProductSpec, sds: str) -> dict[str, Any]:
    var = spec.variables[sds]
    band: dict[str, Any] = {
        "data_type": var.dtype,
        "spatial_resolution": 1000 if spec.resolution == "1km" else 250,
    }
    unit = _PC_UNITS.get(var.units)
    if unit:
        band["unit"] = unit
    if var.scale != 1.0:
        band["scale"] = var.scale
    if var.offset != 0.0:
        band["offset"] = var.offset
    return band


def _pc_roles(spec: ProductSpec, sds: str) -> list[str]:
    role = spec.variables[sds].role or ""
    if role.startswith("lst_"):
        return ["data", "temperature"]
    if role in ("red", "nir"):
        return ["data", "reflectance"]
    return ["data"]


def pc_item(
    product: str | ProductSpec,
    tile: Any,
    date: dt.date,
    *,
    cog_hrefs: Mapping[str, str],
    hdf_href: str | None = None,
    metadata_href: str | None = None,
    production: str | None = None,
    cloud_cover: int | None = None,
) -> dict[str, Any]:
    """A Planetary Computer style item (stactools-modis shape) for one granule.

    Parameters
    ----------
    product, tile, date
        The granule (``date`` may be any day of a compositing period).
    cog_hrefs
        SDS name (or PC asset key) -> COG href.
    hdf_href, metadata_href
        Hrefs of the whole HDF4 file and its ``.hdf.xml`` (assets omitted when ``None``).
    production
        13-digit production stamp (default: the day after the period start, 09:55:44).
    cloud_cover
        ``eo:cloud_cover`` in percent.
    """
    spec = get_product(product)
    if "planetary-computer" not in spec.collections:
        raise ConfigError(f"Planetary Computer has no collection for {spec.name}")
    start, end = _period(spec, date)
    item_id = granule_id(spec, tile, date, production=production)
    made = _production_time(item_id.rsplit(".", 1)[-1], start)
    h, v = _tile_hv(tile)
    geometry = tile_footprint(tile)
    props: dict[str, Any] = {
        "start_datetime": _stamp(dt.datetime.combine(start, dt.time(0))),
        "end_datetime": _stamp(dt.datetime.combine(end, dt.time(23, 59, 59))),
        "instruments": ["modis"],
        "platform": "aqua" if spec.name.startswith("MYD") else "terra",
        "created": _stamp(made),
        "updated": (made - dt.timedelta(hours=5)).strftime("%Y-%m-%dT%H:%M:%S.%f") + "Z",
        "modis:horizontal-tile": h,
        "modis:vertical-tile": v,
        "modis:tile-id": f"51{h:03d}{v:03d}",
        **_proj_fields(spec, tile),
    }
    if cloud_cover is not None:
        props["eo:cloud_cover"] = int(cloud_cover)
    props["datetime"] = None
    by_key = {var.pc_asset_key: sds for sds, var in spec.variables.items()}
    assets: dict[str, Any] = {}
    if hdf_href is not None:
        assets["hdf"] = {
            "href": hdf_href,
            "type": "application/x-hdf",
            "title": "Source data containing all bands",
            "roles": ["data"],
        }
    if metadata_href is not None:
        assets["metadata"] = {
            "href": metadata_href,
            "type": "application/xml",
            "title": "Federal Geographic Data Committee (FGDC) Metadata",
            "roles": ["metadata"],
        }
    for name, href in sorted(cog_hrefs.items()):
        sds = name if name in spec.variables else by_key.get(name)
        if sds is None:
            raise ConfigError(f"{spec.name} has no SDS {name!r} (COG {href})")
        var = spec.variables[sds]
        assets[var.pc_asset_key] = {
            "href": href,
            "type": _COG_TYPE,
            "title": var.long_name or sds,
            "raster:bands": [_raster_band(spec, sds)],
            "roles": _pc_roles(spec, sds),
        }
    return {
        "type": "Feature",
        "stac_version": _STAC_VERSION,
        "id": item_id,
        "properties": props,
        "geometry": geometry,
        "links": [],
        "assets": dict(sorted(assets.items())),
        "bbox": _bbox(geometry),
        "stac_extensions": [_PROJ, _EO, _RASTER],
        "collection": spec.collection("planetary-computer"),
    }


def cmr_item(
    product: str | ProductSpec,
    tile: Any,
    date: dt.date,
    *,
    data_href: str,
    browse_href: str | None = None,
    metadata_href: str | None = None,
    production: str | None = None,
) -> dict[str, Any]:
    """A NASA CMR-STAC (LPCLOUD) style item for one whole HDF4 granule."""
    spec = get_product(product)
    start, end = _period(spec, date)
    item_id = granule_id(spec, tile, date, production=production)
    geometry = tile_footprint(tile)
    begin = dt.datetime.combine(start, dt.time(0))
    assets: dict[str, Any] = {
        "data": {
            "href": data_href,
            "title": f"Download {item_id}.hdf",
            "type": "application/x-hdfeos",
        }
    }
    if browse_href is not None:
        assets["browse"] = {
            "href": browse_href,
            "title": f"Download BROWSE.{item_id}.1.jpg",
            "type": "image/jpeg",
        }
    if metadata_href is not None:
        assets["metadata"] = {"href": metadata_href, "type": "application/xml"}
    return {
        "type": "Feature",
        "id": item_id,
        "stac_version": _STAC_VERSION,
        "stac_extensions": [],
        "collection": spec.collection("lpcloud"),
        "geometry": geometry,
        "bbox": _bbox(geometry),
        "links": [],
        "properties": {
            "datetime": _stamp(begin, millis=True),
            "start_datetime": _stamp(begin, millis=True),
            "end_datetime": _stamp(dt.datetime.combine(end, dt.time(23, 59, 59)), millis=True),
        },
        "assets": assets,
    }


# ---------------------------------------------------------------------------- collections
def _extent(items: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    if not items:
        return {
            "spatial": {"bbox": [[-180, -90, 180, 90]]},
            "temporal": {"interval": [[None, None]]},
        }
    boxes = np.asarray([item["bbox"] for item in items], dtype=float)
    starts = sorted(item["properties"]["start_datetime"] for item in items)
    ends = sorted(item["properties"]["end_datetime"] for item in items)
    return {
        "spatial": {
            "bbox": [
                [
                    float(boxes[:, 0].min()),
                    float(boxes[:, 1].min()),
                    float(boxes[:, 2].max()),
                    float(boxes[:, 3].max()),
                ]
            ]
        },
        "temporal": {"interval": [[starts[0], ends[-1]]]},
    }


def pc_collection(
    product: str | ProductSpec, items: Sequence[Mapping[str, Any]] = ()
) -> dict[str, Any]:
    """A Planetary Computer style collection (template shape, ``item_assets``) for ``product``."""
    spec = get_product(product)
    cid = spec.collection("planetary-computer")
    short = spec.name[3:]
    item_assets: dict[str, Any] = {
        "hdf": {
            "type": "application/x-hdf",
            "roles": ["data"],
            "title": "Source data containing all bands",
        },
        "metadata": {
            "type": "application/xml",
            "roles": ["metadata"],
            "title": "Federal Geographic Data Committee (FGDC) Metadata",
        },
    }
    for sds in spec.stored_variables:
        var = spec.variables[sds]
        item_assets[var.pc_asset_key] = {
            "type": _COG_TYPE,
            "title": var.long_name or sds,
            "roles": _pc_roles(spec, sds),
            "raster:bands": [_raster_band(spec, sds)],
        }
    title = spec.long_name.replace("MODIS/Terra ", "MODIS ").replace("MODIS/Aqua ", "MODIS ")
    return {
        "type": "Collection",
        "id": cid,
        "stac_version": _STAC_VERSION,
        "title": title,
        "description": f"{spec.long_name} (MOD{short} and MYD{short}), version 6.1.",
        "links": [
            {
                "rel": "license",
                "href": "https://lpdaac.usgs.gov/data/data-citation-and-policies/",
                "title": "LP DAAC - Data Citation and Policies",
            },
            {
                "rel": "cite-as",
                "href": f"https://doi.org/10.5067/MODIS/MOD{short}.061",
                "title": f"LP DAAC - MOD{short}",
            },
        ],
        "stac_extensions": [_RASTER, _ITEM_ASSETS, _SCIENTIFIC],
        "item_assets": item_assets,
        "msft:group_id": "modis",
        "msft:container": "modis-061",
        "msft:storage_account": "modiseuwest",
        "msft:short_description": title,
        "sci:publications": [
            {"doi": f"10.5067/MODIS/{prefix}{short}.061", "citation": f"{prefix}{short} V061"}
            for prefix in ("MOD", "MYD")
        ],
        "extent": _extent(items),
        "license": "proprietary",
        "keywords": ["NASA", "MODIS", "Satellite", "Global", f"MOD{short}", f"MYD{short}"],
        "providers": [
            {
                "name": "NASA LP DAAC at the USGS EROS Center",
                "roles": ["producer", "licensor", "processor"],
                "url": "https://lpdaac.usgs.gov/",
            },
            {
                "name": "Microsoft",
                "roles": ["host", "processor"],
                "url": "https://planetarycomputer.microsoft.com",
            },
        ],
    }


def cmr_collection(
    product: str | ProductSpec, items: Sequence[Mapping[str, Any]] = ()
) -> dict[str, Any]:
    """A CMR-STAC (LPCLOUD) style collection for ``product`` (id ``SHORTNAME_061``)."""
    spec = get_product(product)
    return {
        "id": spec.collection("lpcloud"),
        "stac_version": _STAC_VERSION,
        "type": "Collection",
        "license": "not-provided",
        "title": f"{spec.long_name} V061",
        "description": f"{spec.long_name}, version 6.1, distributed by NASA LP DAAC.",
        "links": [
            {
                "rel": "about",
                "href": f"https://doi.org/10.5067/MODIS/{spec.name}.061",
                "title": "HTML metadata for collection",
                "type": "text/html",
            }
        ],
        "extent": _extent(items),
    }


# ---------------------------------------------------------------------------- files
@dataclass(frozen=True)
class SampleCatalog:
    """What :func:`build_sample_catalog` wrote.

    Attributes
    ----------
    collections, items
        The STAC JSON (dicts).
    collections_path
        Folder holding one ``<collection id>.json`` per collection.
    items_path
        The items as newline-delimited JSON.
    root
        The folder everything was written under.
    provider
        ``"planetary-computer"`` or ``"lpcloud"``.
    """

    collections: list[dict[str, Any]]
    items: list[dict[str, Any]]
    collections_path: Path
    items_path: Path
    root: Path
    provider: str

    @property
    def collection_files(self) -> list[Path]:
        """The collection JSON files."""
        return sorted(self.collections_path.glob("*.json"))


def _href(path: Path, root: Path, base_url: str | None) -> str:
    if base_url is None:
        return str(path.resolve())
    return f"{base_url.rstrip('/')}/{path.resolve().relative_to(root).as_posix()}"


def _browse_array(landscape: Any, spec: ProductSpec) -> np.ndarray:
    order = ("lst_day_1km", "ndvi_250m") if spec.resolution == "1km" else ("ndvi_250m",)
    for name in order:
        arr = getattr(landscape, name, None)
        if arr is not None:
            data = np.asarray(arr, dtype=np.float32)
            step = max(1, data.shape[0] // 300)
            data = data[::step, ::step]
            finite = np.isfinite(data)
            if finite.any():
                lo, hi = np.nanpercentile(data, [2, 98])
                scaled = (data - lo) / max(float(hi - lo), 1e-6) * 254 + 1
                return np.where(finite, np.clip(scaled, 1, 255), 0).astype(np.uint8)
            return np.zeros(data.shape, np.uint8)
    return np.zeros((300, 300), np.uint8)


def _write_browse(path: Path, landscape: Any, spec: ProductSpec) -> None:
    from PIL import Image

    Image.fromarray(_browse_array(landscape, spec)).save(path, format="JPEG", quality=80)


def _fgdc_xml(item_id: str, start: dt.date, end: dt.date, tile: str) -> str:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<metadata><idinfo><citation><citeinfo>'
        f"<title>{item_id}</title></citeinfo></citation><timeperd><timeinfo><rngdates>"
        f"<begdate>{start:%Y-%m-%d}</begdate><enddate>{end:%Y-%m-%d}</enddate></rngdates>"
        f"</timeinfo></timeperd><keywords><place><placekey>{tile}</placekey></place></keywords>"
        "</idinfo></metadata>\n"
    )


def _cmr_xml(item_id: str, start: dt.date, end: dt.date) -> str:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<Granule>'
        f"<GranuleUR>{item_id}</GranuleUR><Collection><ShortName>{item_id.split('.')[0]}"
        "</ShortName><VersionId>061</VersionId></Collection><Temporal><RangeDateTime>"
        f"<BeginningDateTime>{start:%Y-%m-%d}T00:00:00.000Z</BeginningDateTime>"
        f"<EndingDateTime>{end:%Y-%m-%d}T23:59:59.000Z</EndingDateTime></RangeDateTime>"
        "</Temporal></Granule>\n"
    )


def _unique_periods(spec: ProductSpec, dates: Iterable[dt.date]) -> list[dt.date]:
    return sorted({spec.period_start(d) for d in dates})


@dataclass(frozen=True)
class _GranuleWriter:
    """Writes one granule's files the way a provider stores them, and returns its STAC item."""

    root: Path
    base_url: str | None
    seed: int
    cloud_fraction: float
    write_hdf_for_cogs: bool

    def _hdf(self, path: Path, spec: ProductSpec, tile: str, day: dt.date, land: Any) -> Path:
        from lstcloud.samples import granules as granule_writer

        return granule_writer.write_hdf4(
            path,
            product=spec.name,
            tile=Tile.parse(tile),
            date=day,
            seed=self.seed,
            cloud_fraction=self.cloud_fraction,
            landscape=land,
        )

    def _href(self, path: Path) -> str:
        return _href(path, self.root, self.base_url)

    def pc_granule(self, spec: ProductSpec, tile: str, day: dt.date, land: Any) -> dict[str, Any]:
        """Planetary Computer: one COG per SDS (and the HDF4 file behind the ``hdf`` asset)."""
        from lstcloud.samples import granules as granule_writer

        start, end = _period(spec, day)
        item_id = granule_id(spec, tile, start)
        h, v = _tile_hv(tile)
        sub = f"{spec.name}/{h:02d}/{v:02d}/{start.year:04d}{start:%j}"
        cog_dir = self.root / "modis-061-cogs" / sub
        cog_dir.mkdir(parents=True, exist_ok=True)
        cogs = granule_writer.write_cogs(
            cog_dir,
            product=spec.name,
            tile=Tile.parse(tile),
            date=day,
            seed=self.seed,
            cloud_fraction=self.cloud_fraction,
            landscape=land,
        )
        hdf_href = meta_href = None
        if self.write_hdf_for_cogs:
            hdf_dir = self.root / "modis-061" / sub
            hdf_dir.mkdir(parents=True, exist_ok=True)
            hdf = self._hdf(hdf_dir / f"{item_id}.hdf", spec, tile, day, land)
            meta = hdf_dir / f"{item_id}.hdf.xml"
            meta.write_text(_fgdc_xml(item_id, start, end, tile))
            hdf_href, meta_href = self._href(hdf), self._href(meta)
        cloud = getattr(land, "cloud_1km", None)
        return pc_item(
            spec,
            tile,
            day,
            cog_hrefs={k: self._href(Path(p)) for k, p in cogs.items()},
            hdf_href=hdf_href,
            metadata_href=meta_href,
            production=item_id.rsplit(".", 1)[-1],
            cloud_cover=None if cloud is None else round(100 * float(np.mean(cloud))),
        )

    def lp_granule(self, spec: ProductSpec, tile: str, day: dt.date, land: Any) -> dict[str, Any]:
        """LP DAAC (CMR-STAC): the whole HDF4 granule, its CMR XML and a browse image."""
        start, end = _period(spec, day)
        item_id = granule_id(spec, tile, start)
        folder = self.root / "lp-prod-protected" / f"{spec.name}.061" / item_id
        folder.mkdir(parents=True, exist_ok=True)
        hdf = self._hdf(folder / f"{item_id}.hdf", spec, tile, day, land)
        meta = folder / f"{item_id}.cmr.xml"
        meta.write_text(_cmr_xml(item_id, start, end))
        browse_dir = self.root / "lp-prod-public" / f"{spec.name}.061" / item_id
        browse_dir.mkdir(parents=True, exist_ok=True)
        browse = browse_dir / f"BROWSE.{item_id}.1.jpg"
        _write_browse(browse, land, spec)
        return cmr_item(
            spec,
            tile,
            day,
            data_href=self._href(hdf),
            browse_href=self._href(browse),
            metadata_href=self._href(meta),
            production=item_id.rsplit(".", 1)[-1],
        )


def _write_collections(
    root: Path,
    provider: str,
    specs: Sequence[ProductSpec],
    items_by_collection: dict[str, list[dict[str, Any]]],
) -> tuple[list[dict[str, Any]], Path]:
    """Write ``stac/collections/<id>.json``, one per collection of ``specs``."""
    collections_path = root / "stac" / "collections"
    collections_path.mkdir(parents=True, exist_ok=True)
    collections: list[dict[str, Any]] = []
    made = pc_collection if provider == "planetary-computer" else cmr_collection
    seen: set[str] = set()
    for spec in specs:
        cid = spec.collection(provider)
        if cid in seen:
            continue
        seen.add(cid)
        coll = made(spec, items_by_collection.get(cid, []))
        collections.append(coll)
        (collections_path / f"{cid}.json").write_text(json.dumps(coll, indent=1))
    return collections, collections_path


def build_sample_catalog(
    root: str | Path,
    *,
    provider: str,
    tiles: Sequence[Any],
    dates: Sequence[dt.date],
    products: Sequence[str | ProductSpec],
    seed: int = 0,
    base_url: str | None = None,
    cloud_fraction: float = 0.2,
    write_hdf_for_cogs: bool = True,
) -> SampleCatalog:
    """Write MODIS-format granules for ``tiles`` x ``dates`` x ``products`` and their STAC JSON.

    Parameters
    ----------
    root
        Output folder (created). Layout mirrors the providers' storage:
        ``modis-061-cogs/PRODUCT/hh/vv/YYYYDDD/<granule>_<SDS>.tif`` and
        ``modis-061/.../<granule>.hdf`` (+ ``.hdf.xml``) for ``planetary-computer``;
        ``lp-prod-protected/PRODUCT.061/<granule>/<granule>.hdf`` (+ ``.cmr.xml``) and
        ``lp-prod-public/.../BROWSE.<granule>.1.jpg`` for ``lpcloud``; then
        ``stac/collections/<id>.json`` and ``stac/items.ndjson``.
    provider
        ``"planetary-computer"`` (COG per SDS) or ``"lpcloud"`` (whole HDF4 granule).
    tiles, dates, products
        What to generate. Composite products (8/16-day) get one granule per period touched.
    seed
        Seed of the synthetic landscape (deterministic output).
    base_url
        If given, asset hrefs are ``base_url`` + the path relative to ``root`` (files served by
        an HTTP server or uploaded to object storage); otherwise absolute local paths.
    cloud_fraction
        Cloud fraction of the synthetic landscape.
    write_hdf_for_cogs
        For ``planetary-computer``: also write the whole HDF4 file behind the ``hdf`` asset.

    Returns
    -------
    SampleCatalog
    """
    from lstcloud.samples.landscape import make_landscape

    if provider not in ("planetary-computer", "lpcloud"):
        raise ConfigError(f"unknown provider {provider!r} (planetary-computer or lpcloud)")
    if not tiles or not dates or not products:
        raise ConfigError("build_sample_catalog needs at least one tile, date and product")
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    root = root.resolve()
    specs = [get_product(p) for p in products]
    for spec in specs:
        spec.collection(provider)  # ConfigError if the provider lacks the product
    tile_ids = sorted({_tile_id(t) for t in tiles})
    landscapes: dict[tuple[str, dt.date], Any] = {}

    def landscape(tile: str, day: dt.date) -> Any:
        key = (tile, day)
        if key not in landscapes:
            landscapes[key] = make_landscape(
                Tile.parse(tile), day, seed=seed, cloud_fraction=cloud_fraction
            )
        return landscapes[key]

    writer = _GranuleWriter(root, base_url, seed, cloud_fraction, write_hdf_for_cogs)
    items_by_collection: dict[str, list[dict[str, Any]]] = {}
    for spec in specs:
        for day in _unique_periods(spec, dates):
            for tile in tile_ids:
                land = landscape(tile, day)
                if provider == "planetary-computer":
                    item = writer.pc_granule(spec, tile, day, land)
                else:
                    item = writer.lp_granule(spec, tile, day, land)
                items_by_collection.setdefault(item["collection"], []).append(item)
    collections, collections_path = _write_collections(root, provider, specs, items_by_collection)
    items = [item for cid in sorted(items_by_collection) for item in items_by_collection[cid]]
    items.sort(key=lambda it: (it["collection"], it["properties"]["start_datetime"], it["id"]))
    items_path = root / "stac" / "items.ndjson"
    with items_path.open("w") as handle:
        for item in items:
            handle.write(json.dumps(item) + "\n")
    return SampleCatalog(
        collections=collections,
        items=items,
        collections_path=collections_path,
        items_path=items_path,
        root=root,
        provider=provider,
    )
