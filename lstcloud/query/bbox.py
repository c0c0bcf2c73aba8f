"""Bounding-box subsets of the product, optionally reprojected (e.g. to EPSG:4326)."""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
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
    incomplete_days,
    pixel_size,
    product_crs,
    source_of,
    time_slice,
)

__all__ = ["bbox_statistics", "bbox_subset", "parse_bbox", "reproject"]


def parse_bbox(bbox: str | Sequence[float]) -> tuple[float, float, float, float]:
    """Parse ``"W,S,E,N"`` or a 4-sequence of degrees into a checked tuple."""
    parts = bbox.split(",") if isinstance(bbox, str) else list(bbox)
    try:
        west, south, east, north = (float(p) for p in parts)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"bbox: {bbox!r} is not W,S,E,N in degrees") from exc
    values = (west, south, east, north)
    if not all(math.isfinite(v) for v in values):
        raise ConfigError(f"bbox: {bbox!r} has non-finite values")
    if not (-180 <= west < east <= 180 and -90 <= south < north <= 90):
        raise ConfigError(
            f"bbox: {bbox!r} must satisfy -180 <= W < E <= 180 and -90 <= S < N <= 90"
        )
    return values


def bbox_subset(
    ds: xr.Dataset,
    *,
    bbox: str | Sequence[float],
    start: Any = None,
    end: Any = None,
    crs: str | pyproj.CRS | None = None,
    resampling: str = "nearest",
) -> xr.Dataset:
    """Pixels of the product inside a lon/lat bounding box for a date range.

    Parameters
    ----------
    ds
        The product cube.
    bbox
        ``(west, south, east, north)`` in degrees, or ``"W,S,E,N"``.
    start, end
        First and last day, inclusive; open when None.
    crs
        Target CRS (e.g. ``"EPSG:4326"``). None keeps the native sinusoidal grid (lazy result);
        otherwise the subset is loaded, reprojected with rioxarray and clipped to ``bbox``.
    resampling
        Resampling of ``lst_250m`` when reprojecting (a rasterio ``Resampling`` name);
        the quality layer is always resampled with ``nearest``.

    Returns
    -------
    xarray.Dataset
        ``lst_250m`` (time, y, x) and ``lst_250m_quality`` with a ``spatial_ref`` CRS;
        ``day_complete`` (time, bool) and the attribute ``incomplete_days`` (ISO dates) when
        the product lists its complete days: a day without its completion marker holds partial
        data (see :func:`lstcloud.query.incomplete_days`).

    Raises
    ------
    CubeError
        When the box does not intersect the product or no day is in the range.
    """
    west, south, east, north = parse_bbox(bbox)
    native = product_crs(ds)
    to_grid = pyproj.Transformer.from_crs("EPSG:4326", native, always_xy=True)
    xmin, ymin, xmax, ymax = to_grid.transform_bounds(west, south, east, north, densify_pts=21)
    dx, dy = pixel_size(ds)
    # Pixels whose footprint touches the box (half a pixel of slack on each side).
    x = ds["x"].values
    y = ds["y"].values
    cols = np.flatnonzero((x + dx / 2 > xmin) & (x - dx / 2 < xmax))
    rows = np.flatnonzero((y + dy / 2 > ymin) & (y - dy / 2 < ymax))
    if cols.size == 0 or rows.size == 0:
        raise CubeError(f"bbox {west},{south},{east},{north} does not intersect {source_of(ds)}")
    names = [name for name in (LST_VAR, QUALITY_VAR, SPREAD_VAR, UNCERTAINTY_VAR) if name in ds]
    keep = [*names, *(c for c in ("spatial_ref",) if c in ds.variables)]
    sub = time_slice(ds[keep], start, end).isel(
        y=slice(int(rows[0]), int(rows[-1]) + 1), x=slice(int(cols[0]), int(cols[-1]) + 1)
    )
    if "time" in sub.dims and sub.sizes["time"] == 0:
        raise CubeError(f"no day between {start} and {end} in {source_of(ds)}")
    sub.attrs = {**ds.attrs, "bbox": [west, south, east, north]}
    flags = day_complete_flags(ds, sub["time"].values) if "time" in sub.dims else None
    if flags is not None:
        sub.attrs["incomplete_days"] = incomplete_days(sub)
    if crs is None:
        return _with_flags(sub, flags)
    from rioxarray.exceptions import RioXarrayError

    try:
        target = pyproj.CRS.from_user_input(crs)
    except pyproj.exceptions.CRSError as exc:
        raise ConfigError(f"crs: {crs!r} is not a CRS pyproj understands ({exc})") from exc
    to_target = pyproj.Transformer.from_crs("EPSG:4326", target, always_xy=True)
    bounds = to_target.transform_bounds(west, south, east, north, densify_pts=21)
    try:
        out = reproject(sub, crs=target, resampling=resampling)
        return _with_flags(out.rio.clip_box(*bounds), flags)
    except RioXarrayError as exc:
        raise CubeError(
            f"bbox {west},{south},{east},{north} is too small to reproject from "
            f"{source_of(ds)} to {target.name} (it needs at least 2 x 2 pixels): {exc}"
        ) from exc


def _with_flags(sub: xr.Dataset, flags: np.ndarray | None) -> xr.Dataset:
    """``sub`` with ``day_complete`` (time): False for a day without its completion marker."""
    if flags is None or "time" not in sub.dims:
        return sub
    sub = sub.assign(day_complete=("time", flags))
    sub["day_complete"].attrs["long_name"] = "every chunk of the day is written"
    return sub


def reproject(ds: xr.Dataset, *, crs: str | pyproj.CRS, resampling: str = "nearest") -> xr.Dataset:
    """Reproject the product variables of ``ds`` to ``crs`` with rioxarray (loads the data)."""
    import rioxarray  # noqa: F401  (registers the .rio accessor)
    from rasterio.enums import Resampling

    try:
        lst_resampling = Resampling[resampling]
    except KeyError as exc:
        raise ConfigError(f"resampling: {resampling!r} is not a rasterio Resampling name") from exc
    native = product_crs(ds)
    out = {}
    for name in (LST_VAR, QUALITY_VAR, SPREAD_VAR, UNCERTAINTY_VAR):
        if name not in ds:
            continue
        da = ds[name].drop_vars([c for c in ds[name].coords if c not in ds[name].dims])
        da = da.rio.set_spatial_dims(x_dim="x", y_dim="y").rio.write_crs(native)
        if name in (LST_VAR, SPREAD_VAR, UNCERTAINTY_VAR):
            da = da.astype("float32").rio.write_nodata(np.nan, encoded=False)
            out[name] = da.rio.reproject(crs, resampling=lst_resampling)
        else:
            fill = int(np.iinfo(da.dtype).max) if np.issubdtype(da.dtype, np.integer) else np.nan
            da = da.rio.write_nodata(fill, encoded=False)
            out[name] = da.rio.reproject(crs, resampling=Resampling.nearest)
    result = xr.Dataset(out)
    result.attrs = dict(ds.attrs)
    return result


def bbox_statistics(
    ds: xr.Dataset,
    *,
    bbox: str | Sequence[float],
    start: Any = None,
    end: Any = None,
) -> xr.Dataset:
    """Daily statistics of the valid 250 m LST inside a lon/lat box (native grid, no resampling).

    Returns
    -------
    xarray.Dataset
        Per day (``time``): ``mean_k``, ``std_k``, ``min_k``, ``max_k`` (K, NaN when no valid
        pixel), ``valid_pixels`` and ``valid_fraction`` (of the box's pixels), loaded;
        ``complete`` (bool) when the product lists its complete days: False for a day without
        its completion marker, whose statistics cover only what is written so far.
    """
    sub = bbox_subset(ds, bbox=bbox, start=start, end=end)
    lst = sub[LST_VAR].astype("float32")
    dims = ("y", "x")
    valid = lst.notnull().sum(dims)
    total = sub.sizes["y"] * sub.sizes["x"]
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="All-NaN slice", category=RuntimeWarning)
        warnings.filterwarnings("ignore", message="Degrees of freedom", category=RuntimeWarning)
        warnings.filterwarnings("ignore", message="Mean of empty slice", category=RuntimeWarning)
        stats = xr.Dataset(
            {
                "mean_k": lst.mean(dims),
                "std_k": lst.std(dims),
                "min_k": lst.min(dims),
                "max_k": lst.max(dims),
                "valid_pixels": valid,
                "valid_fraction": valid / total,
            }
        ).load()
    if "day_complete" in sub:
        stats["complete"] = sub["day_complete"]
    stats.attrs = {
        "bbox": list(parse_bbox(bbox)),
        "pixels_in_box": total,
        "units": "K",
        "incomplete_days": list(sub.attrs.get("incomplete_days", [])),
    }
    return stats
