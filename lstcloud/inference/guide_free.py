"""The guide-free path: 250 m LST where the day's 250 m guide (NDVI) is missing.

A tile ingested ``lst_only`` (the catalogue had its 1 km LST but no 250 m NDVI granule) has
nothing for the model to sharpen with. Its 250 m LST is the bicubic interpolation of the
locally filled 1 km LST, corrected so that it keeps the 1 km means:

    T_0     = U(LST_1km)                       (U: bicubic x4, a = -0.75, edges replicated)
    T_{k+1} = T_k + U(LST_1km - M(T_k))        (M: 4 x 4 block mean)

(the bicubic-residual correction of :mod:`lstcloud.models.postprocess`, written here on
:mod:`lstcloud.ops` so that the product does not depend on a model's internals). After
:data:`ITERATIONS` steps the block means match the 1 km input to a few hundredths of a kelvin
on real scenes. Pixels whose 1 km LST is missing stay NaN. Missing 1 km pixels are filled
locally before interpolating: within :data:`FILL_RADIUS_1KM` of a valid pixel by the mean of the
valid ones (``ops.fill_nan_local``), further out (up to the corrections' support) by the mean of
those filled values within :func:`_far_radius`, so that an output pixel reads only its own
neighbourhood (a constant far fill would ring into the valid pixels through the corrections).

An output pixel reads its input within :func:`reach_1km` 1 km pixels (16 with the default 3
steps); when a day to predict has ``lst_only`` tiles, ``predict_cube`` keeps at least that
much context around every block (``plan_halo(min_context_1km=...)``), so the result does not
depend on the chunking.
"""

from __future__ import annotations

import numpy as np
import torch

from lstcloud import ops

__all__ = ["FILL_RADIUS_1KM", "ITERATIONS", "guide_free_250m", "reach_1km"]

#: Radius (1 km pixels) of the local NaN fill before interpolation.
FILL_RADIUS_1KM = 2
#: Residual-correction steps after the bicubic interpolation.
ITERATIONS = 3


def _support(iterations: int) -> int:
    """How far (1 km pixels) the interpolation and its corrections read the filled input."""
    return 2 * (1 + iterations)


def _far_radius(iterations: int) -> int:
    """Radius of the second fill: every pixel the corrections read around a valid pixel."""
    return max(0, _support(iterations) - FILL_RADIUS_1KM)


def reach_1km(iterations: int = ITERATIONS) -> int:
    """How far (1 km pixels) an output pixel of :func:`guide_free_250m` reads its input."""
    return _support(iterations) + _far_radius(iterations) + FILL_RADIUS_1KM


def guide_free_250m(lst_1km: np.ndarray, *, iterations: int = ITERATIONS) -> np.ndarray:
    """Interpolate a 1 km LST window to 250 m, keeping its 1 km means.

    Parameters
    ----------
    lst_1km
        ``(h, w)`` 1 km LST in K, NaN = missing.
    iterations
        Block-mean residual corrections after the bicubic interpolation.

    Returns
    -------
    numpy.ndarray
        ``(4 h, 4 w)`` float32 LST in K, NaN under every missing 1 km pixel.
    """
    lst = np.asarray(lst_1km, dtype=np.float32)
    if lst.ndim != 2:
        raise ValueError(f"guide_free_250m expects a 2-D (y, x) array, got shape {lst.shape}")
    missing = ~np.isfinite(lst)
    if missing.all():
        return np.full((4 * lst.shape[0], 4 * lst.shape[1]), np.nan, dtype=np.float32)
    with torch.inference_mode():
        near = ops.fill_nan_local(
            torch.from_numpy(lst.astype(np.float64))[None, None],
            radius=FILL_RADIUS_1KM,
            fill=float("nan"),
        )
        # beyond every valid pixel's reach the value is never read: any constant serves
        coarse = ops.fill_nan_local(near, radius=_far_radius(iterations),
                                    fill=float(np.nanmean(lst)))
        out = ops.upsample_bicubic(coarse, factor=4)
        for _ in range(iterations):
            residual = coarse - torch.nn.functional.avg_pool2d(out, 4)
            out = out + ops.upsample_bicubic(residual, factor=4)
        fine = out[0, 0].numpy().astype(np.float32)
    fine[np.repeat(np.repeat(missing, 4, axis=0), 4, axis=1)] = np.nan
    return fine
