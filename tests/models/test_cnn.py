"""CNNModel: prediction contract, NaN policy, chunk independence, save / load."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file

import lstcloud
from lstcloud.errors import ConfigError
from lstcloud.models import CNNModel, load_model, prepare_inputs, save_model
from lstcloud.models.card import sha256_weights

from .conftest import NORM, random_network, scene

RF = 88  # the measured halo of the default architecture (checked in test_receptive_field)


@pytest.fixture(scope="module")
def model() -> CNNModel:
    return CNNModel(random_network(4), NORM, name="test-sif", loss="sif-cnn-sr2",
                    training_data={"source": "unit test"}, validation={"rmse_k": 1.0},
                    receptive_field_px=RF, device="cpu")


def test_predict_contract(model: CNNModel) -> None:
    lst, ndvi = scene(20, 24)
    out = model.predict(lst, ndvi)
    assert out.shape == (80, 96) and out.dtype == np.float32
    assert np.isfinite(out).all()
    assert model.device == torch.device("cpu")
    # predict_tensor on a batch equals predict on each scene
    lst2, ndvi2 = scene(20, 24, seed=1)
    batch = model.predict_tensor(torch.from_numpy(np.stack([lst, lst2]))[:, None],
                                 torch.from_numpy(np.stack([ndvi, ndvi2]))[:, None])
    assert batch.shape == (2, 1, 80, 96) and batch.dtype == torch.float32
    np.testing.assert_allclose(batch[0, 0].numpy(), out, atol=1e-4)
    np.testing.assert_allclose(batch[1, 0].numpy(), model.predict(lst2, ndvi2), atol=1e-4)
    with pytest.raises(ConfigError, match="not 4x"):
        model.predict(lst, ndvi[:-4])


def test_odd_sizes_are_padded_not_rejected(model: CNNModel) -> None:
    lst, ndvi = scene(13, 9)
    out = model.predict(lst, ndvi)
    assert out.shape == (52, 36) and np.isfinite(out).all()


def test_nan_policy_is_local(model: CNNModel) -> None:
    lst, ndvi = scene(48, 48, seed=2)
    holed_lst = lst.copy()
    holed_lst[10:13, 30:32] = np.nan
    holed_ndvi = ndvi.copy()
    holed_ndvi[150:160, 20:40] = np.nan  # water: NDVI missing, LST valid
    ref = model.predict(lst, ndvi)
    out = model.predict(holed_lst, holed_ndvi)
    invalid = np.repeat(np.repeat(~np.isfinite(holed_lst), 4, 0), 4, 1)
    assert np.isnan(out[invalid]).all() and np.isfinite(out[~invalid]).all()
    # far from both holes (beyond the halo) nothing changes
    far = np.ones_like(out, dtype=bool)
    far[max(40 - RF, 0):52 + RF, max(120 - RF, 0):128 + RF] = False
    far[max(150 - RF, 0):160 + RF, max(20 - RF, 0):40 + RF] = False
    assert far.sum() > 0
    np.testing.assert_array_equal(out[far], ref[far])


@pytest.mark.parametrize("tile", [10, 24])
def test_tiled_prediction_equals_whole_scene(model: CNNModel, tile: int) -> None:
    lst, ndvi = scene(48, 40, seed=5)
    lst[5:9, 18:22] = np.nan  # clouds across a tile edge
    whole = model.predict(lst, ndvi, tile_1km=1000)
    tiled = model.predict(lst, ndvi, tile_1km=tile)
    np.testing.assert_allclose(tiled, whole, atol=1e-4, equal_nan=True)


def test_prepare_inputs_zscores_and_fills(model: CNNModel) -> None:
    lst = torch.full((1, 1, 8, 8), NORM.lst_mean + NORM.lst_std)
    lst[0, 0, 0, 0] = float("nan")
    ndvi = torch.full((1, 1, 32, 32), float("nan"))
    x = prepare_inputs(lst, ndvi, NORM)
    assert x.shape == (1, 2, 32, 32)
    torch.testing.assert_close(x[:, 0], torch.ones(1, 32, 32))  # the hole is filled locally
    assert float(x[:, 1].abs().max()) == 0.0


def test_save_load_round_trip(model: CNNModel, tmp_path: Path) -> None:
    folder = save_model(tmp_path / "m", model)
    assert sorted(p.name for p in folder.iterdir()) == ["model.json", "model.safetensors"]
    card = json.loads((folder / "model.json").read_text())
    assert card["sha256"] == sha256_weights(folder / "model.safetensors")
    assert card["sha256_kind"] == "safetensors-tensors-v1"
    assert card["parameters"] == 282_705 and card["receptive_field_px"] == RF
    assert card["normalization"] == NORM.to_dict()
    assert card["loss"]["preset"] == "sif-cnn-sr2" and card["loss"]["texture_weight"] == 0.1
    assert card["software_version"] == lstcloud.__version__
    assert card["architecture"] == "sif-cnn-unet" and card["network"]["align_corners"] is False
    for loaded in (load_model(folder, device="cpu"), lstcloud.load_model(str(folder / "model.json"),
                                                                          device="cpu")):
        assert isinstance(loaded, CNNModel) and loaded.name == "test-sif"
        assert loaded.receptive_field_px == RF
        lst, ndvi = scene(16, 16, seed=9)
        np.testing.assert_array_equal(loaded.predict(lst, ndvi), model.predict(lst, ndvi))
        assert loaded.card["sha256"] == card["sha256"]


def test_tampered_or_mismatched_weights_are_refused(model: CNNModel, tmp_path: Path) -> None:
    folder = save_model(tmp_path / "m", model)
    weights = folder / "model.safetensors"
    state = load_file(str(weights))
    state["head.bias"] = state["head.bias"] + 1.0
    save_file(state, str(weights))
    with pytest.raises(ConfigError, match="SHA-256"):
        load_model(folder)
    # a card whose hash is updated but whose network does not fit the weights
    state.pop("head.bias")
    save_file(state, str(weights))
    card = json.loads((folder / "model.json").read_text())
    card["sha256"] = sha256_weights(weights)
    (folder / "model.json").write_text(json.dumps(card))
    with pytest.raises(ConfigError, match="do not load"):
        load_model(folder)
    card["receptive_field_px"] = -1
    (folder / "model.json").write_text(json.dumps(card))
    with pytest.raises(ConfigError, match="receptive_field_px"):
        load_model(folder)


def test_save_refuses_non_cnn(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="CNNModel"):
        save_model(tmp_path, load_model("bicubic"))  # type: ignore[arg-type]


def test_load_from_s3(model: CNNModel, tmp_path: Path, s3_bucket: str,
                      s3_storage_options: dict) -> None:
    from lstcloud import storage

    folder = save_model(tmp_path / "m", model)
    url = f"{s3_bucket}/models/test-sif"
    fs = storage.filesystem(url, s3_storage_options)
    for f in folder.iterdir():
        fs.put(str(f), f"{storage.strip_protocol(url)}/{f.name}")
    loaded = load_model(url, device="cpu", storage_options=s3_storage_options)
    lst, ndvi = scene(8, 8)
    np.testing.assert_array_equal(loaded.predict(lst, ndvi), model.predict(lst, ndvi))
    with pytest.raises(ConfigError, match=r"no model\.json"):
        load_model(f"{s3_bucket}/models/missing", storage_options=s3_storage_options)


def test_published_align_corners_is_flagged_not_chunk_local() -> None:
    from lstcloud.models import SIFCNN, NetworkConfig

    published = CNNModel(SIFCNN(NetworkConfig(align_corners=True)), NORM,
                         receptive_field_px=RF, device="cpu")
    assert published.card["chunk_local"] is False
    with pytest.raises(ConfigError, match="multiple of 8"):
        CNNModel(SIFCNN(), NORM, receptive_field_px=20)


def test_all_cloud_scene_gives_all_nan(model: CNNModel) -> None:
    lst, ndvi = scene(8, 8)
    out = model.predict(np.full_like(lst, np.nan), np.full_like(ndvi, np.nan))
    assert out.shape == (32, 32) and np.isnan(out).all()
