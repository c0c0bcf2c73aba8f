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
    env = {**os.environ, "MPLBACKEND": "Agg"}
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
    assert code == 1
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
    assert code == 1
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
            "block-mean",
            "--report",
            str(out),
        ]
    )
    assert code == 0
    doc = _check_report(out, ["bicubic", "tsharp"], 2)
    assert doc["config"]["degradation"] == "block-mean"
