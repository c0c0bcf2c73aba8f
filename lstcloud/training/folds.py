"""Scene-level folds and the fold models of the out-of-fold (cross-validated) ASTER protocol.

The fold assignment is fixed and documented: the sample names are sorted and sample ``i``
(0-based, in that order) goes to fold ``i mod K``. Every learned method is retrained for each
fold on the MODIS inputs (LST + NDVI) of the *other* folds only; its early stopping and every
in-method choice use the training folds alone (the validation split of the training config is
drawn among the training-fold scenes, scored by the MODIS-only validation loss). The ASTER
files are never opened by training (the dataset's reader records what it opened, and the fold
model's card says so).

Fold models are cached on disk (``ROOT/fold{k}/{member}-{digest}/``): a finished member whose
card records the same training config is reused, and an interrupted one resumes from its
checkpoint, so a rerun of the protocol picks up where it stopped.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from lstcloud.errors import ConfigError
from lstcloud.models.card import CARD_FILE
from lstcloud.training.config import TrainConfig
from lstcloud.training.loop import train

__all__ = [
    "FOLD_RULE",
    "FoldMember",
    "assign_folds",
    "cached_fold_member",
    "member_key",
    "train_fold_member",
]

log = logging.getLogger(__name__)

FOLD_RULE = "sorted sample names; sample i (0-based) goes to fold i mod K"


def assign_folds(samples: Sequence[str], k: int) -> list[list[str]]:
    """The ``k`` folds of ``samples`` (:data:`FOLD_RULE`): a list of ``k`` lists of names.

    Raises
    ------
    ConfigError
        When ``k < 2`` or there are fewer samples than folds.
    """
    names = sorted(str(s) for s in samples)
    if k < 2:
        raise ConfigError(f"--cv needs K >= 2 folds, got {k}")
    if len(names) < k:
        raise ConfigError(f"--cv {k}: only {len(names)} samples, fewer than the folds")
    return [[n for i, n in enumerate(names) if i % k == fold] for fold in range(k)]


@dataclass(frozen=True)
class FoldMember:
    """One network to train per fold: its training config (data paths are set per fold)."""

    config: TrainConfig

    @property
    def key(self) -> str:
        """Cache folder name: ``{config.name}-{digest of the config}``."""
        return member_key(self.config)


def _recipe_dump(config: TrainConfig) -> dict:
    data = config.model_dump(mode="json")
    for field in ("path", "samples", "val_samples", "storage_options", "num_workers"):
        data["data"].pop(field, None)
    data.pop("num_threads", None)
    data.pop("device", None)
    if data.get("distill"):
        data["distill"].pop("teacher_folders", None)  # per fold, not part of the recipe
    else:
        data.pop("distill", None)  # (keys of the recipes from before the field existed)
    return data


def member_key(config: TrainConfig) -> str:
    """``{name}-{12 hex digits}``: the digest of the recipe (config minus data paths/threads)."""
    text = json.dumps(_recipe_dump(config), sort_keys=True)
    return f"{config.name}-{hashlib.sha256(text.encode()).hexdigest()[:12]}"


def fold_config(
    config: TrainConfig,
    *,
    data: str | Path,
    train_samples: Sequence[str],
    max_steps: int | None = None,
    threads: int | None = None,
) -> TrainConfig:
    """``config`` restricted to the training folds' samples of ``data`` (MODIS files only)."""
    updates: dict = {
        "data.path": str(data),
        "data.source": "dev-folder",
        "data.samples": sorted(train_samples),
        "data.val_samples": None,
        "device": "cpu",
    }
    if max_steps is not None:
        updates["optim.max_steps"] = int(max_steps)
    if threads is not None:
        updates["num_threads"] = int(threads)
    return config.with_updates(**updates)


def _finished(folder: Path, config: TrainConfig) -> bool:
    card_path = folder / CARD_FILE
    if not (card_path.is_file() and (folder / "model.safetensors").is_file()):
        return False
    card = json.loads(card_path.read_text(encoding="utf-8"))
    recorded = (card.get("training") or {}).get("config") or {}
    # a cache written by a version whose config has more (unset) fields still matches
    recorded = {k: v for k, v in recorded.items() if k in TrainConfig.model_fields or v is not None}
    try:
        recorded_cfg = TrainConfig.model_validate(recorded)
    except ValueError:
        return False
    return member_key(recorded_cfg) == member_key(config) and sorted(
        recorded_cfg.data.samples or []
    ) == sorted(config.data.samples or [])


def cached_fold_member(
    member: FoldMember,
    *,
    data: str | Path,
    train_samples: Sequence[str],
    root: str | Path,
    fold: int,
    max_steps: int | None = None,
) -> Path | None:
    """The folder of ``member``'s finished fold model in the cache, or ``None`` (nothing is
    trained: for readers that must not start a training, e.g. while another run trains it)."""
    config = fold_config(member.config, data=data, train_samples=train_samples,
                         max_steps=max_steps)
    folder = _fold_folder(root, fold, config)
    return folder if _finished(folder, config) else None


def _fold_folder(root: str | Path, fold: int, config: TrainConfig) -> Path:
    """``root/fold{fold}/{member key}``: where a fold model of ``config`` is cached."""
    return Path(root) / f"fold{fold}" / member_key(config)


def train_fold_member(
    member: FoldMember,
    *,
    data: str | Path,
    train_samples: Sequence[str],
    root: str | Path,
    fold: int,
    max_steps: int | None = None,
    threads: int | None = None,
) -> Path:
    """Train (or reuse from the cache) ``member`` on the training folds; return its folder.

    The folder is ``root/fold{fold}/{member.key}`` (with ``max_steps`` the key says so).
    """
    config = fold_config(
        member.config,
        data=data,
        train_samples=train_samples,
        max_steps=max_steps,
        threads=threads,
    )
    if config.distill is not None:
        config = _with_fold_teacher(config, data=data, train_samples=train_samples, root=root,
                                    fold=fold, max_steps=max_steps, threads=threads)
    folder = _fold_folder(root, fold, config)
    if _finished(folder, config):
        log.info("fold %d: reusing %s", fold, folder)
        return folder
    log.info("fold %d: training %s on %d scenes", fold, config.name, len(train_samples))
    train(config, out=folder, resume=True, progress=False)
    return folder


def _with_fold_teacher(
    config: TrainConfig,
    *,
    data: str | Path,
    train_samples: Sequence[str],
    root: str | Path,
    fold: int,
    max_steps: int | None,
    threads: int | None,
) -> TrainConfig:
    """A ``distill`` config whose teacher is the fold's own: each member of its recipe trained
    (or reused) on the same training folds, so no held-out scene reaches the student."""
    d = config.distill
    assert d is not None
    if not d.teacher_recipe:
        raise ConfigError(
            f"{config.name}: its distill section records no teacher_recipe, so the teacher "
            "cannot be rebuilt per fold (train the student once so that its card records it)"
        )
    folders = [
        train_fold_member(FoldMember(TrainConfig.model_validate(m)), data=data,
                          train_samples=train_samples, root=root, fold=fold,
                          max_steps=max_steps, threads=threads)
        for m in d.teacher_recipe["members"]
    ]
    return config.with_updates(**{"distill.teacher_folders": [str(f) for f in folders]})
