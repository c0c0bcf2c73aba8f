"""load_model names, folders and cards (schema, baseline folders, shipped models)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import lstcloud
from lstcloud.errors import ConfigError
from lstcloud.models import (
    BASELINES,
    SHIPPED_MODELS,
    SuperResolver,
    TsHARPWindowModel,
    available_models,
    load_model,
)
from lstcloud.models.card import read_card, validate_card, write_card
from lstcloud.models.registry import shipped_models_dir

from .conftest import scene


def test_unknown_name_lists_the_choices() -> None:
    with pytest.raises(ConfigError, match="bicubic"):
        load_model("no-such-model")
    assert set(BASELINES) <= set(available_models())


def test_every_baseline_is_a_superresolver_with_a_valid_card() -> None:
    for name in BASELINES:
        model = lstcloud.load_model(name)
        assert isinstance(model, SuperResolver)
        validate_card(model.card)
        assert model.card["parameters"] == 0 and model.card["name"] == name


def test_card_schema_names_the_problem(tmp_path: Path) -> None:
    card = load_model("bicubic").card
    bad = dict(card)
    del bad["receptive_field_px"]
    with pytest.raises(ConfigError, match="receptive_field_px"):
        write_card(tmp_path, bad)
    cnn_like = dict(card, parameters=10)  # a network needs its hash and normalisation
    with pytest.raises(ConfigError, match="invalid model card"):
        validate_card(cnn_like)
    (tmp_path / "model.json").write_text("{not json")
    with pytest.raises(ConfigError, match="not valid JSON"):
        read_card(tmp_path)
    with pytest.raises(ConfigError, match=r"no model\.json"):
        read_card(tmp_path / "missing")


def test_baseline_folder_keeps_its_options(tmp_path: Path) -> None:
    card = TsHARPWindowModel(window_1km=5, min_samples=6).card
    write_card(tmp_path, card)
    model = load_model(tmp_path)
    assert isinstance(model, TsHARPWindowModel)
    assert (model.window_1km, model.min_samples) == (5, 6)
    card["method_options"] = {"window": 3}
    (tmp_path / "model.json").write_text(json.dumps(card))
    with pytest.raises(ConfigError, match="method_options"):
        load_model(tmp_path)


@pytest.mark.parametrize("name", SHIPPED_MODELS)
def test_shipped_models(name: str) -> None:
    folder = shipped_models_dir() / name
    if not (folder / "model.json").is_file():
        with pytest.raises(ConfigError, match="lstcloud train"):
            load_model(name)
        return
    model = load_model(name, device="cpu")
    card = model.card
    assert card["parameters"] % 282_705 == 0 and card["receptive_field_px"] % 8 == 0
    assert card["receptive_field_px"] >= 80
    lst, ndvi = scene(16, 16)
    lst[2, 3] = np.nan
    out = model.predict(lst, ndvi)
    assert out.shape == (64, 64) and np.isnan(out[8:12, 12:16]).all()
    finite = out[np.isfinite(out)]
    assert finite.size == 64 * 64 - 16 and finite.min() > 200 and finite.max() < 360


@pytest.mark.parametrize("name", list(BASELINES))
def test_all_cloud_and_no_ndvi_inputs(name: str) -> None:
    model = load_model(name)
    lst, ndvi = scene(8, 8)
    cloudy = np.full_like(lst, np.nan)
    assert np.isnan(model.predict(cloudy, ndvi)).all()
    out = model.predict(lst, np.full_like(ndvi, np.nan))  # no NDVI anywhere: bicubic
    np.testing.assert_allclose(out, load_model("bicubic").predict(lst, ndvi), atol=1e-4)


def test_file_url_and_card_path(tmp_path: Path) -> None:
    write_card(tmp_path, load_model("tsharp").card)
    assert load_model(f"file://{tmp_path}").name == "tsharp"
    assert load_model(tmp_path / "model.json").name == "tsharp"


def test_a_cwd_folder_named_like_a_builtin_warns(tmp_path: Path, monkeypatch) -> None:
    import warnings

    from lstcloud.errors import LstcloudWarning

    monkeypatch.chdir(tmp_path)
    (tmp_path / "bicubic").mkdir()
    write_card(tmp_path / "bicubic", load_model("tsharp").card)  # a folder holding TsHARP
    with pytest.warns(LstcloudWarning, match=r"built-in baseline.*'\./bicubic'"):
        chosen = load_model("bicubic")
    assert chosen.name == "bicubic"  # the built-in wins, and says so
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert load_model("./bicubic").name == "tsharp"  # the folder, asked for explicitly
        assert load_model(tmp_path / "bicubic").name == "tsharp"
        assert load_model("tsharp").name == "tsharp"  # no folder of that name: no warning
    # a path-like key is never looked up among the shipped models
    shipped = next((n for n in SHIPPED_MODELS if (shipped_models_dir() / n).is_dir()), None)
    if shipped is not None:
        (tmp_path / shipped).mkdir()
        write_card(tmp_path / shipped, load_model("tsharp").card)
        with pytest.warns(LstcloudWarning, match="shipped model"):
            assert load_model(shipped, device="cpu").card["parameters"] % 282_705 == 0
        assert load_model(f"./{shipped}").name == "tsharp"
