"""Distillation (``method: distill``): targets, card, and the per-fold teacher."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from lstcloud.models import load_model
from lstcloud.training import TrainConfig
from lstcloud.training.distill import teacher_recipe
from lstcloud.training.folds import FoldMember, member_key, train_fold_member
from lstcloud.training.loop import train
from tests.training.conftest import link_scenes, tiny_config

SCENES = ["000", "007", "020", "040", "147"]
MODIS = {"modis_lst_1km.tif", "modis_ndvi_250m.tif"}


@pytest.fixture
def five_scenes(aster_dev: Path, tmp_path: Path) -> Path:
    return link_scenes(aster_dev, tmp_path / "dev5", SCENES)


def student_config(teacher: str, **distill) -> TrainConfig:
    return TrainConfig(
        name="student",
        method="distill",
        distill={"teacher": teacher, "coarse_weight": 0.0, **distill},
        data={"samples": SCENES[:3], "val_samples": [SCENES[2]]},
        optim={"lr": 1e-3, "max_steps": 2, "warmup_steps": 0},
        validate_every=1,
        seed=1,
        device="cpu",
    )


def test_distilling_a_network_into_itself_reproduces_it(five_scenes: Path, tmp_path: Path,
                                                         rasterio_opened) -> None:
    """Student = teacher's own weights, no post-processing: the targets line up with the
    inputs, so the validation loss is ~0 and the student predicts what the teacher does."""
    pp = load_model("sif-cnn-sr1", device="cpu").card["postprocess"]  # bicubic-residual
    config = student_config("sif-cnn-sr1", postprocess=pp).with_updates(**{"optim.lr": 1e-12})
    folder = train(config, out=tmp_path / "student", data=five_scenes)
    card = json.loads((folder / "model.json").read_text())
    assert card["method"] == "distill" and card["passes"] == 1 and card["postprocess"] == pp
    assert card["validation"]["distillation_mse_k2"] < 1e-6
    assert card["training_data"]["aster_files_read"] is False
    assert {p.name for p in rasterio_opened} == MODIS
    assert {p.parent.name for p in rasterio_opened} == set(SCENES[:3])
    recipe = card["training"]["config"]["distill"]["teacher_recipe"]
    teacher = load_model("sif-cnn-sr1", device="cpu")
    assert recipe == teacher_recipe(teacher) and recipe["tta"] == "none"
    student = load_model(folder, device="cpu")
    rng = np.random.default_rng(0)
    lst = (295 + rng.normal(0, 2, (24, 24))).astype(np.float32)
    ndvi = rng.uniform(0.1, 0.8, (96, 96)).astype(np.float32)
    assert np.allclose(student.predict(lst, ndvi), teacher.predict(lst, ndvi), atol=1e-3)


def test_the_student_learns_and_carries_its_postprocess(five_scenes: Path,
                                                       tmp_path: Path) -> None:
    pp = {"consistency_correction": "lowpass-residual", "iterations": 1, "sigma_km": 2.0}
    config = student_config("sif-cnn-sr1", postprocess=pp, coarse_weight=0.5,
                            init_from_member=None).with_updates(**{"optim.max_steps": 6,
                                                                   "validate_every": 3})
    folder = train(config, out=tmp_path / "student", data=five_scenes)
    card = json.loads((folder / "model.json").read_text())
    assert card["postprocess"] == pp and card["receptive_field_px"] >= 32
    records = [json.loads(x) for x in (folder / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records] == [3, 6]
    assert records[-1]["train_loss"] < records[0]["train_loss"] * 1.5  # finite, not diverging
    assert load_model(folder, device="cpu").postprocess.to_dict() == pp


def test_a_fold_student_is_distilled_from_its_folds_teacher(five_scenes: Path, tmp_path: Path,
                                                            rasterio_opened) -> None:
    """Under cross-validation the teacher is rebuilt on the training folds from the recipe in
    the student's card: no held-out scene's input reaches the teacher or the student."""
    member = tiny_config(path=None).with_updates(**{"optim.max_steps": 2, "data.samples": None,
                                                    "data.val_samples": None})
    recipe = {"members": [json.loads(member.model_dump_json())], "tta": "flips",
              "postprocess": None}
    config = student_config("tiny-ensemble", teacher_recipe=recipe, init_from_member=0)
    train_samples = SCENES[:4]
    folder = train_fold_member(FoldMember(config), data=five_scenes,
                               train_samples=train_samples, root=tmp_path / "folds", fold=2)
    teachers = [p for p in folder.parent.iterdir() if p.name.startswith("sif-cnn-sr1-")]
    assert len(teachers) == 1 and (teachers[0] / "model.safetensors").is_file()  # cached
    assert {p.name for p in rasterio_opened} == MODIS
    assert {p.parent.name for p in rasterio_opened} == set(train_samples)
    card = json.loads((folder / "model.json").read_text())
    seen = card["training_data"]["train_samples"] + card["training_data"]["validation_samples"]
    assert sorted(seen) == train_samples and card["teacher"]["passes"] == 4
    # the folder key is the recipe's: the per-fold teacher folders are not part of it
    assert folder.name.startswith("student-")
    assert member_key(config) == member_key(
        config.with_updates(**{"distill.teacher_folders": [str(teachers[0])]}))
    rasterio_opened.clear()
    again = train_fold_member(FoldMember(config), data=five_scenes,
                              train_samples=train_samples, root=tmp_path / "folds", fold=2)
    assert again == folder and rasterio_opened == []  # reused, nothing retrained


def test_configs_without_a_distill_section_keep_their_keys_and_checkpoints() -> None:
    """The ``distill`` field is left out of the recipe digest and the checkpoint fingerprint
    when unset, so fold-model caches and checkpoints written before it existed stay valid."""
    from lstcloud.training.folds import _recipe_dump
    from lstcloud.training.loop import _config_fingerprint

    config = tiny_config()
    assert "distill" not in _recipe_dump(config)
    assert '"distill"' not in _config_fingerprint(config)
    student = student_config("sif-cnn-sr1", teacher_folders=["/x/fold0/m"])
    assert "teacher_folders" not in _recipe_dump(student)["distill"]
