"""Publish to a STAC API through the Transactions extension (stac-fastapi-pgstac, ...).

The Collection is created (``POST /collections``) or updated (``PUT /collections/{id}``, merged
with what the API holds: extents only grow, fields added by hand stay); each new or changed
day's Item is upserted (``PUT /collections/{id}/items/{item}``, ``POST`` when absent). The
Collection records the digest of every published day (``lstcloud:day_digests``) and is updated
only after all Items went through, so a rerun upserts nothing that is already there, and an
interrupted run is completed by the next one.

Requests are retried with exponential backoff on connection errors, timeouts and HTTP 5xx.
Credentials come from the environment and are never logged: ``LSTCLOUD_STAC_API_TOKEN``
(sent as ``Authorization: Bearer``) or ``LSTCLOUD_STAC_API_USERNAME`` /
``LSTCLOUD_STAC_API_PASSWORD`` (HTTP basic).
"""

from __future__ import annotations

import copy
import datetime as dt
import logging
import os
import time
from typing import Any

import requests

from lstcloud.errors import LstcloudError, redact_url
from lstcloud.publish.stac import DAY_DIGESTS_FIELD, ITEMS_DIGEST_FIELD, merge_collections

__all__ = ["StacApiError", "api_session", "publish_to_api"]

log = logging.getLogger(__name__)

_LINK_RELS_KEPT = ("license", "cite-as", "about", "describedby", "via")


class StacApiError(LstcloudError):
    """The STAC API refused a request (or stayed unreachable); the message names the URL."""


def api_session() -> requests.Session:
    """A session carrying the API credentials from the environment (never logged)."""
    session = requests.Session()
    token = os.environ.get("LSTCLOUD_STAC_API_TOKEN")
    user = os.environ.get("LSTCLOUD_STAC_API_USERNAME")
    if token:
        session.headers["Authorization"] = f"Bearer {token}"
    elif user:
        session.auth = (user, os.environ.get("LSTCLOUD_STAC_API_PASSWORD", ""))
    session.headers["Accept"] = "application/json"
    return session


def _request(
    session: requests.Session,
    method: str,
    url: str,
    *,
    body: dict[str, Any] | None = None,
    ok: tuple[int, ...] = (200, 201, 204),
    accept: tuple[int, ...] = (),
    retries: int = 4,
    timeout: float = 30.0,
) -> requests.Response:
    """One request, retried on connection errors and 5xx. Returns responses in ok + accept."""
    shown = redact_url(url)
    delay = 0.5
    for attempt in range(retries + 1):
        try:
            response = session.request(method, url, json=body, timeout=timeout)
        except (requests.ConnectionError, requests.Timeout) as exc:
            if attempt == retries:
                raise StacApiError(f"{method} {shown}: unreachable ({type(exc).__name__})") from exc
            log.warning("%s %s: %s; retrying in %.1f s", method, shown, type(exc).__name__, delay)
        else:
            if response.status_code in ok or response.status_code in accept:
                return response
            if response.status_code < 500 or attempt == retries:
                raise StacApiError(
                    f"{method} {shown}: HTTP {response.status_code}: {response.text[:300]}"
                )
            log.warning("%s %s: HTTP %d; retrying in %.1f s", method, shown,
                        response.status_code, delay)
        time.sleep(delay)
        delay *= 2
    raise AssertionError("unreachable")  # pragma: no cover


def _for_api(doc: dict[str, Any]) -> dict[str, Any]:
    """A copy without the static folder's relative links (the API makes its own)."""
    out = copy.deepcopy(doc)
    out["links"] = [
        link
        for link in doc.get("links", [])
        if link.get("rel") in _LINK_RELS_KEPT and "://" in str(link.get("href", ""))
    ]
    return out


def _upsert_item(session: requests.Session, base: str, item: dict[str, Any], **kw: Any) -> None:
    url = f"{base}/collections/{item['collection']}/items/{item['id']}"
    response = _request(session, "PUT", url, body=item, accept=(404,), **kw)
    if response.status_code == 404:
        response = _request(
            session, "POST", f"{base}/collections/{item['collection']}/items", body=item,
            accept=(409,), **kw,
        )
        if response.status_code == 409:  # created meanwhile: update it
            _request(session, "PUT", url, body=item, **kw)


def publish_to_api(
    api_url: str,
    *,
    collection: dict[str, Any],
    items: dict[dt.date, dict[str, Any]],
    retries: int = 4,
    timeout: float = 30.0,
    session: requests.Session | None = None,
) -> tuple[dict[str, Any], list[dt.date]]:
    """Create or update ``collection`` in the API and upsert the new or changed ``items``.

    Parameters
    ----------
    api_url
        Root of the STAC API (``https://stac.example.org``).
    collection
        The Collection (with ``lstcloud:items_digest`` and ``lstcloud:day_digests``).
    items
        Every complete day's Item, by day (each with ``lstcloud:day_digest``).
    retries, timeout
        Retries on connection errors and 5xx (exponential backoff from 0.5 s); seconds per
        request.
    session
        A requests session (default: :func:`api_session`, credentials from the environment).

    Returns
    -------
    tuple
        The Collection as now published, and the days whose Item was upserted.

    Raises
    ------
    StacApiError
        When a request fails for good; nothing already upserted is undone.
    """
    base = api_url.rstrip("/")
    http = session or api_session()
    kw = {"retries": retries, "timeout": timeout}
    cid = collection["id"]
    response = _request(http, "GET", f"{base}/collections/{cid}", accept=(404,), **kw)
    old = response.json() if response.status_code != 404 else None
    fresh = _for_api(collection)
    if old is None:
        first = {**fresh, DAY_DIGESTS_FIELD: {}}  # no day counts as published yet
        _request(http, "POST", f"{base}/collections", body=first, **kw)
        log.info("created the collection %s in %s", cid, redact_url(base))
        known: dict[str, Any] = {}
    else:
        same = old.get(ITEMS_DIGEST_FIELD) == collection.get(ITEMS_DIGEST_FIELD)
        known = dict(old.get(DAY_DIGESTS_FIELD) or {}) if same else {}
    changed = []
    for day, item in sorted(items.items()):
        if known.get(day.isoformat()) == item["properties"].get("lstcloud:day_digest"):
            continue
        _upsert_item(http, base, _for_api(item), **kw)
        changed.append(day)
    final = merge_collections(_for_api(old), fresh) if old is not None else fresh
    final[DAY_DIGESTS_FIELD] = {**known, **collection.get(DAY_DIGESTS_FIELD, {})}
    _request(http, "PUT", f"{base}/collections/{cid}", body=final, **kw)
    log.info("upserted %d item(s) into %s (%d unchanged)", len(changed), redact_url(base),
             len(items) - len(changed))
    return final, changed
