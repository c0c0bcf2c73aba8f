"""Super-resolution methods as the evaluation sees them: a name, a ``predict`` and whether the
method needs the NDVI guide.

``lstcloud.models.load_model`` provides the shipped methods (``default``, ``bicubic``,
``tsharp``, ``sc-unet``, ``sif-cnn-sr1``, ``sif-cnn-sr2``, the ``*-published`` presets, or a
model folder). ``nearest`` (1 km replicated, :mod:`lstcloud.evaluate.baselines`) and ``dms``
(data-mining sharpener) live in this package; the ``source`` of a method says which
implementation ran.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from lstcloud import models
from lstcloud.errors import ConfigError, LstcloudError

from . import baselines

__all__ = [
    "KNOWN_METHODS",
    "LST_ONLY_METHODS",
    "Method",
    "parse_methods",
    "resolve_method",
    "resolve_methods",
    "training_overlap",
]

log = logging.getLogger(__name__)

LST_ONLY_METHODS: frozenset[str] = frozenset({"nearest", "bicubic"})
"""Methods that use the LST alone (the only ones usable without an NDVI guide)."""

SHIPPED_MODELS: tuple[str, ...] = ("default", "ensemble", "sc-unet", "sif-cnn-sr1", "sif-cnn-sr2")
MODEL_BASELINES: tuple[str, ...] = ("bicubic", "tsharp", "tsharp-window")
PUBLISHED_PRESETS: tuple[str, ...] = ("sif-cnn-sr1-published", "sif-cnn-sr2-published")
KNOWN_METHODS: tuple[str, ...] = (
    "nearest",
    "bicubic",
    "tsharp",
    "tsharp-window",
    "dms",
    *SHIPPED_MODELS,
    *PUBLISHED_PRESETS,
)

Predict = Callable[[np.ndarray, np.ndarray | None], np.ndarray]


@dataclass(frozen=True)
class Method:
    """A super-resolution method under evaluation.

    Attributes
    ----------
    name
        Name used in tables and in metrics.json.
    predict
        ``predict(lst_coarse, ndvi_fine) -> lst_fine`` (float32, K, 4x; ``ndvi_fine`` may be
        ``None`` for LST-only methods).
    needs_ndvi
        False for LST-only methods.
    source
        Which implementation runs (``"lstcloud.models"``, ``"lstcloud.evaluate.baselines"`` ...).
    card
        The model card when the method is a model (else empty).
    predict_with_uncertainty
        ``(lst_coarse, ndvi_fine) -> (lst_fine, sigma_fine)`` (K) for a model with a
        calibrated uncertainty (its card's ``uncertainty`` section), else ``None``.
    """

    name: str
    predict: Predict
    needs_ndvi: bool
    source: str
    card: dict[str, Any] = field(default_factory=dict)
    predict_with_uncertainty: Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]] \
        | None = None


def _card_dict(card: Any) -> dict[str, Any]:
    if card is None:
        return {}
    if isinstance(card, dict):
        return dict(card)
    for attr in ("model_dump", "to_dict", "dict"):
        fn = getattr(card, attr, None)
        if callable(fn):
            try:
                return dict(fn())
            except TypeError:
                continue
    if hasattr(card, "__dict__"):
        return {k: v for k, v in vars(card).items() if not k.startswith("_")}
    return {"card": str(card)}


def _card_needs_ndvi(card: dict[str, Any], default: bool) -> bool:
    if card.get("architecture") in LST_ONLY_METHODS:
        return False
    inputs = card.get("inputs")
    if isinstance(inputs, list | tuple) and inputs:
        return any("ndvi" in str(i).lower() for i in inputs)
    return default


def _from_model(name: str, model: Any, *, needs_ndvi_default: bool) -> Method:
    card = _card_dict(getattr(model, "card", None))
    needs_ndvi = _card_needs_ndvi(card, needs_ndvi_default)

    def predict(lst: np.ndarray, ndvi: np.ndarray | None) -> np.ndarray:
        if ndvi is None:
            ndvi = np.full((lst.shape[0] * 4, lst.shape[1] * 4), np.nan, np.float32)
        out = model.predict(np.asarray(lst, np.float32), np.asarray(ndvi, np.float32))
        return np.asarray(out, dtype=np.float32)

    with_sigma = None
    if getattr(model, "uncertainty", None) is not None:

        def with_sigma(lst: np.ndarray, ndvi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            pred, sigma = model.predict_with_uncertainty(np.asarray(lst, np.float32),
                                                         np.asarray(ndvi, np.float32))
            return np.asarray(pred, np.float32), np.asarray(sigma, np.float32)

    return Method(
        name=name, predict=predict, needs_ndvi=needs_ndvi, source="lstcloud.models", card=card,
        predict_with_uncertainty=with_sigma,
    )


def _local(name: str) -> Method:
    if name == "nearest":
        return Method(
            name=name,
            predict=lambda lst, ndvi: baselines.nearest_upsample(lst),
            needs_ndvi=False,
            source="lstcloud.evaluate.baselines",
        )
    if name == "dms":
        from .dms import DMSSharpener

        sharpener = DMSSharpener()
        return Method(
            name=name,
            predict=lambda lst, ndvi: sharpener.predict(lst, ndvi),
            needs_ndvi=True,
            source="lstcloud.evaluate.dms",
            card=sharpener.card,
        )
    raise ConfigError(f"no local implementation of method {name!r}")


def _load(models: Any, name_or_path: str, device: str | None) -> Any:
    if device is None:
        return models.load_model(name_or_path)
    return models.load_model(name_or_path, device=device)


def resolve_method(
    name: str, *, model_path: str | Path | None = None, device: str | None = None
) -> Method:
    """Build the :class:`Method` called ``name`` (or the model folder ``model_path``).

    Trained models and the model baselines come from ``lstcloud.load_model`` (the same
    ``predict(lst_1km, ndvi_250m)`` the product uses), on ``device`` (default: CUDA when
    available, else CPU).

    Raises
    ------
    ConfigError
        For an unknown name, a model that is not shipped, or ``lstcloud.models`` missing when a
        trained model is asked for. The message names the method.
    """
    if model_path is not None:
        path = Path(model_path)
        if not path.is_dir():
            raise ConfigError(f"--model {path}: not a folder")
        try:
            model = _load(models, str(path), device)
        except (LstcloudError, OSError, KeyError, ValueError) as exc:
            raise ConfigError(f"--model {path}: cannot load the model: {exc}") from exc
        return _from_model(name or path.name, model, needs_ndvi_default=True)
    if name in ("nearest", "dms"):
        return _local(name)
    if name not in KNOWN_METHODS:
        raise ConfigError(
            f"unknown method {name!r}; choose from {', '.join(KNOWN_METHODS)} or --model DIR"
        )
    try:
        model = _load(models, name, device)
    except (LstcloudError, OSError, KeyError, ValueError) as exc:
        if name in PUBLISHED_PRESETS:
            raise ConfigError(
                f"method {name!r}: no trained model is shipped for the published-weighting "
                f"preset (lstcloud/data/models/{name}/ is absent). Train one with `lstcloud "
                f"train --config training/configs/{name}.yaml --out DIR` and evaluate it with "
                f"--model DIR"
            ) from exc
        raise ConfigError(f"method {name!r} is not available: {exc}") from exc
    return _from_model(name, model, needs_ndvi_default=name not in LST_ONLY_METHODS)


def parse_methods(text: str) -> list[str]:
    """Split a ``--methods`` value (``"bicubic,tsharp"``) into unique names, in order."""
    names = [n.strip() for n in str(text).split(",") if n.strip()]
    if not names:
        raise ConfigError("--methods is empty")
    return list(dict.fromkeys(names))


def resolve_methods(
    names: Sequence[str],
    *,
    model_paths: Sequence[str | Path] = (),
    require_lst_only: bool = False,
    device: str | None = None,
) -> list[Method]:
    """Resolve every name (and every ``--model`` folder, named after the folder).

    Parameters
    ----------
    names
        Method names.
    model_paths
        Extra model folders.
    require_lst_only
        Refuse the methods that need NDVI (data without a 250 m guide).
    device
        Torch device of the trained models (``"cpu"``, ``"cuda"``; default automatic).

    Raises
    ------
    ConfigError
        For unknown / unavailable methods, or NDVI methods when ``require_lst_only``.
    """
    if require_lst_only:
        refused = [n for n in names if n not in LST_ONLY_METHODS and n in KNOWN_METHODS]
        if refused:
            raise ConfigError(
                f"this data has no NDVI guide: {', '.join(refused)} need(s) NDVI; the LST-only "
                f"methods are {', '.join(sorted(LST_ONLY_METHODS))}"
            )
    methods = [resolve_method(n, device=device) for n in names]
    methods += [resolve_method(Path(p).name, model_path=p, device=device) for p in model_paths]
    seen: set[str] = set()
    for method in methods:
        if method.name in seen:
            raise ConfigError(
                f"method name {method.name!r} given twice (a --model folder named like a "
                "listed method?): rename the folder"
            )
        seen.add(method.name)
    if require_lst_only:
        refused = [m.name for m in methods if m.needs_ndvi]
        if refused:
            raise ConfigError(
                f"this data has no NDVI guide: {', '.join(refused)} need(s) NDVI; the LST-only "
                f"methods are {', '.join(sorted(LST_ONLY_METHODS))}"
            )
    return methods


def training_overlap(method: Method, *, data: str | Path, samples: Iterable[str]) -> list[str]:
    """Evaluated samples that the method's model saw in training (or validation).

    The model card's ``training_data`` (``path`` plus ``train_samples`` /
    ``validation_samples`` / ``samples``) is compared with the evaluated data folder (same
    folder name) and sample names. Methods without a card, or trained elsewhere, give ``[]``.
    """
    training = method.card.get("training_data") if method.card else None
    if not isinstance(training, dict) or not training.get("path"):
        return []
    if Path(str(training["path"])).name != Path(str(data)).name:
        return []
    seen: set[str] = set()
    for key in ("train_samples", "validation_samples", "samples"):
        values = training.get(key)
        if isinstance(values, list | tuple):
            seen.update(str(v) for v in values)
    return sorted(seen & {str(s) for s in samples})
