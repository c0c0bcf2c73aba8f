"""The per-pixel quality flags of the 250 m LST product (``lst_250m_quality``, uint8).

Bit flags, combined with OR (CF ``flag_masks``); ``0`` means valid inputs around the pixel and
an NDVI for which the NDVI-LST texture link is expected to hold.

=====  ==================  ===================================================================
value  name                meaning
=====  ==================  ===================================================================
0      ok                  inputs valid within 1 km, NDVI >= 0.1, away from the region edge
1      lst_missing         the covering 1 km LST is missing (cloud, water, fill, rejected QC):
                           ``lst_250m`` is NaN; nothing is invented
2      ndvi_missing        the 250 m NDVI is missing (water, fill, rejected QC); the model saw
                           the normalisation mean instead
4      low_confidence      NDVI < 0.1 (bare soil, desert, snow, water edges): outside the domain
                           where NDVI explains LST texture
8      near_invalid        an invalid input (1 km LST or 250 m NDVI) lies within ``near_px``
                           250 m pixels (default 4 = one 1 km pixel): cloud edges, coasts
16     region_edge         within the model's receptive field (at least ``near_px``) of the
                           cube's outer boundary: beyond it there is no input, the model saw
                           the edge values replicated, and the output differs from what a
                           larger cube would give (by kelvins within a few pixels)
255    not_computed        fill value: the day/pixel was never predicted
=====  ==================  ===================================================================
"""

from __future__ import annotations

from enum import IntFlag

import numpy as np
from scipy import ndimage

__all__ = [
    "FLAG_MEANINGS",
    "LOW_NDVI",
    "NEAR_PX",
    "NOT_COMPUTED",
    "QualityFlag",
    "quality_attrs",
    "quality_flags",
    "region_edge_mask",
]

LOW_NDVI = 0.1
NEAR_PX = 4
NOT_COMPUTED = 255


class QualityFlag(IntFlag):
    """Bits of ``lst_250m_quality``."""

    OK = 0
    LST_MISSING = 1
    NDVI_MISSING = 2
    LOW_CONFIDENCE = 4
    NEAR_INVALID = 8
    REGION_EDGE = 16


FLAG_MEANINGS = "lst_missing ndvi_missing low_confidence near_invalid region_edge"


def quality_attrs() -> dict[str, object]:
    """CF attributes of the quality variable."""
    return {
        "long_name": "quality flags of the 250 m land surface temperature",
        "flag_masks": [1, 2, 4, 8, 16],
        "flag_meanings": FLAG_MEANINGS,
        "comment": (
            "0 = ok; 1 = 1 km LST input missing (lst_250m is NaN); 2 = 250 m NDVI missing; "
            f"4 = NDVI < {LOW_NDVI} (low confidence: bare soil, desert, snow, water); "
            f"8 = an invalid input within {NEAR_PX} px (cloud edge, coast); "
            "16 = within the model's receptive field of the cube's outer boundary (input padded "
            "there: values differ from a larger cube's); "
            f"{NOT_COMPUTED} = not computed"
        ),
    }


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
