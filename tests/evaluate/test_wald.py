"""The Wald protocol on the real development triplets and MOD11A1 patches."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from lstcloud.errors import ConfigError
from lstcloud.evaluate import wald
from lstcloud.evaluate.methods import resolve_methods


def test_degrade_checks_shapes() -> None:
    h, _ = wald.get_degrader("mean")
    with pytest.raises(ConfigError, match="divisible"):
        wald.degrade(np.zeros((10, 12), np.float32), h)
    assert wald.degrade(np.ones((16, 12), np.float32), h).shape == (4, 3)


def test_smooth_field_is_recovered_closely() -> None:
    y, x = np.mgrid[0:64, 0:64]
    lst = (300 + 4 * np.sin(x / 20) + 3 * np.cos(y / 25)).astype(np.float32)
    result = wald.evaluate_wald(
        [wald.WaldSample("smooth", lst)],
        resolve_methods(["nearest", "bicubic"]),
        data="synthetic",
        config=wald.WaldConfig(degradation="mean", border_px=4),
    )
    s = result.summary()
    assert s["bicubic"]["rmse_k"] < 0.1 < s["nearest"]["rmse_k"]


def test_wald_on_real_dev_triplets(aster_dev: Path) -> None:
    samples, has_ndvi = wald.wald_samples(aster_dev, limit=3)
    assert has_ndvi
    result = wald.evaluate_wald(samples, resolve_methods(["bicubic", "tsharp"]), data="dev")
    s = result.summary()
    assert s["bicubic"]["n_samples"] == 3 and s["tsharp"]["n_samples"] == 3
    for name in ("bicubic", "tsharp"):
        assert 0.3 < s[name]["rmse_k"] < 4.0
        assert abs(s[name]["bias_k"]) < 0.5
        assert 0 < s[name]["ssim"] < 1
    assert result.per_sample[0]["n_valid_px"] == 64 * 64
    assert result.config["degradation"] == "gaussian"


def test_wald_never_opens_the_aster_files(aster_dev: Path, rasterio_opened) -> None:
    samples, _ = wald.wald_samples(aster_dev, limit=2)
    result = wald.evaluate_wald(samples, resolve_methods(["bicubic"]), data="dev")
    assert result.summary()["bicubic"]["n_samples"] == 2
    assert {p.name for p in rasterio_opened} == {"modis_lst_1km.tif", "modis_ndvi_250m.tif"}


def test_wald_on_mod11a1_patches_is_lst_only(shared_data: Path) -> None:
    folder = shared_data / "mod11a1_h18v04_2020_patches"
    samples, has_ndvi = wald.wald_samples(folder, limit=4)
    assert not has_ndvi
    with pytest.raises(ConfigError, match="tsharp need"):
        resolve_methods(["bicubic", "tsharp"], require_lst_only=True)
    result = wald.evaluate_wald(
        samples, resolve_methods(["bicubic"], require_lst_only=True), data=str(folder)
    )
    s = result.summary()["bicubic"]
    assert s["n_samples"] == 4
    assert 0.2 < s["rmse_k"] < 3.0


def test_degradations_come_from_lstcloud_ops() -> None:
    """H is the operator of the training loss; ``block-mean`` is an alias of ``mean``."""
    from lstcloud import ops

    rng = np.random.default_rng(0)
    img = (300 + rng.normal(0, 2, (32, 32))).astype(np.float32)
    for name in wald.DEGRADATION_NAMES:
        h, source = wald.get_degrader(name)
        assert source == "lstcloud.ops.degrade_np"
        np.testing.assert_array_equal(h(img), ops.degrade_np(img, method=name))
    assert wald.WaldConfig(degradation="block-mean").degradation == "mean"
    with pytest.raises(ConfigError, match="unknown degradation"):
        wald.WaldConfig(degradation="median")
    h, _ = wald.get_degrader("mean")
    np.testing.assert_allclose(h(img), img.reshape(8, 4, 8, 4).mean(axis=(1, 3)), rtol=1e-6)


def test_incomplete_blocks_are_invalid_in_the_coarse_input() -> None:
    lst = np.full((32, 32), 300.0, np.float32)
    lst[0, 0] = np.nan  # one cloudy 1 km pixel
    (method,) = resolve_methods(["bicubic"])
    strict = wald.evaluate_wald(
        [wald.WaldSample("s", lst)], [method], data="x", config=wald.WaldConfig(degradation="mean")
    )
    assert np.isnan(strict.panels[0].coarse[0, 0])
    assert strict.per_sample[0]["n_valid_px"] == 32 * 32 - 16
    lenient = wald.evaluate_wald(
        [wald.WaldSample("s", lst)],
        [method],
        data="x",
        config=wald.WaldConfig(degradation="mean", min_valid=0.5),
    )
    assert lenient.panels[0].coarse[0, 0] == pytest.approx(300.0)
    assert lenient.per_sample[0]["n_valid_px"] == 32 * 32 - 1


def test_models_trained_on_the_evaluated_samples_are_flagged(tmp_path: Path) -> None:
    from lstcloud.evaluate.methods import Method
    from lstcloud.evaluate.report import write_report

    (bicubic,) = resolve_methods(["bicubic"])
    trained = Method(
        name="fake-model",
        predict=bicubic.predict,
        needs_ndvi=False,
        source="test",
        card={
            "training_data": {
                "path": "/data/aster_h18v04_dev",
                "train_samples": ["000"],
                "validation_samples": ["003"],
            }
        },
    )
    y, x = np.mgrid[0:32, 0:32]
    lst = (300 + np.sin(x / 5) + np.cos(y / 7)).astype(np.float32)
    samples = [wald.WaldSample(n, lst) for n in ("000", "001", "003")]
    result = wald.evaluate_wald(samples, [bicubic, trained], data="/elsewhere/aster_h18v04_dev")
    summary = result.summary()
    assert summary["fake-model"]["samples_seen_in_training"] == 2
    assert summary["bicubic"]["samples_seen_in_training"] == 0
    assert result.training_overlap == {"fake-model": ["000", "003"]}
    assert any("in-sample" in note for note in result.notes)
    report = write_report(result, tmp_path).read_text()
    assert "## Caveats" in report and "fake-model" in report
    other = wald.evaluate_wald(samples, [trained], data="/data/mod11a1_h18v04_2020_patches")
    assert not other.notes
