"""``load_model``: a shipped model, a classical baseline, or a model folder, by name or path."""

from __future__ import annotations

import os
import tempfile
import warnings
from importlib import resources
from pathlib import Path
from typing import Any

import torch

from lstcloud.errors import ConfigError, LstcloudWarning, redact_url
from lstcloud.models.base import SuperResolver
from lstcloud.models.baselines import BASELINES
from lstcloud.models.card import CARD_FILE, WEIGHTS_FILE, read_card
from lstcloud.models.cnn import load_cnn
from lstcloud.models.ensemble import ENSEMBLE, load_ensemble

__all__ = [
    "SHIPPED_MODELS",
    "available_models",
    "load_model",
    "model_folder",
    "shipped_models_dir",
]

#: Models shipped in ``lstcloud/data/models/<name>/``.
SHIPPED_MODELS: tuple[str, ...] = ("default", "ensemble", "sif-cnn-sr1", "sif-cnn-sr2", "sc-unet")


def shipped_models_dir() -> Path:
    """The folder of the shipped models inside the installed package."""
    return Path(str(resources.files("lstcloud"))) / "data" / "models"


def available_models() -> list[str]:
    """Names :func:`load_model` accepts: the baselines and the shipped models present."""
    root = shipped_models_dir()
    shipped = [n for n in SHIPPED_MODELS if (root / n / CARD_FILE).is_file()]
    extra = (
        sorted(
            p.name
            for p in root.glob("*")
            if (p / CARD_FILE).is_file() and p.name not in SHIPPED_MODELS
        )
        if root.is_dir()
        else []
    )
    return [*BASELINES, *shipped, *extra]


def model_folder(name_or_path: str | Path) -> Path:
    """The local folder of a shipped model's name or of a model folder path, with
    :func:`load_model`'s precedence (a plain name is a shipped model first); for scripts that
    copy model folders (``training/build_default.py``)."""
    key = str(name_or_path)
    shipped = shipped_models_dir() / key
    if _is_plain_name(key) and (shipped / CARD_FILE).is_file():
        return shipped
    path = Path(key).expanduser()
    if (path / CARD_FILE).is_file():
        return path
    raise ConfigError(f"no model folder {key!r}: give a model folder or a shipped model's name")


def load_model(
    name_or_path: str | Path,
    *,
    device: str | torch.device | None = None,
    storage_options: dict[str, Any] | None = None,
) -> SuperResolver:
    """Load a super-resolution method.

    Parameters
    ----------
    name_or_path : str or Path
        ``"sif-cnn-sr1"``, ``"sif-cnn-sr2"``, ``"sc-unet"`` (shipped models), ``"bicubic"``,
        ``"tsharp"``, ``"tsharp-window"`` (baselines), a model folder (or its ``model.json``),
        or a folder URL (``s3://...``, ``https://...``) read through fsspec.
    device : str or torch.device, optional
        Default: CUDA when available, else CPU.
    storage_options : dict, optional
        fsspec options for a URL.

    Returns
    -------
    SuperResolver
        An object with ``predict(lst_1km, ndvi_250m)``, ``predict_tensor``, ``card`` and
        ``receptive_field_px``. Loading reads JSON and safetensors only: no code is executed.

    Notes
    -----
    Name precedence: a plain name (no path separator) is looked up as a baseline, then as a
    shipped model, before it is tried as a folder of the working directory. When a folder of
    that name also exists there, the built-in method is loaded and an
    :class:`~lstcloud.errors.LstcloudWarning` says so; pass ``./NAME`` (or an absolute path) to
    load the folder.
    """
    key = str(name_or_path)
    builtin = _is_plain_name(key)
    if builtin and key in BASELINES:
        _warn_if_shadowed(key, "the built-in baseline")
        return BASELINES[key](device=device)
    shipped = shipped_models_dir() / key
    if builtin and (shipped / CARD_FILE).is_file():
        _warn_if_shadowed(key, f"the shipped model at {shipped}")
        return _load_folder(shipped, device=device)
    if builtin and key in SHIPPED_MODELS:
        raise ConfigError(
            f"shipped model {key!r} is not installed at {shipped}; train it with "
            f"`lstcloud train --config training/configs/{key}.yaml --out {shipped}`"
        )
    if "://" in key and not key.startswith("file://"):
        return _load_url(key, device=device, storage_options=storage_options)
    path = Path(key.removeprefix("file://")).expanduser()
    if path.is_file() and path.name == CARD_FILE:
        path = path.parent
    if path.is_dir():
        return _load_folder(path, device=device)
    raise ConfigError(
        f"no model {key!r}: give a model folder or one of {', '.join(available_models())}"
    )


def _is_plain_name(key: str) -> bool:
    """A registry name: one path component, not ``.``/``..``, no URL scheme."""
    return (
        bool(key)
        and "://" not in key
        and "/" not in key
        and os.sep not in key
        and key not in (".", "..")
    )


def _warn_if_shadowed(key: str, chosen: str) -> None:
    local = Path(key)
    if local.is_dir():
        warnings.warn(
            f"load_model({key!r}): loading {chosen}, not the folder {local.resolve()} of the "
            f"working directory with the same name; pass './{key}' or an absolute path to load "
            "the folder",
            LstcloudWarning,
            stacklevel=3,
        )


def _load_folder(folder: Path, *, device: str | torch.device | None) -> SuperResolver:
    card = read_card(folder)
    architecture = card["architecture"]
    if architecture in BASELINES:
        options = card.get("method_options") or {}
        try:
            return BASELINES[architecture](**options, device=device)
        except TypeError as exc:
            raise ConfigError(f"{folder}/{CARD_FILE}: bad method_options: {exc}") from None
    if architecture == ENSEMBLE:
        return load_ensemble(folder, device=device)
    return load_cnn(folder, device=device)


def _load_url(
    url: str, *, device: str | torch.device | None, storage_options: dict[str, Any] | None
) -> SuperResolver:
    from lstcloud import storage

    fs = storage.filesystem(url, storage_options)
    base = storage.strip_protocol(url).rstrip("/")
    with tempfile.TemporaryDirectory(prefix="lstcloud-model-") as tmp:
        for name in (CARD_FILE, WEIGHTS_FILE):
            remote = f"{base}/{name}"
            if not fs.exists(remote):
                if name == WEIGHTS_FILE:
                    continue  # baselines have no weights
                raise ConfigError(f"no {name} at {redact_url(url)}")
            fs.get(remote, str(Path(tmp) / name))
        return _load_folder(Path(tmp), device=device)
