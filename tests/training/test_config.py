from __future__ import annotations

from pathlib import Path

import pytest

from lstcloud.errors import ConfigError
from lstcloud.training import TrainConfig, load_config

CONFIGS = Path(__file__).resolve().parents[2] / "training" / "configs"


@pytest.mark.parametrize("path", sorted(CONFIGS.glob("*.yaml")), ids=lambda p: p.stem)
def test_shipped_configs_are_valid(path: Path) -> None:
    config = load_config(path)
    assert config.name == path.stem
    assert config.data.patch_1km % 8 == 0
    assert (config.method == "scale-consistency") == (config.loss == "sc-unet")


def test_required_presets_exist() -> None:
    names = {p.stem for p in CONFIGS.glob("*.yaml")}
    assert {"sif-cnn-sr1", "sif-cnn-sr2", "sc-unet"} <= names


def test_unknown_field_is_named(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\noptim:\n  lr: 0.1\n  batchsize: 4\n")
    with pytest.raises(ConfigError) as info:
        load_config(bad)
    assert "optim.batchsize" in str(info.value)
    assert str(bad) in str(info.value)


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("name: x\ndata: {patch_1km: 30}\n", "data.patch_1km"),
        ("name: x\nloss: sif-cnn-sr9\n", "sif-cnn-sr9"),
        ("name: x\noptim: {lr: -1}\n", "optim.lr"),
        ("name: x\nnetwork: {width: 3}\n", "network"),
        ("name: x\ndata: {start: 2020-01-05, end: 2020-01-01}\n", "before start"),
        ("data: {}\n", "name"),
        ("- just a list\n", "mapping"),
    ],
)
def test_invalid_values_are_reported(tmp_path: Path, text: str, field: str) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(text)
    with pytest.raises(ConfigError, match=r"invalid training config|mapping") as info:
        load_config(bad)
    assert field in str(info.value)


def test_missing_file_and_bad_yaml(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "nope.yaml")
    broken = tmp_path / "broken.yaml"
    broken.write_text("name: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(broken)


def test_overrides_and_relative_data_path(tmp_path: Path) -> None:
    (tmp_path / "pairs").mkdir()
    cfg = tmp_path / "c.yaml"
    cfg.write_text("name: x\ndata: {path: pairs}\n")
    config = load_config(cfg, **{"optim.max_steps": 7})
    assert config.optim.max_steps == 7
    assert Path(config.data.path) == (tmp_path / "pairs").resolve()
    with pytest.raises(ConfigError, match=r"optim\.max_steps"):
        config.with_updates(**{"optim.max_steps": 0})
    assert isinstance(config, TrainConfig)
