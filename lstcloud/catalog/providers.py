"""STAC provider profiles: where each product lives and how its items are read.

Two providers serve MODIS collection 6.1:

``planetary-computer``
    Microsoft Planetary Computer (``https://planetarycomputer.microsoft.com/api/stac/v1``).
    Collections ``modis-11A1-061``, ``modis-09Q1-061``, ``modis-13Q1-061`` ... hold both Terra
    (``MOD*``) and Aqua (``MYD*``) items; one Cloud-Optimized GeoTIFF per SDS, keyed by the SDS
    name (spaces as underscores), plus the whole ``hdf``. Hrefs point to Azure Blob Storage and
    must be signed with a SAS token (the ``planetary-computer`` package); hrefs on ``localhost``
    and ``127.0.0.1`` (test and demo servers) are left alone.
``lpcloud``
    NASA CMR-STAC, provider LPCLOUD (``https://cmr.earthdata.nasa.gov/stac/LPCLOUD``).
    Collections ``SHORTNAME_061`` (``MOD21A1D_061``, ``MOD09GQ_061`` ...); the whole HDF4 granule
    in asset ``data``; downloads need Earthdata Login (:mod:`lstcloud.catalog.auth`).

Item properties differ: PC items carry ``modis:horizontal-tile`` / ``modis:vertical-tile``
(``modis:tile-id`` is an 8-digit code such as ``51019002``, not ``h19v02``) and ``datetime:
null`` with ``start_datetime`` / ``end_datetime``; CMR items only carry the granule name (item id
``MOD11A1.A2019305.h14v09.061.2019306084028``), ``datetime`` and the start/end pair.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Literal
from urllib.parse import urlsplit

from lstcloud.catalog.auth import earthdata_storage_options
from lstcloud.core.errors import CatalogError, ConfigError
from lstcloud.core.redact import redact_url
from lstcloud.products import ProductSpec, get_product

__all__ = [
    "PROVIDERS",
    "AssetHrefs",
    "ProviderProfile",
    "get_provider",
    "is_local_href",
    "parse_granule_id",
]

_LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1", "[::1]"})

#: ``MOD11A1.A2019305.h14v09.061.2019306084028`` (the production stamp is optional).
_GRANULE_RE = re.compile(
    r"(?P<product>M[OY]D[0-9A-Z]+)\.A(?P<year>\d{4})(?P<doy>\d{3})\."
    r"h(?P<h>\d{2})v(?P<v>\d{2})\.(?P<collection>\d{3})(?:\.(?P<production>\d{13}))?"
)


class AssetHrefs(Mapping[str, str]):
    """An immutable, hashable and picklable mapping asset key -> href.

    What :class:`~lstcloud.catalog.Granule` carries for COG providers: it travels to Dask
    workers (pickle) and keeps ``Granule`` hashable, which ``dict`` and ``MappingProxyType`` do
    not. Its ``repr`` redacts signed query strings.
    """

    __slots__ = ("_items",)

    def __init__(self, hrefs: Mapping[str, str] | None = None) -> None:
        self._items: tuple[tuple[str, str], ...] = tuple(
            sorted((str(k), str(v)) for k, v in (hrefs or {}).items())
        )

    def __getitem__(self, key: str) -> str:
        for k, v in self._items:
            if k == key:
                return v
        raise KeyError(key)

    def __iter__(self) -> Iterator[str]:
        return (k for k, _ in self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __hash__(self) -> int:
        return hash(self._items)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Mapping):
            return dict(self._items) == dict(other)
        return NotImplemented

    def __getstate__(self) -> tuple[tuple[str, str], ...]:
        return self._items

    def __setstate__(self, state: tuple[tuple[str, str], ...]) -> None:
        self._items = state

    def __repr__(self) -> str:
        inner = ", ".join(f"{k!r}: {redact_url(v)!r}" for k, v in self._items)
        return f"AssetHrefs({{{inner}}})"


def parse_granule_id(name: str) -> dict[str, Any] | None:
    """Parse a MODIS granule name (item id or file name); ``None`` if it is not one.

    Returns
    -------
    dict or None
        ``product`` ("MOD11A1"), ``date`` (datetime.date), ``tile`` ("h14v09"),
        ``collection`` ("061") and ``production`` (the 13-digit stamp or ``None``).
    """
    match = _GRANULE_RE.search(str(name))
    if match is None:
        return None
    year, doy = int(match["year"]), int(match["doy"])
    return {
        "product": match["product"],
        "date": dt.date(year, 1, 1) + dt.timedelta(days=doy - 1),
        "tile": f"h{match['h']}v{match['v']}",
        "collection": match["collection"],
        "production": match["production"],
    }


def is_local_href(href: str) -> bool:
    """Whether ``href`` is a local path or a URL on this machine (never signed)."""
    parts = urlsplit(str(href))
    if parts.scheme in ("", "file") or len(parts.scheme) == 1:  # "C:\\..." on Windows
        return True
    return (parts.hostname or "").lower() in _LOCAL_HOSTS


def _parse_item_name(item: Mapping[str, Any]) -> dict[str, Any] | None:
    """The granule name fields of ``item``: from its id, else from an asset file name."""
    parsed = parse_granule_id(str(item.get("id", "")))
    if parsed is None:
        for asset in (item.get("assets") or {}).values():
            parsed = parse_granule_id(str(asset.get("href", "")).rsplit("/", 1)[-1])
            if parsed is not None:
                break
    return parsed


def _parse_time(value: Any) -> dt.datetime | None:
    if not value:
        return None
    text = str(value).replace("Z", "+00:00")
    try:
        return dt.datetime.fromisoformat(text)
    except ValueError:
        return None


@dataclass(frozen=True)
class ProviderProfile:
    """How one STAC provider serves MODIS.

    Parameters
    ----------
    name
        ``"planetary-computer"`` or ``"lpcloud"``.
    title
        Human-readable name.
    default_url
        The public STAC API root.
    asset_layout
        ``"cog"`` (one COG per SDS, keyed by SDS name) or ``"hdf"`` (one whole HDF4 granule).
    signs_hrefs
        Whether non-local hrefs are signed with a Planetary Computer SAS token.
    earthdata_auth
        Whether downloads need Earthdata Login.
    """

    name: str
    title: str
    default_url: str
    asset_layout: Literal["cog", "hdf"]
    signs_hrefs: bool = False
    earthdata_auth: bool = False

    # ------------------------------------------------------------------ collections
    def collection(self, product: str | ProductSpec) -> str:
        """The STAC collection id of ``product`` at this provider.

        Raises
        ------
        ConfigError
            The provider does not serve the product.
        """
        return get_product(product).collection(self.name)

    # ------------------------------------------------------------------ hrefs
    def sign(self, href: str) -> str:
        """Return ``href`` ready to read: SAS-signed for Planetary Computer blob URLs.

        Local paths and URLs on ``localhost`` / ``127.0.0.1`` are returned unchanged, so tests
        and the demo never contact the signing service.
        """
        if not self.signs_hrefs or is_local_href(href):
            return href
        import planetary_computer  # a network call (cached token) per storage container

        try:
            return str(planetary_computer.sign_url(href))
        except Exception as err:  # requests / pydantic errors of the SAS token service
            raise CatalogError(
                f"could not sign {redact_url(href)} with the Planetary Computer SAS token "
                f"service ({type(err).__name__})"
            ) from None

    def storage_options(self, href: str) -> dict[str, Any]:
        """fsspec storage options to read ``href`` (Earthdata auth on Earthdata hosts only)."""
        if self.earthdata_auth:
            return earthdata_storage_options(href)
        return {}

    # ------------------------------------------------------------------ items
    def item_product(self, item: Mapping[str, Any]) -> str | None:
        """The product short name of ``item`` (``"MYD11A1"``) from its id or asset names."""
        parsed = _parse_item_name(item)
        return None if parsed is None else str(parsed["product"])

    def item_tile(self, item: Mapping[str, Any]) -> str | None:
        """The tile id (``"h18v04"``) of ``item``; ``None`` if it cannot be told."""
        props = item.get("properties") or {}
        h, v = props.get("modis:horizontal-tile"), props.get("modis:vertical-tile")
        if h is not None and v is not None:
            return f"h{int(h):02d}v{int(v):02d}"
        parsed = _parse_item_name(item)
        return None if parsed is None else str(parsed["tile"])

    def item_dates(self, item: Mapping[str, Any]) -> tuple[dt.date, dt.date] | None:
        """First and last day covered by ``item`` (UTC); ``None`` if it has no time.

        An ``end_datetime`` at exactly 00:00 of a later day (an exclusive end) counts as the
        previous day.
        """
        props = item.get("properties") or {}
        start = _parse_time(props.get("start_datetime")) or _parse_time(props.get("datetime"))
        if start is None:
            parsed = parse_granule_id(str(item.get("id", "")))
            if parsed is None:
                return None
            return parsed["date"], parsed["date"]
        end = _parse_time(props.get("end_datetime")) or start
        start_utc = start.astimezone(dt.UTC) if start.tzinfo else start
        end_utc = end.astimezone(dt.UTC) if end.tzinfo else end
        end_date = end_utc.date()
        if end_utc > start_utc and end_utc.time() == dt.time(0) and end_date > start_utc.date():
            end_date -= dt.timedelta(days=1)
        return start_utc.date(), max(end_date, start_utc.date())

    def granule_href(
        self, item: Mapping[str, Any], product: str | ProductSpec, *, sign: bool = True
    ) -> str | AssetHrefs:
        """What the reader opens for ``item``: the HDF4 URL or ``{asset key: COG href}``.

        COG providers give the signed hrefs of the product's SDS assets the item has (a missing
        one is reported as :class:`~lstcloud.errors.MissingAssetError` naming the item and the
        asset key by the ingest, or the asset key by the reader). An HDF item without its
        ``data`` asset gives an empty mapping, reported the same way ("item ... has no 'data'
        asset"). ``sign=False`` leaves the hrefs unsigned (sign them with :meth:`sign` right
        before reading: Planetary Computer SAS tokens expire after about an hour).
        """
        spec = get_product(product)
        signer = self.sign if sign else str
        assets = item.get("assets") or {}
        if self.asset_layout == "cog":
            hrefs = {}
            for key in spec.asset_keys(self.name).values():
                if key in assets and assets[key].get("href"):
                    hrefs[key] = signer(str(assets[key]["href"]))
            return AssetHrefs(hrefs)
        key = spec.asset_key(spec.stored_variables[0], self.name)
        asset = assets.get(key)
        if asset is None or not asset.get("href"):
            return AssetHrefs()
        return signer(str(asset["href"]))


#: The provider profiles by name.
PROVIDERS: Mapping[str, ProviderProfile] = MappingProxyType(
    {
        "planetary-computer": ProviderProfile(
            name="planetary-computer",
            title="Microsoft Planetary Computer",
            default_url="https://planetarycomputer.microsoft.com/api/stac/v1",
            asset_layout="cog",
            signs_hrefs=True,
        ),
        "lpcloud": ProviderProfile(
            name="lpcloud",
            title="NASA CMR-STAC, LP DAAC cloud (LPCLOUD)",
            default_url="https://cmr.earthdata.nasa.gov/stac/LPCLOUD",
            asset_layout="hdf",
            earthdata_auth=True,
        ),
    }
)


def get_provider(name: str | ProviderProfile) -> ProviderProfile:
    """Return the profile of provider ``name``.

    Raises
    ------
    ConfigError
        Unknown provider.
    """
    if isinstance(name, ProviderProfile):
        return name
    try:
        return PROVIDERS[str(name).strip().lower()]
    except KeyError:
        raise ConfigError(
            f"unknown STAC provider {name!r} (known: {', '.join(PROVIDERS)})"
        ) from None
