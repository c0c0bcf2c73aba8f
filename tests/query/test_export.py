"""Exports: GeoTIFF, NetCDF, CSV and JSON hold what the product holds."""

from __future__ import annotations

import csv
import io
import json

import numpy as np
import pytest
import rasterio
import xarray as xr

from lstcloud.errors import ConfigError
from lstcloud.query import (
    bbox_subset,
    load_product,
    point_series,
    series_to_csv,
    series_to_json,
    write_subset,
)
from tests.query.sample_product import PIX_250

BOX = (3.0, 45.65, 3.2, 45.8)


def test_geotiff_of_one_day_has_the_grid_and_values(product, tmp_path):
    url, _ = product
    sub = bbox_subset(load_product(url), bbox=BOX, start="2024-01-02", end="2024-01-02")
    path = write_subset(sub, tmp_path / "day.tif")
    with rasterio.open(path) as src:
        assert src.count == 1
        assert src.crs is not None and "sinu" in src.crs.to_proj4().lower()
        assert src.transform.a == pytest.approx(PIX_250)
        assert src.transform.c == pytest.approx(float(sub["x"][0]) - PIX_250 / 2)
        assert src.transform.f == pytest.approx(float(sub["y"][0]) + PIX_250 / 2)
        np.testing.assert_array_equal(src.read(1), sub["lst_250m"].values[0])


def test_geotiff_of_several_days_has_one_band_per_day(product, tmp_path):
    url, _ = product
    sub = bbox_subset(load_product(url), bbox=BOX, start="2024-01-02", end="2024-01-04")
    path = write_subset(sub, tmp_path / "days.tif")
    with rasterio.open(path) as src:
        assert src.count == 3
        np.testing.assert_array_equal(src.read(3), sub["lst_250m"].values[2])


def test_netcdf_round_trips_values_and_crs(product, tmp_path):
    url, _ = product
    sub = bbox_subset(load_product(url), bbox=BOX, start="2024-01-02", end="2024-01-03")
    path = write_subset(sub, tmp_path / "days.nc")
    back = xr.open_dataset(path, engine="h5netcdf", decode_coords="all")
    np.testing.assert_array_equal(back["lst_250m"].values, sub["lst_250m"].values)
    np.testing.assert_array_equal(back["lst_250m_quality"].values, sub["lst_250m_quality"].values)
    assert "crs_wkt" in back["spatial_ref"].attrs
    back.close()


def test_unknown_suffix_is_rejected(product, tmp_path):
    url, _ = product
    sub = bbox_subset(load_product(url), bbox=BOX, start="2024-01-02", end="2024-01-02")
    with pytest.raises(ConfigError, match=r"\.tif"):
        write_subset(sub, tmp_path / "x.png")


def test_csv_and_json_series(product, tmp_path):
    url, _ = product
    ds = load_product(url)
    series = point_series(ds, lon=3.1, lat=45.7, start="2024-01-01", end="2024-01-03")
    text = series_to_csv(series, tmp_path / "s.csv")
    assert (tmp_path / "s.csv").read_text() == text
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [r["date"] for r in rows] == ["2024-01-01", "2024-01-02", "2024-01-03"]
    np.testing.assert_allclose([float(r["lst_k"]) for r in rows],
                               series["lst_250m"].values, atol=5e-4)
    doc = json.loads(series_to_json(series))
    assert doc["units"]["lst_k"] == "K"
    assert doc["pixel"]["row"] == series.attrs["row"]
    assert [r["quality"] for r in doc["series"]] == [0, 0, 0]


def test_invalid_days_are_empty_in_csv_and_null_in_json(product):
    url, truth = product
    ds = load_product(url)
    x, y = float(truth["x"][1]), float(truth["y"][1])
    import pyproj

    from tests.query.sample_product import SINUSOIDAL

    lon, lat = pyproj.Transformer.from_crs(SINUSOIDAL, "EPSG:4326", always_xy=True).transform(x, y)
    series = point_series(ds, lon=lon, lat=lat, end="2024-01-01")
    assert series_to_csv(series).splitlines()[-1] == "2024-01-01,,1,lst_missing,true"
    assert json.loads(series_to_json(series))["series"][0]["lst_k"] is None
