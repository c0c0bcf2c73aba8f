"""A per-pixel 1-sigma uncertainty of the 250 m LST, from the inputs and the prediction alone.

``sigma`` estimates how far an independent fine-resolution LST (what ASTER would measure at
that pixel) may lie from the 250 m prediction: the MODIS-ASTER sensor mismatch (emissivity,
view angle, time, geolocation), the sub-km detail the 1 km input cannot resolve and the model's
own error, all together. It costs no extra network pass: every feature is a cheap array
operation on the 1 km LST, the 250 m NDVI and the single prediction (:data:`FEATURES`).

The model (the card's ``uncertainty`` section, :class:`UncertaintyModel`) has two parts, as
the error against ASTER has: a scene-wide offset (MODIS and ASTER differ by about 1 K over a
whole scene: emissivity, view angle, atmosphere; no input shows its size or sign, so it enters
as a constant variance ``tau^2``) and a local part that follows the features (the sub-km
detail, misregistration at edges, the guide's heterogeneity),

    local:  log s_loc^2 = b0 + sum_j b_j * z_j,   z_j = (clip(x_j, lo_j, hi_j) - mean_j) / sd_j,
    sigma = clip(scale * sqrt(tau^2 + s_loc^2), min_sigma_k, max_sigma_k).

The local part is fitted by the Gaussian likelihood of the errors against ASTER with each
scene's mean error removed (:func:`fit_log_variance`), ``tau^2`` is the mean squared scene
offset of the calibration scenes (:func:`scene_offset_variance`), then a conformal ``scale``
makes +-1 sigma cover 68.27 % of the calibration pixels (:func:`conformal_scale`). Fitting the
local part to the raw errors instead (``tau^2 = 0``, the cards of version 1) lets the scene
offsets, which no feature explains, blur its coefficients: out of fold it ranks the error
less well (docs/evaluation.md). The features are clipped to their calibration range, so the model
never extrapolates. Calibration is out of fold on the development scenes
(:mod:`lstcloud.evaluate.calibration`); the LST prediction itself never sees ASTER.

When the MODIS QC is given (``qc_1km``, the cube's ``qc_day``), its LST-error class may widen
sigma: ``sigma^2 += max(0, class_k^2 - reference_k^2)`` per 1 km pixel, with the class bounds
of the QC scheme named in the card. That term is set from the product's documentation, not
calibrated (the development triplets carry no QC).

Chunk locality: every feature (:mod:`lstcloud.models.uncertainty_features`) reads the inputs
within :attr:`UncertaintyModel.reach_1km` 1 km pixels (normalised box filters: NaN inputs
contribute nothing) and the prediction at the pixel and its 8 neighbours, so a window with a
halo of ``max(receptive field + 8, 4 * (reach_1km + 1))`` 250 m pixels gives the same sigma as
the whole scene (:attr:`UncertaintyCapable.uncertainty_halo_px`; tested).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from lstcloud.errors import ConfigError
from lstcloud.models.uncertainty_features import (
    FEATURES,
    PRED_NEIGHBOUR_FEATURES,
    native_features,
    uncertainty_features,
)

__all__ = [
    "FEATURES",
    "ONE_SIGMA",
    "QC_CLASSES",
    "QcWidening",
    "UncertaintyCapable",
    "UncertaintyModel",
    "conformal_scale",
    "fit_log_variance",
    "scene_offset_variance",
    "uncertainty_features",
    "uncertainty_halo_px",
]
#: Coverage of +-1 sigma of a normal distribution.
ONE_SIGMA = 0.6826894921370859


def _up(a: np.ndarray) -> np.ndarray:
    return np.repeat(np.repeat(a, 4, axis=0), 4, axis=1)


#: LST-error classes of the MODIS QC schemes (bits, class -> upper bound in K; the open
#: top class gets one more kelvin than its bound).
QC_CLASSES: Mapping[str, tuple[int, int, dict[int, float]]] = {
    "MOD21": (14, 2, {0: 3.0, 1: 2.0, 2: 1.5, 3: 1.0}),  # >2 K, 1.5-2 K, 1-1.5 K, <1 K
    "MOD11": (6, 2, {0: 1.0, 1: 2.0, 2: 3.0, 3: 4.0}),  # <=1, <=2, <=3, >3 K
}


@dataclass(frozen=True)
class QcWidening:
    """Widen sigma by the MODIS QC LST-error class: ``sigma^2 += max(0, k^2 - reference^2)``.

    Not calibrated (the development triplets carry no QC): ``reference_k`` is the error class
    the calibration pixels are taken to have, so only worse classes widen sigma.
    """

    scheme: str = "MOD21"
    reference_k: float = 2.0
    fill: int = 65535

    def __post_init__(self) -> None:
        if self.scheme not in QC_CLASSES:
            raise ConfigError(f"uncertainty.qc.scheme {self.scheme!r}: one of {sorted(QC_CLASSES)}")

    def extra_variance(self, qc_1km: np.ndarray) -> np.ndarray:
        """(h, w) extra variance (K^2) per 1 km pixel (0 where the QC is the fill)."""
        start, width, classes = QC_CLASSES[self.scheme]
        qc = np.asarray(qc_1km).astype(np.int64)
        code = (qc >> start) & ((1 << width) - 1)
        bound = np.vectorize(lambda c: classes.get(int(c), 0.0), otypes=[np.float64])(code)
        extra = np.maximum(bound**2 - self.reference_k**2, 0.0)
        return np.where(qc == self.fill, 0.0, extra)

    def to_dict(self) -> dict[str, Any]:
        """The card form."""
        start, width, classes = QC_CLASSES[self.scheme]
        return {"scheme": self.scheme, "reference_k": self.reference_k, "fill": self.fill,
                "bits": [start, width], "class_k": {str(k): v for k, v in classes.items()},
                "calibrated": False}


@dataclass(frozen=True)
class UncertaintyModel:
    """The card's ``uncertainty`` section: the variance of a scene-wide offset plus a log-linear
    model of the local squared error (K^2).

    Attributes
    ----------
    features
        Feature names (:data:`FEATURES`).
    lo, hi
        Calibration range of each raw feature (its 0.5 and 99.5 percentiles): inputs are
        clipped to it.
    mean, sd
        Standardisation of the clipped features.
    coef
        ``b_j`` per standardised feature (log K^2 per standard deviation).
    intercept
        ``b0`` (log K^2).
    scene_variance_k2
        ``tau^2`` (K^2): the variance of the scene-wide offset between the model and ASTER,
        added to the local variance (0 in cards of version 1).
    scale
        Conformal factor applied to ``sigma0`` (+-1 sigma covers 68.27 % of the calibration
        pixels).
    min_sigma_k, max_sigma_k
        Bounds of sigma (K).
    qc
        The uncalibrated QC widening (``None``: QC ignored).
    info
        What the calibration was (data, folds, figures): descriptive only.
    """

    features: tuple[str, ...]
    lo: tuple[float, ...]
    hi: tuple[float, ...]
    mean: tuple[float, ...]
    sd: tuple[float, ...]
    coef: tuple[float, ...]
    intercept: float
    scale: float = 1.0
    scene_variance_k2: float = 0.0
    min_sigma_k: float = 0.3
    max_sigma_k: float = 15.0
    qc: QcWidening | None = field(default_factory=QcWidening)
    info: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        n = len(self.features)
        for name in ("lo", "hi", "mean", "sd", "coef"):
            if len(getattr(self, name)) != n:
                raise ConfigError(f"uncertainty.{name} needs {n} values (one per feature)")
        unknown = [f for f in self.features if f not in FEATURES]
        if unknown:
            raise ConfigError(f"uncertainty.features: unknown {unknown}")
        if not (self.scale > 0 and 0 < self.min_sigma_k <= self.max_sigma_k):
            raise ConfigError("uncertainty: scale > 0 and 0 < min_sigma_k <= max_sigma_k")
        if not self.scene_variance_k2 >= 0:
            raise ConfigError("uncertainty: scene_variance_k2 >= 0")

    @property
    def reach_1km(self) -> int:
        """How far (1 km pixels) the features read the inputs."""
        return max([FEATURES[f].reach_1km for f in self.features] + [0])

    @property
    def needs_spread(self) -> bool:
        """Whether a feature is an ensemble's spread."""
        return "spread" in self.features

    def _clipped(self, feats: np.ndarray) -> np.ndarray:
        """``(F, ...)`` raw features clipped to their calibration range."""
        shape = (-1,) + (1,) * (feats.ndim - 1)
        return np.clip(feats, np.reshape(self.lo, shape), np.reshape(self.hi, shape))

    def log_variance(self, feats: np.ndarray) -> np.ndarray:
        """``log s_loc^2``, the local part's log variance, of ``(F, ...)`` raw features."""
        shape = (-1,) + (1,) * (feats.ndim - 1)
        z = (self._clipped(feats) - np.reshape(self.mean, shape)) / np.reshape(self.sd, shape)
        return self.intercept + np.tensordot(np.asarray(self.coef), z, axes=1)

    def rank_score(self, feats: np.ndarray) -> np.ndarray:
        """The local log variance without its constants: ``sum_j b_j / sd_j * clip(x_j)``.

        Sigma is an increasing function of it, so it orders pixels exactly as this model's sigma
        does; unlike sigma, the scores of models fitted on different scenes share an origin
        (no intercept, scale or ``tau^2``), so pooling them mimics the ordering of one model.
        """
        return np.tensordot(np.asarray(self.coef) / np.asarray(self.sd), self._clipped(feats),
                            axes=1)

    def _sigma_of_log_variance(self, eta: np.ndarray) -> np.ndarray:
        """Sigma (K) of the local log variance: ``clip(scale * sqrt(tau^2 + exp(eta)))``."""
        s = self.scale * np.sqrt(self.scene_variance_k2 + np.exp(eta))
        return np.clip(s, self.min_sigma_k, self.max_sigma_k)

    def sigma_from_features(self, feats: np.ndarray) -> np.ndarray:
        """Sigma (K) of raw features (without the QC term)."""
        return self._sigma_of_log_variance(self.log_variance(feats))

    def sigma(
        self,
        lst_1km: np.ndarray,
        ndvi_250m: np.ndarray,
        pred_250m: np.ndarray,
        *,
        qc_1km: np.ndarray | None = None,
        spread_250m: np.ndarray | None = None,
    ) -> np.ndarray:
        """``(4h, 4w)`` float32 sigma (K) of a window; NaN where the prediction is NaN.

        The same values as :meth:`sigma_from_features` of :func:`uncertainty_features`, but
        the features that are constant within a 1 km cell are weighed and summed at 1 km and
        the 250 m stack is never built (:meth:`window_log_variance`).
        """
        s = self._sigma_of_log_variance(self.window_log_variance(
            lst_1km, ndvi_250m, pred_250m, spread_250m=spread_250m))
        if qc_1km is not None and self.qc is not None:
            qc = np.asarray(qc_1km)
            if qc.shape != np.shape(lst_1km):
                raise ConfigError(f"qc_1km shape {qc.shape} is not the LST's {np.shape(lst_1km)}")
            s = np.sqrt(s**2 + _up(self.qc.extra_variance(qc)))
        return np.where(np.isfinite(pred_250m), s, np.nan).astype(np.float32)

    def window_log_variance(
        self,
        lst_1km: np.ndarray,
        ndvi_250m: np.ndarray,
        pred_250m: np.ndarray,
        *,
        spread_250m: np.ndarray | None = None,
    ) -> np.ndarray:
        """:meth:`log_variance` of a window's features, ``(4h, 4w)``: each feature is clipped,
        standardised and weighed at its own resolution (:func:`native_features`), the 1 km
        terms summed at 1 km and put on the 250 m grid once."""
        shape = np.shape(ndvi_250m)
        fine = np.full(shape, self.intercept, np.float64)
        coarse = np.zeros((shape[0] // 4, shape[1] // 4), np.float64)
        feats = native_features(lst_1km, ndvi_250m, pred_250m, self.features,
                                spread_250m=spread_250m)
        for j, (values, at_1km) in enumerate(feats):
            term = (np.clip(values, self.lo[j], self.hi[j]) - self.mean[j]) \
                * (self.coef[j] / self.sd[j])
            if at_1km:
                coarse += term
            else:
                fine += term
        return fine + _up(coarse)

    def to_dict(self) -> dict[str, Any]:
        """The card section (plain JSON)."""
        return {
            "kind": "log-linear-variance-v2",
            "target": "1-sigma of (prediction - an independent 250 m LST, ASTER), K",
            "features": list(self.features),
            "feature_descriptions": {f: FEATURES[f].description for f in self.features},
            "clip_lo": [float(v) for v in self.lo], "clip_hi": [float(v) for v in self.hi],
            "mean": [float(v) for v in self.mean], "sd": [float(v) for v in self.sd],
            "coef_log_k2_per_sd": [float(v) for v in self.coef],
            "intercept_log_k2": float(self.intercept),
            "scene_variance_k2": float(self.scene_variance_k2),
            "conformal_scale": float(self.scale),
            "min_sigma_k": float(self.min_sigma_k), "max_sigma_k": float(self.max_sigma_k),
            "reach_1km": self.reach_1km,
            "qc": None if self.qc is None else self.qc.to_dict(),
            "calibration": self.info,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> UncertaintyModel:
        """Read the card section (``ConfigError`` when malformed)."""
        try:
            qc = data.get("qc")
            return cls(
                features=tuple(data["features"]),
                lo=tuple(data["clip_lo"]), hi=tuple(data["clip_hi"]),
                mean=tuple(data["mean"]), sd=tuple(data["sd"]),
                coef=tuple(data["coef_log_k2_per_sd"]),
                intercept=float(data["intercept_log_k2"]),
                scale=float(data.get("conformal_scale", 1.0)),
                scene_variance_k2=float(data.get("scene_variance_k2", 0.0)),
                min_sigma_k=float(data.get("min_sigma_k", 0.3)),
                max_sigma_k=float(data.get("max_sigma_k", 15.0)),
                qc=None if qc is None else QcWidening(
                    scheme=str(qc.get("scheme", "MOD21")),
                    reference_k=float(qc.get("reference_k", 2.0)),
                    fill=int(qc.get("fill", 65535))),
                info=dict(data.get("calibration") or {}),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigError(f"model card: malformed 'uncertainty' section ({exc})") from None


def uncertainty_halo_px(receptive_field_px: int, model: UncertaintyModel | None) -> int:
    """The halo (250 m px, a multiple of 8) that keeps both the prediction and sigma exact."""
    reach = 0 if model is None else 4 * (model.reach_1km + 1)
    return -(-max(int(receptive_field_px), reach) // 8) * 8


def fit_log_variance(
    feats: np.ndarray,
    err: np.ndarray,
    names: Sequence[str],
    *,
    ridge: float = 1e-3,
    iterations: int = 50,
) -> UncertaintyModel:
    """Fit ``log s^2 = b0 + b . z`` by the Gaussian likelihood of the errors.

    Minimises ``mean(eta + err^2 exp(-eta))`` (the negative log-likelihood of
    ``err ~ N(0, exp(eta))`` up to constants; convex in ``b``) by Newton steps with a small
    ridge on ``b``. ``scale`` is left at 1 (see :func:`conformal_scale`) and
    ``scene_variance_k2`` at 0: pass errors with each scene's mean removed to fit the local
    part of the two-part model (:func:`lstcloud.evaluate.calibration.fit_uncertainty`).

    Parameters
    ----------
    feats
        ``(F, N)`` raw features of the calibration pixels.
    err
        ``(N,)`` errors (prediction - reference), K.
    names
        The ``F`` feature names.
    """
    feats = np.asarray(feats, np.float64)
    e2 = np.asarray(err, np.float64) ** 2
    lo = np.percentile(feats, 0.5, axis=1) if feats.size else np.zeros(0)
    hi = np.percentile(feats, 99.5, axis=1) if feats.size else np.zeros(0)
    clipped = np.clip(feats, lo[:, None], hi[:, None])
    mean = clipped.mean(axis=1)
    sd = np.maximum(clipped.std(axis=1), 1e-6)
    z = (clipped - mean[:, None]) / sd[:, None]
    design = np.vstack([np.ones(z.shape[1]), z])  # (F + 1, N)
    beta = np.zeros(design.shape[0])
    beta[0] = np.log(e2.mean())
    penalty = np.full(design.shape[0], ridge)
    penalty[0] = 0.0

    def loss(b: np.ndarray) -> float:
        eta = b @ design
        return float(np.mean(eta + e2 * np.exp(-eta)) + 0.5 * np.sum(penalty * b**2))

    current = loss(beta)
    for _ in range(iterations):
        w = e2 * np.exp(-(beta @ design))
        grad = design @ (1.0 - w) / e2.size + penalty * beta
        hess = (design * w) @ design.T / e2.size + np.diag(penalty)
        step = np.linalg.solve(hess + 1e-9 * np.eye(hess.shape[0]), grad)
        t = 1.0
        while t > 1e-4 and loss(beta - t * step) > current:
            t *= 0.5
        beta = beta - t * step
        new = loss(beta)
        if current - new < 1e-10:
            current = new
            break
        current = new
    return UncertaintyModel(
        features=tuple(names), lo=tuple(lo), hi=tuple(hi), mean=tuple(mean), sd=tuple(sd),
        coef=tuple(beta[1:]), intercept=float(beta[0]), scale=1.0,
    )


def scene_offset_variance(scene_errors: Sequence[np.ndarray]) -> float:
    """``tau^2`` (K^2): the mean squared scene-wide offset, ``mean_s(mean(err_s)^2)``.

    The offset of a scene is its mean error against the reference (its bias: MODIS and ASTER
    differ by about 1 K over a scene, and the prediction inherits MODIS's level). Its mean and
    its spread over scenes both count, since neither is known for a new scene.
    """
    means = [float(np.mean(e)) for e in scene_errors if np.size(e)]
    if not means:
        raise ConfigError("scene_offset_variance: no scene with errors")
    return float(np.mean(np.square(means)))


def conformal_scale(err: np.ndarray, sigma: np.ndarray, *, coverage: float = ONE_SIGMA) -> float:
    """The factor ``c`` so that ``|err| <= c * sigma`` holds for ``coverage`` of the pixels."""
    ratio = np.abs(np.asarray(err, np.float64)) / np.asarray(sigma, np.float64)
    ratio = ratio[np.isfinite(ratio)]
    if ratio.size == 0:
        raise ConfigError("conformal_scale: no finite pixels")
    return float(np.quantile(ratio, coverage))


class UncertaintyCapable:
    """Mixin: ``predict_with_uncertainty`` for any model whose card has an ``uncertainty``
    section (:class:`UncertaintyModel`). The host provides ``predict``, ``card`` (or
    ``_card``) and ``receptive_field_px``."""

    @property
    def uncertainty(self) -> UncertaintyModel | None:
        """The card's uncertainty model, or ``None`` when the card has none."""
        card = getattr(self, "_card", None)
        if card is None:
            card = getattr(self, "card", {}) or {}
        section = card.get("uncertainty")
        return None if not section else UncertaintyModel.from_dict(section)

    @property
    def uncertainty_halo_px(self) -> int:
        """Halo (250 m px, a multiple of 8) that keeps the prediction and sigma chunk-local."""
        unc = self.uncertainty
        rf = int(getattr(self, "receptive_field_px", 0))
        if unc is not None and PRED_NEIGHBOUR_FEATURES & set(unc.features):
            rf += 8
        return uncertainty_halo_px(rf, unc)

    def _require_uncertainty(self) -> UncertaintyModel:
        unc = self.uncertainty
        if unc is None:
            name = getattr(self, "name", "this model")
            raise ConfigError(
                f"model {name!r} has no calibrated uncertainty (no 'uncertainty' section in its "
                "card); calibrate one with training/calibrate_uncertainty.py --write-card")
        return unc

    def sigma_of(
        self,
        lst_1km: np.ndarray,
        ndvi_250m: np.ndarray,
        pred_250m: np.ndarray,
        *,
        qc_1km: np.ndarray | None = None,
        spread_250m: np.ndarray | None = None,
    ) -> np.ndarray:
        """Sigma (K) of a window from its inputs and this model's prediction of it."""
        return self._require_uncertainty().sigma(lst_1km, ndvi_250m, pred_250m, qc_1km=qc_1km,
                                                 spread_250m=spread_250m)

    def predict_with_uncertainty(
        self,
        lst_1km: np.ndarray,
        ndvi_250m: np.ndarray,
        *,
        qc_1km: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """The 250 m LST and its 1-sigma uncertainty, both ``(4h, 4w)`` float32 K.

        Sigma is the calibrated standard deviation of the difference between the prediction
        and an independent 250 m LST (what ASTER would measure), from the inputs and the one
        prediction (no extra network pass). ``qc_1km`` (the MODIS QC of the 1 km LST, in the
        card's scheme) widens it where the LST-error class is worse than the reference class
        (uncalibrated). NaN where the 1 km LST is NaN.
        """
        unc = self._require_uncertainty()
        spread = None
        if unc.needs_spread:
            pred, spread = self.predict_with_spread(lst_1km, ndvi_250m)  # type: ignore[attr-defined]
        else:
            pred = self.predict(lst_1km, ndvi_250m)  # type: ignore[attr-defined]
        pred = np.asarray(pred, np.float32)
        sigma = unc.sigma(lst_1km, ndvi_250m, pred, qc_1km=qc_1km, spread_250m=spread)
        return pred, sigma
