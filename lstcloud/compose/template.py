"""The composite cube's layout: a Zarr v3 template with one chunk per period and product block."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import dask.array as da
import numpy as np
import xarray as xr

from lstcloud import __version__
from lstcloud.compose.periods import period_ends
from lstcloud.compose.reduce import COMPOSITE_VARS

__all__ = ["composite_attrs", "encodings", "template"]

_CELL_METHODS = {"mean": "mean", "min": "minimum", "max": "maximum"}

_LONG_NAMES = {
    "mean": "mean of the clear-sky daily 250 m land surface temperature over the period",
    "count": "number of clear-sky daily observations over the period",
    "min": "minimum of the clear-sky daily 250 m land surface temperature over the period",
    "max": "maximum of the clear-sky daily 250 m land surface temperature over the period",
}


def composite_attrs(product: str, period: str, exclude_flags: Sequence[str]) -> dict[str, Any]:
    """Group attributes of a composite cube (CF and provenance)."""
    return {
        "Conventions": "CF-1.10",
        "title": f"lstcloud {period} composites of the daily 250 m land surface temperature",
        "lstcloud_composite_period": period,
        "lstcloud_composite_exclude_flags": list(exclude_flags),
        "lstcloud_composite_source": product,
        "lstcloud_software_version": __version__,
    }


def template(
    ds: xr.Dataset,
    starts: np.ndarray,
    period: str,
    *,
    attrs: dict[str, Any],
) -> xr.Dataset:
    """An all-NaN (count 0) lazy composite Dataset on ``ds``'s grid for the periods ``starts``.

    Chunks: one period by the product's spatial chunk, so that every write of whole periods is
    aligned.
    """
    sizes = ds["lst_250m"].chunksizes
    cy = int(sizes["y"][0]) if sizes else ds.sizes["y"]
    cx = int(sizes["x"][0]) if sizes else ds.sizes["x"]
    shape = (len(starts), ds.sizes["y"], ds.sizes["x"])
    chunks = (1, cy, cx)
    data: dict[str, Any] = {}
    for name, func in COMPOSITE_VARS.items():
        kind = name.rsplit("_", 1)[1]
        if func == "count":
            arr = da.zeros(shape, chunks=chunks, dtype="uint16")
            var_attrs = {"units": "1", "long_name": _LONG_NAMES[kind]}
        else:
            arr = da.full(shape, np.nan, chunks=chunks, dtype="float32")
            var_attrs = {
                "units": "K",
                "standard_name": "surface_temperature",
                "long_name": _LONG_NAMES[kind],
                "cell_methods": f"time: {_CELL_METHODS[kind]} (interval: 1 day)",
            }
        data[name] = (("time", "y", "x"), arr, {**var_attrs, "grid_mapping": "spatial_ref"})
    ends = period_ends(starts, period)
    bounds = np.stack([starts, ends + 1], axis=1).astype("datetime64[ns]")
    coords: dict[str, Any] = {
        "time": (
            "time",
            starts.astype("datetime64[ns]"),
            {"standard_name": "time", "axis": "T", "bounds": "time_bnds"},
        ),
        "y": ds["y"].variable,
        "x": ds["x"].variable,
    }
    out = xr.Dataset(data, coords=coords, attrs=attrs)
    out["time_bnds"] = (("time", "bnds"), bounds)
    if "spatial_ref" in ds.variables:
        out = out.assign_coords(spatial_ref=ds["spatial_ref"].variable)
    out.encoding = {}
    return out


def encodings(ds: xr.Dataset) -> dict[str, dict[str, Any]]:
    """Zarr encodings: NaN fill for the temperatures, none for the counts (0 is a count), days
    for time."""
    enc: dict[str, dict[str, Any]] = {}
    for name in ds.data_vars:
        if name == "time_bnds":
            enc[name] = {"units": "days since 1970-01-01", "dtype": "int64"}
        elif ds[name].dtype.kind == "f":
            enc[name] = {"_FillValue": np.float32(np.nan)}
        else:
            enc[name] = {"_FillValue": None}  # a count of 0 is a value, not missing
    enc["time"] = {"units": "days since 1970-01-01", "dtype": "int64"}
    return enc
