"""Image-quality metrics for super-resolved LST, NaN-aware, with the unit in every name.

Every function compares a prediction with a reference of the same shape; a pixel takes part
only where both are finite (and where ``mask`` is true, when given). Temperatures are in kelvin.

Keys of :func:`score` (one sample):

========================  ==========================================================
``rmse_k``                root-mean-square error (K)
``mae_k``                 mean absolute error (K)
``bias_k``                mean of prediction minus reference (K)
``ssim``                  structural similarity (unitless), ``data_range`` = reference max-min
``psnr_db``               peak signal-to-noise ratio (dB), peak = reference max-min
``grad_rmse_k``           RMSE of the Sobel gradient vector (K per pixel)
``corr``                  Pearson correlation (unitless)
``n_valid_px``            number of pixels scored
========================  ==========================================================
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
from scipy import ndimage
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

__all__ = [
    "METRIC_KEYS",
    "aggregate",
    "bias",
    "correlation",
    "gradient_rmse",
    "mae",
    "psnr",
    "rmse",
    "score",
    "ssim",
    "ssim_bounding_box",
    "valid_mask",
]

METRIC_KEYS: tuple[str, ...] = (
    "rmse_k",
    "mae_k",
    "bias_k",
    "ssim",
    "psnr_db",
    "grad_rmse_k",
    "corr",
    "n_valid_px",
)

_SSIM_WIN = 7


def valid_mask(
    prediction: np.ndarray, reference: np.ndarray, mask: np.ndarray | None = None
) -> np.ndarray:
    """Pixels where both images are finite (and ``mask`` is true).

    Parameters
    ----------
    prediction, reference
        Arrays of the same shape.
    mask
        Optional boolean array of the same shape restricting the scored pixels.

    Returns
    -------
    numpy.ndarray
        Boolean array of the common shape.
    """
    prediction = np.asarray(prediction)
    reference = np.asarray(reference)
    if prediction.shape != reference.shape:
        raise ValueError(f"shape mismatch: prediction {prediction.shape} vs {reference.shape}")
    valid = np.isfinite(prediction) & np.isfinite(reference)
    if mask is not None:
        valid &= np.asarray(mask, dtype=bool)
    return valid


def _errors(prediction: np.ndarray, reference: np.ndarray, mask: np.ndarray | None) -> np.ndarray:
    valid = valid_mask(prediction, reference, mask)
    return (np.asarray(prediction, np.float64) - np.asarray(reference, np.float64))[valid]


def rmse(prediction: np.ndarray, reference: np.ndarray, *, mask: np.ndarray | None = None) -> float:
    """Root-mean-square error over the valid pixels (unit of the inputs; NaN if none)."""
    err = _errors(prediction, reference, mask)
    return float(np.sqrt(np.mean(err**2))) if err.size else math.nan


def mae(prediction: np.ndarray, reference: np.ndarray, *, mask: np.ndarray | None = None) -> float:
    """Mean absolute error over the valid pixels (unit of the inputs; NaN if none)."""
    err = _errors(prediction, reference, mask)
    return float(np.mean(np.abs(err))) if err.size else math.nan


def bias(prediction: np.ndarray, reference: np.ndarray, *, mask: np.ndarray | None = None) -> float:
    """Mean of prediction minus reference over the valid pixels (NaN if none)."""
    err = _errors(prediction, reference, mask)
    return float(np.mean(err)) if err.size else math.nan


def correlation(
    prediction: np.ndarray, reference: np.ndarray, *, mask: np.ndarray | None = None
) -> float:
    """Pearson correlation over the valid pixels (NaN if fewer than 2 or a constant image)."""
    valid = valid_mask(prediction, reference, mask)
    p = np.asarray(prediction, np.float64)[valid]
    r = np.asarray(reference, np.float64)[valid]
    if p.size < 2 or np.std(p) == 0 or np.std(r) == 0:
        return math.nan
    return float(np.corrcoef(p, r)[0, 1])


def _data_range(reference: np.ndarray, valid: np.ndarray) -> float:
    values = np.asarray(reference, np.float64)[valid]
    return float(values.max() - values.min()) if values.size else math.nan


def psnr(prediction: np.ndarray, reference: np.ndarray, *, mask: np.ndarray | None = None) -> float:
    """Peak signal-to-noise ratio (dB) with peak = the reference's max-min over valid pixels.

    ``PSNR = 20 log10(range / RMSE)``; ``inf`` for identical images, NaN without valid pixels
    or with a constant reference.
    """
    valid = valid_mask(prediction, reference, mask)
    data_range = _data_range(reference, valid)
    if not valid.any() or not data_range > 0:
        return math.nan
    p = np.asarray(prediction, np.float64)[valid]
    r = np.asarray(reference, np.float64)[valid]
    if np.array_equal(p, r):
        return math.inf
    return float(peak_signal_noise_ratio(r, p, data_range=data_range))


def _filled(image: np.ndarray, valid: np.ndarray, value: float) -> np.ndarray:
    out = np.asarray(image, np.float64).copy()
    out[~valid] = value
    return out


def ssim(
    prediction: np.ndarray,
    reference: np.ndarray,
    *,
    mask: np.ndarray | None = None,
    win_size: int = _SSIM_WIN,
) -> float:
    """Structural similarity on the valid region, ``data_range`` = reference max-min.

    The SSIM map of :func:`skimage.metrics.structural_similarity` (Gaussian-free 7x7 windows) is
    computed on both images with invalid pixels set to the reference's valid mean, then averaged
    over the pixels whose whole window is valid (the valid mask eroded by ``win_size // 2``; the
    plain valid mask when that erosion leaves nothing).
    """
    valid = valid_mask(prediction, reference, mask)
    data_range = _data_range(reference, valid)
    if not valid.any() or not data_range > 0 or min(valid.shape) < win_size:
        return math.nan
    fill = float(np.asarray(reference, np.float64)[valid].mean())
    _, smap = structural_similarity(
        _filled(reference, valid, fill),
        _filled(prediction, valid, fill),
        data_range=data_range,
        win_size=win_size,
        full=True,
    )
    inner = ndimage.binary_erosion(
        valid, structure=np.ones((3, 3), bool), iterations=win_size // 2, border_value=0
    )
    region = inner if inner.any() else valid
    return float(smap[region].mean())


def ssim_bounding_box(
    prediction: np.ndarray,
    reference: np.ndarray,
    *,
    mask: np.ndarray | None = None,
    win_size: int = _SSIM_WIN,
) -> float:
    """SSIM over the bounding box of the valid region, invalid pixels of both images set to the
    reference's valid mean (a common convention; kept only for comparison with other scripts).

    The filled pixels are identical constants in both images and score SSIM close to 1, so this
    figure is higher than :func:`ssim` whenever the valid region is not a rectangle (a rotated
    ASTER scene).
    """
    valid = valid_mask(prediction, reference, mask)
    data_range = _data_range(reference, valid)
    if not valid.any() or not data_range > 0:
        return math.nan
    rows, cols = np.nonzero(valid)
    box = (slice(rows.min(), rows.max() + 1), slice(cols.min(), cols.max() + 1))
    if min(valid[box].shape) < win_size:
        return math.nan
    fill = float(np.asarray(reference, np.float64)[valid].mean())
    return float(
        structural_similarity(
            _filled(reference, valid, fill)[box],
            _filled(prediction, valid, fill)[box],
            data_range=data_range,
            win_size=win_size,
        )
    )


def _sobel(image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    # scipy's Sobel weights (1, 2, 1) x central difference over 2 px: divide by 8 for K / px.
    image = np.asarray(image, np.float64)
    return ndimage.sobel(image, axis=0) / 8.0, ndimage.sobel(image, axis=1) / 8.0


def gradient_rmse(
    prediction: np.ndarray, reference: np.ndarray, *, mask: np.ndarray | None = None
) -> float:
    """RMSE of the Sobel gradient vectors (K per pixel).

    ``sqrt(mean((gx_p - gx_r)^2 + (gy_p - gy_r)^2))`` over pixels whose 3x3 neighbourhood is
    valid; the Sobel response is divided by 8 so that a ramp of 1 K/px gives a gradient of 1.
    """
    valid = valid_mask(prediction, reference, mask)
    inner = ndimage.binary_erosion(valid, structure=np.ones((3, 3), bool), border_value=0)
    if not inner.any():
        return math.nan
    fill = float(np.asarray(reference, np.float64)[valid].mean())
    gy_p, gx_p = _sobel(_filled(prediction, valid, fill))
    gy_r, gx_r = _sobel(_filled(reference, valid, fill))
    sq = (gx_p - gx_r) ** 2 + (gy_p - gy_r) ** 2
    return float(np.sqrt(sq[inner].mean()))


def score(
    prediction: np.ndarray, reference: np.ndarray, *, mask: np.ndarray | None = None
) -> dict[str, float]:
    """Every metric of one sample (keys :data:`METRIC_KEYS`).

    Parameters
    ----------
    prediction, reference
        Temperatures in kelvin, same shape, NaN = invalid.
    mask
        Optional boolean array: pixels to score (intersected with the finite pixels).

    Returns
    -------
    dict
        ``rmse_k``, ``mae_k``, ``bias_k``, ``ssim``, ``psnr_db``, ``grad_rmse_k``, ``corr``,
        ``n_valid_px``.
    """
    valid = valid_mask(prediction, reference, mask)
    return {
        "rmse_k": rmse(prediction, reference, mask=valid),
        "mae_k": mae(prediction, reference, mask=valid),
        "bias_k": bias(prediction, reference, mask=valid),
        "ssim": ssim(prediction, reference, mask=valid),
        "psnr_db": psnr(prediction, reference, mask=valid),
        "grad_rmse_k": gradient_rmse(prediction, reference, mask=valid),
        "corr": correlation(prediction, reference, mask=valid),
        "n_valid_px": int(valid.sum()),
    }


def _finite_mean(values: Iterable[float]) -> float:
    arr = np.asarray([v for v in values if v is not None], dtype=np.float64)
    arr = arr[np.isfinite(arr)]
    return float(arr.mean()) if arr.size else math.nan


def aggregate(
    per_sample: Iterable[Mapping[str, Any]], *, extra_keys: Iterable[str] = ()
) -> dict[str, float | int]:
    """Aggregate per-sample scores of one method.

    Each metric key (and each of ``extra_keys``) is the mean over samples (non-finite values
    skipped). Pixel-pooled figures
    are added: ``pooled_rmse_k``, ``pooled_mae_k``, ``pooled_bias_k`` (every valid pixel of every
    sample weighted equally), plus ``n_samples`` and ``n_valid_px`` (total).
    """
    rows = [r for r in per_sample if int(r.get("n_valid_px", 0)) > 0]
    out: dict[str, float | int] = {
        key: _finite_mean(r[key] for r in rows) for key in METRIC_KEYS if key != "n_valid_px"
    }
    for key in extra_keys:
        out[key] = _finite_mean(r.get(key) for r in rows)
    n = np.asarray([r["n_valid_px"] for r in rows], dtype=np.float64)
    total = float(n.sum())
    if total > 0:
        out["pooled_rmse_k"] = float(
            np.sqrt(np.sum(n * np.asarray([r["rmse_k"] for r in rows]) ** 2) / total)
        )
        out["pooled_mae_k"] = float(np.sum(n * np.asarray([r["mae_k"] for r in rows])) / total)
        out["pooled_bias_k"] = float(np.sum(n * np.asarray([r["bias_k"] for r in rows])) / total)
    else:
        out.update(pooled_rmse_k=math.nan, pooled_mae_k=math.nan, pooled_bias_k=math.nan)
    out["n_samples"] = len(rows)
    out["n_valid_px"] = int(total)
    return out
