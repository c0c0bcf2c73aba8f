"""Writing query results: GeoTIFF (rioxarray), NetCDF (h5netcdf), CSV and JSON."""

from __future__ import annotations

import io
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from lstcloud.core.errors import ConfigError
from lstcloud.cube.quality import flag_names
from lstcloud.query._dataset import LST_VAR, QUALITY_VAR, UNCERTAINTY_VAR, product_crs

__all__ = [
    "describe_pixel",
    "series_records",
    "series_to_csv",
    "series_to_json",
    "write_geotiff",
    "write_netcdf",
    "write_subset",
]


def series_records(series: xr.Dataset) -> list[dict[str, Any]]:
    """One ``{"date", "lst_k", "quality", "flags", "complete"}`` record per day of a
    :func:`point_series` result (``flags``: the names of the quality bits set, e.g.
    ``guide_missing+near_invalid``; :func:`lstcloud.cube.quality.flag_names`), and
    ``"uncertainty_k"``, the calibrated 1-sigma, when the product has it.

    ``complete`` is False for a day without its completion marker (still being written,
    interrupted, never predicted: its value is not data, whatever its quality flag says);
    ``None`` when the product does not list its complete days.
    """
    records = []
    lst = series[LST_VAR].values if LST_VAR in series else None
    quality = series[QUALITY_VAR].values if QUALITY_VAR in series else None
    sigma = series[UNCERTAINTY_VAR].values if UNCERTAINTY_VAR in series else None
    complete = series["day_complete"].values if "day_complete" in series else None
    for i, time in enumerate(series["time"].values):
        value = None if lst is None or not math.isfinite(float(lst[i])) else float(lst[i])
        record: dict[str, Any] = {
            "date": str(np.datetime_as_string(time, unit="D")),
            "lst_k": None if value is None else round(value, 3),
        }
        if sigma is not None:
            ok = value is not None and math.isfinite(float(sigma[i]))
            record["uncertainty_k"] = round(float(sigma[i]), 3) if ok else None
        if quality is not None:
            record["quality"] = int(quality[i])
            record["flags"] = flag_names(int(quality[i]))
        record["complete"] = None if complete is None else bool(complete[i])
        records.append(record)
    return records


def series_to_csv(series: xr.Dataset, path: str | Path | None = None) -> str:
    """CSV of a point series (``date,lst_k,quality,flags,complete``; empty ``lst_k`` where invalid;
    ``complete`` is ``true``/``false``, empty when the product does not list its days).

    Plain CSV (no comment lines, so ``pandas.read_csv`` reads it as is); the pixel's location
    is given by :func:`describe_pixel` and in the JSON form. Returns the text, and writes it to
    ``path`` when given.
    """
    records = series_records(series)
    quality = ["quality", "flags"] if QUALITY_VAR in series else []
    columns = ["date", "lst_k", *(["uncertainty_k"] if UNCERTAINTY_VAR in series else []),
               *quality, "complete"]
    buf = io.StringIO()
    buf.write(",".join(columns) + "\n")
    for record in records:
        cells = [_cell(record.get(c)) for c in columns]
        buf.write(",".join(cells) + "\n")
    text = buf.getvalue()
    if path is not None:
        Path(path).write_text(text)
    return text


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def describe_pixel(series: xr.Dataset) -> str:
    """One line naming the point, the pixel it fell in and the product."""
    return (
        f"lon={series.attrs.get('lon')} lat={series.attrs.get('lat')} -> pixel row "
        f"{series.attrs.get('row')} col {series.attrs.get('col')} (x={float(series['x']):.1f} m, "
        f"y={float(series['y']):.1f} m) of {series.attrs.get('product', '')}"
    )


def series_to_json(series: xr.Dataset, path: str | Path | None = None) -> str:
    """JSON of a point series: the point, the pixel, units and one record per day."""
    doc = {
        "product": series.attrs.get("product"),
        "lon": series.attrs.get("lon"),
        "lat": series.attrs.get("lat"),
        "pixel": {
            "row": series.attrs.get("row"),
            "col": series.attrs.get("col"),
            "x_m": float(series["x"]),
            "y_m": float(series["y"]),
        },
        "units": {"lst_k": "K"},
        "series": series_records(series),
    }
    text = json.dumps(doc, indent=2) + "\n"
    if path is not None:
        Path(path).write_text(text)
    return text


def write_geotiff(ds: xr.Dataset, path: str | Path, *, variable: str = LST_VAR) -> Path:
    """Write one variable of a subset as a tiled, deflate-compressed GeoTIFF.

    A single day gives a one-band file; several days give one band per day, described by its
    date. The CRS comes from the subset (``spatial_ref``; sinusoidal for native subsets).
    """
    import rioxarray  # noqa: F401  (registers the .rio accessor)

    if variable not in ds:
        raise ConfigError(f"variable: {variable!r} is not in the subset ({list(ds.data_vars)})")
    da = ds[variable]
    da = da.drop_vars([c for c in da.coords if c not in da.dims])
    if da.rio.crs is None:
        da = da.rio.write_crs(product_crs(ds))
    da = da.rio.set_spatial_dims(x_dim="x", y_dim="y")
    partial = [str(d) for d in ds.attrs.get("incomplete_days", [])]
    if partial:  # exported with --allow-partial: the file says which bands are not data
        da.attrs["incomplete_days"] = ",".join(partial)
    if "time" in da.dims:
        dates = [str(np.datetime_as_string(t, unit="D")) for t in da["time"].values]
        da = da.rename(time="band").assign_coords(band=np.arange(1, len(dates) + 1))
        if len(dates) == 1:
            da = da.isel(band=0)
        da.attrs["long_name"] = tuple(dates) if len(dates) > 1 else dates[0]
    if np.issubdtype(da.dtype, np.floating):
        da = da.rio.write_nodata(np.nan, encoded=False)
    da.encoding = {}
    out = Path(path)
    da.rio.to_raster(out, driver="GTiff", tiled=True, compress="DEFLATE")
    _tag_bands(out, units=str(ds[variable].attrs.get("units", "")))
    return out


def _tag_bands(path: Path, *, units: str) -> None:
    """Band unit, scale (1) and offset (0) as GDAL band metadata, readable by QGIS and GDAL."""
    import rasterio

    with rasterio.open(path, "r+") as dst:
        if units:
            dst.units = (units,) * dst.count
        dst.scales = (1.0,) * dst.count
        dst.offsets = (0.0,) * dst.count
        for band in range(1, dst.count + 1):
            tags = {"scale_factor": "1.0", "add_offset": "0.0"}
            if units:
                tags["units"] = units
            dst.update_tags(band, **tags)


def write_netcdf(ds: xr.Dataset, path: str | Path) -> Path:
    """Write a subset as NetCDF-4 (h5netcdf engine), compressed, CF grid mapping kept."""
    out_ds = ds.copy()
    for name in out_ds.variables:
        out_ds[name].encoding = {}
    encoding = {
        name: {"zlib": True, "complevel": 4} for name in out_ds.data_vars if out_ds[name].ndim >= 2
    }
    out_ds.attrs = {k: v for k, v in out_ds.attrs.items() if isinstance(v, str | int | float)}
    out = Path(path)
    out_ds.to_netcdf(out, engine="h5netcdf", encoding=encoding)
    return out


def write_subset(ds: xr.Dataset, path: str | Path, *, variable: str = LST_VAR) -> Path:
    """Write a subset by file suffix: ``.tif``/``.tiff`` (GeoTIFF) or ``.nc`` (NetCDF)."""
    suffix = Path(path).suffix.lower()
    if suffix in (".tif", ".tiff"):
        return write_geotiff(ds, path, variable=variable)
    if suffix in (".nc", ".nc4", ".netcdf"):
        return write_netcdf(ds, path)
    raise ConfigError(f"out: {path} must end in .tif, .tiff or .nc")
