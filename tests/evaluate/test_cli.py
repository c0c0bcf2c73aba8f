"""``lstcloud evaluate`` end to end on a few real samples."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from lstcloud.cli.main import main

REQUIRED = {"rmse_k", "mae_k", "bias_k", "ssim", "psnr_db", "grad_rmse_k", "n_samples"}


def _check_report(out: Path, methods: list[str], n: int) -> dict:
    doc = json.loads((out / "metrics.json").read_text())
    assert {"protocol", "data", "methods", "per_sample"} <= set(doc)
    assert list(doc["methods"]) == methods
    for name in methods:
        assert set(doc["methods"][name]) >= REQUIRED
        assert doc["methods"][name]["n_samples"] == n
    assert len(doc["per_sample"]) == n * len(methods)
    report = (out / "report.md").read_text()
    for name in methods:
        assert f"| {name} |" in report
    assert (out / "scatter.png").stat().st_size > 1000
    assert (out / "error_hist.png").stat().st_size > 1000
    assert list(out.glob("maps_*.png"))
    return doc


def test_cli_aster(aster_dev: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "aster"
    code = main(
        [
            "evaluate",
            "aster",
            "--data",
            str(aster_dev),
            "--methods",
            "bicubic,tsharp",
            "--samples",
            "000,074",
            "--report",
            str(out),
            "--panels",
            "1",
        ]
    )
    assert code == 0
    doc = _check_report(out, ["bicubic", "tsharp"], 2)
    assert doc["protocol"] == "aster"
    assert 1.0 < doc["methods"]["bicubic"]["rmse_k"] < 4.0
    assert doc["config"]["erode_px"] == 8
    assert "RMSE" in capsys.readouterr().out


@pytest.mark.slow
def test_cli_wald_patches_subprocess(shared_data: Path, tmp_path: Path) -> None:
    out = tmp_path / "wald"
    cmd = [
        sys.executable,
        "-m",
        "lstcloud",
        "evaluate",
        "wald",
        "--data",
        str(shared_data / "mod11a1_h18v04_2020_patches"),
        "--methods",
        "nearest,bicubic",
        "--limit",
        "3",
        "--report",
        str(out),
    ]
    env = {**os.environ, "MPLBACKEND": "Agg", "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    doc = _check_report(out, ["nearest", "bicubic"], 3)
    assert doc["protocol"] == "wald"
    assert doc["methods"]["bicubic"]["rmse_k"] < doc["methods"]["nearest"]["rmse_k"]


def test_cli_refuses_ndvi_methods_on_lst_only_data(
    shared_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    code = main(
        [
            "evaluate",
            "wald",
            "--data",
            str(shared_data / "mod11a1_h18v04_2020_patches"),
            "--methods",
            "bicubic,tsharp",
            "--limit",
            "2",
            "--report",
            str(tmp_path),
        ]
    )
    assert code == 2  # a usage / configuration error (issue 24)
    err = capsys.readouterr().err
    assert "tsharp" in err and "LST-only" in err
    assert not (tmp_path / "metrics.json").exists()


def test_cli_unknown_method(aster_dev: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    code = main(
        [
            "evaluate",
            "aster",
            "--data",
            str(aster_dev),
            "--methods",
            "magic",
            "--report",
            str(tmp_path),
        ]
    )
    assert code == 2  # a usage / configuration error (issue 24)
    assert "unknown method 'magic'" in capsys.readouterr().err


def test_cli_wald_dev_with_ndvi(aster_dev: Path, tmp_path: Path) -> None:
    out = tmp_path / "wald_dev"
    code = main(
        [
            "evaluate",
            "wald",
            "--data",
            str(aster_dev),
            "--methods",
            "bicubic,tsharp",
            "--limit",
            "2",
            "--degradation",
            "mean",
            "--report",
            str(out),
        ]
    )
    assert code == 0
    doc = _check_report(out, ["bicubic", "tsharp"], 2)
    assert doc["config"]["degradation"] == "mean"


def _random_model_folder(folder: Path) -> Path:
    """A CNN model folder with random weights, written by the models package itself."""
    import torch

    from lstcloud.models import SIFCNN, CNNModel, Normalization, save_model

    torch.manual_seed(0)
    norm = Normalization(lst_mean=300.0, lst_std=6.0, ndvi_mean=0.5, ndvi_std=0.2)
    model = CNNModel(
        SIFCNN(),
        norm,
        name=folder.name,
        receptive_field_px=64,
        device="cpu",
        training_data={"path": "/somewhere/else", "train_samples": ["000"]},
    )
    return save_model(folder, model)


@pytest.mark.slow
def test_cli_model_dir_uses_the_product_predict(
    aster_dev: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    import numpy as np

    from lstcloud import load_model
    from lstcloud.evaluate.datasets import fill_nearest, read_dev_sample
    from lstcloud.evaluate.methods import resolve_methods

    folder = _random_model_folder(tmp_path / "my-model")
    (method,) = resolve_methods([], model_paths=[folder], device="cpu")
    assert method.name == "my-model" and method.needs_ndvi
    sample = read_dev_sample(aster_dev / "000")
    ndvi = fill_nearest(sample.ndvi_250m.data)
    expected = load_model(folder, device="cpu").predict(sample.lst_1km.data, ndvi)
    np.testing.assert_array_equal(method.predict(sample.lst_1km.data, ndvi), expected)

    out = tmp_path / "report"
    code = main(
        [
            "evaluate",
            "aster",
            "--data",
            str(aster_dev),
            "--methods",
            "bicubic",
            "--model",
            str(folder),
            "--samples",
            "000",
            "--report",
            str(out),
            "--panels",
            "1",
            "--device",
            "cpu",
        ]
    )
    assert code == 0, capsys.readouterr().err
    doc = _check_report(out, ["bicubic", "my-model"], 1)
    assert doc["methods"]["my-model"]["source"] == "lstcloud.models"
    assert doc["methods"]["my-model"]["samples_seen_in_training"] == 0


def test_cli_published_preset_without_a_shipped_model(
    aster_dev: Path, tmp_path: Path, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    from lstcloud.models import registry

    empty = tmp_path / "no-shipped-models"
    empty.mkdir()
    monkeypatch.setattr(registry, "shipped_models_dir", lambda: empty)
    monkeypatch.chdir(tmp_path)  # no folder named like the preset in the cwd either
    code = main(
        [
            "evaluate",
            "aster",
            "--data",
            str(aster_dev),
            "--methods",
            "sif-cnn-sr1-published",
            "--samples",
            "000",
            "--report",
            str(tmp_path / "out"),
        ]
    )
    assert code == 2  # a usage / configuration error (issue 24)
    err = capsys.readouterr().err
    assert "no trained model is shipped" in err and "--model DIR" in err
    assert "sif-cnn-sr1-published" in err and "training/configs/sif-cnn-sr1-published.yaml" in err


def test_duplicate_method_names_are_refused(tmp_path: Path) -> None:
    from lstcloud.errors import ConfigError
    from lstcloud.evaluate.methods import resolve_methods

    folder = _random_model_folder(tmp_path / "bicubic")
    with pytest.raises(ConfigError, match="given twice"):
        resolve_methods(["bicubic"], model_paths=[folder], device="cpu")
