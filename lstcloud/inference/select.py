"""Which days a prediction run computes: pure planners, no I/O (tested as tables of cases).

- :func:`day_input_state`: is one day of the input cube whole, and what is its digest;
- :func:`select_days`: from the product's complete days and the input states, the days to
  compute, to skip and to leave out (input not whole yet).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from lstcloud.cube.status import DONE_STATES, TileDayStatus

__all__ = ["DaySelection", "InputState", "day_input_state", "select_days"]


@dataclass(frozen=True)
class InputState:
    """The ingest state of one day of the input cube, as prediction sees it.

    Attributes
    ----------
    ready
        Every tile is done: ``complete``, ``empty`` (all fill / all cloud) or ``no_input``
        (the catalogue has no granule for it: ocean, or not published yet).
    reason
        Why the day is not ready (empty when it is).
    digest
        Fingerprint of the day's ingest records (tile, state, granules used). Stored in the
        product's day marker: when it changes (a ``no_input`` tile got its granule, a tile was
        re-ingested), the day is predicted again.
    no_input
        Tiles without any input that day (``no_input``: their product pixels are NaN,
        flagged ``lst_missing``).
    lst_only
        Tiles whose LST was ingested without its NDVI (``lst_only``): their 250 m LST is
        interpolated without a guide and flagged ``guide_missing``.
    """

    ready: bool
    reason: str = ""
    digest: str = ""
    no_input: tuple[str, ...] = ()
    lst_only: tuple[str, ...] = ()


def day_input_state(
    day: dt.date,
    tiles: Sequence[str],
    records: Mapping[tuple[dt.date, str], TileDayStatus],
    *,
    where: str,
) -> InputState:
    """The :class:`InputState` of ``day`` from the ingest records of the cube's ``tiles``.

    ``where`` names the input cube (redacted) in the reason.
    """
    by_state: dict[str, list[str]] = {}
    first_reason = ""
    no_input: list[str] = []
    lst_only: list[str] = []
    digest = hashlib.sha256()
    for tile in tiles:
        record = records.get((day, tile))
        state = "missing" if record is None else str(record.state)
        items = sorted(str(i) for i in (record.items if record is not None else ()))
        digest.update(json.dumps([tile, state, items]).encode())
        if state == "no_input":  # no input: no output
            no_input.append(tile)
        if state == "lst_only":
            lst_only.append(tile)
        if state in DONE_STATES:
            continue
        by_state.setdefault(state, []).append(tile)
        reasons = record.reasons if record is not None else ()
        if reasons and not first_reason:
            first_reason = f" ({tile}: {str(reasons[0])[:200]})"
    reason = ""
    if by_state:
        parts = "; ".join(
            f"{', '.join(names)} {'missing (no ingest record)' if st == 'missing' else st}"
            for st, names in sorted(by_state.items())
        )
        reason = (
            f"input incomplete: tile(s) {parts} in {where}{first_reason}; "
            "ingest the day again, then predict"
        )
    return InputState(
        ready=not by_state,
        reason=reason,
        digest=digest.hexdigest()[:16],
        no_input=tuple(no_input),
        lst_only=tuple(lst_only),
    )


@dataclass(frozen=True)
class DaySelection:
    """What a prediction run does with each day present in the input cube.

    Attributes
    ----------
    todo
        Days to compute (in the input's order).
    skipped
        Days already complete with the same input (not recomputed).
    changed
        Days complete but whose input changed since (their digest differs): in ``todo``.
    unready
        ``(day, reason)`` for days whose input is not whole: not computed.
    """

    todo: tuple[dt.date, ...] = ()
    skipped: tuple[dt.date, ...] = ()
    changed: tuple[dt.date, ...] = ()
    unready: tuple[tuple[dt.date, str], ...] = ()


def select_days(
    done: Mapping[dt.date, Mapping[str, Any]],
    inputs: Mapping[dt.date, InputState],
    overwrite: bool,
) -> DaySelection:
    """Choose the days to compute.

    Parameters
    ----------
    done
        The product's complete days with their marker content (``input_status``: the digest
        of the input they were computed from).
    inputs
        The input state of every day present in the input cube, in order.
    overwrite
        Recompute complete days too.

    A complete day is skipped unless ``overwrite`` or its input changed (and is whole); a day
    not skipped is computed when its input is whole, else left out with the reason.
    """
    changed = tuple(
        day
        for day, state in inputs.items()
        if day in done
        and state.ready
        and done[day].get("input_status") not in (None, state.digest)
    )
    skipped = tuple(d for d in inputs if d in done and not overwrite and d not in changed)
    unready = tuple(
        (d, state.reason) for d, state in inputs.items() if d not in skipped and not state.ready
    )
    left_out = {d for d, _ in unready}
    todo = tuple(d for d in inputs if d not in skipped and d not in left_out)
    return DaySelection(todo=todo, skipped=skipped, changed=changed, unready=tuple(sorted(unready)))
