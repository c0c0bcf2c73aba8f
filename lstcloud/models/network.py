"""The SIF-CNN network: the authors' small U-Net (282,705 trainable parameters).

Architecture (reproduced from the layer definitions of the seed paper's published code, with
replicate padding everywhere):

- ``inc``: DoubleConv(2 -> 16)  (DoubleConv = [conv3x3 (no bias) -> BatchNorm -> ReLU] x 2)
- ``down1..down3``: AvgPool2 -> residual DoubleConv(c -> c) (``x + f(x)``) -> conv3x3/BN/ReLU,
  channels 16 -> 32 -> 64 -> 64
- ``up1..up3``: bilinear x2 upsampling, concatenation with the encoder skip, DoubleConv with a
  middle width of half its input: (128 -> 64 -> 32), (64 -> 32 -> 16), (32 -> 16 -> 16)
- ``head``: conv3x3 (16 -> 1, with bias).

Differences from the published code, both opt-in to reproduce it exactly:

- ``align_corners=False`` in the bilinear upsampling (the published code uses ``True``). With
  ``True`` the interpolation positions depend on the size of the whole input, so a tile cut out
  of a larger image is not computed like the same pixels inside the image: chunked inference
  would not equal whole-array inference. With ``False`` the network is translation-equivariant
  for shifts that are multiples of 8 pixels (three 2x poolings).
- ``residual=True`` adds the (z-scored) bicubic LST input channel to the output, so the network
  learns a correction of bicubic. ``False`` (the published behaviour) predicts LST directly.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn
from torch.nn import functional as nnf

from lstcloud.errors import ConfigError

__all__ = ["ARCHITECTURE", "SIFCNN", "NetworkConfig", "count_parameters"]

ARCHITECTURE = "sif-cnn-unet"
_PADDING_MODES = ("replicate", "zeros", "reflect")


@dataclass(frozen=True)
class NetworkConfig:
    """Hyper-parameters of :class:`SIFCNN` (the defaults are the published configuration).

    Attributes
    ----------
    in_channels : int
        Input channels (2: z-scored bicubic LST, z-scored NDVI).
    channels : tuple of int
        Encoder widths; the deepest stage is ``channels[3] // 2`` wide (bilinear U-Net).
    padding_mode : str
        Padding of every 3x3 convolution.
    align_corners : bool
        ``align_corners`` of the bilinear upsampling (see the module docstring).
    residual : bool
        Add input channel 0 (bicubic LST) to the output.
    """

    in_channels: int = 2
    channels: tuple[int, int, int, int] = (16, 32, 64, 128)
    padding_mode: str = "replicate"
    align_corners: bool = False
    residual: bool = False

    def __post_init__(self) -> None:
        if self.padding_mode not in _PADDING_MODES:
            raise ConfigError(
                f"padding_mode {self.padding_mode!r} is not one of {', '.join(_PADDING_MODES)}"
            )
        if len(self.channels) != 4 or any(int(c) <= 0 for c in self.channels):
            raise ConfigError(f"channels must be 4 positive widths, got {self.channels!r}")
        object.__setattr__(self, "channels", tuple(int(c) for c in self.channels))

    def to_dict(self) -> dict:
        """JSON-ready form (stored in the model card)."""
        data = asdict(self)
        data["channels"] = list(self.channels)
        return data

    @classmethod
    def from_dict(cls, data: dict) -> NetworkConfig:
        """Inverse of :meth:`to_dict`; unknown keys raise :class:`~lstcloud.errors.ConfigError`."""
        known = {"in_channels", "channels", "padding_mode", "align_corners", "residual"}
        unknown = set(data) - known
        if unknown:
            raise ConfigError(f"unknown network option(s): {', '.join(sorted(unknown))}")
        values = dict(data)
        if "channels" in values:
            values["channels"] = tuple(values["channels"])
        return cls(**values)


def _conv_bn_relu(cin: int, cout: int, padding_mode: str) -> list[nn.Module]:
    return [
        nn.Conv2d(cin, cout, 3, padding=1, padding_mode=padding_mode, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
    ]


class DoubleConv(nn.Sequential):
    """``[conv3x3 -> BatchNorm -> ReLU] x 2``; the first conv maps to ``mid`` channels."""

    def __init__(
        self, cin: int, cout: int, *, mid: int | None = None, padding_mode: str = "replicate"
    ) -> None:
        mid = mid or cout
        super().__init__(
            *_conv_bn_relu(cin, mid, padding_mode), *_conv_bn_relu(mid, cout, padding_mode)
        )


class DownStage(nn.Module):
    """AvgPool2 -> ``x + DoubleConv(x)`` -> conv3x3/BN/ReLU (``cin -> cout``)."""

    def __init__(self, cin: int, cout: int, *, padding_mode: str) -> None:
        super().__init__()
        self.pool = nn.AvgPool2d(2)
        self.residual = DoubleConv(cin, cin, padding_mode=padding_mode)
        self.project = nn.Sequential(*_conv_bn_relu(cin, cout, padding_mode))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pool(x)
        x = x + self.residual(x)
        return self.project(x)


class UpStage(nn.Module):
    """Bilinear x2 upsampling, concatenation with the skip, DoubleConv(cin -> cout, mid cin/2)."""

    def __init__(self, cin: int, cout: int, *, padding_mode: str, align_corners: bool) -> None:
        super().__init__()
        self.align_corners = align_corners
        self.conv = DoubleConv(cin, cout, mid=cin // 2, padding_mode=padding_mode)

    def forward(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        x = nnf.interpolate(
            x, size=skip.shape[-2:], mode="bilinear", align_corners=self.align_corners
        )
        return self.conv(torch.cat([x, skip], dim=1))


class SIFCNN(nn.Module):
    """The SIF-CNN-SR / SC-UNet U-Net.

    Parameters
    ----------
    config : NetworkConfig, optional
        Hyper-parameters; the default is the published configuration (282,705 parameters).

    Notes
    -----
    ``forward(x)`` takes ``(N, 2, H, W)`` z-scored ``[bicubic LST, NDVI]`` with ``H`` and ``W``
    multiples of 8 and returns ``(N, 1, H, W)`` z-scored LST. In eval mode BatchNorm is a fixed
    per-channel affine map, so the output at a pixel depends only on the inputs within the
    receptive field (:func:`lstcloud.models.receptive_field.measure_receptive_field`).
    """

    def __init__(self, config: NetworkConfig | None = None) -> None:
        super().__init__()
        self.config = config or NetworkConfig()
        c0, c1, c2, c3 = self.config.channels
        pad = self.config.padding_mode
        ac = self.config.align_corners
        self.inc = DoubleConv(self.config.in_channels, c0, padding_mode=pad)
        self.down1 = DownStage(c0, c1, padding_mode=pad)
        self.down2 = DownStage(c1, c2, padding_mode=pad)
        self.down3 = DownStage(c2, c3 // 2, padding_mode=pad)
        self.up1 = UpStage(c3, c2 // 2, padding_mode=pad, align_corners=ac)
        self.up2 = UpStage(c2, c1 // 2, padding_mode=pad, align_corners=ac)
        self.up3 = UpStage(c1, c0, padding_mode=pad, align_corners=ac)
        self.head = nn.Conv2d(c0, 1, 3, padding=1, padding_mode=pad)

    #: Input height and width must be multiples of this (three 2x poolings).
    multiple: int = 8

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Map ``(N, 2, H, W)`` z-scored inputs to ``(N, 1, H, W)`` z-scored LST."""
        if x.ndim != 4 or x.shape[1] != self.config.in_channels:
            raise ConfigError(
                f"SIFCNN expects (N, {self.config.in_channels}, H, W), got {tuple(x.shape)}"
            )
        if x.shape[-2] % self.multiple or x.shape[-1] % self.multiple:
            raise ConfigError(
                f"SIFCNN input height and width must be multiples of {self.multiple}, "
                f"got {tuple(x.shape[-2:])}"
            )
        s0 = self.inc(x)
        s1 = self.down1(s0)
        s2 = self.down2(s1)
        s3 = self.down3(s2)
        y = self.up1(s3, s2)
        y = self.up2(y, s1)
        y = self.up3(y, s0)
        y = self.head(y)
        if self.config.residual:
            y = y + x[:, :1]
        return y


def count_parameters(module: nn.Module) -> int:
    """Number of trainable parameters of ``module``."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad)
