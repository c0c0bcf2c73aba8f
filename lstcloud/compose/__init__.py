"""Composites of the daily product: 8-day, 16-day and monthly mean, clear count, min and max.

::

    from lstcloud.compose import compose
    compose("s3://bucket/lst-250m.zarr", "s3://bucket/lst-250m-8d.zarr", "8D")

The composite cube opens with :func:`lstcloud.open_product` (its ``lst_250m_mean`` answers as
``lst_250m``) and with plain ``xarray.open_zarr``.
"""

from __future__ import annotations

from lstcloud.compose.periods import PERIODS, period_ends, period_of_year, period_starts
from lstcloud.compose.reduce import COMPOSITE_VARS, composite
from lstcloud.compose.run import ComposeResult, compose

__all__ = [
    "COMPOSITE_VARS",
    "PERIODS",
    "ComposeResult",
    "compose",
    "composite",
    "period_ends",
    "period_of_year",
    "period_starts",
]
