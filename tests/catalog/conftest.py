"""Fixtures of the catalogue tests: STAC items shaped like PC's and CMR's, served by rustac."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest

from lstcloud.products import get_product
from lstcloud.samples.stac import cmr_collection, cmr_item, pc_collection, pc_item
from lstcloud.stacserver import StacServer

DAYS = [dt.date(2020, 7, 1) + dt.timedelta(days=i) for i in range(12)]
PC_TILES = ("h18v04", "h19v04", "h18v05")
CMR_TILES = ("h18v04", "h19v04")
#: An older production of MOD11A1 h18v04 2020-07-03 that the search must drop.
OLD_DUPLICATE = "MOD11A1.A2020185.h18v04.061.2020186000000"


def _cogs(product: str, item_id: str) -> dict[str, str]:
    spec = get_product(product)
    keys = spec.asset_keys("planetary-computer").values()
    return {key: f"/srv/modis-061-cogs/{item_id}_{key}.tif" for key in keys}


def make_pc_items() -> list[dict[str, Any]]:
    """PC items: MOD11A1 and MYD11A1 (one collection), 3 tiles x 12 days, MOD13Q1 composites."""
    items = []
    for product in ("MOD11A1", "MYD11A1"):
        for tile in PC_TILES:
            for day in DAYS:
                draft = pc_item(product, tile, day, cog_hrefs={})
                items.append(
                    pc_item(
                        product,
                        tile,
                        day,
                        cog_hrefs=_cogs(product, draft["id"]),
                        hdf_href=f"/srv/modis-061/{draft['id']}.hdf",
                        metadata_href=f"/srv/modis-061/{draft['id']}.hdf.xml",
                        cloud_cover=20,
                    )
                )
    old = pc_item(
        "MOD11A1",
        "h18v04",
        dt.date(2020, 7, 3),
        cog_hrefs=_cogs("MOD11A1", OLD_DUPLICATE),
        production="2020186000000",
    )
    items.append(old)
    for day in (dt.date(2020, 6, 25), dt.date(2020, 7, 11)):  # 16-day periods 177 and 193
        draft = pc_item("MOD13Q1", "h18v04", day, cog_hrefs={})
        items.append(pc_item("MOD13Q1", "h18v04", day, cog_hrefs=_cogs("MOD13Q1", draft["id"])))
    return items


def make_cmr_items() -> list[dict[str, Any]]:
    """CMR-STAC items: MOD11A1_061, 2 tiles x 12 days, whole HDF4 granules."""
    items = []
    for tile in CMR_TILES:
        for day in DAYS:
            draft = cmr_item("MOD11A1", tile, day, data_href="/x")
            gid = draft["id"]
            items.append(
                cmr_item(
                    "MOD11A1",
                    tile,
                    day,
                    data_href=f"https://data.lpdaac.earthdatacloud.nasa.gov/lp-prod-protected/"
                    f"MOD11A1.061/{gid}/{gid}.hdf",
                    browse_href=f"/srv/lp-prod-public/BROWSE.{gid}.1.jpg",
                    metadata_href=f"/srv/lp-prod-protected/{gid}.cmr.xml",
                )
            )
    return items


@pytest.fixture(scope="module")
def stac_api() -> Iterator[StacServer]:
    """One rustac server holding the PC and CMR collections and items above."""
    pc_items, cmr_items = make_pc_items(), make_cmr_items()
    collections = [
        pc_collection("MOD11A1", [i for i in pc_items if i["collection"] == "modis-11A1-061"]),
        pc_collection("MOD13Q1", [i for i in pc_items if i["collection"] == "modis-13Q1-061"]),
        cmr_collection("MOD11A1", cmr_items),
    ]
    with StacServer(collections, pc_items + cmr_items) as server:
        yield server
