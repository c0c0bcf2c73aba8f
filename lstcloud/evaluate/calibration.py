"""Calibrating a model's per-pixel uncertainty against ASTER, out of fold, and scoring it.

The only place ASTER meets the uncertainty. For every development scene the prediction comes
from a model that never saw the scene (a fold model trained on the other folds' MODIS inputs;
see :func:`lstcloud.training.cv.fold_model`); its error against ASTER is taken on the ASTER
grid with the protocol of :func:`lstcloud.evaluate.aster.evaluate_aster` (output -> ASTER grid,
bilinear, ASTER > 250 K, mask eroded by 8 px). The uncertainty features
(:mod:`lstcloud.models.uncertainty`) are computed on the 250 m grid from the inputs and that
prediction.

:func:`calibrate_out_of_fold` fits, for each fold ``k``, a model on the rows of the *other*
folds only (:func:`fit_uncertainty`: the log-linear likelihood fit, then the conformal scale)
and predicts sigma on fold ``k``: pooled over the scenes, those out-of-fold sigmas give the
coverage and ranking figures (:func:`uncertainty_scores`). The shipped model is then fitted
on all rows.

Sigma is evaluated exactly as a user would get it: computed on the 250 m grid, then put on the
ASTER grid bilinearly (:meth:`SceneRows.sigma_on_aster`); the fit reads the features put on
the ASTER grid the same way.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from lstcloud.errors import ConfigError
from lstcloud.models.uncertainty import (
    ONE_SIGMA,
    UncertaintyModel,
    conformal_scale,
    fit_log_variance,
    scene_offset_variance,
    uncertainty_features,
)

from .aster import AsterConfig, aster_valid_mask, to_aster_grid
from .datasets import DevSample

__all__ = [
    "Z90",
    "SceneRows",
    "calibrate_out_of_fold",
    "fit_uncertainty",
    "out_of_fold_ranks",
    "plot_reliability",
    "scene_rows",
    "uncertainty_scores",
]

#: Half-width of the central 90 % interval of a normal distribution, in sigmas.
Z90 = 1.6448536269514722


@dataclass
class SceneRows:
    """One scene's calibration data.

    Attributes
    ----------
    name
        Sample name.
    err
        ``(N,)`` prediction minus ASTER on the scored ASTER pixels, K.
    feats
        ``(F, N)`` the features put on the ASTER grid at the same pixels.
    feats_250m
        ``(F, 4h, 4w)`` the features on the 250 m grid (to evaluate a sigma exactly).
    warp
        Puts a 250 m image on the ASTER grid and returns its values at the scored pixels.
    """

    name: str
    err: np.ndarray
    feats: np.ndarray
    feats_250m: np.ndarray
    warp: Callable[[np.ndarray], np.ndarray]

    def sigma_on_aster(self, model: UncertaintyModel) -> np.ndarray:
        """``model``'s sigma (K) computed at 250 m, then bilinearly on the ASTER pixels."""
        return self.warp(model.sigma_from_features(self.feats_250m).astype(np.float32))

    def rank_on_aster(self, model: UncertaintyModel) -> np.ndarray:
        """``model``'s :meth:`~UncertaintyModel.rank_score` at 250 m, then on the ASTER pixels."""
        return self.warp(model.rank_score(self.feats_250m).astype(np.float32))


def scene_rows(
    sample: DevSample,
    pred_250m: np.ndarray,
    ndvi_250m: np.ndarray,
    features: Sequence[str],
    *,
    config: AsterConfig | None = None,
) -> SceneRows:
    """The calibration rows of one scene from its out-of-fold prediction.

    Parameters
    ----------
    sample
        The triplet (with its ASTER file).
    pred_250m
        The prediction of a model that never saw this scene, on the 250 m grid, K.
    ndvi_250m
        The NDVI the prediction was made with (the protocol's nearest-filled NDVI).
    features
        Uncertainty feature names.
    config
        ASTER protocol options.
    """
    config = config or AsterConfig()
    if sample.aster is None:
        raise ConfigError(f"sample {sample.name}: read without its ASTER file")
    grid, aster = sample.ndvi_250m, sample.aster
    on_aster = to_aster_grid(pred_250m, src=grid, dst=aster, resampling=config.resampling)
    region = aster_valid_mask(aster.data, config=config) & np.isfinite(on_aster)
    feats_250m = uncertainty_features(sample.lst_1km.data, ndvi_250m, pred_250m, features)

    def warp(image: np.ndarray) -> np.ndarray:
        return to_aster_grid(image, src=grid, dst=aster, resampling=config.resampling)[region]

    feats = np.stack([warp(f.astype(np.float32)) for f in feats_250m]) if len(features) \
        else np.zeros((0, int(region.sum())))
    err = (on_aster[region] - aster.data[region]).astype(np.float64)
    keep = np.isfinite(err) & np.isfinite(feats).all(axis=0)
    if not keep.all():  # a feature NaN where the output is finite: drop those pixels (rare)
        region[region] = keep
        err, feats = err[keep], feats[:, keep]
    return SceneRows(sample.name, err, feats.astype(np.float64), feats_250m, warp)


def fit_uncertainty(
    rows: Sequence[SceneRows], features: Sequence[str], *, max_px_per_scene: int = 20_000,
) -> UncertaintyModel:
    """Fit the two-part variance model on ``rows``, then its conformal scale on the same rows.

    The local part is the likelihood fit of the errors with each scene's mean error removed
    (the scene offset, which no feature explains); ``tau^2`` is the mean squared offset of the
    scenes (:func:`~lstcloud.models.uncertainty.scene_offset_variance`). The likelihood fit uses
    at most ``max_px_per_scene`` pixels of each scene (a fixed random subset, so every scene
    weighs about the same); the conformal scale uses every pixel, with sigma computed exactly
    as it is delivered (250 m, then bilinear onto ASTER).
    """
    if not rows:
        raise ConfigError("fit_uncertainty: no calibration rows")
    rng = np.random.default_rng(0)
    parts_x, parts_e = [], []
    for r in rows:
        idx = np.arange(r.err.size)
        if idx.size > max_px_per_scene:
            idx = np.sort(rng.choice(idx, max_px_per_scene, replace=False))
        parts_x.append(r.feats[:, idx])
        parts_e.append(r.err[idx] - r.err.mean())
    local = fit_log_variance(np.concatenate(parts_x, axis=1), np.concatenate(parts_e), features)
    model = replace(local, scene_variance_k2=scene_offset_variance([r.err for r in rows]))
    sigma = np.concatenate([r.sigma_on_aster(model) for r in rows])
    err = np.concatenate([r.err for r in rows])
    return replace(model, scale=conformal_scale(err, sigma, coverage=ONE_SIGMA))


def calibrate_out_of_fold(
    rows: dict[str, SceneRows],
    folds: Sequence[Sequence[str]],
    features: Sequence[str],
    *,
    fit: Callable[[Sequence[SceneRows], Sequence[str]], UncertaintyModel] = fit_uncertainty,
) -> tuple[dict[str, np.ndarray], list[UncertaintyModel]]:
    """Out-of-fold sigma of every scene: fold ``k``'s scenes get the model that ``fit`` made
    from the other folds' rows only (it never reads fold ``k``'s errors against ASTER).

    Returns
    -------
    (dict, list)
        ``{scene: sigma on its scored ASTER pixels (K)}`` and the model of each fold.
    """
    sigmas: dict[str, np.ndarray] = {}
    models: list[UncertaintyModel] = []
    for held in folds:
        train = [rows[s] for f in folds for s in f if s not in held and s in rows]
        model = fit(train, features)
        models.append(model)
        for name in held:
            if name in rows:
                sigmas[name] = rows[name].sigma_on_aster(model)
    return sigmas, models


def out_of_fold_ranks(
    rows: dict[str, SceneRows], folds: Sequence[Sequence[str]],
    models: Sequence[UncertaintyModel],
) -> dict[str, np.ndarray]:
    """Each scene's :meth:`~lstcloud.models.uncertainty.UncertaintyModel.rank_score` under the
    model of its fold (fitted without it), on its scored ASTER pixels.

    Pooled over the folds, these order the pixels as one shipped model orders the pixels of
    new scenes: the out-of-fold sigmas of :func:`calibrate_out_of_fold` also carry each fold
    model's own constants (intercept, ``tau^2``, conformal scale), which shift whole folds
    against each other, a pooling effect that a single model does not have.
    """
    return {name: rows[name].rank_on_aster(model)
            for held, model in zip(folds, models, strict=True) for name in held if name in rows}


def _top_bottom_ratio(e: np.ndarray, score: np.ndarray, bins: int) -> float:
    edges = np.quantile(score, [1 / bins, 1 - 1 / bins])
    top, bottom = e[score >= edges[1]], e[score <= edges[0]]
    return float(np.sqrt(np.mean(top**2) / np.mean(bottom**2)))


def _scene_bootstrap(
    err: dict[str, np.ndarray], sigma: dict[str, np.ndarray],
    rank: dict[str, np.ndarray] | None, bins: int, *, draws: int = 200,
) -> dict[str, list[float]]:
    """5 and 95 % points of the pooled figures over scenes drawn with replacement (as many as
    there are): how much they may move on another set of scenes as large."""
    names = sorted(err)
    rng = np.random.default_rng(0)
    figures: dict[str, list[float]] = {"coverage_1sigma": [], "coverage_90": []}
    if rank is not None:
        figures["rmse_ratio_ranking"] = []
    for _ in range(draws):
        pick = [names[i] for i in rng.choice(len(names), len(names), replace=True)]
        e = np.concatenate([err[n] for n in pick])
        s = np.concatenate([sigma[n] for n in pick])
        ok = np.isfinite(e) & np.isfinite(s)
        figures["coverage_1sigma"].append(float(np.mean(np.abs(e[ok]) <= s[ok])))
        figures["coverage_90"].append(float(np.mean(np.abs(e[ok]) <= Z90 * s[ok])))
        if rank is not None:
            r = np.concatenate([rank[n] for n in pick])
            ok = np.isfinite(e) & np.isfinite(r)
            figures["rmse_ratio_ranking"].append(_top_bottom_ratio(e[ok], r[ok], bins))
    return {k: [float(v) for v in np.quantile(vals, [0.05, 0.95])] for k, vals in figures.items()}


def uncertainty_scores(
    err: dict[str, np.ndarray], sigma: dict[str, np.ndarray], *, bins: int = 5,
    reliability_bins: int = 10, rank: dict[str, np.ndarray] | None = None,
) -> dict[str, Any]:
    """How well sigma describes the error against ASTER, pooled over the pixels of all scenes.

    Returns coverage of +-1 sigma (target 68.27 %) and +-1.645 sigma (90 %), the RMSE per
    sigma quintile and the ratio of the top to the bottom one, the Spearman rank correlation
    of sigma and |error|, the reliability table (mean sigma and RMSE per sigma decile), and the
    coverage per scene. With ``rank`` (:func:`out_of_fold_ranks`), also
    ``rmse_ratio_ranking``: the same top / bottom ratio with the pixels ordered by it.
    ``scene_bootstrap_90`` gives the 5-95 % range of the coverages (and of that ratio) over
    scenes drawn with replacement.
    """
    from scipy.stats import spearmanr

    names = sorted(err)
    e = np.concatenate([err[n] for n in names])
    s = np.concatenate([sigma[n] for n in names])
    ok = np.isfinite(e) & np.isfinite(s)
    r = None if rank is None else np.concatenate([rank[n] for n in names])[ok]
    e, s = e[ok], s[ok]

    def binned(n: int) -> list[dict[str, float]]:
        edges = np.quantile(s, np.linspace(0, 1, n + 1))
        which = np.clip(np.searchsorted(edges, s, side="right") - 1, 0, n - 1)
        return [{"sigma_from_k": float(edges[b]), "sigma_to_k": float(edges[b + 1]),
                 "mean_sigma_k": float(s[which == b].mean()),
                 "rmse_k": float(np.sqrt(np.mean(e[which == b] ** 2))),
                 "coverage_1sigma": float(np.mean(np.abs(e[which == b]) <= s[which == b])),
                 "n_px": int((which == b).sum())}
                for b in range(n) if (which == b).any()]

    quint = binned(bins)
    per_scene = {n: {"coverage_1sigma": float(np.mean(np.abs(err[n]) <= sigma[n])),
                     "coverage_90": float(np.mean(np.abs(err[n]) <= Z90 * sigma[n])),
                     "rmse_k": float(np.sqrt(np.mean(err[n] ** 2))),
                     "mean_sigma_k": float(np.mean(sigma[n]))} for n in names}
    return {
        "coverage_1sigma": float(np.mean(np.abs(e) <= s)),
        "coverage_90": float(np.mean(np.abs(e) <= Z90 * s)),
        "rmse_by_sigma_quintile": quint,
        "rmse_ratio_top_bottom_quintile": quint[-1]["rmse_k"] / quint[0]["rmse_k"],
        "rmse_ratio_ranking": None if r is None else _top_bottom_ratio(e, r, bins),
        "scene_bootstrap_90": _scene_bootstrap(err, sigma, rank, bins),
        "spearman_sigma_abs_error": float(spearmanr(s, np.abs(e)).statistic),
        "rmse_k": float(np.sqrt(np.mean(e**2))),
        "mean_sigma_k": float(s.mean()),
        "rms_sigma_k": float(np.sqrt(np.mean(s**2))),
        "reliability": binned(reliability_bins),
        "per_scene": per_scene,
        "n_px": int(e.size),
        "n_scenes": len(names),
    }


def plot_reliability(scores: dict[str, dict[str, Any]], path: Any, *, title: str) -> None:
    """Reliability diagram: RMSE against ASTER (K) per sigma decile against the mean sigma (K),
    one line per method; the diagonal is perfect calibration."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 5))
    top = 0.0
    for name, sc in scores.items():
        x = [b["mean_sigma_k"] for b in sc["reliability"]]
        y = [b["rmse_k"] for b in sc["reliability"]]
        top = max(top, *x, *y)
        ax.plot(x, y, "o-", label=f"{name} (68 %: {100 * sc['coverage_1sigma']:.0f} %, "
                                  f"90 %: {100 * sc['coverage_90']:.0f} %)")
    ax.plot([0, top * 1.05], [0, top * 1.05], "k--", lw=1, label="perfect calibration")
    ax.set_xlabel("mean sigma per sigma decile (K)")
    ax.set_ylabel("RMSE against ASTER per sigma decile (K)")
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
