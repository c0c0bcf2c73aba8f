"""Per-day test-time adaptation of the production model in the cube pipeline.

A model whose card has an ``adaptation`` (see :mod:`lstcloud.models.adaptation`) fine-tunes its
adapting members on each day's own input before that day is predicted: the planner here draws
up to :data:`CROPS_PER_DAY` crops of ``adaptation.crop_1km`` 1 km pixels (at least half valid)
from the day's LST and NDVI, deterministically from the adaptation's seed, and the members adapt
on them once. The adapted model is then mapped over every chunk of the day, so the day's output
is still seam-free and chunked output equals whole-day output for those weights.
"""

from __future__ import annotations

import logging
from typing import Any

import dask
import numpy as np
import xarray as xr

from lstcloud.models.adaptation import Adaptation, Scene

__all__ = ["CROPS_PER_DAY", "adapt_for_day", "day_scenes"]

log = logging.getLogger(__name__)

#: Crops a day's adaptation draws from (each step draws one of them).
CROPS_PER_DAY = 16
_MIN_VALID = 0.5


def day_scenes(
    ds: xr.Dataset, ti: int, adaptation: Adaptation, *, count: int = CROPS_PER_DAY
) -> list[Scene]:
    """Up to ``count`` crops ``(LST 1 km, NDVI 250 m)`` of day index ``ti`` of an input cube.

    Candidate windows on the ``crop_1km`` grid are visited in a seeded random order and read
    ``count`` at a time; those with at least half of their 1 km LST valid are kept.
    """
    lst, ndvi = ds["lst_day"].data[ti], ds["ndvi"].data[ti]
    h, w = lst.shape
    size = max(1, min(adaptation.crop_1km, h, w))
    origins = [(y, x) for y in range(0, h - size + 1, size) for x in range(0, w - size + 1, size)]
    order = np.random.default_rng(adaptation.seed).permutation(len(origins))
    scenes: list[Scene] = []
    for start in range(0, min(len(order), 4 * count), count):
        picked = [origins[i] for i in order[start : start + count]]
        windows = dask.compute(*[
            (lst[y : y + size, x : x + size],
             ndvi[4 * y : 4 * (y + size), 4 * x : 4 * (x + size)])
            for y, x in picked
        ])
        for lt, nt in windows:
            lt, nt = np.asarray(lt, np.float32), np.asarray(nt, np.float32)
            if np.isfinite(lt).mean() >= _MIN_VALID and len(scenes) < count:
                scenes.append((lt, nt))
        if len(scenes) >= count:
            break
    return scenes


def adapt_for_day(model: Any, ds: xr.Dataset, ti: int) -> Any:
    """``model`` adapted to day index ``ti`` of ``ds`` (``model`` itself without adaptation,
    or when the day has no crop with enough valid LST)."""
    adaptation = getattr(model, "adaptation", None)
    if not isinstance(adaptation, Adaptation) or not adaptation.enabled:
        return model
    scenes = day_scenes(ds, ti, adaptation)
    if not scenes:
        log.warning("day index %d: no crop with half of its LST valid; not adapted", ti)
        return model
    return model.adapted_to(scenes=scenes)
