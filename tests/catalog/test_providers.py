"""Provider profiles on the real PC / CMR-STAC example items of ../shared/data/stac_examples."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from lstcloud.catalog import PROVIDERS, get_provider, is_local_href, parse_granule_id
from lstcloud.errors import CatalogError, ConfigError


@pytest.fixture(scope="module")
def pc_example(shared_data):
    path = shared_data / "stac_examples/stactools-modis/modis-11A1-061"
    return json.loads((path / "MOD11A1.A2022041.h19v02.061.json").read_text())


@pytest.fixture(scope="module")
def pc_production_items(shared_data):
    path = shared_data / "stac_examples/planetary-computer-tasks/tests_modis-14A1-061_items.ndjson"
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def test_profiles_and_collections():
    assert set(PROVIDERS) == {"planetary-computer", "lpcloud"}
    pc, lp = get_provider("planetary-computer"), get_provider("LPCLOUD")
    assert pc.collection("MOD11A1") == pc.collection("MYD11A1") == "modis-11A1-061"
    assert pc.collection("MOD13Q1") == "modis-13Q1-061"
    assert lp.collection("MOD21A1D") == "MOD21A1D_061"
    assert lp.collection("MYD11A1") == "MYD11A1_061"
    assert (pc.asset_layout, lp.asset_layout) == ("cog", "hdf")
    with pytest.raises(ConfigError, match="MOD09GQ"):
        pc.collection("MOD09GQ")
    with pytest.raises(ConfigError, match="known"):
        get_provider("usgs")


def test_real_pc_item_tile_dates_product_and_assets(pc_example):
    pc = get_provider("planetary-computer")
    assert pc_example["properties"]["modis:tile-id"] == "51019002"  # not an h/v id
    assert pc.item_tile(pc_example) == "h19v02"
    assert pc.item_product(pc_example) == "MOD11A1"
    assert pc.item_dates(pc_example) == (dt.date(2022, 2, 10), dt.date(2022, 2, 10))
    hrefs = pc.granule_href(pc_example, "MOD11A1")
    assert hrefs["LST_Day_1km"].endswith("_LST_Day_1km.tif")
    assert {"QC_Day", "Day_view_time", "LST_Night_1km"} <= set(hrefs)


def test_real_pc_production_items_parse(pc_production_items):
    pc = get_provider("planetary-computer")
    item = pc_production_items[0]
    assert pc.item_tile(item) == "h00v08"
    assert pc.item_product(item) == "MOD14A1"
    assert pc.item_dates(item) == (dt.date(2000, 2, 18), dt.date(2000, 2, 25))  # 8-day


def test_cmr_items_and_exclusive_end_times():
    lp = get_provider("lpcloud")
    item = {
        "id": "MOD21A1D.A2020253.h08v05.061.2020346022258",
        "properties": {
            "datetime": "2020-09-09T00:00:00.000Z",
            "start_datetime": "2020-09-09T00:00:00.000Z",
            "end_datetime": "2020-09-10T00:00:00.000Z",
        },
        "assets": {"data": {"href": "https://data.lpdaac.earthdatacloud.nasa.gov/x/y.hdf"}},
    }
    assert lp.item_tile(item) == "h08v05"
    assert lp.item_product(item) == "MOD21A1D"
    assert lp.item_dates(item) == (dt.date(2020, 9, 9), dt.date(2020, 9, 9))
    assert (
        lp.granule_href(item, "MOD21A1D") == "https://data.lpdaac.earthdatacloud.nasa.gov/x/y.hdf"
    )
    assert dict(lp.granule_href({**item, "assets": {}}, "MOD21A1D")) == {}  # reader: missing


def test_parse_granule_id():
    parsed = parse_granule_id("MOD11A1.A2019305.h14v09.061.2019306084028.hdf")
    assert parsed == {
        "product": "MOD11A1",
        "date": dt.date(2019, 11, 1),
        "tile": "h14v09",
        "collection": "061",
        "production": "2019306084028",
    }
    assert parse_granule_id("LC08_L2SP_196030_20200701") is None


def test_signing_is_skipped_on_this_machine_and_applied_to_pc_blobs(monkeypatch):
    import planetary_computer

    signed = []

    def fake_sign_url(url: str, copy: bool = True) -> str:
        signed.append(url)
        return url + "?st=2020&se=2021&sp=rl&sig=abc"

    monkeypatch.setattr(planetary_computer, "sign_url", fake_sign_url)
    pc = get_provider("planetary-computer")
    for local in (
        "/data/a.tif",
        "file:///data/a.tif",
        "http://127.0.0.1:8123/a.tif",
        "http://localhost/a.tif",
    ):
        assert is_local_href(local)
        assert pc.sign(local) == local
    assert signed == []
    blob = "https://modiseuwest.blob.core.windows.net/modis-061-cogs/MOD11A1/18/04/x.tif"
    assert pc.sign(blob).endswith("sig=abc") and signed == [blob]
    # lpcloud never signs
    assert get_provider("lpcloud").sign(blob) == blob and signed == [blob]


def test_granule_href_signs_blob_assets_unless_deferred(monkeypatch, pc_production_items):
    import planetary_computer

    monkeypatch.setattr(planetary_computer, "sign_url", lambda url, copy=True: url + "?sig=x")
    pc = get_provider("planetary-computer")
    item = {
        **pc_production_items[0],
        "assets": {
            "LST_Day_1km": {"href": "https://modiseuwest.blob.core.windows.net/c/a_LST.tif"},
            "QC_Day": {"href": "https://modiseuwest.blob.core.windows.net/c/a_QC.tif"},
        },
    }
    signed = pc.granule_href(item, "MOD11A1")
    assert signed["LST_Day_1km"].endswith("a_LST.tif?sig=x") and len(signed) == 2
    deferred = pc.granule_href(item, "MOD11A1", sign=False)
    assert deferred["QC_Day"] == "https://modiseuwest.blob.core.windows.net/c/a_QC.tif"


def test_a_signing_failure_is_a_catalog_error_without_the_token(monkeypatch):
    import planetary_computer

    def broken(url: str, copy: bool = True) -> str:
        raise ConnectionError("sas service down")

    monkeypatch.setattr(planetary_computer, "sign_url", broken)
    href = "https://modiseuwest.blob.core.windows.net/c/a.tif?sig=OLDSECRET"
    with pytest.raises(CatalogError, match="SAS") as info:
        get_provider("planetary-computer").sign(href)
    assert "modiseuwest.blob.core.windows.net/c/a.tif" in str(info.value)
    assert "OLDSECRET" not in str(info.value)
