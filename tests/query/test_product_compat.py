"""The query helpers read a product written by ``lstcloud.cube.product`` itself (template, region
writes, completion markers), not only the test's xarray-built stand-in."""

from __future__ import annotations

import datetime as dt

import numpy as np

from lstcloud.cube import product as product_mod
from lstcloud.query import bbox_subset, load_product, point_series, product_info
from tests.query.sample_product import centre_lonlat, sample_product_dataset


def test_queries_on_a_product_written_by_the_product_module(tmp_path):
    truth = sample_product_dataset(days=3, size=64, chunk=32).load()
    url = str(tmp_path / "product.zarr")
    grid = product_mod.ProductGrid(
        y=truth["y"].values, x=truth["x"].values,
        crs_wkt=truth["spatial_ref"].attrs["crs_wkt"], chunks=(32, 32),
    )
    provenance = product_mod.Provenance(
        model_name="sif-cnn-sr1", model_sha256="cd" * 32, receptive_field_px=40,
        input_cube="s3://bucket/input.zarr",
    )
    days = [dt.date(2024, 1, 1) + dt.timedelta(days=i) for i in range(3)]
    product_mod.create_product(url, grid=grid, dates=days, provenance=provenance)
    lst, quality = product_mod.open_product_arrays(url)
    for i in (0, 2):  # day 1 is left unwritten: missing
        lst[i] = truth["lst_250m"].values[i]
        quality[i] = truth["lst_250m_quality"].values[i]
        product_mod.write_day_marker(url, days[i], info={})

    ds = load_product(url)
    lon, lat = centre_lonlat(truth)
    series = point_series(ds, lon=lon, lat=lat)
    row, col = series.attrs["row"], series.attrs["col"]
    np.testing.assert_array_equal(series["lst_250m"].values[[0, 2]],
                                  truth["lst_250m"].values[[0, 2], row, col])
    assert np.isnan(series["lst_250m"].values[1])
    info = product_info(url)
    assert info.complete_days == (days[0], days[2])
    assert info.missing_days == (days[1],)
    assert info.provenance["lstcloud_model_sha256"] == "cd" * 32
    lon, lat = centre_lonlat(truth)
    sub = bbox_subset(ds, bbox=(lon - 0.02, lat - 0.02, lon + 0.02, lat + 0.02),
                      start=days[0], end=days[0],
                      crs="EPSG:4326")
    assert np.isfinite(sub["lst_250m"].values).mean() > 0.5
