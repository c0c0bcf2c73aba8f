"""Bicubic and TsHARP (global, moving window) against independent numpy computations."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lstcloud import ops
from lstcloud.models import BicubicModel, TsHARPModel, TsHARPWindowModel, load_model
from lstcloud.models.receptive_field import measure_pipeline_receptive_field

from .conftest import scene


def _linear_scene(h: int = 24, w: int = 24, *, a: float = 310.0, b: float = -20.0,
                  seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    ndvi = rng.uniform(0.1, 0.8, (4 * h, 4 * w)).astype(np.float32)
    fine = (a + b * ndvi).astype(np.float32)
    return fine.reshape(h, 4, w, 4).mean(axis=(1, 3)), ndvi, fine


def test_bicubic_equals_the_operator() -> None:
    lst, ndvi = scene(12, 16)
    out = BicubicModel().predict(lst, ndvi)
    ref = ops.upsample_bicubic(torch.from_numpy(lst)[None, None])[0, 0].numpy()
    np.testing.assert_allclose(out, ref, atol=1e-4)


def test_tsharp_recovers_a_linear_scene_exactly() -> None:
    lst, ndvi, fine = _linear_scene()
    out = TsHARPModel().predict(lst, ndvi)
    np.testing.assert_allclose(out, fine, atol=2e-3)
    assert np.abs(BicubicModel().predict(lst, ndvi) - fine).max() > 1.0


def test_tsharp_matches_numpy_polyfit_and_keeps_block_means() -> None:
    lst, ndvi = scene(20, 20, seed=4)
    lst[0:2, 0:3] = np.nan
    coarse = ndvi.reshape(20, 4, 20, 4).mean(axis=(1, 3))
    ok = np.isfinite(lst)
    b, a = np.polyfit(coarse[ok].astype(np.float64), lst[ok].astype(np.float64), 1)
    resid = np.repeat(np.repeat(lst - (a + b * coarse), 4, 0), 4, 1)
    ref = a + b * ndvi + resid
    out = TsHARPModel().predict(lst, ndvi)
    np.testing.assert_allclose(out, ref, atol=2e-3, equal_nan=True)
    assert np.isnan(out[0:8, 0:12]).all()
    blocks = out.reshape(20, 4, 20, 4).mean(axis=(1, 3))
    np.testing.assert_allclose(blocks[ok], lst[ok], atol=2e-3)


def test_tsharp_missing_ndvi_falls_back_to_bicubic() -> None:
    lst, ndvi = scene(16, 16, seed=6)
    ndvi[20:28, 20:26] = np.nan
    ndvi[40:44, 40:44] = np.nan  # a whole 1 km block without NDVI
    for model in (TsHARPModel(), TsHARPWindowModel(window_1km=5)):
        out = model.predict(lst, ndvi)
        assert np.isfinite(out).all()
        bic = BicubicModel().predict(lst, ndvi)
        np.testing.assert_allclose(out[20:28, 20:26], bic[20:28, 20:26], atol=1e-4)
        np.testing.assert_allclose(out[40:44, 40:44], bic[40:44, 40:44], atol=1e-4)


def test_window_tsharp_follows_a_changing_relation() -> None:
    # slope -20 K per NDVI unit in the west half, -5 in the east half
    lst_w, ndvi_w, fine_w = _linear_scene(24, 12, b=-20.0, seed=1)
    lst_e, ndvi_e, fine_e = _linear_scene(24, 12, a=300.0, b=-5.0, seed=2)
    lst = np.concatenate([lst_w, lst_e], axis=1)
    ndvi = np.concatenate([ndvi_w, ndvi_e], axis=1)
    fine = np.concatenate([fine_w, fine_e], axis=1)
    window = TsHARPWindowModel(window_1km=5).predict(lst, ndvi)
    glob = TsHARPModel().predict(lst, ndvi)
    inner = np.s_[:, 8:40]  # west half away from the boundary
    assert np.abs(window[inner] - fine[inner]).max() < 5e-3
    assert np.abs(glob[inner] - fine[inner]).max() > 0.5


def test_window_tsharp_is_chunk_local_global_is_not() -> None:
    lst, ndvi = scene(40, 40, seed=8)
    model = TsHARPWindowModel(window_1km=7)
    halo = model.receptive_field_px // 4
    whole = model.predict(lst, ndvi)
    y0, y1 = 12, 28
    part = model.predict(lst[y0 - halo:y1 + halo, y0 - halo:y1 + halo],
                         ndvi[4 * (y0 - halo):4 * (y1 + halo), 4 * (y0 - halo):4 * (y1 + halo)])
    core = part[4 * halo:-4 * halo, 4 * halo:-4 * halo]
    np.testing.assert_allclose(core, whole[4 * y0:4 * y1, 4 * y0:4 * y1], atol=1e-3)
    assert model.card["chunk_local"] is True
    assert TsHARPModel().card["chunk_local"] is False
    assert "not chunk-local" in TsHARPModel().card["notes"][0]


@pytest.mark.parametrize(
    ("model", "probe_px"),
    [(BicubicModel(), 8), (TsHARPWindowModel(window_1km=9), 16),
     (TsHARPWindowModel(window_1km=13), 24)],
)
def test_declared_receptive_field_covers_the_probe(model: object, probe_px: int) -> None:
    def pipeline(lst: torch.Tensor, ndvi: torch.Tensor) -> torch.Tensor:
        return model._run(lst, ndvi)  # type: ignore[attr-defined]

    measured = measure_pipeline_receptive_field(pipeline, size_1km=24, dtype=torch.float64)
    assert measured == probe_px
    card = model.card  # type: ignore[attr-defined]
    assert card["receptive_field_px"] >= card["receptive_field_exact_px"] >= measured
    assert card["receptive_field_px"] % 8 == 0 and card["parameters"] == 0


def test_registry_names_and_options() -> None:
    assert isinstance(load_model("bicubic"), BicubicModel)
    assert isinstance(load_model("tsharp"), TsHARPModel)
    model = load_model("tsharp-window")
    assert isinstance(model, TsHARPWindowModel) and model.window_1km == 9
    assert model.receptive_field_px == 16
