"""Point time series: lon/lat -> nearest 250 m pixel of the product grid."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pyproj
import xarray as xr

from lstcloud.core.errors import ConfigError, CubeError
from lstcloud.query._dataset import (
    LST_VAR,
    QUALITY_VAR,
    SPREAD_VAR,
    UNCERTAINTY_VAR,
    day_complete_flags,
    pixel_size,
    product_crs,
    source_of,
    time_slice,
)

__all__ = ["nearest_pixel", "point_series"]


def _check_lonlat(lon: float, lat: float) -> tuple[float, float]:
    try:
        lon_f, lat_f = float(lon), float(lat)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"lon/lat: {lon!r}, {lat!r} are not numbers") from exc
    if not (math.isfinite(lon_f) and -180.0 <= lon_f <= 180.0):
        raise ConfigError(f"lon: {lon!r} is outside [-180, 180]")
    if not (math.isfinite(lat_f) and -90.0 <= lat_f <= 90.0):
        raise ConfigError(f"lat: {lat!r} is outside [-90, 90]")
    return lon_f, lat_f


def nearest_pixel(ds: xr.Dataset, *, lon: float, lat: float) -> tuple[int, int, float, float]:
    """Row, column and pixel-centre ``(x, y)`` of the pixel containing ``(lon, lat)``.

    Raises
    ------
    ConfigError
        For an invalid longitude or latitude.
    CubeError
        When the point lies outside the product grid.
    """
    lon_f, lat_f = _check_lonlat(lon, lat)
    to_grid = pyproj.Transformer.from_crs("EPSG:4326", product_crs(ds), always_xy=True)
    px, py = to_grid.transform(lon_f, lat_f)
    dx, dy = pixel_size(ds)
    col = int(ds.indexes["x"].get_indexer([px], method="nearest")[0])
    row = int(ds.indexes["y"].get_indexer([py], method="nearest")[0])
    xc = float(ds["x"].values[col])
    yc = float(ds["y"].values[row])
    if abs(px - xc) > dx / 2 * (1 + 1e-9) or abs(py - yc) > dy / 2 * (1 + 1e-9):
        raise CubeError(
            f"point lon={lon_f}, lat={lat_f} (x={px:.1f} m, y={py:.1f} m) lies outside the "
            f"product grid of {source_of(ds)}"
        )
    return row, col, xc, yc


def point_series(
    ds: xr.Dataset,
    *,
    lon: float,
    lat: float,
    start: Any = None,
    end: Any = None,
) -> xr.Dataset:
    """Daily LST and quality of the 250 m pixel containing ``(lon, lat)``.

    Only the chunks holding that pixel for the selected days are read.

    Parameters
    ----------
    ds
        The product cube (``lstcloud.open_product``).
    lon, lat
        Point in degrees (WGS 84).
    start, end
        First and last day, inclusive (``datetime.date`` or ``"YYYY-MM-DD"``); open when None.

    Returns
    -------
    xarray.Dataset
        ``lst_250m`` (time) in K (NaN where no valid value) and ``lst_250m_quality`` (time) when
        the product has it, loaded in memory; ``day_complete`` (time) bool when the product
        lists its complete days (attribute ``complete_days``): False for a day still being
        written or never predicted, whose NaN says nothing about clouds; scalar coordinates
        ``x``/``y`` (pixel centre, metres); attributes ``lon``, ``lat``, ``row``, ``col``,
        ``product``.
    """
    row, col, _, _ = nearest_pixel(ds, lon=lon, lat=lat)
    names = [name for name in (LST_VAR, QUALITY_VAR, SPREAD_VAR, UNCERTAINTY_VAR) if name in ds]
    pixel = time_slice(ds[names], start, end).isel(y=row, x=col)
    pixel = pixel.drop_vars([c for c in pixel.coords if c not in ("time", "x", "y")])
    out = pixel.load()
    out.attrs = {
        "lon": float(lon),
        "lat": float(lat),
        "row": row,
        "col": col,
        "product": source_of(ds),
    }
    if LST_VAR in out:
        out[LST_VAR] = out[LST_VAR].astype(np.float32)
        out[LST_VAR].attrs.setdefault("units", "K")
    flags = day_complete_flags(ds, out["time"].values) if "time" in out.dims else None
    if flags is not None:
        out["day_complete"] = ("time", flags)
        out["day_complete"].attrs["long_name"] = "every chunk of the day is written"
    return out
