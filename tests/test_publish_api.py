"""Publishing to a real STAC API (stac-fastapi-pgstac on PostgreSQL + PostGIS, Transactions).

After ``lstcloud catalog publish --api URL``, a pystac-client search by bbox and datetime finds
exactly the complete days; a rerun upserts nothing; a newly completed day is upserted alone;
5xx answers are retried; the credentials are sent and never logged.
"""

from __future__ import annotations

import json
import logging
import uuid
from pathlib import Path

import pystac_client
import pytest

from lstcloud.cli.main import main
from lstcloud.publish import publish
from lstcloud.publish.api import StacApiError, publish_to_api
from tests.query.sample_product import write_sample_product


def _mark_complete(url: str, day: str) -> None:
    folder = Path(url) / "_lstcloud" / "days"
    (folder / f"{day}.json").write_text(json.dumps({"date": day, "state": "complete"}))


def _search_ids(api: str, collection: str, bbox: list[float], datetime: str) -> list[str]:
    client = pystac_client.Client.open(api)
    search = client.search(collections=[collection], bbox=bbox, datetime=datetime)
    return sorted(item.id for item in search.items())


def test_publish_upserts_exactly_the_complete_days_and_is_idempotent(tmp_path, pgstac_api):
    url = str(tmp_path / "product.zarr")
    write_sample_product(url, complete=[0, 2], days=5)  # 2024-01-02 is not complete
    cid = f"lst-{uuid.uuid4().hex[:8]}"
    args = ["catalog", "publish", "--product", url, "--api", pgstac_api, "--collection-id", cid]
    assert main(args) == 0
    collection = pystac_client.Client.open(pgstac_api).get_collection(cid)
    bbox = list(collection.extent.spatial.bboxes[0])
    window = "2023-12-25T00:00:00Z/2024-01-31T00:00:00Z"
    assert _search_ids(pgstac_api, cid, bbox, window) == [f"{cid}-2024-01-01", f"{cid}-2024-01-03"]
    # the datetime filter selects the day, the bbox the place
    assert _search_ids(pgstac_api, cid, bbox, "2024-01-03T00:00:00Z/2024-01-03T23:59:59Z") == [
        f"{cid}-2024-01-03"]
    assert _search_ids(pgstac_api, cid, [-120.0, 30.0, -119.0, 31.0], window) == []
    item = next(pystac_client.Client.open(pgstac_api).search(ids=[f"{cid}-2024-01-01"]).items())
    assert item.assets["lst_250m"].extra_fields["proj:shape"] == [96, 96]
    assert item.assets["lst_250m"].href.endswith(".tif")
    assert item.assets["zarr"].extra_fields["xarray:open_kwargs"]["engine"] == "zarr"

    rerun = publish(product_url=url, api_url=pgstac_api, collection_id=cid)
    assert rerun.changed_days == () and rerun.cogs_written == 0  # nothing upserted again

    _mark_complete(url, "2024-01-04")
    third = publish(product_url=url, api_url=pgstac_api, collection_id=cid)
    assert [d.isoformat() for d in third.changed_days] == ["2024-01-04"]
    assert _search_ids(pgstac_api, cid, bbox, window) == [
        f"{cid}-2024-01-01", f"{cid}-2024-01-03", f"{cid}-2024-01-04"]
    published = pystac_client.Client.open(pgstac_api).get_collection(cid)
    assert published.extent.temporal.intervals[0][1].isoformat().startswith("2024-01-04T23:59:59")


def test_5xx_is_retried_and_credentials_are_sent_not_logged(
    tmp_path, pgstac_api, fault_proxy_factory, monkeypatch, caplog
):
    url = str(tmp_path / "product.zarr")
    write_sample_product(url, complete=[0], days=2)
    token = "s3cr3t-" + uuid.uuid4().hex
    monkeypatch.setenv("LSTCLOUD_STAC_API_TOKEN", token)
    proxy = fault_proxy_factory(pgstac_api, fault="503", count=2)
    cid = f"lst-{uuid.uuid4().hex[:8]}"
    with caplog.at_level(logging.DEBUG):
        result = publish(product_url=url, api_url=proxy.url, collection_id=cid, cog=False)
    assert [d.isoformat() for d in result.changed_days] == ["2024-01-01"]
    assert proxy.faults_served == 2
    assert all(r.headers.get("Authorization") == f"Bearer {token}" for r in proxy.requests)
    assert token not in caplog.text
    assert "HTTP 503; retrying" in caplog.text
    found = _search_ids(pgstac_api, cid, [-180, -90, 180, 90], "2024-01-01T00:00:00Z/..")
    assert found == [f"{cid}-2024-01-01"]


def test_a_persistent_5xx_fails_naming_the_url_and_no_day_counts_as_published(
    tmp_path, pgstac_api, fault_proxy_factory
):
    url = str(tmp_path / "product.zarr")
    write_sample_product(url, complete=[0], days=1)
    cid = f"lst-{uuid.uuid4().hex[:8]}"
    proxy = fault_proxy_factory(pgstac_api, fault="500", count=-1)
    with pytest.raises(StacApiError, match=r"GET http://127\.0\.0\.1:\d+/collections/.*HTTP 500"):
        publish_to_api(proxy.url, collection={"id": cid, "links": []}, items={}, retries=1)
    assert proxy.faults_served == 2
