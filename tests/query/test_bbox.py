"""Bounding-box subsets: native grid slices and EPSG:4326 reprojection."""

from __future__ import annotations

import numpy as np
import pyproj
import pytest

from lstcloud.errors import ConfigError, CubeError
from lstcloud.query import bbox_statistics, bbox_subset, load_product, parse_bbox
from tests.query.sample_product import PIX_250, SINUSOIDAL

BOX = (3.0, 45.65, 3.2, 45.8)


def test_native_subset_covers_the_box_and_nothing_more(product):
    url, truth = product
    sub = bbox_subset(load_product(url), bbox=BOX, start="2024-01-02", end="2024-01-03")
    assert sub.sizes["time"] == 2
    to_grid = pyproj.Transformer.from_crs("EPSG:4326", SINUSOIDAL, always_xy=True)
    lons = np.linspace(BOX[0], BOX[2], 50)
    lats = np.linspace(BOX[1], BOX[3], 50)
    xs, ys = to_grid.transform(*np.meshgrid(lons, lats))
    # Every point of the box falls in a pixel of the subset ...
    assert xs.min() >= sub["x"].values.min() - PIX_250 / 2
    assert xs.max() <= sub["x"].values.max() + PIX_250 / 2
    assert ys.min() >= sub["y"].values.min() - PIX_250 / 2
    assert ys.max() <= sub["y"].values.max() + PIX_250 / 2
    # ... and the subset has no column or row entirely outside the box.
    assert sub["x"].values.min() + PIX_250 / 2 > xs.min()
    assert sub["x"].values.max() - PIX_250 / 2 < xs.max()
    rows = np.flatnonzero(np.isin(truth["y"].values, sub["y"].values))
    cols = np.flatnonzero(np.isin(truth["x"].values, sub["x"].values))
    np.testing.assert_array_equal(
        sub["lst_250m"].values,
        truth["lst_250m"].values[1:3, rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1],
    )


def test_reprojected_subset_is_in_lonlat_and_keeps_values(product):
    url, truth = product
    sub = bbox_subset(load_product(url), bbox=BOX, start="2024-01-02", end="2024-01-02",
                      crs="EPSG:4326")
    assert sub.rio.crs.to_epsg() == 4326
    x, y = sub["x"].values, sub["y"].values
    assert BOX[0] - 0.01 <= x.min() and x.max() <= BOX[2] + 0.01
    assert BOX[1] - 0.01 <= y.min() and y.max() <= BOX[3] + 0.01
    # Nearest resampling: every output value is an input value of that day.
    values = sub["lst_250m"].values[0]
    day = truth["lst_250m"].values[1]
    finite = values[np.isfinite(values)]
    assert finite.size > 0.9 * values.size
    assert np.isin(finite, day).all()
    # Spot check one pixel against the independent projection of its centre.
    j, i = values.shape[0] // 2, values.shape[1] // 2
    px, py = pyproj.Transformer.from_crs("EPSG:4326", SINUSOIDAL, always_xy=True).transform(
        x[i], y[j])
    col = int((px - (truth["x"].values[0] - PIX_250 / 2)) // PIX_250)
    row = int(((truth["y"].values[0] + PIX_250 / 2) - py) // PIX_250)
    assert values[j, i] == day[row, col]


def test_box_outside_the_product_is_a_cube_error(product):
    url, _ = product
    with pytest.raises(CubeError, match="does not intersect"):
        bbox_subset(load_product(url), bbox=(10, 10, 11, 11), start="2024-01-01", end=None)


def test_range_without_days_is_a_cube_error(product):
    url, _ = product
    with pytest.raises(CubeError, match="no day"):
        bbox_subset(load_product(url), bbox=BOX, start="2030-01-01", end="2030-01-02")


@pytest.mark.parametrize("bad", ["1,2,3", "a,b,c,d", "5,0,4,1", "0,80,1,95", (0, 0, 0, 0)])
def test_bad_bbox_is_a_config_error(bad):
    with pytest.raises(ConfigError, match="bbox"):
        parse_bbox(bad)


def test_reprojection_errors_are_named(product):
    url, _ = product
    ds = load_product(url)
    with pytest.raises(ConfigError, match="crs"):
        bbox_subset(ds, bbox=BOX, start="2024-01-02", end="2024-01-02", crs="EPSG:nope")
    with pytest.raises(CubeError, match="too small"):
        bbox_subset(ds, bbox=(3.1, 45.7, 3.1001, 45.7001), start="2024-01-02",
                    end="2024-01-02", crs="EPSG:4326")


def test_bbox_statistics_match_numpy_on_the_same_pixels(product):
    url, truth = product
    ds = load_product(url)
    corner = pyproj.Transformer.from_crs(SINUSOIDAL, "EPSG:4326", always_xy=True).transform(
        truth["x"].values[0], truth["y"].values[0])
    box = (corner[0] - 0.001, corner[1] - 0.05, corner[0] + 0.08, corner[1] + 0.001)
    stats = bbox_statistics(ds, bbox=box, start="2024-01-01", end="2024-01-02")
    sub = bbox_subset(ds, bbox=box, start="2024-01-01", end="2024-01-02")
    values = sub["lst_250m"].values.reshape(2, -1)
    assert np.isnan(values).any()  # the cloudy corner is inside
    np.testing.assert_allclose(stats["mean_k"].values, np.nanmean(values, axis=1), rtol=1e-6)
    np.testing.assert_allclose(stats["max_k"].values, np.nanmax(values, axis=1))
    np.testing.assert_array_equal(stats["valid_pixels"].values, np.isfinite(values).sum(axis=1))
    assert 0 < stats["valid_fraction"].values[0] < 1
