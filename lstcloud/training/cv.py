"""Out-of-fold ASTER evaluation: scene-level K-fold cross-validation over the dev triplets.

``lstcloud evaluate aster --cv K --data DIR --methods ... --report OUT`` runs it:

1. The samples are split into ``K`` folds by :func:`lstcloud.training.folds.assign_folds`
   (sorted names, sample ``i`` -> fold ``i mod K``).
2. For each fold, every learned method is retrained on the MODIS inputs (LST + NDVI) of the
   other folds with its own recipe: the training config(s) recorded in its card (an ensemble:
   one per member, plus its TTA mode). Early stopping and every in-method choice use the
   training folds only (MODIS-only validation loss); ASTER is never opened by training.
   Classical baselines (no training) run as they are.
3. The held-out fold is scored against ASTER with the ASTER recipe of
   :func:`lstcloud.evaluate.aster.evaluate_aster` (output -> ASTER grid, bilinear, ASTER >
   250 K, mask eroded by 8 px), all methods on the same pixels.
4. The oracle (a diagnostic, never a method): the MODIS 1 km LST plus ASTER's own sub-km
   detail (ASTER on the 250 m grid minus its 4x4 block mean), scored on the same pixels where
   it is defined. It gives the floor of the bicubic-to-oracle gap (in MSE) a method closes.

The summary (``cv.json``, ``cv.md`` in the report folder, besides the usual report) gives, per
method: mean RMSE / MAE / bias / SSIM over the scenes, the per-scene spread of the RMSE, the
wins against bicubic, and the fraction of the bicubic-to-oracle gap closed in MSE.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from rasterio.warp import Resampling, reproject

from lstcloud.errors import ConfigError
from lstcloud.evaluate.aster import AsterConfig, aster_valid_mask, evaluate_aster, to_aster_grid
from lstcloud.evaluate.calibration import (
    SceneRows,
    calibrate_out_of_fold,
    out_of_fold_ranks,
    plot_reliability,
    scene_rows,
    uncertainty_scores,
)
from lstcloud.evaluate.datasets import (
    DevSample,
    iter_dev_samples,
    list_dev_samples,
)
from lstcloud.evaluate.methods import Method, resolve_method
from lstcloud.evaluate.metrics import score
from lstcloud.evaluate.results import ProtocolResult
from lstcloud.inference.quality import QualityFlag, quality_flags
from lstcloud.models.ensemble import ENSEMBLE, EnsembleModel, combine_models
from lstcloud.models.registry import load_model
from lstcloud.training.config import TrainConfig, recorded_config
from lstcloud.training.folds import (
    FOLD_RULE,
    FoldMember,
    assign_folds,
    cached_fold_member,
    train_fold_member,
)

__all__ = [
    "CVMethod",
    "CVOutcome",
    "cross_validate_aster",
    "cv_method",
    "fold_model",
    "oracle_prediction",
]

log = logging.getLogger(__name__)

UNTRAINED = frozenset({"nearest", "bicubic", "tsharp", "tsharp-window", "dms"})


@dataclass(frozen=True)
class CVMethod:
    """A method as the cross-validation rebuilds it in every fold.

    ``members`` empty: a method without training (``resolve_method(name)``); otherwise the
    training configs of its networks, averaged over the TTA transforms ``tta`` when there are
    several members or a TTA mode other than ``none``; ``adaptation`` is the ensemble card's
    test-time adaptation (each held-out scene adapts the fold's members, MODIS only).
    """

    name: str
    members: tuple[TrainConfig, ...] = ()
    tta: str = "none"
    postprocess: dict[str, Any] | None = None
    adaptation: dict[str, Any] | None = None
    #: the features of the card's ``uncertainty`` section: its sigma is calibrated out of
    #: fold on the fold models' errors (:mod:`lstcloud.evaluate.calibration`)
    uncertainty_features: tuple[str, ...] = ()

    @property
    def learned(self) -> bool:
        """Whether the method is retrained per fold."""
        return bool(self.members)


def _config_from_card(card: dict[str, Any], source: str) -> TrainConfig:
    return TrainConfig.model_validate(recorded_config(card, source))


def cv_method(name: str, *, model_path: str | Path | None = None) -> CVMethod:
    """The :class:`CVMethod` of a method name or a model folder (recipe read from its card)."""
    if model_path is None and name in UNTRAINED:
        return CVMethod(name)
    model = load_model(model_path if model_path is not None else name, device="cpu")
    card = model.card
    source = str(model_path or name)
    features = tuple((card.get("uncertainty") or {}).get("features") or ())
    if card.get("architecture") == ENSEMBLE:
        members = tuple(
            _config_from_card(m.card, f"{source} member {m.name}")
            for m in model.members  # type: ignore[attr-defined]
        )
        return CVMethod(name, members, str(card.get("tta", "none")), card.get("postprocess"),
                        card.get("adaptation"), features)
    if int(card.get("parameters", 0)) == 0:
        return CVMethod(name)
    return CVMethod(name, (_config_from_card(card, source),), uncertainty_features=features)


@dataclass
class CVOutcome:
    """What :func:`cross_validate_aster` returns: the merged protocol result and the summary."""

    result: ProtocolResult
    folds: list[list[str]]
    summary: dict[str, dict[str, Any]]
    oracle: dict[str, float]
    fold_models: dict[str, list[str]] = field(default_factory=dict)
    uncertainty: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: methods with a calibrated sigma: its out-of-fold figures (coverage, RMSE per quintile)
    calibrated: dict[str, dict[str, Any]] = field(default_factory=dict)


def oracle_prediction(sample: DevSample) -> np.ndarray:
    """MODIS 1 km LST + ASTER's own sub-km detail, on the 250 m grid (a diagnostic).

    ASTER is put on the 250 m grid (LST geotransform / 4) by bilinear resampling, its 4x4
    block mean is subtracted (blocks with any invalid ASTER pixel are NaN), and the 1 km MODIS
    value of each block is added. It reads ASTER: never a method, never a basis for choices.
    """
    if sample.aster is None:
        raise ConfigError(f"sample {sample.name}: the oracle needs the ASTER file")
    grid = sample.ndvi_250m
    aster = np.where(aster_valid_mask(sample.aster.data, config=AsterConfig(erode_px=0)),
                     sample.aster.data, np.nan).astype(np.float32)
    fine = np.full(grid.shape, np.nan, np.float32)
    reproject(
        source=aster, destination=fine, src_transform=sample.aster.transform,
        src_crs=sample.aster.crs, src_nodata=np.nan, dst_transform=grid.transform,
        dst_crs=grid.crs, dst_nodata=np.nan, resampling=Resampling.bilinear,
    )
    h, w = sample.lst_1km.data.shape
    blocks = fine[: 4 * h, : 4 * w].reshape(h, 4, w, 4)
    block_mean = blocks.mean(axis=(1, 3))  # NaN when any pixel of the block is NaN
    detail = fine - np.repeat(np.repeat(block_mean, 4, 0), 4, 1)
    return (np.repeat(np.repeat(sample.lst_1km.data, 4, 0), 4, 1) + detail).astype(np.float32)


def _oracle_scores(samples: Sequence[DevSample], config: AsterConfig) -> dict[str, float]:
    per: dict[str, float] = {}
    for sample in samples:
        pred = to_aster_grid(oracle_prediction(sample), src=sample.ndvi_250m, dst=sample.aster,
                             resampling=config.resampling)
        region = aster_valid_mask(sample.aster.data, config=config) & np.isfinite(pred)
        if region.sum() < 10:
            continue
        ref = np.where(region, sample.aster.data, np.nan).astype(np.float32)
        per[sample.name] = float(score(pred, ref, mask=region)["rmse_k"])
    return per


def fold_model(
    method: CVMethod, *, data: str | Path, train_samples: Sequence[str], root: str | Path,
    fold: int, max_steps: int | None = None, threads: int | None = None,
    train: bool = True,
) -> tuple[Any, list[Path]]:
    """The model of a learned ``method`` for one fold, and the folders of its fold members.

    Each member (:class:`~lstcloud.training.folds.FoldMember`) is trained on the MODIS inputs
    of ``train_samples`` only, or reused from ``root/fold{fold}/`` (see
    :func:`~lstcloud.training.folds.train_fold_member`); several members, a TTA mode, a
    post-processing or an adaptation make an :class:`~lstcloud.models.ensemble.EnsembleModel`
    of them, a single plain member is that member's model.

    ``train=False`` only reads the cache: a member that is not finished there raises (so
    a reader never trains a member that another run may be training).

    Raises
    ------
    ConfigError
        When ``method`` is not learned (it has no fold models), or without ``train`` when a
        fold member is not in the cache.
    """
    if not method.learned:
        raise ConfigError(f"{method.name}: not a learned method, it has no fold models")
    if not train:
        for c in method.members:
            if cached_fold_member(FoldMember(c), data=data, train_samples=list(train_samples),
                                  root=root, fold=fold, max_steps=max_steps) is None:
                raise ConfigError(f"{method.name}: fold {fold} member {c.name} is not finished "
                                  f"in {root} (train it with `lstcloud evaluate aster --cv`)")
    folders = [
        train_fold_member(FoldMember(c), data=data, train_samples=list(train_samples),
                          root=root, fold=fold, max_steps=max_steps, threads=threads)
        for c in method.members
    ]
    models = [load_model(f, device="cpu") for f in folders]
    model = combine_models(models, name=method.name, tta=method.tta,
                           postprocess=method.postprocess, adaptation=method.adaptation)
    return model, folders


def _fold_method(
    method: CVMethod, *, data: Path, train_samples: list[str], root: Path, fold: int,
    max_steps: int | None, threads: int | None, cache: dict[str, Method],
    spreads: dict[tuple[str, str], tuple[np.ndarray, np.ndarray]],
    preds: dict[tuple[str, str], tuple[np.ndarray, np.ndarray]] | None = None,
) -> tuple[Method, list[str], Any]:
    if not method.learned:
        if method.name not in cache:
            cache[method.name] = resolve_method(method.name, device="cpu")
        return cache[method.name], [], None
    model, folders = fold_model(method, data=data, train_samples=train_samples, root=root,
                                fold=fold, max_steps=max_steps, threads=threads)

    def predict(lst: np.ndarray, ndvi: np.ndarray | None) -> np.ndarray:
        if isinstance(model, EnsembleModel) and model.passes > 1:
            mean, spread = model.predict_with_spread(lst, ndvi)
            spreads[(method.name, _digest(lst))] = (mean, spread)  # uncertainty diagnostics
        else:
            mean = np.asarray(model.predict(lst, ndvi), np.float32)
        if preds is not None and method.uncertainty_features and ndvi is not None:
            preds[(method.name, _digest(lst))] = (mean, ndvi)  # its calibrated uncertainty
        return mean

    rel = [str(f.relative_to(root)) for f in folders]
    return Method(method.name, predict, True, f"cv fold model ({', '.join(rel)})"), rel, model


def _merge(total: ProtocolResult | None, part: ProtocolResult, fold: int) -> ProtocolResult:
    for row in part.per_sample:
        row["fold"] = fold
    if total is None:
        return part
    total.per_sample.extend(part.per_sample)
    for name, pairs in part.pairs.items():
        total.pairs.setdefault(name, []).extend(pairs)
    return total


def cross_validate_aster(
    data: str | Path,
    methods: Sequence[CVMethod],
    *,
    k: int = 5,
    root: str | Path,
    config: AsterConfig | None = None,
    max_steps: int | None = None,
    threads: int | None = None,
    progress: bool = True,
) -> CVOutcome:
    """Out-of-fold ASTER scores of ``methods`` over the triplets of ``data``.

    Parameters
    ----------
    data
        An ``aster-dev`` folder.
    methods
        The methods (see :func:`cv_method`); ``bicubic`` is added when absent (the reference
        of the wins and of the gap).
    k
        Number of folds.
    root
        Folder of the fold models (cached: a rerun reuses finished ones, resumes the others).
    config
        ASTER protocol options.
    max_steps
        Overrides every member's training length (for quick checks; the default keeps each
        recipe's own).
    threads
        Torch threads of the fold trainings.
    progress
        Show a progress bar over the fold trainings and scorings.
    """
    from tqdm.auto import tqdm

    data, root = Path(data), Path(root)
    config = config or AsterConfig()
    methods = list(methods)
    if "bicubic" not in [m.name for m in methods]:
        methods.insert(0, CVMethod("bicubic"))
    folds = assign_folds(list_dev_samples(data), k)
    steps = k * (1 + sum(len(m.members) for m in methods))
    bar = tqdm(total=steps, desc=f"cv {k} folds", unit="task", disable=not progress)
    total: ProtocolResult | None = None
    cache: dict[str, Method] = {}
    fold_models: dict[str, list[str]] = {}
    pixels: dict[str, list[dict[str, np.ndarray]]] = {}
    spreads: dict[tuple[str, str], tuple[np.ndarray, np.ndarray]] = {}
    preds: dict[tuple[str, str], tuple[np.ndarray, np.ndarray]] = {}
    unc_rows: dict[str, dict[str, SceneRows]] = {}
    for fold, held in enumerate(folds):
        train_samples = [s for f in folds for s in f if s not in held]
        fold_methods = []
        spread_models: list[str] = []
        for m in methods:
            bar.set_postfix_str(f"fold {fold}: {m.name}")
            method, rel, model = _fold_method(m, data=data, train_samples=train_samples,
                                              root=root, fold=fold, max_steps=max_steps,
                                              threads=threads, cache=cache,
                                              spreads=spreads, preds=preds)
            fold_methods.append(method)
            if isinstance(model, EnsembleModel) and model.passes > 1:
                spread_models.append(m.name)
            fold_models.setdefault(m.name, []).extend(rel)
            bar.update(len(m.members))
        bar.set_postfix_str(f"fold {fold}: scoring {len(held)} scenes against ASTER")
        part = evaluate_aster(iter_dev_samples(data, names=held), fold_methods,
                              data=str(data), config=config)
        total = _merge(total, part, fold)
        for name in spread_models:
            for sample in iter_dev_samples(data, names=held):
                mean, spread = spreads.pop((name, _digest(sample.lst_1km.data)))
                pixels.setdefault(name, []).append(
                    _error_and_spread(sample, mean, spread, config))
        _collect_rows(unc_rows, methods, preds, iter_dev_samples(data, names=held), config)
        bar.update(1)
    bar.close()
    assert total is not None
    total.config.update(cv_folds=k, fold_rule=FOLD_RULE, folds=folds)
    total.notes.append(
        f"out-of-fold: {k} scene-level folds ({FOLD_RULE}); every learned method was retrained "
        "per fold on the other folds' MODIS LST + NDVI only (ASTER never read in training) "
        "and scored on the held-out fold"
    )
    oracle = _oracle_scores(list(iter_dev_samples(data)), config)
    summary = summarize(total, oracle)
    uncertainty = {name: uncertainty_summary(rows) for name, rows in pixels.items()}
    calibrated = {
        m.name: _calibrated(unc_rows[m.name], folds, m.uncertainty_features)
        for m in methods if m.name in unc_rows
    }
    return CVOutcome(total, folds, summary, oracle, fold_models, uncertainty, calibrated)


def _collect_rows(
    rows: dict[str, dict[str, SceneRows]], methods: Sequence[CVMethod],
    preds: dict[tuple[str, str], tuple[np.ndarray, np.ndarray]], samples: Iterable[DevSample],
    config: AsterConfig,
) -> None:
    """The calibration rows of the held-out scenes of the methods with an uncertainty."""
    wanted = [m for m in methods if m.uncertainty_features and m.learned]
    for sample in samples if wanted else ():
        for m in wanted:
            pred, ndvi = preds.pop((m.name, _digest(sample.lst_1km.data)))
            rows.setdefault(m.name, {})[sample.name] = scene_rows(
                sample, pred, ndvi, m.uncertainty_features, config=config)


def _calibrated(
    rows: dict[str, SceneRows], folds: list[list[str]], features: Sequence[str]
) -> dict[str, Any]:
    """Out-of-fold figures of a sigma recalibrated per fold on the other folds' errors."""
    sigmas, models = calibrate_out_of_fold(rows, folds, features)
    return uncertainty_scores({n: r.err for n, r in rows.items()}, sigmas,
                              rank=out_of_fold_ranks(rows, folds, models))


_MAX_PIXELS = 20_000


def _digest(lst: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(lst, np.float32).tobytes()).hexdigest()


def _error_and_spread(
    sample: DevSample, mean: np.ndarray, spread: np.ndarray, config: AsterConfig
) -> dict[str, np.ndarray]:
    """Per scored ASTER pixel: |error| (K), the ensemble spread (K) and the quality flags."""
    flags = quality_flags(sample.lst_1km.data, sample.ndvi_250m.data).astype(np.float32)
    grid = sample.ndvi_250m
    on = {
        "mean": to_aster_grid(mean, src=grid, dst=sample.aster, resampling=config.resampling),
        "spread": to_aster_grid(spread, src=grid, dst=sample.aster, resampling=config.resampling),
        "flags": to_aster_grid(flags, src=grid, dst=sample.aster, resampling="nearest"),
    }
    region = aster_valid_mask(sample.aster.data, config=config)
    for image in on.values():
        region &= np.isfinite(image)
    err = np.abs(on["mean"][region] - sample.aster.data[region])
    out = {"abs_error_k": err, "spread_k": on["spread"][region],
           "flags": on["flags"][region].astype(np.uint8)}
    if err.size > _MAX_PIXELS:
        idx = np.random.default_rng(0).choice(err.size, _MAX_PIXELS, replace=False)
        out = {k: v[idx] for k, v in out.items()}
    return out


def uncertainty_summary(rows: Sequence[dict[str, np.ndarray]], bins: int = 5) -> dict[str, Any]:
    """How the spread ranks the real error: RMSE per spread quantile bin, the Spearman rank
    correlation of spread and |error| (pooled pixels and median over scenes), and the error of
    the pixels each quality flag marks against the unflagged ones."""
    from scipy.stats import spearmanr

    err = np.concatenate([r["abs_error_k"] for r in rows])
    spread = np.concatenate([r["spread_k"] for r in rows])
    flags = np.concatenate([r["flags"] for r in rows])
    edges = np.quantile(spread, np.linspace(0, 1, bins + 1))
    which = np.clip(np.searchsorted(edges, spread, side="right") - 1, 0, bins - 1)
    table = [
        {"spread_from_k": float(edges[b]), "spread_to_k": float(edges[b + 1]),
         "mean_spread_k": float(spread[which == b].mean()),
         "rmse_k": float(np.sqrt(np.mean(err[which == b] ** 2))),
         "n_px": int((which == b).sum())}
        for b in range(bins) if (which == b).any()
    ]
    per_scene = [float(spearmanr(r["spread_k"], r["abs_error_k"]).statistic)
                 for r in rows if r["abs_error_k"].size > 10]
    flag_rows = {}
    for flag in (QualityFlag.NDVI_MISSING, QualityFlag.LOW_CONFIDENCE, QualityFlag.NEAR_INVALID):
        marked = (flags & np.uint8(flag)) > 0
        flag_rows[str(flag.name).lower()] = {
            "n_px": int(marked.sum()),
            "rmse_k": float(np.sqrt(np.mean(err[marked] ** 2))) if marked.any() else None,
        }
    flag_rows["ok (no flag)"] = {"n_px": int((flags == 0).sum()),
                                  "rmse_k": float(np.sqrt(np.mean(err[flags == 0] ** 2)))}
    return {
        "spearman_pooled": float(spearmanr(spread, err).statistic),
        "spearman_median_over_scenes": float(np.median(per_scene)) if per_scene else None,
        "bins": table,
        "flags": flag_rows,
        "n_px": int(err.size),
        "note": "pixels subsampled to at most 20000 per scene; |error| against ASTER, "
                "out-of-fold",
    }


def summarize(result: ProtocolResult, oracle: dict[str, float]) -> dict[str, dict[str, Any]]:
    """Per method: means over scenes, RMSE spread, wins vs bicubic, gap closed (MSE)."""
    rows = result.per_sample
    bic = {r["sample"]: r["rmse_k"] for r in rows if r["method"] == "bicubic"}
    common = sorted(set(bic) & set(oracle))
    mse_bic = float(np.mean([bic[s] ** 2 for s in common])) if common else math.nan
    mse_orc = float(np.mean([oracle[s] ** 2 for s in common])) if common else math.nan
    out: dict[str, dict[str, Any]] = {}
    for name in result.method_names():
        mine = {r["sample"]: r for r in rows if r["method"] == name}
        rmse = np.array([mine[s]["rmse_k"] for s in sorted(mine)])
        mse = float(np.mean([mine[s]["rmse_k"] ** 2 for s in common])) if common else math.nan
        out[name] = {
            "rmse_k": float(rmse.mean()),
            "rmse_std_k": float(rmse.std(ddof=1)) if rmse.size > 1 else 0.0,
            "rmse_min_k": float(rmse.min()),
            "rmse_max_k": float(rmse.max()),
            **{key: float(np.mean([mine[s][key] for s in mine]))
               for key in ("mae_k", "bias_k", "ssim", "ssim_bbox", "psnr_db", "grad_rmse_k")},
            "wins_vs_bicubic": int(sum(mine[s]["rmse_k"] < bic[s] for s in mine if s in bic)),
            "n_samples": int(rmse.size),
            "gap_closed_mse": (mse_bic - mse) / (mse_bic - mse_orc)
            if common and mse_bic > mse_orc else math.nan,
            "source": result.method_sources.get(name, ""),
        }
    out["oracle (diagnostic, reads ASTER)"] = {
        "rmse_k": float(np.mean(list(oracle.values()))) if oracle else math.nan,
        "n_samples": len(oracle),
    }
    return out


def write_cv_summary(outcome: CVOutcome, out_dir: str | Path, *, command: str = "") -> Path:
    """Write ``cv.json`` and ``cv.md`` (the out-of-fold table) into ``out_dir``."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    doc = {"command": command, "folds": outcome.folds, "fold_rule": FOLD_RULE,
           "summary": outcome.summary, "oracle_per_sample_rmse_k": outcome.oracle,
           "fold_models": outcome.fold_models, "uncertainty": outcome.uncertainty,
           "calibrated_uncertainty": outcome.calibrated}
    from lstcloud.evaluate.results import _json_safe

    (out_dir / "cv.json").write_text(json.dumps(_json_safe(doc), indent=2) + "\n", "utf-8")
    lines = [
        f"# Out-of-fold ASTER scores ({len(outcome.folds)} scene-level folds)", "",
        f"Fold rule: {FOLD_RULE}. Reference: ASTER AST_08 (output -> ASTER grid, bilinear, "
        "ASTER > 250 K, mask eroded by 8 px); mean over scenes; learned methods retrained per "
        "fold on the other folds' MODIS inputs only.", "",
    ]
    if command:
        lines += ["    " + command, ""]
    lines += ["| method | RMSE (K) | RMSE sd / min / max (K) | MAE (K) | bias (K) | SSIM | "
              "wins vs bicubic | gap closed (MSE) |", "|---|---|---|---|---|---|---|---|"]
    for name, row in outcome.summary.items():
        if "wins_vs_bicubic" not in row:
            lines.append(f"| {name} | {row['rmse_k']:.3f} | | | | | | 100 % (by definition) |")
            continue
        gap = row["gap_closed_mse"]
        lines.append(
            f"| {name} | {row['rmse_k']:.3f} | {row['rmse_std_k']:.2f} / {row['rmse_min_k']:.2f}"
            f" / {row['rmse_max_k']:.2f} | {row['mae_k']:.3f} | {row['bias_k']:+.3f} | "
            f"{row['ssim']:.3f} | {row['wins_vs_bicubic']}/{row['n_samples']} | "
            f"{'' if math.isnan(gap) else f'{100 * gap:.0f} %'} |"
        )
    for name, unc in outcome.uncertainty.items():
        lines += ["", f"## {name}: spread (K) against the out-of-fold |error| against ASTER", "",
                  f"Spearman rank correlation: {unc['spearman_pooled']:.2f} (pooled pixels), "
                  f"{unc['spearman_median_over_scenes']:.2f} (median over scenes).", "",
                  "| spread bin (K) | mean spread (K) | RMSE (K) | pixels |", "|---|---|---|---|"]
        lines += [f"| {b['spread_from_k']:.2f}-{b['spread_to_k']:.2f} | {b['mean_spread_k']:.2f}"
                  f" | {b['rmse_k']:.2f} | {b['n_px']} |" for b in unc["bins"]]
        lines += ["", "| quality flag | RMSE (K) | pixels |", "|---|---|---|"]
        for flag, row in unc["flags"].items():
            rmse = "" if row["rmse_k"] is None else f"{row['rmse_k']:.2f}"
            lines.append(f"| {flag} | {rmse} | {row['n_px']} |")
    lines += _calibrated_lines(outcome, out_dir)
    (out_dir / "cv.md").write_text("\n".join(lines) + "\n", "utf-8")
    return out_dir / "cv.md"


def _calibrated_lines(outcome: CVOutcome, out_dir: Path) -> list[str]:
    """The out-of-fold figures of the calibrated sigmas, and their reliability diagram."""
    if not outcome.calibrated:
        return []
    plot_reliability(outcome.calibrated, out_dir / "reliability_cv.png",
                     title="out-of-fold sigma vs error against ASTER (dev scenes, pooled)")
    lines = ["", "## Calibrated uncertainty, out of fold (sigma recalibrated per fold on the "
             "other folds' errors against ASTER)", "",
             "| method | +-1 sigma coverage (68 %) | +-1.645 sigma coverage (90 %) | RMSE per "
             "sigma quintile, low to high (K) | top / bottom | top / bottom, one model's "
             "ordering | Spearman(sigma, abs error) |",
             "|---|---|---|---|---|---|---|"]
    for name, sc in outcome.calibrated.items():
        quint = " / ".join(f"{b['rmse_k']:.2f}" for b in sc["rmse_by_sigma_quintile"])
        lines.append(f"| {name} | {100 * sc['coverage_1sigma']:.1f} % | "
                     f"{100 * sc['coverage_90']:.1f} % | {quint} | "
                     f"{sc['rmse_ratio_top_bottom_quintile']:.2f} | "
                     f"{sc['rmse_ratio_ranking']:.2f} | "
                     f"{sc['spearman_sigma_abs_error']:.2f} |")
    return [*lines, "", "(one model's ordering: the pixels ordered by the out-of-fold local "
                        "variance without the fold models' constants, as one shipped model "
                        "orders new scenes; see docs/evaluation.md)", "",
            "![reliability](reliability_cv.png)"]
