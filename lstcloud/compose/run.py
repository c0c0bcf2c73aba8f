"""``compose``: write (or bring up to date) a composite cube of a product, period by period.

Resumable like ``predict``: each period's values are written with region writes of whole
chunks, then its completion record ``_lstcloud/days/<period start>.json`` lists the product days
it used. A rerun skips a period whose record lists the same days (the product's complete days
in that period, now); a period the product has gained days for is withdrawn and rewritten.
"""

from __future__ import annotations

import datetime as dt
import logging
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import xarray as xr

from lstcloud.compose.periods import period_starts
from lstcloud.compose.reduce import composite, flag_bits
from lstcloud.compose.template import composite_attrs, encodings, template
from lstcloud.core.errors import ConfigError, CubeError
from lstcloud.core.redact import redact_url
from lstcloud.cube.consolidated import consolidate
from lstcloud.cube.product import ProductCube
from lstcloud.cube.store import zarr_store
from lstcloud.query import day_complete_flags, load_product
from lstcloud.query._dataset import time_slice

__all__ = ["ComposeResult", "compose"]

log = logging.getLogger(__name__)


@dataclass
class ComposeResult:
    """What a ``compose`` run did: periods written, skipped (already current), and empty."""

    out: str
    written: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    empty: list[str] = field(default_factory=list)
    climatology_years: list[int] = field(default_factory=list)


def _days_by_period(ds: xr.Dataset, period: str) -> tuple[np.ndarray, dict[str, list[str]]]:
    """The periods of ``ds``'s days, and per period the complete days it holds (ISO)."""
    days = ds["time"].values.astype("datetime64[D]")
    flags = day_complete_flags(ds)
    complete = np.ones(days.shape, bool) if flags is None else flags
    starts = period_starts(days, period)
    periods = np.unique(starts)
    used = {
        str(p): [str(d) for d, s, ok in zip(days, starts, complete, strict=True) if s == p and ok]
        for p in periods
    }
    return periods, used


def _open_or_create(
    out: str,
    ds: xr.Dataset,
    periods: np.ndarray,
    period: str,
    attrs: dict[str, Any],
    storage_options: dict[str, Any] | None,
) -> np.ndarray:
    """Create the composite template, or append the periods it lacks; its time axis."""
    store = zarr_store(out, storage_options=storage_options)
    cube = ProductCube(out, storage_options=storage_options)
    if not cube.exists():
        tpl = template(ds, periods, period, attrs=attrs)
        tpl.to_zarr(
            store,
            mode="w-",
            compute=False,
            consolidated=False,
            zarr_format=3,
            encoding=encodings(tpl),
        )
        consolidate(store)
        return periods
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Object at _lstcloud is not recognized")
        existing = xr.open_zarr(store, consolidated=False)
    stored = {
        k: existing.attrs.get(k)
        for k in ("lstcloud_composite_period", "lstcloud_composite_exclude_flags")
    }
    wanted = {k: attrs[k] for k in stored}
    if stored != wanted:
        raise CubeError(
            f"{redact_url(out)} holds composites made with {stored}, not {wanted}: write "
            "these to another --out"
        )
    if (existing.sizes["y"], existing.sizes["x"]) != (ds.sizes["y"], ds.sizes["x"]) or not (
        np.allclose(existing["x"].values, ds["x"].values)
        and np.allclose(existing["y"].values, ds["y"].values)
    ):
        raise CubeError(f"{redact_url(out)} holds composites of another grid than the product's")
    axis = existing["time"].values.astype("datetime64[D]")
    new = periods[periods > axis[-1]] if axis.size else periods
    if periods.size and axis.size and periods[0] < axis[0]:
        raise CubeError(
            f"{redact_url(out)} starts at {axis[0]}: periods before it ({periods[0]}) cannot be "
            "added; write them to another --out"
        )
    if new.size:
        tpl = template(ds, new, period, attrs=attrs).compute()
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Object at _lstcloud is not recognized")
            tpl.drop_vars("spatial_ref", errors="ignore").to_zarr(
                store, append_dim="time", consolidated=False, zarr_format=3
            )
        consolidate(store)
        axis = np.concatenate([axis, new])
    return axis


def _runs(indices: list[int], batch: int) -> list[list[int]]:
    """Contiguous runs of at most ``batch`` indices (each run is one aligned region write)."""
    runs: list[list[int]] = []
    for i in indices:
        if runs and runs[-1][-1] == i - 1 and len(runs[-1]) < batch:
            runs[-1].append(i)
        else:
            runs.append([i])
    return runs


def compose(
    product: str,
    out: str,
    period: str,
    *,
    start: dt.date | str | None = None,
    end: dt.date | str | None = None,
    exclude_flags: Sequence[str] = (),
    climatology: bool = False,
    batch: int = 4,
    storage_options: dict[str, Any] | None = None,
) -> ComposeResult:
    """Write the ``period`` composites of ``product`` (days ``start`` to ``end``) to ``out``.

    Parameters
    ----------
    product, out
        The product cube and the composite cube (local folders or ``s3://``).
    period
        ``"8D"``, ``"16D"`` or ``"1M"``.
    start, end
        First and last product day to use (inclusive; default: the whole product). Periods
        cut by them hold only the days inside.
    exclude_flags
        Quality flag names (``lst_250m_quality``'s ``flag_meanings``) whose pixels do not count;
        by default every finite ``lst_250m`` counts.
    climatology
        Also write the period-of-year climatology and anomaly
        (:func:`lstcloud.compose.climatology.write_climatology`; needs two years or more).
    batch
        Periods reduced and written per Dask computation.
    storage_options
        fsspec options for ``s3://`` (both cubes).

    Returns
    -------
    ComposeResult
        The periods written, skipped as current, and without any complete day.
    """
    flag_bits(exclude_flags)  # refuse unknown names before reading anything
    ds = time_slice(load_product(product, storage_options=storage_options), start, end)
    if ds.sizes.get("time", 0) == 0:
        raise CubeError(f"no day of {redact_url(product)} between {start} and {end}")
    if climatology:  # refuse before writing anything
        years = np.unique(ds["time"].values.astype("datetime64[Y]"))
        if years.size < 2:
            raise ConfigError(
                "--climatology needs a product spanning two years or more; the days of "
                f"{redact_url(product)} selected are all in {years[0]}"
            )
    periods, used = _days_by_period(ds, period)
    attrs = composite_attrs(redact_url(product), period, exclude_flags)
    axis = _open_or_create(out, ds, periods, period, attrs, storage_options)
    cube = ProductCube(out, storage_options=storage_options)
    records = cube.complete_days()
    result = ComposeResult(out=redact_url(out))
    pending: list[int] = []
    for p in periods:
        key = str(p)
        record = records.get(dt.date.fromisoformat(key))
        if not used[key]:
            result.empty.append(key)
        elif record and record.get("days") == used[key]:
            result.skipped.append(key)
        else:
            pending.append(int(np.nonzero(axis == p)[0][0]))
    store = zarr_store(out, storage_options=storage_options)
    complete = day_complete_flags(ds)
    source = ds if complete is None else ds.isel(time=np.flatnonzero(complete))
    for run in _runs(pending, batch):
        starts = axis[run]
        for s in starts:
            cube.withdraw(s.astype(dt.date))
        days = period_starts(source["time"].values, period)
        part = source.isel(time=np.flatnonzero(np.isin(days, starts)))
        values = composite(part, period, exclude_flags=exclude_flags, expected=starts)
        values = values.drop_vars(["time", "x", "y", "spatial_ref"], errors="ignore")
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Object at _lstcloud is not recognized")
            values.to_zarr(store, region={"time": slice(run[0], run[-1] + 1)}, consolidated=False)
        for s in starts:
            key = str(s)
            cube.mark_complete(
                s.astype(dt.date),
                {"days": used[key], "period": period, "exclude_flags": list(exclude_flags)},
            )
            result.written.append(key)
        log.info("compose: wrote %s", ", ".join(str(s) for s in starts))
    cube.publish_complete_days()
    if climatology:
        from lstcloud.compose.climatology import write_climatology

        result.climatology_years = write_climatology(out, storage_options=storage_options)
    return result
