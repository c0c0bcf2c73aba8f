"""What a product cube holds: extent, complete and missing days, model provenance."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
from typing import Any

import numpy as np
import pyproj
import xarray as xr

from lstcloud.core.redact import redact_url
from lstcloud.cube.product import complete_days as product_complete_days
from lstcloud.grid import Tile
from lstcloud.query._dataset import (
    LST_VAR,
    load_product,
    pixel_size,
    product_crs,
)

__all__ = [
    "ProductInfo",
    "complete_days",
    "lonlat_bbox",
    "product_info",
    "product_info_from_dataset",
]

log = logging.getLogger(__name__)

#: Global attributes reported as provenance when present.
PROVENANCE_KEYS = (
    "model",
    "model_id",
    "model_name",
    "model_sha256",
    "model_card",
    "input_cube",
    "software_version",
    "lstcloud_version",
    "date_written",
    "history",
    "source",
    "title",
    "institution",
)


@dataclasses.dataclass(frozen=True)
class ProductInfo:
    """Summary of a product cube.

    Attributes
    ----------
    url
        The cube URL (credentials redacted).
    shape
        Size of each dimension.
    chunks
        Chunk size per dimension of ``lst_250m``.
    crs_wkt
        The grid's CRS as WKT2.
    resolution_m
        Pixel size (x, y) in metres.
    bounds
        Grid bounds ``(xmin, ymin, xmax, ymax)`` in the grid CRS (metres).
    bbox
        ``(west, south, east, north)`` in degrees (WGS 84).
    time_range
        First and last day of the time axis (None when empty).
    complete_days
        Days whose completion record exists, sorted.
    missing_days
        Days between the first and last day of the time axis without a completion record.
    provenance
        Model id and hash, input cube, software version ... from the cube's attributes.
    variables
        Data variables of the cube.
    without_guide
        ``{day: share}`` for complete days some of whose tiles had no 250 m guide (NDVI):
        the share of the cube's tiles whose LST is interpolated there (flag ``guide_missing``).
    """

    url: str
    shape: dict[str, int]
    chunks: dict[str, int]
    crs_wkt: str
    resolution_m: tuple[float, float]
    bounds: tuple[float, float, float, float]
    bbox: tuple[float, float, float, float]
    time_range: tuple[dt.date, dt.date] | None
    complete_days: tuple[dt.date, ...]
    missing_days: tuple[dt.date, ...]
    provenance: dict[str, Any]
    variables: tuple[str, ...]
    without_guide: dict[dt.date, float] = dataclasses.field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dictionary (dates as ISO strings)."""
        return {
            "url": self.url,
            "variables": list(self.variables),
            "shape": dict(self.shape),
            "chunks": dict(self.chunks),
            "crs_wkt": self.crs_wkt,
            "resolution_m": list(self.resolution_m),
            "bounds": list(self.bounds),
            "bbox": list(self.bbox),
            "time_range": [d.isoformat() for d in self.time_range] if self.time_range else None,
            "complete_days": [d.isoformat() for d in self.complete_days],
            "missing_days": [d.isoformat() for d in self.missing_days],
            "provenance": self.provenance,
            "without_guide": {d.isoformat(): v for d, v in sorted(self.without_guide.items())},
        }

    def to_text(self) -> str:
        """Human-readable summary as printed by ``lstcloud info``."""
        lines = [f"product     {self.url}"]
        lines.append("variables   " + ", ".join(self.variables))
        lines.append("shape       " + ", ".join(f"{k}={v}" for k, v in self.shape.items()))
        lines.append("chunks      " + ", ".join(f"{k}={v}" for k, v in self.chunks.items()))
        crs = pyproj.CRS.from_wkt(self.crs_wkt)
        crs_name = crs.name
        if crs_name in ("unknown", "unnamed"):
            crs_name = "sinusoidal" if "sinusoidal" in self.crs_wkt.lower() else "custom CRS"
        if crs_name == "sinusoidal" and crs.ellipsoid is not None:
            crs_name = f"MODIS sinusoidal (sphere R = {crs.ellipsoid.semi_major_metre:.3f} m)"
        lines.append(f"crs         {crs_name}; pixel {self.resolution_m[0]:.3f} m")
        lines.append("bbox        W {:.4f} S {:.4f} E {:.4f} N {:.4f} (degrees)".format(*self.bbox))
        if self.time_range:
            lines.append(f"time axis   {self.time_range[0]} .. {self.time_range[1]}")
        else:
            lines.append("time axis   empty")
        lines.append(f"complete    {len(self.complete_days)} day(s) {_ranges(self.complete_days)}")
        lines.append(f"missing     {len(self.missing_days)} day(s) {_ranges(self.missing_days)}")
        for day, share in sorted(self.without_guide.items()):
            lines.append(f"no guide    {day}: {share:.0%} of the tiles had no 250 m NDVI "
                         "(LST interpolated, flag guide_missing)")
        for key, value in self.provenance.items():
            lines.append(f"{key:<11} {_summary(key, value)}")
        return "\n".join(lines)


#: Card fields shown in the one-line summary of a model card, in this order.
_CARD_SUMMARY = ("name", "architecture", "parameters", "passes", "receptive_field_px",
                 "alignment_px")
#: Longest provenance value printed whole by ``to_text`` (``to_dict`` / ``--json``: all).
_LONGEST = 160


def _summary(key: str, value: Any) -> str:
    """A provenance value on one short line: a model card summarised, long values cut."""
    if isinstance(value, dict) and key.endswith("model_card"):
        parts = [f"{k} {value[k]}" for k in _CARD_SUMMARY if value.get(k) not in (None, "")]
        if isinstance(value.get("members"), list):
            parts.append(f"{len(value['members'])} members")
        post = value.get("postprocess")
        if isinstance(post, dict) and post.get("consistency_correction"):
            parts.append(f"postprocess {post['consistency_correction']}")
        return "; ".join(parts) + " (full card: lstcloud info --json)"
    text = value if isinstance(value, str) else json.dumps(value)
    if len(text) > _LONGEST:
        return text[: _LONGEST - 30] + f"... ({len(text)} chars: lstcloud info --json)"
    return text


def _ranges(days: tuple[dt.date, ...]) -> str:
    """Compact ``a..b, c`` form of a sorted list of days."""
    if not days:
        return ""
    parts: list[str] = []
    first = prev = days[0]
    for day in days[1:]:
        if (day - prev).days != 1:
            parts.append(f"{first}..{prev}" if first != prev else f"{first}")
            first = day
        prev = day
    parts.append(f"{first}..{prev}" if first != prev else f"{first}")
    return "[" + ", ".join(parts) + "]"


def complete_days(url: str, *, storage_options: dict[str, Any] | None = None) -> list[dt.date]:
    """Days of the product at ``url`` whose completion marker exists, sorted
    (:func:`lstcloud.cube.product.complete_days` without the markers' content)."""
    return sorted(product_complete_days(url, storage_options=storage_options))


def _jsonable(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    try:
        json.dumps(value)
    except TypeError:
        return str(value)
    return value


def lonlat_bbox(
    crs: pyproj.CRS, bounds: tuple[float, float, float, float], *, samples: int = 101
) -> tuple[float, float, float, float]:
    """WGS 84 bbox of a projected rectangle, from a dense grid of points inside it.

    Points that fall off the globe (sinusoidal tile corners beyond the 180th meridian) are
    ignored, so the box is that of the valid part; edge densification alone wraps around there.
    """
    xmin, ymin, xmax, ymax = bounds
    xs, ys = np.meshgrid(np.linspace(xmin, xmax, samples), np.linspace(ymin, ymax, samples))
    to_lonlat = pyproj.Transformer.from_crs(crs, "EPSG:4326", always_xy=True)
    lon, lat = to_lonlat.transform(xs.ravel(), ys.ravel(), errcheck=False)
    lon, lat = np.asarray(lon), np.asarray(lat)
    ok = np.isfinite(lon) & np.isfinite(lat) & (np.abs(lon) <= 180.0) & (np.abs(lat) <= 90.0)
    if crs.is_projected:
        # Round trip: the inverse of an off-globe point can land inside the range by wrapping.
        back_x, back_y = pyproj.Transformer.from_crs("EPSG:4326", crs, always_xy=True).transform(
            lon, lat, errcheck=False
        )
        ok &= np.isclose(back_x, xs.ravel(), atol=1.0) & np.isclose(back_y, ys.ravel(), atol=1.0)
    if not ok.any():
        return (-180.0, -90.0, 180.0, 90.0)
    return (
        float(lon[ok].min()),
        float(lat[ok].min()),
        float(lon[ok].max()),
        float(lat[ok].max()),
    )


def _tiles_bbox(
    tiles: Any, crs: pyproj.CRS, pixel: float
) -> tuple[float, float, float, float] | None:
    """Union of the lon/lat boxes of the MODIS tiles a product lists (tighter than its grid)."""
    if not tiles:
        return None
    if isinstance(tiles, str):
        tiles = [t for t in tiles.replace(";", ",").split(",") if t.strip()]
    try:
        boxes = [lonlat_bbox(crs, Tile.parse(str(t).strip()).bounds, samples=41) for t in tiles]
    except (ValueError, LookupError) as exc:
        log.debug("tile list %r not usable for the bbox: %s", tiles, exc)
        return None
    return (
        min(b[0] for b in boxes),
        min(b[1] for b in boxes),
        max(b[2] for b in boxes),
        max(b[3] for b in boxes),
    )


def product_info_from_dataset(
    ds: xr.Dataset, *, url: str, days_complete: list[dt.date]
) -> ProductInfo:
    """Build a :class:`ProductInfo` from an opened product and its complete days."""
    crs = product_crs(ds)
    dx, dy = pixel_size(ds)
    x = ds["x"].values
    y = ds["y"].values
    bounds = (
        float(x.min() - dx / 2),
        float(y.min() - dy / 2),
        float(x.max() + dx / 2),
        float(y.max() + dy / 2),
    )
    bbox = _tiles_bbox(ds.attrs.get("tiles") or ds.attrs.get("tile_ids"), crs, dx)
    if bbox is None:
        bbox = lonlat_bbox(crs, bounds)
    days_axis = [d.date() for d in ds.indexes["time"]] if "time" in ds.indexes else []
    time_range = (min(days_axis), max(days_axis)) if days_axis else None
    complete = tuple(sorted(set(days_complete)))
    missing: tuple[dt.date, ...] = ()
    if time_range:
        span = (time_range[1] - time_range[0]).days + 1
        every_day = (time_range[0] + dt.timedelta(days=i) for i in range(span))
        if ds.attrs.get("lstcloud_composite_period"):  # a composite cube: one step per period
            every_day = iter(days_axis)
        done = set(complete)
        missing = tuple(d for d in every_day if d not in done)
    lst = ds[LST_VAR]
    chunks = {}
    if lst.chunks:
        chunks = {dim: int(c[0]) for dim, c in zip(lst.dims, lst.chunks, strict=True)}
    elif lst.encoding.get("chunks"):
        chunks = dict(zip(lst.dims, (int(c) for c in lst.encoding["chunks"]), strict=True))
    provenance = {k: _jsonable(ds.attrs[k]) for k in PROVENANCE_KEYS if k in ds.attrs}
    provenance.update(
        {k: _jsonable(v) for k, v in ds.attrs.items() if k.startswith(("model", "lstcloud"))}
    )
    return ProductInfo(
        url=url,
        shape={str(k): int(v) for k, v in ds.sizes.items()},
        chunks=chunks,
        crs_wkt=crs.to_wkt(),
        resolution_m=(dx, dy),
        bounds=bounds,
        bbox=tuple(float(v) for v in bbox),
        time_range=time_range,
        complete_days=complete,
        missing_days=missing,
        provenance=provenance,
        variables=tuple(str(v) for v in ds.data_vars if v != "spatial_ref"),
    )


def product_info(url: str, *, storage_options: dict[str, Any] | None = None) -> ProductInfo:
    """Extent, complete days, missing days and model provenance of the product at ``url``.

    Raises
    ------
    CubeError
        When ``url`` holds no readable product.
    """
    ds = load_product(url, storage_options=storage_options)
    days = sorted(dt.date.fromisoformat(d) for d in ds.attrs.get("complete_days", []))
    info = product_info_from_dataset(ds, url=redact_url(str(url)), days_complete=days)
    markers = product_complete_days(url, storage_options=storage_options)
    shares = {
        day: float(marker.get("guide_missing_share") or 0.0)
        for day, marker in markers.items()
        if marker.get("tiles_without_guide")
    }
    return dataclasses.replace(info, without_guide=shares) if shares else info
