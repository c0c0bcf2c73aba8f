"""Ensembles with test-time augmentation: chunk locality, spread, folders."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

import lstcloud
from lstcloud.errors import ConfigError
from lstcloud.models.ensemble import EnsembleModel, load_ensemble, save_ensemble
from lstcloud.models.registry import shipped_models_dir


@pytest.fixture(autouse=True)
def _one_thread():
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


def _scene(h: int = 30, w: int = 26, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w]
    lst = (300 + 3 * np.sin(yy / 4) + 2 * np.cos(xx / 5) + rng.normal(0, 0.5, (h, w))).astype(
        np.float32)
    lst[5:8, 10:12] = np.nan  # a cloud across chunk edges
    ndvi = np.clip(rng.normal(0.5, 0.2, (4 * h, 4 * w)), -0.2, 1).astype(np.float32)
    return lst, ndvi


@pytest.fixture(scope="module")
def members():
    return [lstcloud.load_model(n, device="cpu") for n in ("sc-unet", "sif-cnn-sr2-published")]


def test_chunked_equals_whole_scene_under_d4_tta(members) -> None:
    model = EnsembleModel(members, tta="d4", name="e")
    lst, ndvi = _scene()
    whole = model.predict(lst, ndvi, tile_1km=64)
    chunked = model.predict(lst, ndvi, tile_1km=14)
    assert np.isnan(whole[20:32, 40:48]).all()  # under the cloud
    ok = np.isfinite(whole)
    assert np.array_equal(ok, np.isfinite(chunked))
    np.testing.assert_allclose(chunked[ok], whole[ok], atol=1e-4)
    assert model.passes == 16 and model.receptive_field_px >= max(
        m.receptive_field_px for m in members)


def test_single_member_without_tta_is_the_member(members) -> None:
    lst, ndvi = _scene(24, 24, seed=1)
    alone = EnsembleModel(members[:1], tta="none").predict(lst, ndvi)
    np.testing.assert_allclose(alone, members[0].predict(lst, ndvi), atol=1e-5, equal_nan=True)


def test_spread_is_the_std_of_the_passes(members) -> None:
    model = EnsembleModel(members, tta="flips")
    lst, ndvi = _scene(24, 28, seed=2)
    mean, spread = model.predict_with_spread(lst, ndvi)
    np.testing.assert_allclose(mean, model.predict(lst, ndvi), atol=1e-5, equal_nan=True)
    ok = np.isfinite(mean)
    assert (spread[ok] >= 0).all() and spread[ok].mean() > 0.01
    passes = model.predict_passes(torch.from_numpy(lst)[None, None],
                                  torch.from_numpy(ndvi)[None, None])[:, 0, 0].numpy()
    np.testing.assert_allclose(spread[ok], passes.std(axis=0)[ok], atol=1e-4)


def test_folder_round_trip_and_tamper_check(tmp_path: Path) -> None:
    root = shipped_models_dir()
    folder = save_ensemble(tmp_path / "ens", [root / "sc-unet", root / "sif-cnn-sr2-published"],
                           tta="flips", name="ens")
    loaded = lstcloud.load_model(folder, device="cpu")
    assert isinstance(loaded, EnsembleModel) and loaded.tta == "flips"
    card = json.loads((folder / "model.json").read_text())
    assert card["architecture"] == "ensemble" and card["members"] == [
        "sc-unet", "sif-cnn-sr2-published"]
    assert card["receptive_field_px"] == loaded.receptive_field_px
    # a member replaced by another model no longer matches the ensemble's hash
    member = folder / "members" / "sc-unet"
    for name in ("model.json", "model.safetensors"):
        shutil.copyfile(root / "sif-cnn-sr1" / name, member / name)
    with pytest.raises(ConfigError, match="do not match"):
        load_ensemble(folder)
