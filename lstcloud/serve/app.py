"""The read-only web service over one product cube: an xpublish app plus lstcloud's routes.

xpublish-edr answers ``/edr/position`` (CoverageJSON, the product's own pixel); lstcloud adds
the request bounds in front of it, ``/edr/area`` (per-day mean and count), the map tiles
(drawn by xpublish-tiles' pipeline with a fixed style per variable) and the viewer.
"""

from __future__ import annotations

import logging
from typing import Any

import xarray as xr
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles

from lstcloud.core.redact import redact_url
from lstcloud.cube.product import LST_VAR, QUALITY_VAR, SPREAD_VAR
from lstcloud.query import load_product
from lstcloud.query._dataset import source_of
from lstcloud.serve.area import area_router
from lstcloud.serve.limits import Refused, ServeLimits
from lstcloud.serve.position import POSITION_PATH, check_position
from lstcloud.serve.styles import UNCERTAINTY_VAR, with_quality_mask
from lstcloud.serve.tiles import tiles_router
from lstcloud.serve.viewer import STATIC_DIR, viewer_router

__all__ = ["SERVED_VARIABLES", "create_app", "service_dataset"]

log = logging.getLogger(__name__)

#: Routes open to requests; the rest of xpublish(-edr)'s (``/edr/cube``: a whole-cube read) are
#: closed so that every request stays bounded, and so is FastAPI's ``/docs`` (its page loads
#: Swagger UI from a CDN; ``/openapi.json`` describes the API without any outside request).
OPEN_PATHS = frozenset(
    {"/", "/api/product", "/edr", "/edr/", POSITION_PATH, "/edr/area", "/openapi.json"}
)
OPEN_PREFIXES = ("/static/", "/colorbar/", "/tiles/WebMercatorQuad/", "/edr/position/formats")

#: The product variables the service exposes.
SERVED_VARIABLES = (LST_VAR, QUALITY_VAR, SPREAD_VAR, UNCERTAINTY_VAR)


def service_dataset(ds: xr.Dataset) -> xr.Dataset:
    """The served variables of a product (lazy), with the derived quality-mask layer."""
    keep = [name for name in SERVED_VARIABLES if name in ds]
    out = ds[keep]
    out.attrs = {k: v for k, v in ds.attrs.items() if k in ("title", "complete_days")}
    return with_quality_mask(out)


def _edr_app(ds: xr.Dataset) -> FastAPI:
    import xpublish
    from xpublish_edr import CfEdrPlugin

    rest = xpublish.SingleDatasetRest(ds, plugins={"edr": CfEdrPlugin()})
    return rest.app


def create_app(
    product: str | xr.Dataset,
    *,
    limits: ServeLimits | None = None,
    storage_options: dict[str, Any] | None = None,
) -> FastAPI:
    """The ASGI app serving ``product`` (a URL, local folder or ``s3://``, or an opened cube).

    Parameters
    ----------
    product
        The product cube's URL, or the Dataset from :func:`lstcloud.open_product`.
    limits
        What one request may read (:class:`ServeLimits` defaults when None).
    storage_options
        fsspec options for ``s3://`` (the environment is used otherwise).

    Returns
    -------
    fastapi.FastAPI
        Read-only: GET and HEAD only (anything else is refused with 405), every request
        bounded by ``limits``; the routes are listed in ``docs/query.md``.
    """
    limits = limits or ServeLimits()
    opened = (
        load_product(product, storage_options=storage_options)
        if isinstance(product, str)
        else product
    )
    # the URL as given (the opened store may name itself by a path without its protocol)
    source = redact_url(product) if isinstance(product, str) else source_of(opened)
    ds = service_dataset(opened)
    app = _edr_app(ds)
    app.title = "lstcloud product service"
    ours = FastAPI()
    ours.include_router(viewer_router(ds, limits, source))
    ours.include_router(tiles_router(ds, limits))
    ours.include_router(area_router(ds, limits))
    # lstcloud's routes first: /edr/area must win over xpublish-edr's, which returns every pixel
    app.router.routes[:0] = ours.router.routes
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

    @app.exception_handler(Refused)
    async def refused(_: Request, exc: Refused) -> JSONResponse:
        return JSONResponse({"detail": exc.detail}, status_code=exc.status)

    @app.middleware("http")
    async def gate(request: Request, call_next: Any) -> Any:
        path = request.url.path
        try:
            if request.method not in ("GET", "HEAD"):
                raise Refused(405, "this service is read-only: GET only")
            if not path.startswith(OPEN_PREFIXES) and path not in OPEN_PATHS:
                raise Refused(404, f"no route {path}")
            if path == POSITION_PATH:
                check_position(ds, request.query_params, limits)
        except Refused as exc:
            return JSONResponse({"detail": exc.detail}, status_code=exc.status)
        return await call_next(request)

    log.info("serving %s (%d days)", source, ds.sizes.get("time", 0))
    return app
