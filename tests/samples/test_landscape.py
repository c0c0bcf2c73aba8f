"""The synthetic landscape: deterministic, continuous across tiles, physically shaped."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from lstcloud.grid import Tile
from lstcloud.readers import ndvi_from_reflectance
from lstcloud.samples.landscape import (
    _CLOUD,
    _VEG,
    Landscape,
    _cloud_mask,
    _pixel_centres,
    l4_aggregate,
    make_landscape,
    smooth_field,
)

DATE = dt.date(2020, 7, 1)


@pytest.fixture(scope="module")
def land() -> Landscape:
    return make_landscape("h18v04", DATE, seed=0, cloud_fraction=0.2)


def test_shapes_and_dtypes(land: Landscape) -> None:
    for name in ("lst_day_1km", "lst_night_1km", "view_time_day_1km", "cloud_1km"):
        assert getattr(land, name).shape == (1200, 1200), name
    for name in ("ndvi_250m", "red_250m", "nir_250m", "water_250m", "lst_day_250m"):
        assert getattr(land, name).shape == (4800, 4800), name
    assert land.lst_day_1km.dtype == np.float32 and land.cloud_1km.dtype == bool
    assert not land.ndvi_250m.flags.writeable  # cached: callers cannot alter it


def test_physical_ranges(land: Landscape) -> None:
    assert np.nanmin(land.lst_day_1km) > 250 and np.nanmax(land.lst_day_1km) < 340
    assert np.nanmean(land.lst_night_1km) < np.nanmean(land.lst_day_1km) - 5
    assert np.nanmin(land.ndvi_250m) > 0.0 and np.nanmax(land.ndvi_250m) < 0.95
    day = land.view_time_day_1km
    assert np.nanmin(day) > 9 and np.nanmax(day) < 13


def test_water_and_clouds_are_nan(land: Landscape) -> None:
    assert 0.001 < land.water_250m.mean() < 0.2
    assert np.isnan(land.ndvi_250m[land.water_250m]).all()
    assert np.isnan(land.red_250m[land.water_250m]).all()
    assert np.isfinite(land.ndvi_250m[~land.water_250m]).all()
    assert np.isnan(land.lst_day_1km[land.cloud_1km]).all()
    assert 0.05 < land.cloud_1km.mean() < 0.4
    assert not np.array_equal(land.cloud_1km, land.cloud_night_1km)


def test_lst_anticorrelated_with_ndvi(land: Landscape) -> None:
    ok = np.isfinite(land.lst_day_250m)
    corr = np.corrcoef(land.lst_day_250m[ok][::37], land.ndvi_250m[ok][::37])[0, 1]
    assert corr < -0.7


def test_1km_lst_is_l4_aggregate_of_250m(land: Landscape) -> None:
    t4 = land.lst_day_250m.astype(np.float64).reshape(1200, 4, 1200, 4) ** 4
    land_block = ~land.water_250m.reshape(1200, 4, 1200, 4).any(axis=(1, 3))
    expected = t4.mean(axis=(1, 3)) ** 0.25
    use = land_block & ~land.cloud_1km
    assert use.sum() > 500_000
    np.testing.assert_allclose(land.lst_day_1km[use], expected[use], atol=2e-3)
    # and l4_aggregate leaves NaN out of the mean
    block = np.array([[300.0, np.nan, 310.0, 320.0]] * 4, dtype=np.float32)
    vals = np.array([300.0, 310.0, 320.0] * 4)
    assert l4_aggregate(block)[0, 0] == pytest.approx(np.mean(vals**4) ** 0.25, abs=1e-3)


def test_reflectance_gives_back_ndvi(land: Landscape) -> None:
    ndvi = ndvi_from_reflectance(land.red_250m[:500], land.nir_250m[:500])
    np.testing.assert_allclose(ndvi, land.ndvi_250m[:500], atol=1e-5)


def test_ndvi_has_250m_texture(land: Landscape) -> None:
    ndvi = np.nan_to_num(land.ndvi_250m[:1200, :1200], nan=0.5)
    block = ndvi.reshape(300, 4, 300, 4)
    within = block.std(axis=(1, 3)).mean()
    assert within > 0.01  # the 1 km LST cannot show this: the point of super-resolution


def test_deterministic_and_seeded() -> None:
    y = np.linspace(4.4e6, 4.3e6, 64)
    x = np.linspace(1e5, 2e5, 80)
    a = smooth_field(y, x, _VEG, 11)
    np.testing.assert_array_equal(a, smooth_field(y, x, _VEG, 11))
    assert not np.allclose(a, smooth_field(y, x, _VEG, 12))


def test_fields_do_not_depend_on_the_window() -> None:
    # nodes are global: a window evaluates to the same values as the larger grid around it
    y = 4.4e6 - (np.arange(300) + 0.5) * 231.656358
    x = -1000.0 + (np.arange(400) + 0.5) * 231.656358
    big = smooth_field(y, x, _VEG, 5)
    part = smooth_field(y[50:120], x[170:260], _VEG, 5)
    np.testing.assert_allclose(part, big[50:120, 170:260], atol=1e-5)


def test_continuous_across_tile_edges() -> None:
    smooth = tuple(o for o in _VEG if o[2] == 3)
    y, x_west = _pixel_centres(Tile(18, 4), "250m")
    _, x_east = _pixel_centres(Tile(19, 4), "250m")
    west = smooth_field(y, x_west[-2:], smooth, 1)
    east = smooth_field(y, x_east[:1], smooth, 1)
    across = np.abs(east[:, 0] - west[:, 1]).mean()
    inside = np.abs(west[:, 1] - west[:, 0]).mean()
    assert across < 2 * inside  # the edge is no jump: like any step between two pixels


@pytest.mark.parametrize("fraction", [0.0, 0.1, 0.3, 1.0])
def test_cloud_fraction(fraction: float) -> None:
    y, x = _pixel_centres(Tile(20, 5), "1km")
    got = np.mean([_cloud_mask(y, x, key, fraction).mean() for key in (1, 2, 3, 4)])
    assert got == pytest.approx(fraction, abs=0.08)
    assert _CLOUD


def test_bad_cloud_fraction() -> None:
    with pytest.raises(ValueError, match="cloud_fraction"):
        make_landscape("h18v04", DATE, cloud_fraction=1.5)
