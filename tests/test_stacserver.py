"""lstcloud.stacserver.StacServer: a real rustac STAC API subprocess on 127.0.0.1."""

from __future__ import annotations

import datetime as dt
import json
import socket
import urllib.request

import pytest

from lstcloud.errors import CatalogError, ConfigError
from lstcloud.samples.stac import cmr_collection, cmr_item
from lstcloud.stacserver import StacServer


def _items(n: int = 3) -> list[dict]:
    day = dt.date(2021, 3, 1)
    return [
        cmr_item("MOD11A1", "h18v04", day + dt.timedelta(days=i), data_href=f"/data/g{i}.hdf")
        for i in range(n)
    ]


def _get(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=5) as resp:
        return json.load(resp)


def _port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def test_serves_collections_and_items_then_stops(stac_server_factory):
    items = _items()
    server = stac_server_factory([cmr_collection("MOD11A1", items)], items)
    assert server.running and server.url.startswith("http://127.0.0.1:")
    root = _get(server.url + "/")
    assert "https://api.stacspec.org/v1.0.0/item-search" in root["conformsTo"]
    found = _get(server.url + "/collections/MOD11A1_061/items")
    assert sorted(f["id"] for f in found["features"]) == sorted(i["id"] for i in items)
    assert found["features"][0]["assets"]["data"]["href"].startswith("/data/g")
    port = server.port
    server.stop()
    server.stop()  # idempotent
    assert not server.running and not _port_open(port)


def test_loads_files_and_works_as_context_manager(tmp_path):
    items = _items(2)
    collections = tmp_path / "collections"
    collections.mkdir()
    (collections / "MOD11A1_061.json").write_text(json.dumps(cmr_collection("MOD11A1", items)))
    ndjson = tmp_path / "items.ndjson"
    ndjson.write_text("".join(json.dumps(i) + "\n" for i in items))
    with StacServer(collections, ndjson) as server:
        ids = [c["id"] for c in _get(server.url + "/collections")["collections"]]
        assert ids == ["MOD11A1_061"]
        port = server.port
    assert not _port_open(port)


def test_relative_asset_hrefs_are_refused():
    items = _items(1)
    items[0]["assets"]["data"]["href"] = "granules/g0.hdf"
    with pytest.raises(ConfigError, match="relative"):
        StacServer([cmr_collection("MOD11A1", items)], items).start()


def test_busy_port_gives_a_clear_error():
    items = _items(1)
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        server = StacServer([cmr_collection("MOD11A1", items)], items, port=port)
        with pytest.raises(CatalogError, match=str(port)):
            server.start()
        assert not server.running
