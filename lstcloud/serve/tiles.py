"""Map tiles: ``/tiles/WebMercatorQuad/{z}/{x}/{y}.png``, drawn by xpublish-tiles' pipeline."""

from __future__ import annotations

import numpy as np
import xarray as xr
from fastapi import APIRouter, Query
from fastapi.responses import Response

from lstcloud.cube.product import LST_VAR
from lstcloud.serve.limits import Refused, ServeLimits, parse_interval
from lstcloud.serve.styles import STYLES

__all__ = ["TILE_SIZE", "render_tile", "tiles_router"]

TILE_SIZE = 256


def _day_selector(ds: xr.Dataset, value: str | None) -> str:
    start, end = parse_interval(value)
    if start is None or start != end:
        raise Refused(400, "datetime: give one day (YYYY-MM-DD) for a tile")
    days = ds["time"].values.astype("datetime64[D]")
    if np.datetime64(start, "D") not in days:
        raise Refused(404, f"datetime: {start} is not a day of the product")
    return start.isoformat()


def check_tile(z: int, x: int, y: int, limits: ServeLimits) -> None:
    """Refuse a tile outside the zoom bounds or the WebMercatorQuad matrix."""
    if z < limits.min_zoom:
        raise Refused(
            400,
            f"zoom {z} is below this service's minimum zoom {limits.min_zoom}: zoom in "
            "(a tile that large would read too much of the cube)",
        )
    if z > limits.max_zoom:
        raise Refused(400, f"zoom {z} is above this service's maximum zoom {limits.max_zoom}")
    if not (0 <= x < 2**z and 0 <= y < 2**z):
        raise Refused(404, f"tile {z}/{x}/{y} is outside the WebMercatorQuad matrix")


async def render_tile(ds: xr.Dataset, *, z: int, x: int, y: int, day: str, variable: str) -> bytes:
    """The PNG of one tile of ``variable`` on ``day`` (transparent where there is no data)."""
    from xpublish_tiles.pipeline import pipeline
    from xpublish_tiles.types import ImageFormat, QueryParams
    from xpublish_tiles.xpublish.tiles.tile_matrix import extract_tile_bbox_and_crs

    style = STYLES[variable]
    bbox, crs = extract_tile_bbox_and_crs("WebMercatorQuad", z, y, x)
    params = QueryParams(
        variables=[variable],
        crs=crs,
        bbox=bbox,
        selectors={"time": day},
        style="raster",
        variant=style.cmap,
        width=TILE_SIZE,
        height=TILE_SIZE,
        format=ImageFormat.PNG,
        colorscalerange=style.colorscalerange,
    )
    buffer = await pipeline(ds, params)
    return buffer.getvalue()


def tiles_router(ds: xr.Dataset, limits: ServeLimits) -> APIRouter:
    """The tile route over ``ds`` (the service dataset, with its derived layers)."""
    router = APIRouter()

    @router.get("/tiles/WebMercatorQuad/{z}/{x}/{y}.png", summary="Map tile (PNG)")
    async def tile(
        z: int,
        x: int,
        y: int,
        datetime: str | None = Query(None, description="the day, YYYY-MM-DD"),
        variable: str = Query(LST_VAR, description="layer to draw"),
    ) -> Response:
        check_tile(z, x, y, limits)
        if variable not in STYLES or variable not in ds:
            names = ", ".join(v for v in STYLES if v in ds)
            raise Refused(400, f"variable: {variable!r} is not a layer of this service ({names})")
        day = _day_selector(ds, datetime)
        png = await render_tile(ds, z=z, x=x, y=y, day=day, variable=variable)
        return Response(
            png, media_type="image/png", headers={"Cache-Control": "public, max-age=3600"}
        )

    return router
