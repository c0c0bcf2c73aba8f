"""Import the seed authors' released SIF-CNN checkpoints (``ModelB_2`` state dicts).

The authors' code names the layers ``inbloc``, ``db1..3`` (``resblock.doubleconv.bloc``,
``lastconv``), ``ub1..3`` (``convbloc.bloc``) and ``outlay``; :class:`SIFCNN` has the same
layers under ``inc``, ``down1..3`` (``residual``, ``project``), ``up1..3`` (``conv``) and
``head``. This module renames the tensors (shapes are checked) so that a released state dict
loads into :class:`SIFCNN`. Their checkpoints were trained with ``align_corners=True``, which
is kept by default (exact reproduction; the card then says ``chunk_local: false``).

The checkpoint file is read with ``torch.load(weights_only=True)``: tensors only, no code.
Their normalisation statistics were not published: pass your own :class:`Normalization`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

import torch

from lstcloud.errors import ConfigError
from lstcloud.models.cnn import CNNModel
from lstcloud.models.network import SIFCNN, NetworkConfig
from lstcloud.models.normalization import Normalization

__all__ = ["from_published_checkpoint", "published_to_sifcnn", "sifcnn_to_published"]

_PREFIXES: tuple[tuple[str, str], ...] = (
    ("inbloc.bloc.", "inc."),
    *((f"db{i}.resblock.doubleconv.bloc.", f"down{i}.residual.") for i in (1, 2, 3)),
    *((f"db{i}.lastconv.", f"down{i}.project.") for i in (1, 2, 3)),
    *((f"ub{i}.convbloc.bloc.", f"up{i}.conv.") for i in (1, 2, 3)),
    ("outlay.", "head."),
)


def _rename(
    state: Mapping[str, torch.Tensor], pairs: tuple[tuple[str, str], ...], what: str
) -> dict[str, torch.Tensor]:
    out: dict[str, torch.Tensor] = {}
    for key, value in state.items():
        for old, new in pairs:
            if key.startswith(old):
                out[new + key[len(old) :]] = value
                break
        else:
            raise ConfigError(f"{what}: unexpected tensor {key!r}")
    return out


def published_to_sifcnn(state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Rename a ``ModelB_2`` state dict to :class:`SIFCNN` names (``module.`` prefixes of
    DataParallel checkpoints are dropped)."""
    cleaned = {re.sub(r"^module\.", "", k): v for k, v in state.items()}
    return _rename(cleaned, _PREFIXES, "published checkpoint")


def sifcnn_to_published(state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Inverse of :func:`published_to_sifcnn`."""
    return _rename(state, tuple((new, old) for old, new in _PREFIXES), "SIFCNN state dict")


def from_published_checkpoint(
    path: str | Path,
    normalization: Normalization,
    *,
    name: str,
    align_corners: bool = True,
    device: str | torch.device | None = None,
) -> CNNModel:
    """Load a released ``*_state_dict.pt`` into a :class:`CNNModel`.

    Parameters
    ----------
    path : str or Path
        The authors' state-dict file (a dict of tensors).
    normalization : Normalization
        LST / NDVI statistics to z-score with (theirs are unpublished).
    name : str
        Model name for the card.
    align_corners : bool
        Keep the published bilinear setting (``True``) or make the model chunk-local (``False``).
    device : str, optional
    """
    try:
        state = torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as exc:  # any unpickling refusal (weights_only) or I/O error
        raise ConfigError(f"{path}: not a loadable tensor state dict ({exc})") from None
    if not isinstance(state, Mapping):
        raise ConfigError(f"{path}: expected a state dict, got {type(state).__name__}")
    network = SIFCNN(NetworkConfig(align_corners=align_corners))
    try:
        network.load_state_dict(published_to_sifcnn(state), strict=True)
    except RuntimeError as exc:
        raise ConfigError(f"{path}: does not fit the 282,705-parameter U-Net: {exc}") from None
    return CNNModel(
        network,
        normalization,
        name=name,
        device=device,
        description=f"imported from the authors' checkpoint {Path(path).name}",
        extra={
            "notes": [
                "weights of the seed authors' released checkpoint; "
                "normalisation statistics are not theirs"
            ]
        },
    )
