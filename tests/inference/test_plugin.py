"""The worker plugin registry: keys identify the model, unknown keys fail clearly."""

from __future__ import annotations

import pytest

from lstcloud.errors import LstcloudError
from lstcloud.inference.plugin import ModelPlugin, get_model, install_model, model_key
from tests.inference.standin import FailingStandInModel, StandInModel


def test_keys_tell_models_apart() -> None:
    a, b = StandInModel(), FailingStandInModel()  # same card, different behaviour
    assert model_key(a, "cpu") != model_key(b, "cpu")
    assert model_key(a, "cpu") == model_key(StandInModel(), "cpu")
    assert model_key(a, "cpu") != model_key(a, "cuda")
    assert model_key("sif-cnn-sr1", "cpu", fingerprint="1") != model_key(
        "sif-cnn-sr1", "cpu", fingerprint="2")
    plugin = ModelPlugin("sif-cnn-sr1", device="cpu", fingerprint="1")
    assert plugin.name == plugin.key == model_key("sif-cnn-sr1", "cpu", fingerprint="1")


def test_registry_lookup() -> None:
    model = StandInModel()
    install_model("lstcloud-model-test", model)
    assert get_model("lstcloud-model-test") is model
    with pytest.raises(LstcloudError, match="not loaded in this worker"):
        get_model("lstcloud-model-missing")
