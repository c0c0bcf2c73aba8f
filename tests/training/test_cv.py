"""The out-of-fold ASTER protocol on a tiny configuration (3 folds, 6 scenes, a few steps)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from lstcloud.errors import ConfigError
from lstcloud.evaluate.datasets import iter_dev_samples
from lstcloud.training.cv import (
    CVMethod,
    cross_validate_aster,
    fold_model,
    oracle_prediction,
    write_cv_summary,
)
from lstcloud.training.folds import FoldMember, assign_folds, train_fold_member
from tests.training.conftest import link_scenes, tiny_config

SCENES = ["000", "007", "020", "040", "147", "202"]


@pytest.fixture
def six_scenes(aster_dev: Path, tmp_path: Path) -> Path:
    return link_scenes(aster_dev, tmp_path / "dev6", SCENES)


def test_fold_assignment_is_fixed_and_documented() -> None:
    folds = assign_folds(["b", "a", "d", "c", "e"], 2)
    assert folds == [["a", "c", "e"], ["b", "d"]]  # sorted, sample i -> fold i mod K
    with pytest.raises(Exception, match="K >= 2"):
        assign_folds(["a", "b"], 1)
    with pytest.raises(Exception, match="fewer than the folds"):
        assign_folds(["a", "b"], 3)


def test_fold_member_trains_on_modis_of_training_folds_only(
    six_scenes: Path, tmp_path: Path, rasterio_opened
) -> None:
    member = FoldMember(tiny_config().with_updates(**{"optim.max_steps": 4}))
    folder = train_fold_member(member, data=six_scenes, train_samples=SCENES[:4],
                               root=tmp_path / "folds", fold=1)
    assert folder.parent.name == "fold1" and folder.name.startswith("sif-cnn-sr1-")
    assert {p.name for p in rasterio_opened} == {"modis_lst_1km.tif", "modis_ndvi_250m.tif"}
    assert {p.parent.name for p in rasterio_opened} == set(SCENES[:4])
    card = json.loads((folder / "model.json").read_text())
    seen = set(card["training_data"]["train_samples"]) | set(
        card["training_data"]["validation_samples"])
    assert seen == set(SCENES[:4]) and card["training_data"]["aster_files_read"] is False
    mtime = (folder / "model.safetensors").stat().st_mtime_ns
    rasterio_opened.clear()
    again = train_fold_member(member, data=six_scenes, train_samples=SCENES[:4],
                              root=tmp_path / "folds", fold=1)
    assert again == folder and (folder / "model.safetensors").stat().st_mtime_ns == mtime
    assert rasterio_opened == []  # the cached fold model is reused, nothing is retrained


def test_cross_validation_scores_every_scene_once_out_of_fold(
    six_scenes: Path, tmp_path: Path
) -> None:
    tiny = CVMethod("tiny", (tiny_config().with_updates(**{"optim.max_steps": 3}),), "flips",
                    uncertainty_features=("ndvi", "lst_local_sd"))
    outcome = cross_validate_aster(six_scenes, [tiny], k=3, root=tmp_path / "folds",
                                   progress=False)
    rows = outcome.result.per_sample
    assert outcome.folds == [["000", "040"], ["007", "147"], ["020", "202"]]
    for method in ("bicubic", "tiny"):
        mine = [r for r in rows if r["method"] == method]
        assert sorted(r["sample"] for r in mine) == SCENES
    for row in rows:  # each scene was scored by the models of the fold that held it out
        assert row["sample"] in outcome.folds[row["fold"]]
    for fold, held in enumerate(outcome.folds):
        (member,) = (tmp_path / "folds" / f"fold{fold}").iterdir()
        card = json.loads((member / "model.json").read_text())
        trained = set(card["training_data"]["train_samples"]) | set(
            card["training_data"]["validation_samples"])
        assert trained == set(SCENES) - set(held)
        assert card["training_data"]["aster_files_read"] is False
    summary = outcome.summary
    oracle = summary["oracle (diagnostic, reads ASTER)"]["rmse_k"]
    assert oracle < summary["bicubic"]["rmse_k"] - 0.2  # the floor is well below bicubic
    assert summary["bicubic"]["gap_closed_mse"] == pytest.approx(0.0, abs=1e-9)
    assert summary["bicubic"]["wins_vs_bicubic"] == 0
    assert 0 <= summary["tiny"]["wins_vs_bicubic"] <= 6
    assert summary["tiny"]["rmse_std_k"] > 0
    unc = outcome.uncertainty["tiny"]  # flips TTA: 4 passes, a spread per pixel
    assert -1 <= unc["spearman_pooled"] <= 1 and len(unc["bins"]) == 5
    assert unc["flags"]["ok (no flag)"]["n_px"] > 0
    calibrated = outcome.calibrated["tiny"]  # sigma recalibrated per fold, out of fold
    assert calibrated["n_scenes"] == 6 and 0.4 < calibrated["coverage_1sigma"] < 0.9
    assert calibrated["coverage_90"] > calibrated["coverage_1sigma"]
    md = write_cv_summary(outcome, tmp_path / "report", command="lstcloud evaluate aster --cv 3")
    text = md.read_text()
    assert "| tiny |" in text and "gap closed" in text and "--cv 3" in text
    assert "Calibrated uncertainty, out of fold" in text
    assert (tmp_path / "report" / "reliability_cv.png").stat().st_size > 1000
    # fold_model reads the cache without training when asked, and refuses a missing member
    train = [s for s in SCENES if s not in outcome.folds[0]]
    model, folders = fold_model(tiny, data=six_scenes, train_samples=train,
                                root=tmp_path / "folds", fold=0, max_steps=None, train=False)
    assert folders[0].parent.name == "fold0" and model.passes == 4
    with pytest.raises(ConfigError, match="not finished"):
        fold_model(tiny, data=six_scenes, train_samples=train, root=tmp_path / "empty", fold=0,
                   train=False)


def test_oracle_keeps_modis_block_means(six_scenes: Path) -> None:
    sample = next(iter_dev_samples(six_scenes, names=["040"]))
    oracle = oracle_prediction(sample)
    h, w = sample.lst_1km.data.shape
    blocks = oracle.reshape(h, 4, w, 4).mean(axis=(1, 3))
    ok = np.isfinite(blocks)
    assert ok.mean() > 0.3
    np.testing.assert_allclose(blocks[ok], sample.lst_1km.data[ok], atol=1e-3)


def test_cli_cv_command_writes_the_out_of_fold_table(six_scenes: Path, tmp_path: Path,
                                                     capsys) -> None:
    from lstcloud.cli.main import main

    report = tmp_path / "cv"
    argv = ["evaluate", "aster", "--cv", "2", "--data", str(six_scenes), "--methods",
            "bicubic,nearest,sc-unet", "--report", str(report), "--max-steps", "2",
            "--threads", "1", "--no-progress"]
    assert main(argv) == 0
    doc = json.loads((report / "cv.json").read_text())
    assert doc["folds"] == [["000", "020", "147"], ["007", "040", "202"]]
    assert doc["summary"]["sc-unet"]["n_samples"] == 6
    assert doc["command"].startswith("lstcloud evaluate aster --cv 2 --data ")
    assert len(list((report / "folds").glob("fold*/sc-unet-*/model.json"))) == 2
    assert (report / "metrics.json").is_file() and (report / "report.md").is_file()
    assert "sc-unet" in capsys.readouterr().out


def test_cached_fold_member_tolerates_unset_fields_of_a_newer_config(tmp_path: Path) -> None:
    from lstcloud.training.folds import cached_fold_member, fold_config, member_key

    member = FoldMember(tiny_config())
    train = ["000", "007"]
    config = fold_config(member.config, data=tmp_path, train_samples=train)
    folder = tmp_path / "root" / "fold0" / member_key(config)
    folder.mkdir(parents=True)
    (folder / "model.safetensors").write_bytes(b"")

    def write(extra: dict) -> Path | None:
        recorded = {**config.model_dump(mode="json"), **extra}
        (folder / "model.json").write_text(json.dumps({"training": {"config": recorded}}))
        return cached_fold_member(member, data=tmp_path, train_samples=train,
                                  root=tmp_path / "root", fold=0)

    assert write({}) == folder
    assert write({"a_newer_field": None}) == folder  # unset: the same recipe
    assert write({"a_newer_field": {"on": True}}) is None  # set: another recipe
