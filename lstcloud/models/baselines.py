"""Classical sharpeners behind the :class:`~lstcloud.models.base.SuperResolver` interface.

- ``bicubic``: bicubic upsampling of the 1 km LST.
- ``tsharp``: TsHARP (Agam et al. 2007) with one global linear fit ``LST = a + b NDVI`` per
  scene on the 1 km pixels (NDVI block-averaged), applied to the 250 m NDVI, plus each 1 km
  pixel's residual. The fit uses the whole input, so it is NOT chunk-local: chunked inference
  fits each chunk separately.
- ``tsharp-window``: the same fit in a moving window of ``window_1km`` x ``window_1km`` 1 km
  pixels around every 1 km pixel (chunk-local, halo = the window radius).

All are vectorised torch code (float64 sums), NaN-aware: NaN LST pixels are left out of the
fits and are NaN in the output; 250 m pixels without NDVI, and 1 km pixels whose fit is
undetermined (too few samples, flat NDVI), get the bicubic value.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch.nn import functional as nnf

from lstcloud import ops
from lstcloud.errors import ConfigError
from lstcloud.models.base import FACTOR, check_pair, check_pair_tensor, default_device
from lstcloud.models.card import CARD_VERSION, software_version
from lstcloud.models.receptive_field import halo_px

__all__ = ["BASELINES", "BicubicModel", "TsHARPModel", "TsHARPWindowModel"]

#: Radius (1 km pixels) of the local NaN fill before bicubic upsampling.
_FILL_RADIUS = 2
#: Bicubic support radius in 1 km pixels.
_BICUBIC_RADIUS = 2


def _bicubic(lst: torch.Tensor) -> torch.Tensor:
    return ops.upsample_bicubic(ops.fill_nan_local(lst, radius=_FILL_RADIUS), factor=FACTOR)


def _nearest(x: torch.Tensor) -> torch.Tensor:
    return nnf.interpolate(x, scale_factor=FACTOR, mode="nearest")


def _block_mean_nan(x: torch.Tensor) -> torch.Tensor:
    valid = torch.isfinite(x)
    num = nnf.avg_pool2d(torch.where(valid, x, torch.zeros_like(x)), FACTOR)
    den = nnf.avg_pool2d(valid.to(x.dtype), FACTOR)
    return torch.where(den > 0, num / den.clamp_min(1e-12), torch.nan)


class _Baseline:
    """Shared plumbing: device, card, numpy ``predict``."""

    name = "baseline"
    chunk_local = True
    description = ""

    def __init__(self, *, device: str | torch.device | None = None) -> None:
        self.device = default_device(device)

    # subclasses implement _run on float64 tensors with finite-or-NaN inputs
    def _run(self, lst: torch.Tensor, ndvi: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    @property
    def receptive_field_exact_px(self) -> int:
        return FACTOR * (_BICUBIC_RADIUS + _FILL_RADIUS)

    @property
    def receptive_field_px(self) -> int:
        """Halo in 250 m pixels (multiple of 8)."""
        return halo_px(self.receptive_field_exact_px, multiple=8)

    def options(self) -> dict[str, Any]:
        return {}

    @property
    def card(self) -> dict[str, Any]:
        """The method's card (``parameters`` 0, no weights)."""
        notes = []
        if not self.chunk_local:
            notes.append(
                "not chunk-local: the fit uses the whole input, so chunked inference "
                "fits every chunk separately and differs from a whole-scene run"
            )
        return {
            "card_version": CARD_VERSION,
            "name": self.name,
            "architecture": self.name,
            "description": self.description,
            "parameters": 0,
            "receptive_field_px": self.receptive_field_px,
            "receptive_field_exact_px": self.receptive_field_exact_px,
            "alignment_px": FACTOR,
            "chunk_local": self.chunk_local,
            "method_options": self.options(),
            "normalization": None,
            "loss": None,
            "training_data": None,
            "validation": None,
            "software_version": software_version(),
            "sha256": None,
            "notes": notes,
        }

    def to(self, device: str | torch.device) -> _Baseline:
        """Run on ``device``; returns ``self``."""
        self.device = torch.device(device)
        return self

    def predict_tensor(self, lst_1km: torch.Tensor, ndvi_250m: torch.Tensor) -> torch.Tensor:
        """``(N, 1, h, w)`` K and ``(N, 1, 4h, 4w)`` NDVI -> ``(N, 1, 4h, 4w)`` K (float32)."""
        check_pair_tensor(lst_1km, ndvi_250m)
        lst = lst_1km.to(self.device, torch.float64)
        ndvi = ndvi_250m.to(self.device, torch.float64)
        with torch.inference_mode():
            out = self._run(lst, ndvi)
            out = torch.where(_nearest(torch.isfinite(lst).to(out.dtype)) > 0, out, torch.nan)
        return out.float()

    def predict(self, lst_1km: np.ndarray, ndvi_250m: np.ndarray) -> np.ndarray:
        """``(h, w)`` K and ``(4h, 4w)`` NDVI -> ``(4h, 4w)`` K float32, NaN-aware."""
        lst, ndvi = check_pair(lst_1km, ndvi_250m)
        out = self.predict_tensor(
            torch.from_numpy(lst)[None, None], torch.from_numpy(ndvi)[None, None]
        )
        return out[0, 0].cpu().numpy()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.options()})"


class BicubicModel(_Baseline):
    """Bicubic upsampling of the 1 km LST (NaN filled locally first, NDVI unused)."""

    name = "bicubic"
    description = "bicubic upsampling of the 1 km LST (torch cubic kernel a=-0.75)"

    def _run(self, lst: torch.Tensor, ndvi: torch.Tensor) -> torch.Tensor:
        return _bicubic(lst)


def _apply_fit(
    lst: torch.Tensor,
    ndvi: torch.Tensor,
    coarse_ndvi: torch.Tensor,
    a: torch.Tensor,
    b: torch.Tensor,
    ok_fit: torch.Tensor,
) -> torch.Tensor:
    """``a + b NDVI + residual`` where the fit is defined, bicubic elsewhere. ``a``, ``b`` and
    ``ok_fit`` are per 1 km pixel (broadcastable to ``lst``)."""
    a = a.expand_as(lst)
    b = b.expand_as(lst)
    residual = lst - (a + b * coarse_ndvi)
    fine = _nearest(a) + _nearest(b) * ndvi + _nearest(residual)
    use = torch.isfinite(fine) & (_nearest(ok_fit.expand_as(lst).to(lst.dtype)) > 0)
    return torch.where(use, fine, _bicubic(lst))


class TsHARPModel(_Baseline):
    """TsHARP with one global fit per scene (per batch element).

    Parameters
    ----------
    min_samples : int
        Fewest valid 1 km pixels for a fit (bicubic otherwise).
    device : str, optional
    """

    name = "tsharp"
    chunk_local = False
    description = "TsHARP (Agam et al. 2007), global linear LST-NDVI fit per scene"

    def __init__(self, *, min_samples: int = 10, device: str | torch.device | None = None) -> None:
        super().__init__(device=device)
        if min_samples < 3:
            raise ConfigError(f"tsharp min_samples must be >= 3, got {min_samples}")
        self.min_samples = int(min_samples)

    def options(self) -> dict[str, Any]:
        return {"min_samples": self.min_samples}

    def _run(self, lst: torch.Tensor, ndvi: torch.Tensor) -> torch.Tensor:
        coarse = _block_mean_nan(ndvi)
        ok = torch.isfinite(lst) & torch.isfinite(coarse)
        w = ok.to(lst.dtype)
        x = torch.where(ok, coarse, torch.zeros_like(coarse))
        y = torch.where(ok, lst, torch.zeros_like(lst))
        dims = (1, 2, 3)
        n = w.sum(dims, keepdim=True)
        mx = x.sum(dims, keepdim=True) / n.clamp_min(1)
        my = y.sum(dims, keepdim=True) / n.clamp_min(1)
        dx = (x - mx) * w
        var = (dx * dx).sum(dims, keepdim=True)
        cov = (dx * (y - my) * w).sum(dims, keepdim=True)
        ok_fit = (n >= self.min_samples) & (var > 1e-8 * n.clamp_min(1))
        b = torch.where(ok_fit, cov / var.clamp_min(1e-30), torch.zeros_like(var))
        a = my - b * mx
        return _apply_fit(lst, ndvi, coarse, a, b, ok_fit)


class TsHARPWindowModel(_Baseline):
    """TsHARP with a moving-window fit around every 1 km pixel.

    Parameters
    ----------
    window_1km : int
        Odd window width in 1 km pixels (default 9: 81 pixels, radius 4).
    min_samples : int
        Fewest valid 1 km pixels in a window for a fit (bicubic otherwise).
    min_ndvi_std : float
        Smallest NDVI standard deviation in a window for a fit.
    device : str, optional
    """

    name = "tsharp-window"
    description = "TsHARP with a moving-window linear LST-NDVI fit"

    def __init__(
        self,
        *,
        window_1km: int = 9,
        min_samples: int = 10,
        min_ndvi_std: float = 0.01,
        device: str | torch.device | None = None,
    ) -> None:
        super().__init__(device=device)
        if window_1km < 3 or window_1km % 2 == 0:
            raise ConfigError(f"tsharp-window window_1km must be odd and >= 3, got {window_1km}")
        if min_samples < 3:
            raise ConfigError(f"tsharp-window min_samples must be >= 3, got {min_samples}")
        self.window_1km = int(window_1km)
        self.min_samples = int(min_samples)
        self.min_ndvi_std = float(min_ndvi_std)

    def options(self) -> dict[str, Any]:
        return {
            "window_1km": self.window_1km,
            "min_samples": self.min_samples,
            "min_ndvi_std": self.min_ndvi_std,
        }

    @property
    def receptive_field_exact_px(self) -> int:
        radius = self.window_1km // 2
        return FACTOR * max(radius, _BICUBIC_RADIUS + _FILL_RADIUS)

    def _run(self, lst: torch.Tensor, ndvi: torch.Tensor) -> torch.Tensor:
        coarse = _block_mean_nan(ndvi)
        ok = torch.isfinite(lst) & torch.isfinite(coarse)
        w = ok.to(lst.dtype)
        x = torch.where(ok, coarse, torch.zeros_like(coarse))
        # centre LST on a constant so that the float64 moments stay well conditioned; the
        # result does not depend on it mathematically (detached: not part of the field)
        ref = (torch.where(ok, lst, torch.zeros_like(lst)).sum() / w.sum().clamp_min(1)).detach()
        y = torch.where(ok, lst - ref, torch.zeros_like(lst))
        k, r = self.window_1km, self.window_1km // 2

        def box(t: torch.Tensor) -> torch.Tensor:  # windowed sums, zero outside the array
            return nnf.avg_pool2d(nnf.pad(t, (r, r, r, r)), k, stride=1) * (k * k)

        n, sx, sy = box(w), box(x), box(y)
        sxx, sxy = box(x * x), box(x * y)
        nc = n.clamp_min(1)
        var = sxx / nc - (sx / nc) ** 2
        cov = sxy / nc - (sx / nc) * (sy / nc)
        ok_fit = (n >= self.min_samples) & (var > self.min_ndvi_std**2)
        b = torch.where(ok_fit, cov / var.clamp_min(1e-30), torch.zeros_like(var))
        a = sy / nc - b * sx / nc + ref
        return _apply_fit(lst, ndvi, coarse, a, b, ok_fit)


BASELINES: dict[str, type[_Baseline]] = {
    "bicubic": BicubicModel,
    "tsharp": TsHARPModel,
    "tsharp-window": TsHARPWindowModel,
}
