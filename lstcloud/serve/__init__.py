"""A read-only web service over a product cube: viewer, OGC API - EDR queries, map tiles.

::

    from lstcloud.serve import create_app, run
    app = create_app("s3://bucket/lst-250m.zarr")     # a FastAPI (xpublish) app
    run("demo-output/product.zarr", host="127.0.0.1", port=8000)
"""

from __future__ import annotations

from lstcloud.serve.app import create_app, service_dataset
from lstcloud.serve.limits import Refused, ServeLimits
from lstcloud.serve.server import run
from lstcloud.serve.styles import STYLES, LayerStyle

__all__ = ["STYLES", "LayerStyle", "Refused", "ServeLimits", "create_app", "run", "service_dataset"]
