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
    guide_missing: np.ndarray | None = None,
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
    guide_missing
        (h, w) bool, True where the day has no 250 m guide (an ``lst_only`` tile): those
        pixels get ``guide_missing`` instead of the NDVI flags, and their ``near_invalid``
        looks at the LST only (the interpolation reads no NDVI).

    Returns
    -------
    numpy.ndarray
        (4h, 4w) uint8 flags (without ``region_edge``, which needs the array's extent).
        Pixels within ``near_px`` of the window border see only part of their neighbourhood:
        callers pass a window with a halo and keep its core.
    """
    lst_bad = ~np.isfinite(lst_1km)
    ndvi_bad = ~np.isfinite(ndvi_250m)
    lst_bad_250 = _to_250m(lst_bad)
    guided = np.ones(ndvi_250m.shape, dtype=bool)
    if guide_missing is not None:
        guided = ~_to_250m(np.asarray(guide_missing, dtype=bool))
    flags = np.zeros(ndvi_250m.shape, dtype=np.uint8)
    flags[lst_bad_250] |= np.uint8(QualityFlag.LST_MISSING)
    flags[~guided] |= np.uint8(QualityFlag.GUIDE_MISSING)
    flags[ndvi_bad & guided] |= np.uint8(QualityFlag.NDVI_MISSING)
    with np.errstate(invalid="ignore"):
        low = ~ndvi_bad & (ndvi_250m < low_ndvi) & guided
        flags[low] |= np.uint8(QualityFlag.LOW_CONFIDENCE)
    if near_px > 0:
        size = 2 * int(near_px) + 1
        near_lst = ndimage.maximum_filter(lst_bad_250, size=size, mode="nearest")
        near_ndvi = ndimage.maximum_filter(ndvi_bad & guided, size=size, mode="nearest")
        near = near_lst | (near_ndvi & guided)
        flags[near & ~lst_bad_250] |= np.uint8(QualityFlag.NEAR_INVALID)
    return flags


def _to_250m(mask_1km: np.ndarray) -> np.ndarray:
    return np.repeat(np.repeat(mask_1km, 4, axis=0), 4, axis=1)


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
