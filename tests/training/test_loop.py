"""The training loop on the real development pairs: loss falls, exact resume, model folder."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from lstcloud.errors import ConfigError
from lstcloud.training import DevFolderPairs, fit
from tests.training.conftest import tiny_config

pytestmark = pytest.mark.shared_data

PRESETS = [
    ("sif-cnn-sr1", "sif"),
    ("sif-cnn-sr2", "sif"),
    ("sif-cnn-sr1-published", "sif"),
    ("sif-cnn-sr2-published", "sif"),
    ("sc-unet", "scale-consistency"),
]


def _records(folder: Path) -> list[dict]:
    lines = (folder / "metrics.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines if line.strip()]


@pytest.mark.parametrize(("preset", "method"), PRESETS, ids=[p for p, _ in PRESETS])
def test_each_preset_loss_falls(preset: str, method: str, aster_dev: Path, tmp_path: Path):
    config = tiny_config(preset, method=method, path=aster_dev,
                         **{"optim.max_steps": 21, "validate_every": 100})
    result = fit(config, out=tmp_path, stop_after=20, progress=False)
    assert result.steps == 20 and not result.finished
    losses = [r["train_loss"] for r in _records(tmp_path) if "train_loss" in r]
    assert len(losses) == 20 and all(np.isfinite(losses))
    first, last = np.mean(losses[:4]), np.mean(losses[-4:])
    assert last < 0.7 * first, (preset, losses)
    assert not (tmp_path / "model.safetensors").exists()  # interrupted: no model yet


def _weights(net: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in net.state_dict().items()}


@pytest.mark.slow
def test_resume_is_exact(aster_dev: Path, tmp_path: Path) -> None:
    config = tiny_config("sif-cnn-sr2", path=aster_dev, validate_every=3, checkpoint_every=100,
                         **{"optim.max_steps": 13, "data.patches_per_epoch": 12})
    straight = fit(config, out=tmp_path / "a", stop_after=10, progress=False)
    # the interrupted run reads its patches through loader worker processes: same patches
    workers = config.with_updates(**{"data.num_workers": 1})
    fit(workers, out=tmp_path / "b", stop_after=5, progress=False)
    resumed = fit(workers, out=tmp_path / "b", stop_after=5, progress=False)
    assert straight.steps == resumed.steps == 10
    wa, wb = _weights(straight.network), _weights(resumed.network)
    assert wa.keys() == wb.keys()
    for key in wa:
        assert torch.equal(wa[key], wb[key]), key
    strip = [{k: v for k, v in r.items() if k != "elapsed_s"} for r in _records(tmp_path / "a")]
    strip_b = [{k: v for k, v in r.items() if k != "elapsed_s"} for r in _records(tmp_path / "b")]
    assert strip == strip_b  # the same losses and validations, step by step
    fresh = fit(config, out=tmp_path / "b", stop_after=2, resume=False, progress=False)
    assert fresh.steps == 2
    assert not all(torch.equal(wa[k], v) for k, v in _weights(fresh.network).items())


def test_resume_with_another_config_is_refused(aster_dev: Path, tmp_path: Path) -> None:
    config = tiny_config("sif-cnn-sr1", path=aster_dev, **{"optim.max_steps": 5})
    fit(config, out=tmp_path, stop_after=2, progress=False)
    with pytest.raises(ConfigError, match="different training config"):
        fit(config.with_updates(seed=99), out=tmp_path, stop_after=1, progress=False)


def test_trained_model_round_trips_its_folder(aster_dev: Path, tmp_path: Path) -> None:
    from lstcloud.models import load_model, save_model

    config = tiny_config("sif-cnn-sr1", path=aster_dev, validate_every=3,
                         **{"optim.max_steps": 6})
    result = fit(config, out=tmp_path / "m", progress=False)
    assert result.finished and (tmp_path / "m" / "loss_curve.png").read_bytes()[:4] == b"\x89PNG"
    model = load_model(tmp_path / "m", device="cpu")
    card = model.card
    assert card["name"] == "sif-cnn-sr1" and card["parameters"] == 282705
    assert card["receptive_field_px"] > 0 and card["loss"]["preset"] == "sif-cnn-sr1"
    data = card["training_data"]
    assert data["aster_files_read"] is False and data["aligned_by"] == "geotransform"
    # derived from the record of what the reader opened: the 5 samples' two MODIS files
    assert data["files"] == ["modis_lst_1km.tif", "modis_ndvi_250m.tif"]
    assert data["files_read_count"] == 10
    draws = data["patch_draws"]
    assert draws["patches_drawn"] == 6 * 4 and draws["fallback_draws"] >= 0
    assert draws["rejected_draws"] >= 0
    assert data["validation_samples"] == ["040", "147"]
    assert set(data["train_samples"]) == {"000", "007", "020"}
    assert {"val_loss", "wald_rmse_K", "wald_rmse_bicubic_K"} <= set(card["validation"])
    assert card["training"]["steps"] == 6 and card["training"]["wall_time_s"] > 0
    # normalisation statistics come from the training split only
    train_lst = np.concatenate([
        DevFolderPairs(aster_dev, samples=[s]).scenes[s].lst_1km.ravel()
        for s in ("000", "007", "020")
    ])
    assert card["normalization"]["lst_mean"] == pytest.approx(float(np.mean(train_lst)), abs=1e-3)

    pairs = DevFolderPairs(aster_dev, samples=["040"]).scenes["040"]
    out = model.predict(pairs.lst_1km, pairs.ndvi_250m)
    assert out.shape == (256, 256) and np.isfinite(out).all()
    save_model(tmp_path / "copy", model)
    again = load_model(tmp_path / "copy", device="cpu").predict(pairs.lst_1km, pairs.ndvi_250m)
    np.testing.assert_array_equal(out, again)
    # the folder holds exactly the weights the loop ended with
    state = result.network.state_dict()
    for key, value in model.network.state_dict().items():
        assert torch.equal(value.cpu(), state[key].cpu()), key


def test_early_stopping_keeps_best_weights(aster_dev: Path, tmp_path: Path) -> None:
    config = tiny_config(
        "sc-unet", method="scale-consistency", path=aster_dev, validate_every=2,
        **{"optim.max_steps": 50, "early_stopping.patience": 2, "early_stopping.min_delta": 1e9},
    )
    result = fit(config, out=tmp_path, progress=False)
    assert result.finished and result.stopped_early and result.steps == 6
    card = json.loads((tmp_path / "model.json").read_text())
    assert card["training"]["best_step"] == 2 and card["training"]["stopped_early"] is True
    vals = [r for r in _records(tmp_path) if "val_loss" in r]
    assert [r["step"] for r in vals] == [2, 4, 6]
    assert card["validation"]["val_loss"] == pytest.approx(vals[0]["val_loss"], rel=1e-5)


@pytest.mark.slow
def test_training_on_an_input_cube_splits_by_day(tmp_path: Path) -> None:
    from tests.training.test_data import _write_cube

    cube = tmp_path / "input.zarr"
    _write_cube(cube, days=2)
    config = tiny_config(
        "sif-cnn-sr1", **{
            "data.samples": None, "data.val_samples": ["2020-07-02"], "data.min_valid": 0.5,
            "data.start": "2020-07-01", "data.end": "2020-07-02", "optim.max_steps": 5,
            "validate_every": 2,
        },
    )
    result = fit(config, out=tmp_path / "run", data=str(cube), stop_after=4, progress=False)
    assert result.steps == 4
    records = _records(tmp_path / "run")
    losses = [r["train_loss"] for r in records if "train_loss" in r]
    vals = [r for r in records if "val_loss" in r]
    assert len(losses) == 4 and np.isfinite(losses).all()
    assert vals and all(np.isfinite(r["wald_rmse_K"]) for r in vals)
