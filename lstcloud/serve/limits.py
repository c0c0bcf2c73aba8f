"""Bounds on what one request may read, and parsing of the request parameters."""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

import numpy as np
import xarray as xr

from lstcloud.core.dates import as_date

__all__ = ["Refused", "ServeLimits", "days_in", "parse_interval", "parse_point"]


class Refused(Exception):  # noqa: N818  (a refusal, not an internal error)
    """A request the service refuses, with its HTTP status (4xx) and a one-line reason."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


@dataclass(frozen=True)
class ServeLimits:
    """What one request may ask for.

    Attributes
    ----------
    min_zoom
        Tiles below this WebMercatorQuad zoom are refused (a zoom-``z`` tile spans
        40075 km / 2**z; at zoom 6 about 2700 px of 250 m per side are read).
    max_zoom
        Tiles above this zoom are refused.
    max_days
        Longest point series (days) a position query may return.
    max_area_values
        Largest pixels x days an area query may read.
    """

    min_zoom: int = 6
    max_zoom: int = 18
    max_days: int = 3660
    max_area_values: int = 20_000_000


def parse_interval(value: str | None, *, field: str = "datetime") -> tuple[dt.date | None, ...]:
    """``"START/END"``, ``"DAY"`` or an open end (``..``) into ``(start, end)`` dates."""
    if value is None or not value.strip():
        return (None, None)
    parts = value.split("/")
    if len(parts) > 2:
        raise Refused(400, f"{field}: {value!r} is not DAY or START/END")
    try:
        days = [None if p.strip() in ("", "..") else as_date(p.strip(), field=field) for p in parts]
    except Exception as exc:
        raise Refused(400, f"{field}: {value!r} is not an ISO date or interval") from exc
    start, end = (days[0], days[0]) if len(days) == 1 else (days[0], days[1])
    if start and end and end < start:
        raise Refused(400, f"{field}: the end {end} is before the start {start}")
    return (start, end)


def days_in(ds: xr.Dataset, start: dt.date | None, end: dt.date | None) -> int:
    """Number of days of ``ds``'s time axis between ``start`` and ``end`` (inclusive)."""
    times = ds["time"].values.astype("datetime64[D]")
    keep = np.ones(times.shape, bool)
    if start is not None:
        keep &= times >= np.datetime64(start, "D")
    if end is not None:
        keep &= times <= np.datetime64(end, "D")
    return int(keep.sum())


def parse_point(wkt: str | None) -> tuple[float, float]:
    """``POINT(lon lat)`` into ``(lon, lat)`` degrees."""
    if not wkt:
        raise Refused(400, "coords: missing; give POINT(lon lat)")
    text = wkt.strip()
    head, _, rest = text.partition("(")
    if head.strip().upper() != "POINT" or not rest.endswith(")"):
        raise Refused(400, f"coords: {wkt!r} is not POINT(lon lat)")
    try:
        lon, lat = (float(v) for v in rest[:-1].split())
    except ValueError as exc:
        raise Refused(400, f"coords: {wkt!r} is not POINT(lon lat)") from exc
    if not (math.isfinite(lon) and math.isfinite(lat) and -180 <= lon <= 180 and -90 <= lat <= 90):
        raise Refused(400, f"coords: {wkt!r} is outside lon [-180, 180], lat [-90, 90]")
    return lon, lat
