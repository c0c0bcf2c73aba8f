"""Keeping credentials out of messages and logs: signed URLs, user-info, auth headers."""

from __future__ import annotations

import re
from urllib.parse import urlsplit, urlunsplit

__all__ = ["redact_text", "redact_url"]

_SECRET_KEYS = re.compile(
    r"(sig|se|sp|sv|sr|st|skoid|sktid|skt|ske|sks|skv|token|x-amz-[a-z-]+|signature|"
    r"access_token|password|secret)=[^&]*",
    re.IGNORECASE,
)
#: Absolute URLs, and relative ones carrying a query string (``/search?token=...``).
_URL_IN_TEXT = re.compile(
    r"(?:[a-z][a-z0-9+.-]*://[^\s'\"<>()]+|/[^\s'\"<>()?]*\?[^\s'\"<>()]+)", re.IGNORECASE
)
_AUTH_HEADER = re.compile(r"((?:authorization|x-api-key)['\"]?\s*[:=]\s*['\"]?)[^'\",}]+", re.I)


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


def redact_text(text: str, *, limit: int | None = None) -> str:
    """``text`` with every URL in it passed through :func:`redact_url` and auth headers masked.

    Parameters
    ----------
    text
        A message, e.g. an exception's text or a log line.
    limit
        Cut the result to this many characters (ending in ``...``); ``None`` keeps it whole.
    """
    out = _URL_IN_TEXT.sub(lambda m: redact_url(m.group(0)), str(text))
    out = _AUTH_HEADER.sub(r"\1***", out)
    if limit is not None and len(out) > limit:
        out = out[: limit - 3] + "..."
    return out
