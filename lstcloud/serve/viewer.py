"""The browser viewer: ``GET /``, its static files, the product summary and colour bars."""

from __future__ import annotations

import functools
import io
from importlib.resources import files
from pathlib import Path
from typing import Any

import numpy as np
import pyproj
import xarray as xr
from fastapi import APIRouter
from fastapi.responses import HTMLResponse, Response

from lstcloud.cube.product import QUALITY_VAR
from lstcloud.query import product_crs
from lstcloud.serve.limits import Refused, ServeLimits
from lstcloud.serve.styles import MASK_VAR, STYLES, drawable_layers

__all__ = ["STATIC_DIR", "colorbar_png", "product_summary", "viewer_router"]

#: The viewer's files: index.html, viewer.js/css and the vendored Leaflet (from npm).
STATIC_DIR = Path(str(files("lstcloud.serve") / "static"))


def product_summary(ds: xr.Dataset, limits: ServeLimits, source: str) -> dict[str, Any]:
    """What the viewer needs: days, layers with their fixed styles, lon/lat bounds, limits."""
    x = ds["x"].values
    y = ds["y"].values
    to_lonlat = pyproj.Transformer.from_crs(product_crs(ds), "EPSG:4326", always_xy=True)
    west, south, east, north = to_lonlat.transform_bounds(
        float(x.min()), float(y.min()), float(x.max()), float(y.max()), densify_pts=21
    )
    flags = ds[QUALITY_VAR].attrs if QUALITY_VAR in ds else {}
    return {
        "product": source,
        "days": [str(d) for d in ds["time"].values.astype("datetime64[D]")],
        "complete_days": list(ds.attrs.get("complete_days", [])),
        "layers": [
            {
                "variable": s.variable,
                "label": s.label,
                "units": s.units,
                "vmin": s.vmin,
                "vmax": s.vmax,
                "cmap": s.cmap,
            }
            for s in drawable_layers(ds)
            if s.variable != MASK_VAR
        ],
        "quality_mask": MASK_VAR in ds,
        "quality_flags": {
            "masks": [int(v) for v in np.atleast_1d(flags.get("flag_masks", []))],
            "meanings": str(flags.get("flag_meanings", "")).split(),
        },
        "bounds": [west, south, east, north],
        "limits": {
            "min_zoom": limits.min_zoom,
            "max_zoom": limits.max_zoom,
            "max_days": limits.max_days,
        },
    }


@functools.lru_cache(maxsize=16)
def colorbar_png(variable: str) -> bytes:
    """A horizontal colour bar (PNG) of ``variable``'s fixed colour map, labelled in its units."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.colors import Normalize

    style = STYLES[variable]
    fig, ax = plt.subplots(figsize=(3.2, 0.62), dpi=100)
    fig.subplots_adjust(left=0.05, right=0.95, bottom=0.55, top=0.95)
    bar = matplotlib.colorbar.ColorbarBase(
        ax,
        cmap=matplotlib.colormaps[style.cmap],
        norm=Normalize(style.vmin, style.vmax),
        orientation="horizontal",
    )
    bar.set_label(f"{style.label} ({style.units})" if style.units else style.label, fontsize=7)
    ax.tick_params(labelsize=7)
    out = io.BytesIO()
    fig.savefig(out, format="png", transparent=True)
    plt.close(fig)
    return out.getvalue()


def viewer_router(ds: xr.Dataset, limits: ServeLimits, source: str) -> APIRouter:
    """``/``, ``/api/product`` and ``/colorbar/{variable}.png``."""
    router = APIRouter()
    summary = product_summary(ds, limits, source)
    page = (STATIC_DIR / "index.html").read_text(encoding="utf-8")

    @router.get("/", response_class=HTMLResponse, summary="Map viewer")
    def index() -> HTMLResponse:
        return HTMLResponse(page)

    @router.get("/api/product", summary="Days, layers and extent of the served product")
    def product() -> dict[str, Any]:
        return summary

    @router.get("/colorbar/{variable}.png", summary="Colour bar of a layer")
    def colorbar(variable: str) -> Response:
        if variable not in STYLES or variable not in ds:
            raise Refused(404, f"no layer {variable!r}")
        return Response(colorbar_png(variable), media_type="image/png")

    return router
