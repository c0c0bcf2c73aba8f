"""Planning an ingest (pure, no I/O): which (day, tile) of a window to redo
(:func:`plan_window`), and which granules feed which (day, tile) (:func:`plan_tasks`).

A (day, tile) needs its day LST granule and the 250 m granule whose compositing period holds the
day (the daily MOD09GQ, or the 8-day / 16-day composite), and the night LST granule when asked.
Several granules for one slot (reprocessed versions) resolve to the latest item id, with a warning.
"""

from __future__ import annotations

import datetime as dt
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from lstcloud.core.errors import LstcloudWarning
from lstcloud.cube.status import DONE_STATES, RECHECK_STATES, TileDayStatus

if TYPE_CHECKING:
    from lstcloud.catalog import Granule
    from lstcloud.products import ProductSpec

__all__ = [
    "DuplicateGranuleWarning",
    "TileDayTask",
    "WindowPlan",
    "index_granules",
    "plan_tasks",
    "plan_window",
]


class DuplicateGranuleWarning(LstcloudWarning):
    """Several catalogue items claim the same (product, tile, period); the latest id is used."""


@dataclass(frozen=True)
class TileDayTask:
    """Everything a worker needs to ingest one (day, tile).

    ``granules`` maps a part (``"lst"``, ``"ndvi"``, ``"lst_night"``) to its granule, or to
    ``None`` when the catalogue has none; ``products`` maps the part to its product name.
    """

    date: dt.date
    tile: str
    products: Mapping[str, str]
    granules: Mapping[str, Granule | None]

    @property
    def missing(self) -> list[str]:
        """Parts for which no granule was found."""
        return [part for part, g in self.granules.items() if g is None]

    @property
    def item_ids(self) -> tuple[str, ...]:
        """Ids of the STAC items this task reads."""
        return tuple(g.item_id for g in self.granules.values() if g is not None)


def index_granules(
    granules: Iterable[Granule],
) -> dict[tuple[str, str, dt.date], Granule]:
    """Index granules by (product, tile, first day of their period)."""
    index: dict[tuple[str, str, dt.date], Granule] = {}
    for granule in sorted(granules, key=lambda g: g.item_id):
        key = (granule.product, granule.tile, granule.date)
        if key in index and index[key].item_id != granule.item_id:
            warnings.warn(
                f"{granule.product} {granule.tile} {granule.date}: items "
                f"{index[key].item_id} and {granule.item_id}; using {granule.item_id}",
                DuplicateGranuleWarning,
                stacklevel=2,
            )
        index[key] = granule
    return index


def plan_tasks(
    granules: Iterable[Granule],
    *,
    dates: Sequence[dt.date],
    tiles: Sequence[str],
    specs: Mapping[str, ProductSpec],
) -> list[TileDayTask]:
    """One task per (day, tile) of the window, with the granules found for it.

    Parameters
    ----------
    granules
        Everything the catalogue returned.
    dates, tiles
        The window and the region's tile ids.
    specs
        Product spec per part (``"lst"``, ``"ndvi"``, ``"lst_night"``).
    """
    index = index_granules(granules)
    tasks = []
    for date in dates:
        for tile in tiles:
            found = {
                part: index.get((spec.name, tile, spec.period_start(date)))
                for part, spec in specs.items()
            }
            tasks.append(
                TileDayTask(
                    date=date,
                    tile=tile,
                    products={part: spec.name for part, spec in specs.items()},
                    granules=found,
                )
            )
    return tasks


@dataclass(frozen=True)
class WindowPlan:
    """What an ingest run does with each (day, tile) of its window (:func:`plan_window`).

    Attributes
    ----------
    wanted
        (day, tile) to search the catalogue for and ingest: failed, missing, and the
        ``no_input`` ones searched again.
    skipped
        (day, tile) done (``complete`` or ``empty``): not touched.
    kept
        ``no_input`` (day, tile) not searched again in this run.
    """

    wanted: frozenset[tuple[dt.date, str]] = frozenset()
    skipped: tuple[tuple[dt.date, str], ...] = ()
    kept: tuple[tuple[dt.date, str], ...] = ()

    @property
    def search_dates(self) -> list[dt.date]:
        """The days of :attr:`wanted`, sorted."""
        return sorted({d for d, _ in self.wanted})

    @property
    def search_tiles(self) -> list[str]:
        """The tiles of :attr:`wanted`, sorted."""
        return sorted({t for _, t in self.wanted})


def plan_window(
    status: Mapping[tuple[dt.date, str], TileDayStatus],
    dates: Sequence[dt.date],
    tiles: Sequence[str],
    recheck: bool,
) -> WindowPlan:
    """Which (day, tile) of the window an ingest run redoes, from their status records.

    Parameters
    ----------
    status
        The records of the window: ``{(day, tile): record}`` with a ``state`` attribute
        (:class:`lstcloud.cube.status.TileDayStatus`).
    dates, tiles
        The window.
    recheck
        Search again for every ``no_input`` (day, tile). Otherwise only those inside the search
        made anyway for other work (its days range and tiles) are searched again, so that a
        window of ocean tiles costs nothing to rerun.

    A (day, tile) without a record or whose record is not done
    (:data:`lstcloud.cube.status.DONE_STATES`) is redone; ``complete`` and ``empty`` ones are
    skipped.
    """
    todo: list[tuple[dt.date, str]] = []
    no_input: list[tuple[dt.date, str]] = []
    skipped: list[tuple[dt.date, str]] = []
    for day in dates:
        for tile in tiles:
            record = status.get((day, tile))
            if record is None or record.state not in DONE_STATES:
                todo.append((day, tile))
            elif record.state in RECHECK_STATES:
                no_input.append((day, tile))
            else:
                skipped.append((day, tile))
    if recheck:
        wanted = {*todo, *no_input}
    elif todo:
        first, last = min(d for d, _ in todo), max(d for d, _ in todo)
        tiles_todo = {t for _, t in todo}
        wanted = {*todo, *((d, t) for d, t in no_input if first <= d <= last and t in tiles_todo)}
    else:
        wanted = set()
    return WindowPlan(
        wanted=frozenset(wanted),
        skipped=tuple(skipped),
        kept=tuple(k for k in no_input if k not in wanted),
    )
