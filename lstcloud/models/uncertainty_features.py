"""The per-pixel features of the calibrated uncertainty (:mod:`lstcloud.models.uncertainty`).

Cheap array operations on the 1 km LST, the 250 m NDVI and the model's single 250 m prediction
(no extra network pass). Each feature reads the inputs within its ``reach_1km`` (normalised box
filters: NaN inputs contribute nothing; zero beyond the window), so a window with that much
context gives the same values as the whole scene.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np
from scipy import ndimage

from lstcloud.errors import ConfigError

__all__ = [
    "FACTOR",
    "FEATURES",
    "PRED_NEIGHBOUR_FEATURES",
    "native_features",
    "uncertainty_features",
]

FACTOR = 4
#: Radius (1 km pixels) of the neighbourhood statistics.
LOCAL_RADIUS_1KM = 4
#: Radius (1 km pixels) of the regional statistics (the landscape's thermal contrast).
REGIONAL_RADIUS_1KM = 12
#: Radius (1 km pixels) within which invalid inputs count (nearness to cloud and fill).
INVALID_RADIUS_1KM = 3
_DETAIL_FLOOR_K = 0.05
_SPREAD_FLOOR_K = 0.05


def _box_mean(values: np.ndarray, weights: np.ndarray, radius: int) -> np.ndarray:
    """Normalised box mean over ``(2 radius + 1)^2`` (weights 0 contribute nothing; NaN where
    the neighbourhood has no weight). Zero beyond the array: local and chunk-independent."""
    size = 2 * radius + 1
    num = ndimage.uniform_filter(np.where(weights > 0, values, 0.0) * weights, size,
                                 mode="constant", cval=0.0)
    den = ndimage.uniform_filter(weights, size, mode="constant", cval=0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 1e-9, num / np.maximum(den, 1e-12), np.nan)


def _up(a: np.ndarray) -> np.ndarray:
    return np.repeat(np.repeat(a, FACTOR, axis=0), FACTOR, axis=1)


def _bicubic(lst: np.ndarray) -> np.ndarray:
    from lstcloud import ops

    return ops.upsample_bicubic_np(lst.astype(np.float32))


@dataclass(frozen=True)
class _Inputs:
    """One window's inputs; what several features share is computed once (cached)."""

    lst: np.ndarray  # (h, w) float64, NaN = invalid
    ndvi: np.ndarray  # (4h, 4w) float32 (the 250 m work runs in float32), NaN = invalid
    pred: np.ndarray  # (4h, 4w) float32
    spread: np.ndarray | None = None

    @cached_property
    def filled_lst(self) -> np.ndarray:
        """The 1 km LST, invalid cells filled by their 3 x 3 valid mean (NaN when none)."""
        valid = np.isfinite(self.lst).astype(np.float64)
        local = _box_mean(self.lst, valid, 1)
        return np.where(np.isfinite(self.lst), self.lst, local)

    @cached_property
    def filled_ndvi(self) -> np.ndarray:
        """The 250 m NDVI, missing pixels filled by their 9 x 9 valid mean (0.3 when none),
        clipped to [-0.2, 1]."""
        finite = np.isfinite(self.ndvi)
        if finite.all():
            return np.clip(self.ndvi, -0.2, 1)
        valid = finite.astype(np.float64)
        local = _box_mean(self.ndvi, valid, FACTOR)
        filled = np.where(finite, self.ndvi, np.nan_to_num(local, nan=0.3).astype(np.float32))
        return np.clip(filled, -0.2, 1)

    @cached_property
    def ndvi_cells(self) -> np.ndarray:
        """``(h, 4, w, 4)`` view of :attr:`filled_ndvi`: the 250 m pixels of each 1 km cell."""
        h, w = self.lst.shape
        return self.filled_ndvi.reshape(h, FACTOR, w, FACTOR)

    @cached_property
    def regression(self) -> tuple[np.ndarray, np.ndarray]:
        """Local least squares of the 1 km LST on the 1 km NDVI within 4 km: residual (K) and
        correlation, per 1 km pixel."""
        ndvi = self.ndvi_cells.mean(axis=(1, 3), dtype=np.float64)
        valid = np.isfinite(self.lst).astype(np.float64)
        lst = np.nan_to_num(self.lst)
        r = LOCAL_RADIUS_1KM
        mt, mn = _box_mean(lst, valid, r), _box_mean(ndvi, valid, r)
        cov = _box_mean(lst * ndvi, valid, r) - mt * mn
        vn = np.maximum(_box_mean(ndvi**2, valid, r) - mn**2, 1e-6)
        vt = np.maximum(_box_mean(lst**2, valid, r) - mt**2, 1e-6)
        resid = lst - (mt + cov / vn * (ndvi - mn))
        return np.nan_to_num(resid), np.nan_to_num(cov / np.sqrt(vn * vt))


def _f_lst_local_sd(x: _Inputs) -> np.ndarray:
    valid = np.isfinite(x.lst).astype(np.float64)
    mean = _box_mean(x.lst, valid, LOCAL_RADIUS_1KM)
    sq = _box_mean(x.lst**2, valid, LOCAL_RADIUS_1KM)
    return np.log(np.sqrt(np.maximum(sq - mean**2, 0.0)) + 0.1)


def _f_lst_regional_sd(x: _Inputs) -> np.ndarray:
    valid = np.isfinite(x.lst).astype(np.float64)
    mean = _box_mean(x.lst, valid, REGIONAL_RADIUS_1KM)
    sq = _box_mean(x.lst**2, valid, REGIONAL_RADIUS_1KM)
    return np.log(np.sqrt(np.maximum(sq - mean**2, 0.0)) + 0.1)


def _f_ndvi_lst_residual(x: _Inputs) -> np.ndarray:
    return np.log(np.abs(x.regression[0]) + 0.1)


def _f_ndvi_lst_corr(x: _Inputs) -> np.ndarray:
    return x.regression[1]


def _f_lst_gradient(x: _Inputs) -> np.ndarray:
    filled = np.nan_to_num(x.filled_lst)
    gy = ndimage.sobel(filled, axis=0, mode="nearest") / 8.0
    gx = ndimage.sobel(filled, axis=1, mode="nearest") / 8.0
    return np.log(np.hypot(gx, gy) + 0.1)


def _f_ndvi(x: _Inputs) -> np.ndarray:
    return x.filled_ndvi


def _f_ndvi_cell_sd(x: _Inputs) -> np.ndarray:
    return np.log(x.ndvi_cells.std(axis=(1, 3), dtype=np.float64) + 0.01)


def _f_ndvi_local_mean(x: _Inputs) -> np.ndarray:
    cell = x.ndvi_cells.mean(axis=(1, 3), dtype=np.float64)
    return _box_mean(cell, np.ones_like(cell), LOCAL_RADIUS_1KM)


def _f_invalid_fraction(x: _Inputs) -> np.ndarray:
    h, w = x.lst.shape
    bad = ~np.isfinite(x.lst) | ~np.isfinite(x.ndvi).reshape(h, FACTOR, w, FACTOR).all(axis=(1, 3))
    size = 2 * INVALID_RADIUS_1KM + 1
    frac = ndimage.uniform_filter(bad.astype(np.float64), size, mode="constant", cval=0.0)
    return np.sqrt(np.maximum(frac, 0.0))


def _f_detail(x: _Inputs) -> np.ndarray:
    return np.log(np.abs(x.pred - _bicubic(x.lst)) + np.float32(_DETAIL_FLOOR_K))


def _grad250(a: np.ndarray) -> np.ndarray:
    """|Sobel gradient| per pixel, float32 (the 250 m arrays are the bulk of the work)."""
    a = np.asarray(a, np.float32)
    gy = ndimage.sobel(a, axis=0, mode="nearest") / np.float32(8.0)
    gx = ndimage.sobel(a, axis=1, mode="nearest") / np.float32(8.0)
    return np.hypot(gx, gy)


def _f_pred_gradient(x: _Inputs) -> np.ndarray:
    pred = x.pred
    if not np.isfinite(pred).all():
        pred = np.where(np.isfinite(pred), pred, _bicubic(x.filled_lst))
    return np.log(_grad250(np.nan_to_num(pred)) + np.float32(0.05))


def _f_ndvi_gradient(x: _Inputs) -> np.ndarray:
    return np.log(_grad250(x.filled_ndvi) + np.float32(0.005))


def _f_lst(x: _Inputs) -> np.ndarray:
    return x.filled_lst


def _f_spread(x: _Inputs) -> np.ndarray:
    if x.spread is None:
        raise ConfigError("the uncertainty feature 'spread' needs an ensemble's spread")
    return np.log(x.spread + np.float32(_SPREAD_FLOOR_K))


@dataclass(frozen=True)
class _Feature:
    compute: Callable[[_Inputs], np.ndarray]
    reach_1km: int
    description: str
    #: ``compute`` returns one value per 1 km cell (``(h, w)``), shared by its 16 pixels.
    at_1km: bool = False


#: The features an uncertainty model may use: name -> (function, reach at 1 km, meaning).
FEATURES: Mapping[str, _Feature] = {
    "lst_local_sd": _Feature(_f_lst_local_sd, LOCAL_RADIUS_1KM,
                             "log(0.1 K + sd of the valid 1 km LST within 4 km), log K",
                             at_1km=True),
    "lst_regional_sd": _Feature(_f_lst_regional_sd, REGIONAL_RADIUS_1KM,
                                "log(0.1 K + sd of the valid 1 km LST within 12 km): the "
                                "landscape's thermal contrast, log K", at_1km=True),
    "ndvi_lst_residual": _Feature(_f_ndvi_lst_residual, LOCAL_RADIUS_1KM + 1,
                                  "log(0.1 K + |1 km LST minus its local linear fit on the NDVI "
                                  "within 4 km|): what the guide does not explain, log K",
                                  at_1km=True),
    "ndvi_lst_corr": _Feature(_f_ndvi_lst_corr, LOCAL_RADIUS_1KM + 1,
                              "correlation of the 1 km LST and NDVI within 4 km: how much the "
                              "guide explains", at_1km=True),
    "lst_gradient": _Feature(_f_lst_gradient, 2,
                             "log(0.1 + |Sobel gradient| of the 1 km LST), log K/km", at_1km=True),
    "pred_gradient": _Feature(_f_pred_gradient, 2,
                              "log(0.05 + |Sobel gradient| of the 250 m prediction), log K per "
                              "250 m pixel: where a misregistration of the references costs"),
    "ndvi_gradient": _Feature(_f_ndvi_gradient, 1,
                              "log(0.005 + |Sobel gradient| of the 250 m NDVI): the guide's "
                              "edges"),
    "lst": _Feature(_f_lst, 1, "the 1 km LST, K", at_1km=True),
    "ndvi": _Feature(_f_ndvi, 1, "250 m NDVI (missing: local mean), clipped to [-0.2, 1]"),
    "ndvi_cell_sd": _Feature(_f_ndvi_cell_sd, 1,
                             "log(0.01 + sd of the 250 m NDVI inside the 1 km cell): the "
                             "guide's heterogeneity", at_1km=True),
    "ndvi_local_mean": _Feature(_f_ndvi_local_mean, LOCAL_RADIUS_1KM + 1,
                                "mean NDVI within 4 km (land cover of the neighbourhood)",
                                at_1km=True),
    "invalid_fraction": _Feature(_f_invalid_fraction, INVALID_RADIUS_1KM,
                                 "sqrt(share of invalid 1 km cells (LST NaN or any NDVI NaN) "
                                 "within 3 km): nearness to cloud and fill", at_1km=True),
    "detail": _Feature(_f_detail, 2,
                       "log(0.05 K + |prediction - bicubic 1 km LST|): the detail the model "
                       "adds, its disagreement with the smooth interpolation, log K"),
    "spread": _Feature(_f_spread, 0, "log(0.05 K + spread of an ensemble's passes), log K"),
}


def native_features(
    lst_1km: np.ndarray,
    ndvi_250m: np.ndarray,
    pred_250m: np.ndarray,
    names: Sequence[str],
    *,
    spread_250m: np.ndarray | None = None,
) -> Iterator[tuple[np.ndarray, bool]]:
    """The features ``names`` of a window at their own resolution, one at a time:
    ``(values, at_1km)``, ``(h, w)`` float64 when ``at_1km`` else ``(4h, 4w)`` float32.

    What several features share (the filled NDVI, the local regression) is computed once.
    Arguments as :func:`uncertainty_features`.
    """
    unknown = [n for n in names if n not in FEATURES]
    if unknown:
        raise ConfigError(f"unknown uncertainty features {unknown}; known: {sorted(FEATURES)}")
    x = _Inputs(np.asarray(lst_1km, np.float64), np.asarray(ndvi_250m, np.float32),
                np.asarray(pred_250m, np.float32),
                None if spread_250m is None else np.asarray(spread_250m, np.float32))
    if x.ndvi.shape != (FACTOR * x.lst.shape[0], FACTOR * x.lst.shape[1]) \
            or x.pred.shape != x.ndvi.shape:
        raise ConfigError(f"uncertainty features: shapes {x.lst.shape}, {x.ndvi.shape}, "
                          f"{x.pred.shape} are not (h, w), (4h, 4w), (4h, 4w)")
    for name in names:
        yield FEATURES[name].compute(x), FEATURES[name].at_1km


def uncertainty_features(
    lst_1km: np.ndarray,
    ndvi_250m: np.ndarray,
    pred_250m: np.ndarray,
    names: Sequence[str],
    *,
    spread_250m: np.ndarray | None = None,
) -> np.ndarray:
    """The features ``names`` (see :data:`FEATURES`) of a window: ``(F, 4h, 4w)`` float64.

    Parameters
    ----------
    lst_1km
        (h, w) 1 km LST, K, NaN = invalid.
    ndvi_250m
        (4h, 4w) NDVI, NaN = invalid.
    pred_250m
        (4h, 4w) the model's 250 m LST, K.
    names
        Feature names.
    spread_250m
        An ensemble's spread (K), only for the feature ``spread``.
    """
    feats = [_up(v) if at_1km else v for v, at_1km in native_features(
        lst_1km, ndvi_250m, pred_250m, names, spread_250m=spread_250m)]
    if not feats:
        return np.zeros((0, *np.shape(ndvi_250m)))
    return np.stack(feats)


#: Features that read the prediction at neighbouring 250 m pixels (the halo grows by 8 px).
PRED_NEIGHBOUR_FEATURES = frozenset({"pred_gradient"})
