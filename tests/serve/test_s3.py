"""``serve`` and ``compose`` on cubes in object storage (moto S3 server on 127.0.0.1)."""

from __future__ import annotations

import json
import logging
import warnings

import numpy as np
import requests
import s3fs
import xarray as xr

from lstcloud.compose import compose
from lstcloud.serve import create_app
from tests.query.sample_product import centre_lonlat, sample_product_dataset
from tests.serve.conftest import running


def test_serve_and_compose_an_s3_product_without_logging_credentials(
    s3_bucket, s3_storage_options, caplog
) -> None:
    url = f"{s3_bucket}/product.zarr"
    truth = sample_product_dataset(days=4, size=64, chunk=32)
    truth.to_zarr(
        url, mode="w", consolidated=False, zarr_format=3, storage_options=s3_storage_options
    )
    truth = truth.load()
    fs = s3fs.S3FileSystem(skip_instance_cache=True, **s3_storage_options)
    for day in ("2024-01-01", "2024-01-02", "2024-01-03", "2024-01-04"):
        fs.pipe_file(
            f"{url[5:]}/_lstcloud/days/{day}.json",
            json.dumps({"date": day, "state": "complete"}).encode(),
        )
    out = f"{s3_bucket}/product-8d.zarr"
    result = compose(url, out, "8D", storage_options=s3_storage_options)
    assert result.written == ["2024-01-01"]
    comp = xr.open_zarr(out, storage_options=s3_storage_options)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # the all-NaN cloudy corner
        want = np.nanmean(truth["lst_250m"].values.astype("float64"), axis=0)
    np.testing.assert_allclose(comp["lst_250m_mean"].values[0], want, atol=1e-4)

    caplog.set_level(logging.DEBUG, logger="lstcloud")
    lon, lat = centre_lonlat(truth)
    for cube, values in ((url, truth["lst_250m"].values[:, 32, 32]), (out, want[None, 32, 32])):
        with running(create_app(cube, storage_options=s3_storage_options)) as base:
            resp = requests.get(
                f"{base}/edr/position",
                timeout=30,
                params={"coords": f"POINT({lon} {lat})", "parameter-name": "lst_250m"},
            )
            assert resp.status_code == 200, resp.text
            got = np.ravel(np.array(resp.json()["ranges"]["lst_250m"]["values"], dtype=float))
            np.testing.assert_allclose(got, values, atol=1e-3)
            summary = requests.get(f"{base}/api/product", timeout=10).json()
            assert summary["product"] == cube
    from lstcloud.query import load_product
    from lstcloud.query._dataset import source_of

    assert source_of(load_product(url, storage_options=s3_storage_options)) == url
    secret = s3_storage_options["secret"]
    assert secret not in caplog.text and secret not in str(summary)
    assert "serving s3://" in caplog.text
