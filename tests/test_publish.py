"""The product's STAC Collection and Items, and the committed ``catalog/`` folder: valid STAC
(checked offline against the STAC 1.1 and datacube v2.2 schemas) that stays current."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from lstcloud.cli.main import main
from lstcloud.errors import ConfigError
from lstcloud.publish import DATACUBE_EXTENSION, ZARR_MEDIA_TYPE, publish_collection
from tests.query.sample_product import write_sample_product
from tests.schemas import validate_stac

ROOT = Path(__file__).resolve().parents[1]


def _mark_complete(url: str, day: str) -> None:
    folder = Path(url) / "_lstcloud" / "days"
    (folder / f"{day}.json").write_text(json.dumps({"date": day, "state": "complete"}))


def test_collection_and_items_are_valid_stac_with_the_datacube(tmp_path):
    url = str(tmp_path / "product.zarr")
    write_sample_product(url, complete=[0, 1, 2], days=5)
    path = publish_collection(product_url=url, out_dir=tmp_path / "stac")
    collection = json.loads(path.read_text())
    assert validate_stac(collection)[1] == DATACUBE_EXTENSION
    assert collection["assets"]["zarr"]["type"] == ZARR_MEDIA_TYPE == (
        "application/vnd.zarr; version=3")
    assert collection["assets"]["zarr"]["href"] == url
    assert collection["license"] == "CC-BY-4.0"
    assert {p["name"] for p in collection["providers"]} >= {"NASA LP DAAC", "lstcloud"}
    dims = collection["cube:dimensions"]
    assert dims["x"]["axis"] == "x" and dims["y"]["step"] < 0
    assert dims["time"]["extent"] == ["2024-01-01T00:00:00Z", "2024-01-03T00:00:00Z"]
    assert collection["cube:variables"]["lst_250m"]["unit"] == "K"
    assert collection["extent"]["temporal"]["interval"] == [
        ["2024-01-01T00:00:00Z", "2024-01-03T23:59:59Z"]]
    assert collection["summaries"]["lstcloud:model_id"] == ["sif-cnn-sr1"]
    items = sorted((tmp_path / "stac" / "items").glob("*.json"))
    assert [p.stem for p in items] == [f"lstcloud-lst-250m-2024-01-0{i}" for i in (1, 2, 3)]
    for item_path in items:
        item = json.loads(item_path.read_text())
        validate_stac(item)
        assert item["properties"]["lstcloud:model_sha256"] == "ab" * 32
    hrefs = {link["href"] for link in collection["links"] if link["rel"] == "item"}
    assert hrefs == {f"./items/{p.name}" for p in items}


def test_the_validator_rejects_a_broken_collection(tmp_path):
    url = str(tmp_path / "product.zarr")
    write_sample_product(url, complete=[0], days=2)
    collection = json.loads(publish_collection(product_url=url, out_dir=tmp_path).read_text())
    broken = json.loads(json.dumps(collection))
    broken["cube:dimensions"]["x"]["extent"] = [0.0]
    with pytest.raises(jsonschema.ValidationError):
        validate_stac(broken)
    broken = json.loads(json.dumps(collection))
    del broken["extent"]
    with pytest.raises(jsonschema.ValidationError):
        validate_stac(broken)


def test_each_run_keeps_the_extent_current_and_merges(tmp_path):
    url = str(tmp_path / "product.zarr")
    out = tmp_path / "stac"
    write_sample_product(url, complete=[0, 1], days=6)
    first = json.loads(publish_collection(product_url=url, out_dir=out).read_text())
    assert first["extent"]["temporal"]["interval"][0][1] == "2024-01-02T23:59:59Z"
    # An operator adds a field by hand; an earlier run had published an older start day.
    first["sci:citation"] = "Ait-Bachir et al. (2025), hal-04925380"
    first["extent"]["temporal"]["interval"] = [["2023-12-30T00:00:00Z", "2024-01-02T23:59:59Z"]]
    (out / "collection.json").write_text(json.dumps(first))
    _mark_complete(url, "2024-01-05")
    assert main(["catalog", "publish", "--product", url, "--out", str(out)]) == 0
    second = json.loads((out / "collection.json").read_text())
    validate_stac(second)
    assert second["extent"]["temporal"]["interval"] == [
        ["2023-12-30T00:00:00Z", "2024-01-05T23:59:59Z"]]
    assert second["cube:dimensions"]["time"]["extent"] == [
        "2023-12-30T00:00:00Z", "2024-01-05T00:00:00Z"]
    assert second["sci:citation"].startswith("Ait-Bachir")
    item_links = [link for link in second["links"] if link["rel"] == "item"]
    assert len(item_links) == 3 == len({link["href"] for link in item_links})
    assert [link["rel"] for link in second["links"][:2]] == ["self", "root"]
    assert second["lstcloud:missing_days"] == ["2024-01-03", "2024-01-04", "2024-01-06"]


def test_committed_catalog_folder_is_valid_and_linked():
    folder = ROOT / "catalog"
    docs = {p: json.loads(p.read_text()) for p in folder.rglob("*.json")}
    assert len(docs) >= 4
    for path, doc in docs.items():
        validate_stac(doc)
        for link in doc["links"]:
            href = link["href"]
            if href.startswith("."):
                assert (path.parent / href).resolve().exists(), f"{path}: broken link {href}"
    product = docs[folder / "lstcloud-lst-250m" / "collection.json"]
    assert product["assets"]["zarr"]["type"] == ZARR_MEDIA_TYPE
    assert product["cube:dimensions"]["time"]["step"] == "P1D"


def test_input_catalogs_match_the_provider_profiles():
    from lstcloud.catalog.providers import PROVIDERS
    from lstcloud.products import PRODUCTS

    for name, profile in PROVIDERS.items():
        doc = json.loads((ROOT / "catalog" / "inputs" / f"{name}.json").read_text())
        listed = {coll for coll in doc["lstcloud:products"]}
        expected = set()
        for product in PRODUCTS:
            try:
                expected.add(profile.collection(product))
            except ConfigError:  # the provider does not serve this product
                continue
        assert listed == expected, name
        children = {link["href"].rsplit("/", 1)[-1] for link in doc["links"]
                    if link["rel"] == "child"}
        assert children == expected


def test_reference_collection_matches_the_europe_grid():
    from lstcloud.grid import CubeGrid

    doc = json.loads((ROOT / "catalog" / "lstcloud-lst-250m" / "collection.json").read_text())
    grid = CubeGrid.from_region("europe")
    assert doc["lstcloud:tiles"] == list(grid.tile_ids)
    xmin, ymin, xmax, ymax = grid.bounds
    x_dim, y_dim = doc["cube:dimensions"]["x"], doc["cube:dimensions"]["y"]
    step = x_dim["step"]
    assert step == pytest.approx(1111950.5197665 / 4800) == pytest.approx(-y_dim["step"])
    assert x_dim["extent"] == pytest.approx([xmin + step / 2, xmax - step / 2])
    assert y_dim["extent"] == pytest.approx([ymin + step / 2, ymax - step / 2])


def test_a_daily_run_writes_only_the_new_items(tmp_path):
    from lstcloud.publish import ITEMS_DIGEST_FIELD

    url = str(tmp_path / "product.zarr")
    out = tmp_path / "stac"
    write_sample_product(url, complete=[0, 1, 2], days=6)
    publish_collection(product_url=url, out_dir=out)
    items = out / "items"
    stamps = {p.name: p.stat().st_mtime_ns for p in items.glob("*.json")}
    assert len(stamps) == 3
    for path in items.glob("*.json"):  # make any rewrite visible
        path.write_text(path.read_text() + " ")
    touched = {p.name: p.stat().st_mtime_ns for p in items.glob("*.json")}
    _mark_complete(url, "2024-01-04")
    second = json.loads(publish_collection(product_url=url, out_dir=out).read_text())
    now = {p.name: p.stat().st_mtime_ns for p in items.glob("*.json")}
    new = "lstcloud-lst-250m-2024-01-04.json"
    assert set(now) == {*stamps, new}
    assert {k: now[k] for k in touched} == touched  # the earlier days' items were not rewritten
    validate_stac(json.loads((items / new).read_text()))
    assert len([link for link in second["links"] if link["rel"] == "item"]) == 4
    assert second[ITEMS_DIGEST_FIELD]
    # anything the items share changes (here the asset href): all of them are written again
    third = json.loads(publish_collection(product_url=url, out_dir=out,
                                          asset_href="s3://bucket/product.zarr").read_text())
    assert third[ITEMS_DIGEST_FIELD] != second[ITEMS_DIGEST_FIELD]
    for path in items.glob("*.json"):
        item = json.loads(path.read_text())  # rewritten with the new href
        assert item["assets"]["zarr"]["href"] == "s3://bucket/product.zarr"
    # an item deleted by hand comes back
    (items / new).unlink()
    publish_collection(product_url=url, out_dir=out, asset_href="s3://bucket/product.zarr")
    assert (items / new).exists()
