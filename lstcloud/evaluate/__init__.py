"""Evaluation of the super-resolved LST on real data: metrics, the Wald protocol, the ASTER
comparison and the report (markdown + PNG figures).

Typical use::

    from lstcloud.evaluate import AsterConfig, evaluate_aster, iter_dev_samples
    from lstcloud.evaluate import resolve_methods, write_report

    methods = resolve_methods(["bicubic", "tsharp"])
    result = evaluate_aster(iter_dev_samples(folder), methods, data=str(folder))
    write_report(result, "out/")

The data-mining sharpener (method ``dms``) lives in :mod:`lstcloud.evaluate.dms` (imported on
demand: it needs scikit-learn). See ``docs/evaluation.md`` for the protocols and the figures.
"""

from __future__ import annotations

from .aster import AsterConfig, aster_valid_mask, evaluate_aster, to_aster_grid
from .datasets import (
    DevSample,
    GeoRaster,
    ModisPatch,
    align_to_grid,
    detect_layout,
    iter_dev_samples,
    iter_mod11a1_patches,
    read_raster,
)
from .methods import (
    KNOWN_METHODS,
    LST_ONLY_METHODS,
    Method,
    parse_methods,
    resolve_methods,
    training_overlap,
)
from .metrics import METRIC_KEYS, aggregate, score
from .report import write_metrics_json, write_report
from .results import ProtocolResult, SamplePanel
from .wald import WaldConfig, WaldSample, evaluate_wald

__all__ = [
    "KNOWN_METHODS",
    "LST_ONLY_METHODS",
    "METRIC_KEYS",
    "AsterConfig",
    "DevSample",
    "GeoRaster",
    "Method",
    "ModisPatch",
    "ProtocolResult",
    "SamplePanel",
    "WaldConfig",
    "WaldSample",
    "aggregate",
    "align_to_grid",
    "aster_valid_mask",
    "detect_layout",
    "evaluate_aster",
    "evaluate_wald",
    "iter_dev_samples",
    "iter_mod11a1_patches",
    "parse_methods",
    "read_raster",
    "resolve_methods",
    "score",
    "to_aster_grid",
    "training_overlap",
    "write_metrics_json",
    "write_report",
]
