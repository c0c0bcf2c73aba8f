"""Ensembles of super-resolvers with test-time augmentation (TTA), and their spread.

An ensemble folder holds ``model.json`` (``architecture: "ensemble"``) and one ordinary model
folder per member under ``members/NAME/``. The prediction is the mean, over the members and
the TTA transforms (the dihedral group of the square: ``d4`` = 8 flips/rotations, ``flips`` =
identity, horizontal, vertical and both flips, ``none``), of each member's prediction of the
transformed scene mapped back; the **spread** is the standard deviation of those predictions
(K, per 250 m pixel), an uncertainty proxy (see ``docs/evaluation.md`` for how well it ranks
the real error against ASTER).

Chunk locality: every pass works on the window padded (replicate, at its end) to an even
number of 1 km pixels, so the network's pooling grid (8 px at 250 m) maps onto itself under
every flip and rotation; the halo is the largest member halo (a flip or rotation does not widen
it). Chunked prediction therefore equals whole-scene prediction (tested).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.nn import functional as nnf

from lstcloud import ops
from lstcloud.errors import ConfigError
from lstcloud.models.adaptation import Adaptation, adapt_cnn
from lstcloud.models.base import FACTOR, SuperResolver, check_pair, check_pair_tensor
from lstcloud.models.card import CARD_FILE, read_card, software_version, utc_now, write_card
from lstcloud.models.postprocess import Postprocess, apply_postprocess
from lstcloud.models.uncertainty import UncertaintyCapable

__all__ = [
    "ENSEMBLE", "TTA_MODES", "EnsembleModel", "combine_models", "load_ensemble", "save_ensemble",
]

#: ``architecture`` of an ensemble card.
ENSEMBLE = "ensemble"
#: TTA modes and their transforms as ``(rot90 count, flip left-right)``.
TTA_MODES: dict[str, tuple[tuple[int, bool], ...]] = {
    "none": ((0, False),),
    "flips": ((0, False), (0, True), (2, True), (2, False)),
    "d4": tuple((k, f) for k in range(4) for f in (False, True)),
}
MEMBERS_DIR = "members"


def _forward(x: torch.Tensor, k: int, flip: bool) -> torch.Tensor:
    x = torch.rot90(x, k, dims=(-2, -1)) if k else x
    return torch.flip(x, dims=(-1,)) if flip else x


def _inverse(x: torch.Tensor, k: int, flip: bool) -> torch.Tensor:
    x = torch.flip(x, dims=(-1,)) if flip else x
    return torch.rot90(x, -k, dims=(-2, -1)) if k else x


class EnsembleModel(UncertaintyCapable):
    """The mean of several super-resolvers over TTA transforms (a :class:`SuperResolver`).

    Parameters
    ----------
    members
        The member models (their ``predict_tensor`` is called on every transform).
    tta
        ``"d4"``, ``"flips"`` or ``"none"`` (see :data:`TTA_MODES`).
    name
        Registry name.
    card
        Card fields (``members``, ``tta`` and the halo are derived).
    postprocess
        Post-processing of the mean (default: the card's).
    adaptation
        Self-supervised test-time adaptation of the members to each scene
        (:mod:`lstcloud.models.adaptation`; default: the card's ``adaptation``, else off).
    """

    def __init__(
        self,
        members: Sequence[SuperResolver],
        *,
        tta: str = "d4",
        name: str = "ensemble",
        card: dict[str, Any] | None = None,
        postprocess: Postprocess | dict[str, Any] | None = None,
        adaptation: Adaptation | dict[str, Any] | None = None,
    ) -> None:
        if not members:
            raise ConfigError("an ensemble needs at least one member")
        if tta not in TTA_MODES:
            raise ConfigError(f"tta {tta!r} unknown; choose from {sorted(TTA_MODES)}")
        self.members = list(members)
        self.tta = tta
        if postprocess is None and card is not None:
            postprocess = card.get("postprocess")
        self.postprocess = Postprocess.from_dict(postprocess)
        if adaptation is None and card is not None:
            adaptation = card.get("adaptation")
        self.adaptation = Adaptation.from_dict(adaptation)
        unknown = sorted(set(self.adaptation.members) - {m.name for m in self.members})
        if unknown:
            raise ConfigError(f"adaptation.members {unknown} are not members of {name!r}")
        self.name = name
        self._card = dict(card or {})

    @property
    def receptive_field_px(self) -> int:
        """Halo (250 m px): the largest member halo (a multiple of 8)."""
        rf = max(int(m.receptive_field_px) for m in self.members)
        return -(-(rf + self.postprocess.reach_px(factor=FACTOR)) // 8) * 8

    @property
    def device(self) -> torch.device:
        """The device of the first member (all members are moved together by :meth:`to`)."""
        return torch.device(getattr(self.members[0], "device", "cpu"))

    @property
    def passes(self) -> int:
        """Network passes per prediction: members x TTA transforms (the cost factor)."""
        return len(self.members) * len(TTA_MODES[self.tta])

    @property
    def card(self) -> dict[str, Any]:
        """The ``model.json`` content of the ensemble."""
        members = [m.card for m in self.members]
        return {
            "card_version": 1,
            "created": utc_now(),
            "software_version": software_version(),
            "notes": [],
            "normalization": None,
            "loss": None,
            "training_data": None,
            "validation": None,
            "sha256": None,
            **self._card,
            "name": self.name,
            "architecture": ENSEMBLE,
            "members": [m["name"] for m in members],
            "tta": self.tta,
            "passes": self.passes,
            "postprocess": self.postprocess.to_dict() if self.postprocess.enabled else None,
            "parameters": sum(int(m.get("parameters", 0)) for m in members),
            "receptive_field_px": self.receptive_field_px,
            "alignment_px": 8,
            "chunk_local": all(bool(m.get("chunk_local", True)) for m in members),
            # only when on: an ensemble without adaptation keeps the identity it always had
            **({"adaptation": self.adaptation.to_dict()} if self.adaptation.enabled else {}),
        }

    def to(self, device: str | torch.device) -> EnsembleModel:
        """Move every member; returns ``self``."""
        for m in self.members:
            m.to(device)
        return self

    def adapted_to(
        self,
        lst_1km: np.ndarray | None = None,
        ndvi_250m: np.ndarray | None = None,
        *,
        scenes: list[tuple[np.ndarray, np.ndarray]] | None = None,
    ) -> EnsembleModel:
        """This ensemble with its adapting members fine-tuned on the scene (or on ``scenes``,
        e.g. crops of one day); ``self`` when the adaptation is off. The result predicts
        without adapting again."""
        if not self.adaptation.enabled:
            return self
        members = [
            adapt_cnn(m, lst_1km, ndvi_250m, self.adaptation,  # type: ignore[arg-type]
                      scenes=scenes)
            if self.adaptation.applies_to(m.name) else m
            for m in self.members
        ]
        card = {k: v for k, v in self._card.items() if k != "adaptation"}
        # what the members adapted to: part of the adapted model's identity (a new model)
        card["adapted"] = {m.name: m.card["adapted"] for m in members if "adapted" in m.card}
        return EnsembleModel(members, tta=self.tta, name=self.name, card=card,
                             postprocess=self.postprocess, adaptation=Adaptation())

    def _padded_passes(
        self, lst_1km: torch.Tensor, ndvi_250m: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Every pass on the window padded to an even 1 km size: ``(P, N, 1, H, W)`` and the
        padded LST."""
        check_pair_tensor(lst_1km, ndvi_250m)
        h, w = lst_1km.shape[-2:]
        ph, pw = h % 2, w % 2
        lst, ndvi = lst_1km.float(), ndvi_250m.float()
        if ph or pw:
            lst = nnf.pad(lst, (0, pw, 0, ph), mode="replicate")
            ndvi = nnf.pad(ndvi, (0, pw * FACTOR, 0, ph * FACTOR), mode="replicate")
        outs = []
        for member in self.members:
            for k, flip in TTA_MODES[self.tta]:
                pred = member.predict_tensor(_forward(lst, k, flip), _forward(ndvi, k, flip))
                outs.append(_inverse(pred.float().cpu(), k, flip))
        return torch.stack(outs), lst.cpu()

    def _mean(self, passes: torch.Tensor, lst: torch.Tensor) -> torch.Tensor:
        """The mean of the passes, then the post-processing (the 1 km consistency correction
        against the locally filled LST; NaN under a NaN 1 km pixel)."""
        mean = passes.mean(dim=0)
        if not self.postprocess.enabled:
            return mean
        fill = float(getattr(getattr(self.members[0], "normalization", None), "lst_mean", 290.0))
        filled = ops.fill_nan_local(lst, radius=2, fill=fill)
        base = ops.upsample_bicubic(filled, factor=FACTOR)
        out = apply_postprocess(self.postprocess, torch.where(torch.isfinite(mean), mean, base),
                                filled, valid=torch.isfinite(lst), factor=FACTOR)
        return torch.where(torch.isfinite(mean), out, torch.full_like(out, torch.nan))

    def predict_passes(self, lst_1km: torch.Tensor, ndvi_250m: torch.Tensor) -> torch.Tensor:
        """Every pass's prediction ``(P, N, 1, 4h, 4w)`` K (P = :attr:`passes`), before the
        ensemble's post-processing."""
        h, w = lst_1km.shape[-2:]
        passes, _ = self._padded_passes(lst_1km, ndvi_250m)
        return passes[..., : h * FACTOR, : w * FACTOR]

    def predict_tensor(self, lst_1km: torch.Tensor, ndvi_250m: torch.Tensor) -> torch.Tensor:
        """``(N, 1, h, w)`` K and ``(N, 1, 4h, 4w)`` NDVI -> the ensemble mean, K."""
        h, w = lst_1km.shape[-2:]
        passes, lst = self._padded_passes(lst_1km, ndvi_250m)
        return self._mean(passes, lst)[..., : h * FACTOR, : w * FACTOR]

    def predict_tensor_with_spread(
        self, lst_1km: torch.Tensor, ndvi_250m: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """:meth:`predict_tensor` and the spread of the passes (``(N, 1, 4h, 4w)`` K each)."""
        h, w = lst_1km.shape[-2:]
        passes, lst = self._padded_passes(lst_1km, ndvi_250m)
        crop = (..., slice(0, h * FACTOR), slice(0, w * FACTOR))
        return self._mean(passes, lst)[crop], passes.std(dim=0, correction=0)[crop]

    def predict_with_spread(
        self, lst_1km: np.ndarray, ndvi_250m: np.ndarray, *, tile_1km: int = 128
    ) -> tuple[np.ndarray, np.ndarray]:
        """The prediction and its spread (standard deviation over the passes), both K.

        With an adaptation, the members first adapt to the whole scene (:meth:`adapted_to`).

        Returns
        -------
        (numpy.ndarray, numpy.ndarray)
            ``(4h, 4w)`` float32 mean and spread; NaN where the 1 km LST is NaN.
        """
        if self.adaptation.enabled:
            return self.adapted_to(lst_1km, ndvi_250m).predict_with_spread(
                lst_1km, ndvi_250m, tile_1km=tile_1km)

        def both(lt: torch.Tensor, nt: torch.Tensor) -> list[torch.Tensor]:
            return list(self.predict_tensor_with_spread(lt, nt))

        mean, spread = predict_chunked(
            both, self.receptive_field_px, lst_1km, ndvi_250m, tile_1km=tile_1km, outputs=2
        )
        return mean, spread

    def predict(
        self, lst_1km: np.ndarray, ndvi_250m: np.ndarray, *, tile_1km: int = 128
    ) -> np.ndarray:
        """Super-resolve one scene: ``(h, w)`` K and ``(4h, 4w)`` NDVI -> ``(4h, 4w)`` K.

        With an adaptation, the members first adapt to the whole scene (:meth:`adapted_to`),
        then predict it window by window (so chunked output equals whole-scene output).
        """
        if self.adaptation.enabled:
            return self.adapted_to(lst_1km, ndvi_250m).predict(lst_1km, ndvi_250m,
                                                                tile_1km=tile_1km)

        def mean(lt: torch.Tensor, nt: torch.Tensor) -> list[torch.Tensor]:
            return [self.predict_tensor(lt, nt)]

        (out,) = predict_chunked(
            mean, self.receptive_field_px, lst_1km, ndvi_250m, tile_1km=tile_1km, outputs=1
        )
        return out

    def __repr__(self) -> str:
        names = [m.name for m in self.members]
        return f"EnsembleModel(name={self.name!r}, members={names}, tta={self.tta!r})"


def predict_chunked(
    fn: Callable[[torch.Tensor, torch.Tensor], list[torch.Tensor]],
    halo_250m: int,
    lst_1km: np.ndarray,
    ndvi_250m: np.ndarray,
    *,
    tile_1km: int = 128,
    outputs: int = 1,
) -> tuple[np.ndarray, ...]:
    """Apply ``fn`` (tensors in, list of ``outputs`` tensors out) window by window.

    Windows of ``tile_1km`` 1 km pixels plus a halo of ``halo_250m // 4`` 1 km pixels; window
    origins stay on the even 1 km grid when ``tile_1km`` and the halo are even.
    """
    lst, ndvi = check_pair(lst_1km, ndvi_250m)
    if tile_1km < 2 or tile_1km % 2:
        raise ConfigError(f"tile_1km must be an even number >= 2, got {tile_1km}")
    h, w = lst.shape
    halo = -(-halo_250m // FACTOR)
    halo += halo % 2
    outs = [np.full((h * FACTOR, w * FACTOR), np.nan, np.float32) for _ in range(outputs)]
    for y0 in range(0, h, tile_1km):
        for x0 in range(0, w, tile_1km):
            y1, x1 = min(y0 + tile_1km, h), min(x0 + tile_1km, w)
            wy0, wx0 = max(y0 - halo, 0), max(x0 - halo, 0)
            wy1, wx1 = min(y1 + halo, h), min(x1 + halo, w)
            lt = torch.from_numpy(np.ascontiguousarray(lst[wy0:wy1, wx0:wx1]))[None, None]
            nt = torch.from_numpy(
                np.ascontiguousarray(ndvi[wy0 * FACTOR : wy1 * FACTOR, wx0 * FACTOR : wx1 * FACTOR])
            )[None, None]
            results = fn(lt, nt)
            oy, ox = (y0 - wy0) * FACTOR, (x0 - wx0) * FACTOR
            for out, res in zip(outs, results, strict=True):
                arr = res[0, 0].float().cpu().numpy()
                out[y0 * FACTOR : y1 * FACTOR, x0 * FACTOR : x1 * FACTOR] = arr[
                    oy : oy + (y1 - y0) * FACTOR, ox : ox + (x1 - x0) * FACTOR
                ]
    return tuple(outs)


def combine_models(
    models: Sequence[Any],
    *,
    name: str,
    tta: str = "none",
    postprocess: dict[str, Any] | None = None,
    adaptation: dict[str, Any] | None = None,
) -> Any:
    """The model a recipe makes of its members: the one member itself when it is alone and
    nothing is applied around it, else their :class:`EnsembleModel` (mean over ``tta``, then
    ``postprocess``; ``adaptation`` per scene)."""
    if len(models) > 1 or tta != "none" or postprocess or adaptation:
        return EnsembleModel(list(models), tta=tta, name=name, postprocess=postprocess,
                             adaptation=adaptation)
    return models[0]


def _digest(cards: Sequence[dict[str, Any]], tta: str) -> str:
    text = "|".join(f"{c['name']}:{c.get('sha256')}" for c in cards) + f"|tta={tta}"
    # (the post-processing is card-controlled, like a CNN card's; it is not part of the hash)
    return hashlib.sha256(text.encode()).hexdigest()


def save_ensemble(
    folder: str | Path,
    member_folders: Sequence[str | Path],
    *,
    tta: str,
    name: str,
    card: dict[str, Any] | None = None,
) -> Path:
    """Write an ensemble folder: copies of the member folders' ``model.json`` and
    ``model.safetensors`` under ``members/NAME/`` and the ensemble card.

    ``sha256`` of the ensemble is the SHA-256 of its members' names and weight hashes and
    the TTA mode (``sha256_kind: ensemble-members-v1``).
    """
    import shutil

    folder = Path(folder)
    (folder / MEMBERS_DIR).mkdir(parents=True, exist_ok=True)
    cards = []
    for src in member_folders:
        member_card = read_card(src)
        dest = folder / MEMBERS_DIR / member_card["name"]
        dest.mkdir(parents=True, exist_ok=True)
        for fname in (CARD_FILE, "model.safetensors"):
            if (Path(src) / fname).is_file():
                shutil.copyfile(Path(src) / fname, dest / fname)
        cards.append(member_card)
    model = load_ensemble_members(folder, [c["name"] for c in cards], tta=tta, name=name,
                                  card=card, device="cpu")
    out = model.card
    out["sha256"] = _digest(cards, tta)
    out["sha256_kind"] = "ensemble-members-v1"
    write_card(folder, out)
    return folder


def load_ensemble_members(
    folder: str | Path,
    names: Sequence[str],
    *,
    tta: str,
    name: str,
    card: dict[str, Any] | None,
    device: str | torch.device | None,
) -> EnsembleModel:
    """An :class:`EnsembleModel` over ``folder/members/NAME`` for each name."""
    from lstcloud.models.registry import load_model

    members = []
    for member in names:
        path = Path(folder) / MEMBERS_DIR / member
        if not (path / CARD_FILE).is_file():
            raise ConfigError(f"ensemble {folder}: member folder {path} is missing")
        members.append(load_model(path, device=device))
    return EnsembleModel(members, tta=tta, name=name, card=card)


def load_ensemble(folder: str | Path, *, device: str | torch.device | None = None) -> EnsembleModel:
    """Load an ensemble folder (``architecture: "ensemble"``); checks the members' hashes."""
    card = read_card(folder)
    if card.get("architecture") != ENSEMBLE:
        kind = card.get("architecture")
        raise ConfigError(f"{folder}: architecture {kind!r} is not {ENSEMBLE!r}")
    names = card.get("members") or []
    tta = str(card.get("tta", "none"))
    model = load_ensemble_members(folder, names, tta=tta, name=card["name"], card=card,
                                  device=device)
    digest = _digest([m.card for m in model.members], tta)
    if card.get("sha256") != digest:
        raise ConfigError(f"{folder}: the members do not match the ensemble card's sha256")
    return model
