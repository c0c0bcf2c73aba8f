"""Point time series: the right pixel, the right days, clear errors."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pyproj
import pytest

from lstcloud.errors import ConfigError, CubeError
from lstcloud.query import load_product, nearest_pixel, point_series
from tests.query.sample_product import PIX_250, SINUSOIDAL


def _expected_index(truth, lon, lat):
    """Independent lookup: floor((x - left edge) / pixel) on the sinusoidal sphere."""
    x, y = pyproj.Transformer.from_crs("EPSG:4326", SINUSOIDAL, always_xy=True).transform(lon, lat)
    left = truth["x"].values[0] - PIX_250 / 2
    top = truth["y"].values[0] + PIX_250 / 2
    return int((top - y) // PIX_250), int((x - left) // PIX_250)


@pytest.mark.parametrize("frac", [(0.1, 0.2), (0.5, 0.5), (0.93, 0.71)])
def test_point_series_reads_the_pixel_holding_the_point(product, frac):
    url, truth = product
    inverse = pyproj.Transformer.from_crs(SINUSOIDAL, "EPSG:4326", always_xy=True)
    x = truth["x"].values[0] + frac[1] * (truth["x"].values[-1] - truth["x"].values[0])
    y = truth["y"].values[0] + frac[0] * (truth["y"].values[-1] - truth["y"].values[0])
    lon, lat = inverse.transform(x + 17.0, y - 23.0)
    row, col = _expected_index(truth, lon, lat)
    series = point_series(load_product(url), lon=lon, lat=lat)
    np.testing.assert_array_equal(series["lst_250m"].values, truth["lst_250m"].values[:, row, col])
    np.testing.assert_array_equal(
        series["lst_250m_quality"].values, truth["lst_250m_quality"].values[:, row, col]
    )
    assert (series.attrs["row"], series.attrs["col"]) == (row, col)
    assert series["lst_250m"].attrs["units"] == "K"


def test_point_series_selects_days_inclusively(product):
    url, _ = product
    lon, lat = 3.1, 45.7
    series = point_series(load_product(url), lon=lon, lat=lat, start="2024-01-03",
                          end=dt.date(2024, 1, 5))
    days = [str(d)[:10] for d in series["time"].values]
    assert days == ["2024-01-03", "2024-01-04", "2024-01-05"]


def test_cloudy_pixel_comes_back_nan_with_its_quality_flag(product):
    url, truth = product
    inverse = pyproj.Transformer.from_crs(SINUSOIDAL, "EPSG:4326", always_xy=True)
    lon, lat = inverse.transform(truth["x"].values[3], truth["y"].values[2])
    series = point_series(load_product(url), lon=lon, lat=lat)
    assert np.isnan(series["lst_250m"].values).all()
    assert (series["lst_250m_quality"].values == 1).all()


def test_pixel_edges_resolve_to_the_containing_pixel(product):
    url, truth = product
    ds = load_product(url)
    inverse = pyproj.Transformer.from_crs(SINUSOIDAL, "EPSG:4326", always_xy=True)
    # Just right of the boundary between columns 10 and 11 -> column 11.
    x_edge = truth["x"].values[10] + PIX_250 / 2
    lon, lat = inverse.transform(x_edge + 0.5, truth["y"].values[20])
    assert nearest_pixel(ds, lon=lon, lat=lat)[:2] == (20, 11)
    lon, lat = inverse.transform(x_edge - 0.5, truth["y"].values[20])
    assert nearest_pixel(ds, lon=lon, lat=lat)[:2] == (20, 10)


def test_point_outside_the_product_names_the_product(product):
    url, _ = product
    with pytest.raises(CubeError, match="outside the product grid") as info:
        point_series(load_product(url), lon=10.0, lat=45.7)
    assert "product.zarr" in str(info.value)


@pytest.mark.parametrize(("lon", "lat", "field"), [(200, 45, "lon"), (3, -91, "lat"),
                                                   (float("nan"), 45, "lon")])
def test_invalid_coordinates_are_config_errors(product, lon, lat, field):
    url, _ = product
    with pytest.raises(ConfigError, match=field):
        point_series(load_product(url), lon=lon, lat=lat)


def test_end_before_start_is_rejected(product):
    url, _ = product
    with pytest.raises(ConfigError, match="before start"):
        point_series(load_product(url), lon=3.1, lat=45.7, start="2024-01-05", end="2024-01-02")


def test_missing_product_is_a_cube_error(tmp_path):
    with pytest.raises(CubeError, match="nothing"):
        load_product(str(tmp_path / "nothing.zarr"))


def test_point_series_says_which_days_are_complete(product):
    """A NaN on a day still being written is not a cloud: the series flags the day."""
    from lstcloud.query import product_info

    url, _ = product
    ds = load_product(url)
    series = point_series(ds, lon=3.1, lat=45.7)
    complete = {d.isoformat() for d in product_info(url).complete_days}
    days = [str(d)[:10] for d in series["time"].values]
    assert set(days) - complete, "the sample product should have an incomplete day"
    np.testing.assert_array_equal(series["day_complete"].values, [d in complete for d in days])
