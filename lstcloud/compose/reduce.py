"""The grouped reductions of a composite: mean, count, min and max per period (flox on Dask)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import xarray as xr

from lstcloud.compose.periods import period_starts
from lstcloud.core.errors import ConfigError
from lstcloud.cube.product import LST_VAR, QUALITY_VAR
from lstcloud.cube.quality import FLAG_MEANINGS

__all__ = ["COMPOSITE_VARS", "clear_lst", "composite", "flag_bits"]

#: The variables of a composite cube and their reduction.
COMPOSITE_VARS = {
    f"{LST_VAR}_mean": "nanmean",
    f"{LST_VAR}_count": "count",
    f"{LST_VAR}_min": "nanmin",
    f"{LST_VAR}_max": "nanmax",
}


def flag_bits(names: Sequence[str]) -> int:
    """The OR of the quality bits called ``names`` (``lst_250m_quality``'s flag_meanings)."""
    meanings = FLAG_MEANINGS.split()
    bits = 0
    for name in names:
        if name not in meanings:
            raise ConfigError(
                f"exclude-flags: {name!r} is not a quality flag ({', '.join(meanings)})"
            )
        bits |= 1 << meanings.index(name)
    return bits


def clear_lst(ds: xr.Dataset, exclude_flags: Sequence[str] = ()) -> xr.DataArray:
    """``lst_250m`` with NaN where it is not finite or carries one of ``exclude_flags``."""
    lst = ds[LST_VAR].astype("float32")
    bits = flag_bits(exclude_flags)
    if bits:
        if QUALITY_VAR not in ds:
            raise ConfigError("exclude-flags: the product has no lst_250m_quality")
        lst = lst.where((ds[QUALITY_VAR].astype("uint8") & np.uint8(bits)) == 0)
    return lst


def composite(
    ds: xr.Dataset,
    period: str,
    *,
    exclude_flags: Sequence[str] = (),
    expected: np.ndarray | None = None,
) -> xr.Dataset:
    """Per-period mean, clear-observation count, min and max of ``lst_250m`` (lazy).

    Parameters
    ----------
    ds
        The product's days to reduce (``time``, ``y``, ``x``), usually Dask-backed.
    period
        ``"8D"``, ``"16D"`` or ``"1M"`` (:func:`lstcloud.compose.periods.period_starts`).
    exclude_flags
        Quality flag names whose pixels do not count (default: every finite value counts).
    expected
        The period starts (``datetime64[D]``) to return, in order (default: those of ``ds``).

    Returns
    -------
    xarray.Dataset
        :data:`COMPOSITE_VARS` on ``time`` = period start; NaN (count 0) where no clear value.
    """
    import flox.xarray

    lst = clear_lst(ds, exclude_flags)
    labels = period_starts(ds["time"].values, period).astype("datetime64[ns]")
    by = xr.DataArray(labels, dims="time", coords={"time": ds["time"]}, name="period")
    groups = np.unique(labels) if expected is None else np.asarray(expected, "datetime64[ns]")
    out = {}
    for name, func in COMPOSITE_VARS.items():
        reduced = flox.xarray.xarray_reduce(
            lst.astype("float64") if func == "nanmean" else lst,
            by,
            func=func,
            expected_groups=groups,
            dim="time",
            fill_value=0 if func == "count" else np.nan,
            engine="numpy",  # numpy-groupies: no JIT compilation (numbagg compiles per call site)
        )
        reduced = reduced.rename({"period": "time"})
        out[name] = reduced.astype("uint16" if func == "count" else "float32")
    result = xr.Dataset(out)
    return result.transpose("time", "y", "x")
