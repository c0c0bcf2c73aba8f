"""Exception and warning classes of lstcloud, and a helper that keeps secrets out of messages."""

from __future__ import annotations

import re
from urllib.parse import urlsplit, urlunsplit

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


_SECRET_KEYS = re.compile(
    r"(sig|se|sp|sv|sr|st|skoid|sktid|skt|ske|sks|skv|token|x-amz-[a-z-]+|signature|"
    r"access_token|password|secret)=[^&]*",
    re.IGNORECASE,
)


def redact_url(url: str) -> str:
    """Return ``url`` without credentials: user-info removed, signing query values masked.

    Examples
    --------
    >>> redact_url("https://user:pw@host/a.tif?sv=1&sig=abc")
    'https://host/a.tif?sv=***&sig=***'
    """
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparseable url>"
    netloc = parts.netloc.rsplit("@", 1)[-1]
    query = _SECRET_KEYS.sub(lambda m: m.group(0).split("=", 1)[0] + "=***", parts.query)
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))
