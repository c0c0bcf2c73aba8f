"""Super-resolution methods: the SIF-CNN network, its loss, the baselines, model packaging.

``load_model(name_or_path)`` is the entry point (re-exported as ``lstcloud.load_model``).
"""

from __future__ import annotations

from lstcloud.models.base import SuperResolver
from lstcloud.models.baselines import BASELINES, BicubicModel, TsHARPModel, TsHARPWindowModel
from lstcloud.models.cnn import CNNModel, load_cnn, prepare_inputs, save_model
from lstcloud.models.losses import PRESETS, LossConfig, SIFLoss, get_preset
from lstcloud.models.network import SIFCNN, NetworkConfig, count_parameters
from lstcloud.models.normalization import Normalization
from lstcloud.models.published import from_published_checkpoint
from lstcloud.models.registry import SHIPPED_MODELS, available_models, load_model

__all__ = [
    "BASELINES",
    "PRESETS",
    "SHIPPED_MODELS",
    "SIFCNN",
    "BicubicModel",
    "CNNModel",
    "LossConfig",
    "NetworkConfig",
    "Normalization",
    "SIFLoss",
    "SuperResolver",
    "TsHARPModel",
    "TsHARPWindowModel",
    "available_models",
    "count_parameters",
    "from_published_checkpoint",
    "get_preset",
    "load_cnn",
    "load_model",
    "prepare_inputs",
    "save_model",
]
