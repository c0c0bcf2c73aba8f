"""Distributed halo inference: map a super-resolution model over the input cube with Dask.

- :mod:`~lstcloud.inference.halo`: the ``map_overlap`` core (chunk-independent output);
- :mod:`~lstcloud.inference.plugin`: the WorkerPlugin that loads the model once per worker;
- :mod:`~lstcloud.inference.quality`: computing the per-pixel quality flags (their meaning is
  the product's: :mod:`lstcloud.cube.quality`);
- :mod:`~lstcloud.inference.predict`: :func:`predict_cube`, input cube -> product cube.

Inference reads and writes the cubes only through :mod:`lstcloud.cube`.
"""

from __future__ import annotations

from lstcloud.cube.quality import QualityFlag
from lstcloud.inference.halo import HaloPlan, plan_halo, super_resolve
from lstcloud.inference.plugin import ModelPlugin
from lstcloud.inference.predict import PredictSummary, predict_cube

__all__ = [
    "HaloPlan",
    "ModelPlugin",
    "PredictSummary",
    "QualityFlag",
    "plan_halo",
    "predict_cube",
    "super_resolve",
]
