"""The scale-invariance-free (SIF) loss and its named presets.

``L = texture_weight * J(G(T_hat), gamma * G(V_h)) + consistency_weight * J(H(T_hat), T_l)``

with ``T_hat`` the predicted 250 m LST, ``V_h`` the 250 m NDVI and ``T_l`` the 1 km LST, all
z-scored. The two weights are explicit, so both conventions of the literature are expressible:

- the deck writes ``alpha * texture + (1 - alpha) * consistency``;
- the authors' published code writes ``alpha * consistency + (1 - alpha) * texture``.

Presets (see ``docs/models.md``):

=======================  =======  ===========  =====  =========  ========  =====
preset                   texture  consistency  gamma  G          H         J
=======================  =======  ===========  =====  =========  ========  =====
sif-cnn-sr1              0.99     0.01         -0.5   sobel      gaussian  mse
sif-cnn-sr2              0.10     0.90         -0.25  highpass   gaussian  mse
sif-cnn-sr1-published    0.01     0.99         -0.5   sobel      gaussian  huber
sif-cnn-sr2-published    0.50     0.50         -0.25  highpass   gaussian  huber
sc-unet                  0        1            0      (none)     identity  mse
=======================  =======  ===========  =====  =========  ========  =====
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any, Literal

import torch
from torch.nn import functional as nnf

from lstcloud import ops
from lstcloud.errors import ConfigError
from lstcloud.models.normalization import Normalization

__all__ = ["PRESETS", "LossConfig", "SIFLoss", "get_preset"]

_TEXTURES = ("sobel", "highpass")
_DEGRADATIONS = ("gaussian", "mean", "l4", "identity")
_CRITERIA = ("mse", "huber")


@dataclass(frozen=True)
class LossConfig:
    """Configuration of :class:`SIFLoss`.

    Attributes
    ----------
    texture_weight : float
        Weight of the texture term ``J(G(T_hat), gamma * G(V_h))``.
    consistency_weight : float
        Weight of the consistency (reconstruction) term ``J(H(T_hat), T_l)``.
    gamma : float
        Expected ratio of LST texture to NDVI texture (negative: LST falls as NDVI rises).
    texture : {"sobel", "highpass"}
        G: four Sobel kernels, or ``x - gaussian(x)`` with MTF ``highpass_mtf`` at Nyquist.
    degradation : {"gaussian", "mean", "l4", "identity"}
        H: see :func:`lstcloud.ops.degrade`. ``"identity"`` compares the prediction with a target
        on the same grid (SC-UNet's supervised training). ``"l4"`` is applied in kelvin and so
        needs the :class:`Normalization`.
    criterion : {"mse", "huber"}
        J.
    huber_delta : float
        Huber threshold (z-score units).
    factor : int
        Resolution ratio of the prediction to ``T_l`` (4).
    degradation_mtf : float
        MTF at the coarse Nyquist frequency of the Gaussian PSF of ``degradation="gaussian"``.
    highpass_mtf : float
        MTF at the coarse Nyquist frequency of the high-pass filter's low-pass.
    """

    texture_weight: float
    consistency_weight: float
    gamma: float = -0.5
    texture: Literal["sobel", "highpass"] = "sobel"
    degradation: Literal["gaussian", "mean", "l4", "identity"] = "gaussian"
    criterion: Literal["mse", "huber"] = "mse"
    huber_delta: float = 1.0
    factor: int = 4
    degradation_mtf: float = 0.1
    highpass_mtf: float = 0.25

    def __post_init__(self) -> None:
        for name in ("texture_weight", "consistency_weight"):
            if float(getattr(self, name)) < 0:
                raise ConfigError(f"loss {name} must be >= 0, got {getattr(self, name)}")
        if self.texture_weight == 0 and self.consistency_weight == 0:
            raise ConfigError("loss texture_weight and consistency_weight are both 0")
        if self.texture not in _TEXTURES:
            raise ConfigError(f"loss texture {self.texture!r} is not one of {_TEXTURES}")
        if self.degradation not in _DEGRADATIONS:
            raise ConfigError(
                f"loss degradation {self.degradation!r} is not one of {_DEGRADATIONS}"
            )
        if self.criterion not in _CRITERIA:
            raise ConfigError(f"loss criterion {self.criterion!r} is not one of {_CRITERIA}")
        if self.huber_delta <= 0:
            raise ConfigError(f"loss huber_delta must be positive, got {self.huber_delta}")
        if self.factor < 1:
            raise ConfigError(f"loss factor must be >= 1, got {self.factor}")
        for name in ("degradation_mtf", "highpass_mtf"):
            if not 0 < float(getattr(self, name)) < 1:
                raise ConfigError(f"loss {name} must be in (0, 1), got {getattr(self, name)}")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (stored in the model card)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LossConfig:
        """Inverse of :meth:`to_dict`; unknown keys raise ``ConfigError``."""
        known = set(cls.__dataclass_fields__)
        unknown = set(data) - known
        if unknown:
            raise ConfigError(f"unknown loss option(s): {', '.join(sorted(unknown))}")
        return cls(**data)

    def with_(self, **changes: Any) -> LossConfig:
        """A copy with some fields changed (validated)."""
        return replace(self, **changes)


PRESETS: dict[str, LossConfig] = {
    # The deck: L = alpha * texture + (1 - alpha) * consistency, alpha = 0.99, gamma = -0.5, Sobel.
    "sif-cnn-sr1": LossConfig(
        texture_weight=0.99,
        consistency_weight=0.01,
        gamma=-0.5,
        texture="sobel",
        degradation="gaussian",
        criterion="mse",
    ),
    # The deck: alpha = 0.10, gamma = -0.25, high-pass.
    "sif-cnn-sr2": LossConfig(
        texture_weight=0.10,
        consistency_weight=0.90,
        gamma=-0.25,
        texture="highpass",
        degradation="gaussian",
        criterion="mse",
    ),
    # The authors' code: L = alpha * consistency + (1 - alpha) * texture, Huber(1), Gaussian H;
    # SR1 run (modelB_1009) alpha = 0.99, gamma = -0.5.
    "sif-cnn-sr1-published": LossConfig(
        texture_weight=0.01,
        consistency_weight=0.99,
        gamma=-0.5,
        texture="sobel",
        degradation="gaussian",
        criterion="huber",
        huber_delta=1.0,
    ),
    # SR2 run (modelB_2609) alpha = 0.5, gamma = -0.25, high-pass (MTF 0.25).
    "sif-cnn-sr2-published": LossConfig(
        texture_weight=0.5,
        consistency_weight=0.5,
        gamma=-0.25,
        texture="highpass",
        degradation="gaussian",
        criterion="huber",
        huber_delta=1.0,
    ),
    # Scale consistency: MSE between the prediction and the target on the same grid.
    "sc-unet": LossConfig(
        texture_weight=0.0,
        consistency_weight=1.0,
        gamma=0.0,
        texture="sobel",
        degradation="identity",
        criterion="mse",
    ),
}


def get_preset(name: str) -> LossConfig:
    """The :class:`LossConfig` of a named preset (``ConfigError`` listing the names otherwise)."""
    try:
        return PRESETS[name]
    except KeyError:
        raise ConfigError(
            f"unknown loss preset {name!r}; choose one of {', '.join(PRESETS)}"
        ) from None


class SIFLoss:
    """The SIF loss of a :class:`LossConfig`, on z-scored tensors.

    Parameters
    ----------
    config : LossConfig or str
        The configuration or a preset name.
    normalization : Normalization, optional
        Needed only for ``degradation="l4"`` (applied in kelvin).

    Notes
    -----
    ``loss(pred_250m, lst_1km, ndvi_250m, *, mask_1km=None)`` returns ``(loss, parts)`` where
    ``parts = {"texture": float, "consistency": float}`` are the unweighted terms. ``pred_250m``
    and ``ndvi_250m`` are ``(N, 1, H, W)``, ``lst_1km`` ``(N, 1, H/f, W/f)`` (same size as the
    prediction for ``"identity"``). Pixels are left out where ``mask_1km`` is False or an input is
    not finite: the consistency term averages over valid coarse pixels; the texture term over
    fine pixels whose coarse pixel is valid and NDVI finite, shrunk by the support radius of G
    (:attr:`texture_radius`) around invalid pixels; the array border is kept (replicate padding).
    """

    def __init__(
        self, config: LossConfig | str, *, normalization: Normalization | None = None
    ) -> None:
        self.config = get_preset(config) if isinstance(config, str) else config
        if self.config.degradation == "l4" and normalization is None:
            raise ConfigError("the l4 degradation works in kelvin: pass normalization=")
        self.normalization = normalization

    # ------------------------------------------------------------------ operators
    @property
    def texture_radius(self) -> int:
        """Support radius (pixels) of G: 1 for Sobel, the Gaussian's radius for high-pass."""
        if self.config.texture == "sobel":
            return 1
        sigma = ops.gaussian_sigma(self.config.factor, self.config.highpass_mtf)
        return (len(ops.gaussian_kernel1d(sigma)) - 1) // 2

    def texture_op(self, x: torch.Tensor) -> torch.Tensor:
        """G applied to ``x``."""
        if self.config.texture == "sobel":
            return ops.sobel(x)
        return ops.highpass(x, mtf_at_nyquist=self.config.highpass_mtf, factor=self.config.factor)

    def degrade(self, x: torch.Tensor) -> torch.Tensor:
        """H applied to a z-scored prediction (to kelvin and back for ``"l4"``)."""
        cfg = self.config
        if cfg.degradation == "identity":
            return x
        if cfg.degradation == "l4":
            norm = self.normalization
            assert norm is not None
            kelvin = norm.lst_from_z(x)
            return norm.lst_to_z(ops.degrade(kelvin, method="l4", factor=cfg.factor))
        return ops.degrade(
            x, method=cfg.degradation, factor=cfg.factor, mtf_at_nyquist=cfg.degradation_mtf
        )

    def _criterion(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        if self.config.criterion == "huber":
            return nnf.huber_loss(a, b, reduction="none", delta=self.config.huber_delta)
        return (a - b) ** 2

    @staticmethod
    def _masked_mean(values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        mask = mask.to(values.dtype).expand_as(values)
        return (values * mask).sum() / mask.sum().clamp_min(1.0)

    # ------------------------------------------------------------------ call
    def __call__(
        self,
        pred_250m: torch.Tensor,
        lst_1km: torch.Tensor,
        ndvi_250m: torch.Tensor,
        *,
        mask_1km: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, dict[str, float]]:
        cfg = self.config
        factor = 1 if cfg.degradation == "identity" else cfg.factor
        expected = (pred_250m.shape[-2] // factor, pred_250m.shape[-1] // factor)
        if tuple(lst_1km.shape[-2:]) != expected or pred_250m.shape[-2] % factor:
            raise ConfigError(
                f"LST target shape {tuple(lst_1km.shape[-2:])} does not match prediction "
                f"{tuple(pred_250m.shape[-2:])} / {factor}"
            )
        valid = torch.isfinite(lst_1km)
        if mask_1km is not None:
            valid = valid & mask_1km.to(torch.bool)
        target = torch.where(valid, lst_1km, torch.zeros_like(lst_1km))

        consistency = self._masked_mean(self._criterion(self.degrade(pred_250m), target), valid)
        total = cfg.consistency_weight * consistency
        texture = torch.zeros((), dtype=pred_250m.dtype, device=pred_250m.device)
        if cfg.texture_weight > 0:
            fine_valid = valid.to(pred_250m.dtype)
            if factor > 1:
                fine_valid = nnf.interpolate(fine_valid, scale_factor=factor, mode="nearest")
            ndvi_ok = torch.isfinite(ndvi_250m)
            fine_valid = fine_valid * ndvi_ok.to(fine_valid.dtype)
            # shrink by the operator's support so that no G value touches an invalid pixel
            r = self.texture_radius
            fine_valid = -nnf.max_pool2d(-fine_valid, 2 * r + 1, stride=1, padding=r)
            ndvi = torch.where(ndvi_ok, ndvi_250m, torch.zeros_like(ndvi_250m))
            texture = self._masked_mean(
                self._criterion(self.texture_op(pred_250m), cfg.gamma * self.texture_op(ndvi)),
                fine_valid > 0.5,
            )
            total = total + cfg.texture_weight * texture
        return total, {
            "texture": float(texture.detach()),
            "consistency": float(consistency.detach()),
        }
