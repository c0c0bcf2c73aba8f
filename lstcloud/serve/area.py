"""``/edr/area``: per-day mean and count of the valid pixels inside a polygon or a box."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pyproj
import shapely
import xarray as xr
from fastapi import APIRouter, Query

from lstcloud.core.errors import ConfigError, CubeError
from lstcloud.cube.product import LST_VAR
from lstcloud.query import bbox_subset, parse_bbox, product_crs
from lstcloud.serve.limits import Refused, ServeLimits, parse_interval

__all__ = ["area_router", "area_statistics", "parse_area"]


def parse_area(coords: str | None, bbox: str | None) -> shapely.Polygon:
    """The lon/lat polygon of an area query: ``coords=POLYGON((...))`` or ``bbox=W,S,E,N``."""
    if bbox:
        try:
            return shapely.box(*parse_bbox(bbox))
        except ConfigError as exc:
            raise Refused(400, str(exc)) from exc
    if not coords:
        raise Refused(400, "give coords=POLYGON((lon lat, ...)) or bbox=W,S,E,N")
    try:
        geom = shapely.from_wkt(coords)
    except shapely.errors.GEOSException as exc:
        raise Refused(400, f"coords: {coords[:80]!r} is not WKT") from exc
    if not isinstance(geom, shapely.Polygon | shapely.MultiPolygon) or not geom.is_valid:
        raise Refused(400, "coords: give a valid POLYGON or MULTIPOLYGON in lon/lat")
    return geom


def area_statistics(
    ds: xr.Dataset, polygon: Any, *, start: Any, end: Any, variable: str, limits: ServeLimits
) -> xr.Dataset:
    """Per day: ``mean`` and ``count`` of the finite ``variable`` pixels whose centre is inside
    ``polygon`` (lon/lat), on the product's own grid (no resampling)."""
    try:
        sub = bbox_subset(ds, bbox=polygon.bounds, start=start, end=end)
    except CubeError as exc:
        raise Refused(404, str(exc)) from exc
    except ConfigError as exc:
        raise Refused(400, str(exc)) from exc
    values = sub.sizes["time"] * sub.sizes["y"] * sub.sizes["x"]
    if values > limits.max_area_values:
        raise Refused(
            413,
            f"the area holds {values} pixel-days, above this service's limit of "
            f"{limits.max_area_values}: ask for a smaller area or fewer days",
        )
    to_grid = pyproj.Transformer.from_crs("EPSG:4326", product_crs(ds), always_xy=True)
    native = shapely.transform(
        shapely.segmentize(polygon, 0.01), to_grid.transform, interleaved=False
    )
    xx, yy = np.meshgrid(sub["x"].values, sub["y"].values)
    inside = xr.DataArray(shapely.contains_xy(native, xx, yy), dims=("y", "x"))
    da = sub[variable].astype("float32").where(inside)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Mean of empty slice", category=RuntimeWarning)
        out = xr.Dataset(
            {
                "mean": da.mean(("y", "x")),
                "count": da.notnull().sum(("y", "x")).astype("int64"),
            }
        ).load()
    out.attrs = {"pixels_inside": int(inside.sum())}
    return out


def _coverage(stats: xr.Dataset, polygon: Any, variable: str, units: str) -> dict[str, Any]:
    times = [str(t)[:10] + "T00:00:00Z" for t in stats["time"].values.astype("datetime64[D]")]
    mean = [None if not np.isfinite(v) else float(v) for v in stats["mean"].values]
    centre = polygon.centroid
    return {
        "type": "Coverage",
        "domain": {
            "type": "Domain",
            "domainType": "PointSeries",
            "axes": {
                "x": {"values": [centre.x]},
                "y": {"values": [centre.y]},
                "t": {"values": times},
            },
            "referencing": [
                {
                    "coordinates": ["x", "y"],
                    "system": {
                        "type": "GeographicCRS",
                        "id": "http://www.opengis.net/def/crs/OGC/1.3/CRS84",
                    },
                },
                {"coordinates": ["t"], "system": {"type": "TemporalRS", "calendar": "Gregorian"}},
            ],
        },
        "parameters": {
            f"{variable}_mean": {
                "type": "Parameter",
                "description": {"en": f"mean of the valid {variable} pixels inside the area"},
                "unit": {"symbol": units},
                "observedProperty": {"label": {"en": f"{variable} area mean"}},
            },
            f"{variable}_count": {
                "type": "Parameter",
                "description": {"en": f"number of valid {variable} pixels inside the area"},
                "unit": {"symbol": "1"},
                "observedProperty": {"label": {"en": f"{variable} valid pixels"}},
            },
        },
        "ranges": {
            f"{variable}_mean": {
                "type": "NdArray",
                "dataType": "float",
                "axisNames": ["t"],
                "shape": [len(times)],
                "values": mean,
            },
            f"{variable}_count": {
                "type": "NdArray",
                "dataType": "integer",
                "axisNames": ["t"],
                "shape": [len(times)],
                "values": [int(v) for v in stats["count"].values],
            },
        },
        "pixels_inside": stats.attrs["pixels_inside"],
    }


def area_router(ds: xr.Dataset, limits: ServeLimits) -> APIRouter:
    """The ``/edr/area`` route over the product ``ds``."""
    router = APIRouter()

    @router.get("/edr/area", summary="Area query: per-day mean and count (CoverageJSON)")
    def area(
        coords: str | None = Query(None, description="POLYGON((lon lat, ...)) in WKT"),
        bbox: str | None = Query(None, description="W,S,E,N in degrees (instead of coords)"),
        datetime: str | None = Query(None, description="DAY or START/END"),
        parameter_name: str = Query(LST_VAR, alias="parameter-name"),
    ) -> dict[str, Any]:
        if parameter_name not in ds or parameter_name.endswith("_quality"):
            raise Refused(400, f"parameter-name: {parameter_name!r} cannot be averaged here")
        polygon = parse_area(coords, bbox)
        start, end = parse_interval(datetime)
        stats = area_statistics(
            ds, polygon, start=start, end=end, variable=parameter_name, limits=limits
        )
        units = str(ds[parameter_name].attrs.get("units", "K"))
        return _coverage(stats, polygon, parameter_name, units)

    return router
