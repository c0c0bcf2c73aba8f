"""Read single-band COG / GeoTIFF assets (Planetary Computer style: one COG per SDS) with rasterio.

Local files are opened in place; remote ones (``s3://``, ``https://``, signed URLs) are fetched
through fsspec into memory, so every store behaves alike and credentials stay in the storage
options instead of GDAL's environment.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import numpy as np
from affine import Affine

from lstcloud.core.errors import GranuleReadError
from lstcloud.core.redact import redact_url
from lstcloud.readers.fetch import ensure_local_file, is_local, local_path, read_bytes

__all__ = ["CogRaster", "read_cog"]


@dataclass(frozen=True)
class CogRaster:
    """Band 1 of a GeoTIFF, raw (storage dtype), with its georeferencing.

    Attributes
    ----------
    data
        The raw array (rows, columns).
    transform
        Affine transform of the pixel corners.
    crs_wkt
        The CRS as WKT ("" when the file has none).
    nodata
        The nodata value, or ``None``.
    """

    data: np.ndarray
    transform: Affine
    crs_wkt: str
    nodata: float | None


def read_cog(
    href: str | os.PathLike[str], *, storage_options: dict[str, Any] | None = None
) -> CogRaster:
    """Read band 1 of the GeoTIFF at ``href`` (local path or any fsspec URL).

    Raises
    ------
    TransientError, MissingAssetError
        Fetch failures (see :func:`lstcloud.readers.fetch.classify_error`).
    GranuleReadError
        Not a readable GeoTIFF (truncated, garbage, no band).
    """
    import rasterio
    from rasterio.errors import RasterioError
    from rasterio.io import MemoryFile

    href = str(href)
    name = redact_url(href)
    try:
        if is_local(href):
            path = local_path(href)
            ensure_local_file(path, href)
            with rasterio.open(path) as ds:
                return _band1(ds, name)
        blob = read_bytes(href, storage_options=storage_options)
        with MemoryFile(blob) as mem, mem.open() as ds:
            return _band1(ds, name)
    except RasterioError as exc:
        raise GranuleReadError(f"not a readable GeoTIFF: {name} ({exc})") from exc


def _band1(ds: Any, name: str) -> CogRaster:
    from rasterio.errors import RasterioError

    if ds.count < 1:
        raise GranuleReadError(f"GeoTIFF {name} has no band")
    try:
        data = ds.read(1)
    except RasterioError as exc:
        raise GranuleReadError(f"cannot read band 1 of {name} (truncated?): {exc}") from exc
    return CogRaster(
        data=data,
        transform=ds.transform,
        crs_wkt=ds.crs.to_wkt() if ds.crs is not None else "",
        nodata=ds.nodata,
    )
