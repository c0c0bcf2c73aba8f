"""lstcloud.ops against independent numpy / scipy computations."""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np
import pytest
import torch
from scipy import ndimage

from lstcloud import ops
from lstcloud.errors import ConfigError

RNG = np.random.default_rng(42)


@pytest.fixture(scope="module", autouse=True)
def _one_torch_thread() -> Iterator[None]:
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


def _field(h: int = 48, w: int = 40, *, base: float = 300.0) -> np.ndarray:
    """A smooth-plus-noise field with structure up to the edges."""
    y, x = np.mgrid[0:h, 0:w]
    return (base + 5 * np.sin(x / 3.0) * np.cos(y / 5.0) + RNG.normal(0, 1, (h, w))).astype(
        np.float32)


def _t(a: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(a))[None, None]


def test_sobel_matches_scipy_correlate() -> None:
    img = _field()
    out = ops.sobel(_t(img))[0].numpy()
    assert out.shape == (4, *img.shape)
    for i, kernel in enumerate(ops.SOBEL_KERNELS):
        ref = ndimage.correlate(img.astype(np.float64), kernel.astype(np.float64), mode="nearest")
        np.testing.assert_allclose(out[i], ref, rtol=1e-5, atol=1e-3)
    # horizontal kernel responds to a horizontal ramp only
    ramp = np.tile(np.arange(10, dtype=np.float32), (10, 1))
    r = ops.sobel_np(ramp)
    assert np.allclose(r[0, 2:-2, 2:-2], 8.0) and np.allclose(r[1], 0.0)


def test_sobel_multichannel_order() -> None:
    a, b = _field(16, 16), _field(16, 16, base=0.0)
    both = ops.sobel(torch.from_numpy(np.stack([a, b]))[None])[0].numpy()
    np.testing.assert_allclose(both[4:], ops.sobel(_t(b))[0].numpy(), rtol=1e-6)
    np.testing.assert_allclose(both[:4], ops.sobel(_t(a))[0].numpy(), rtol=1e-6)


@pytest.mark.parametrize(("mtf", "expected"), [(0.1, 2.7322), (0.25, 2.1198)])
def test_gaussian_sigma_derivation(mtf: float, expected: float) -> None:
    sigma = ops.gaussian_sigma(4, mtf)
    assert sigma == pytest.approx(expected, abs=1e-3)
    # the sampled kernel's transfer function at the coarse Nyquist frequency 1/8 cycles/px
    taps = ops.gaussian_kernel1d(sigma, truncate=8.0)
    n = np.arange(taps.size) - taps.size // 2
    assert float(np.sum(taps * np.cos(2 * np.pi * n / 8))) == pytest.approx(mtf, abs=2e-3)


def test_gaussian_sigma_rejects_bad_mtf() -> None:
    with pytest.raises(ConfigError, match="mtf_at_nyquist"):
        ops.gaussian_sigma(4, 1.5)


@pytest.mark.parametrize("sigma", [0.8, 2.1198, 2.7322])
def test_gaussian_blur_matches_scipy(sigma: float) -> None:
    img = _field()
    ref = ndimage.gaussian_filter(img.astype(np.float64), sigma, mode="nearest", truncate=4.0)
    np.testing.assert_allclose(ops.gaussian_blur_np(img, sigma=sigma), ref, atol=2e-3)
    zeros = ndimage.gaussian_filter(img.astype(np.float64), sigma, mode="constant", truncate=3.0)
    out = ops.gaussian_blur(torch.from_numpy(img.astype(np.float64))[None, None], sigma=sigma,
                            truncate=3.0, padding="zeros")[0, 0].numpy()
    np.testing.assert_allclose(out, zeros, atol=1e-9)


def test_highpass_is_x_minus_lowpass() -> None:
    img = _field()
    sigma = ops.gaussian_sigma(4, 0.25)
    ref = img - ndimage.gaussian_filter(img.astype(np.float64), sigma, mode="nearest")
    np.testing.assert_allclose(ops.highpass_np(img, mtf_at_nyquist=0.25), ref, atol=2e-3)
    # a constant has no high frequencies
    assert np.abs(ops.highpass_np(np.full((24, 24), 7.0, np.float32))).max() < 1e-4


def test_degrade_mean_and_l4_match_block_reshape() -> None:
    img = _field(32, 48)
    blocks = img.astype(np.float64).reshape(8, 4, 12, 4)
    mean = ops.degrade(_t(img), method="mean")[0, 0].numpy()
    np.testing.assert_allclose(mean, blocks.mean(axis=(1, 3)), rtol=1e-6)
    l4 = ops.degrade(_t(img), method="l4")[0, 0].numpy()
    np.testing.assert_allclose(l4, (blocks**4).mean(axis=(1, 3)) ** 0.25, rtol=1e-5)
    # the L4 mean of a non-constant block exceeds its arithmetic mean
    assert np.all(l4 >= mean - 1e-3) and np.any(l4 > mean + 1e-4)


def test_degrade_gaussian_is_psf_then_block_centre_cubic_sample() -> None:
    img = _field(32, 48)
    sigma = ops.gaussian_sigma(4, 0.1)
    blurred = ndimage.gaussian_filter(img.astype(np.float64), sigma, mode="nearest")
    # Keys cubic (a=-0.75) sampled at a block centre: taps at distances 1.5, 0.5, 0.5, 1.5
    taps = np.array([-0.09375, 0.59375, 0.59375, -0.09375])
    blocks = blurred.reshape(8, 4, 12, 4)
    ref = np.einsum("iajb,a,b->ij", blocks, taps, taps)
    out = ops.degrade(_t(img), method="gaussian", mtf_at_nyquist=0.1)[0, 0].numpy()
    np.testing.assert_allclose(out, ref, atol=2e-3)


def test_degrade_rejects_bad_input() -> None:
    with pytest.raises(ConfigError, match="multiple"):
        ops.degrade(torch.zeros(1, 1, 10, 12), method="mean")
    with pytest.raises(ConfigError, match="unknown degradation"):
        ops.degrade(torch.zeros(1, 1, 8, 8), method="median")  # type: ignore[arg-type]


def _keys_upsample(img: np.ndarray, factor: int) -> np.ndarray:
    """Independent bicubic (Keys a=-0.75, half-pixel centres, clamped edges) in numpy."""

    def weights_and_index(n_in: int) -> tuple[np.ndarray, np.ndarray]:
        out = np.arange(n_in * factor)
        src = (out + 0.5) / factor - 0.5
        base = np.floor(src).astype(int)
        t = src - base
        idx = np.stack([base - 1, base, base + 1, base + 2], axis=1)
        dist = np.stack([1 + t, t, 1 - t, 2 - t], axis=1)
        a = -0.75
        w = np.where(dist <= 1, (a + 2) * dist**3 - (a + 3) * dist**2 + 1,
                     a * dist**3 - 5 * a * dist**2 + 8 * a * dist - 4 * a)
        return w, np.clip(idx, 0, n_in - 1)

    wy, iy = weights_and_index(img.shape[0])
    wx, ix = weights_and_index(img.shape[1])
    src = img.astype(np.float64)
    rows = np.einsum("ok,okw->ow", wy, src[iy])
    return np.einsum("pk,opk->op", wx, rows[:, ix])


def test_upsample_bicubic_matches_keys_kernel() -> None:
    img = _field(12, 10)
    out = ops.upsample_bicubic(_t(img), factor=4)[0, 0].numpy()
    assert out.shape == (48, 40)
    np.testing.assert_allclose(out, _keys_upsample(img, 4), atol=2e-3)


def test_operators_are_differentiable() -> None:
    x = torch.randn(1, 1, 8, 8, dtype=torch.float64, requires_grad=True)

    def check(fn: object, inp: torch.Tensor = x) -> bool:
        return torch.autograd.gradcheck(fn, (inp,), fast_mode=True)

    assert check(ops.sobel)
    assert check(lambda t: ops.gaussian_blur(t, sigma=1.2))
    assert check(lambda t: ops.highpass(t))
    assert check(lambda t: ops.upsample_bicubic(t, factor=2))
    for method in ("gaussian", "mean"):
        assert check(lambda t, m=method: ops.degrade(t, method=m))
    pos = (300 + torch.randn(1, 1, 8, 8, dtype=torch.float64)).requires_grad_(True)
    assert check(lambda t: ops.degrade(t, method="l4"), pos)


def test_degrade_np_nan_aware() -> None:
    img = _field(16, 16)
    img[0, 0] = np.nan
    strict = ops.degrade_np(img, method="mean")
    assert np.isnan(strict[0, 0]) and np.isfinite(strict[1:, :]).all()
    lenient = ops.degrade_np(img, method="mean", min_valid=0.5)
    assert lenient[0, 0] == pytest.approx(np.nanmean(img[:4, :4]), rel=1e-6)
    l4 = ops.degrade_np(img, method="l4", min_valid=0.5)
    assert l4[0, 0] == pytest.approx(np.nanmean(img[:4, :4].astype(np.float64) ** 4) ** 0.25,
                                     rel=1e-6)
    g = ops.degrade_np(img, method="gaussian", min_valid=0.5)
    assert np.isfinite(g).all()
    # far from the NaN the normalised convolution equals the plain operator
    plain = ops.degrade_np(np.nan_to_num(img, nan=300.0), method="gaussian")
    np.testing.assert_allclose(g[2:, 2:], plain[2:, 2:], atol=1e-3)


def test_fill_nan_local_is_local_mean() -> None:
    img = _field(12, 12)
    img[5, 5] = np.nan
    img[0:3, 0:3] = np.nan
    out = ops.fill_nan_local(_t(img), radius=1, fill=-1.0)[0, 0].numpy()
    assert out[5, 5] == pytest.approx(np.nanmean(img[4:7, 4:7]), rel=1e-6)
    assert out[0, 0] == -1.0  # no valid pixel within radius 1
    assert out[2, 2] == pytest.approx(np.nanmean(img[1:4, 1:4]), rel=1e-6)
    np.testing.assert_array_equal(out[np.isfinite(img)], img[np.isfinite(img)])


def test_upsample_bicubic_np_nan_is_local() -> None:
    img = _field(16, 16)
    holed = img.copy()
    holed[8, 8] = np.nan
    out = ops.upsample_bicubic_np(holed)
    assert np.isnan(out[32:36, 32:36]).all()
    assert np.isfinite(out).sum() == out.size - 16
    ref = ops.upsample_bicubic_np(img)
    # more than (bicubic 2 + fill 2) coarse pixels away, the hole changes nothing
    far = np.ones_like(out, dtype=bool)
    far[(8 - 4) * 4:(8 + 5) * 4, (8 - 4) * 4:(8 + 5) * 4] = False
    np.testing.assert_array_equal(out[far], ref[far])
    assert math.isfinite(float(out[31, 31]))


def _degrade_weights(size: int = 64, block: tuple[int, int] = (8, 8)) -> np.ndarray:
    """Weight of every fine pixel on one coarse pixel of the Gaussian H (impulse responses)."""
    weights = np.zeros((size, size))
    for y in range(size):
        for x in range(size):
            delta = torch.zeros(1, 1, size, size, dtype=torch.float64)
            delta[0, 0, y, x] = 1.0
            weights[y, x] = float(ops.degrade(delta, method="gaussian")[0, 0][block])
    return weights


def test_degrade_np_never_divides_by_a_tiny_or_negative_normaliser() -> None:
    weights = _degrade_weights()
    assert weights.min() < 0 < weights.max()  # the bicubic decimation's negative taps
    # a coarse pixel whose only valid pixels sit where the weights are tiny or negative
    far = np.unravel_index(np.argmin(weights), weights.shape)
    near = (far[0] + (1 if far[0] < 32 else -1), far[1])
    img = np.full((64, 64), np.nan, np.float32)
    img[far], img[near] = 250.0, 330.0
    assert abs(weights[far] + weights[near]) < ops.MIN_NORMALISER
    with np.errstate(all="ignore"):
        out = ops.degrade_np(img, method="gaussian", min_valid=0.0)
    assert np.isnan(out[8, 8])  # no value extrapolated from a ~0 normaliser
    finite = out[np.isfinite(out)]
    assert finite.size and finite.min() >= 250.0 - 1.0 and finite.max() <= 330.0 + 1.0
    # sparse random validity at a lenient min_valid: every output is (near) a weighted mean
    rng = np.random.default_rng(0)
    for _ in range(20):
        img = (300 + 5 * rng.standard_normal((32, 32))).astype(np.float32)
        img[rng.random((32, 32)) > rng.uniform(0.02, 0.3)] = np.nan
        lo, hi = np.nanmin(img), np.nanmax(img)
        for method in ("gaussian", "mean", "l4"):
            out = ops.degrade_np(img, method=method, min_valid=0.0)
            finite = out[np.isfinite(out)]
            assert finite.min() >= lo - 0.5 and finite.max() <= hi + 0.5, method
    # no block value is ever invented from nothing (the old 0 K of a fully invalid block)
    empty = np.full((8, 8), np.nan, np.float32)
    empty[:4, :4] = 300.0
    for method in ("gaussian", "mean", "l4"):
        out = ops.degrade_np(empty, method=method, min_valid=0.0)
        assert out[0, 0] == pytest.approx(300.0, abs=1e-3)
        if method != "gaussian":  # the Gaussian reaches across blocks
            assert np.isnan(out[1, 1])


def test_degrade_np_full_validity_is_unchanged_by_the_guard() -> None:
    rng = np.random.default_rng(1)
    img = (290 + 10 * rng.random((32, 48))).astype(np.float32)
    img[5:9, 20:30] = np.nan
    for method in ("gaussian", "mean", "l4"):
        out = ops.degrade_np(img, method=method)
        ref = ops.degrade(torch.from_numpy(np.nan_to_num(img, nan=0.0))[None, None].double(),
                          method="mean" if method == "l4" else method)[0, 0].numpy()
        ok = np.isfinite(out)
        assert ok.sum() >= out.size - 12
        if method == "mean":
            np.testing.assert_allclose(out[ok], ref[ok], rtol=1e-6)
