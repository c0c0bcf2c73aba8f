"""search_granules against a real rustac STAC API on 127.0.0.1 (with a fault proxy in front)."""

from __future__ import annotations

import datetime as dt
import logging
import socket

import pytest

from lstcloud.catalog import EmptySearchWarning, Granule, search_granules, tiles_bbox
from lstcloud.errors import CatalogError, ConfigError
from tests.catalog.conftest import DAYS, OLD_DUPLICATE

JUL = dt.date(2020, 7, 1)


def _search(url: str, **kwargs):
    options = {
        "provider": "planetary-computer",
        "stac_url": url,
        "products": ["MOD11A1"],
        "tiles": ["h18v04"],
        "start": JUL,
        "end": JUL + dt.timedelta(days=11),
        "backoff": 0.01,
    }
    options.update(kwargs)
    return search_granules(**options)


def test_pagination_returns_every_item_across_pages(stac_api, fault_proxy_factory):
    proxy = fault_proxy_factory(stac_api.url)
    granules = _search(proxy.url, tiles=["h18v04", "h19v04", "h18v05"], page_size=5)
    searches = [r for r in proxy.requests if r.path.startswith("/search")]
    assert len(granules) == 3 * 12
    assert len(searches) >= 8  # 3 tiles x 12 days of one product at 5 per page, POSTed
    assert all(r.method == "POST" for r in searches)
    assert len({(g.tile, g.date) for g in granules}) == 36


def test_tile_and_date_filtering(stac_api):
    granules = _search(stac_api.url, start=dt.date(2020, 7, 3), end=dt.date(2020, 7, 5))
    assert [(g.tile, g.date) for g in granules] == [
        ("h18v04", dt.date(2020, 7, 3)),
        ("h18v04", dt.date(2020, 7, 4)),
        ("h18v04", dt.date(2020, 7, 5)),
    ]
    g = granules[0]
    assert isinstance(g, Granule)
    assert (g.product, g.end_date, g.provider, g.collection) == (
        "MOD11A1",
        dt.date(2020, 7, 3),
        "planetary-computer",
        "modis-11A1-061",
    )


def test_terra_and_aqua_share_a_pc_collection_but_are_told_apart(stac_api):
    both = _search(stac_api.url, products=["MOD11A1", "MYD11A1"], end=JUL)
    assert sorted(g.product for g in both) == ["MOD11A1", "MYD11A1"]
    assert all(g.item_id.startswith(g.product + ".") for g in both)


def test_newest_production_wins_over_a_reprocessed_duplicate(stac_api):
    (g,) = _search(stac_api.url, start=dt.date(2020, 7, 3), end=dt.date(2020, 7, 3))
    assert g.item_id != OLD_DUPLICATE
    assert g.item_id.startswith("MOD11A1.A2020185.h18v04.061.")


def test_pc_href_is_a_mapping_of_cog_assets_left_unsigned_on_this_machine(stac_api):
    (g,) = _search(stac_api.url, end=JUL)
    assert set(g.href) >= {"LST_Day_1km", "QC_Day", "Day_view_time"}
    assert "hdf" not in g.href and "metadata" not in g.href
    assert g.href["LST_Day_1km"] == f"/srv/modis-061-cogs/{g.item_id}_LST_Day_1km.tif"


def test_composite_products_overlapping_the_window(stac_api):
    granules = _search(
        stac_api.url, products=["MOD13Q1"], start=dt.date(2020, 7, 5), end=dt.date(2020, 7, 12)
    )
    assert [(g.date, g.end_date) for g in granules] == [
        (dt.date(2020, 6, 25), dt.date(2020, 7, 10)),
        (dt.date(2020, 7, 11), dt.date(2020, 7, 26)),
    ]
    assert "250m_16_days_NDVI" in granules[0].href


def test_lpcloud_profile_gives_whole_hdf_granules(stac_api):
    granules = _search(stac_api.url, provider="lpcloud", tiles=["h19v04"])
    assert len(granules) == len(DAYS)
    g = granules[0]
    assert g.collection == "MOD11A1_061" and g.provider == "lpcloud"
    assert isinstance(g.href, str) and g.href.endswith(f"/{g.item_id}.hdf")
    assert g.href.startswith("https://data.lpdaac.earthdatacloud.nasa.gov/")


def test_bbox_search_keeps_every_tile_inside(stac_api):
    granules = _search(stac_api.url, tiles=None, bbox=(2.0, 42.0, 8.0, 48.0), end=JUL)
    assert [g.tile for g in granules] == ["h18v04"]
    wide = _search(stac_api.url, tiles=None, bbox=(2.0, 35.0, 14.0, 48.0), end=JUL)
    assert sorted(g.tile for g in wide) == ["h18v04", "h18v05", "h19v04"]


def test_empty_result_warns_and_returns_empty_list(stac_api):
    with pytest.warns(EmptySearchWarning, match="h30v10"):
        assert _search(stac_api.url, tiles=["h30v10"]) == []


def test_product_the_provider_lacks_is_a_config_error(stac_api):
    with pytest.raises(ConfigError, match="MOD21A1D"):
        _search(stac_api.url, products=["MOD21A1D"])
    with pytest.raises(ConfigError, match="h40v04"):
        _search(stac_api.url, tiles=["h40v04"])
    with pytest.raises(ConfigError, match="after"):
        _search(stac_api.url, start=dt.date(2020, 7, 5), end=dt.date(2020, 7, 1))


@pytest.mark.parametrize("fault", ["500", "503", "429", "drop"])
def test_transient_failures_are_retried_then_succeed(stac_api, fault_proxy_factory, fault, caplog):
    proxy = fault_proxy_factory(stac_api.url, fault=fault, count=2)
    with caplog.at_level(logging.INFO, logger="lstcloud.catalog"):
        granules = _search(proxy.url, end=JUL + dt.timedelta(days=1))
    assert len(granules) == 2
    assert proxy.faults_served == 2
    assert len(proxy.requests) >= 3
    assert caplog.text.count("retry") == 2
    # each retry is logged at INFO (-v): the default output says only the outcome (issue 24)
    assert {r.levelno for r in caplog.records if "retry" in r.getMessage()} == {logging.INFO}


def test_a_stalled_request_times_out_and_is_retried(stac_api, fault_proxy_factory):
    proxy = fault_proxy_factory(stac_api.url, fault="timeout", count=1, delay=1.5)
    granules = _search(proxy.url, end=JUL, timeout=0.4)
    assert len(granules) == 1 and proxy.faults_served == 1


def test_retries_mid_pagination(stac_api, fault_proxy_factory):
    proxy = fault_proxy_factory(stac_api.url)
    seen = {"n": 0}

    def second_page_fails() -> str | None:  # requests: 1 root, 2 first page, 3 second page
        seen["n"] += 1
        return "503" if seen["n"] == 3 else None

    proxy._next_fault = second_page_fails
    granules = _search(proxy.url, tiles=["h18v04", "h19v04"], page_size=5)
    assert len(granules) == 24
    faults = [r.fault for r in proxy.requests]
    assert faults[2] == "503" and faults.count("503") == 1
    assert proxy.requests[3].body == proxy.requests[2].body  # the same page asked again


def test_persistent_5xx_gives_catalog_error_naming_the_url(stac_api, fault_proxy_factory):
    proxy = fault_proxy_factory(stac_api.url, fault="503", count=-1)
    with pytest.raises(CatalogError) as info:
        _search(proxy.url, max_retries=2)
    assert proxy.url in str(info.value)
    # the server answered: not "unreachable" (issue 24, item 4)
    assert "answered HTTP 503 (server error) 3 times" in str(info.value)
    assert "unreachable" not in str(info.value)
    assert len(proxy.requests) == 3


def test_4xx_is_not_retried(stac_api, fault_proxy_factory):
    proxy = fault_proxy_factory(stac_api.url, fault="404", count=-1)
    with pytest.raises(CatalogError, match="rejected") as info:
        _search(proxy.url)
    assert proxy.url in str(info.value)
    assert len(proxy.requests) == 1


def test_unreachable_url_gives_catalog_error_naming_it(caplog):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}/stac?token=very-secret-token"
    with caplog.at_level(logging.DEBUG), pytest.raises(CatalogError) as info:
        _search(url, max_retries=1, timeout=2)
    assert "GET http://127.0.0.1" in caplog.text  # pystac-client's debug line, masked
    assert "very-secret-token" not in caplog.text
    message = str(info.value)
    assert f"http://127.0.0.1:{port}/stac?token=***" in message
    assert "very-secret-token" not in message
    assert "was unreachable 2 times" in message


def test_credentials_never_reach_logs_output_or_errors(
    stac_api, fault_proxy_factory, monkeypatch, caplog, capsys
):
    secret = "Pa55-word-never-shown"
    token = "tok-never-shown-1234"
    monkeypatch.setenv("EARTHDATA_USERNAME", "someone")
    monkeypatch.setenv("EARTHDATA_PASSWORD", secret)
    monkeypatch.setenv("EARTHDATA_TOKEN", token)
    proxy = fault_proxy_factory(stac_api.url, fault="500", count=1)
    with caplog.at_level(logging.DEBUG):
        granules = _search(proxy.url, provider="lpcloud", tiles=["h18v04"])
        from lstcloud.catalog import get_provider

        options = get_provider("lpcloud").storage_options(granules[0].href)
        failing = fault_proxy_factory(stac_api.url, fault="503", count=-1)
        with pytest.raises(CatalogError) as info:
            _search(failing.url, provider="lpcloud", max_retries=1)
    out, err = capsys.readouterr()
    assert options == {"headers": {"Authorization": f"Bearer {token}"}}  # used, not shown
    for text in (caplog.text, out, err, str(info.value), repr(granules)):
        assert secret not in text and token not in text
    # the STAC API itself never receives the Earthdata credentials
    for request in proxy.requests + failing.requests:
        assert token not in str(request.headers) and secret not in str(request.headers)


def test_tiles_bbox_matches_planetary_computer_footprints():
    # bboxes of the real PC items h19v02 and h00v08 (stac_examples)
    assert tiles_bbox(["h19v02"]) == pytest.approx((20.0, 60.0, 58.476088, 70.0), abs=1e-5)
    west, south, east, north = tiles_bbox(["h18v04", "h19v04"])
    assert (south, north) == pytest.approx((40.0, 50.0))
    assert west == pytest.approx(0.0, abs=1e-6) and east == pytest.approx(31.114476, abs=1e-5)


def test_granules_pickle_hash_and_hide_signatures():
    import pickle

    from lstcloud.catalog import AssetHrefs

    signed = "https://modiseuwest.blob.core.windows.net/c/a.tif?st=1&se=2&sp=rl&sig=SECRETSIG"
    g = Granule(
        product="MOD11A1",
        tile="h18v04",
        date=JUL,
        end_date=JUL,
        item_id="MOD11A1.A2020183.h18v04.061.2020184000000",
        href=AssetHrefs({"LST_Day_1km": signed, "QC_Day": "/x/qc.tif"}),
        provider="planetary-computer",
        collection="modis-11A1-061",
    )
    back = pickle.loads(pickle.dumps(g))
    assert back == g and hash(back) == hash(g) and len({g, back}) == 1
    assert back.href["LST_Day_1km"] == signed and dict(back.href) == dict(g.href)
    assert "SECRETSIG" not in repr(g) and "SECRETSIG" not in repr([g])
    plain = Granule(**{**g.__dict__, "href": signed})
    assert "SECRETSIG" not in repr(plain)


def test_a_static_catalogue_is_not_a_search_api(tmp_path, fault_proxy_factory):
    import json
    import threading
    from functools import partial
    from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

    (tmp_path / "index.html").write_text(
        json.dumps(
            {
                "type": "Catalog",
                "id": "static",
                "stac_version": "1.0.0",
                "description": "no API",
                "links": [],
            }
        )
    )
    handler = partial(SimpleHTTPRequestHandler, directory=str(tmp_path))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        with pytest.raises(CatalogError, match="item search") as info:
            _search(url)
        assert url in str(info.value)
    finally:
        server.shutdown()
        server.server_close()


def test_modifier_sees_every_page(stac_api):
    pages = []
    granules = _search(stac_api.url, page_size=5, modifier=pages.append)
    assert len(granules) == 12
    feature_pages = [p for p in pages if isinstance(p, dict) and "features" in p]
    assert sum(len(p["features"]) for p in feature_pages) >= 12
    assert len(feature_pages) >= 3


def test_polar_tiles_span_every_longitude():
    west, south, east, north = tiles_bbox(["h17v00"])
    assert (west, east) == (-180.0, 180.0) and north == pytest.approx(90.0)
    assert south == pytest.approx(80.0)


def test_html_instead_of_json_is_a_clear_catalog_error(stac_api, fault_proxy_factory):
    proxy = fault_proxy_factory(stac_api.url, fault="html", count=-1)
    with pytest.raises(CatalogError, match="not a STAC API") as info:
        _search(proxy.url)
    assert proxy.url in str(info.value)
    seen = {"n": 0}

    def search_page_is_html() -> str | None:
        seen["n"] += 1
        return "html" if seen["n"] == 2 else None

    proxy._next_fault = search_page_is_html
    with pytest.raises(CatalogError, match="not STAC JSON") as info:
        _search(proxy.url)
    assert proxy.url in str(info.value) and "modis-11A1-061" in str(info.value)


def test_tiles_as_grid_objects_and_a_single_product_name(stac_api):
    from lstcloud.grid import Tile

    granules = _search(stac_api.url, products="MYD11A1", tiles=[Tile(19, 4)], end=JUL)
    assert [(g.product, g.tile) for g in granules] == [("MYD11A1", "h19v04")]


def test_a_granule_of_another_collection_is_named_and_warned_once() -> None:
    """Issue 24, item 7: a collection-006 granule filed under MOD11A1_061 said nothing."""
    import warnings

    from lstcloud.catalog.search import Granule, collection_mismatches, warn_collection_mismatch
    from lstcloud.core.errors import CollectionMismatchWarning

    def granule(item_id: str, day: int) -> Granule:
        date = dt.date(2020, 1, day)
        return Granule(product="MOD11A1", tile="h18v04", date=date, end_date=date,
                       item_id=item_id, href="x.hdf", provider="lpcloud",
                       collection="MOD11A1_061")

    old = [granule(f"MOD11A1.A202000{d}.h18v04.006.2020003123456", d) for d in (1, 2)]
    new = granule("MOD11A1.A2020003.h18v04.061.2020005123456", 3)
    assert collection_mismatches([new]) == {}
    assert collection_mismatches([*old, new]) == {
        ("MOD11A1", "006", "MOD11A1_061"): [g.item_id for g in old]}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        warn_collection_mismatch([*old, new])
    assert len(caught) == 1 and issubclass(caught[0].category, CollectionMismatchWarning)
    text = str(caught[0].message)
    assert "2 MOD11A1 granule(s) of collection 006" in text and "MOD11A1_061" in text
