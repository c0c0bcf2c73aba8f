"""Exception and warning classes of lstcloud (the ground floor: every layer raises these)."""

from __future__ import annotations

__all__ = [
    "CatalogError",
    "CatalogUnavailableError",
    "CollectionMismatchWarning",
    "ConfigError",
    "CubeError",
    "GranuleReadError",
    "LstcloudError",
    "LstcloudWarning",
    "MissingAssetError",
    "ModelCardWarning",
    "TransientError",
]


class LstcloudError(Exception):
    """Base class of every error raised by lstcloud."""


class TransientError(LstcloudError):
    """An error worth retrying (timeouts, HTTP 5xx, throttling)."""


class CatalogError(LstcloudError):
    """A STAC catalogue could not be searched; the message names the URL."""


class CatalogUnavailableError(CatalogError):
    """The catalogue as a whole failed (unreachable, or HTTP 5xx / 429 on every retry): no
    other search of the same run can succeed, so none is tried."""


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


class ModelCardWarning(LstcloudWarning):
    """A model card claims something the model contradicts (e.g. too small a receptive
    field); lstcloud uses what it measured."""


class CollectionMismatchWarning(LstcloudWarning):
    """A granule's collection (e.g. 006) differs from the product's (061)."""
