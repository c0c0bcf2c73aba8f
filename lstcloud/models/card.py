"""The model card (``model.json``): schema, weight hashing, software version.

A released model is a folder with ``model.safetensors`` (weights, no code) and ``model.json``
(this card). The card is plain JSON validated against :data:`CARD_SCHEMA`; loading a model
reads only these two files and never executes anything from them.
"""

from __future__ import annotations

import hashlib
import json
import struct
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jsonschema
import torch

from lstcloud.errors import ConfigError

__all__ = [
    "CARD_FILE",
    "CARD_SCHEMA",
    "CARD_VERSION",
    "WEIGHTS_FILE",
    "WEIGHTS_HASH",
    "read_card",
    "sha256_file",
    "sha256_tensors",
    "sha256_weights",
    "software_version",
    "validate_card",
    "write_card",
]

CARD_FILE = "model.json"
WEIGHTS_FILE = "model.safetensors"
CARD_VERSION = 1
#: ``sha256_kind`` of cards whose ``sha256`` is :func:`sha256_tensors` of the weights (cards
#: without ``sha256_kind`` hold the SHA-256 of the ``model.safetensors`` file's bytes).
WEIGHTS_HASH = "safetensors-tensors-v1"

_POSTPROCESS = {
    "type": ["object", "null"],
    "properties": {
        "consistency_correction": {"enum": ["bicubic-residual", "lowpass-residual", None]},
        "iterations": {"type": "integer", "minimum": 1},
        "detail_gain": {"type": "number", "minimum": 0},
        "sigma_km": {"type": "number", "exclusiveMinimum": 0},
    },
    "additionalProperties": False,
}

_NORMALIZATION = {
    "type": "object",
    "required": ["lst_mean", "lst_std", "ndvi_mean", "ndvi_std"],
    "properties": {k: {"type": "number"} for k in ("lst_mean", "lst_std", "ndvi_mean", "ndvi_std")},
    "additionalProperties": False,
}

#: JSON schema of ``model.json``. CNN cards also need ``network``, ``normalization`` and
#: ``sha256``; baseline cards have ``parameters: 0`` and no weights.
CARD_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "lstcloud model card",
    "type": "object",
    "required": [
        "card_version",
        "name",
        "architecture",
        "parameters",
        "receptive_field_px",
        "normalization",
        "loss",
        "training_data",
        "validation",
        "software_version",
        "sha256",
    ],
    "properties": {
        "card_version": {"const": CARD_VERSION},
        "name": {"type": "string", "minLength": 1},
        "architecture": {"type": "string", "minLength": 1},
        "description": {"type": "string"},
        "parameters": {"type": "integer", "minimum": 0},
        "receptive_field_px": {"type": "integer", "minimum": 0},
        "receptive_field_exact_px": {"type": "integer", "minimum": 0},
        "receptive_field_network_px": {"type": "integer", "minimum": 0},
        "postprocess": _POSTPROCESS,
        "alignment_px": {"type": "integer", "minimum": 1},
        "chunk_local": {"type": "boolean"},
        "network": {"type": "object"},
        "method_options": {"type": "object"},
        "normalization": {"oneOf": [_NORMALIZATION, {"type": "null"}]},
        "loss": {"type": ["object", "null"]},
        "training_data": {"type": ["object", "null"]},
        "validation": {"type": ["object", "null"]},
        "validation_as_shipped": {"type": ["object", "null"]},
        "software_version": {"type": "string"},
        "sha256": {"type": ["string", "null"], "pattern": "^[0-9a-f]{64}$"},
        "sha256_kind": {"enum": [WEIGHTS_HASH, "file", "ensemble-members-v1"]},
        "members": {"type": "array", "items": {"type": "string"}},
        "tta": {"enum": ["none", "flips", "d4"]},
        "created": {"type": "string"},
        "notes": {"type": "array", "items": {"type": "string"}},
    },
    "allOf": [
        {
            "if": {
                "properties": {
                    "parameters": {"exclusiveMinimum": 0},
                    "architecture": {"not": {"const": "ensemble"}},
                }
            },
            "then": {
                "required": ["network"],
                "properties": {"sha256": {"type": "string"}, "normalization": _NORMALIZATION},
            },
        }
    ],
}


def software_version() -> str:
    """The installed lstcloud version."""
    from lstcloud import __version__

    return __version__


def utc_now() -> str:
    """Current UTC time, ISO 8601, seconds."""
    return datetime.now(UTC).replace(microsecond=0).isoformat()


def sha256_file(path: str | Path, *, chunk: int = 1 << 20) -> str:
    """Hex SHA-256 of a file."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


_DTYPES: dict[torch.dtype, str] = {
    torch.float64: "F64",
    torch.float32: "F32",
    torch.float16: "F16",
    torch.bfloat16: "BF16",
    torch.int64: "I64",
    torch.int32: "I32",
    torch.int16: "I16",
    torch.int8: "I8",
    torch.uint8: "U8",
    torch.bool: "BOOL",
}


def sha256_tensors(state: Mapping[str, torch.Tensor]) -> str:
    """Canonical SHA-256 of named tensors, independent of how a file lays them out.

    For every tensor in name order (sorted by UTF-8 bytes): the name, the safetensors dtype code
    (``F32``, ``I64`` ...), the shape, and the raw little-endian bytes of the C-contiguous data,
    each field length-prefixed (8-byte little-endian), so no two different states share a hash
    stream. A safetensors file's own bytes are not stable: its JSON header (metadata key order)
    can differ between two saves of identical weights.
    """
    digest = hashlib.sha256(WEIGHTS_HASH.encode())

    def field(data: bytes) -> None:
        digest.update(struct.pack("<Q", len(data)))
        digest.update(data)

    for name in sorted(state, key=lambda k: k.encode("utf-8")):
        tensor = state[name].detach().to("cpu").contiguous()
        if tensor.dtype not in _DTYPES:
            raise ValueError(f"tensor {name!r}: dtype {tensor.dtype} is not hashable here")
        field(name.encode("utf-8"))
        field(_DTYPES[tensor.dtype].encode())
        field(",".join(str(int(d)) for d in tensor.shape).encode())
        field(tensor.reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def sha256_weights(path: str | Path) -> str:
    """:func:`sha256_tensors` of the tensors stored in a safetensors file."""
    from safetensors.torch import load_file

    return sha256_tensors(load_file(str(path), device="cpu"))


def validate_card(card: dict[str, Any], *, source: str = "model card") -> dict[str, Any]:
    """Validate ``card`` against :data:`CARD_SCHEMA`; ``ConfigError`` names ``source``."""
    try:
        jsonschema.validate(card, CARD_SCHEMA)
    except jsonschema.ValidationError as exc:
        where = "/".join(str(p) for p in exc.absolute_path) or "(top level)"
        raise ConfigError(f"{source}: invalid model card at {where}: {exc.message}") from None
    return card


def read_card(folder: str | Path) -> dict[str, Any]:
    """Read and validate ``folder/model.json``."""
    path = Path(folder) / CARD_FILE
    try:
        card = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"no {CARD_FILE} in model folder {folder}") from None
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path} is not valid JSON: {exc}") from None
    if not isinstance(card, dict):
        raise ConfigError(f"{path} must hold a JSON object")
    return validate_card(card, source=str(path))


def write_card(folder: str | Path, card: dict[str, Any]) -> Path:
    """Validate ``card`` and write it to ``folder/model.json`` (sorted keys, indented)."""
    path = Path(folder) / CARD_FILE
    validate_card(card, source=str(path))
    path.write_text(json.dumps(card, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return path
