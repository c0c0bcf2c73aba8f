"""NASA Earthdata Login credentials for LP DAAC downloads, kept out of logs and messages.

Credentials come from the environment (``EARTHDATA_TOKEN``, or ``EARTHDATA_USERNAME`` and
``EARTHDATA_PASSWORD``) or from ``~/.netrc`` (``machine urs.earthdata.nasa.gov``; the path can be
changed with ``NETRC``). They are handed to fsspec's HTTPS file system as storage options
(``Authorization: Bearer <token>``) only for Earthdata hosts: a granule on any other host never
sees them. A username and password are exchanged once per process for a bearer token at the
Earthdata Login API, the way NASA's own tools do, because Earthdata's redirect-based login does
not survive aiohttp's cross-host redirects with basic auth.

Searching CMR-STAC needs no credentials; only the granule downloads do.
"""

from __future__ import annotations

import netrc
import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests

from lstcloud.core.errors import CatalogError
from lstcloud.core.redact import redact_url

__all__ = [
    "EARTHDATA_HOSTS",
    "URS_HOST",
    "EarthdataCredentials",
    "bearer_token",
    "earthdata_credentials",
    "earthdata_storage_options",
    "is_earthdata_href",
]

#: The Earthdata Login host named in ``.netrc``.
URS_HOST = "urs.earthdata.nasa.gov"

#: Host suffixes that receive Earthdata credentials (LP DAAC cloud and on-premises archives).
EARTHDATA_HOSTS: tuple[str, ...] = (
    ".earthdatacloud.nasa.gov",
    ".earthdata.nasa.gov",
    "e4ftl01.cr.usgs.gov",
)


@dataclass(frozen=True)
class EarthdataCredentials:
    """Earthdata Login credentials; ``repr`` and ``str`` never show the secrets.

    Parameters
    ----------
    username, password
        Earthdata Login account.
    token
        An Earthdata bearer token (preferred when present).
    source
        Where they came from (``"environment"`` or ``"netrc:<path>"``), for messages.
    """

    username: str | None = field(default=None, repr=False)
    password: str | None = field(default=None, repr=False)
    token: str | None = field(default=None, repr=False)
    source: str = "explicit"

    def __post_init__(self) -> None:
        if not self.token and not (self.username and self.password):
            raise CatalogError(
                f"Earthdata credentials from {self.source} need a token or a username and password"
            )

    def __repr__(self) -> str:
        kind = "token" if self.token else "username/password"
        return f"EarthdataCredentials(source={self.source!r}, kind={kind!r})"

    __str__ = __repr__


def earthdata_credentials(
    *, environ: Mapping[str, str] | None = None, netrc_path: str | os.PathLike[str] | None = None
) -> EarthdataCredentials | None:
    """Find Earthdata credentials: the environment first, then ``.netrc``; ``None`` if absent.

    Parameters
    ----------
    environ
        Mapping to read instead of ``os.environ``.
    netrc_path
        The netrc file (default: ``$NETRC`` or ``~/.netrc``).

    Raises
    ------
    CatalogError
        Half-given credentials (a username without a password) or an unreadable netrc file. The
        message never contains the secret values.
    """
    env = os.environ if environ is None else environ
    token = env.get("EARTHDATA_TOKEN", "").strip()
    user = env.get("EARTHDATA_USERNAME", "").strip()
    password = env.get("EARTHDATA_PASSWORD", "")
    if token:
        return EarthdataCredentials(token=token, source="environment")
    if user or password:
        if not (user and password):
            raise CatalogError("EARTHDATA_USERNAME and EARTHDATA_PASSWORD must be set together")
        return EarthdataCredentials(username=user, password=password, source="environment")
    path = Path(netrc_path or env.get("NETRC") or Path.home() / ".netrc").expanduser()
    if not path.is_file():
        return None
    try:
        entry = netrc.netrc(str(path)).authenticators(URS_HOST)
    except (netrc.NetrcParseError, OSError) as err:
        # NetrcParseError's text can quote the offending line: report only where it is.
        lineno = getattr(err, "lineno", None)
        where = f" (line {lineno})" if lineno else ""
        raise CatalogError(f"cannot parse the netrc file {path}{where}") from None
    if entry is None:
        return None
    login, _account, secret = entry
    if not login or not secret:
        raise CatalogError(f"the {URS_HOST} entry of {path} needs a login and a password")
    return EarthdataCredentials(username=login, password=secret, source=f"netrc:{path}")


def is_earthdata_href(href: str) -> bool:
    """Whether ``href`` is an HTTPS URL on an Earthdata host (the only ones given credentials)."""
    parts = urlsplit(str(href))
    host = (parts.hostname or "").lower()
    if parts.scheme != "https" or not host:
        return False
    return any(host == h.lstrip(".") or host.endswith(h) for h in EARTHDATA_HOSTS)


_TOKENS: dict[tuple[str, str, str], str] = {}
_TOKENS_LOCK = threading.Lock()


def bearer_token(
    credentials: EarthdataCredentials, *, urs_url: str = f"https://{URS_HOST}", timeout: float = 30
) -> str:
    """The bearer token of ``credentials``: given, or fetched once from Earthdata Login.

    Uses ``POST {urs_url}/api/users/find_or_create_token`` with HTTP basic auth and caches the
    token for the process.

    Raises
    ------
    CatalogError
        Earthdata Login refused the credentials or could not be reached (names the URL only).
    """
    if credentials.token:
        return credentials.token
    assert credentials.username and credentials.password  # checked in __post_init__
    key = (urs_url, credentials.username, credentials.password)
    with _TOKENS_LOCK:
        if key in _TOKENS:
            return _TOKENS[key]
        url = urs_url.rstrip("/") + "/api/users/find_or_create_token"
        try:
            resp = requests.post(
                url, auth=(credentials.username, credentials.password), timeout=timeout
            )
        except requests.RequestException as err:
            raise CatalogError(
                f"Earthdata Login at {redact_url(url)} unreachable ({type(err).__name__})"
            ) from None
        if resp.status_code != 200:
            raise CatalogError(
                f"Earthdata Login at {redact_url(url)} refused the credentials from "
                f"{credentials.source} (HTTP {resp.status_code})"
            )
        try:
            token = str(resp.json()["access_token"])
        except (ValueError, KeyError, TypeError):
            raise CatalogError(
                f"Earthdata Login at {redact_url(url)} sent no access_token"
            ) from None
        _TOKENS[key] = token
        return token


def earthdata_storage_options(
    href: str,
    *,
    credentials: EarthdataCredentials | None = None,
    environ: Mapping[str, str] | None = None,
    urs_url: str = f"https://{URS_HOST}",
) -> dict[str, Any]:
    """fsspec storage options for reading ``href``: Earthdata auth for Earthdata hosts only.

    Returns ``{}`` for other hosts, local paths, or when no credentials are configured (the
    read then fails with the server's 401, named by the reader).

    Parameters
    ----------
    href
        The granule URL.
    credentials
        Explicit credentials; default :func:`earthdata_credentials`.
    environ, urs_url
        For tests: the environment mapping and the Earthdata Login base URL.
    """
    if not is_earthdata_href(href):
        return {}
    creds = credentials or earthdata_credentials(environ=environ)
    if creds is None:
        return {}
    token = bearer_token(creds, urs_url=urs_url)
    return {"headers": {"Authorization": f"Bearer {token}"}}
