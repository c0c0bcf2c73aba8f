"""Public home of the storage URL helpers (defined in :mod:`lstcloud.core.storage`)."""

from __future__ import annotations

from lstcloud.core.storage import (
    default_storage_options,
    filesystem,
    join,
    protocol_of,
    strip_protocol,
)

__all__ = ["default_storage_options", "filesystem", "join", "protocol_of", "strip_protocol"]
