"""The models shipped in lstcloud/data/models/ load, describe their training, and predict."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from lstcloud.models import load_model
from lstcloud.models.registry import shipped_models_dir
from lstcloud.training import DevFolderPairs

SHIPPED = (
    "sif-cnn-sr1", "sif-cnn-sr2", "sc-unet", "sif-cnn-sr1-published", "sif-cnn-sr2-published",
)


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_model_folder(name: str) -> None:
    folder = shipped_models_dir() / name
    weights = folder / "model.safetensors"
    assert weights.is_file() and weights.stat().st_size < 5_000_000
    card = load_model(name, device="cpu").card
    assert card["name"] == name and card["parameters"] == 282705
    assert card["receptive_field_px"] > 0
    assert card["method"] == ("scale-consistency" if name == "sc-unet" else "sif")
    assert card["loss"]["preset"] == name
    data = card["training_data"]
    assert data["aster_files_read"] is False and data["files"] == [
        "modis_lst_1km.tif", "modis_ndvi_250m.tif"]
    assert len(data["train_samples"]) + len(data["validation_samples"]) == 21
    assert not set(data["train_samples"]) & set(data["validation_samples"])
    assert card["training"]["wall_time_s"] > 0 and card["training"]["steps"] > 0
    assert np.isfinite(card["training"]["final_train_loss"])
    assert {"val_loss", "wald_rmse_K", "wald_rmse_bicubic_K"} <= set(card["validation"])


@pytest.mark.shared_data
@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_model_predicts_plausible_lst(name: str, aster_dev: Path) -> None:
    model = load_model(name, device="cpu")
    sample = model.card["training_data"]["validation_samples"][0]
    scene = DevFolderPairs(aster_dev, samples=[sample]).scenes[sample]
    out = model.predict(scene.lst_1km, scene.ndvi_250m)
    assert out.shape == (256, 256) and np.isfinite(out).all()
    # the 1 km means are kept to within a few kelvin (SIF consistency / scale consistency)
    coarse = out.reshape(64, 4, 64, 4).mean(axis=(1, 3))
    assert float(np.sqrt(np.mean((coarse - scene.lst_1km) ** 2))) < 4.0
    assert out.std() > 0.5 * scene.lst_1km.std()
