"""Calibrate a model's uncertainty out of fold on the development triplets, and ship it.

``training/calibrate_uncertainty.py`` runs :func:`calibrate_uncertainty`:

1. The scenes are split into the folds of ``lstcloud evaluate aster --cv K``
   (:func:`lstcloud.training.folds.assign_folds`). For each fold the method's fold model
   (:func:`lstcloud.training.cv.fold_model`: trained on the other folds' MODIS inputs only, or
   reused from the ``--cv-models`` cache) predicts the held-out scenes; an untrained method
   (``bicubic`` ...) runs as it is. The LST prediction never sees ASTER.
2. Each held-out prediction is scored against ASTER with the ASTER protocol and its
   uncertainty features are computed (:func:`lstcloud.evaluate.calibration.scene_rows`).
3. For each fold, the uncertainty model is fitted on the other folds' rows only and predicts
   sigma on the fold (:func:`~lstcloud.evaluate.calibration.calibrate_out_of_fold`): those
   out-of-fold sigmas give the figures (coverage at 68 / 90 %, RMSE per sigma quintile).
4. The shipped model is fitted on all rows and, with ``--write-card``, written into the
   ``uncertainty`` section of the model folder's card (JSON; what it learned and the figures).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from lstcloud.errors import ConfigError
from lstcloud.evaluate.aster import AsterConfig
from lstcloud.evaluate.calibration import (
    SceneRows,
    calibrate_out_of_fold,
    fit_uncertainty,
    out_of_fold_ranks,
    plot_reliability,
    scene_rows,
    uncertainty_scores,
)
from lstcloud.evaluate.datasets import fill_nearest, iter_dev_samples, list_dev_samples
from lstcloud.models.card import read_card, write_card
from lstcloud.models.registry import load_model
from lstcloud.models.uncertainty import UncertaintyModel
from lstcloud.training.cv import CVMethod, fold_model
from lstcloud.training.folds import FOLD_RULE, assign_folds

__all__ = [
    "DEFAULT_FEATURES",
    "CalibrationOutcome",
    "calibrate_uncertainty",
    "method_for",
    "out_of_fold_rows",
    "write_calibration_report",
    "write_uncertainty_card",
]

#: The features of the shipped calibrations (:data:`lstcloud.models.uncertainty.FEATURES`):
#: the error sources of issue 22 (NDVI and land cover, the guide's heterogeneity, the LST
#: gradient, nearness to cloud and fill, the model's detail), plus the prediction's gradient
#: and the local LST-NDVI regression, added after out-of-fold screening (docs/evaluation.md).
DEFAULT_FEATURES: tuple[str, ...] = (
    "ndvi", "ndvi_local_mean", "ndvi_cell_sd", "ndvi_gradient", "lst_gradient",
    "lst_local_sd", "invalid_fraction", "detail", "pred_gradient", "ndvi_lst_residual",
    "ndvi_lst_corr",
)
REFERENCE = ("ASTER AST_08 (250 m output and sigma -> ASTER grid, bilinear; ASTER > 250 K; "
             "mask eroded by 8 px); pixels pooled over the scenes")


@dataclass
class CalibrationOutcome:
    """What :func:`calibrate_uncertainty` returns.

    Attributes
    ----------
    method
        Method name.
    folds
        The scene-level folds.
    out_of_fold
        :func:`~lstcloud.evaluate.calibration.uncertainty_scores` of the out-of-fold sigmas.
    fold_models
        The calibrator of each fold (fitted without that fold).
    final
        The calibrator fitted on every scene (the one to ship).
    fold_model_folders
        The fold models' folders (relative to the cache).
    """

    method: str
    folds: list[list[str]]
    out_of_fold: dict[str, Any]
    fold_models: list[UncertaintyModel]
    final: UncertaintyModel
    fold_model_folders: list[str] = field(default_factory=list)


def out_of_fold_rows(
    method: CVMethod,
    *,
    data: str | Path,
    root: str | Path,
    k: int = 5,
    features: Sequence[str] = DEFAULT_FEATURES,
    config: AsterConfig | None = None,
    train: bool = True,
    threads: int | None = None,
    max_steps: int | None = None,
    fixed: Any = None,
) -> tuple[dict[str, SceneRows], list[list[str]], list[str]]:
    """Every scene's calibration rows from the prediction of a model that never saw it.

    ``fixed`` (a loaded model) replaces the fold models: every scene is predicted by it (the
    transductive proxy of ``--transductive``: a shipped model that saw the scenes' MODIS
    inputs in its self-supervised training, never their ASTER).

    Returns ``(rows by scene, folds, fold model folders)``.
    """
    data, root = Path(data), Path(root)
    folds = assign_folds(list_dev_samples(data), k)
    rows: dict[str, SceneRows] = {}
    folders: list[str] = []
    plain = fixed
    if plain is None and not method.learned:
        plain = load_model(method.name, device="cpu")
    for fold, held in enumerate(folds):
        train_samples = [s for f in folds for s in f if s not in held]
        if plain is None:
            model, paths = fold_model(method, data=data, train_samples=train_samples, root=root,
                                      fold=fold, max_steps=max_steps, threads=threads,
                                      train=train)
            folders += [str(p.relative_to(root)) for p in paths]
        else:
            model = plain
        for sample in iter_dev_samples(data, names=held):
            ndvi = fill_nearest(sample.ndvi_250m.data)
            pred = model.predict(sample.lst_1km.data, ndvi)
            rows[sample.name] = scene_rows(sample, pred, ndvi, features, config=config)
    return rows, folds, folders


def calibrate_uncertainty(
    method: CVMethod,
    *,
    data: str | Path,
    root: str | Path,
    k: int = 5,
    features: Sequence[str] = DEFAULT_FEATURES,
    config: AsterConfig | None = None,
    train: bool = True,
    threads: int | None = None,
    max_steps: int | None = None,
    command: str = "",
    fixed: Any = None,
) -> CalibrationOutcome:
    """Out-of-fold calibration and figures of ``method``'s uncertainty (module docstring);
    ``fixed``: see :func:`out_of_fold_rows`."""
    rows, folds, folders = out_of_fold_rows(
        method, data=data, root=root, k=k, features=features, config=config, train=train,
        threads=threads, max_steps=max_steps, fixed=fixed)
    sigmas, fold_models = calibrate_out_of_fold(rows, folds, features)
    scores = uncertainty_scores({n: r.err for n, r in rows.items()}, sigmas,
                                rank=out_of_fold_ranks(rows, folds, fold_models))
    final = fit_uncertainty(list(rows.values()), features)
    info = {
        "computed": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "computed_by": "lstcloud.training.uncertainty.calibrate_uncertainty",
        "command": command,
        "data": Path(data).name,
        "reference": REFERENCE,
        "errors_from": _errors_from(method, fixed),
        "folds": folds,
        "fold_rule": FOLD_RULE,
        "fit": "local part: Gaussian likelihood of the errors minus their scene's mean, "
               "log-linear variance, ridge 1e-3 on the standardised coefficients, <= 20000 px "
               "per scene; scene part: tau^2 = mean squared scene offset; then the conformal "
               "scale (+-1 sigma covers 68.27 % of all calibration pixels)",
        "n_scenes": len(rows),
        "n_px": int(sum(r.err.size for r in rows.values())),
        "out_of_fold": {key: scores[key] for key in (
            "coverage_1sigma", "coverage_90", "rmse_ratio_top_bottom_quintile",
            "rmse_ratio_ranking", "scene_bootstrap_90", "spearman_sigma_abs_error",
            "rmse_k", "mean_sigma_k", "n_px")}
        | {"rmse_by_sigma_quintile_k": [round(b["rmse_k"], 3)
                                        for b in scores["rmse_by_sigma_quintile"]]},
        "aster_files_read_by_lst_training": False,
    }
    return CalibrationOutcome(method.name, folds, scores, fold_models, replace(final, info=info),
                              folders)


def _errors_from(method: CVMethod, fixed: Any) -> str:
    if fixed is not None:
        return (f"TRANSDUCTIVE proxy: every scene predicted by the model {method.name} itself, "
                "whose self-supervised training saw the scenes' MODIS inputs (never ASTER); "
                "the calibrator is still fitted out of fold; rerun with the fold models for the "
                "out-of-fold errors")
    if method.learned:
        return (f"out-of-fold predictions of {method.name}: each scene predicted by the fold "
                "model trained on the other folds' MODIS inputs only")
    return f"{method.name} (untrained)"


def write_uncertainty_card(folder: str | Path, model: UncertaintyModel) -> Path:
    """Put ``model`` into the ``uncertainty`` section of ``folder/model.json`` (nothing else
    changes: the weights and their hash stay)."""
    card = read_card(folder)
    card["uncertainty"] = model.to_dict()
    return write_card(folder, card)


def write_calibration_report(outcome: CalibrationOutcome, out_dir: str | Path) -> Path:
    """``calibration.json``, ``calibration.md`` and ``reliability.png`` in ``out_dir``."""
    from lstcloud.evaluate.results import _json_safe

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    sc = outcome.out_of_fold
    doc = {"method": outcome.method, "folds": outcome.folds, "out_of_fold": sc,
           "final": outcome.final.to_dict(),
           "fold_calibrators": [m.to_dict() | {"calibration": None} for m in outcome.fold_models],
           "fold_models": outcome.fold_model_folders}
    (out / "calibration.json").write_text(json.dumps(_json_safe(doc), indent=2) + "\n", "utf-8")
    plot_reliability({outcome.method: sc}, out / "reliability.png",
                     title=f"{outcome.method}: out-of-fold sigma vs error against ASTER\n"
                           f"({sc['n_scenes']} dev scenes, pixels pooled)")
    final = outcome.final
    lines = [
        f"# Uncertainty of {outcome.method}: out-of-fold calibration against ASTER", "",
        f"Reference: {REFERENCE}. Data: {final.info.get('data')} ({sc['n_scenes']} scenes, "
        f"{sc['n_px']} px); {len(outcome.folds)} scene-level folds ({FOLD_RULE}); the sigma of "
        "each scene comes from a calibrator fitted on the other folds only.", "",
    ]
    if final.info.get("command"):
        lines += ["    " + final.info["command"], ""]
    lines += [
        "| figure | value (5-95 % over scenes drawn with replacement) |", "|---|---|",
        f"| +-1 sigma coverage (target 68.3 %) | {100 * sc['coverage_1sigma']:.1f} % "
        f"({_interval(sc, 'coverage_1sigma', 100, '.1f')} %) |",
        f"| +-1.645 sigma coverage (target 90 %) | {100 * sc['coverage_90']:.1f} % "
        f"({_interval(sc, 'coverage_90', 100, '.1f')} %) |",
        f"| RMSE top / bottom sigma quintile | {sc['rmse_ratio_top_bottom_quintile']:.2f} |",
        "| RMSE top / bottom quintile, one model's ordering (out-of-fold local variance "
        f"without the fold models' constants) | {sc['rmse_ratio_ranking']:.2f} "
        f"({_interval(sc, 'rmse_ratio_ranking', 1, '.2f')}) |",
        f"| Spearman(sigma, abs error) | {sc['spearman_sigma_abs_error']:.2f} |",
        f"| RMSE (K) / RMS sigma (K) | {sc['rmse_k']:.2f} / {sc['rms_sigma_k']:.2f} |", "",
        "| sigma quintile (K) | mean sigma (K) | RMSE against ASTER (K) | +-1 sigma coverage | "
        "pixels |", "|---|---|---|---|---|",
        *[f"| {b['sigma_from_k']:.2f}-{b['sigma_to_k']:.2f} | {b['mean_sigma_k']:.2f} | "
          f"{b['rmse_k']:.2f} | {100 * b['coverage_1sigma']:.0f} % | {b['n_px']} |"
          for b in sc["rmse_by_sigma_quintile"]], "",
        "Shipped calibrator (all scenes): sigma = scale * sqrt(tau^2 + s_loc^2), log s_loc^2 = "
        f"{final.intercept:.3f} + sum(coef * standardised feature); tau^2 = "
        f"{final.scene_variance_k2:.3f} K^2 (tau = {final.scene_variance_k2 ** 0.5:.2f} K, the "
        f"scene offset); conformal scale {final.scale:.3f}.", "",
        "| feature | coefficient (log K^2 per sd) | meaning |",
        "|---|---|---|",
        *[f"| {f} | {c:+.3f} | {final.to_dict()['feature_descriptions'][f]} |"
          for f, c in zip(final.features, final.coef, strict=True)], "",
        "![reliability](reliability.png)", "",
    ]
    (out / "calibration.md").write_text("\n".join(lines) + "\n", "utf-8")
    return out / "calibration.md"


def _interval(scores: dict[str, Any], key: str, factor: float, spec: str) -> str:
    """``lo-hi`` of the scene bootstrap's 5-95 % range of ``key``, times ``factor``."""
    lo, hi = scores["scene_bootstrap_90"][key]
    return f"{factor * lo:{spec}}-{factor * hi:{spec}}"


def method_for(name_or_folder: str) -> tuple[CVMethod, Path | None]:
    """The :class:`CVMethod` of a shipped name, baseline or model folder, and its folder
    (``None`` for a baseline without one)."""
    from lstcloud.models.registry import model_folder
    from lstcloud.training.cv import UNTRAINED, cv_method

    if name_or_folder in UNTRAINED:
        return cv_method(name_or_folder), None
    try:
        folder = model_folder(name_or_folder)
    except ConfigError:
        raise ConfigError(
            f"--model {name_or_folder!r}: not a shipped model or model folder") from None
    name = name_or_folder if "/" not in name_or_folder else folder.name
    return cv_method(name, model_path=folder), folder
