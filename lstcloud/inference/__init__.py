"""Distributed halo inference: map a super-resolution model over the input cube with Dask.

- :mod:`~lstcloud.inference.halo`: the ``map_overlap`` core (chunk-independent output);
- :mod:`~lstcloud.inference.plugin`: the WorkerPlugin that loads the model once per worker;
- :mod:`~lstcloud.inference.quality`: the per-pixel quality flags;
- :mod:`~lstcloud.inference.predict`: :func:`predict_cube`, input cube -> product cube.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lstcloud.inference.halo import HaloPlan, plan_halo, super_resolve
    from lstcloud.inference.plugin import ModelPlugin
    from lstcloud.inference.predict import PredictSummary, predict_cube
    from lstcloud.inference.quality import QualityFlag

# Lazy exports: ``lstcloud.product`` imports ``lstcloud.inference.quality`` and
# ``lstcloud.inference.predict`` imports ``lstcloud.product``; importing the submodules on first
# use keeps ``import lstcloud.product`` free of a cycle.
_EXPORTS = {
    "HaloPlan": "halo",
    "plan_halo": "halo",
    "super_resolve": "halo",
    "ModelPlugin": "plugin",
    "PredictSummary": "predict",
    "predict_cube": "predict",
    "QualityFlag": "quality",
}


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        module = importlib.import_module(f"lstcloud.inference.{_EXPORTS[name]}")
        return getattr(module, name)
    raise AttributeError(f"module 'lstcloud.inference' has no attribute {name!r}")

__all__ = [
    "HaloPlan",
    "ModelPlugin",
    "PredictSummary",
    "QualityFlag",
    "plan_halo",
    "predict_cube",
    "super_resolve",
]
