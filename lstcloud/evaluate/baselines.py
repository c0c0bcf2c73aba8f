"""Reference implementations used by the evaluation when ``lstcloud.models`` / ``lstcloud.ops``
are not available: nearest, bicubic and TsHARP sharpeners, and the degradation operators H.

They follow the same contracts (``predict(lst_1km, ndvi_250m) -> lst_250m``, NaN-aware, 4x) so
that the evaluation gives the same figures whichever implementation runs; the metrics.json of a
run records which one was used.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import torch
from scipy import ndimage
from torch.nn import functional as nnf

from lstcloud.errors import ConfigError

__all__ = [
    "DEGRADATIONS",
    "FACTOR",
    "bicubic_upsample",
    "block_mean",
    "gaussian_degrade",
    "gaussian_sigma",
    "l4_degrade",
    "nearest_upsample",
    "reference_degradation",
    "tsharp",
]

FACTOR = 4


def _device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def _fill_nearest(image: np.ndarray) -> np.ndarray:
    invalid = ~np.isfinite(image)
    if not invalid.any() or invalid.all():
        return image
    idx = ndimage.distance_transform_edt(invalid, return_distances=False, return_indices=True)
    return image[tuple(idx)]


def nearest_upsample(lst: np.ndarray, factor: int = FACTOR) -> np.ndarray:
    """Replicate every coarse pixel ``factor`` x ``factor`` times (NaN stays NaN)."""
    lst = np.asarray(lst, np.float32)
    return np.repeat(np.repeat(lst, factor, axis=0), factor, axis=1)


def _interpolate(image: np.ndarray, *, scale: float, antialias: bool = False) -> np.ndarray:
    x = torch.from_numpy(np.ascontiguousarray(image, np.float32))[None, None].to(_device())
    y = nnf.interpolate(
        x, scale_factor=scale, mode="bicubic", align_corners=False, antialias=antialias
    )
    return y[0, 0].cpu().numpy()


def bicubic_upsample(lst: np.ndarray, factor: int = FACTOR) -> np.ndarray:
    """Bicubic upsampling by ``factor`` (``torch`` bicubic, pixel-area aligned corners).

    NaN pixels are filled with their nearest valid neighbour before interpolating and are NaN
    again in the output (every fine pixel of an invalid coarse pixel).
    """
    lst = np.asarray(lst, np.float32)
    if not np.isfinite(lst).any():
        return nearest_upsample(lst, factor)
    out = _interpolate(_fill_nearest(lst), scale=factor)
    out[~np.isfinite(nearest_upsample(lst, factor))] = np.nan
    return out


def block_mean(image: np.ndarray, factor: int = FACTOR) -> np.ndarray:
    """NaN-aware mean of ``factor`` x ``factor`` blocks (shape must be divisible)."""
    image = np.asarray(image, np.float32)
    h, w = image.shape
    if h % factor or w % factor:
        raise ConfigError(f"shape {image.shape} is not divisible by {factor}")
    blocks = image.reshape(h // factor, factor, w // factor, factor)
    valid = np.isfinite(blocks)
    count = valid.sum(axis=(1, 3))
    total = np.where(valid, blocks, 0).sum(axis=(1, 3), dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, total / count, np.nan).astype(np.float32)


def l4_degrade(image: np.ndarray, factor: int = FACTOR) -> np.ndarray:
    """Block mean of T^4 then ^(1/4) (radiance-like aggregation of kelvin values)."""
    t = np.asarray(image, np.float64)
    return (block_mean((t**4).astype(np.float64), factor).astype(np.float64) ** 0.25).astype(
        np.float32
    )


def gaussian_sigma(factor: int = FACTOR, mtf_at_nyquist: float = 0.1) -> float:
    """Sigma (fine pixels) of the Gaussian PSF whose MTF is ``mtf_at_nyquist`` at the coarse
    grid's Nyquist frequency ``1 / (2 factor)`` cycles per fine pixel."""
    return factor * math.sqrt(-2.0 * math.log(mtf_at_nyquist)) / math.pi


def gaussian_degrade(
    image: np.ndarray, factor: int = FACTOR, *, mtf_at_nyquist: float = 0.1
) -> np.ndarray:
    """The published code's H: Gaussian PSF (MTF ``mtf_at_nyquist`` at the coarse Nyquist
    frequency) then bicubic decimation by ``factor``; NaN-aware by normalised convolution."""
    image = np.asarray(image, np.float32)
    sigma = gaussian_sigma(factor, mtf_at_nyquist)
    valid = np.isfinite(image)
    num = ndimage.gaussian_filter(
        np.where(valid, image, 0).astype(np.float64), sigma, mode="reflect"
    )
    den = ndimage.gaussian_filter(valid.astype(np.float64), sigma, mode="reflect")
    with np.errstate(invalid="ignore", divide="ignore"):
        blurred = np.where(den > 1e-6, num / den, np.nan)
    out = _interpolate(_fill_nearest(blurred.astype(np.float32)), scale=1.0 / factor)
    out[~np.isfinite(block_mean(image, factor))] = np.nan
    return out


DEGRADATIONS: dict[str, Callable[..., np.ndarray]] = {
    "gaussian": gaussian_degrade,
    "block-mean": block_mean,
    "l4": l4_degrade,
}


def reference_degradation(name: str) -> Callable[[np.ndarray], np.ndarray]:
    """The reference H called ``name`` (``gaussian``, ``block-mean``, ``l4``), factor 4."""
    try:
        return DEGRADATIONS[name]
    except KeyError:
        raise ConfigError(
            f"unknown degradation {name!r}; choose one of {', '.join(DEGRADATIONS)}"
        ) from None


def tsharp(lst: np.ndarray, ndvi: np.ndarray, factor: int = FACTOR) -> np.ndarray:
    """TsHARP (Agam et al. 2007), one global linear fit.

    Fit ``LST = a + b * NDVI`` by least squares on the coarse pixels (NDVI block-averaged to the
    LST grid), apply it to the fine NDVI, and add back each coarse pixel's residual (replicated
    over its fine pixels) so that the block mean of the output equals the input where the NDVI
    is complete. Fine pixels without NDVI get the bicubic value.
    """
    lst = np.asarray(lst, np.float32)
    ndvi = np.asarray(ndvi, np.float32)
    if ndvi.shape != (lst.shape[0] * factor, lst.shape[1] * factor):
        raise ConfigError(f"NDVI shape {ndvi.shape} is not {factor}x the LST shape {lst.shape}")
    coarse_ndvi = block_mean(ndvi, factor)
    ok = np.isfinite(lst) & np.isfinite(coarse_ndvi)
    if ok.sum() < 3:
        return bicubic_upsample(lst, factor)
    b, a = np.polyfit(coarse_ndvi[ok].astype(np.float64), lst[ok].astype(np.float64), 1)
    residual = lst - (a + b * coarse_ndvi)
    out = (a + b * ndvi + nearest_upsample(residual, factor)).astype(np.float32)
    missing = ~np.isfinite(out) & np.isfinite(nearest_upsample(lst, factor))
    if missing.any():
        out[missing] = bicubic_upsample(lst, factor)[missing]
    return out
