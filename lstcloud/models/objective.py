"""The training objective of a method on a batch: shared by training and test-time adaptation.

``sif`` (scale-invariance-free): the network maps LST 1 km + NDVI 250 m to 250 m and the
:class:`~lstcloud.models.losses.SIFLoss` scores it against the 1 km LST (consistency) and the
NDVI (texture). ``scale-consistency`` (SC-UNet): LST 1 km -> 4 km and NDVI 250 m -> 1 km by
block means, the network maps them back to 1 km and is scored against the 1 km LST. Both build
the network input with :func:`~lstcloud.models.cnn.prepare_inputs`, as inference does.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F  # noqa: N812

from lstcloud.errors import ConfigError
from lstcloud.models.cnn import prepare_inputs
from lstcloud.models.losses import LossConfig, SIFLoss
from lstcloud.models.normalization import Normalization
from lstcloud.ops import degrade

__all__ = ["TrainingObjective", "prepare_batch", "sc_inputs", "sif_inputs", "valid_4km"]


def prepare_batch(
    batch: dict[str, torch.Tensor], norm: Normalization
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """z-scored LST 1 km (NaN -> 0, the mean), z-scored NDVI 250 m (NaN kept), valid 1 km mask."""
    lst, ndvi = batch["lst_1km"], batch["ndvi_250m"]
    mask = torch.isfinite(lst)
    lst_z = torch.nan_to_num(norm.lst_to_z(lst), nan=0.0)
    return lst_z, norm.ndvi_to_z(ndvi), mask


def sif_inputs(batch: dict[str, torch.Tensor], norm: Normalization) -> torch.Tensor:
    """Network input for 1 km -> 250 m, built exactly as inference builds it."""
    return prepare_inputs(batch["lst_1km"], batch["ndvi_250m"], norm)


def sc_inputs(batch: dict[str, torch.Tensor], norm: Normalization) -> torch.Tensor:
    """Scale-consistency input at 1 km: LST 4 km (1 km block means, NaN where any pixel is NaN)
    and NDVI 1 km (block means), through the same input pipeline as inference."""
    lst_4km = degrade(batch["lst_1km"], method="mean", factor=4)
    ndvi_1km = degrade(batch["ndvi_250m"], method="mean", factor=4)
    return prepare_inputs(lst_4km, ndvi_1km, norm)


def valid_4km(mask: torch.Tensor) -> torch.Tensor:
    """1 km pixels whose 4 km block is entirely valid."""
    full = (F.avg_pool2d(mask.float(), 4) >= 1.0).float()
    return F.interpolate(full, scale_factor=4).bool()


class TrainingObjective:
    """The training loss of one method on a batch (LST in kelvin, NDVI)."""

    def __init__(
        self, method: str, loss_cfg: LossConfig, norm: Normalization, *, channels_last: bool = False
    ) -> None:
        self.method = method
        self.norm = norm
        self.layout = torch.channels_last if channels_last else torch.contiguous_format
        self.loss = SIFLoss(loss_cfg, normalization=norm)
        if method == "scale-consistency" and loss_cfg.degradation != "identity":
            raise ConfigError(
                "method scale-consistency compares the prediction with the 1 km LST on the same "
                f"grid: use a loss with degradation 'identity' (e.g. sc-unet), not "
                f"{loss_cfg.degradation!r}"
            )
        if method == "sif" and loss_cfg.degradation == "identity":
            raise ConfigError("method sif needs a loss that degrades 250 m -> 1 km, not 'identity'")

    def __call__(
        self, net: nn.Module, batch: dict[str, torch.Tensor]
    ) -> tuple[torch.Tensor, dict[str, float]]:
        lst_z, ndvi_z, mask = prepare_batch(batch, self.norm)
        if self.method == "sif":
            pred = net(sif_inputs(batch, self.norm).contiguous(memory_format=self.layout))
            guide, valid = ndvi_z, mask
        else:  # scale consistency: learn 4 km -> 1 km, the target is the 1 km LST itself
            x = sc_inputs(batch, self.norm)
            pred = net(x.contiguous(memory_format=self.layout))
            guide, valid = x[:, 1:2], mask & valid_4km(mask)
        # the loss (Sobel / Gaussian convolutions, squared errors) always in float32
        with torch.autocast(pred.device.type, enabled=False):
            return self.loss(pred.float(), lst_z, guide, mask_1km=valid)
