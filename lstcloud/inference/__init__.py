"""Distributed halo inference: map a super-resolution model over the input cube with Dask.

- :mod:`~lstcloud.inference.halo`: the ``map_overlap`` core (chunk-independent output);
- :mod:`~lstcloud.inference.plugin`: the WorkerPlugin that loads the model once per worker;
- :mod:`~lstcloud.inference.quality`: the per-pixel quality flags;
- :mod:`~lstcloud.inference.predict`: :func:`predict_cube`, input cube -> product cube.
"""

from __future__ import annotations

from lstcloud.inference.halo import HaloPlan, plan_halo, super_resolve
from lstcloud.inference.plugin import ModelPlugin
from lstcloud.inference.predict import PredictSummary, predict_cube
from lstcloud.inference.quality import QualityFlag

__all__ = [
    "HaloPlan",
    "ModelPlugin",
    "PredictSummary",
    "QualityFlag",
    "plan_halo",
    "predict_cube",
    "super_resolve",
]
