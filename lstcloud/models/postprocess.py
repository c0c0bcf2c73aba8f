"""Post-processing of a network's 250 m output: the 1 km consistency corrections, the detail gain.

The residual-correction step of TsHARP / DMS, applied after the network:

    r_k     = LST_1km - M(T_k)          (M: 4x4 block mean, the 1 km residual)
    T_{k+1} = T_k + U(r_k)              (U: bicubic upsampling x4, a = -0.75)

``M(U(r))`` is a low-pass of ``r`` (gain 1 at zero frequency, 0.41 at the 2-D Nyquist
frequency), so each iteration multiplies every frequency of the residual by ``1 - gain``: a
smooth drift of the 1 km means is removed in one iteration, a pixel-scale (checkerboard)
residual shrinks by 0.59 per iteration. After it, ``M(T) ~= LST_1km``: the output keeps the
1 km means of its input by construction (the consistency that the deck's SR1 preset weights
only 0.01 in its loss).

The correction is local: an iteration reads the residual within 2 pixels at 1 km (the bicubic
support), so it widens the receptive field of the pipeline by :data:`REACH_1KM_PER_ITERATION`
1 km pixels (8 px at 250 m) per iteration, and it acts on whole 1 km blocks, so the pooling
alignment of the network (8 px at 250 m) is unchanged. Chunked inference with the widened halo
equals whole-array inference.

NaN policy: the residual is taken against the *locally filled* 1 km LST that the network's input
was built from (``ops.fill_nan_local``), so the residual is finite everywhere and valid pixels
next to a cloud are corrected with a local value; output pixels under a NaN 1 km pixel are NaN
anyway (the model masks them).

The low-pass residual correction (``consistency_correction: lowpass-residual``) removes only the
large-scale drift of the output's 1 km means and keeps the detail the network puts at the 1 km
scale:

    r       = LST_1km - M(T)                 (valid 1 km pixels only)
    T      <- T + U(G_s(r) / G_s(valid))     (G_s: Gaussian, sigma ``sigma_km`` 1 km pixels)

The normalised convolution averages the residual over the *valid* 1 km pixels within
``LOWPASS_TRUNCATE * sigma_km`` (clouds contribute nothing; where no valid pixel is in reach
the correction is 0), so it is chunk-local with a reach of that radius plus the bicubic's 2 px.

The detail gain (``detail_gain = lambda``, default 1 = off) then scales the detail the network
adds to the bicubic interpolation of the same locally filled 1 km LST:

    T = U(LST_1km) + lambda * (T - U(LST_1km))

``lambda = 0`` is bicubic, ``1`` the model unchanged. It is pointwise given ``U(LST_1km)``,
whose support (the local fill's 2 px plus the bicubic's 2 px at 1 km) lies inside the network
pipeline's own receptive field, so it widens neither the halo nor the alignment.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch.nn import functional as nnf

from lstcloud import ops
from lstcloud.errors import ConfigError

__all__ = [
    "CONSISTENCY_CORRECTIONS",
    "LOWPASS_TRUNCATE",
    "MAX_DETAIL_GAIN",
    "MAX_ITERATIONS",
    "REACH_1KM_PER_ITERATION",
    "Postprocess",
    "apply_detail_gain",
    "apply_postprocess",
    "block_mean",
    "consistency_correct",
    "lowpass_correct",
]

#: Known consistency corrections (``None`` = off).
CONSISTENCY_CORRECTIONS: tuple[str, ...] = ("bicubic-residual", "lowpass-residual")
#: Radius of the low-pass correction's Gaussian, in sigmas.
LOWPASS_TRUNCATE = 3.0
#: Bounds of ``sigma_km`` (1 km pixels).
_SIGMA_RANGE = (0.5, 16.0)
#: Upper bound of ``iterations`` (each one widens the halo by 8 px at 250 m).
MAX_ITERATIONS = 8
#: Receptive-field growth per iteration, in 1 km pixels: the bicubic kernel's support.
REACH_1KM_PER_ITERATION = 2
#: Upper bound of ``detail_gain``.
MAX_DETAIL_GAIN = 4.0


@dataclass(frozen=True)
class Postprocess:
    """What a model does to the network output (the card's ``postprocess`` section).

    Attributes
    ----------
    consistency_correction : {"bicubic-residual", "lowpass-residual"} or None
        ``"bicubic-residual"``: add the bicubically upsampled 1 km residual
        ``LST_1km - blockmean4(T)`` to the output, ``iterations`` times. ``"lowpass-residual"``:
        add the same residual low-passed by a Gaussian of ``sigma_km`` over the valid 1 km
        pixels (the drift of the 1 km means, not their detail). ``None``: off.
    iterations : int
        Number of correction steps (1 .. :data:`MAX_ITERATIONS`).
    sigma_km : float
        Gaussian sigma of ``"lowpass-residual"`` in 1 km pixels (0.5 .. 16).
    detail_gain : float
        ``lambda`` of ``bicubic + lambda * (output - bicubic)``, applied after the correction
        (0 .. :data:`MAX_DETAIL_GAIN`; 1 = off).
    """

    consistency_correction: str | None = None
    iterations: int = 2
    detail_gain: float = 1.0
    sigma_km: float = 2.0

    def __post_init__(self) -> None:
        if (
            self.consistency_correction is not None
            and self.consistency_correction not in CONSISTENCY_CORRECTIONS
        ):
            raise ConfigError(
                f"postprocess.consistency_correction {self.consistency_correction!r} is not one "
                f"of {', '.join(CONSISTENCY_CORRECTIONS)} (or null)"
            )
        if (
            not isinstance(self.iterations, int)
            or isinstance(self.iterations, bool)
            or not 1 <= self.iterations <= MAX_ITERATIONS
        ):
            raise ConfigError(
                f"postprocess.iterations must be an integer in 1..{MAX_ITERATIONS}, "
                f"got {self.iterations!r}"
            )
        gain = self.detail_gain
        if (
            isinstance(gain, bool)
            or not isinstance(gain, int | float)
            or not 0.0 <= float(gain) <= MAX_DETAIL_GAIN
        ):
            raise ConfigError(
                f"postprocess.detail_gain must be a number in 0..{MAX_DETAIL_GAIN:g}, got {gain!r}"
            )
        object.__setattr__(self, "detail_gain", float(gain))
        sigma = self.sigma_km
        if (
            isinstance(sigma, bool)
            or not isinstance(sigma, int | float)
            or not _SIGMA_RANGE[0] <= float(sigma) <= _SIGMA_RANGE[1]
        ):
            raise ConfigError(
                f"postprocess.sigma_km must be a number in {_SIGMA_RANGE[0]:g}..{_SIGMA_RANGE[1]:g}"
                f", got {sigma!r}"
            )
        object.__setattr__(self, "sigma_km", float(sigma))

    @property
    def enabled(self) -> bool:
        """Whether any post-processing runs."""
        return self.consistency_correction is not None or self.detail_gain != 1.0

    def reach_px(self, *, factor: int = 4) -> int:
        """Receptive-field growth in fine (250 m) pixels: 0 when off."""
        if self.consistency_correction is None:
            return 0
        per_iteration = REACH_1KM_PER_ITERATION
        if self.consistency_correction == "lowpass-residual":
            per_iteration += _lowpass_radius(self.sigma_km)
        return factor * per_iteration * self.iterations

    def to_dict(self) -> dict[str, Any]:
        """The card's ``postprocess`` section (``detail_gain`` only when it is not 1,
        ``sigma_km`` only for the low-pass correction)."""
        data = asdict(self)
        if self.detail_gain == 1.0:
            del data["detail_gain"]
        if self.consistency_correction != "lowpass-residual":
            del data["sigma_km"]
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | Postprocess | None) -> Postprocess:
        """From a card section (``None`` or ``{}`` = off); unknown keys raise ``ConfigError``."""
        if data is None:
            return cls()
        if isinstance(data, Postprocess):
            return data
        unknown = set(data) - {"consistency_correction", "iterations", "detail_gain", "sigma_km"}
        if unknown:
            raise ConfigError(f"postprocess: unknown field(s) {', '.join(sorted(unknown))}")
        return cls(**dict(data))


def block_mean(x: torch.Tensor, *, factor: int = 4) -> torch.Tensor:
    """``factor x factor`` block mean of ``(N, C, H, W)`` (``H``, ``W`` multiples of factor)."""
    return nnf.avg_pool2d(x, factor)


def _check_nested(fine: torch.Tensor, coarse: torch.Tensor, factor: int) -> None:
    if fine.shape[-2:] != (coarse.shape[-2] * factor, coarse.shape[-1] * factor):
        raise ConfigError(
            f"fine shape {tuple(fine.shape)} is not {factor}x the coarse shape "
            f"{tuple(coarse.shape)}"
        )


def consistency_correct(
    fine: torch.Tensor,
    coarse: torch.Tensor,
    *,
    iterations: int = 2,
    factor: int = 4,
) -> torch.Tensor:
    """Make the block means of ``fine`` match ``coarse`` by iterated bicubic residual correction.

    Parameters
    ----------
    fine : torch.Tensor
        ``(N, 1, f h, f w)`` network output (K), finite.
    coarse : torch.Tensor
        ``(N, 1, h, w)`` 1 km LST (K), finite (fill NaN locally first).
    iterations : int
        Correction steps; the residual's frequency ``nu`` shrinks by ``(1 - g(nu))`` per step,
        ``g`` the gain of ``blockmean(bicubic(.))`` (1 at DC, 0.41 at the 2-D Nyquist frequency).
    factor : int
        Resolution ratio.

    Returns
    -------
    torch.Tensor
        The corrected ``(N, 1, f h, f w)`` field.
    """
    _check_nested(fine, coarse, factor)
    out = fine
    for _ in range(iterations):
        residual = coarse - block_mean(out, factor=factor)
        out = out + ops.upsample_bicubic(residual, factor=factor)
    return out


def _lowpass_radius(sigma_km: float) -> int:
    """Radius (1 km px) of the Gaussian that :func:`lowpass_correct` applies."""
    return (len(ops.gaussian_kernel1d(sigma_km, truncate=LOWPASS_TRUNCATE)) - 1) // 2


def lowpass_correct(
    fine: torch.Tensor,
    coarse: torch.Tensor,
    valid: torch.Tensor,
    *,
    sigma_km: float,
    iterations: int = 1,
    factor: int = 4,
) -> torch.Tensor:
    """Remove the large-scale drift of the 1 km block means of ``fine`` from ``coarse``.

    Parameters
    ----------
    fine : torch.Tensor
        ``(N, 1, f h, f w)`` network output (K), finite.
    coarse : torch.Tensor
        ``(N, 1, h, w)`` 1 km LST (K), finite (locally filled).
    valid : torch.Tensor
        ``(N, 1, h, w)`` boolean: the 1 km pixels that were valid before the fill; only their
        residuals are averaged.
    sigma_km : float
        Gaussian sigma in 1 km pixels (truncated at :data:`LOWPASS_TRUNCATE` sigmas).
    iterations : int
        Correction steps.
    factor : int
        Resolution ratio.

    Returns
    -------
    torch.Tensor
        The corrected field: its 1 km means follow ``coarse`` at scales above ``sigma_km``.
    """
    _check_nested(fine, coarse, factor)

    def smooth(x: torch.Tensor) -> torch.Tensor:  # zero padding: outside the array is empty
        return ops.gaussian_blur(x, sigma=sigma_km, truncate=LOWPASS_TRUNCATE, padding="zeros")

    weight = valid.to(fine.dtype)
    den = smooth(weight)
    out = fine
    for _ in range(iterations):
        residual = (coarse - block_mean(out, factor=factor)) * weight
        drift = torch.where(den > 1e-6, smooth(residual) / den.clamp_min(1e-6),
                            torch.zeros_like(den))
        out = out + ops.upsample_bicubic(drift, factor=factor)
    return out


def apply_detail_gain(
    fine: torch.Tensor, coarse: torch.Tensor, *, gain: float, factor: int = 4
) -> torch.Tensor:
    """``U(coarse) + gain * (fine - U(coarse))``, ``U`` the bicubic upsampling (``coarse``
    finite: fill NaN locally first)."""
    if gain == 1.0:
        return fine
    base = ops.upsample_bicubic(coarse, factor=factor)
    return base + gain * (fine - base)


def apply_postprocess(
    postprocess: Postprocess,
    fine: torch.Tensor,
    coarse_filled: torch.Tensor,
    *,
    valid: torch.Tensor | None = None,
    factor: int = 4,
) -> torch.Tensor:
    """Run ``postprocess`` on a network output (identity when it is off): the consistency
    correction, then the detail gain. ``valid`` (the 1 km pixels valid before the fill) is
    needed by the low-pass correction (``None``: every pixel)."""
    out = fine
    if postprocess.consistency_correction == "bicubic-residual":
        out = consistency_correct(
            out, coarse_filled, iterations=postprocess.iterations, factor=factor
        )
    elif postprocess.consistency_correction == "lowpass-residual":
        mask = torch.ones_like(coarse_filled, dtype=torch.bool) if valid is None else valid
        out = lowpass_correct(out, coarse_filled, mask, sigma_km=postprocess.sigma_km,
                              iterations=postprocess.iterations, factor=factor)
    return apply_detail_gain(out, coarse_filled, gain=postprocess.detail_gain, factor=factor)
