"""The identity of a model as a product records it: its weights AND its card.

A product must never mix the output of two different models. The weights' sha256 alone does not
say which model ran: the card decides the halo (``receptive_field_px``), the normalisation, the
post-processing (consistency correction, detail gain), the network options. :func:`model_identity`
hashes the weights' sha256 together with every card field that changes what the model computes,
and leaves out the descriptive ones (:data:`DESCRIPTIVE_FIELDS`: notes, validation figures,
creation time ...), so re-validating or re-describing a model keeps its identity while changing
any behaviour gives a new one.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

__all__ = ["DESCRIPTIVE_FIELDS", "behaviour_fields", "model_identity"]

#: Card fields that describe a model without changing what it computes.
DESCRIPTIVE_FIELDS = frozenset({
    "card_version",
    "created",
    "description",
    "method_description",
    "notes",
    "software_version",
    "training",
    "training_data",
    "validation",
    "validation_as_shipped",
})


def _plain(value: Any) -> Any:
    """JSON-able, key-sorted form of a card value (tuples as lists, numpy scalars as Python)."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if hasattr(value, "item") and callable(value.item):
        return value.item()
    return value


def behaviour_fields(card: Mapping[str, Any]) -> dict[str, Any]:
    """The card without its :data:`DESCRIPTIVE_FIELDS` (what the identity covers)."""
    return {k: _plain(v) for k, v in sorted(card.items()) if k not in DESCRIPTIVE_FIELDS}


def model_identity(card: Mapping[str, Any], *, name: str = "") -> str:
    """sha256 of the weights' sha256 and the behaviour fields of ``card``.

    Parameters
    ----------
    card
        The model card (``model.card``); its ``sha256`` is the weights' hash.
    name
        Used when the card is empty (a model without card is identified by its name).
    """
    fields = behaviour_fields(card) or {"name": name}
    text = json.dumps(fields, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()
