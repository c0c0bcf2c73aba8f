"""Reference sharpeners and degradations behave as their definitions say."""

from __future__ import annotations

import math

import numpy as np
import pytest

from lstcloud.errors import ConfigError
from lstcloud.evaluate import baselines


def test_gaussian_sigma_gives_the_requested_mtf() -> None:
    sigma = baselines.gaussian_sigma(4, 0.1)
    f = 1 / 8  # coarse Nyquist in cycles per fine pixel
    assert math.exp(-2 * math.pi**2 * sigma**2 * f**2) == pytest.approx(0.1)


@pytest.mark.parametrize("name", ["gaussian", "block-mean", "l4"])
def test_degradations_keep_a_constant_and_shrink_4x(name: str) -> None:
    h = baselines.reference_degradation(name)
    out = h(np.full((32, 48), 301.5, np.float32))
    assert out.shape == (8, 12)
    np.testing.assert_allclose(out, 301.5, rtol=1e-6)


def test_unknown_degradation_is_refused() -> None:
    with pytest.raises(ConfigError, match="unknown degradation"):
        baselines.reference_degradation("median")


def test_block_mean_ignores_nan() -> None:
    img = np.arange(16, dtype=np.float32).reshape(4, 4)
    img[0, 0] = np.nan
    out = baselines.block_mean(img, 4)
    assert out[0, 0] == pytest.approx(np.nanmean(img))


def test_bicubic_keeps_a_linear_ramp_inside_and_masks_nan() -> None:
    _, x = np.mgrid[0:16, 0:16]
    lst = (290 + 0.5 * x).astype(np.float32)
    lst[3, 3] = np.nan
    out = baselines.bicubic_upsample(lst)
    assert out.shape == (64, 64)
    assert np.isnan(out[12:16, 12:16]).all()
    # pixel-centre aligned: fine column j sits at coarse coordinate (j + 0.5) / 4 - 0.5
    # (torch's cubic kernel, a = -0.75, follows a ramp to within a few hundredths of a K; a
    # half-pixel misalignment would shift every value by 0.0625 K)
    j = np.arange(20, 40)
    expected = 290 + 0.5 * ((j + 0.5) / 4 - 0.5)
    np.testing.assert_allclose(out[40, 20:40], expected, atol=0.025)
    assert abs(np.mean(out[40, 20:36] - expected[:16])) < 1e-3


def test_tsharp_recovers_a_linear_ndvi_relation_exactly() -> None:
    rng = np.random.default_rng(0)
    ndvi = rng.uniform(0.1, 0.9, (64, 64)).astype(np.float32)
    fine = (320 - 20 * ndvi).astype(np.float32)
    coarse = baselines.block_mean(fine, 4)
    out = baselines.tsharp(coarse, ndvi)
    np.testing.assert_allclose(out, fine, atol=1e-3)
    np.testing.assert_allclose(baselines.block_mean(out, 4), coarse, atol=1e-3)
