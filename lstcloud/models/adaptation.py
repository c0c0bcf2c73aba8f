"""Self-supervised test-time adaptation of a network to the scene it super-resolves.

Before it predicts a scene, the network is fine-tuned for a few steps on that scene's own
MODIS inputs with **its own training objective** (:class:`~lstcloud.models.objective.
TrainingObjective`): SIF-CNN-SR's scale-invariance-free loss (1 km consistency + NDVI texture
at 250 m) or SC-UNet's 4 km -> 1 km MSE. No reference is involved: only the LST 1 km and the
NDVI 250 m that the prediction itself reads. The steps are deterministic (the seed fixes the
order of the flips/rotations and the crops), BatchNorm statistics stay frozen, and the shipped
weights are never modified (the adapted network is a copy).

Scope. :meth:`EnsembleModel.predict <lstcloud.models.ensemble.EnsembleModel.predict>` adapts
to the scene it is given; the cube pipeline adapts once per day to crops of that day's
input (:mod:`lstcloud.inference.adapt`) and maps the adapted model over the chunks, so chunked
output still equals whole-day output for the adapted weights.
"""

from __future__ import annotations

import copy
import hashlib
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import torch

from lstcloud.errors import ConfigError
from lstcloud.models.base import FACTOR
from lstcloud.models.cnn import CNNModel
from lstcloud.models.losses import LossConfig
from lstcloud.models.objective import TrainingObjective

__all__ = ["Adaptation", "Scene", "adapt_cnn"]

Scene = tuple[np.ndarray | torch.Tensor, np.ndarray | torch.Tensor]

#: The 8 flips/rotations a step draws from: ``(rot90 count, flip left-right)``.
_D4 = tuple((k, f) for k in range(4) for f in (False, True))


@dataclass(frozen=True)
class Adaptation:
    """How a model adapts to a scene before predicting it (the card's ``adaptation``).

    Attributes
    ----------
    steps
        Optimiser steps (0 = off).
    lr
        Adam learning rate.
    members
        Names of the ensemble members that adapt (empty: all of them).
    seed
        Seed of the flips/rotations and crops drawn at each step.
    crop_1km
        Scenes larger than this (1 km pixels, either side) adapt on random square crops of
        this size, one per step; smaller scenes adapt whole.
    """

    steps: int = 0
    lr: float = 5e-4
    members: tuple[str, ...] = field(default_factory=tuple)
    seed: int = 0
    crop_1km: int = 64

    def __post_init__(self) -> None:
        if self.steps < 0:
            raise ConfigError(f"adaptation.steps must be >= 0, got {self.steps}")
        if not self.lr > 0:
            raise ConfigError(f"adaptation.lr must be > 0, got {self.lr}")
        if self.crop_1km < 8:
            raise ConfigError(f"adaptation.crop_1km must be >= 8, got {self.crop_1km}")

    @property
    def enabled(self) -> bool:
        """Whether any step runs."""
        return self.steps > 0

    def applies_to(self, member: str) -> bool:
        """Whether the member named ``member`` adapts."""
        return self.enabled and (not self.members or member in self.members)

    def to_dict(self) -> dict[str, Any]:
        """The card form (JSON)."""
        out = asdict(self)
        out["members"] = list(self.members)
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any] | Adaptation | None) -> Adaptation:
        """From the card form; ``None`` is off. Unknown fields are refused."""
        if data is None:
            return cls()
        if isinstance(data, Adaptation):
            return data
        known = {"steps", "lr", "members", "seed", "crop_1km"}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(f"adaptation: unknown fields {unknown}")
        values = dict(data)
        values["members"] = tuple(values.get("members") or ())
        return cls(**values)


def _transform(x: torch.Tensor, k: int, flip: bool) -> torch.Tensor:
    x = torch.rot90(x, k, dims=(-2, -1)) if k else x
    return (torch.flip(x, dims=(-1,)) if flip else x).contiguous()


def _crop(
    lst: torch.Tensor, ndvi: torch.Tensor, size: int, gen: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    h, w = lst.shape[-2:]
    if h <= size and w <= size:
        return lst, ndvi
    ch, cw = min(size, h), min(size, w)
    y = int(torch.randint(h - ch + 1, (1,), generator=gen))
    x = int(torch.randint(w - cw + 1, (1,), generator=gen))
    return (lst[..., y : y + ch, x : x + cw],
            ndvi[..., y * FACTOR : (y + ch) * FACTOR, x * FACTOR : (x + cw) * FACTOR])


def _as_pair(scene: Scene) -> tuple[torch.Tensor, torch.Tensor]:
    lst, ndvi = (np.asarray(a, np.float32) for a in scene)
    return (torch.from_numpy(lst).reshape(1, 1, *lst.shape[-2:]),
            torch.from_numpy(ndvi).reshape(1, 1, *ndvi.shape[-2:]))


def adapt_cnn(
    model: CNNModel,
    lst_1km: np.ndarray | torch.Tensor | None = None,
    ndvi_250m: np.ndarray | torch.Tensor | None = None,
    adaptation: Adaptation | None = None,
    *,
    scenes: list[Scene] | None = None,
) -> CNNModel:
    """A copy of ``model`` fine-tuned on the scene ``(lst_1km, ndvi_250m)`` (or on ``scenes``).

    Parameters
    ----------
    model
        A CNN model whose card records its training ``method`` and ``loss``.
    lst_1km, ndvi_250m
        The scene (K; NDVI on the 4x finer grid; NaN allowed in both), 2-D or ``(1, 1, h, w)``.
    adaptation
        Steps, learning rate, seed, crop size.
    scenes
        Several scenes instead (e.g. crops of one day): each step draws one of them.

    Returns
    -------
    CNNModel
        The adapted copy (the same card plus ``adapted``: the recipe and a digest of the
        scenes); ``model`` itself when ``adaptation`` is off or no scene has a valid LST pixel.
    """
    adaptation = adaptation or Adaptation()
    pairs = [_as_pair(sc) for sc in (scenes if scenes is not None else [(lst_1km, ndvi_250m)])]
    pairs = [(lt, nt) for lt, nt in pairs if bool(torch.isfinite(lt).any())]
    if not adaptation.enabled or not pairs:
        return model
    card = model.card
    method, loss = card.get("method"), card.get("loss")
    if not method or not loss:
        raise ConfigError(f"model {model.name!r}: its card records no training method/loss to "
                          "adapt with")
    loss_cfg = LossConfig(**{k: v for k, v in loss.items() if k != "preset"})
    objective = TrainingObjective(str(method), loss_cfg, model.normalization)
    net = copy.deepcopy(model.network).to(model.device).eval()  # BatchNorm statistics frozen
    optimiser = torch.optim.Adam(net.parameters(), lr=adaptation.lr)
    gen = torch.Generator().manual_seed(adaptation.seed)
    for _ in range(adaptation.steps):
        lst, ndvi = pairs[int(torch.randint(len(pairs), (1,), generator=gen))]
        k, flip = _D4[int(torch.randint(len(_D4), (1,), generator=gen))]
        lt, nt = _crop(lst, ndvi, adaptation.crop_1km, gen)
        batch = {"lst_1km": _transform(lt, k, flip).to(model.device),
                 "ndvi_250m": _transform(nt, k, flip).to(model.device)}
        with torch.enable_grad():
            loss_value, _ = objective(net, batch)
            optimiser.zero_grad(set_to_none=True)
            loss_value.backward()
        optimiser.step()
    digest = hashlib.sha256(b"".join(t.numpy().tobytes() for p in pairs for t in p)).hexdigest()
    adapted_card = {**card, "adapted": {**adaptation.to_dict(), "scenes": len(pairs),
                                        "scenes_sha256": digest[:16]}}
    return CNNModel(net.eval(), model.normalization, name=model.name, card=adapted_card,
                    device=model.device)
