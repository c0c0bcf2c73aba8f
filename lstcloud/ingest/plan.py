"""Planning an ingest: which granules feed which (day, tile) of the cube.

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

if TYPE_CHECKING:
    from lstcloud.catalog import Granule
    from lstcloud.products import ProductSpec

__all__ = ["DuplicateGranuleWarning", "TileDayTask", "index_granules", "plan_tasks"]


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
