"""``lstcloud compose``: composites equal numpy's nanmean / count / min / max at every window,
resume, exclude quality flags, open in plain xarray and with ``query``; the climatology."""

from __future__ import annotations

import datetime as dt
import warnings
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

import lstcloud
from lstcloud.cli.main import main
from lstcloud.compose import compose, period_ends, period_starts
from lstcloud.compose.climatology import climatology
from lstcloud.core.errors import ConfigError
from lstcloud.cube.product import ProductCube
from tests.query.sample_product import centre_lonlat, write_sample_product

START = dt.date(2024, 1, 3)  # mid-period: the first 8-day period (from 1 January) holds 6 days
DAYS = 14  # 2024-01-03 .. 2024-01-16: periods 01-01 (6 days) and 01-09 (8 days)


@pytest.fixture(scope="module")
def product(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, xr.Dataset]:
    """A 14-day 96 x 96 product with random clouds (NaN, flag 1) and low-confidence pixels."""
    url = str(Path(tmp_path_factory.mktemp("compose")) / "product.zarr")
    truth = write_sample_product(url, start=START, days=DAYS, size=96, chunk=48, seed=3).load()
    rng = np.random.default_rng(7)
    cube = ProductCube(url)
    lst_arr, quality_arr = cube.arrays()
    lst = truth["lst_250m"].values.copy()
    quality = truth["lst_250m_quality"].values.copy()
    cloud = rng.random(lst.shape) < 0.4
    lst[cloud] = np.nan
    quality[cloud] = 1
    low = ~cloud & (rng.random(lst.shape) < 0.2)
    quality[low] |= 4
    lst_arr[:] = lst
    quality_arr[:] = quality
    return url, truth.assign(
        lst_250m=(truth["lst_250m"].dims, lst), lst_250m_quality=(truth["lst_250m"].dims, quality)
    )


def _expected(lst: np.ndarray, days: np.ndarray, period: str) -> dict[str, np.ndarray]:
    starts = period_starts(days, period)
    out: dict[str, list[np.ndarray]] = {"mean": [], "count": [], "min": [], "max": []}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        for p in np.unique(starts):
            block = lst[starts == p].astype("float64")
            out["mean"].append(np.nanmean(block, axis=0))
            out["count"].append(np.isfinite(block).sum(axis=0))
            out["min"].append(np.nanmin(block, axis=0))
            out["max"].append(np.nanmax(block, axis=0))
    return {k: np.stack(v) for k, v in out.items()}


def test_periods_follow_modis_8_and_16_day_and_calendar_months() -> None:
    days = np.array(
        ["2024-01-01", "2024-01-08", "2024-01-09", "2024-12-30", "2025-01-02"],
        dtype="datetime64[D]",
    )
    assert period_starts(days, "8D").astype(str).tolist() == [
        "2024-01-01",
        "2024-01-01",
        "2024-01-09",
        "2024-12-26",
        "2025-01-01",
    ]
    assert period_ends(period_starts(days, "8D"), "8D")[3] == np.datetime64("2024-12-31")
    assert period_starts(days, "16D").astype(str).tolist()[:3] == ["2024-01-01"] * 3
    assert period_starts(days, "1M").astype(str).tolist()[3] == "2024-12-01"
    assert period_ends(np.array(["2024-02-01"], "datetime64[D]"), "1M")[0] == np.datetime64(
        "2024-02-29"
    )


def test_compose_8d_equals_nanmean_and_finite_count_at_every_window(
    product: tuple[str, xr.Dataset], tmp_path: Path
) -> None:
    url, truth = product
    out = str(tmp_path / "8d.zarr")
    assert main(["compose", "--product", url, "--period", "8D", "--out", out]) == 0
    comp = xr.open_zarr(out)  # plain xarray: CF, spatial_ref, no lstcloud needed
    assert comp["time"].values.astype("datetime64[D]").astype(str).tolist() == [
        "2024-01-01",
        "2024-01-09",
    ]
    want = _expected(truth["lst_250m"].values, truth["time"].values, "8D")
    np.testing.assert_allclose(comp["lst_250m_mean"].values, want["mean"], atol=1e-4)
    assert comp["lst_250m_count"].dtype == np.uint16
    np.testing.assert_array_equal(comp["lst_250m_count"].values, want["count"])
    np.testing.assert_allclose(comp["lst_250m_min"].values, want["min"], atol=1e-6)
    np.testing.assert_allclose(comp["lst_250m_max"].values, want["max"], atol=1e-6)
    assert (want["count"][0] == 0).any(), "the test wants all-cloudy pixels: NaN and count 0"
    assert comp["lst_250m_mean"].attrs["units"] == "K"
    assert comp["lst_250m_mean"].attrs["grid_mapping"] == "spatial_ref"
    assert "crs_wkt" in comp["spatial_ref"].attrs
    chunks = comp["lst_250m_mean"].chunksizes
    assert chunks["time"] == (1, 1) and chunks["y"] == (48, 48)
    # the same query commands: lst_250m is the period mean
    lon, lat = centre_lonlat(truth)
    opened = lstcloud.open_product(out)
    assert opened.attrs["complete_days"] == ["2024-01-01", "2024-01-09"]
    assert lstcloud.query.product_info(out).missing_days == ()
    series = lstcloud.query.point_series(opened, lon=lon, lat=lat)
    np.testing.assert_allclose(series["lst_250m"].values, want["mean"][:, 48, 48], atol=1e-4)


def test_compose_window_16d_and_monthly(product: tuple[str, xr.Dataset], tmp_path: Path) -> None:
    url, truth = product
    days = truth["time"].values.astype("datetime64[D]")
    keep = (days >= np.datetime64("2024-01-05")) & (days <= np.datetime64("2024-01-12"))
    for period in ("8D", "16D", "1M"):
        out = str(tmp_path / f"{period}.zarr")
        compose(url, out, period, start="2024-01-05", end="2024-01-12")
        comp = xr.open_zarr(out)
        want = _expected(truth["lst_250m"].values[keep], days[keep], period)
        np.testing.assert_allclose(comp["lst_250m_mean"].values, want["mean"], atol=1e-4)
        np.testing.assert_array_equal(comp["lst_250m_count"].values, want["count"])


def test_exclude_flags_drops_the_flagged_pixels(
    product: tuple[str, xr.Dataset], tmp_path: Path
) -> None:
    url, truth = product
    out = str(tmp_path / "clean.zarr")
    compose(url, out, "8D", exclude_flags=["low_confidence"])
    lst = np.where(truth["lst_250m_quality"].values & 4, np.nan, truth["lst_250m"].values)
    want = _expected(lst, truth["time"].values, "8D")
    comp = xr.open_zarr(out)
    np.testing.assert_array_equal(comp["lst_250m_count"].values, want["count"])
    np.testing.assert_allclose(comp["lst_250m_mean"].values, want["mean"], atol=1e-4)
    assert comp.attrs["lstcloud_composite_exclude_flags"] == ["low_confidence"]
    with pytest.raises(ConfigError, match="not a quality flag"):
        compose(url, out, "8D", exclude_flags=["clouds"])


def test_a_rerun_skips_current_periods_and_redoes_a_withdrawn_one(
    product: tuple[str, xr.Dataset], tmp_path: Path
) -> None:
    url, _ = product
    out = str(tmp_path / "resume.zarr")
    first = compose(url, out, "8D")
    assert first.written == ["2024-01-01", "2024-01-09"]
    assert compose(url, out, "8D").skipped == ["2024-01-01", "2024-01-09"]
    good = xr.open_zarr(out)["lst_250m_mean"].values
    # a crash mid-period: the period's values are damaged and its record never written
    import zarr

    zarr.open_group(out)["lst_250m_mean"][1] = 0.0
    ProductCube(out).withdraw(dt.date(2024, 1, 9))
    again = compose(url, out, "8D")
    assert (again.written, again.skipped) == (["2024-01-09"], ["2024-01-01"])
    np.testing.assert_array_equal(xr.open_zarr(out)["lst_250m_mean"].values, good)


def test_a_product_that_grows_appends_its_new_periods(
    product: tuple[str, xr.Dataset], tmp_path: Path
) -> None:
    url, truth = product
    out = str(tmp_path / "grow.zarr")
    assert compose(url, out, "8D", end="2024-01-08").written == ["2024-01-01"]
    later = compose(url, out, "8D")
    assert (later.written, later.skipped) == (["2024-01-09"], ["2024-01-01"])
    comp = xr.open_zarr(out)
    want = _expected(truth["lst_250m"].values, truth["time"].values, "8D")
    np.testing.assert_allclose(comp["lst_250m_mean"].values, want["mean"], atol=1e-4)
    np.testing.assert_array_equal(comp["lst_250m_count"].values, want["count"])
    assert comp["time_bnds"].values.astype("datetime64[D]").astype(str).tolist() == [
        ["2024-01-01", "2024-01-09"],
        ["2024-01-09", "2024-01-17"],
    ]
    assert "crs_wkt" in comp["spatial_ref"].attrs


def test_climatology_is_the_mean_over_years_of_each_period_and_the_anomaly_the_rest() -> None:
    starts = np.array(
        ["2023-01-01", "2023-02-01", "2024-01-01", "2024-02-01", "2025-01-01"],
        dtype="datetime64[D]",
    ).astype("datetime64[ns]")
    rng = np.random.default_rng(0)
    mean = rng.uniform(270, 300, (5, 3, 4)).astype("float32")
    mean[2, 0, 0] = np.nan
    comp = xr.Dataset({"lst_250m_mean": (("time", "y", "x"), mean)}, coords={"time": starts})
    out = climatology(comp, "1M").load()
    jan = np.nanmean(mean[[0, 2, 4]].astype("float64"), axis=0)
    np.testing.assert_allclose(out["lst_250m_climatology"].values[4], jan, atol=1e-4)
    np.testing.assert_allclose(
        out["lst_250m_climatology"].values[1], mean[[1, 3]].mean(0), atol=1e-4
    )
    np.testing.assert_allclose(
        out["lst_250m_anomaly"].values, mean - out["lst_250m_climatology"].values, atol=1e-4
    )


def test_climatology_refuses_a_single_year(product: tuple[str, xr.Dataset], tmp_path: Path) -> None:
    url, _ = product
    out = tmp_path / "c.zarr"
    code = main(["compose", "--product", url, "--period", "8D", "--out", str(out), "--climatology"])
    assert code == 2 and not out.exists()  # a usage error (exit 2), refused before writing


def test_climatology_is_written_beside_the_composites_of_a_product_spanning_years(
    tmp_path: Path,
) -> None:
    url = str(tmp_path / "product.zarr")
    write_sample_product(url, start=dt.date(2023, 12, 30), days=4, size=48, chunk=48)
    out = str(tmp_path / "1m.zarr")
    result = compose(url, out, "1M", climatology=True)
    assert result.climatology_years == [2023, 2024]
    comp = xr.open_zarr(out)
    assert comp["time"].values.astype("datetime64[D]").astype(str).tolist() == [
        "2023-12-01",
        "2024-01-01",
    ]
    # one year of each month: the climatology is the month's mean, the anomaly zero
    mean = comp["lst_250m_mean"].values
    np.testing.assert_allclose(comp["lst_250m_climatology"].values, mean, atol=1e-4)
    np.testing.assert_allclose(comp["lst_250m_anomaly"].values[np.isfinite(mean)], 0, atol=1e-4)
    assert comp["lst_250m_anomaly"].attrs["units"] == "K"
    assert lstcloud.open_product(out).attrs["complete_days"] == ["2023-12-01", "2024-01-01"]
