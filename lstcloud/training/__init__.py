"""Training of the SIF-CNN-SR and SC-UNet models (single process, or DDP under torchrun).

>>> from lstcloud.training import load_config, train
>>> config = load_config("training/configs/sif-cnn-sr1.yaml")  # doctest: +SKIP
>>> train(config, out="runs/sr1")                                 # doctest: +SKIP
"""

from __future__ import annotations

from lstcloud.training.config import (
    DataConfig,
    EarlyStoppingConfig,
    OptimConfig,
    TrainConfig,
    load_config,
)
from lstcloud.training.data import (
    CubePatches,
    DevFolderPairs,
    PatchDataset,
    align_ndvi_to_lst,
    open_training_data,
    split_ids,
)
from lstcloud.training.loop import TrainResult, build_loss_config, fit, train, write_loss_curve
from lstcloud.training.shipped import validate_as_shipped, wald_scores

__all__ = [
    "CubePatches",
    "DataConfig",
    "DevFolderPairs",
    "EarlyStoppingConfig",
    "OptimConfig",
    "PatchDataset",
    "TrainConfig",
    "TrainResult",
    "align_ndvi_to_lst",
    "build_loss_config",
    "fit",
    "load_config",
    "open_training_data",
    "split_ids",
    "train",
    "validate_as_shipped",
    "wald_scores",
    "write_loss_curve",
]
