"""The SIF-CNN super-resolver: network + normalisation + card, saved as safetensors + JSON."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch.nn import functional as nnf

from lstcloud import ops
from lstcloud.errors import ConfigError
from lstcloud.models.base import FACTOR, check_pair, check_pair_tensor, default_device
from lstcloud.models.card import (
    CARD_VERSION,
    WEIGHTS_FILE,
    read_card,
    sha256_file,
    software_version,
    utc_now,
    write_card,
)
from lstcloud.models.losses import LossConfig, get_preset
from lstcloud.models.network import ARCHITECTURE, SIFCNN, NetworkConfig, count_parameters
from lstcloud.models.normalization import Normalization
from lstcloud.models.receptive_field import halo_px, measure_pipeline_receptive_field

__all__ = [
    "FILL_RADIUS_1KM",
    "CNNModel",
    "load_cnn",
    "measure_model_receptive_field",
    "prepare_inputs",
    "save_model",
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


class CNNModel:
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
        Known halo (250 m px, multiple of 8) of this architecture; measured by the gradient
        probe on first use otherwise (a few seconds on CPU).
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
        self._rf_exact: int | None = self._card.get("receptive_field_exact_px")
        self._rf: int | None = self._card.get("receptive_field_px", receptive_field_px)
        if self._rf is not None and self._rf % SIFCNN.multiple:
            raise ConfigError(
                f"receptive_field_px {self._rf} is not a multiple of {SIFCNN.multiple}"
            )
        self.device = default_device(device)
        self.network.to(self.device)

    # ------------------------------------------------------------------ properties
    @property
    def receptive_field_px(self) -> int:
        """Halo in 250 m pixels (measured by a gradient probe, rounded up to a multiple of 8)."""
        if self._rf is None:
            exact = measure_model_receptive_field(self)
            self._rf_exact = exact
            self._rf = halo_px(exact, multiple=SIFCNN.multiple)
        return self._rf

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
            "receptive_field_exact_px": self._rf_exact if self._rf_exact is not None else rf,
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
    def forward_kelvin(self, lst_1km: torch.Tensor, ndvi_250m: torch.Tensor) -> torch.Tensor:
        """Differentiable pipeline without the output NaN mask (used by the probe)."""
        x = prepare_inputs(lst_1km, ndvi_250m, self.normalization)
        h, w = x.shape[-2:]
        m = SIFCNN.multiple
        pad_h, pad_w = (-h) % m, (-w) % m
        if pad_h or pad_w:
            x = nnf.pad(x, (0, pad_w, 0, pad_h), mode="replicate")
        z = self.network(x)[..., :h, :w]
        return self.normalization.lst_from_z(z)

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
    """Exact halo radius (250 m px) of ``model``'s whole pipeline: the gradient probe of
    bicubic + network, plus the reach of the local NaN fill (``FILL_RADIUS_1KM`` 1 km px)."""
    net = model.network
    probe_model = CNNModel(_copy_network(net), model.normalization, name=model.name, device="cpu")

    def pipeline(lst: torch.Tensor, ndvi: torch.Tensor) -> torch.Tensor:
        return probe_model.forward_kelvin(lst, ndvi)

    measured = measure_pipeline_receptive_field(pipeline, size_1km=size_1km, factor=FACTOR)
    return measured + FACTOR * FILL_RADIUS_1KM


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
    card["sha256"] = sha256_file(weights)
    write_card(folder, card)
    return folder


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
    if verify and sha256_file(weights) != card["sha256"]:
        raise ConfigError(f"{weights}: SHA-256 does not match model.json (corrupt or replaced)")
    network = SIFCNN(NetworkConfig.from_dict(card["network"]))
    try:
        state = load_file(str(weights), device="cpu")
        network.load_state_dict(state, strict=True)
    except (SafetensorError, RuntimeError, OSError) as exc:
        raise ConfigError(
            f"{weights}: weights do not load into the card's network: {exc}"
        ) from None
    if count_parameters(network) != card["parameters"]:
        raise ConfigError(
            f"{folder}: card says {card['parameters']} parameters, network has "
            f"{count_parameters(network)}"
        )
    normalization = Normalization.from_dict(card["normalization"])
    return CNNModel(network, normalization, name=card["name"], card=card, device=device)
