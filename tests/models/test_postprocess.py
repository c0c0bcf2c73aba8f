"""The 1 km consistency corrections (bicubic and low-pass residual), the detail gain: block
means, locality / receptive field, chunking, cards."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from lstcloud import ops
from lstcloud.errors import ConfigError
from lstcloud.models import CNNModel, load_model, save_model
from lstcloud.models.cnn import FILL_RADIUS_1KM, set_postprocess
from lstcloud.models.ensemble import EnsembleModel
from lstcloud.models.postprocess import (
    Postprocess,
    block_mean,
    consistency_correct,
    lowpass_correct,
)
from lstcloud.models.receptive_field import measure_pipeline_receptive_field

from .conftest import NORM, random_network, scene

RF = 88  # the default architecture's network halo (test_receptive_field measures it)
CORRECTION = {"consistency_correction": "bicubic-residual", "iterations": 3}


def _block_means(out: np.ndarray) -> np.ndarray:
    h, w = out.shape[0] // 4, out.shape[1] // 4
    return out.reshape(h, 4, w, 4).mean(axis=(1, 3))


@pytest.fixture(scope="module")
def corrected() -> CNNModel:
    return CNNModel(random_network(7), NORM, name="test-corrected", receptive_field_px=RF,
                    postprocess=CORRECTION, device="cpu")


def test_each_iteration_shrinks_the_residual_on_random_data() -> None:
    gen = torch.Generator().manual_seed(0)
    coarse = 290.0 + 20.0 * torch.rand(1, 1, 32, 40, generator=gen, dtype=torch.float64)
    fine = 300.0 + 10.0 * torch.randn(1, 1, 128, 160, generator=gen, dtype=torch.float64)
    errors = []
    for k in range(9):
        out = consistency_correct(fine, coarse, iterations=k)
        errors.append(float((block_mean(out) - coarse).abs().max()))
    assert all(b < 0.7 * a for a, b in itertools.pairwise(errors)), errors
    assert errors[0] > 10.0 and errors[8] < 0.02 * errors[0]
    # a smooth drift of the 1 km means (here a constant offset) goes in one iteration, exactly
    drift = consistency_correct(coarse.repeat_interleave(4, 2).repeat_interleave(4, 3) + 2.5,
                                coarse, iterations=1)
    torch.testing.assert_close(block_mean(drift), coarse, atol=1e-9, rtol=0)
    with pytest.raises(ConfigError, match="4x"):
        consistency_correct(fine[..., :-4], coarse)


def test_corrected_model_keeps_the_1km_means(corrected: CNNModel) -> None:
    rng = np.random.default_rng(1)
    lst = rng.uniform(270.0, 320.0, (24, 28)).astype(np.float32)
    ndvi = rng.uniform(0.0, 0.9, (96, 112)).astype(np.float32)
    lst[10:13, 5:9] = np.nan  # a cloud: the rest stays consistent
    plain = corrected.with_postprocess(None).predict(lst, ndvi)
    valid = np.isfinite(lst)
    drift = np.abs(_block_means(plain) - lst)[valid]
    err = {k: np.abs(_block_means(corrected.with_postprocess(
        {"consistency_correction": "bicubic-residual", "iterations": k}).predict(lst, ndvi))
        - lst)[valid] for k in (1, 3, 8)}
    assert drift.max() > 5.0  # the random network drifts far from its input
    assert err[1].max() < drift.max() and err[3].max() < err[1].max()
    assert err[8].max() < 0.05 * drift.max() and np.sqrt(np.mean(err[8] ** 2)) < 0.2
    out = corrected.predict(lst, ndvi)
    invalid = np.repeat(np.repeat(~valid, 4, 0), 4, 1)
    assert np.isnan(out[invalid]).all() and np.isfinite(out[~invalid]).all()


@pytest.mark.parametrize("tile", [8, 14])
def test_corrected_tiled_prediction_equals_whole_scene(corrected: CNNModel, tile: int) -> None:
    lst, ndvi = scene(56, 44, seed=4)
    lst[7:11, 12:16] = np.nan  # clouds across tile edges
    lst[27:29, 40:44] = np.nan
    whole = corrected.predict(lst, ndvi, tile_1km=1000)
    tiled = corrected.predict(lst, ndvi, tile_1km=tile)
    np.testing.assert_allclose(tiled, whole, atol=1e-4, equal_nan=True)


def test_receptive_field_grows_by_the_bicubic_support(corrected: CNNModel) -> None:
    assert corrected.receptive_field_network_px == RF
    assert corrected.receptive_field_exact_px == RF + 3 * 8
    assert corrected.receptive_field_px == 112 and corrected.card["alignment_px"] == 8
    card = corrected.card
    assert card["postprocess"] == CORRECTION and card["receptive_field_px"] == 112
    assert card["receptive_field_network_px"] == RF
    off = corrected.with_postprocess(None)
    assert off.receptive_field_px == RF and off.card["postprocess"] is None


@pytest.mark.slow
def test_probe_and_perturbations_match_the_declared_field() -> None:
    # the network's own halo (88 px) is measured by test_receptive_field; here the probe runs
    # on the whole pipeline, correction included
    model = CNNModel(random_network(3), NORM, name="probe", device="cpu", receptive_field_px=RF,
                     postprocess={"consistency_correction": "bicubic-residual", "iterations": 2})
    net_exact = model.receptive_field_network_px

    def pipeline(lst: torch.Tensor, ndvi: torch.Tensor) -> torch.Tensor:
        return model.forward_kelvin(lst, ndvi)

    measured = measure_pipeline_receptive_field(pipeline, size_1km=64) + 4 * FILL_RADIUS_1KM
    assert measured == net_exact + 16 == model.receptive_field_exact_px
    # an LST pixel just outside the field changes nothing at the centre, a near one does (farther
    # influences of the correction exist (the probe) but vanish below float32 rounding)
    exact = model.receptive_field_exact_px
    lst, ndvi = scene(64, 64, seed=5)
    centre = 4 * 32 + 1
    base = model.predict(lst, ndvi)[centre, centre]
    far = lst.copy()
    far[32 - exact // 4 - 1, 32] += 10.0  # phase 1: the bicubic taps reach 2 blocks upwards
    assert model.predict(far, ndvi)[centre, centre] == base
    near = lst.copy()
    near[32 - 2, 32] += 10.0
    assert model.predict(near, ndvi)[centre, centre] != base


def test_card_round_trip_and_set_postprocess(tmp_path: Path) -> None:
    plain = CNNModel(random_network(2), NORM, name="m", loss="sif-cnn-sr1",
                     training_data={"source": "unit test"}, validation={},
                     receptive_field_px=RF, device="cpu")
    folder = save_model(tmp_path / "m", plain)
    before = json.loads((folder / "model.json").read_text())
    assert before["postprocess"] is None and before["receptive_field_px"] == RF
    lst, ndvi = scene(16, 16, seed=8)
    card = set_postprocess(folder, CORRECTION)
    assert card["postprocess"] == CORRECTION and card["receptive_field_px"] == 112
    assert card["sha256"] == before["sha256"]  # the weights are untouched
    assert any(n.startswith("postprocess: bicubic-residual") for n in card["notes"])
    loaded = load_model(folder, device="cpu")
    assert isinstance(loaded, CNNModel) and loaded.postprocess == Postprocess(**CORRECTION)
    assert loaded.receptive_field_px == 112 and loaded.card["postprocess"] == CORRECTION
    np.testing.assert_array_equal(loaded.predict(lst, ndvi),
                                  plain.with_postprocess(CORRECTION).predict(lst, ndvi))
    assert not np.array_equal(loaded.predict(lst, ndvi), plain.predict(lst, ndvi))
    # switching it off again restores the plain model and its halo
    set_postprocess(folder, None)
    off = load_model(folder, device="cpu")
    assert off.receptive_field_px == RF
    np.testing.assert_array_equal(off.predict(lst, ndvi), plain.predict(lst, ndvi))


def test_bad_postprocess_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="consistency_correction"):
        Postprocess(consistency_correction="nearest-residual")
    with pytest.raises(ConfigError, match="iterations"):
        Postprocess(consistency_correction="bicubic-residual", iterations=0)
    with pytest.raises(ConfigError, match="unknown field"):
        Postprocess.from_dict({"consistency_correction": None, "steps": 2})
    folder = save_model(tmp_path / "m", CNNModel(random_network(0), NORM, receptive_field_px=RF,
                                                 device="cpu"))
    card = json.loads((folder / "model.json").read_text())
    card["postprocess"] = {"consistency_correction": "magic"}
    (folder / "model.json").write_text(json.dumps(card))
    with pytest.raises(ConfigError, match="postprocess"):
        load_model(folder)


# ----------------------------------------------------------------------------- detail gain
def test_detail_gain_scales_the_detail_over_bicubic(corrected: CNNModel) -> None:
    lst, ndvi = scene(24, 20, seed=11)
    lst[3:5, 6:9] = np.nan
    base = corrected.predict(lst, ndvi)  # correction, gain 1
    # bicubic of the same locally filled LST the model builds its input from
    filled = ops.fill_nan_local(torch.from_numpy(lst)[None, None], radius=FILL_RADIUS_1KM,
                                fill=NORM.lst_mean)
    bic = ops.upsample_bicubic(filled)[0, 0].numpy()
    bic[np.isnan(base)] = np.nan
    for gain in (0.0, 0.5, 1.5):
        model = corrected.with_postprocess({**CORRECTION, "detail_gain": gain})
        assert model.postprocess.detail_gain == gain
        assert model.receptive_field_px == corrected.receptive_field_px  # same halo
        np.testing.assert_allclose(model.predict(lst, ndvi), bic + gain * (base - bic),
                                   atol=2e-3, equal_nan=True)
    # gain alone (no correction) on a plain model
    plain = corrected.with_postprocess(None)
    half = corrected.with_postprocess({"consistency_correction": None, "detail_gain": 0.5})
    assert half.postprocess.enabled and half.receptive_field_px == plain.receptive_field_px
    assert half.card["postprocess"] == {"consistency_correction": None, "iterations": 2,
                                        "detail_gain": 0.5}
    p = plain.predict(lst, ndvi)
    np.testing.assert_allclose(half.predict(lst, ndvi), bic + 0.5 * (p - bic), atol=2e-3,
                               equal_nan=True)


@pytest.mark.parametrize("tile", [8, 14])
def test_detail_gain_tiled_prediction_equals_whole_scene(corrected: CNNModel, tile: int) -> None:
    model = corrected.with_postprocess({**CORRECTION, "detail_gain": 1.25})
    lst, ndvi = scene(40, 36, seed=6)
    lst[7:11, 12:16] = np.nan
    whole = model.predict(lst, ndvi, tile_1km=1000)
    np.testing.assert_allclose(model.predict(lst, ndvi, tile_1km=tile), whole, atol=1e-4,
                               equal_nan=True)


def test_detail_gain_card_fields_and_validation(tmp_path: Path) -> None:
    assert Postprocess().to_dict() == {"consistency_correction": None, "iterations": 2}
    assert not Postprocess(detail_gain=1).enabled and Postprocess(detail_gain=0.8).enabled
    assert Postprocess.from_dict({"detail_gain": 0.75}).detail_gain == 0.75
    for bad in (-0.1, 5.0, True, "1"):
        with pytest.raises(ConfigError, match="detail_gain"):
            Postprocess(detail_gain=bad)
    plain = CNNModel(random_network(2), NORM, name="m", loss="sif-cnn-sr1", validation={},
                     training_data={}, receptive_field_px=RF, device="cpu")
    folder = save_model(tmp_path / "m", plain)
    card = json.loads((folder / "model.json").read_text())
    card["validation_as_shipped"] = {"postprocess": None, "wald_rmse_k": 1.0}
    (folder / "model.json").write_text(json.dumps(card))
    card = set_postprocess(folder, {"consistency_correction": None, "detail_gain": 0.5},
                           reason="unit test")
    assert card["postprocess"]["detail_gain"] == 0.5 and card["receptive_field_px"] == RF
    assert any(n.startswith("postprocess: detail gain 0.5") and "unit test" in n
               for n in card["notes"])
    assert "validation_as_shipped" not in card  # measured with another post-processing
    assert load_model(folder, device="cpu").postprocess.detail_gain == 0.5


# ----------------------------------------------------------------------------- low-pass residual
LOWPASS = {"consistency_correction": "lowpass-residual", "iterations": 1, "sigma_km": 2.0}


def _nested(coarse: torch.Tensor) -> torch.Tensor:
    return coarse.repeat_interleave(4, 2).repeat_interleave(4, 3)


def test_lowpass_correction_removes_the_drift_and_keeps_the_1km_detail() -> None:
    gen = torch.Generator().manual_seed(3)
    coarse = 290.0 + 20.0 * torch.rand(1, 1, 48, 40, generator=gen, dtype=torch.float64)
    yy, xx = torch.meshgrid(torch.arange(48), torch.arange(40), indexing="ij")
    checker = ((yy + xx) % 2 * 2 - 1).to(torch.float64)[None, None]  # +-1 K per 1 km pixel
    drift = 2.5 + 0.02 * xx.to(torch.float64)[None, None]  # a smooth drift of the 1 km means
    fine = _nested(coarse + checker + drift)
    fine = fine + 0.3 * torch.randn(fine.shape, generator=gen, dtype=torch.float64)
    fine = fine - _nested(block_mean(fine) - (coarse + checker + drift))  # exact block means
    valid = torch.ones_like(coarse, dtype=torch.bool)
    out = lowpass_correct(fine, coarse, valid, sigma_km=2.0)
    inner = (..., slice(8, -8), slice(8, -8))
    before = (block_mean(fine) - coarse)[inner]
    after = (block_mean(out) - coarse)[inner]
    assert float(before.mean()) > 2.5 and abs(float(after.mean())) < 0.02  # drift gone
    # the 1 km checkerboard (the detail a network puts at 1 km) is kept, unlike the bicubic
    # residual correction, which removes it
    assert float((after * checker[inner]).mean()) > 0.95
    full = block_mean(consistency_correct(fine, coarse, iterations=8)) - coarse
    assert float((full[inner] * checker[inner]).mean()) < 0.05
    # the 250 m detail within each block is untouched: the correction is smooth
    detail = (fine - _nested(block_mean(fine))) - (out - _nested(block_mean(out)))
    assert float(detail.abs().max()) < 0.05
    with pytest.raises(ConfigError, match="4x"):
        lowpass_correct(fine[..., :-4], coarse, valid, sigma_km=2.0)


def test_lowpass_correction_ignores_the_residual_of_invalid_pixels() -> None:
    gen = torch.Generator().manual_seed(4)
    coarse = 300.0 + 5.0 * torch.rand(1, 1, 32, 32, generator=gen, dtype=torch.float64)
    fine = _nested(coarse) + 1.0
    valid = torch.ones_like(coarse, dtype=torch.bool)
    valid[..., 10:16, 10:16] = False  # a cloud, filled with anything
    wild = coarse.clone()
    wild[..., 10:16, 10:16] = 250.0
    a = lowpass_correct(fine, coarse, valid, sigma_km=2.0)
    b = lowpass_correct(fine, wild, valid, sigma_km=2.0)
    torch.testing.assert_close(a, b, atol=1e-9, rtol=0)
    nothing = torch.zeros_like(valid)
    torch.testing.assert_close(lowpass_correct(fine, coarse, nothing, sigma_km=2.0), fine)


def test_lowpass_halo_card_and_validation(tmp_path: Path) -> None:
    pp = Postprocess(**LOWPASS)
    assert pp.reach_px() == 4 * (6 + 2)  # Gaussian radius 3 sigma + the bicubic's 2 px, 1 km
    assert pp.to_dict() == LOWPASS
    assert "sigma_km" not in Postprocess(consistency_correction="bicubic-residual").to_dict()
    for bad in (0.1, 40.0, True, "2"):
        with pytest.raises(ConfigError, match="sigma_km"):
            Postprocess(consistency_correction="lowpass-residual", sigma_km=bad)
    model = CNNModel(random_network(7), NORM, name="lp", receptive_field_px=RF,
                     postprocess=LOWPASS, device="cpu")
    assert model.receptive_field_px == RF + 32 and model.card["postprocess"] == LOWPASS
    folder = save_model(tmp_path / "lp", model)
    assert load_model(folder, device="cpu").postprocess == pp


@pytest.mark.parametrize("tile", [8, 14])
def test_lowpass_tiled_prediction_equals_whole_scene(tile: int) -> None:
    model = CNNModel(random_network(7), NORM, name="lp", receptive_field_px=RF,
                     postprocess=LOWPASS, device="cpu")
    ensemble = EnsembleModel([model.with_postprocess(None)], tta="none", name="lp-ensemble",
                             postprocess=LOWPASS)
    lst, ndvi = scene(56, 44, seed=4)
    lst[7:11, 12:16] = np.nan  # clouds across tile edges
    lst[27:29, 40:44] = np.nan
    for m in (model, ensemble):
        whole = m.predict(lst, ndvi, tile_1km=1000)
        np.testing.assert_allclose(m.predict(lst, ndvi, tile_1km=tile), whole, atol=1e-4,
                                   equal_nan=True)
    np.testing.assert_allclose(ensemble.predict(lst, ndvi), model.predict(lst, ndvi), atol=1e-4,
                               equal_nan=True)
