"""Bounds and checks of ``/edr/position``, answered by xpublish-edr (CoverageJSON)."""

from __future__ import annotations

from collections.abc import Mapping

import xarray as xr

from lstcloud.core.errors import ConfigError, CubeError
from lstcloud.query import nearest_pixel
from lstcloud.serve.limits import Refused, ServeLimits, days_in, parse_interval, parse_point
from lstcloud.serve.styles import MASK_VAR

__all__ = ["POSITION_PATH", "check_position"]

POSITION_PATH = "/edr/position"


def check_position(ds: xr.Dataset, params: Mapping[str, str], limits: ServeLimits) -> None:
    """Refuse a position query that is malformed, off the grid or too long.

    The point must fall inside a pixel of the product (xpublish-edr would otherwise answer
    with the nearest edge pixel), the series must hold at most ``limits.max_days`` days, and
    every ``parameter-name`` must be a variable of the product.
    """
    lon, lat = parse_point(params.get("coords"))
    try:
        nearest_pixel(ds, lon=lon, lat=lat)
    except CubeError as exc:
        raise Refused(404, str(exc)) from exc
    except ConfigError as exc:
        raise Refused(400, str(exc)) from exc
    start, end = parse_interval(params.get("datetime"))
    n = days_in(ds, start, end)
    if n > limits.max_days:
        raise Refused(
            400,
            f"datetime: the series would hold {n} days, above this service's limit of "
            f"{limits.max_days}; give a shorter START/END",
        )
    if n == 0:
        raise Refused(404, f"datetime: no day of the product in {params.get('datetime')!r}")
    names = [p.strip() for p in params.get("parameter-name", "").split(",") if p.strip()]
    unknown = [p for p in names if p not in ds or p == MASK_VAR]
    if unknown:
        raise Refused(400, f"parameter-name: {', '.join(unknown)} not in the product")
