"""A granule's own date and tile, and their cross-check.

A granule states its acquisition (or compositing-period start) date and its tile several times:
in its file name (``MOD11A1.A2019305.h14v09.061....hdf``), in its HDF-EOS ``CoreMetadata.0``
(``RANGEBEGINNINGDATE``, ``HORIZONTALTILENUMBER`` / ``VERTICALTILENUMBER``) and, for the tile, in
its grid's corner coordinates. :func:`granule_identity` reads them all and refuses a granule whose
statements disagree, so that the readers' ``date`` and ``tile`` attributes are the granule's own,
never the catalogue's: the ingest compares them with the (day, tile) it writes.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping

from affine import Affine

from lstcloud.errors import GranuleReadError, redact_url

__all__ = ["granule_identity", "tile_from_name"]

_GRANULE_TILE = re.compile(r"\.(h\d{2}v\d{2})\.", re.IGNORECASE)


def tile_from_name(name: str) -> str | None:
    """The tile id in a MODIS file name (``.h14v09.`` -> ``"h14v09"``), or ``None``."""
    m = _GRANULE_TILE.search(name)
    return m.group(1).lower() if m else None


def granule_identity(
    href: str,
    *,
    core: Mapping[str, object] | None = None,
    transform: Affine | None = None,
) -> tuple[dt.date | None, str | None]:
    """The granule's own ``(date, tile)``, from its metadata, grid and file name.

    Parameters
    ----------
    href
        The granule's path or URL (its last path element is the file name).
    core
        :func:`lstcloud.readers.hdf4.parse_core_metadata` of the file, if any (``start_date``,
        ``h``, ``v``).
    transform
        The affine transform of the granule's grid (a whole MODIS tile gives its tile).

    Returns
    -------
    tuple
        The date (metadata first, else the file name) and tile id (metadata, else the grid,
        else the file name); ``None`` where no source states it.

    Raises
    ------
    GranuleReadError
        Two sources disagree (e.g. a file named ``.A2019305.`` whose metadata says 2019-11-03,
        or metadata tile h18v04 on a grid at h14v09); the message names the href.
    """
    from lstcloud.readers.decode import date_from_name, tile_from_transform

    core = core or {}
    name = str(href).split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1]
    label = redact_url(str(href))

    dates: dict[str, dt.date] = {}
    start = core.get("start_date")
    if isinstance(start, dt.date):
        dates["its CoreMetadata.0 RANGEBEGINNINGDATE"] = start
    named = date_from_name(name)
    if named is not None:
        dates[f"its file name (.A{named:%Y%j}.)"] = named

    tiles: dict[str, str] = {}
    h, v = core.get("h"), core.get("v")
    if isinstance(h, int) and isinstance(v, int):
        tiles["its CoreMetadata.0 tile numbers"] = f"h{h:02d}v{v:02d}"
    if transform is not None:
        grid_tile = tile_from_transform(transform)
        if grid_tile is not None:
            tiles["its grid corner coordinates"] = grid_tile
    named_tile = tile_from_name(name)
    if named_tile is not None:
        tiles["its file name"] = named_tile

    for what, found in (("date", dates), ("tile", tiles)):
        if len(set(found.values())) > 1:
            said = "; ".join(f"{source} says {value}" for source, value in found.items())
            raise GranuleReadError(f"{label}: the granule states two different {what}s: {said}")
    date = next(iter(dates.values()), None)
    tile = next(iter(tiles.values()), None)
    return date, tile
