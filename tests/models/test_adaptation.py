"""Test-time adaptation: MODIS only, deterministic, lowers its own loss, chunk-local."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

import lstcloud
from lstcloud.errors import ConfigError
from lstcloud.evaluate.datasets import fill_nearest, iter_dev_samples
from lstcloud.inference.identity import model_identity
from lstcloud.models.adaptation import Adaptation, adapt_cnn
from lstcloud.models.ensemble import EnsembleModel
from lstcloud.models.losses import LossConfig
from lstcloud.models.objective import TrainingObjective


@pytest.fixture(scope="module")
def scene(aster_dev: Path) -> tuple[np.ndarray, np.ndarray]:
    """The MODIS inputs (LST 1 km, NDVI 250 m) of one real development triplet (a 32 km crop;
    its ASTER file is never opened)."""
    sample = next(iter(iter_dev_samples(aster_dev, names=["020"], with_aster=False)))
    return sample.lst_1km.data[:32, :32].copy(), fill_nearest(sample.ndvi_250m.data)[:128, :128]


def _own_loss(model, lst: np.ndarray, ndvi: np.ndarray) -> float:
    """The model's training loss on the scene, averaged over the 8 flips/rotations."""
    card = model.card
    cfg = LossConfig(**{k: v for k, v in card["loss"].items() if k != "preset"})
    objective = TrainingObjective(card["method"], cfg, model.normalization)
    losses = []
    for k in range(4):
        for flip in (False, True):
            lt, nt = torch.rot90(torch.from_numpy(lst), k), torch.rot90(torch.from_numpy(ndvi), k)
            if flip:
                lt, nt = lt.flip(-1), nt.flip(-1)
            batch = {"lst_1km": lt.contiguous()[None, None],
                     "ndvi_250m": nt.contiguous()[None, None]}
            with torch.no_grad():
                losses.append(float(objective(model.network.eval(), batch)[0]))
    return float(np.mean(losses))


def test_card_form_round_trips_and_refuses_bad_fields() -> None:
    a = Adaptation(steps=30, lr=1e-3, members=("sif-cnn-sr2-published",), seed=3)
    assert Adaptation.from_dict(a.to_dict()) == a
    assert not Adaptation.from_dict(None).enabled
    with pytest.raises(ConfigError, match="unknown fields"):
        Adaptation.from_dict({"steps": 3, "epochs": 2})
    with pytest.raises(ConfigError, match="steps"):
        Adaptation(steps=-1)


def test_adaptation_lowers_the_own_loss_deterministically_and_keeps_the_original(scene) -> None:
    lst, ndvi = scene
    model = lstcloud.load_model("sif-cnn-sr2-published", device="cpu")
    before = {k: v.clone() for k, v in model.network.state_dict().items()}
    recipe = Adaptation(steps=50, lr=1e-4)
    one = adapt_cnn(model, lst, ndvi, recipe)
    two = adapt_cnn(model, lst, ndvi, recipe)
    for k, v in model.network.state_dict().items():  # the shipped weights are untouched
        assert torch.equal(v, before[k]), k
    assert any(not torch.equal(v, before[k]) for k, v in one.network.state_dict().items())
    for k, v in one.network.state_dict().items():
        assert torch.equal(v, two.network.state_dict()[k]), k
    assert _own_loss(one, lst, ndvi) < _own_loss(model, lst, ndvi)
    assert one.card["adapted"]["steps"] == 50 and one.card["adapted"]["scenes"] == 1
    assert adapt_cnn(model, lst, ndvi, Adaptation(steps=0)) is model
    cloudy = np.full_like(lst, np.nan)
    assert adapt_cnn(model, cloudy, ndvi, recipe) is model


def test_adaptive_ensemble_is_chunk_local_and_adapts_only_named_members(scene) -> None:
    lst, ndvi = scene
    members = [lstcloud.load_model(n, device="cpu") for n in ("sc-unet", "sif-cnn-sr2-published")]
    recipe = Adaptation(steps=8, lr=5e-4, members=("sif-cnn-sr2-published",))
    model = EnsembleModel(members, tta="flips", name="e", adaptation=recipe)
    assert model.card["adaptation"]["members"] == ["sif-cnn-sr2-published"]
    whole = model.predict(lst, ndvi, tile_1km=64)
    chunked = model.predict(lst, ndvi, tile_1km=10)
    np.testing.assert_allclose(chunked, whole, atol=1e-4, equal_nan=True)
    plain = EnsembleModel(members, tta="flips", name="e").predict(lst, ndvi)
    assert np.nanmax(np.abs(whole - plain)) > 1e-3  # the adaptation changed the prediction
    adapted = model.adapted_to(lst, ndvi)
    assert adapted.members[0] is members[0]  # sc-unet is not adapted
    assert "adapted" in adapted.members[1].card and not adapted.adaptation.enabled
    # an adapted model is another model: its identity differs, scene by scene
    other = model.adapted_to(lst[::-1].copy(), ndvi[::-1].copy())
    identities = {model_identity(m.card) for m in (model, adapted, other)}
    assert len(identities) == 3
    with pytest.raises(ConfigError, match="not members"):
        EnsembleModel(members, tta="none", adaptation=Adaptation(steps=1, members=("x",)))
