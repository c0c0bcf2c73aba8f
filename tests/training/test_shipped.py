"""The models shipped in lstcloud/data/models/ load, describe their training, and predict."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml

from lstcloud.models import load_model
from lstcloud.models.card import sha256_weights
from lstcloud.models.registry import shipped_models_dir
from lstcloud.training import DevFolderPairs

POSTPROCESS = yaml.safe_load(
    (Path(__file__).resolve().parents[2] / "training" / "postprocess.yaml").read_text("utf-8")
)

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
        "modis_lst_1km.tif", "modis_ndvi_250m.tif"]  # checked against a real read below
    assert len(data["train_samples"]) + len(data["validation_samples"]) == 21
    assert not set(data["train_samples"]) & set(data["validation_samples"])
    assert card["training"]["wall_time_s"] > 0 and card["training"]["steps"] > 0
    assert np.isfinite(card["training"]["final_train_loss"])
    assert {"val_loss", "wald_rmse_K", "wald_rmse_bicubic_K"} <= set(card["validation"])
    # the validation of the model as shipped: same weights, same post-processing, MODIS only
    shipped = card["validation_as_shipped"]
    assert shipped["postprocess"] == card["postprocess"] and shipped["sha256"] == card["sha256"]
    assert shipped["samples"] == data["validation_samples"] and shipped["protocol"] == "wald"
    assert shipped["aster_files_read"] is False
    assert shipped["files"] == ["modis_lst_1km.tif", "modis_ndvi_250m.tif"]
    assert shipped["files_read_count"] == 2 * len(shipped["samples"])
    assert 0 < shipped["wald_rmse_k"] < shipped["wald_rmse_bicubic_k"]  # every network wins
    assert set(shipped["by_degradation"]) == {"gaussian", "mean"}
    # canonical weights hash, and the post-processing as training/postprocess.yaml says
    assert card["sha256_kind"] == "safetensors-tensors-v1"
    assert card["sha256"] == sha256_weights(weights)
    entry = POSTPROCESS[name]
    assert card["postprocess"] == entry["postprocess"]
    assert any(n.startswith("postprocess:") and entry["reason"] in n for n in card["notes"])
    reach = 8 * entry["postprocess"]["iterations"] if entry["postprocess"] else 0
    assert card["receptive_field_px"] == card["receptive_field_network_px"] + reach


def test_the_deck_sr1_is_consistency_corrected() -> None:
    assert POSTPROCESS["sif-cnn-sr1"]["postprocess"] == {
        "consistency_correction": "bicubic-residual", "iterations": 1}


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
    drift = float(np.sqrt(np.mean((coarse - scene.lst_1km) ** 2)))
    assert drift < 4.0
    if model.card["postprocess"]:  # corrected: the 1 km means are kept far more closely
        plain = model.with_postprocess(None).predict(scene.lst_1km, scene.ndvi_250m)
        coarse = plain.reshape(64, 4, 64, 4).mean(axis=(1, 3))
        plain_drift = float(np.sqrt(np.mean((coarse - scene.lst_1km) ** 2)))
        assert drift < 0.5 and drift < 0.25 * plain_drift
    assert out.std() > 0.5 * scene.lst_1km.std()


@pytest.mark.shared_data
def test_shipped_training_reader_opens_only_modis_files(
    aster_dev: Path, rasterio_opened: list[Path]
) -> None:
    """Rebuild the dataset the shipped cards describe, spying on every file opened: the
    card's
    ``files`` / ``aster_files_read`` are what the reader's record gives, and no ASTER file of
    the real development folder is ever opened."""
    card = load_model("sif-cnn-sr1", device="cpu").card["training_data"]
    assert any((aster_dev / s / "aster_lst_250m_utm31n_x10.tif").is_file()
               for s in card["train_samples"])  # the ASTER files are there, next to the MODIS
    ds = DevFolderPairs(aster_dev, samples=card["train_samples"] + card["validation_samples"])
    train = ds.subset(card["train_samples"])
    names = {p.name for p in rasterio_opened}
    assert rasterio_opened and names == {"modis_lst_1km.tif", "modis_ndvi_250m.tif"}
    assert sorted(str(p) for p in rasterio_opened) == train.files_read
    described = train.describe()
    assert described["files"] == card["files"]
    assert described["aster_files_read"] is card["aster_files_read"] is False
    for i in range(4):  # drawing patches opens nothing more
        train[i]
    assert len(rasterio_opened) == 2 * 21


@pytest.mark.shared_data
def test_validation_as_shipped_is_reproduced_by_its_code(aster_dev: Path, tmp_path: Path) -> None:
    import shutil

    from lstcloud.models.cnn import set_postprocess
    from lstcloud.training.shipped import validate_as_shipped

    folder = tmp_path / "sr1"
    shutil.copytree(shipped_models_dir() / "sif-cnn-sr1", folder)
    card = load_model(folder, device="cpu").card
    again = validate_as_shipped(folder, data=aster_dev, write=False)
    for key in ("wald_rmse_k", "wald_ssim", "wald_rmse_bicubic_k"):
        assert again[key] == pytest.approx(card["validation_as_shipped"][key], abs=1e-4), key
    # switching the post-processing drops the figures of the previous one (they are stale)
    off = set_postprocess(folder, None)
    assert "validation_as_shipped" not in off
    fresh = validate_as_shipped(folder, data=aster_dev)
    assert fresh["postprocess"] is None
    assert fresh["wald_rmse_k"] > again["wald_rmse_k"]  # the bare deck SR1 drifts
    assert load_model(folder, device="cpu").card["validation_as_shipped"] == fresh


@pytest.mark.shared_data
@pytest.mark.parametrize("name", (*SHIPPED, "ensemble", "default"))
def test_every_card_validation_as_shipped_is_recomputed(name: str, aster_dev: Path) -> None:
    """The card's Wald figures are what its own code gives for the model as shipped."""
    from lstcloud.training.shipped import validate_as_shipped

    folder = shipped_models_dir() / name
    card = load_model(folder, device="cpu").card
    again = validate_as_shipped(folder, data=aster_dev, write=False)
    for key in ("wald_rmse_k", "wald_ssim", "wald_rmse_bicubic_k"):
        assert again[key] == pytest.approx(card["validation_as_shipped"][key], abs=1e-4), key
    assert again["sha256"] == card["sha256"] and again["aster_files_read"] is False


def test_ensemble_is_the_best_out_of_fold_ensemble_and_its_card_says_so() -> None:
    """The shipped ensemble's card holds the out-of-fold figures of docs/results/cv5_dev.json
    (written by ``lstcloud evaluate aster --cv 5``), and it is the best of them in RMSE."""
    import json

    cv = json.loads((Path(__file__).resolve().parents[2] / "docs" / "results" /
                     "cv5_dev.json").read_text("utf-8"))
    model = load_model("ensemble", device="cpu")
    card = model.card
    selection = card["selection"]
    chosen = selection["out_of_fold"]
    rows = {n: r for n, r in cv["summary"].items() if "wins_vs_bicubic" in r}
    assert set(chosen) == set(rows)
    for name, row in rows.items():
        assert chosen[name]["rmse_k"] == pytest.approx(row["rmse_k"], abs=1e-9)
    best = min(rows, key=lambda n: rows[n]["rmse_k"])
    mine = next(n for n in rows if card["notes"][0].startswith(f"chosen: {n},"))
    assert rows[mine]["rmse_k"] <= rows[best]["rmse_k"] + 1e-3  # the best, or tied with it
    assert rows[mine]["rmse_k"] < rows["bicubic"]["rmse_k"]
    assert rows[mine]["ssim"] > rows["bicubic"]["ssim"]
    assert card["passes"] == card["cost"]["network_passes_per_prediction"] == 20
    assert card["training_data"]["aster_files_read"] is False
    assert len(card["training_data"]["samples"]) == 21


def test_default_is_one_network_distilled_from_the_ensemble_and_its_card_says_so() -> None:
    """``default`` is one SIF-CNN U-Net distilled from ``ensemble``: its card holds the
    out-of-fold figures of docs/results/cv5_distilled.json (each fold's student distilled from
    that fold's teacher), within 0.01 K of its teacher, and its cost."""
    import json

    from lstcloud.training.distill import teacher_recipe

    cv = json.loads((Path(__file__).resolve().parents[2] / "docs" / "results" /
                     "cv5_distilled.json").read_text("utf-8"))
    card = load_model("default", device="cpu").card
    assert card["method"] == "distill" and card["parameters"] == 282705
    assert card["passes"] == card["cost"]["passes"] == 1
    assert card["teacher"]["name"] == "ensemble" and card["teacher"]["passes"] == 20
    assert card["cost"]["time_x_sif-cnn-sr1"] <= 1.5  # measured side by side when built
    assert card["cost"]["teacher"]["passes"] == 20
    recipe = card["training"]["config"]["distill"]["teacher_recipe"]
    assert recipe == teacher_recipe(load_model("ensemble", device="cpu"))
    rows = card["selection"]["out_of_fold"]
    for name, row in rows.items():
        assert row["rmse_k"] == pytest.approx(cv["summary"][name]["rmse_k"], abs=1e-9), name
    assert rows["default"]["rmse_k"] <= rows["ensemble"]["rmse_k"] + 0.01
    assert rows["default"]["rmse_k"] < rows["bicubic"]["rmse_k"]
    assert rows["default"]["ssim"] > rows["bicubic"]["ssim"]
    data = card["training_data"]
    assert data["aster_files_read"] is False
    assert data["files"] == ["modis_lst_1km.tif", "modis_ndvi_250m.tif"]
    assert len(data["train_samples"]) + len(data["validation_samples"]) == 21
