"""DMS, the data-mining sharpener (Gao et al. 2012), on the NDVI guide alone.

The strongest classical LST sharpener, rebuilt on scikit-learn (the reference implementation
is pyDMS; no code is taken from it):

1. **Homogeneous sampling.** The 250 m NDVI is averaged to each 1 km pixel; the coefficient of
   variation of the NDVI inside it (``std / |mean|``) measures its heterogeneity. Only the
   ``homogeneous_fraction`` most homogeneous coarse pixels with a valid LST and a complete NDVI
   block train the regressions (a mixed pixel's LST is not the LST of its mean NDVI).
2. **Bagged regression trees with linear leaves.** ``sklearn.ensemble.BaggingRegressor`` over
   :class:`LinearLeafTreeRegressor`: a ``DecisionTreeRegressor`` partitions the predictor space
   and a weighted least-squares line (ridge-stabilised) is fitted in every leaf, all leaves at
   once (normal equations accumulated per leaf with ``numpy.add.at`` and solved in one batched
   ``numpy.linalg.solve``). Leaf predictions are clipped to the leaf's target range widened by
   ``extrapolation_ratio`` so that NDVI values outside the training range cannot run away.
3. **Global + moving window.** One model on the whole scene and one per overlapping window of
   ``window_px`` coarse pixels (step ``window_px // 2``). Each model's in-sample coarse residual
   (its prediction block-averaged to 1 km minus the 1 km LST), squared and smoothed, gives it an
   inverse-error weight per coarse pixel; the fine prediction is the weighted mean of the models
   covering a pixel.
4. **Residual correction.** The remaining coarse residual ``LST_1km - mean4(prediction)`` is
   added back, bicubically interpolated to 250 m (``residual="bicubic"``, smooth) or replicated
   (``residual="nearest"``: the block mean of the output then equals the input exactly).

Fine pixels whose 1 km LST is NaN are NaN; fine pixels without NDVI get the bicubic LST.
The regression is fitted per scene: the output of a pixel depends on the whole scene, so the
method is not chunk-local (``receptive_field_px`` is ``None``), which is fine for evaluation.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from typing import Any, Literal

import numpy as np
from scipy import ndimage
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.ensemble import BaggingRegressor
from sklearn.tree import DecisionTreeRegressor

from lstcloud.errors import ConfigError

from .baselines import bicubic_upsample, block_mean, nearest_upsample
from .datasets import fill_nearest

__all__ = ["DMSConfig", "DMSSharpener", "LinearLeafTreeRegressor", "dms_sharpen"]

log = logging.getLogger(__name__)

FACTOR = 4


@dataclass(frozen=True)
class DMSConfig:
    """Options of the data-mining sharpener.

    Attributes
    ----------
    n_estimators
        Trees in the bagged ensemble.
    max_depth, min_samples_leaf
        Tree size (a leaf needs enough samples for its own linear fit).
    homogeneous_fraction
        Fraction of the valid coarse pixels kept for training, the most homogeneous first
        (lowest NDVI coefficient of variation inside the coarse pixel).
    ridge
        Ridge penalty of the per-leaf linear fits, relative to the leaf's weight (on
        standardised predictors).
    extrapolation_ratio
        Leaf predictions are clipped to the leaf's target range widened by this fraction of it.
    window_px
        Moving-window size in coarse pixels (0 = global model only). Windows overlap by half.
    min_window_samples
        A window with fewer training samples gets no local model.
    residual
        ``"bicubic"`` (smooth) or ``"nearest"`` (exact block-mean conservation) residual
        correction, or ``"none"``.
    seed
        Random state of the bagging (results are deterministic).
    """

    n_estimators: int = 10
    max_depth: int = 6
    min_samples_leaf: int = 20
    homogeneous_fraction: float = 0.8
    ridge: float = 1e-6
    extrapolation_ratio: float = 0.25
    window_px: int = 32
    min_window_samples: int = 200
    residual: Literal["bicubic", "nearest", "none"] = "bicubic"
    seed: int = 0

    def __post_init__(self) -> None:
        if self.n_estimators < 1:
            raise ConfigError(f"dms n_estimators must be >= 1, got {self.n_estimators}")
        if not 0 < self.homogeneous_fraction <= 1:
            raise ConfigError(
                f"dms homogeneous_fraction must be in (0, 1], got {self.homogeneous_fraction}"
            )
        if self.window_px < 0:
            raise ConfigError(f"dms window_px must be >= 0, got {self.window_px}")
        if self.residual not in ("bicubic", "nearest", "none"):
            raise ConfigError(f"dms residual must be bicubic|nearest|none, got {self.residual!r}")


class LinearLeafTreeRegressor(RegressorMixin, BaseEstimator):
    """A regression tree whose leaves hold weighted linear regressions.

    scikit-learn trees predict a constant per leaf; this estimator keeps the tree's partition
    and replaces each leaf's constant by a ridge-stabilised least-squares fit of the leaf's
    samples (all leaves solved at once). Leaves with too few samples keep their weighted mean.

    Parameters
    ----------
    max_depth, min_samples_leaf
        Passed to :class:`sklearn.tree.DecisionTreeRegressor`.
    ridge
        Ridge penalty relative to the leaf's total weight (standardised predictors).
    extrapolation_ratio
        Clip each leaf's prediction to its target range widened by this fraction.
    random_state
        Random state of the tree.
    """

    def __init__(
        self,
        max_depth: int | None = 6,
        min_samples_leaf: int = 20,
        ridge: float = 1e-6,
        extrapolation_ratio: float = 0.25,
        random_state: int | None = None,
    ) -> None:
        self.max_depth = max_depth
        self.min_samples_leaf = min_samples_leaf
        self.ridge = ridge
        self.extrapolation_ratio = extrapolation_ratio
        self.random_state = random_state

    def fit(
        self, X: np.ndarray, y: np.ndarray, sample_weight: np.ndarray | None = None
    ) -> LinearLeafTreeRegressor:
        """Grow the tree, then fit one weighted linear regression per leaf."""
        X = np.asarray(X, np.float64)
        y = np.asarray(y, np.float64)
        w = np.ones(len(y)) if sample_weight is None else np.asarray(sample_weight, np.float64)
        self.tree_ = DecisionTreeRegressor(
            max_depth=self.max_depth,
            min_samples_leaf=self.min_samples_leaf,
            random_state=self.random_state,
        ).fit(X, y, sample_weight=w)
        self.x_mean_ = np.average(X, axis=0, weights=w)
        self.x_std_ = np.sqrt(np.average((X - self.x_mean_) ** 2, axis=0, weights=w))
        self.x_std_[self.x_std_ == 0] = 1.0
        z = self._design(X)
        n_nodes = self.tree_.tree_.node_count
        p = z.shape[1]
        leaf = self.tree_.apply(X)
        used = w > 0
        zw = z[used] * w[used, None]
        gram = np.zeros((n_nodes, p, p))
        np.add.at(gram, leaf[used], zw[:, :, None] * z[used, None, :])
        rhs = np.zeros((n_nodes, p))
        np.add.at(rhs, leaf[used], zw * y[used, None])
        weight = np.bincount(leaf[used], weights=w[used], minlength=n_nodes)
        count = np.bincount(leaf[used], minlength=n_nodes)
        coef = np.zeros((n_nodes, p))
        has = weight > 0
        coef[has, 0] = rhs[has, 0] / weight[has]  # weighted mean: the fallback
        fit = count >= max(p + 1, 3)
        if fit.any():
            penalty = np.zeros((p, p))
            penalty[1:, 1:] = np.eye(p - 1) * self.ridge
            a = gram[fit] + weight[fit, None, None] * penalty
            try:
                coef[fit] = np.linalg.solve(a, rhs[fit][..., None])[..., 0]
            except np.linalg.LinAlgError:
                log.debug("singular leaf system: keeping leaf means")
        lo = np.full(n_nodes, np.inf)
        hi = np.full(n_nodes, -np.inf)
        np.minimum.at(lo, leaf[used], y[used])
        np.maximum.at(hi, leaf[used], y[used])
        span = np.where(np.isfinite(hi - lo), hi - lo, 0.0) * self.extrapolation_ratio
        self.coef_ = coef
        self.lower_ = lo - span
        self.upper_ = hi + span
        self.n_features_in_ = X.shape[1]
        return self

    def _design(self, X: np.ndarray) -> np.ndarray:
        zs = (np.asarray(X, np.float64) - self.x_mean_) / self.x_std_
        return np.concatenate([np.ones((len(zs), 1)), zs], axis=1)

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Leaf-wise linear prediction, clipped to the leaf's widened target range."""
        X = np.asarray(X, np.float64)
        leaf = self.tree_.apply(X)
        out = np.einsum("ij,ij->i", self._design(X), self.coef_[leaf])
        return np.clip(out, self.lower_[leaf], self.upper_[leaf])


def _bagged(config: DMSConfig, seed: int) -> BaggingRegressor:
    return BaggingRegressor(
        estimator=LinearLeafTreeRegressor(
            max_depth=config.max_depth,
            min_samples_leaf=config.min_samples_leaf,
            ridge=config.ridge,
            extrapolation_ratio=config.extrapolation_ratio,
        ),
        n_estimators=config.n_estimators,
        bootstrap=True,
        random_state=seed,
        n_jobs=1,
    )


def _coarse_features(ndvi: np.ndarray, factor: int) -> tuple[np.ndarray, np.ndarray]:
    """Mean NDVI per coarse pixel and its coefficient of variation (NaN if the block is
    incomplete)."""
    h, w = ndvi.shape
    blocks = ndvi.reshape(h // factor, factor, w // factor, factor).astype(np.float64)
    complete = np.isfinite(blocks).all(axis=(1, 3))
    with np.errstate(invalid="ignore"):
        mean = blocks.mean(axis=(1, 3))
        std = blocks.std(axis=(1, 3))
    cv = std / np.maximum(np.abs(mean), 0.05)
    mean[~complete] = np.nan
    cv[~complete] = np.nan
    return mean, cv


def _training_mask(
    lst: np.ndarray, mean: np.ndarray, cv: np.ndarray, fraction: float
) -> np.ndarray:
    ok = np.isfinite(lst) & np.isfinite(mean) & np.isfinite(cv)
    if not ok.any() or fraction >= 1:
        return ok
    threshold = np.quantile(cv[ok], fraction)
    return ok & (cv <= threshold)


def _upsample_weights(weight: np.ndarray, factor: int) -> np.ndarray:
    return nearest_upsample(weight.astype(np.float32), factor)


class DMSSharpener:
    """The data-mining sharpener as a super-resolver: ``predict(lst_1km, ndvi_250m)``.

    Parameters
    ----------
    config
        Options (:class:`DMSConfig`).
    """

    name = "dms"
    receptive_field_px: int | None = None

    def __init__(self, *, config: DMSConfig | None = None) -> None:
        self.config = config or DMSConfig()

    @property
    def card(self) -> dict[str, Any]:
        """A model card in the shape of the trained models' (no weights: fitted per scene)."""
        return {
            "name": self.name,
            "architecture": "DMS: bagged regression trees with linear leaves (scikit-learn)",
            "parameters": 0,
            "receptive_field_px": None,
            "chunk_local": False,
            "inputs": ["lst_1km", "ndvi_250m"],
            "config": asdict(self.config),
            "reference": "Gao, Kustas & Anderson 2012 (Remote Sensing 4); pyDMS",
        }

    def predict(self, lst_1km: np.ndarray, ndvi_250m: np.ndarray) -> np.ndarray:
        """Sharpen ``lst_1km`` (K, NaN = invalid) with ``ndvi_250m`` (4x the shape).

        Returns
        -------
        numpy.ndarray
            float32 (4H, 4W) in K; NaN where the covering 1 km LST is NaN.
        """
        return dms_sharpen(lst_1km, ndvi_250m, config=self.config)


def _fit_predict(
    lst: np.ndarray,
    mean: np.ndarray,
    train: np.ndarray,
    ndvi_fine: np.ndarray,
    config: DMSConfig,
    seed: int,
) -> tuple[np.ndarray, np.ndarray] | None:
    """Fit on the training coarse pixels; predict the fine NDVI and the coarse means."""
    n = int(train.sum())
    if n < max(2 * config.min_samples_leaf, 10):
        return None
    model = _bagged(config, seed).fit(mean[train][:, None], lst[train])
    fine = model.predict(ndvi_fine.reshape(-1, 1)).reshape(ndvi_fine.shape)
    return fine, model.predict(np.nan_to_num(mean).reshape(-1, 1)).reshape(mean.shape)


def _window_starts(size: int, window: int) -> list[int]:
    if window >= size:
        return [0]
    step = max(window // 2, 1)
    starts = list(range(0, size - window + 1, step))
    if starts[-1] != size - window:
        starts.append(size - window)
    return starts


def dms_sharpen(
    lst_1km: np.ndarray,
    ndvi_250m: np.ndarray,
    *,
    config: DMSConfig | None = None,
    factor: int = FACTOR,
) -> np.ndarray:
    """Sharpen 1 km LST to 250 m with the data-mining sharpener (see the module docstring).

    Parameters
    ----------
    lst_1km
        (H, W) LST in K, NaN = invalid.
    ndvi_250m
        (factor H, factor W) NDVI, NaN = invalid.
    config
        Options.

    Returns
    -------
    numpy.ndarray
        float32 (factor H, factor W) LST in K.
    """
    config = config or DMSConfig()
    lst = np.asarray(lst_1km, np.float32)
    ndvi = np.asarray(ndvi_250m, np.float32)
    if ndvi.shape != (lst.shape[0] * factor, lst.shape[1] * factor):
        raise ConfigError(f"NDVI shape {ndvi.shape} is not {factor}x the LST shape {lst.shape}")
    bicubic = bicubic_upsample(lst, factor)
    mean, cv = _coarse_features(ndvi, factor)
    train = _training_mask(lst, mean, cv, config.homogeneous_fraction)
    ndvi_ok = np.isfinite(ndvi)
    ndvi_filled = np.where(ndvi_ok, ndvi, np.nanmean(ndvi) if ndvi_ok.any() else 0.0)

    models: list[tuple[tuple[slice, slice], np.ndarray, np.ndarray]] = []
    full = (slice(0, lst.shape[0]), slice(0, lst.shape[1]))
    fitted = _fit_predict(lst, mean, train, ndvi_filled, config, config.seed)
    if fitted is None:
        log.info("dms: too few homogeneous samples (%d): bicubic", int(train.sum()))
        return bicubic
    models.append((full, *fitted))
    win = config.window_px
    if win and (win < lst.shape[0] or win < lst.shape[1]):
        k = 1
        for r0 in _window_starts(lst.shape[0], win):
            for c0 in _window_starts(lst.shape[1], win):
                box = (slice(r0, r0 + win), slice(c0, c0 + win))
                if int(train[box].sum()) < config.min_window_samples:
                    continue
                fine_box = (
                    slice(r0 * factor, (r0 + win) * factor),
                    slice(c0 * factor, (c0 + win) * factor),
                )
                local = _fit_predict(
                    lst[box], mean[box], train[box], ndvi_filled[fine_box], config, config.seed + k
                )
                k += 1
                if local is not None:
                    models.append((box, *local))

    num = np.zeros(ndvi.shape, np.float64)
    den = np.zeros(ndvi.shape, np.float64)
    for box, fine, coarse_pred in models:
        # in-sample error of the model around each coarse pixel -> inverse-error weight
        sq = np.where(np.isfinite(lst[box]), (coarse_pred - lst[box]) ** 2, np.nan)
        valid = np.isfinite(sq)
        s = ndimage.uniform_filter(np.where(valid, sq, 0.0), size=3, mode="nearest")
        c = ndimage.uniform_filter(valid.astype(np.float64), size=3, mode="nearest")
        with np.errstate(invalid="ignore", divide="ignore"):
            local_mse = np.where(c > 0, s / c, np.nan)
        fallback = np.nanmean(local_mse) if np.isfinite(local_mse).any() else 1.0
        local_mse = np.where(np.isfinite(local_mse), local_mse, fallback)
        weight = _upsample_weights(1.0 / (local_mse + 0.01), factor)
        fine_box = (
            slice(box[0].start * factor, box[0].stop * factor),
            slice(box[1].start * factor, box[1].stop * factor),
        )
        num[fine_box] += weight * fine
        den[fine_box] += weight
    pred = (num / den).astype(np.float32)

    if config.residual != "none":
        residual = lst - block_mean(pred, factor)
        if np.isfinite(residual).any():
            residual = fill_nearest(residual.astype(np.float32))
            if config.residual == "bicubic":
                pred = pred + bicubic_upsample(residual, factor)
            else:
                pred = pred + nearest_upsample(residual, factor)
    pred = np.where(ndvi_ok, pred, bicubic)
    pred[~np.isfinite(nearest_upsample(lst, factor))] = np.nan
    return pred.astype(np.float32)
