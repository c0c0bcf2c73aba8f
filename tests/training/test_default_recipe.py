"""The recipe of the production ensemble: its seed configs and its candidate ensembles."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

from lstcloud.errors import ConfigError
from lstcloud.models import load_model
from lstcloud.models.registry import model_folder, shipped_models_dir
from lstcloud.training.config import load_config
from lstcloud.training.cv import cv_method

ROOT = Path(__file__).resolve().parents[2]
CONFIGS = ROOT / "training" / "configs"


def _script(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, ROOT / "training" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("path", sorted(CONFIGS.glob("*-seed*.yaml")), ids=lambda p: p.stem)
def test_a_seed_config_is_its_base_recipe_with_another_seed(path: Path) -> None:
    seeded = load_config(path)
    base = load_config(CONFIGS / (path.stem.rsplit("-seed", 1)[0] + ".yaml"))
    assert seeded.name == path.stem and seeded.seed == int(path.stem.rsplit("-seed", 1)[1]) > 0
    # the same split as the seed-0 shipped model (its validation_samples), all else the base's
    assert seeded.data.val_samples == ["057", "113", "164", "184"]
    strip = {"name": True, "seed": True, "data": {"val_samples"}}
    assert seeded.model_dump(exclude=strip) == base.model_dump(exclude=strip)


def test_candidate_specs_are_parsed_and_checked() -> None:
    mc = _script("make_candidates")
    name, members, tta, pp = mc.parse_spec("a=sif-cnn-sr2-published,sc-unet:flips:lowpass2")
    assert (name, members, tta) == ("a", ["sif-cnn-sr2-published", "sc-unet"], "flips")
    assert pp == {"consistency_correction": "lowpass-residual", "iterations": 1, "sigma_km": 2.0}
    assert mc.parse_spec("b=sc-unet:none")[3] is None
    assert mc.parse_postprocess("bicubic1") == {"consistency_correction": "bicubic-residual",
                                                "iterations": 1}
    for bad in ("nameless", "a=sc-unet", "a=sc-unet:rot3", "a=sc-unet:flips:gauss2"):
        with pytest.raises(ConfigError):
            mc.parse_spec(bad)


def test_a_written_candidate_carries_its_recipe_to_the_cross_validation(tmp_path: Path) -> None:
    mc = _script("make_candidates")
    name, members, tta, pp = mc.parse_spec("cand=sif-cnn-sr2-published,sc-unet:flips:lowpass2")
    from lstcloud.models.ensemble import save_ensemble

    folder = save_ensemble(tmp_path / name, [model_folder(m) for m in members], tta=tta,
                           name=name, card={"postprocess": pp})
    method = cv_method(name, model_path=folder)
    assert method.tta == "flips" and method.postprocess == pp
    assert [c.name for c in method.members] == members
    assert load_model(folder, device="cpu").receptive_field_px == 88 + 32


def test_model_folder_resolves_names_like_load_model(tmp_path: Path) -> None:
    assert model_folder("sc-unet") == shipped_models_dir() / "sc-unet"
    copy = tmp_path / "mine"
    copy.mkdir()
    (copy / "model.json").write_text((shipped_models_dir() / "sc-unet" / "model.json").read_text())
    assert model_folder(copy) == copy
    for missing in ("no-such-model", tmp_path / "empty"):
        with pytest.raises(ConfigError, match="no model folder"):
            model_folder(missing)
