"""STAC catalogue search for MODIS granules through provider profiles.

- :func:`search_granules` -> list of :class:`Granule` (one per product, tile and day).
- :data:`PROVIDERS` / :func:`get_provider`: the ``planetary-computer`` and ``lpcloud`` profiles
  (collection ids, href signing, Earthdata storage options).
- :mod:`lstcloud.catalog.auth`: Earthdata Login credentials, never logged.
"""

from __future__ import annotations

from lstcloud.catalog.auth import (
    EarthdataCredentials,
    earthdata_credentials,
    earthdata_storage_options,
)
from lstcloud.catalog.providers import (
    PROVIDERS,
    AssetHrefs,
    ProviderProfile,
    get_provider,
    is_local_href,
    parse_granule_id,
)
from lstcloud.catalog.search import (
    EmptySearchWarning,
    Granule,
    RetryingStacApiIO,
    search_granules,
    tiles_bbox,
)

__all__ = [
    "PROVIDERS",
    "AssetHrefs",
    "EarthdataCredentials",
    "EmptySearchWarning",
    "Granule",
    "ProviderProfile",
    "RetryingStacApiIO",
    "earthdata_credentials",
    "earthdata_storage_options",
    "get_provider",
    "is_local_href",
    "parse_granule_id",
    "search_granules",
    "tiles_bbox",
]
