"""Queries on a product stored on S3 (moto server on 127.0.0.1), as on cloud storage."""

from __future__ import annotations

import json

import numpy as np
import pytest
import s3fs

from lstcloud.cli.main import main
from lstcloud.query import load_product, point_series, product_info
from tests.query.sample_product import centre_lonlat, sample_product_dataset
from tests.schemas import validate_stac


@pytest.fixture()
def s3_product(s3_bucket, s3_storage_options):
    url = f"{s3_bucket}/product.zarr"
    ds = sample_product_dataset(days=4, size=64, chunk=64)
    ds.to_zarr(url, mode="w", consolidated=False, zarr_format=3,
               storage_options=s3_storage_options)
    fs = s3fs.S3FileSystem(skip_instance_cache=True, **s3_storage_options)
    for day in ("2024-01-01", "2024-01-03"):
        fs.pipe_file(f"{url[5:]}/_lstcloud/days/{day}.json",
                     json.dumps({"date": day, "state": "complete"}).encode())
    return url, ds.load()


@pytest.mark.slow
def test_point_series_and_info_on_s3(s3_product, s3_storage_options):
    url, truth = s3_product
    ds = load_product(url, storage_options=s3_storage_options)
    lon, lat = centre_lonlat(truth)
    series = point_series(ds, lon=lon, lat=lat)
    row, col = series.attrs["row"], series.attrs["col"]
    np.testing.assert_array_equal(series["lst_250m"].values, truth["lst_250m"].values[:, row, col])
    info = product_info(url, storage_options=s3_storage_options)
    assert [d.isoformat() for d in info.complete_days] == ["2024-01-01", "2024-01-03"]
    assert [d.isoformat() for d in info.missing_days] == ["2024-01-02", "2024-01-04"]


@pytest.mark.slow
def test_cli_reads_s3_through_the_endpoint_variable(s3_product, s3_endpoint, monkeypatch,
                                                    capsys):
    url, _ = s3_product
    monkeypatch.setenv("LSTCLOUD_S3_ENDPOINT", s3_endpoint)
    assert main(["info", url, "--json"]) == 0
    assert len(json.loads(capsys.readouterr().out)["complete_days"]) == 2
    stac = url.rsplit("/", 1)[0] + "/stac"
    assert main(["catalog", "publish", "--product", url, "--out", stac]) == 0
    fs = s3fs.S3FileSystem(skip_instance_cache=True, endpoint_url=s3_endpoint)
    collection = json.loads(fs.cat_file(f"{stac[5:]}/collection.json"))
    assert collection["assets"]["zarr"]["href"] == url
    assert len(fs.ls(f"{stac[5:]}/items")) == 2
    validate_stac(collection)
