"""Public home of lstcloud's exception classes and :func:`redact_url` (defined in
:mod:`lstcloud.core`, the ground floor; the package itself imports them from there)."""

from __future__ import annotations

from lstcloud.core.errors import (
    CatalogError,
    ConfigError,
    CubeError,
    GranuleReadError,
    LstcloudError,
    LstcloudWarning,
    MissingAssetError,
    TransientError,
)
from lstcloud.core.redact import redact_url

__all__ = [
    "CatalogError",
    "ConfigError",
    "CubeError",
    "GranuleReadError",
    "LstcloudError",
    "LstcloudWarning",
    "MissingAssetError",
    "TransientError",
    "redact_url",
]
