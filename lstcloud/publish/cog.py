"""Per-day Cloud-Optimized GeoTIFFs of the product, written beside the cube.

Tools that read rasters through GDAL only (odc-stac and stackstac through rasterio, QGIS, GDAL
builds without Zarr v3) cannot open the Zarr v3 product; one COG per variable and day, published
as STAC assets with projection and ``raster:bands`` metadata, is their way in::

    <product>.zarr                                  the cube
    <product>-cog/<day>/<variable>-<digest>.tif     one COG per variable and complete day

``digest`` is a short hash of the day's completion marker: a day predicted again gets new files
(and new asset hrefs, so no cache serves the old values), and the superseded files are removed.

The COGs are lossless (DEFLATE with the floating-point predictor for LST), 512 px tiles, with
overviews; they hold the product's values bit for bit, NaN (LST) and 255 (quality) as nodata,
the sinusoidal CRS and the grid's geotransform, and ``units``/``scale``/``offset`` band tags.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from lstcloud.errors import CubeError, redact_url
from lstcloud.storage import filesystem, join, protocol_of, strip_protocol

__all__ = [
    "COG_MEDIA_TYPE",
    "CogAsset",
    "cog_root",
    "day_digest",
    "list_cogs",
    "write_day_cogs",
]

COG_MEDIA_TYPE = "image/tiff; application=geotiff; profile=cloud-optimized"
BLOCK = 512
#: Per variable: GDAL predictor, overview resampling and the band's unit.
_STYLE: dict[str, dict[str, Any]] = {
    "lst_250m": {"predictor": "FLOATING_POINT", "resampling": "AVERAGE", "unit": "K"},
    "lst_250m_quality": {"predictor": "STANDARD", "resampling": "NEAREST", "unit": "1"},
    "lst_250m_uncertainty": {"predictor": "FLOATING_POINT", "resampling": "AVERAGE", "unit": "K"},
}


@dataclasses.dataclass(frozen=True)
class CogAsset:
    """One COG of one variable and day.

    Attributes
    ----------
    variable
        Product variable (``lst_250m``, ``lst_250m_quality``).
    url
        Where the file is stored (fsspec URL or local path).
    name
        Path of the file relative to :func:`cog_root` (``<day>/<variable>-<digest>.tif``).
    dtype
        numpy dtype name of the band.
    nodata
        The band's nodata value (NaN for LST).
    unit
        Unit of the values.
    size
        File size in bytes.
    """

    variable: str
    url: str
    name: str
    dtype: str
    nodata: float
    unit: str
    size: int


def cog_root(product_url: str) -> str:
    """Folder of the COGs of ``product_url``: beside it, ``<name>-cog`` (``.zarr`` dropped)."""
    base = str(product_url).rstrip("/")
    if base.endswith(".zarr"):
        base = base[: -len(".zarr")]
    return f"{base}-cog"


def day_digest(marker: dict[str, Any]) -> str:
    """Eight hex digits identifying one writing of a day (from its completion marker)."""
    return hashlib.sha256(json.dumps(marker, sort_keys=True, default=str).encode()).hexdigest()[:8]


def _file_name(day: dt.date, variable: str, digest: str) -> str:
    return f"{day.isoformat()}/{variable}-{digest}.tif"


def list_cogs(
    product_url: str, *, storage_options: dict[str, Any] | None = None
) -> dict[str, int]:
    """The COG files present beside the product: ``{name relative to the root: size}``."""
    root = cog_root(product_url)
    fs = filesystem(root, storage_options)
    base = strip_protocol(root).rstrip("/")
    try:
        found = fs.find(base, detail=True)
    except FileNotFoundError:
        return {}
    out = {}
    for path, entry in found.items():
        name = str(path)[len(base) + 1 :] if str(path).startswith(base) else str(path)
        if name.endswith(".tif"):
            out[name] = int(entry.get("size") or 0)
    return out


def _geotransform(ds: xr.Dataset) -> tuple[float, float, float, float, float, float]:
    x = ds["x"].values
    y = ds["y"].values
    dx = float(x[1] - x[0])
    dy = float(y[1] - y[0])
    return (float(x[0]) - dx / 2, dx, 0.0, float(y[0]) - dy / 2, 0.0, dy)


def _write_cog(
    da: xr.DataArray, local: Path, *, crs_wkt: str, variable: str, nodata: float
) -> None:
    """Write a (y, x) DataArray as a COG at ``local``, reading it chunk by chunk."""
    import rasterio
    import rasterio.shutil
    from affine import Affine
    from rasterio.windows import Window

    style = _STYLE.get(variable, {"predictor": "NO", "resampling": "NEAREST", "unit": ""})
    x0, dx, _, y0, _, dy = _geotransform(da.to_dataset(name=variable))
    ny, nx = da.shape
    staging = local.with_suffix(".staging.tif")
    profile = {
        "driver": "GTiff",
        "width": nx,
        "height": ny,
        "count": 1,
        "dtype": str(da.dtype),
        "crs": rasterio.crs.CRS.from_wkt(crs_wkt),
        "transform": Affine(dx, 0.0, x0, 0.0, dy, y0),
        "nodata": nodata,
        "tiled": True,
        "blockxsize": BLOCK,
        "blockysize": BLOCK,
        "compress": "DEFLATE",
        "zlevel": 1,
        "BIGTIFF": "IF_SAFER",
    }
    data = da.data
    chunks = getattr(data, "chunks", None) or ((ny,), (nx,))
    with rasterio.open(staging, "w", **profile) as dst:
        row = 0
        for height in chunks[0]:
            col = 0
            for width in chunks[1]:
                block = np.asarray(da[row : row + height, col : col + width].values)
                dst.write(block, 1, window=Window(col, row, width, height))
                col += width
            row += height
        dst.descriptions = (variable,)
        dst.units = (style["unit"],)
        dst.scales = (1.0,)
        dst.offsets = (0.0,)
        dst.update_tags(1, units=style["unit"], long_name=str(da.attrs.get("long_name", "")))
    try:
        rasterio.shutil.copy(
            staging,
            local,
            driver="COG",
            COMPRESS="DEFLATE",
            PREDICTOR=str(style["predictor"]),
            BLOCKSIZE=str(BLOCK),
            OVERVIEW_RESAMPLING=style["resampling"],
            BIGTIFF="IF_SAFER",
        )
    finally:
        staging.unlink(missing_ok=True)


def write_day_cogs(
    ds: xr.Dataset,
    day: dt.date,
    *,
    product_url: str,
    digest: str,
    variables: tuple[str, ...] = ("lst_250m", "lst_250m_quality"),
    storage_options: dict[str, Any] | None = None,
) -> dict[str, CogAsset]:
    """Write one COG per variable of ``day`` beside the product; remove superseded ones.

    Parameters
    ----------
    ds
        The opened product (:func:`lstcloud.open_product`).
    day
        A complete day of the product.
    product_url
        The product's URL; the COGs go to :func:`cog_root` of it.
    digest
        :func:`day_digest` of the day's completion marker (part of the file names).
    variables
        Product variables to write (those absent from ``ds`` are skipped).
    storage_options
        fsspec options for the COG folder.

    Returns
    -------
    dict
        ``{variable: CogAsset}``.
    """
    root = cog_root(product_url)
    fs = filesystem(root, storage_options)
    base = strip_protocol(root).rstrip("/")
    crs_wkt = str(ds["spatial_ref"].attrs.get("crs_wkt", ""))
    if not crs_wkt:
        raise CubeError(f"{redact_url(product_url)}: spatial_ref has no crs_wkt")
    out: dict[str, CogAsset] = {}
    day_folder = f"{base}/{day.isoformat()}"
    with tempfile.TemporaryDirectory(prefix="lstcloud-cog-") as tmp:
        for variable in variables:
            if variable not in ds:
                continue
            da = ds[variable].sel(time=np.datetime64(day, "ns"))
            da = da.drop_vars([c for c in da.coords if c not in da.dims])
            nodata = float(np.nan) if np.issubdtype(da.dtype, np.floating) else _fill(da)
            name = _file_name(day, variable, digest)
            local = Path(tmp) / f"{variable}.tif"
            _write_cog(da, local, crs_wkt=crs_wkt, variable=variable, nodata=nodata)
            size = local.stat().st_size
            target = f"{base}/{name}"
            if protocol_of(root) == "file":
                Path(target).parent.mkdir(parents=True, exist_ok=True)
                shutil.move(local, target)
                url = target
            else:
                fs.put_file(str(local), target)
                url = join(root, name)
            out[variable] = CogAsset(
                variable=variable,
                url=url,
                name=name,
                dtype=str(da.dtype),
                nodata=nodata,
                unit=_STYLE.get(variable, {}).get("unit", str(da.attrs.get("units", ""))),
                size=size,
            )
    keep = {a.name.rsplit("/", 1)[-1] for a in out.values()}
    try:
        present = fs.ls(day_folder, detail=False)
    except FileNotFoundError:
        present = []
    for path in present:
        if str(path).rstrip("/").rsplit("/", 1)[-1] not in keep:
            fs.rm_file(path)  # a superseded writing of the day
    return out


def _fill(da: xr.DataArray) -> float:
    for key in ("_FillValue", "missing_value"):
        value = da.encoding.get(key, da.attrs.get(key))
        if value is not None:
            return float(value)
    return 255.0
