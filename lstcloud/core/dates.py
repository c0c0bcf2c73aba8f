"""Days: parsing them from what users and stores give, and ranges of them.

Dates are :class:`datetime.date` everywhere in lstcloud; times in the cubes are
``datetime64[ns]`` at 00:00 UTC of the day.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from lstcloud.core.errors import ConfigError

__all__ = ["as_date", "day_range", "parse_day", "parse_window"]


def as_date(value: Any, *, field: str = "date") -> dt.date:
    """``value`` as a day: a date, a datetime, a ``numpy.datetime64``, a ``pandas.Timestamp`` or
    an ISO string (``YYYY-MM-DD``, a time part after it is ignored).

    Raises
    ------
    ConfigError
        Naming ``field`` when ``value`` is not a date.
    """
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if type(value).__name__ == "datetime64":  # numpy, without importing it here
        return value.astype("datetime64[D]").astype(dt.date)  # type: ignore[no-any-return]
    text = str(value).strip()
    try:
        return dt.date.fromisoformat(text[:10] if len(text) > 10 and text[10] in "T " else text)
    except ValueError:
        raise ConfigError(f"{field}: {value!r} is not a date (YYYY-MM-DD)") from None


def day_range(start: dt.date, end: dt.date) -> list[dt.date]:
    """Every day from ``start`` to ``end``, both included.

    Raises
    ------
    ConfigError
        ``end`` before ``start`` (a :class:`ValueError` too).
    """
    if end < start:
        raise ConfigError(f"end {end} is before start {start}")
    return [start + dt.timedelta(days=i) for i in range((end - start).days + 1)]


def parse_window(start: Any, end: Any) -> tuple[dt.date, dt.date]:
    """The (start, end) days of a window, checked.

    Raises
    ------
    ConfigError
        A malformed date, or ``start`` after ``end``.
    """
    start_d, end_d = as_date(start, field="start"), as_date(end, field="end")
    if start_d > end_d:
        raise ConfigError(f"start {start_d} is after end {end_d}: the window would be empty")
    return start_d, end_d


def parse_day(text: str | dt.date | None, *, today: dt.date | None = None) -> dt.date:
    """A day from ``YYYY-MM-DD``, ``yesterday`` or ``today`` (UTC); ``None`` means yesterday."""
    if isinstance(text, dt.date):
        return text
    today = today or dt.datetime.now(dt.UTC).date()
    if text is None or text == "yesterday":
        return today - dt.timedelta(days=1)
    if text == "today":
        return today
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise ConfigError(
            f"--date must be YYYY-MM-DD, 'yesterday' or 'today', got {text!r}"
        ) from None
