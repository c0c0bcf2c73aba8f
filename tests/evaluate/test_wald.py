"""The Wald protocol on the real development triplets and MOD11A1 patches."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from lstcloud.errors import ConfigError
from lstcloud.evaluate import wald
from lstcloud.evaluate.methods import resolve_methods


def test_degrade_checks_shapes() -> None:
    h, _ = wald.get_degrader("block-mean")
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
        config=wald.WaldConfig(degradation="block-mean", border_px=4),
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
