"""lstcloud: daily 250 m land-surface temperature from MODIS, as a datacube.

The public entry points are re-exported here lazily so that ``import lstcloud`` stays cheap
(torch and dask are imported only when a function that needs them is called).
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

__version__ = "0.1.0"

_LAZY = {
    "open_cube": "lstcloud.cube",
    "open_product": "lstcloud.cube",
    "load_model": "lstcloud.models",
}

__all__ = ["__version__", *_LAZY]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'lstcloud' has no attribute {name!r}")
