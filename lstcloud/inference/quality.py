"""Computing the per-pixel quality flags of the 250 m LST (their meaning:
:mod:`lstcloud.cube.quality`)."""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from lstcloud.cube.quality import LOW_NDVI, NEAR_PX, QualityFlag

__all__ = ["LOW_NDVI", "NEAR_PX", "QualityFlag", "quality_flags", "region_edge_mask"]


def quality_flags(
    lst_1km: np.ndarray,
    ndvi_250m: np.ndarray,
    *,
    near_px: int = NEAR_PX,
    low_ndvi: float = LOW_NDVI,
) -> np.ndarray:
    """Quality flags at 250 m for a window of aligned inputs.

    Parameters
    ----------
    lst_1km
        (h, w) 1 km LST in K, NaN = missing.
    ndvi_250m
        (4h, 4w) 250 m NDVI, NaN = missing.
    near_px
        Radius (250 m pixels) within which an invalid input marks a pixel ``near_invalid``.
    low_ndvi
        NDVI threshold under which a pixel is flagged ``low_confidence``.

    Returns
    -------
    numpy.ndarray
        (4h, 4w) uint8 flags (without ``region_edge``, which needs the array's extent).
        Pixels within ``near_px`` of the window border see only part of their neighbourhood:
        callers pass a window with a halo and keep its core.
    """
    lst_bad = ~np.isfinite(lst_1km)
    ndvi_bad = ~np.isfinite(ndvi_250m)
    lst_bad_250 = np.repeat(np.repeat(lst_bad, 4, axis=0), 4, axis=1)
    flags = np.zeros(ndvi_250m.shape, dtype=np.uint8)
    flags[lst_bad_250] |= np.uint8(QualityFlag.LST_MISSING)
    flags[ndvi_bad] |= np.uint8(QualityFlag.NDVI_MISSING)
    with np.errstate(invalid="ignore"):
        flags[~ndvi_bad & (ndvi_250m < low_ndvi)] |= np.uint8(QualityFlag.LOW_CONFIDENCE)
    if near_px > 0:
        size = 2 * int(near_px) + 1
        near = ndimage.maximum_filter(lst_bad_250 | ndvi_bad, size=size, mode="nearest")
        flags[near & ~lst_bad_250] |= np.uint8(QualityFlag.NEAR_INVALID)
    return flags


def region_edge_mask(
    rows: tuple[int, int], cols: tuple[int, int], shape: tuple[int, int], radius: int
) -> np.ndarray:
    """True for the pixels of ``[rows) x [cols)`` within ``radius`` of the array's edge."""
    y = np.arange(*rows)
    x = np.arange(*cols)
    ny, nx = shape
    near_y = (y < radius) | (y >= ny - radius)
    near_x = (x < radius) | (x >= nx - radius)
    return near_y[:, None] | near_x[None, :]
