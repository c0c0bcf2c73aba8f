"""The metrics give the known answers on constructed inputs."""

from __future__ import annotations

import math

import numpy as np
import pytest

from lstcloud.evaluate import metrics


@pytest.fixture
def field() -> np.ndarray:
    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:96, 0:96]
    base = 300 + 5 * np.sin(x / 9.0) + 3 * np.cos(y / 13.0)
    return (base + rng.normal(0, 0.5, base.shape)).astype(np.float32)


def test_identical_images_score_perfectly(field: np.ndarray) -> None:
    s = metrics.score(field, field)
    assert s["rmse_k"] == 0 and s["mae_k"] == 0 and s["bias_k"] == 0
    assert s["ssim"] == pytest.approx(1.0)
    assert s["psnr_db"] == math.inf
    assert s["grad_rmse_k"] == 0
    assert s["corr"] == pytest.approx(1.0)
    assert s["n_valid_px"] == field.size


@pytest.mark.parametrize("c", [0.7, -2.5])
def test_constant_offset(field: np.ndarray, c: float) -> None:
    s = metrics.score(field + np.float32(c), field)
    assert s["rmse_k"] == pytest.approx(abs(c), rel=1e-4)
    assert s["mae_k"] == pytest.approx(abs(c), rel=1e-4)
    assert s["bias_k"] == pytest.approx(c, rel=1e-4)
    assert s["grad_rmse_k"] == pytest.approx(0, abs=1e-4)  # an offset has no gradient
    assert s["corr"] == pytest.approx(1.0)


def test_gaussian_noise_rmse_is_sigma(field: np.ndarray) -> None:
    rng = np.random.default_rng(1)
    sigma = 1.3
    noisy = field + rng.normal(0, sigma, field.shape).astype(np.float32)
    s = metrics.score(noisy, field)
    assert s["rmse_k"] == pytest.approx(sigma, rel=0.03)
    assert s["mae_k"] == pytest.approx(sigma * math.sqrt(2 / math.pi), rel=0.03)
    assert abs(s["bias_k"]) < 0.05
    assert 0 < s["ssim"] < 0.9


def test_psnr_formula(field: np.ndarray) -> None:
    pred = field + np.float32(0.5)
    data_range = float(field.max() - field.min())
    expected = 20 * math.log10(data_range / 0.5)
    assert metrics.psnr(pred, field) == pytest.approx(expected, rel=1e-4)


def test_nan_pixels_are_ignored(field: np.ndarray) -> None:
    pred = field + np.float32(1.0)
    pred[:10] = np.nan  # invalid prediction rows
    ref = field.copy()
    ref[:, :5] = np.nan  # invalid reference columns
    pred[50, 50] = 1e6  # excluded by the mask below
    mask = np.ones_like(field, dtype=bool)
    mask[50, 50] = False
    s = metrics.score(pred, ref, mask=mask)
    assert s["n_valid_px"] == (96 - 10) * (96 - 5) - 1
    assert s["rmse_k"] == pytest.approx(1.0, rel=1e-5)
    assert s["bias_k"] == pytest.approx(1.0, rel=1e-5)
    assert np.isfinite(s["ssim"]) and np.isfinite(s["grad_rmse_k"])


def test_gradient_rmse_unit_is_kelvin_per_pixel() -> None:
    _, x = np.mgrid[0:32, 0:32]
    ramp = (300 + 1.0 * x).astype(np.float32)  # 1 K per pixel along x
    flat = np.full_like(ramp, 300.0)
    # Compare the interior only: the gradient difference is exactly the ramp's 1 K/px.
    mask = np.zeros_like(ramp, dtype=bool)
    mask[2:-2, 2:-2] = True
    assert metrics.gradient_rmse(flat, ramp, mask=mask) == pytest.approx(1.0, rel=1e-6)


def test_no_valid_pixels_gives_nan() -> None:
    a = np.full((16, 16), np.nan, np.float32)
    s = metrics.score(a, a)
    assert s["n_valid_px"] == 0
    assert math.isnan(s["rmse_k"]) and math.isnan(s["ssim"])


def test_aggregate_mean_and_pooled() -> None:
    rows = [
        {
            **dict.fromkeys(metrics.METRIC_KEYS, 1.0),
            "rmse_k": 1.0,
            "mae_k": 1.0,
            "bias_k": 1.0,
            "n_valid_px": 100,
        },
        {
            **dict.fromkeys(metrics.METRIC_KEYS, 3.0),
            "rmse_k": 3.0,
            "mae_k": 3.0,
            "bias_k": -3.0,
            "n_valid_px": 300,
        },
        {**dict.fromkeys(metrics.METRIC_KEYS, 9.0), "n_valid_px": 0},  # empty: skipped
    ]
    agg = metrics.aggregate(rows)
    assert agg["n_samples"] == 2
    assert agg["rmse_k"] == pytest.approx(2.0)
    assert agg["pooled_rmse_k"] == pytest.approx(math.sqrt((100 * 1 + 300 * 9) / 400))
    assert agg["pooled_bias_k"] == pytest.approx((100 - 900) / 400)
    assert agg["n_valid_px"] == 400


def test_ssim_bounding_box_is_higher_on_a_rotated_region(field: np.ndarray) -> None:
    rng = np.random.default_rng(2)
    pred = field + rng.normal(0, 1.0, field.shape).astype(np.float32)
    y, x = np.mgrid[0:96, 0:96]
    diamond = (np.abs(y - 48) + np.abs(x - 48)) < 40
    ref = np.where(diamond, field, np.nan)
    assert metrics.ssim_bounding_box(pred, ref) > metrics.ssim(pred, ref)
