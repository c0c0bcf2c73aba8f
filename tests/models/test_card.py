"""The canonical weights hash of model cards: stable across saves, sensitive to the tensors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from lstcloud.errors import ConfigError
from lstcloud.models import CNNModel, load_model, save_model
from lstcloud.models.card import (
    WEIGHTS_HASH,
    sha256_file,
    sha256_tensors,
    sha256_weights,
)

from .conftest import NORM, random_network


def _state() -> dict[str, torch.Tensor]:
    gen = torch.Generator().manual_seed(0)
    return {
        "b.weight": torch.randn(3, 2, generator=gen),
        "a.count": torch.tensor(7, dtype=torch.int64),
        "c.half": torch.randn(4, generator=gen).to(torch.bfloat16),
    }


def test_hash_ignores_file_layout(tmp_path: Path) -> None:
    state = _state()
    first, second = tmp_path / "1.safetensors", tmp_path / "2.safetensors"
    save_file(state, str(first), metadata={"format": "pt", "architecture": "x"})
    reordered = {k: state[k] for k in reversed(list(state))}
    save_file(reordered, str(second), metadata={"architecture": "x", "format": "pt", "z": "1"})
    assert sha256_file(first) != sha256_file(second)  # different header bytes ...
    assert sha256_weights(first) == sha256_weights(second) == sha256_tensors(state)  # same data


@pytest.mark.parametrize("change", ["value", "dtype", "shape", "name", "extra"])
def test_hash_sees_every_tensor_property(change: str) -> None:
    state = _state()
    reference = sha256_tensors(state)
    if change == "value":
        bits = state["b.weight"].view(torch.int32)
        bits[1, 1] ^= 1  # one flipped mantissa bit
    elif change == "dtype":
        state["a.count"] = state["a.count"].to(torch.int32)
    elif change == "shape":
        state["b.weight"] = state["b.weight"].reshape(2, 3)
    elif change == "name":
        state["b.weights"] = state.pop("b.weight")
    else:
        state["d"] = torch.zeros(0)
    assert sha256_tensors(state) != reference


def test_identical_saves_give_identical_cards(tmp_path: Path) -> None:
    model = CNNModel(random_network(5), NORM, name="m", receptive_field_px=88, device="cpu")
    cards = [json.loads((save_model(tmp_path / n, model) / "model.json").read_text())
             for n in ("a", "b")]
    assert cards[0]["sha256"] == cards[1]["sha256"] and cards[0]["sha256_kind"] == WEIGHTS_HASH


def test_legacy_file_hash_cards_still_verify(tmp_path: Path) -> None:
    model = CNNModel(random_network(5), NORM, name="m", receptive_field_px=88, device="cpu")
    folder = save_model(tmp_path / "m", model)
    card = json.loads((folder / "model.json").read_text())
    card.pop("sha256_kind")
    card["sha256"] = sha256_file(folder / "model.safetensors")
    (folder / "model.json").write_text(json.dumps(card))
    assert load_model(folder, device="cpu").card["sha256"] == card["sha256"]
    card["sha256"] = sha256_weights(folder / "model.safetensors")  # the wrong kind of hash
    (folder / "model.json").write_text(json.dumps(card))
    with pytest.raises(ConfigError, match=r"SHA-256 \(file\)"):
        load_model(folder)
