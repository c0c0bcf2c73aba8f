"""The interface every super-resolution method implements, and shared input checks."""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

import numpy as np
import torch

from lstcloud.errors import ConfigError

__all__ = ["FACTOR", "SuperResolver", "check_pair", "check_pair_tensor", "default_device"]

#: Resolution ratio 1 km / 250 m.
FACTOR = 4


@runtime_checkable
class SuperResolver(Protocol):
    """A 1 km -> 250 m LST super-resolution method.

    Attributes
    ----------
    name : str
        Registry name (``"sif-cnn-sr1"``, ``"bicubic"`` ...).
    card : dict
        The ``model.json`` content.
    receptive_field_px : int
        Halo radius in 250 m pixels that makes chunked inference equal whole-array inference
        (a multiple of 8; 0 for pointwise methods).

    Notes
    -----
    ``predict(lst_1km, ndvi_250m)`` maps numpy float32 ``(h, w)`` K and ``(4h, 4w)`` NDVI to
    ``(4h, 4w)`` K; ``predict_tensor`` does the same on ``(N, 1, h, w)`` / ``(N, 1, 4h, 4w)``
    tensors on the method's device. Outputs are NaN where the covering 1 km LST pixel is NaN;
    NaN inputs are filled locally, so the output does not depend on how the input is chunked.
    """

    name: str
    card: dict[str, Any]
    receptive_field_px: int

    def predict(self, lst_1km: np.ndarray, ndvi_250m: np.ndarray) -> np.ndarray: ...

    def predict_tensor(self, lst_1km: torch.Tensor, ndvi_250m: torch.Tensor) -> torch.Tensor: ...

    def to(self, device: str | torch.device) -> SuperResolver: ...


def default_device(device: str | torch.device | None = None) -> torch.device:
    """``device`` if given, else CUDA when available, else CPU."""
    if device is not None:
        return torch.device(device)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def check_pair(
    lst_1km: Any, ndvi_250m: Any, *, factor: int = FACTOR
) -> tuple[np.ndarray, np.ndarray]:
    """Return float32 ``(h, w)`` / ``(f h, f w)`` arrays or raise ``ConfigError``."""
    lst = np.asarray(lst_1km, dtype=np.float32)
    ndvi = np.asarray(ndvi_250m, dtype=np.float32)
    if lst.ndim != 2:
        raise ConfigError(f"lst_1km must be 2-D (h, w), got shape {lst.shape}")
    if ndvi.shape != (lst.shape[0] * factor, lst.shape[1] * factor):
        raise ConfigError(
            f"ndvi_250m shape {ndvi.shape} is not {factor}x the LST shape {lst.shape}"
        )
    return lst, ndvi


def check_pair_tensor(
    lst_1km: torch.Tensor, ndvi_250m: torch.Tensor, *, factor: int = FACTOR
) -> None:
    """Raise ``ConfigError`` unless the tensors are ``(N, 1, h, w)`` / ``(N, 1, f h, f w)``."""
    if lst_1km.ndim != 4 or lst_1km.shape[1] != 1:
        raise ConfigError(f"lst_1km must be (N, 1, h, w), got {tuple(lst_1km.shape)}")
    n, _, h, w = lst_1km.shape
    if tuple(ndvi_250m.shape) != (n, 1, h * factor, w * factor):
        raise ConfigError(
            f"ndvi_250m shape {tuple(ndvi_250m.shape)} is not (N, 1, {factor}h, {factor}w) "
            f"for LST {tuple(lst_1km.shape)}"
        )
