"""Opening the product cube and reading its grid: shared by the query helpers."""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import pyproj
import xarray as xr

from lstcloud.core.dates import as_date as parse_date
from lstcloud.core.errors import ConfigError, CubeError
from lstcloud.core.redact import redact_url
from lstcloud.cube.product import (
    LST_VAR,
    QUALITY_VAR,
    SPREAD_VAR,
    UNCERTAINTY_VAR,
    open_product,
)

__all__ = [
    "LST_VAR",
    "QUALITY_VAR",
    "SINUSOIDAL_PROJ",
    "SPREAD_VAR",
    "UNCERTAINTY_VAR",
    "as_date",
    "day_complete_flags",
    "incomplete_days",
    "load_product",
    "pixel_size",
    "product_crs",
    "source_of",
    "time_slice",
]

#: The MODIS sinusoidal projection (sphere R = 6371007.181 m), used when a cube carries no CRS.
SINUSOIDAL_PROJ = "+proj=sinu +lon_0=0 +x_0=0 +y_0=0 +R=6371007.181 +units=m +no_defs"


def load_product(url: str, *, storage_options: dict[str, Any] | None = None) -> xr.Dataset:
    """Open the product cube at ``url`` lazily, with its CRS decoded.

    Through :func:`lstcloud.cube.open_product`, which owns the format.

    Raises
    ------
    CubeError
        When nothing readable is at ``url`` or it has no ``lst_250m`` variable.
    """
    try:
        ds = open_product(url, storage_options=storage_options)
    except CubeError:
        raise
    except (FileNotFoundError, KeyError, ValueError, OSError) as exc:
        raise CubeError(f"cannot open the product cube at {redact_url(str(url))}: {exc}") from exc
    if LST_VAR not in ds:
        raise CubeError(f"{redact_url(str(url))} is not an lstcloud product: no {LST_VAR!r}")
    # the URL as given: xarray may have set the store's own path, without its protocol (s3://)
    ds.encoding["source"] = str(url)
    return ds


def source_of(ds: xr.Dataset) -> str:
    """The URL a dataset was opened from (redacted), for messages."""
    return redact_url(str(ds.encoding.get("source", "<in-memory product>")))


def product_crs(ds: xr.Dataset) -> pyproj.CRS:
    """The CRS of the product grid from its ``spatial_ref`` variable (sinusoidal by default)."""
    for name in ("spatial_ref", "crs"):
        if name in ds.variables:
            attrs = ds[name].attrs
            wkt = attrs.get("crs_wkt") or attrs.get("spatial_ref")
            if wkt:
                return pyproj.CRS.from_wkt(wkt)
    return pyproj.CRS.from_proj4(SINUSOIDAL_PROJ)


def pixel_size(ds: xr.Dataset) -> tuple[float, float]:
    """Pixel size ``(dx, dy)`` in CRS units from the ``x``/``y`` coordinates (dy > 0)."""
    x = np.asarray(ds["x"].values, dtype="float64")
    y = np.asarray(ds["y"].values, dtype="float64")
    if x.size < 2 or y.size < 2:
        raise CubeError(f"{source_of(ds)}: the product grid needs at least 2 pixels on each axis")
    return float(abs(x[1] - x[0])), float(abs(y[1] - y[0]))


def as_date(value: Any, *, field: str) -> dt.date | None:
    """Parse ``value`` (ISO date string, date, datetime or numpy datetime) into a date;
    ``None`` stays ``None`` (an open end)."""
    return None if value is None else parse_date(value, field=field)


def time_slice(ds: xr.Dataset, start: Any = None, end: Any = None) -> xr.Dataset:
    """Select the days from ``start`` to ``end`` inclusive (open ends allowed)."""
    first = as_date(start, field="start")
    last = as_date(end, field="end")
    if first and last and last < first:
        raise ConfigError(f"end: {last} is before start {first}")
    if "time" not in ds.dims:
        return ds
    return ds.sel(
        time=slice(
            np.datetime64(first, "ns") if first else None,
            np.datetime64(last, "ns") if last else None,
        )
    )


def day_complete_flags(ds: xr.Dataset, times: Any = None) -> np.ndarray | None:
    """Whether each day of ``times`` (default: ``ds``'s) has its completion marker.

    The product lists its complete days in the attribute ``complete_days`` (from the markers
    ``_lstcloud/days/<date>.json``, written after every chunk of a day). A day without one is
    being written, was interrupted or was never predicted: its pixels are partial (NaN where
    nothing is written yet), not data. ``None`` when the product does not list its days.
    """
    listed = ds.attrs.get("complete_days")
    if listed is None:
        return None
    if times is None:
        if "time" not in ds.dims:
            return None
        times = ds["time"].values
    done = np.array(sorted(str(d)[:10] for d in listed), dtype="datetime64[D]")
    days = np.asarray(times).astype("datetime64[D]")
    return np.isin(days, done)


def incomplete_days(ds: xr.Dataset) -> list[str]:
    """ISO dates of the days of ``ds`` without their completion marker (empty when unknown)."""
    flags = day_complete_flags(ds)
    if flags is None:
        return []
    days = ds["time"].values.astype("datetime64[D]")
    return [str(d) for d, ok in zip(days, flags, strict=True) if not ok]
