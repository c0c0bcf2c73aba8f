"""build_sample_catalog: real-format files + STAC JSON shaped like the real PC / CMR examples."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np
import pytest

from lstcloud.catalog import search_granules
from lstcloud.readers import read_granule
from lstcloud.samples.stac import build_sample_catalog
from lstcloud.stacserver import StacServer

DAYS = [dt.date(2021, 6, 1), dt.date(2021, 6, 2)]

# every build uses seed 0 and the same tile/days: the landscapes are computed once (cached)
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def pc_sample(tmp_path_factory):
    root = tmp_path_factory.mktemp("pc")
    return build_sample_catalog(
        root, provider="planetary-computer", tiles=["h18v04"], dates=DAYS[:1], products=["MOD11A1"]
    )


@pytest.fixture(scope="module")
def cmr_sample(tmp_path_factory):
    root = tmp_path_factory.mktemp("cmr")
    return build_sample_catalog(
        root, provider="lpcloud", tiles=["h18v04"], dates=DAYS, products=["MOD11A1"]
    )


@pytest.fixture(scope="module")
def real_pc_item(shared_data):
    path = shared_data / "stac_examples/stactools-modis/modis-11A1-061"
    return json.loads((path / "MOD11A1.A2022041.h19v02.061.json").read_text())


@pytest.fixture(scope="module")
def real_pc_template(shared_data):
    path = shared_data / "stac_examples/planetary-computer-tasks/modis-11A1-061_template.json"
    return json.loads(path.read_text())


@pytest.fixture(scope="module")
def real_cmr_item(shared_data):
    path = shared_data / "stac_examples/nasa-cmr-stac-tests/lpdaac_cloud_gran.json"
    return json.loads(path.read_text())


def test_pc_items_have_the_real_items_shape(pc_sample, real_pc_item):
    assert len(pc_sample.items) == 1
    item = pc_sample.items[0]
    assert set(item) == set(real_pc_item)
    assert set(item["properties"]) == set(real_pc_item["properties"])
    assert item["stac_extensions"] == real_pc_item["stac_extensions"]
    assert item["properties"]["datetime"] is None
    assert item["properties"]["proj:wkt2"] == real_pc_item["properties"]["proj:wkt2"]
    assert item["properties"]["modis:tile-id"] == "51018004"
    assert item["collection"] == "modis-11A1-061"
    assert item["id"].startswith("MOD11A1.A2021152.h18v04.061.")
    for key in ("hdf", "metadata", "LST_Day_1km", "QC_Day", "Day_view_time"):
        mine, real = dict(item["assets"][key]), dict(real_pc_item["assets"][key])
        mine.pop("href"), real.pop("href")
        if key == "Day_view_time":  # our title is the SDS long_name
            mine.pop("title"), real.pop("title")
        assert mine == real, key


def test_pc_collection_like_the_pc_template(pc_sample, real_pc_template):
    (coll,) = pc_sample.collections
    for key in ("type", "id", "stac_version", "license", "extent", "providers", "item_assets"):
        assert key in coll
    assert coll["id"] == real_pc_template["id"]
    assert coll["item_assets"]["LST_Day_1km"] == real_pc_template["item_assets"]["LST_Day_1km"]
    assert coll["extent"]["temporal"]["interval"] == [
        ["2021-06-01T00:00:00Z", "2021-06-01T23:59:59Z"]
    ]
    assert pc_sample.collection_files == [pc_sample.collections_path / "modis-11A1-061.json"]


def test_cmr_items_have_the_cmr_shape(cmr_sample, real_cmr_item):
    item = cmr_sample.items[0]
    assert set(item) == set(real_cmr_item)
    assert set(item["properties"]) == set(real_cmr_item["properties"])
    assert set(item["assets"]) == set(real_cmr_item["assets"])
    assert item["assets"]["data"]["type"] == real_cmr_item["assets"]["data"]["type"]
    assert item["collection"] == "MOD11A1_061" and item["stac_extensions"] == []
    assert item["assets"]["data"]["href"].endswith(f"{item['id']}/{item['id']}.hdf")


@pytest.mark.parametrize("sample", ["pc_sample", "cmr_sample"])
def test_every_asset_href_is_an_absolute_existing_file(sample, request):
    catalog = request.getfixturevalue(sample)
    lines = catalog.items_path.read_text().splitlines()
    assert [json.loads(line) for line in lines] == catalog.items
    for item in catalog.items:
        for asset in item["assets"].values():
            path = Path(asset["href"])
            assert path.is_absolute() and path.is_file() and path.stat().st_size > 0
            assert catalog.root in path.parents


def item_date(item: dict) -> dt.date:
    return dt.date.fromisoformat(item["properties"]["start_datetime"][:10])


def _without_hrefs(item: dict) -> dict:
    return {**item, "assets": {k: {**a, "href": None} for k, a in item["assets"].items()}}


def test_base_url_hrefs_and_determinism(tmp_path, cmr_sample):
    again = build_sample_catalog(
        tmp_path,
        provider="lpcloud",
        tiles=["h18v04"],
        dates=DAYS[:1],
        products=["MOD11A1"],
        base_url="http://127.0.0.1:9999/data/",
    )
    item_id = again.items[0]["id"]
    assert again.items[0]["assets"]["data"]["href"] == (
        f"http://127.0.0.1:9999/data/lp-prod-protected/MOD11A1.061/{item_id}/{item_id}.hdf"
    )
    first = cmr_sample.items[:1]
    assert [_without_hrefs(i) for i in again.items] == [_without_hrefs(i) for i in first]


@pytest.mark.parametrize(
    ("sample", "provider"), [("pc_sample", "planetary-computer"), ("cmr_sample", "lpcloud")]
)
def test_served_and_searched_end_to_end(sample, provider, request):
    catalog = request.getfixturevalue(sample)
    with StacServer(catalog.collections_path, catalog.items_path) as server:
        granules = search_granules(
            provider=provider,
            stac_url=server.url,
            products=["MOD11A1"],
            tiles=["h18v04"],
            start=DAYS[0],
            end=DAYS[-1],
        )
    assert [g.date for g in granules] == [item_date(i) for i in catalog.items]
    assert len(granules) == (2 if provider == "lpcloud" else 1)
    hrefs = granules[0].href
    if provider == "lpcloud":
        assert isinstance(hrefs, str) and Path(hrefs).is_file()
    else:
        assert {"LST_Day_1km", "QC_Day"} <= set(hrefs)
        assert all(Path(h).is_file() for h in hrefs.values())
    ds = read_granule(hrefs, "MOD11A1")
    lst = ds["LST_Day_1km"].values
    assert lst.shape == (1200, 1200)
    valid = lst[np.isfinite(lst)]
    assert valid.size > 0.3 * lst.size and valid.min() > 200 and valid.max() < 350


@pytest.mark.parametrize("sample", ["pc_sample", "cmr_sample"])
def test_pystac_reads_the_items_and_collections(sample, request):
    import pystac

    catalog = request.getfixturevalue(sample)
    for coll in catalog.collections:
        assert pystac.Collection.from_dict(coll).id == coll["id"]
    for item in catalog.items:
        parsed = pystac.Item.from_dict(item)
        assert parsed.common_metadata.start_datetime is not None
        assert parsed.collection_id == item["collection"]
