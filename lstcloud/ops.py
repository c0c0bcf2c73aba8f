"""Image operators shared by training and evaluation: texture operators G, degradations H.

Every operator is written in torch on ``(N, C, H, W)`` float tensors and is differentiable, so the
same code builds the training loss and scores the evaluation. Borders are handled by replicate
padding (``scipy.ndimage`` mode ``"nearest"``). The numpy wrappers (``*_np``) take and return
``(H, W)`` or ``(..., H, W)`` float32 arrays; :func:`degrade_np` is NaN-aware.

Operators
---------
- :func:`sobel`: four 3x3 Sobel kernels per channel (horizontal, vertical, both diagonals).
- :func:`gaussian_blur`, :func:`highpass`: Gaussian low-pass and ``x - lowpass(x)``.
- :func:`gaussian_sigma`: the Gaussian PSF's sigma from its MTF at the coarse Nyquist frequency.
- :func:`degrade`: 250 m -> 1 km by ``"gaussian"`` (PSF then bicubic decimation, the authors'
  code), ``"mean"`` (block mean) or ``"l4"`` (``mean(T**4) ** (1/4)``, in kelvin).
- :func:`upsample_bicubic`: bicubic interpolation by ``factor`` (pixel-area aligned).
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
import torch
from torch.nn import functional as nnf

from lstcloud.errors import ConfigError

__all__ = [
    "DEGRADATIONS",
    "MIN_NORMALISER",
    "SOBEL_KERNELS",
    "degrade",
    "degrade_np",
    "fill_nan_local",
    "gaussian_blur",
    "gaussian_blur_np",
    "gaussian_kernel1d",
    "gaussian_sigma",
    "highpass",
    "highpass_np",
    "sobel",
    "sobel_np",
    "upsample_bicubic",
    "upsample_bicubic_np",
]

Degradation = Literal["gaussian", "mean", "l4"]
DEGRADATIONS: tuple[str, ...] = ("gaussian", "mean", "l4")

#: The four Sobel kernels (cross-correlation form, as ``torch.nn.functional.conv2d`` applies
#: them): horizontal gradient (d/dx), vertical gradient (d/dy), and the two diagonals.
SOBEL_KERNELS = np.array(
    [
        [[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]],
        [[-1, -2, -1], [0, 0, 0], [1, 2, 1]],
        [[-2, -1, 0], [-1, 0, 1], [0, 1, 2]],
        [[0, 1, 2], [-1, 0, 1], [-2, -1, 0]],
    ],
    dtype=np.float32,
)


def _check_nchw(x: torch.Tensor, name: str = "x") -> None:
    if x.ndim != 4:
        raise ConfigError(f"{name} must be a (N, C, H, W) tensor, got shape {tuple(x.shape)}")


def sobel(x: torch.Tensor) -> torch.Tensor:
    """Sobel gradients of every channel: four kernels, replicate padding.

    Parameters
    ----------
    x : torch.Tensor
        ``(N, C, H, W)`` tensor.

    Returns
    -------
    torch.Tensor
        ``(N, 4C, H, W)``: for channel ``c``, output channels ``4c .. 4c+3`` are the horizontal,
        vertical and two diagonal responses (kernels in :data:`SOBEL_KERNELS`).
    """
    _check_nchw(x)
    channels = x.shape[1]
    weight = torch.as_tensor(SOBEL_KERNELS, dtype=x.dtype, device=x.device)[:, None]
    weight = weight.repeat(channels, 1, 1, 1)
    padded = nnf.pad(x, (1, 1, 1, 1), mode="replicate")
    return nnf.conv2d(padded, weight, groups=channels)


def gaussian_sigma(factor: float = 4, mtf_at_nyquist: float = 0.1) -> float:
    """Sigma (in fine pixels) of the Gaussian PSF with a given MTF at the coarse Nyquist frequency.

    A Gaussian of standard deviation ``sigma`` pixels has the transfer function
    ``MTF(f) = exp(-2 pi^2 sigma^2 f^2)`` (``f`` in cycles per fine pixel). The Nyquist frequency
    of a grid ``factor`` times coarser is ``f_N = 1 / (2 factor)``; solving
    ``MTF(f_N) = m`` gives ``sigma = factor * sqrt(-2 ln m) / pi``.

    Parameters
    ----------
    factor : float
        Ratio of coarse to fine pixel size (4 for 250 m -> 1 km).
    mtf_at_nyquist : float
        MTF value at the coarse Nyquist frequency, in (0, 1).

    Returns
    -------
    float
        Sigma in fine pixels (2.732 for factor 4 and MTF 0.1; 2.120 for MTF 0.25).
    """
    if not 0.0 < mtf_at_nyquist < 1.0:
        raise ConfigError(f"mtf_at_nyquist must be in (0, 1), got {mtf_at_nyquist}")
    if factor <= 0:
        raise ConfigError(f"factor must be positive, got {factor}")
    return float(factor) * math.sqrt(-2.0 * math.log(mtf_at_nyquist)) / math.pi


def gaussian_kernel1d(sigma: float, *, truncate: float = 4.0) -> np.ndarray:
    """Normalised 1-D Gaussian taps of radius ``int(truncate * sigma + 0.5)`` (scipy's rule)."""
    if sigma <= 0:
        raise ConfigError(f"sigma must be positive, got {sigma}")
    radius = int(truncate * sigma + 0.5)
    offsets = np.arange(-radius, radius + 1, dtype=np.float64)
    taps = np.exp(-0.5 * (offsets / sigma) ** 2)
    return (taps / taps.sum()).astype(np.float64)


def gaussian_blur(
    x: torch.Tensor,
    *,
    sigma: float,
    truncate: float = 4.0,
    padding: Literal["replicate", "zeros"] = "replicate",
) -> torch.Tensor:
    """Separable Gaussian low-pass of every channel.

    With ``padding="replicate"`` it equals ``scipy.ndimage.gaussian_filter(x, sigma,
    mode="nearest", truncate=truncate)`` on each ``(H, W)`` plane; ``"zeros"`` treats the
    outside of the array as 0 (``mode="constant"``), as a normalised convolution needs.
    """
    _check_nchw(x)
    taps = torch.as_tensor(
        gaussian_kernel1d(sigma, truncate=truncate), dtype=x.dtype, device=x.device
    )
    radius = (taps.numel() - 1) // 2
    channels = x.shape[1]
    mode = "replicate" if padding == "replicate" else "constant"
    kx = taps.view(1, 1, 1, -1).repeat(channels, 1, 1, 1)
    ky = taps.view(1, 1, -1, 1).repeat(channels, 1, 1, 1)
    y = nnf.conv2d(nnf.pad(x, (radius, radius, 0, 0), mode=mode), kx, groups=channels)
    return nnf.conv2d(nnf.pad(y, (0, 0, radius, radius), mode=mode), ky, groups=channels)


def highpass(x: torch.Tensor, *, mtf_at_nyquist: float = 0.25, factor: float = 4) -> torch.Tensor:
    """High-pass texture operator: ``x - gaussian_blur(x)`` with the PSF of MTF
    ``mtf_at_nyquist`` at the Nyquist frequency of the grid ``factor`` times coarser."""
    return x - gaussian_blur(x, sigma=gaussian_sigma(factor, mtf_at_nyquist))


# Bicubic (a = -0.75, torch's kernel) decimation by 4 samples each block at its centre, i.e. at
# offset 1.5 from its first pixel: the four taps of the block are W(1.5), W(0.5), W(0.5), W(1.5).
def _cubic_weight(distance: np.ndarray, a: float = -0.75) -> np.ndarray:
    d = np.abs(np.asarray(distance, dtype=np.float64))
    near = ((a + 2) * d - (a + 3)) * d * d + 1
    far = ((a * d - 5 * a) * d + 8 * a) * d - 4 * a
    return np.where(d <= 1, near, np.where(d < 2, far, 0.0))


def degrade(
    x: torch.Tensor,
    *,
    method: Degradation = "gaussian",
    factor: int = 4,
    mtf_at_nyquist: float = 0.1,
) -> torch.Tensor:
    """Degrade a fine-grid field to the grid ``factor`` times coarser (H operator).

    Parameters
    ----------
    x : torch.Tensor
        ``(N, C, H, W)`` with ``H`` and ``W`` multiples of ``factor``.
    method : {"gaussian", "mean", "l4"}
        ``"gaussian"``: Gaussian PSF with MTF ``mtf_at_nyquist`` at the coarse Nyquist frequency
        (replicate padding), then bicubic decimation (the authors' code); ``"mean"``: block mean;
        ``"l4"``: ``(block mean of x**4) ** (1/4)``: only meaningful in kelvin (positive values).
    factor : int
        Decimation factor.
    mtf_at_nyquist : float
        PSF MTF for ``"gaussian"``.

    Returns
    -------
    torch.Tensor
        ``(N, C, H // factor, W // factor)``.
    """
    _check_nchw(x)
    if x.shape[-2] % factor or x.shape[-1] % factor:
        raise ConfigError(f"shape {tuple(x.shape[-2:])} is not a multiple of factor {factor}")
    if method == "mean":
        return nnf.avg_pool2d(x, factor)
    if method == "l4":
        return nnf.avg_pool2d(x**4, factor).clamp_min(0.0) ** 0.25
    if method == "gaussian":
        blurred = gaussian_blur(x, sigma=gaussian_sigma(factor, mtf_at_nyquist))
        return nnf.interpolate(
            blurred, scale_factor=1.0 / factor, mode="bicubic", align_corners=False
        )
    raise ConfigError(f"unknown degradation {method!r}; choose one of {', '.join(DEGRADATIONS)}")


def upsample_bicubic(x: torch.Tensor, *, factor: int = 4) -> torch.Tensor:
    """Bicubic upsampling by ``factor`` (torch's cubic kernel a=-0.75, pixel-area aligned,
    edges replicated). Local: an output pixel depends on the 4x4 nearest input pixels."""
    _check_nchw(x)
    return nnf.interpolate(x, scale_factor=factor, mode="bicubic", align_corners=False)


def fill_nan_local(x: torch.Tensor, *, radius: int = 2, fill: float = 0.0) -> torch.Tensor:
    """Replace non-finite pixels by the mean of the finite pixels of their
    ``(2 radius + 1)^2`` neighbourhood, and by ``fill`` where that neighbourhood has none.

    The result at a pixel depends only on the pixels within ``radius``: it is chunk-local. With
    ``radius=2`` every pixel that a bicubic upsampling of a finite pixel touches gets a local
    value, so the constant ``fill`` never reaches a finite pixel's interpolation.
    """
    _check_nchw(x)
    valid = torch.isfinite(x)
    if bool(valid.all()):
        return x
    weights = valid.to(x.dtype)
    values = torch.where(valid, x, torch.zeros_like(x))
    size = 2 * radius + 1
    pad = (radius, radius, radius, radius)
    num = nnf.avg_pool2d(nnf.pad(values, pad), size, stride=1)
    den = nnf.avg_pool2d(nnf.pad(weights, pad), size, stride=1)
    local = torch.where(den > 0, num / den.clamp_min(1e-12), torch.full_like(x, fill))
    return torch.where(valid, x, local)


# ----------------------------------------------------------------------------- numpy wrappers
def _to_nchw(a: np.ndarray) -> tuple[torch.Tensor, tuple[int, ...]]:
    arr = np.asarray(a, dtype=np.float32)
    if arr.ndim < 2:
        raise ConfigError(f"expected an array of at least 2 dimensions, got shape {arr.shape}")
    lead = arr.shape[:-2]
    t = torch.from_numpy(np.ascontiguousarray(arr.reshape(-1, 1, *arr.shape[-2:])))
    return t, lead


def _from_nchw(t: torch.Tensor, lead: tuple[int, ...]) -> np.ndarray:
    out = t.detach().cpu().numpy().astype(np.float32, copy=False)
    return (
        out.reshape(*lead, *out.shape[-2:])
        if out.shape[1] == 1
        else out.reshape(*lead, out.shape[1], *out.shape[-2:])
    )


def sobel_np(a: np.ndarray) -> np.ndarray:
    """:func:`sobel` of a ``(..., H, W)`` array -> ``(..., 4, H, W)``."""
    t, lead = _to_nchw(a)
    with torch.no_grad():
        return _from_nchw(sobel(t), lead)


def gaussian_blur_np(a: np.ndarray, *, sigma: float) -> np.ndarray:
    """:func:`gaussian_blur` of a ``(..., H, W)`` array (no NaN handling)."""
    t, lead = _to_nchw(a)
    with torch.no_grad():
        return _from_nchw(gaussian_blur(t, sigma=sigma), lead)


def highpass_np(a: np.ndarray, *, mtf_at_nyquist: float = 0.25, factor: float = 4) -> np.ndarray:
    """:func:`highpass` of a ``(..., H, W)`` array (no NaN handling)."""
    t, lead = _to_nchw(a)
    with torch.no_grad():
        return _from_nchw(highpass(t, mtf_at_nyquist=mtf_at_nyquist, factor=factor), lead)


def upsample_bicubic_np(a: np.ndarray, *, factor: int = 4) -> np.ndarray:
    """:func:`upsample_bicubic` of a ``(..., h, w)`` array, NaN-aware and chunk-local.

    NaN pixels are first filled by :func:`fill_nan_local` (radius 2); every fine pixel of a NaN
    coarse pixel is NaN in the output.
    """
    t, lead = _to_nchw(a)
    invalid = ~torch.isfinite(t)
    with torch.no_grad():
        out = upsample_bicubic(fill_nan_local(t, radius=2), factor=factor)
        if bool(invalid.any()):
            mask = nnf.interpolate(invalid.float(), scale_factor=factor, mode="nearest") > 0
            out = torch.where(mask, torch.nan, out)
    return _from_nchw(out, lead)


#: Smallest normaliser :func:`degrade_np` divides by (the operator's weight on valid pixels;
#: 1 when the whole neighbourhood is valid, >= ~0.02 when one pixel of the block is).
MIN_NORMALISER = 1e-3


def degrade_np(
    a: np.ndarray,
    *,
    method: Degradation = "gaussian",
    factor: int = 4,
    mtf_at_nyquist: float = 0.1,
    min_valid: float = 1.0,
) -> np.ndarray:
    """NaN-aware :func:`degrade` of a ``(..., H, W)`` array.

    NaN pixels are left out by normalised filtering (the same operator applied to the validity
    mask divides the result), and a coarse pixel is NaN when less than ``min_valid`` of its
    ``factor x factor`` block is valid (``1.0``: any NaN in the block makes it NaN). A coarse
    pixel is also NaN when the normaliser (the operator's weight on valid pixels, 1 for a
    fully valid neighbourhood) is ``<=`` :data:`MIN_NORMALISER`: the Gaussian H's bicubic
    decimation has negative taps, so with few valid pixels the normaliser can be tiny or
    negative and the quotient meaningless.
    """
    arr = np.asarray(a, dtype=np.float32)
    valid = np.isfinite(arr)
    if arr.shape[-2] % factor or arr.shape[-1] % factor:
        raise ConfigError(f"shape {arr.shape} is not a multiple of factor {factor}")
    values, lead = _to_nchw(np.where(valid, arr, 0.0))
    weights, _ = _to_nchw(valid.astype(np.float32))
    with torch.no_grad():
        if method == "l4":
            num = degrade(values.double() ** 4, method="mean", factor=factor)
            den = degrade(weights.double(), method="mean", factor=factor)
            out = (num / den.clamp_min(MIN_NORMALISER)) ** 0.25
        else:
            num = degrade(
                values.double(), method=method, factor=factor, mtf_at_nyquist=mtf_at_nyquist
            )
            den = degrade(
                weights.double(), method=method, factor=factor, mtf_at_nyquist=mtf_at_nyquist
            )
            out = num / den.clamp_min(MIN_NORMALISER)
        fraction = nnf.avg_pool2d(weights.double(), factor)
        keep = (fraction >= min_valid - 1e-9) & (den > MIN_NORMALISER)
        out = torch.where(keep, out, torch.nan)
    return _from_nchw(out.float(), lead)
