"""The per-pixel quality flags of the 250 m LST product (``lst_250m_quality``, uint8): their
meaning and CF attributes. :mod:`lstcloud.inference.quality` computes them.

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
32     guide_missing       the day's 250 m guide (NDVI granule) is missing for the tile (ingest
                           state ``lst_only``): ``lst_250m`` is the 1 km LST interpolated
                           (bicubic, 1 km means kept), not super-resolved; the NDVI flags
                           (2, 4) are not set there and ``near_invalid`` looks at the LST only
255    not_computed        fill value: the day/pixel was never predicted
=====  ==================  ===================================================================
"""

from __future__ import annotations

from enum import IntFlag

__all__ = [
    "FLAG_MEANINGS",
    "LOW_NDVI",
    "NEAR_PX",
    "NOT_COMPUTED",
    "QualityFlag",
    "flag_names",
    "quality_attrs",
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
    GUIDE_MISSING = 32


FLAG_MEANINGS = "lst_missing ndvi_missing low_confidence near_invalid region_edge guide_missing"


def flag_names(value: int) -> str:
    """The names of the bits set in a flag value, joined by ``+`` (``ok``, ``not_computed``)."""
    value = int(value)
    if value == NOT_COMPUTED:
        return "not_computed"
    names = [str(flag.name).lower() for flag in QualityFlag if flag and value & flag]
    return "+".join(names) or "ok"


def quality_attrs() -> dict[str, object]:
    """CF attributes of the quality variable."""
    return {
        "long_name": "quality flags of the 250 m land surface temperature",
        "flag_masks": [int(flag) for flag in QualityFlag if flag],
        "flag_meanings": FLAG_MEANINGS,
        "comment": (
            "0 = ok; 1 = 1 km LST input missing (lst_250m is NaN); 2 = 250 m NDVI missing; "
            f"4 = NDVI < {LOW_NDVI} (low confidence: bare soil, desert, snow, water); "
            f"8 = an invalid input within {NEAR_PX} px (cloud edge, coast); "
            "16 = within the model's receptive field of the cube's outer boundary (input padded "
            "there: values differ from a larger cube's); "
            "32 = no 250 m NDVI guide that day for the tile (lst_250m interpolated from the "
            "1 km LST, 1 km means kept); "
            f"{NOT_COMPUTED} = not computed"
        ),
    }
