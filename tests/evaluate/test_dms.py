"""DMS: linear-leaf trees, homogeneous sampling, residual correction, NaN policy."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.tree import DecisionTreeRegressor

from lstcloud.errors import ConfigError
from lstcloud.evaluate import baselines
from lstcloud.evaluate.dms import DMSConfig, DMSSharpener, LinearLeafTreeRegressor, dms_sharpen
from lstcloud.evaluate.methods import resolve_methods
from lstcloud.evaluate.metrics import rmse


def _piecewise(x: np.ndarray) -> np.ndarray:
    return np.where(x < 0.4, 300 - 10 * x, 260 + 90 * x)


def test_linear_leaves_fit_a_piecewise_linear_function() -> None:
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 1, (3000, 1))
    y = _piecewise(x[:, 0])
    grid = np.linspace(0.02, 0.98, 500)[:, None]
    linear = LinearLeafTreeRegressor(max_depth=3, min_samples_leaf=20).fit(x, y)
    constant = DecisionTreeRegressor(max_depth=3, min_samples_leaf=20).fit(x, y)
    err_linear = np.median(np.abs(linear.predict(grid) - _piecewise(grid[:, 0])))
    err_constant = np.median(np.abs(constant.predict(grid) - _piecewise(grid[:, 0])))
    assert err_linear < 0.05
    assert err_constant > 20 * err_linear


def test_zero_weight_samples_are_ignored() -> None:
    rng = np.random.default_rng(1)
    x = rng.uniform(0, 1, (400, 1))
    y = 290 + 5 * x[:, 0]
    y_bad = y.copy()
    y_bad[:50] = 1000.0  # outliers given zero weight
    w = np.ones(400)
    w[:50] = 0
    fitted = LinearLeafTreeRegressor(max_depth=2).fit(x, y_bad, sample_weight=w)
    grid = np.linspace(0.05, 0.95, 50)[:, None]
    np.testing.assert_allclose(fitted.predict(grid), 290 + 5 * grid[:, 0], atol=1e-3)


def test_leaf_predictions_do_not_run_away_outside_the_training_range() -> None:
    x = np.linspace(0.3, 0.6, 200)[:, None]
    y = 300 - 40 * x[:, 0]
    model = LinearLeafTreeRegressor(max_depth=1, extrapolation_ratio=0.25).fit(x, y)
    lo, hi = y.min(), y.max()
    pred = model.predict(np.array([[-1.0], [2.0]]))
    assert np.all(pred >= lo - 0.25 * (hi - lo) - 1e-9)
    assert np.all(pred <= hi + 0.25 * (hi - lo) + 1e-9)


@pytest.fixture(scope="module")
def scene() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A 64x64 km scene whose 250 m LST is a non-linear function of the NDVI."""
    rng = np.random.default_rng(3)
    y, x = np.mgrid[0:256, 0:256]
    smooth = 0.45 + 0.3 * np.sin(x / 23.0) * np.cos(y / 31.0)
    ndvi = np.clip(smooth + rng.normal(0, 0.12, smooth.shape), 0.02, 0.95).astype(np.float32)
    fine = (325 - 35 * ndvi**2 + 0.01 * x).astype(np.float32)
    coarse = baselines.block_mean(fine, 4)
    return fine, coarse, ndvi


def test_dms_beats_bicubic_and_tsharp_on_a_nonlinear_relation(
    scene: tuple[np.ndarray, np.ndarray, np.ndarray],
) -> None:
    fine, coarse, ndvi = scene
    out = dms_sharpen(coarse, ndvi)
    assert out.shape == fine.shape and out.dtype == np.float32
    e_dms = rmse(out, fine)
    e_bicubic = rmse(baselines.bicubic_upsample(coarse), fine)
    e_tsharp = rmse(baselines.tsharp(coarse, ndvi), fine)
    assert e_dms < 0.5 * e_bicubic
    assert e_dms < 0.8 * e_tsharp
    # deterministic
    np.testing.assert_array_equal(out, dms_sharpen(coarse, ndvi))


def test_nearest_residual_conserves_the_block_mean(
    scene: tuple[np.ndarray, np.ndarray, np.ndarray],
) -> None:
    _, coarse, ndvi = scene
    out = dms_sharpen(coarse, ndvi, config=DMSConfig(residual="nearest", window_px=0))
    np.testing.assert_allclose(baselines.block_mean(out, 4), coarse, atol=2e-3)


def test_nan_policy(scene: tuple[np.ndarray, np.ndarray, np.ndarray]) -> None:
    _, coarse, ndvi = scene
    lst = coarse.copy()
    lst[10:14, 20:30] = np.nan  # cloud
    guide = ndvi.copy()
    guide[200:204, 8:12] = np.nan  # missing NDVI: bicubic there
    out = dms_sharpen(lst, guide)
    assert np.isnan(out[40:56, 80:120]).all()
    assert np.isfinite(out[~np.isnan(baselines.nearest_upsample(lst))]).all()
    np.testing.assert_allclose(
        out[200:204, 8:12], baselines.bicubic_upsample(lst)[200:204, 8:12], atol=1e-4
    )
    all_nan = dms_sharpen(np.full((16, 16), np.nan, np.float32), ndvi[:64, :64])
    assert np.isnan(all_nan).all()


def test_config_and_shape_checks(scene: tuple[np.ndarray, np.ndarray, np.ndarray]) -> None:
    _, coarse, ndvi = scene
    with pytest.raises(ConfigError, match="homogeneous_fraction"):
        DMSConfig(homogeneous_fraction=0)
    with pytest.raises(ConfigError, match="residual"):
        DMSConfig(residual="spline")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="4x the LST"):
        dms_sharpen(coarse, ndvi[:100])


def test_dms_is_a_registered_method(scene: tuple[np.ndarray, np.ndarray, np.ndarray]) -> None:
    _, coarse, ndvi = scene
    (method,) = resolve_methods(["dms"])
    assert method.needs_ndvi and method.source == "lstcloud.evaluate.dms"
    assert method.card["receptive_field_px"] is None and not method.card["chunk_local"]
    expected = DMSSharpener().predict(coarse, ndvi)
    np.testing.assert_array_equal(method.predict(coarse, ndvi), expected)
