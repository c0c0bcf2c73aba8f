"""Composite periods: MODIS-style 8- and 16-day periods (restarting on 1 January) and months."""

from __future__ import annotations

import numpy as np

from lstcloud.core.errors import ConfigError

__all__ = ["PERIODS", "period_ends", "period_of_year", "period_starts"]

#: The periods ``compose`` accepts.
PERIODS = ("8D", "16D", "1M")


def _check(period: str) -> str:
    if period not in PERIODS:
        raise ConfigError(f"period: {period!r} is not one of {', '.join(PERIODS)}")
    return period


def period_starts(days: np.ndarray, period: str) -> np.ndarray:
    """First day (``datetime64[D]``) of the period holding each of ``days``.

    8D and 16D periods start on 1 January and every 8 (16) days after it, like MOD11A2 and
    MOD21A2; the last period of a year ends on 31 December (5 or 6 days for 8D). 1M periods are
    calendar months.
    """
    period = _check(period)
    d = np.asarray(days).astype("datetime64[D]")
    if period == "1M":
        return d.astype("datetime64[M]").astype("datetime64[D]")
    step = 8 if period == "8D" else 16
    jan1 = d.astype("datetime64[Y]").astype("datetime64[D]")
    doy0 = (d - jan1).astype(int)
    return jan1 + (doy0 // step) * step


def period_ends(starts: np.ndarray, period: str) -> np.ndarray:
    """Last day (inclusive, ``datetime64[D]``) of the periods starting on ``starts``."""
    period = _check(period)
    s = np.asarray(starts).astype("datetime64[D]")
    if period == "1M":
        return (s.astype("datetime64[M]") + 1).astype("datetime64[D]") - 1
    step = 8 if period == "8D" else 16
    next_jan1 = (s.astype("datetime64[Y]") + 1).astype("datetime64[D]")
    return np.minimum(s + step - 1, next_jan1 - 1)


def period_of_year(starts: np.ndarray, period: str) -> np.ndarray:
    """Index of each period within its year (0-based): the key of the climatology."""
    period = _check(period)
    s = np.asarray(starts).astype("datetime64[D]")
    if period == "1M":
        return (s.astype("datetime64[M]").astype(int) % 12).astype("int64")
    step = 8 if period == "8D" else 16
    jan1 = s.astype("datetime64[Y]").astype("datetime64[D]")
    return ((s - jan1).astype(int) // step).astype("int64")
