"""Exception and warning classes of lstcloud (the ground floor: every layer raises these)."""

from __future__ import annotations

__all__ = [
    "CatalogError",
    "ConfigError",
    "CubeError",
    "GranuleReadError",
    "LstcloudError",
    "LstcloudWarning",
    "MissingAssetError",
    "TransientError",
]


class LstcloudError(Exception):
    """Base class of every error raised by lstcloud."""


class TransientError(LstcloudError):
    """An error worth retrying (timeouts, HTTP 5xx, throttling)."""


class CatalogError(LstcloudError):
    """A STAC catalogue could not be searched; the message names the URL."""


class GranuleReadError(LstcloudError):
    """A granule could not be read or decoded (corrupt, truncated, wrong format)."""


class MissingAssetError(GranuleReadError):
    """A STAC item lacks an asset the product needs."""


class CubeError(LstcloudError):
    """A datacube is missing, malformed, or incompatible with the requested write."""


class ConfigError(LstcloudError, ValueError):
    """A configuration value is wrong; the message names the field."""


class LstcloudWarning(UserWarning):
    """Base class of lstcloud's warnings."""
