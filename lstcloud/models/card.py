"""The model card (``model.json``): schema, weight hashing, software version.

A released model is a folder with ``model.safetensors`` (weights, no code) and ``model.json``
(this card). The card is plain JSON validated against :data:`CARD_SCHEMA`; loading a model
reads only these two files and never executes anything from them.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jsonschema

from lstcloud.errors import ConfigError

__all__ = [
    "CARD_FILE",
    "CARD_SCHEMA",
    "CARD_VERSION",
    "WEIGHTS_FILE",
    "read_card",
    "sha256_file",
    "software_version",
    "validate_card",
    "write_card",
]

CARD_FILE = "model.json"
WEIGHTS_FILE = "model.safetensors"
CARD_VERSION = 1

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
        "alignment_px": {"type": "integer", "minimum": 1},
        "chunk_local": {"type": "boolean"},
        "network": {"type": "object"},
        "method_options": {"type": "object"},
        "normalization": {"oneOf": [_NORMALIZATION, {"type": "null"}]},
        "loss": {"type": ["object", "null"]},
        "training_data": {"type": ["object", "null"]},
        "validation": {"type": ["object", "null"]},
        "software_version": {"type": "string"},
        "sha256": {"type": ["string", "null"], "pattern": "^[0-9a-f]{64}$"},
        "created": {"type": "string"},
        "notes": {"type": "array", "items": {"type": "string"}},
    },
    "allOf": [
        {
            "if": {"properties": {"parameters": {"exclusiveMinimum": 0}}},
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
