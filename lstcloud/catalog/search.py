"""Search a STAC API for MODIS granules: one :class:`Granule` per (product, tile, day).

Every HTTP request (the root, each search page) is retried with exponential backoff on
connection errors, timeouts, HTTP 429 and 5xx; other 4xx answers are not retried. When the
catalogue stays unreachable, :class:`~lstcloud.errors.CatalogError` names the (redacted) URL.
Pages are fetched with ``POST /search`` (pystac-client's default), following ``next`` links.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import re
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pystac.errors import STACError
from pystac_client import Client
from pystac_client.exceptions import APIError
from pystac_client.stac_api_io import StacApiIO
from pystac_client.warnings import DoesNotConformTo, NoConformsTo

from lstcloud.catalog.providers import ProviderProfile, get_provider, parse_granule_id
from lstcloud.core.backoff import RetryPolicy
from lstcloud.core.dates import as_date
from lstcloud.core.errors import (
    CatalogError,
    CatalogUnavailableError,
    CollectionMismatchWarning,
    ConfigError,
    LstcloudWarning,
)
from lstcloud.core.redact import redact_text, redact_url
from lstcloud.grid import EARTH_RADIUS, Tile
from lstcloud.products import ProductSpec, get_product

__all__ = [
    "EmptySearchWarning",
    "Granule",
    "RetryingStacApiIO",
    "search_granules",
    "tiles_bbox",
]

logger = logging.getLogger(__name__)



class EmptySearchWarning(LstcloudWarning):
    """A search matched no granule (not an error: the caller decides)."""


@dataclass(frozen=True)
class Granule:
    """One product granule of one tile and day (or compositing period).

    Attributes
    ----------
    product
        Product short name, ``"MOD11A1"`` / ``"MYD11A1"``.
    tile
        ``"h18v04"``.
    date
        First day covered.
    end_date
        Last day covered (``date`` for daily products).
    item_id
        The STAC item id.
    href
        The whole HDF4 granule URL (``lpcloud``), or asset key -> COG href (Planetary Computer),
        signed when the provider requires it.
    provider
        Provider profile name.
    collection
        STAC collection id.
    """

    product: str
    tile: str
    date: dt.date
    end_date: dt.date
    item_id: str
    href: str | Mapping[str, str]
    provider: str
    collection: str

    def __repr__(self) -> str:
        href = redact_url(self.href) if isinstance(self.href, str) else repr(self.href)
        return (
            f"Granule({self.product} {self.tile} {self.date}..{self.end_date} "
            f"item={self.item_id!r} provider={self.provider!r} href={href})"
        )


def granule_collection(granule: Granule) -> str | None:
    """The MODIS collection of the granule itself (``"006"``, ``"061"``), from its name."""
    parsed = parse_granule_id(granule.item_id)
    return str(parsed["collection"]) if parsed and parsed.get("collection") else None


def _collection_version(collection: str) -> str | None:
    """The MODIS collection a STAC collection id names (``MOD11A1_061``, ``modis-11A1-061``)."""
    match = re.search(r"(?:^|\D)(\d{3})$", collection)
    return match.group(1) if match else None


def collection_mismatches(granules: Iterable[Granule]) -> dict[tuple[str, str, str], list[str]]:
    """``{(product, granule collection, STAC collection): item ids}`` of the granules whose own
    collection (their name's ``.006.``) is not the one their STAC collection is for."""
    out: dict[tuple[str, str, str], list[str]] = {}
    for granule in granules:
        own, filed = granule_collection(granule), _collection_version(granule.collection)
        if own and filed and own != filed:
            out.setdefault((granule.product, own, granule.collection), []).append(granule.item_id)
    return out


def warn_collection_mismatch(granules: Iterable[Granule]) -> None:
    """One :class:`~lstcloud.core.errors.CollectionMismatchWarning` per product and collection
    for granules filed under another collection (a collection-006 granule under ``_061``)."""
    for (product, own, filed), items in sorted(collection_mismatches(granules).items()):
        warnings.warn(
            CollectionMismatchWarning(
                f"{len(items)} {product} granule(s) of collection {own} (e.g. {items[0]}) are "
                f"filed under the STAC collection {filed}: they are ingested as they are, and "
                "their ingest records name their collection"
            ),
            stacklevel=3,
        )


def _redact_text(text: str, limit: int = 300) -> str:
    """One line of ``text``, credentials masked (:func:`~lstcloud.core.redact.redact_text`)."""
    return redact_text(" ".join(str(text).split()), limit=limit)


class _RedactingFilter(logging.Filter):
    """Masks signed query strings and Authorization headers in third-party debug logs.

    pystac-client logs every request's URL and headers at DEBUG and urllib3 its request lines;
    a STAC URL carrying a token must not reach a log file through them.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a malformed third-party record: leave it alone
            return True
        record.msg, record.args = _redact_text(message, limit=4000), ()
        return True


for _name in ("pystac_client.stac_api_io", "urllib3.connectionpool"):
    if not any(isinstance(f, _RedactingFilter) for f in logging.getLogger(_name).filters):
        logging.getLogger(_name).addFilter(_RedactingFilter())


def _status(err: APIError) -> int | None:
    status = getattr(err, "status_code", None)
    return int(status) if status is not None else None


def _retryable(err: APIError) -> bool:
    status = _status(err)
    return status is None or status == 429 or status >= 500


class RetryingStacApiIO(StacApiIO):
    """pystac-client I/O that retries each request with exponential backoff.

    Retries connection errors, timeouts (``status_code`` unset), HTTP 429 and 5xx up to
    ``max_retries`` times, sleeping ``backoff * 2**attempt`` seconds (capped at
    ``max_backoff``, with +-10 % jitter) in between. Other HTTP errors are raised at once.
    """

    def __init__(
        self,
        *,
        max_retries: int = 4,
        backoff: float = 0.5,
        max_backoff: float = 30.0,
        timeout: float | None = 30.0,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(headers=headers, timeout=timeout, max_retries=None)
        if max_retries < 0:
            raise ConfigError(f"max_retries must be >= 0, got {max_retries}")
        self.max_retries = int(max_retries)
        self.backoff = float(backoff)
        self.max_backoff = float(max_backoff)
        self.policy = RetryPolicy(
            attempts=self.max_retries + 1,
            base=self.backoff,
            cap=self.max_backoff,
            jitter=0.1,
            retryable=lambda err: isinstance(err, APIError) and _retryable(err),
            logger=logger.name,
            level=logging.INFO,  # the final CatalogError says what happened, once
        )
        self.attempts = 0  # requests sent, retries included (for diagnostics and tests)

    def request(
        self,
        href: str,
        method: str | None = None,
        headers: dict[str, str] | None = None,
        parameters: dict[str, Any] | None = None,
    ) -> str:
        """Send one request, retrying transient failures (see the class docstring)."""

        def send() -> str:
            self.attempts += 1
            return super(RetryingStacApiIO, self).request(
                href, method=method, headers=headers, parameters=parameters
            )

        what = f"STAC request {(method or 'GET').upper()} {redact_url(href)}"
        return self.policy.run(send, what=what).unwrap()


def _tile_id(tile: Any) -> str:
    try:
        return Tile.parse(tile).id
    except ConfigError as err:
        raise ConfigError(f"tiles: bad MODIS tile {str(tile)!r}: {err}") from None


def tiles_bbox(tiles: Iterable[Any]) -> tuple[float, float, float, float]:
    """Longitude/latitude bounding box (W, S, E, N) covering the given MODIS tiles.

    Sinusoidal tiles are not rectangles in lon/lat: the box spans each tile's widest extent
    (at its pole-ward edge), clipped to the globe.
    """
    west, south, east, north = 180.0, 90.0, -180.0, -90.0
    for tile in tiles:
        x0, y0, x1, y1 = Tile.parse(_tile_id(tile)).bounds
        lat0, lat1 = math.degrees(y0 / EARTH_RADIUS), math.degrees(y1 / EARTH_RADIUS)
        south, north = min(south, lat0), max(north, lat1)
        for lat in (lat0, lat1, 0.0 if lat0 < 0 < lat1 else lat0):
            cos = math.cos(math.radians(lat))
            if cos < 1e-9:
                west, east = -180.0, 180.0
                continue
            for x in (x0, x1):
                lon = math.degrees(x / (EARTH_RADIUS * cos))
                west, east = min(west, max(-180.0, lon)), max(east, min(180.0, lon))
    return (
        round(west, 6) + 0.0,
        round(max(-90.0, south), 6),
        round(east, 6),
        round(min(90.0, north), 6),
    )


def _production(item: Mapping[str, Any]) -> str:
    parsed = parse_granule_id(str(item.get("id", "")))
    stamp = (parsed or {}).get("production") or ""
    props = item.get("properties") or {}
    return f"{stamp}|{props.get('updated') or props.get('created') or ''}"


def _open_client(url: str, io: RetryingStacApiIO, modifier: Callable[[Any], None] | None) -> Client:
    try:
        with warnings.catch_warnings():
            # a catalogue without conformance classes fails below with a clearer CatalogError
            warnings.simplefilter("ignore", NoConformsTo)
            return Client.open(url, stac_io=io, modifier=modifier, timeout=io.timeout)
    except APIError as err:
        raise _catalog_error(url, err, io) from None
    except (NotImplementedError, ValueError, KeyError, STACError) as err:
        raise CatalogError(
            f"{redact_url(url)} is not a STAC API with item search: {_redact_text(str(err))}"
        ) from None


def _catalog_error(url: str, err: APIError, io: RetryingStacApiIO) -> CatalogError:
    status = _status(err)
    attempts = io.max_retries + 1
    if _retryable(err) and status:  # the server answered, with an error each time
        kind = "too many requests" if status == 429 else "server error"
        return CatalogUnavailableError(
            f"the STAC catalogue {redact_url(url)} answered HTTP {status} ({kind}) "
            f"{attempts} times"
        )
    if _retryable(err):
        return CatalogUnavailableError(
            f"the STAC catalogue {redact_url(url)} was unreachable {attempts} times: "
            f"{_redact_text(str(err))}"
        )
    return CatalogError(
        f"STAC catalogue {redact_url(url)} rejected the request (HTTP {status}): "
        f"{_redact_text(str(err))}"
    )


def search_granules(
    *,
    provider: str | ProviderProfile,
    stac_url: str | None,
    products: Sequence[str | ProductSpec] | str,
    tiles: Sequence[Any] | None = None,
    bbox: Sequence[float] | None = None,
    start: dt.date | str,
    end: dt.date | str,
    max_retries: int = 4,
    timeout: float = 30.0,
    modifier: Callable[[Any], None] | None = None,
    page_size: int = 100,
    backoff: float = 0.5,
    sign: bool = True,
) -> list[Granule]:
    """Find the granules of ``products`` over ``tiles`` (or ``bbox``) between two days.

    Parameters
    ----------
    provider
        ``"planetary-computer"`` or ``"lpcloud"`` (or a :class:`ProviderProfile`).
    stac_url
        STAC API root; ``None`` uses the provider's public API.
    products
        Product short names (``"MOD11A1"``, ``"MYD11A1"``, ``"MOD13Q1"`` ...).
    tiles
        Tile ids (``"h18v04"``) or :class:`lstcloud.grid.Tile` objects; items of other tiles
        are dropped. The server is queried with the bounding box of these tiles.
    bbox
        ``(W, S, E, N)`` in degrees, used when ``tiles`` is ``None``: every tile found is kept.
    start, end
        Inclusive day range; an item whose period overlaps it is returned.
    max_retries
        Retries per HTTP request on connection errors, timeouts, 429 and 5xx.
    timeout
        Seconds per HTTP request.
    modifier
        A pystac-client ``modifier`` applied to every page of results before use. Provider
        signing of the granule hrefs happens anyway.
    page_size
        Items per search page (the ``limit`` parameter).
    backoff
        First retry delay in seconds (doubles with each retry).
    sign
        Sign the hrefs now (Planetary Computer). Long runs can pass ``False`` and sign each
        href with ``get_provider(provider).sign(href)`` right before reading it, since SAS
        tokens expire after about an hour.

    Returns
    -------
    list of Granule
        Sorted by (date, tile, product); one per (product, tile, date): if the catalogue holds
        several versions of a granule the most recently produced one wins. Empty (with an
        :class:`EmptySearchWarning`) when nothing matched.

    Raises
    ------
    CatalogError
        The catalogue was unreachable after the retries, or rejected the search; names the URL.
    ConfigError
        Bad arguments (unknown provider or product, a product the provider does not serve,
        bad tile id, ``start`` after ``end``, neither ``tiles`` nor ``bbox``).
    """
    profile = get_provider(provider)
    url = (stac_url or profile.default_url).rstrip("/")
    specs = [get_product(p) for p in ([products] if isinstance(products, str) else products)]
    if not specs:
        raise ConfigError("products: give at least one product")
    start_d, end_d = as_date(start, field="start"), as_date(end, field="end")
    if start_d > end_d:
        raise ConfigError(f"start {start_d} is after end {end_d}")
    wanted_tiles, query_bbox = _search_area(tiles, bbox)
    if page_size < 1:
        raise ConfigError(f"page_size must be >= 1, got {page_size}")
    collections = {spec.name: profile.collection(spec) for spec in specs}

    io = RetryingStacApiIO(max_retries=max_retries, backoff=backoff, timeout=timeout)
    client = _open_client(url, io, modifier)
    datetime_range = f"{start_d.isoformat()}T00:00:00Z/{end_d.isoformat()}T23:59:59Z"
    best: dict[tuple[str, str, dt.date], tuple[str, Granule]] = {}
    for collection in sorted(set(collections.values())):
        names = {name for name, coll in collections.items() if coll == collection}
        search = {"bbox": list(query_bbox), "datetime": datetime_range, "limit": page_size}
        items = _search_items(client, url, io, collection, search)
        for item in items:
            granule = _granule(
                profile, item, collection, names, wanted_tiles, start_d, end_d, sign=sign
            )
            if granule is None:
                continue
            key = (granule.product, granule.tile, granule.date)
            rank = _production(item)
            if key not in best or rank > best[key][0]:
                best[key] = (rank, granule)
    granules = sorted((g for _, g in best.values()), key=lambda g: (g.date, g.tile, g.product))
    warn_collection_mismatch(granules)
    if not granules:
        where = f"tiles {sorted(wanted_tiles)}" if wanted_tiles else f"bbox {list(query_bbox)}"
        warnings.warn(
            EmptySearchWarning(
                f"no {', '.join(s.name for s in specs)} granule at {redact_url(url)} for {where} "
                f"between {start_d} and {end_d}"
            ),
            stacklevel=2,
        )
    return granules


def _search_area(
    tiles: Sequence[Any] | None, bbox: Sequence[float] | None
) -> tuple[set[str] | None, Sequence[float]]:
    """The tiles to keep (``None``: all) and the lon/lat box to query."""
    if tiles is not None:
        wanted_tiles = {_tile_id(t) for t in tiles}
        if not wanted_tiles:
            raise ConfigError("tiles: give at least one tile")
        return wanted_tiles, tiles_bbox(wanted_tiles)
    if bbox is not None:
        query_bbox = [float(b) for b in bbox]
        if len(query_bbox) != 4 or query_bbox[0] > query_bbox[2] or query_bbox[1] > query_bbox[3]:
            raise ConfigError(f"bbox must be (W, S, E, N) with W <= E and S <= N, got {bbox!r}")
        return None, query_bbox
    raise ConfigError("give tiles or bbox")


def _search_items(
    client: Client, url: str, io: RetryingStacApiIO, collection: str, search: dict[str, Any]
) -> list[dict[str, Any]]:
    """Every item of ``collection`` matching ``search`` (all pages), as dicts."""
    try:
        found = client.search(collections=[collection], max_items=None, **search)
        items = list(found.items_as_dicts())
    except APIError as err:
        raise _catalog_error(url, err, io) from None
    except (NotImplementedError, DoesNotConformTo) as err:
        raise CatalogError(
            f"{redact_url(url)} does not support STAC item search: {_redact_text(str(err))}"
        ) from None
    except (ValueError, STACError) as err:  # a 200 that is not JSON (a proxy's HTML page)
        raise CatalogError(
            f"STAC catalogue {redact_url(url)} answered the search for {collection} with "
            f"something that is not STAC JSON: {_redact_text(str(err), 160)}"
        ) from None
    where, when = redact_url(url), search["datetime"]
    logger.info("STAC %s: %d items in %s for %s", where, len(items), collection, when)
    return items


def _granule(
    profile: ProviderProfile,
    item: Mapping[str, Any],
    collection: str,
    names: set[str],
    wanted_tiles: set[str] | None,
    start: dt.date,
    end: dt.date,
    *,
    sign: bool,
) -> Granule | None:
    item_id = str(item.get("id", ""))
    product = profile.item_product(item)
    if product is None or product not in names:
        return None
    tile = profile.item_tile(item)
    if tile is None or (wanted_tiles is not None and tile not in wanted_tiles):
        return None
    dates = profile.item_dates(item)
    if dates is None:
        logger.warning("STAC item %s has no datetime; skipped", item_id)
        return None
    first, last = dates
    if last < start or first > end:
        return None
    return Granule(
        product=product,
        tile=tile,
        date=first,
        end_date=last,
        item_id=item_id,
        href=profile.granule_href(item, product, sign=sign),
        provider=profile.name,
        collection=str(item.get("collection") or collection),
    )
