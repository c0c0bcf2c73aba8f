"""The guide-free path (issue 24, item 1): where the day's 250 m guide is missing (``lst_only``
tiles) the 250 m LST is interpolated wherever the 1 km LST is valid, keeps the 1 km means, and is
flagged ``guide_missing``, never ``lst_missing``. The end-to-end check (real STAC API, ingest,
predict on a Dask cluster) is ``tests/ingest/test_lst_only.py``."""

from __future__ import annotations

import datetime as dt

import dask
import dask.array as da
import numpy as np

from lstcloud.cube.quality import FLAG_MEANINGS, QualityFlag, quality_attrs
from lstcloud.inference.guide_free import guide_free_250m, reach_1km
from lstcloud.inference.halo import plan_halo, super_resolve
from lstcloud.inference.plugin import install_model, model_key
from lstcloud.inference.quality import quality_flags
from tests.inference.cubes import day_inputs
from tests.inference.standin import RECEPTIVE_FIELD_PX, make_standin

NY, NX = 32, 40
DAY = dt.date(2021, 7, 1)


def _block_means(fine: np.ndarray) -> np.ndarray:
    return fine.reshape(fine.shape[0] // 4, 4, fine.shape[1] // 4, 4).mean(axis=(1, 3))


def test_interpolation_keeps_the_1km_means_and_the_gaps() -> None:
    lst, _ = day_inputs(NY, NX, [DAY])
    lst = lst[0].copy()
    lst[5:9, 10:30] = np.nan
    fine = guide_free_250m(lst)
    valid = np.isfinite(lst)
    assert np.isfinite(fine[np.repeat(np.repeat(valid, 4, 0), 4, 1)]).all()
    assert np.isnan(fine[np.repeat(np.repeat(~valid, 4, 0), 4, 1)]).all()
    error = np.abs(_block_means(fine) - lst)[valid].mean()
    plain = np.abs(_block_means(guide_free_250m(lst, iterations=0)) - lst)[valid].mean()
    assert error < 0.1 < 0.4 < plain  # sharp synthetic scene: bicubic alone drifts ~0.5 K
    assert np.nanstd(fine) > 0  # not nearest-neighbour blocks: interpolated
    assert not np.allclose(fine, np.repeat(np.repeat(lst, 4, 0), 4, 1), equal_nan=True)


def test_guide_missing_is_a_documented_flag_not_lst_missing() -> None:
    attrs = quality_attrs()
    names = FLAG_MEANINGS.split()
    assert attrs["flag_masks"][names.index("guide_missing")] == QualityFlag.GUIDE_MISSING
    assert "NDVI" in str(attrs["comment"])
    lst = np.full((4, 4), 300.0, np.float32)
    lst[0, 0] = np.nan
    ndvi = np.full((16, 16), np.nan, np.float32)  # no guide at all
    flags = quality_flags(lst, ndvi, guide_missing=np.ones((4, 4), bool))
    assert ((flags & QualityFlag.GUIDE_MISSING) > 0).all()
    assert not (flags & (QualityFlag.NDVI_MISSING | QualityFlag.LOW_CONFIDENCE)).any()
    assert (flags[:4, :4] & QualityFlag.LST_MISSING).all()
    assert not (flags[8:, 8:] & (QualityFlag.LST_MISSING | QualityFlag.NEAR_INVALID)).any()


def test_super_resolve_fills_the_unguided_part_and_flags_it() -> None:
    model = make_standin()
    key = model_key(model)
    install_model(key, model)
    lst, ndvi = day_inputs(NY, NX, [DAY])
    lst, ndvi = lst[0], ndvi[0].copy()
    ndvi[:, 4 * 20 :] = np.nan  # the east half has no guide that day
    guide = np.zeros((NY, NX), bool)
    guide[:, 20:] = True
    plan = plan_halo(RECEPTIVE_FIELD_PX, tile_1km=16, min_context_1km=reach_1km())
    out, quality = super_resolve(
        da.from_array(lst, chunks=(16, 20)), da.from_array(ndvi, chunks=(64, 80)),
        model_key=key, plan=plan, guide_missing=da.from_array(guide, chunks=(16, 20)),
    )
    with dask.config.set(scheduler="sync"):
        out, quality = dask.compute(out, quality)
    valid = np.repeat(np.repeat(np.isfinite(lst), 4, 0), 4, 1)
    east = np.zeros_like(valid)
    east[:, 80:] = True
    assert np.isfinite(out[valid & east]).all()
    assert ((quality[valid & east] & QualityFlag.GUIDE_MISSING) > 0).all()
    assert not (quality[valid] & QualityFlag.LST_MISSING).any()
    assert not (quality[~east] & QualityFlag.GUIDE_MISSING).any()
    # chunk-local: the same as the whole (edge-padded, like every block) array interpolated
    d = plan.depth_1km
    whole = guide_free_250m(np.pad(lst, d, mode="edge"))[4 * d : -4 * d, 4 * d : -4 * d]
    np.testing.assert_allclose(out[:, 80:], whole[:, 80:], atol=1e-3)
