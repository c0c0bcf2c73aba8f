"""The SIF-CNN super-resolver: network + normalisation + card, saved as safetensors + JSON."""

from __future__ import annotations

import json
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch.nn import functional as nnf

from lstcloud import ops
from lstcloud.errors import ConfigError, LstcloudWarning
from lstcloud.models.base import FACTOR, check_pair, check_pair_tensor, default_device
from lstcloud.models.card import (
    CARD_VERSION,
    WEIGHTS_FILE,
    WEIGHTS_HASH,
    read_card,
    sha256_file,
    sha256_tensors,
    sha256_weights,
    software_version,
    utc_now,
    write_card,
)
from lstcloud.models.fastnet import InferenceNetwork
from lstcloud.models.losses import LossConfig, get_preset
from lstcloud.models.network import ARCHITECTURE, SIFCNN, NetworkConfig, count_parameters
from lstcloud.models.normalization import Normalization
from lstcloud.models.postprocess import Postprocess, apply_postprocess
from lstcloud.models.receptive_field import halo_px, measure_pipeline_receptive_field
from lstcloud.models.uncertainty import UncertaintyCapable

__all__ = [
    "FILL_RADIUS_1KM",
    "CNNModel",
    "load_cnn",
    "measure_model_receptive_field",
    "prepare_inputs",
    "save_model",
    "set_postprocess",
]

#: Radius (1 km pixels) of the local NaN fill of the LST before the bicubic upsampling.
FILL_RADIUS_1KM = 2


def prepare_inputs(
    lst_1km: torch.Tensor,
    ndvi_250m: torch.Tensor,
    normalization: Normalization,
    *,
    factor: int = FACTOR,
) -> torch.Tensor:
    """Build the network input ``(N, 2, f h, f w)`` from LST (K) and NDVI (NaN allowed).

    NaN LST pixels are filled with the mean of the valid LST within :data:`FILL_RADIUS_1KM`
    (chunk-local), then with the normalisation mean; the LST is upsampled bicubically and both
    channels are z-scored; NaN NDVI becomes the normalisation mean (z = 0). Training should use
    this same function so that the network sees what inference gives it.
    """
    check_pair_tensor(lst_1km, ndvi_250m, factor=factor)
    lst = ops.fill_nan_local(lst_1km, radius=FILL_RADIUS_1KM, fill=normalization.lst_mean)
    lst_z = normalization.lst_to_z(ops.upsample_bicubic(lst, factor=factor))
    ndvi_z = normalization.ndvi_to_z(ndvi_250m)
    ndvi_z = torch.where(torch.isfinite(ndvi_z), ndvi_z, torch.zeros_like(ndvi_z))
    return torch.cat([lst_z, ndvi_z], dim=1)


class CNNModel(UncertaintyCapable):
    """A :class:`~lstcloud.models.base.SuperResolver` around :class:`SIFCNN`.

    Parameters
    ----------
    network : SIFCNN
        The network (put in eval mode).
    normalization : Normalization
        Input/output statistics.
    name : str
        Model name (``"sif-cnn-sr1"`` ...).
    loss : LossConfig, str or mapping, optional
        How it was trained (a preset name, a config, or the card's ``loss`` dict).
    training_data, validation : mapping, optional
        Card sections (what it was trained on, validation metrics).
    description : str
        One line for the card.
    extra : mapping, optional
        More card fields (e.g. training wall time).
    card : mapping, optional
        A card read from ``model.json`` (overrides the fields above).
    receptive_field_px : int, optional
        Known halo (250 m px) of this architecture's network pipeline (local NaN fill +
        bicubic + network, *without* post-processing); measured by the gradient probe on first
        use otherwise (a few seconds on CPU).
    postprocess : Postprocess or mapping, optional
        Post-processing of the network output (the card's ``postprocess`` wins when ``card``
        has one), e.g. ``{"consistency_correction": "bicubic-residual", "iterations": 2}``.
        It widens :attr:`receptive_field_px` by ``postprocess.reach_px()``.
    device : str or torch.device, optional
        Default: CUDA when available, else CPU.
    """

    def __init__(
        self,
        network: SIFCNN,
        normalization: Normalization,
        *,
        name: str = "sif-cnn",
        loss: LossConfig | str | Mapping[str, Any] | None = None,
        training_data: Mapping[str, Any] | None = None,
        validation: Mapping[str, Any] | None = None,
        description: str = "",
        extra: Mapping[str, Any] | None = None,
        card: Mapping[str, Any] | None = None,
        receptive_field_px: int | None = None,
        postprocess: Postprocess | Mapping[str, Any] | None = None,
        device: str | torch.device | None = None,
    ) -> None:
        self.network = network.eval()
        self.normalization = normalization
        self.name = name
        self._card: dict[str, Any] = (
            dict(card)
            if card is not None
            else {
                "description": description,
                "loss": _loss_dict(loss),
                "training_data": dict(training_data) if training_data is not None else None,
                "validation": dict(validation) if validation is not None else None,
                **(dict(extra) if extra else {}),
            }
        )
        if card is not None and "postprocess" in self._card:
            postprocess = self._card["postprocess"]
        self.postprocess = Postprocess.from_dict(postprocess)
        # the halo of the network pipeline alone; the post-processing's reach is added to it
        net_rf: int | None = self._card.get("receptive_field_network_px")
        if net_rf is None and not self.postprocess.reach_px(factor=FACTOR):
            net_rf = self._card.get(
                "receptive_field_exact_px", self._card.get("receptive_field_px")
            )
        if net_rf is None:
            net_rf = receptive_field_px
        halo = self._card.get("receptive_field_px", receptive_field_px)
        for value in (halo, net_rf):
            if value is not None and value < 0:
                raise ConfigError(f"receptive_field_px must be >= 0, got {value}")
        if halo is not None and halo % SIFCNN.multiple:
            raise ConfigError(f"receptive_field_px {halo} is not a multiple of {SIFCNN.multiple}")
        self._rf_net: int | None = net_rf
        self.device = default_device(device)
        self.network.to(self.device)
        # BatchNorm folded, channels_last: used when no gradient is wanted (forward_kelvin)
        self._fast = InferenceNetwork(self.network)

    # ------------------------------------------------------------------ properties
    @property
    def receptive_field_network_px(self) -> int:
        """Exact halo (250 m px) of the network pipeline without post-processing (measured by
        the gradient probe on first use when not known)."""
        if self._rf_net is None:
            self._rf_net = measure_model_receptive_field(self)
        return self._rf_net

    @property
    def receptive_field_exact_px(self) -> int:
        """Exact halo (250 m px) of the whole pipeline: network + post-processing reach."""
        return self.receptive_field_network_px + self.postprocess.reach_px(factor=FACTOR)

    @property
    def receptive_field_px(self) -> int:
        """Halo in 250 m pixels: :attr:`receptive_field_exact_px` rounded up to a multiple of 8
        (the network's pooling alignment)."""
        return halo_px(self.receptive_field_exact_px, multiple=SIFCNN.multiple)

    @property
    def card(self) -> dict[str, Any]:
        """The ``model.json`` content (``sha256`` is None until saved)."""
        rf = self.receptive_field_px
        card = {
            "card_version": CARD_VERSION,
            "created": utc_now(),
            "sha256": None,
            "software_version": software_version(),
            "notes": [],
            **self._card,
            "name": self.name,
            "architecture": ARCHITECTURE,
            "network": self.network.config.to_dict(),
            "parameters": count_parameters(self.network),
            "receptive_field_px": rf,
            "receptive_field_exact_px": self.receptive_field_exact_px,
            "receptive_field_network_px": self.receptive_field_network_px,
            "postprocess": self.postprocess.to_dict() if self.postprocess.enabled else None,
            "alignment_px": SIFCNN.multiple,
            # align_corners=True (the published code) makes the output depend on the extent
            "chunk_local": not self.network.config.align_corners,
            "normalization": self.normalization.to_dict(),
        }
        return card

    def to(self, device: str | torch.device) -> CNNModel:
        """Move the network to ``device``; returns ``self``."""
        self.device = torch.device(device)
        self.network.to(self.device)
        return self

    # ------------------------------------------------------------------ prediction
    def forward_kelvin(
        self, lst_1km: torch.Tensor, ndvi_250m: torch.Tensor, *, postprocess: bool = True
    ) -> torch.Tensor:
        """Differentiable pipeline without the output NaN mask (used by the probe).

        ``postprocess=False`` skips :attr:`postprocess` (the bare network pipeline).
        """
        x = prepare_inputs(lst_1km, ndvi_250m, self.normalization)
        h, w = x.shape[-2:]
        m = SIFCNN.multiple
        pad_h, pad_w = (-h) % m, (-w) % m
        if pad_h or pad_w:
            x = nnf.pad(x, (0, pad_w, 0, pad_h), mode="replicate")
        fast = not torch.is_grad_enabled() and not self.network.training
        z = (self._fast if fast else self.network)(x)[..., :h, :w]
        out = self.normalization.lst_from_z(z)
        if postprocess and self.postprocess.enabled:
            # the same locally filled LST the network input was built from (finite everywhere)
            filled = ops.fill_nan_local(
                lst_1km, radius=FILL_RADIUS_1KM, fill=self.normalization.lst_mean
            )
            out = apply_postprocess(self.postprocess, out, filled,
                                    valid=torch.isfinite(lst_1km), factor=FACTOR)
        return out

    def with_postprocess(self, postprocess: Postprocess | Mapping[str, Any] | None) -> CNNModel:
        """A model sharing this network with another :attr:`postprocess` (``None`` = off)."""
        card = {k: v for k, v in self._card.items() if k not in _DERIVED_CARD_KEYS}
        card["postprocess"] = Postprocess.from_dict(postprocess).to_dict()
        if self._rf_net is not None:
            card["receptive_field_network_px"] = self._rf_net
        return CNNModel(self.network, self.normalization, name=self.name, card=card,
                        device=self.device)

    def predict_tensor(self, lst_1km: torch.Tensor, ndvi_250m: torch.Tensor) -> torch.Tensor:
        """``(N, 1, h, w)`` K and ``(N, 1, 4h, 4w)`` NDVI -> ``(N, 1, 4h, 4w)`` K on the device.

        NaN where the covering 1 km LST pixel is NaN.
        """
        check_pair_tensor(lst_1km, ndvi_250m)
        lst = lst_1km.to(self.device, torch.float32)
        ndvi = ndvi_250m.to(self.device, torch.float32)
        with torch.inference_mode():
            out = self.forward_kelvin(lst, ndvi)
            invalid = ~torch.isfinite(lst)
            if bool(invalid.any()):
                mask = nnf.interpolate(invalid.float(), scale_factor=FACTOR, mode="nearest") > 0
                out = torch.where(mask, torch.nan, out)
        return out

    def predict(
        self, lst_1km: np.ndarray, ndvi_250m: np.ndarray, *, tile_1km: int = 128
    ) -> np.ndarray:
        """Super-resolve one scene: ``(h, w)`` K and ``(4h, 4w)`` NDVI -> ``(4h, 4w)`` K float32.

        Large scenes are processed in windows of ``tile_1km`` 1 km pixels plus a halo of the
        receptive field, so the result equals a whole-scene pass (to float rounding).
        """
        lst, ndvi = check_pair(lst_1km, ndvi_250m)
        if tile_1km < 2 or tile_1km % 2:
            raise ConfigError(f"tile_1km must be an even number >= 2, got {tile_1km}")
        h, w = lst.shape
        halo = self.receptive_field_px // FACTOR
        out = np.full((h * FACTOR, w * FACTOR), np.nan, dtype=np.float32)
        for y0 in range(0, h, tile_1km):
            for x0 in range(0, w, tile_1km):
                y1, x1 = min(y0 + tile_1km, h), min(x0 + tile_1km, w)
                wy0, wx0 = max(y0 - halo, 0), max(x0 - halo, 0)
                wy1, wx1 = min(y1 + halo, h), min(x1 + halo, w)
                lt = torch.from_numpy(np.ascontiguousarray(lst[wy0:wy1, wx0:wx1]))[None, None]
                nt = torch.from_numpy(
                    np.ascontiguousarray(
                        ndvi[wy0 * FACTOR : wy1 * FACTOR, wx0 * FACTOR : wx1 * FACTOR]
                    )
                )[None, None]
                res = self.predict_tensor(lt, nt)[0, 0].float().cpu().numpy()
                oy, ox = (y0 - wy0) * FACTOR, (x0 - wx0) * FACTOR
                out[y0 * FACTOR : y1 * FACTOR, x0 * FACTOR : x1 * FACTOR] = res[
                    oy : oy + (y1 - y0) * FACTOR, ox : ox + (x1 - x0) * FACTOR
                ]
        return out

    def __repr__(self) -> str:
        return f"CNNModel(name={self.name!r}, device={self.device})"


def measure_model_receptive_field(model: CNNModel, *, size_1km: int = 52) -> int:
    """Exact halo radius (250 m px) of ``model``'s network pipeline: the gradient probe of
    bicubic + network, plus the reach of the local NaN fill (``FILL_RADIUS_1KM`` 1 km px).
    The post-processing's reach (:meth:`Postprocess.reach_px`) comes on top."""
    net = model.network
    probe_model = CNNModel(_copy_network(net), model.normalization, name=model.name, device="cpu")

    def pipeline(lst: torch.Tensor, ndvi: torch.Tensor) -> torch.Tensor:
        return probe_model.forward_kelvin(lst, ndvi, postprocess=False)

    measured = measure_pipeline_receptive_field(pipeline, size_1km=size_1km, factor=FACTOR)
    return measured + FACTOR * FILL_RADIUS_1KM


#: Card keys that :attr:`CNNModel.card` derives (dropped when the post-processing changes).
_DERIVED_CARD_KEYS = frozenset(
    {"receptive_field_px", "receptive_field_exact_px", "receptive_field_network_px", "postprocess"}
)


def _copy_network(net: SIFCNN) -> SIFCNN:
    clone = SIFCNN(net.config)
    clone.load_state_dict({k: v.detach().cpu() for k, v in net.state_dict().items()})
    return clone.eval()


def _loss_dict(loss: LossConfig | str | Mapping[str, Any] | None) -> dict[str, Any] | None:
    if loss is None:
        return None
    if isinstance(loss, str):
        return {"preset": loss, **get_preset(loss).to_dict()}
    if isinstance(loss, LossConfig):
        return loss.to_dict()
    return dict(loss)


def save_model(folder: str | Path, model: CNNModel, *, overwrite: bool = True) -> Path:
    """Write ``model.safetensors`` and ``model.json`` (with the weights' SHA-256) to ``folder``.

    Returns
    -------
    Path
        The folder.
    """
    if not isinstance(model, CNNModel):
        raise ConfigError(f"save_model needs a CNNModel, got {type(model).__name__}")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    weights = folder / WEIGHTS_FILE
    if weights.exists() and not overwrite:
        raise ConfigError(f"{weights} exists (overwrite=False)")
    state = {k: v.detach().to("cpu").contiguous() for k, v in model.network.state_dict().items()}
    save_file(state, str(weights), metadata={"format": "pt", "architecture": ARCHITECTURE})
    card = model.card
    card["sha256"] = sha256_weights(weights)  # canonical: stable across identical saves
    card["sha256_kind"] = WEIGHTS_HASH
    write_card(folder, card)
    return folder


def set_postprocess(
    folder: str | Path,
    postprocess: Postprocess | Mapping[str, Any] | None,
    *,
    reason: str | None = None,
) -> dict[str, Any]:
    """Switch the post-processing of a saved model folder (rewrites its card; the weights are
    unchanged) and return the new card.

    The card's ``receptive_field_px`` follows (the network's halo plus the correction's reach),
    and a note starting ``postprocess:`` says what is switched on and, with ``reason``, why.

    Validation figures measured with another post-processing are no longer those of the model
    as shipped: a ``validation_as_shipped`` entry whose ``postprocess`` differs from the new one
    is removed (recompute it with :func:`lstcloud.training.validate_as_shipped`). The
    ``validation`` entry written by training always describes the bare network.
    """
    model = load_cnn(folder, device="cpu")
    updated = model.with_postprocess(postprocess)
    pp = updated.postprocess
    parts = []
    if pp.consistency_correction is not None:
        parts.append(
            f"{pp.consistency_correction} consistency correction, {pp.iterations} iteration(s)"
        )
    if pp.detail_gain != 1.0:
        parts.append(f"detail gain {pp.detail_gain:g}")
    note = (
        f"postprocess: {', '.join(parts)} (receptive_field_px {updated.receptive_field_px})"
        if pp.enabled
        else "postprocess: none"
    )
    if reason:
        note = f"{note}: {reason}"
    card = updated.card
    card["notes"] = [n for n in card.get("notes", []) if not n.startswith("postprocess:")]
    card["notes"].append(note)
    shipped = card.get("validation_as_shipped")
    if isinstance(shipped, Mapping) and shipped.get("postprocess") != card["postprocess"]:
        del card["validation_as_shipped"]
    if card.get("sha256_kind") != WEIGHTS_HASH:
        card["sha256"] = sha256_weights(Path(folder) / WEIGHTS_FILE)
        card["sha256_kind"] = WEIGHTS_HASH
    write_card(folder, card)
    return card


def load_cnn(
    folder: str | Path, *, device: str | torch.device | None = None, verify: bool = True
) -> CNNModel:
    """Load a CNN model folder (``model.json`` + ``model.safetensors``); never executes code.

    Raises ``ConfigError`` naming the folder for a missing file, a hash mismatch or weights
    that do not fit the card's network.
    """
    folder = Path(folder)
    card = read_card(folder)
    if card["architecture"] != ARCHITECTURE:
        raise ConfigError(
            f"{folder}: architecture {card['architecture']!r} is not a CNN ({ARCHITECTURE!r})"
        )
    weights = folder / WEIGHTS_FILE
    if not weights.is_file():
        raise ConfigError(f"model folder {folder} has no {WEIGHTS_FILE}")
    network = SIFCNN(NetworkConfig.from_dict(card["network"]))
    try:
        state = load_file(str(weights), device="cpu")
    except (SafetensorError, OSError) as exc:
        raise ConfigError(f"{weights}: not a readable safetensors file: {exc}") from None
    if verify:
        kind = card.get("sha256_kind", "file")
        digest = sha256_tensors(state) if kind == WEIGHTS_HASH else sha256_file(weights)
        if digest != card["sha256"]:
            raise ConfigError(
                f"{weights}: SHA-256 ({kind}) does not match model.json (corrupt or replaced)"
            )
    try:
        network.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise ConfigError(
            f"{weights}: weights do not load into the card's network: {exc}"
        ) from None
    if count_parameters(network) != card["parameters"]:
        raise ConfigError(
            f"{folder}: card says {card['parameters']} parameters, network has "
            f"{count_parameters(network)}"
        )
    normalization = Normalization.from_dict(card["normalization"])
    card = checked_receptive_field(card, network.config, source=str(folder))
    return CNNModel(network, normalization, name=card["name"], card=card, device=device)


#: Exact halo (250 m px) of the network pipeline (local NaN fill + bicubic + network), by
#: architecture (the JSON of its :class:`NetworkConfig`): the published layout with and
#: without the residual connection, as the gradient probe measured it (88 px; a test re-runs
#: the probe). Other configurations are probed once per process.
_ARCHITECTURE_RF: dict[str, int] = {
    json.dumps(NetworkConfig(residual=r).to_dict(), sort_keys=True): 88 for r in (False, True)
}


def architecture_receptive_field(config: NetworkConfig) -> int:
    """The measured halo (250 m px) of the network pipeline of ``config`` (cached).

    It depends on the layer layout only, not on the trained values: the probe runs on a
    freshly initialised network (eval mode).
    """
    key = json.dumps(config.to_dict(), sort_keys=True)
    if key not in _ARCHITECTURE_RF:
        net = SIFCNN(config)
        norm = Normalization(lst_mean=300.0, lst_std=10.0, ndvi_mean=0.5, ndvi_std=0.2)
        probe = CNNModel(net, norm, name="probe", card={}, receptive_field_px=None, device="cpu")
        _ARCHITECTURE_RF[key] = measure_model_receptive_field(probe)
    return _ARCHITECTURE_RF[key]


def checked_receptive_field(
    card: dict[str, Any], config: NetworkConfig, *, source: str
) -> dict[str, Any]:
    """``card`` with its receptive-field claims checked against the architecture's measured
    field: a card that claims less than measured is corrected (with a warning naming the
    card), so chunked inference never uses too small a halo."""
    measured = architecture_receptive_field(config)
    pp = Postprocess.from_dict(card.get("postprocess"))
    claimed_net = card.get("receptive_field_network_px")
    if claimed_net is None and not pp.reach_px(factor=FACTOR):
        claimed_net = card.get("receptive_field_exact_px", card.get("receptive_field_px"))
    whole = measured + pp.reach_px(factor=FACTOR)
    claims = [claimed_net, card.get("receptive_field_exact_px"), card.get("receptive_field_px")]
    if all(c is not None for c in claims) and claimed_net >= measured and min(claims[1:]) >= whole:
        return card
    warnings.warn(
        f"{source}: the card claims a receptive field of {claims} px, less than the "
        f"{measured} px (+{whole - measured} px post-processing) measured for its architecture: "
        "using the measured field",
        LstcloudWarning,
        stacklevel=3,
    )
    fixed = {k: v for k, v in card.items() if k not in _DERIVED_CARD_KEYS}
    fixed["postprocess"] = card.get("postprocess")
    fixed["receptive_field_network_px"] = measured
    return fixed
