"""read_granule on the real LP DAAC granules, checked against an independent pyhdf decode."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyproj
import pytest

from lstcloud.grid import tile_transform
from lstcloud.products import get_product
from lstcloud.readers import read_granule
from lstcloud.readers.hdf4 import parse_struct_metadata

H14V09 = "MOD11A1.A2019305.h14v09.006.2019306084028.hdf"
H12V11 = "MOD11A1.A2017147.h12v11.006.2017151182710.hdf"
MYD13Q1 = "MYD13Q1.A2002185.h00v09.006.2015149071135.hdf"


def _raw(path: Path, name: str) -> np.ndarray:
    """Independent read: pyhdf straight, no lstcloud code."""
    from pyhdf.SD import SD

    sd = SD(str(path))
    try:
        return np.asarray(sd.select(name).get())
    finally:
        sd.end()


def _independent_lst(path: Path, sds: str) -> np.ndarray:
    raw = _raw(path, sds).astype(np.float64)
    return np.where(raw == 0, np.nan, raw * 0.02)


def test_mod11a1_h14v09_day_lst_matches_independent_decode(hdf4_granules: Path) -> None:
    path = hdf4_granules / H14V09
    ds = read_granule(str(path), "MOD11A1", apply_qc=False)
    lst = ds["LST_Day_1km"].values
    assert lst.dtype == np.float32
    expected = _independent_lst(path, "LST_Day_1km")
    assert int(np.isfinite(expected).sum()) == 333_829  # the figure
    np.testing.assert_array_equal(np.isfinite(lst), np.isfinite(expected))
    np.testing.assert_allclose(lst, expected, rtol=1e-6, equal_nan=True)
    # the figures (291-326 K), to 0.1 K: 291.40 and 325.72 K in an independent decode
    assert round(float(np.nanmin(lst)), 1) == 291.4
    assert round(float(np.nanmax(lst)), 1) == 325.7
    assert int(np.isfinite(lst).sum()) == 333_829  # valid pixels before QC
    assert ds["QC_Day"].dtype == np.uint8
    np.testing.assert_array_equal(ds["QC_Day"].values, _raw(path, "QC_Day"))
    view = ds["Day_view_time"].values
    raw_view = _raw(path, "Day_view_time")
    np.testing.assert_allclose(view, np.where(raw_view == 255, np.nan, raw_view * 0.1), rtol=1e-6)


@pytest.mark.parametrize("filename", [H14V09, H12V11])
def test_mod11a1_qc_applied_bit_by_bit(hdf4_granules: Path, filename: str) -> None:
    path = hdf4_granules / filename
    ds = read_granule(path, "MOD11A1")
    for part in ("Day", "Night"):
        expected = _independent_lst(path, f"LST_{part}_1km")
        qc = _raw(path, f"QC_{part}").astype(np.int64)
        # default MOD11 policy: mandatory QA 00/01 and LST error class <= 2 K (bits 6-7 <= 01)
        accepted = ((qc & 0b11) <= 1) & (((qc >> 6) & 0b11) <= 1)
        expected[~accepted] = np.nan
        got = ds[f"LST_{part}_1km"].values
        np.testing.assert_array_equal(np.isfinite(got), np.isfinite(expected))
        np.testing.assert_allclose(got, expected, rtol=1e-6, equal_nan=True)
    assert ds.attrs["qc_applied"] == 1


def test_mod11a1_qc_rejects_some_valid_pixels(hdf4_granules: Path) -> None:
    path = hdf4_granules / H14V09
    with_qc = np.isfinite(read_granule(path, "MOD11A1")["LST_Day_1km"].values).sum()
    assert 300_000 < with_qc < 333_829  # 1,214 pixels have an LST error class of 3 K
    loose = read_granule(path, "MOD11A1", qc_policy={"max_lst_error_k": 3})
    assert np.isfinite(loose["LST_Day_1km"].values).sum() == 333_829


def test_georeferencing_and_attrs(hdf4_granules: Path) -> None:
    from pyhdf.SD import SD

    path = hdf4_granules / H12V11
    ds = read_granule(path, get_product("MOD11A1"), variables=["LST_Day_1km"])
    assert list(ds.data_vars) == ["LST_Day_1km", "QC_Day"] or list(ds.data_vars) == ["LST_Day_1km"]
    assert ds.attrs["tile"] == "h12v11"
    assert ds.attrs["date"] == "2017-05-27"
    assert ds.attrs["product"] == "MOD11A1"
    sd = SD(str(path))
    grid = parse_struct_metadata(sd.attributes()["StructMetadata.0"])[0]
    sd.end()
    assert grid.name == "MODIS_Grid_Daily_1km_LST" and grid.shape == (1200, 1200)
    (ulx, uly), (lrx, lry) = grid.upper_left, grid.lower_right
    res = (lrx - ulx) / 1200
    assert ds.sizes == {"y": 1200, "x": 1200}
    assert ds.x.values[0] == pytest.approx(ulx + res / 2)
    assert ds.y.values[0] == pytest.approx(uly - res / 2)
    assert ds.y.values[-1] == pytest.approx(lry + res / 2)
    ref = ds["spatial_ref"].attrs
    crs = pyproj.CRS.from_wkt(ref["crs_wkt"])
    assert crs.ellipsoid.semi_major_metre == pytest.approx(6371007.181)
    assert "sinusoidal" in crs.to_wkt().lower()
    gt = [float(v) for v in ref["GeoTransform"].split()]
    assert gt == pytest.approx([ulx, res, 0.0, uly, 0.0, -res])
    # coordinates are snapped to lstcloud.grid exactly (StructMetadata prints 6 decimals)
    exact = tile_transform("h12v11", "1km")
    np.testing.assert_array_equal(ds.x.values, exact.c + (np.arange(1200) + 0.5) * exact.a)
    np.testing.assert_array_equal(ds.y.values, exact.f + (np.arange(1200) + 0.5) * exact.e)
    assert ds["LST_Day_1km"].attrs["grid_mapping"] == "spatial_ref"
    assert ds["LST_Day_1km"].attrs["units"] == "K"


def test_rioxarray_understands_the_dataset(hdf4_granules: Path) -> None:
    rioxarray = pytest.importorskip("rioxarray")
    del rioxarray
    ds = read_granule(hdf4_granules / H14V09, "MOD11A1", variables=["LST_Day_1km"])
    assert ds.rio.crs is not None
    transform = ds.rio.transform()
    assert transform.c == pytest.approx(-4447802.079066)
    assert transform.f == pytest.approx(0.0, abs=1e-6)


@pytest.mark.slow
def test_myd13q1_ndvi_250m_with_qc(hdf4_granules: Path) -> None:
    path = hdf4_granules / MYD13Q1
    ds = read_granule(path, "MYD13Q1", variables=["250m 16 days NDVI", "250m 16 days VI Quality"])
    ndvi = ds["250m 16 days NDVI"].values
    raw = _raw(path, "250m 16 days NDVI").astype(np.float64)
    expected = np.where((raw == -3000) | (raw < -2000) | (raw > 10000), np.nan, raw * 1e-4)
    assert int(np.isfinite(expected).sum()) == 106  # open Pacific: a few atoll pixels
    qc = _raw(path, "250m 16 days VI Quality").astype(np.int64)
    np.testing.assert_array_equal(ds["250m 16 days VI Quality"].values, qc)
    accepted = (
        ((qc & 0b11) <= 1)
        & (((qc >> 2) & 0b1111) <= 11)
        & (((qc >> 10) & 1) == 0)
        & (((qc >> 15) & 1) == 0)
    )
    expected[~accepted] = np.nan
    assert ndvi.shape == (4800, 4800) and ndvi.dtype == np.float32
    assert np.isfinite(expected).sum() > 0
    np.testing.assert_array_equal(np.isfinite(ndvi), np.isfinite(expected))
    np.testing.assert_allclose(ndvi, expected, rtol=1e-5, equal_nan=True)
    assert np.nanmax(ndvi) <= 1.0 and np.nanmin(ndvi) >= -0.2
    assert ds.attrs["tile"] == "h00v09"
    assert ds.attrs["date"] == "2002-07-04" and ds.attrs["end_date"] == "2002-07-19"
    assert ds.x.values[0] == pytest.approx(-20015109.354 + 231.65635826 / 2, abs=0.01)
