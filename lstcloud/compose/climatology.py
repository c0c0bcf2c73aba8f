"""Period-of-year climatology and anomaly of a composite cube (products spanning years)."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import xarray as xr

from lstcloud.compose.periods import period_of_year
from lstcloud.core.errors import ConfigError
from lstcloud.core.redact import redact_url
from lstcloud.cube.consolidated import consolidate
from lstcloud.cube.store import zarr_store

__all__ = ["ANOMALY_VAR", "CLIMATOLOGY_VAR", "climatology", "write_climatology"]

CLIMATOLOGY_VAR = "lst_250m_climatology"
ANOMALY_VAR = "lst_250m_anomaly"


def climatology(composites: xr.Dataset, period: str) -> xr.Dataset:
    """Climatology (mean over the years of the same period of year) and anomaly, on ``time``.

    Parameters
    ----------
    composites
        A composite cube (``lst_250m_mean`` on period starts).
    period
        Its period (``8D``, ``16D``, ``1M``).

    Returns
    -------
    xarray.Dataset
        ``lst_250m_climatology`` and ``lst_250m_anomaly`` (time, y, x) float32 K, lazy; the
        climatology of a period is the mean of the period means of every year that has one.
    """
    import flox.xarray

    key = period_of_year(composites["time"].values, period)
    by = xr.DataArray(key, dims="time", coords={"time": composites["time"]}, name="period_of_year")
    mean = composites["lst_250m_mean"].astype("float64")
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=RuntimeWarning)
        clim = flox.xarray.xarray_reduce(mean, by, func="nanmean", dim="time", engine="numpy")
    per_time = clim.sel(period_of_year=xr.DataArray(key, dims="time")).drop_vars("period_of_year")
    per_time = per_time.assign_coords(time=composites["time"]).transpose("time", "y", "x")
    attrs = {"units": "K", "grid_mapping": "spatial_ref"}
    return xr.Dataset(
        {
            CLIMATOLOGY_VAR: per_time.astype("float32").assign_attrs(
                long_name="mean over the years of this period-of-year's composite mean", **attrs
            ),
            ANOMALY_VAR: (mean - per_time)
            .astype("float32")
            .assign_attrs(long_name="composite mean minus its period-of-year climatology", **attrs),
        }
    )


def write_climatology(out: str, *, storage_options: dict[str, Any] | None = None) -> list[int]:
    """Add the climatology and anomaly to the composite cube at ``out``; the years used.

    Raises
    ------
    ConfigError
        When the composites span fewer than two years.
    """
    store = zarr_store(out, storage_options=storage_options)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Object at _lstcloud is not recognized")
        ds = xr.open_zarr(store, consolidated=False)
    years = sorted({int(y) for y in ds["time"].values.astype("datetime64[Y]").astype(int) + 1970})
    if len(years) < 2:
        raise ConfigError(
            f"--climatology needs a product spanning two years or more; {redact_url(out)} "
            f"covers {years}"
        )
    result = climatology(ds, str(ds.attrs["lstcloud_composite_period"]))
    chunks = ds["lst_250m_mean"].chunksizes
    result = result.chunk({"time": 1, "y": chunks["y"][0], "x": chunks["x"][0]})
    result = result.drop_vars(["x", "y", "spatial_ref"], errors="ignore")
    enc = {name: {"_FillValue": np.float32(np.nan)} for name in result.data_vars}
    result.attrs = {}
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=RuntimeWarning)
        warnings.filterwarnings("ignore", message="Object at _lstcloud is not recognized")
        result.drop_vars("time").to_zarr(store, mode="a", consolidated=False, encoding=enc)
    consolidate(store)
    return years
