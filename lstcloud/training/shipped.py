"""Validation of a model folder *as shipped* (with its card's post-processing), and the
Wald-only selection of a post-processing option.

The ``validation`` section that training writes describes the bare network at the end of
training. Post-processing switched on later (:func:`lstcloud.models.cnn.set_postprocess`)
changes what the model outputs, so :func:`validate_as_shipped` scores the folder through the
same ``load_model(folder).predict`` the product uses, on the card's validation samples, with the
Wald protocol of :mod:`lstcloud.evaluate.wald` (the real 1 km LST degraded to 4 km and the
250 m NDVI to 1 km, super-resolved back, scored against the 1 km LST), and writes the figures to
the card's ``validation_as_shipped``.

Only MODIS inputs are read: the scenes come from :class:`~lstcloud.training.DevFolderPairs`
(the training reader, which opens ``modis_lst_1km.tif`` and ``modis_ndvi_250m.tif`` only and
records every file it opens); the entry's ``files`` and ``aster_files_read`` are derived from
that record.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from lstcloud.errors import ConfigError
from lstcloud.training.data import DevFolderPairs, default_dev_folder

__all__ = [
    "DEFAULT_DEGRADATIONS",
    "validate_as_shipped",
    "wald_scores",
]

#: The Wald operators H used for the shipped models' figures (``docs/evaluation.md``).
DEFAULT_DEGRADATIONS: tuple[str, ...] = ("gaussian", "mean")
_KEYS = ("rmse_k", "mae_k", "bias_k", "ssim", "psnr_db", "grad_rmse_k", "n_samples")


def _dev_scenes(data: str | Path, samples: Sequence[str] | None) -> DevFolderPairs:
    root = Path(data)
    # patch size 8: whole 64 px scenes are used, the patch machinery is not
    return DevFolderPairs(root, samples=list(samples) if samples else None, patch_1km=8)


def wald_scores(
    models: Mapping[str, Any],
    *,
    data: str | Path,
    samples: Sequence[str] | None = None,
    degradations: Sequence[str] = DEFAULT_DEGRADATIONS,
    dataset: DevFolderPairs | None = None,
) -> tuple[dict[str, dict[str, dict[str, float]]], DevFolderPairs]:
    """Wald scores (mean over samples) of every model, per H, on MODIS inputs only.

    Parameters
    ----------
    models
        Name -> object with ``predict(lst_1km, ndvi_250m)`` (e.g. ``lstcloud.load_model``).
    data
        A folder in the ``aster_h18v04_dev`` layout (only its MODIS files are opened).
    samples
        Sample ids (default: all).
    degradations
        Wald operators H (``gaussian``, ``mean``, ``l4``).
    dataset
        Scenes already loaded (reused across calls).

    Returns
    -------
    (scores, dataset)
        ``scores[name][H]`` = ``{"rmse_k", "mae_k", "bias_k", "ssim", "psnr_db",
        "grad_rmse_k", "n_samples"}``, and the dataset that read the scenes.
    """
    from lstcloud.evaluate.methods import _from_model
    from lstcloud.evaluate.wald import WaldConfig, WaldSample, evaluate_wald

    ds = dataset if dataset is not None else _dev_scenes(data, samples)
    scenes = ds.scenes
    ids = list(samples) if samples else list(ds.sample_ids)
    methods = [_from_model(name, m, needs_ndvi_default=True) for name, m in models.items()]
    out: dict[str, dict[str, dict[str, float]]] = {name: {} for name in models}
    for h in degradations:
        wald_samples = [
            WaldSample(sid, scenes[sid].lst_1km, scenes[sid].ndvi_250m) for sid in ids
        ]
        result = evaluate_wald(
            wald_samples,
            methods,
            data=str(data),
            config=WaldConfig(degradation=h, n_panels=0),
        )
        summary = result.summary()
        for name in models:
            out[name][h] = {k: summary[name][k] for k in _KEYS}
    return out, ds


def validate_as_shipped(
    folder: str | Path,
    *,
    data: str | Path | None = None,
    degradations: Sequence[str] = DEFAULT_DEGRADATIONS,
    write: bool = True,
    device: str = "cpu",
) -> dict[str, Any]:
    """Score the model folder as shipped on its validation samples (Wald, MODIS only).

    Parameters
    ----------
    folder
        A CNN model folder whose card lists ``training_data.validation_samples``.
    data
        The development folder (default: the card's ``training_data.path`` when it exists,
        else :func:`~lstcloud.training.data.default_dev_folder`).
    degradations
        Wald operators H.
    write
        Write the entry into the folder's ``model.json`` (card only; weights untouched).
    device
        Torch device.

    Returns
    -------
    dict
        The ``validation_as_shipped`` entry: ``protocol``, ``samples``, ``postprocess``,
        ``wald_rmse_k`` / ``wald_ssim`` / ``wald_rmse_bicubic_k`` (H = gaussian, the default),
        ``by_degradation`` (every H: the model's and bicubic's scores), ``files``,
        ``aster_files_read``, ``computed_by``, ``computed``, ``sha256``.
    """
    from lstcloud.models import load_model
    from lstcloud.models.card import read_card, write_card

    folder = Path(folder)
    card = read_card(folder)
    training = card.get("training_data") or {}
    samples = list(training.get("validation_samples") or [])
    if not samples:
        raise ConfigError(f"{folder}: the card lists no training_data.validation_samples")
    if data is None:
        path = training.get("path")
        data = Path(path) if path and Path(path).is_dir() else default_dev_folder()
    model = load_model(folder, device=device)
    bicubic = load_model("bicubic", device=device)
    scores, ds = wald_scores(
        {"model": model, "bicubic": bicubic},
        data=data,
        samples=samples,
        degradations=degradations,
    )
    first = degradations[0]
    described = ds.describe()
    entry: dict[str, Any] = {
        "protocol": "wald",
        "description": (
            "the model as shipped (load_model(folder).predict, with the card's postprocess) on "
            "the validation samples: real MODIS 1 km LST degraded to 4 km and 250 m NDVI to "
            "1 km with H, super-resolved back, scored against the 1 km LST; mean over samples"
        ),
        "data": Path(data).name,
        "samples": samples,
        "postprocess": card.get("postprocess"),
        "sha256": card.get("sha256"),
        "degradation": first,
        "wald_rmse_k": scores["model"][first]["rmse_k"],
        "wald_ssim": scores["model"][first]["ssim"],
        "wald_rmse_bicubic_k": scores["bicubic"][first]["rmse_k"],
        "wald_ssim_bicubic": scores["bicubic"][first]["ssim"],
        "by_degradation": {
            h: {"model": scores["model"][h], "bicubic": scores["bicubic"][h]}
            for h in degradations
        },
        "files": described["files"],
        "files_read_count": described["files_read_count"],
        "aster_files_read": described["aster_files_read"],
        "computed_by": "lstcloud.training.shipped.validate_as_shipped",
        "computed": dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat(),
    }
    entry = _finite(entry)
    if write:
        card = read_card(folder)
        card["validation_as_shipped"] = entry
        note = (
            f"validation_as_shipped: the model as shipped (postprocess {card.get('postprocess')}) "
            f"on the {len(samples)} validation samples, Wald H={first}: RMSE "
            f"{entry['wald_rmse_k']:.2f} K (bicubic {entry['wald_rmse_bicubic_k']:.2f} K); "
            "'validation' holds the bare network's figures at the end of training"
        )
        notes = [n for n in card.get("notes", []) if not n.startswith("validation_as_shipped:")]
        card["notes"] = [*notes, note]
        write_card(folder, card)
    return entry


def _finite(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
