"""Training configuration: a pydantic model loaded from YAML, strict about unknown fields.

A config file names the method (``sif``: scale-invariance-free training at 1 km -> 250 m,
``scale-consistency``: SC-UNet, trained 4 km -> 1 km and applied 1 km -> 250 m, or ``distill``:
one network trained to reproduce a teacher model's output, :mod:`lstcloud.training.distill`), the
loss preset
of :mod:`lstcloud.models.losses`, the data and the optimiser. Every field has a default so a
config file only says what differs; see ``training/configs/*.yaml``.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from lstcloud.errors import ConfigError

__all__ = [
    "DataConfig",
    "DistillConfig",
    "EarlyStoppingConfig",
    "OptimConfig",
    "TrainConfig",
    "load_config",
    "recorded_config",
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DataConfig(_Strict):
    """Where the training pairs come from and how patches are drawn.

    Attributes
    ----------
    source
        ``dev-folder`` (folders of ``modis_lst_1km.tif`` + ``modis_ndvi_250m.tif``),
        ``cube`` (an input datacube URL) or ``auto`` (a local folder with sample sub-folders is a
        dev folder, anything else a cube).
    path
        Folder or cube URL; ``--data`` on the command line overrides it. Relative paths are
        resolved against the config file's folder first, then the working directory.
    samples
        Dev-folder sample ids to use (``None`` = all).
    start, end
        Cube time window (inclusive); required for a cube.
    patch_1km
        Patch size in 1 km pixels (the 250 m patch is 4x); a multiple of 8.
    min_valid
        Minimum valid fraction (LST and NDVI both finite) of a training patch.
    val_fraction, val_samples
        Validation split, by sample (dev folder) or by day (cube), never by patch of one image.
        ``val_samples`` (explicit ids) overrides ``val_fraction``.
    patches_per_epoch
        Number of random patches in one epoch (per process).
    augment
        Random flips / rot90, applied identically to LST and NDVI.
    num_workers
        Data-loader worker processes reading patches ahead of the GPU (0 = read in the training
        process). Patches are a function of (seed, epoch, index), so results do not depend on it.
    storage_options
        fsspec options for a remote cube.
    """

    source: Literal["auto", "dev-folder", "cube"] = "auto"
    path: str | None = None
    samples: list[str] | None = None
    start: dt.date | None = None
    end: dt.date | None = None
    patch_1km: int = Field(32, ge=8, le=1024)
    min_valid: float = Field(0.8, ge=0.0, le=1.0)
    val_fraction: float = Field(0.2, ge=0.0, lt=1.0)
    val_samples: list[str] | None = None
    patches_per_epoch: int = Field(256, ge=1)
    augment: bool = True
    num_workers: int = Field(0, ge=0)
    storage_options: dict[str, Any] = Field(default_factory=dict)

    @field_validator("patch_1km")
    @classmethod
    def _multiple_of_8(cls, value: int) -> int:
        if value % 8:
            raise ValueError(f"must be a multiple of 8 (the U-Net pools three times), got {value}")
        return value

    @model_validator(mode="after")
    def _window(self) -> DataConfig:
        if self.start and self.end and self.end < self.start:
            raise ValueError(f"end {self.end} is before start {self.start}")
        return self


class OptimConfig(_Strict):
    """Optimiser (AdamW) and learning-rate schedule (linear warm-up, then cosine or constant)."""

    lr: float = Field(1e-3, gt=0)
    weight_decay: float = Field(1e-4, ge=0)
    batch_size: int = Field(8, ge=1)
    max_steps: int = Field(500, ge=1)
    warmup_steps: int = Field(20, ge=0)
    schedule: Literal["cosine", "constant"] = "cosine"
    min_lr_ratio: float = Field(0.05, ge=0, le=1)
    grad_clip: float | None = Field(1.0, gt=0)


class EarlyStoppingConfig(_Strict):
    """Stop when the validation loss has not improved by ``min_delta`` for ``patience`` checks."""

    enabled: bool = True
    patience: int = Field(6, ge=1)
    min_delta: float = Field(0.0, ge=0)


class DistillConfig(_Strict):
    """What a ``distill`` run reproduces, and how (:mod:`lstcloud.training.distill`).

    Attributes
    ----------
    teacher
        Shipped model name or model folder whose output the student learns (e.g. ``ensemble``).
    teacher_recipe
        The teacher's recipe: ``{"members": [training configs], "tta": ..., "postprocess":
        ...}``. Filled from the teacher's card when training starts, and recorded in the
        student's card, so the cross-validation can rebuild the teacher per fold.
    teacher_folders
        The teacher's member folders to use instead of ``teacher`` (set per fold by
        :func:`lstcloud.training.folds.train_fold_member`; not part of the recipe).
    postprocess
        The student's post-processing (e.g. the low-pass residual correction); the student is
        trained through it, and its card carries it.
    coarse_weight
        Weight of the coarsened copies in the loss (LST 4 km + NDVI 1 km -> 1 km, the teacher's
        output on them as the target: the scale-invariance assumption); ``0`` = off.
    init_from_member
        Start from the weights and normalisation of this teacher member (same architecture),
        or ``None`` for a fresh network (normalisation from the training scenes).
    batch_scenes
        Whole scenes (each in a random flip/rot90) per optimiser step.
    """

    teacher: str = Field(..., min_length=1)
    teacher_recipe: dict[str, Any] | None = None
    teacher_folders: list[str] | None = None
    postprocess: dict[str, Any] | None = None
    coarse_weight: float = Field(0.5, ge=0)
    init_from_member: int | None = Field(0, ge=0)
    batch_scenes: int = Field(2, ge=1)


class TrainConfig(_Strict):
    """A complete training run.

    Attributes
    ----------
    name
        Model name written into the card (e.g. ``sif-cnn-sr1``).
    method
        ``sif`` (scale-invariance-free loss at 250 m), ``scale-consistency`` (SC-UNet) or
        ``distill`` (reproduce the teacher of ``distill``; the ``loss`` preset is unused).
    loss
        Preset name in :data:`lstcloud.models.losses.PRESETS`.
    loss_overrides
        Fields of :class:`lstcloud.models.losses.LossConfig` that replace the preset's values.
    network
        Options of :class:`lstcloud.models.network.NetworkConfig` (default: the published U-Net).
    data, optim, early_stopping
        See :class:`DataConfig`, :class:`OptimConfig`, :class:`EarlyStoppingConfig`.
    validate_every, checkpoint_every, log_every
        In optimiser steps.
    seed
        Seeds the weights, the split and every patch draw (runs are reproducible).
    device
        ``auto`` (CUDA when present), ``cpu`` or ``cuda``.
    amp
        Mixed precision on CUDA (``auto`` = bf16 where supported, else fp16); always float32
        on CPU.
    num_threads
        ``torch.set_num_threads`` on CPU (``None`` = leave torch's default).
    channels_last
        NHWC memory layout for the network and its inputs (about 25 % faster convolutions on
        CPU, and the layout tensor cores prefer).
    description
        Free text copied into the card.
    distill
        The teacher and options of a ``distill`` run (:class:`DistillConfig`).
    """

    name: str = Field(..., min_length=1, pattern=r"^[A-Za-z0-9._-]+$")
    method: Literal["sif", "scale-consistency", "distill"] = "sif"
    loss: str = "sif-cnn-sr1"
    loss_overrides: dict[str, Any] = Field(default_factory=dict)
    network: dict[str, Any] = Field(default_factory=dict)
    data: DataConfig = Field(default_factory=DataConfig)
    optim: OptimConfig = Field(default_factory=OptimConfig)
    early_stopping: EarlyStoppingConfig = Field(default_factory=EarlyStoppingConfig)
    validate_every: int = Field(50, ge=1)
    checkpoint_every: int = Field(100, ge=1)
    log_every: int = Field(10, ge=1)
    seed: int = 0
    device: Literal["auto", "cpu", "cuda"] = "auto"
    amp: Literal["auto", "bf16", "fp16", "off"] = "auto"
    num_threads: int | None = Field(None, ge=1)
    channels_last: bool = True
    description: str = ""
    distill: DistillConfig | None = None

    @model_validator(mode="after")
    def _known_loss_and_network(self) -> TrainConfig:
        from lstcloud.models.losses import PRESETS
        from lstcloud.models.network import NetworkConfig

        if self.loss not in PRESETS:
            raise ValueError(f"loss preset {self.loss!r} unknown; choose from {sorted(PRESETS)}")
        try:
            NetworkConfig.from_dict(self.network)
        except (ConfigError, TypeError) as exc:
            raise ValueError(f"network: {exc}") from None
        if (self.method == "distill") != (self.distill is not None):
            raise ValueError("method 'distill' needs a 'distill' section, and only it takes one")
        return self

    def with_updates(self, **updates: Any) -> TrainConfig:
        """A validated copy with top-level or dotted (``optim.max_steps``) fields replaced."""
        data = self.model_dump()
        for key, value in updates.items():
            target = data
            *parents, leaf = key.split(".")
            for parent in parents:
                target = target[parent]
            target[leaf] = value
        return _validate(data, source="overrides")


def _format_errors(exc: ValidationError) -> str:
    lines = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err["loc"]) or "<root>"
        lines.append(f"  {where}: {err['msg']}")
    return "\n".join(lines)


def _validate(data: Any, *, source: str) -> TrainConfig:
    if not isinstance(data, dict):
        kind = type(data).__name__
        raise ConfigError(f"{source}: a training config must be a mapping, got {kind}")
    try:
        return TrainConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(f"{source}: invalid training config:\n{_format_errors(exc)}") from None


def load_config(path: str | Path, **overrides: Any) -> TrainConfig:
    """Read a :class:`TrainConfig` from a YAML file.

    Parameters
    ----------
    path
        YAML file.
    **overrides
        Fields to replace after loading (dotted names for nested fields, e.g.
        ``**{"optim.max_steps": 10}``).

    Raises
    ------
    ConfigError
        When the file is missing, is not YAML, or a field is unknown or invalid; the message
        names the file and every offending field.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read training config ({exc.strerror})") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    config = _validate(data, source=str(path))
    if config.data.path and not _is_url(config.data.path):
        candidate = (path.parent / config.data.path).resolve()
        if candidate.exists():
            config = config.with_updates(**{"data.path": str(candidate)})
    return config.with_updates(**overrides) if overrides else config


def _is_url(value: str) -> bool:
    return "://" in value


def recorded_config(card: dict[str, Any], source: str) -> dict[str, Any]:
    """The training config a model card records (``training.config``), as a plain copy with
    its data path unset: the recipe to retrain the model on other data (e.g. per fold).

    Raises
    ------
    ConfigError
        When the card records none (``source`` names the model in the message).
    """
    recorded = (card.get("training") or {}).get("config")
    if not recorded:
        raise ConfigError(f"{source}: its card records no training config to retrain it per fold")
    recorded = json.loads(json.dumps(recorded))
    recorded.setdefault("data", {})["path"] = None
    return recorded
