"""Synthetic granules look like the real ones and read back through lstcloud.readers."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pytest

from lstcloud.grid import Tile
from lstcloud.products import get_product
from lstcloud.readers import read_granule
from lstcloud.readers.hdf4 import parse_struct_metadata
from lstcloud.samples import corrupt_file, granule_filename, make_landscape, write_hdf4
from lstcloud.samples.encoding import encode_product
from lstcloud.samples.eos_metadata import struct_metadata

REAL_MOD11A1 = "MOD11A1.A2019305.h14v09.006.2019306084028.hdf"
TILE = "h18v04"
DATE = dt.date(2020, 7, 1)


def _hdf_facts(path: Path) -> tuple[dict, dict]:
    from pyhdf.SD import SD

    sd = SD(str(path))
    try:
        gattrs = sd.attributes()
        sds = {}
        for name in sd.datasets():
            s = sd.select(name)
            dims = tuple(s.dim(i).info()[0] for i in range(2))
            sds[name] = {
                "dtype": np.asarray(s[0:1, 0:1]).dtype.name,
                "attrs": s.attributes(),
                "dims": dims,
                "compress": s.getcompress()[0],
            }
            s.endaccess()
        return gattrs, sds
    finally:
        sd.end()


@pytest.fixture(scope="module")
def land():
    return make_landscape(TILE, DATE, seed=1)


@pytest.fixture(scope="module")
def mod11a1(tmp_path_factory: pytest.TempPathFactory, land) -> Path:
    out = tmp_path_factory.mktemp("granules")
    return write_hdf4(out, product="MOD11A1", tile=TILE, date=DATE, landscape=land)


def test_granule_filename() -> None:
    name = granule_filename("MOD11A1", "h14v09", dt.date(2019, 11, 1))
    assert name.startswith("MOD11A1.A2019305.h14v09.061.2019306")
    assert name.endswith(".hdf") and len(name.split(".")[4]) == 13
    custom = granule_filename(
        "MOD11A1", "h14v09", dt.date(2019, 11, 1), production=dt.datetime(2019, 11, 2, 8, 40, 28)
    )
    assert custom == "MOD11A1.A2019305.h14v09.061.2019306084028.hdf"
    # composites are named after the start of their period
    assert granule_filename("MOD13Q1", "h18v04", dt.date(2020, 2, 1)).startswith(
        "MOD13Q1.A2020017.h18v04"
    )
    assert granule_filename("MOD09Q1", "h18v04", dt.date(2020, 1, 16)).startswith(
        "MOD09Q1.A2020009."
    )


def test_mod11a1_looks_like_the_real_one(mod11a1: Path, hdf4_granules: Path) -> None:
    real_g, real = _hdf_facts(hdf4_granules / REAL_MOD11A1)
    ours_g, ours = _hdf_facts(mod11a1)
    assert set(ours_g) == set(real_g)
    assert list(ours) == list(real)  # same SDS, same order
    for name, facts in real.items():
        mine = ours[name]
        assert mine["dtype"] == facts["dtype"], name
        assert set(mine["attrs"]) == set(facts["attrs"]), name
        for key in (
            "long_name",
            "units",
            "valid_range",
            "_FillValue",
            "scale_factor",
            "add_offset",
        ):
            assert mine["attrs"].get(key) == facts["attrs"].get(key), (name, key)
        assert mine["dims"] == facts["dims"], name
        assert mine["compress"] == facts["compress"], name  # deflate
    ours_grid = parse_struct_metadata(ours_g["StructMetadata.0"])[0]
    real_grid = parse_struct_metadata(real_g["StructMetadata.0"])[0]
    assert ours_grid.name == real_grid.name == "MODIS_Grid_Daily_1km_LST"
    assert ours_grid.fields == real_grid.fields
    left, bottom, right, top = Tile.parse(TILE).bounds
    assert ours_grid.upper_left == pytest.approx((left, top), abs=1e-6)
    assert ours_grid.lower_right == pytest.approx((right, bottom), abs=1e-6)


def test_struct_metadata_text_matches_real_for_the_same_tile(hdf4_granules: Path) -> None:
    from pyhdf.SD import SD

    sd = SD(str(hdf4_granules / REAL_MOD11A1))
    real = sd.attributes()["StructMetadata.0"].rstrip("\x00")
    sd.end()
    ours = struct_metadata(get_product("MOD11A1"), Tile(14, 9))
    assert ours.strip() == real.strip()


def test_mod11a1_reads_back_with_qc(mod11a1: Path, land) -> None:
    ds = read_granule(mod11a1, "MOD11A1", apply_qc=False)
    assert ds.attrs["tile"] == TILE and ds.attrs["date"] == DATE.isoformat()
    lst = ds["LST_Day_1km"].values
    truth = land.lst_day_1km
    np.testing.assert_array_equal(np.isfinite(lst), np.isfinite(truth))
    np.testing.assert_allclose(lst, truth, atol=0.0101, equal_nan=True)  # 0.02 K steps
    qc = ds["QC_Day"].values
    assert (qc[land.cloud_1km] == 2).all()  # LST not produced due to cloud
    with_qc = read_granule(mod11a1, "MOD11A1")["LST_Day_1km"].values
    rejected = np.isfinite(lst) & ~np.isfinite(with_qc)
    assert 0.01 < rejected.sum() / np.isfinite(lst).sum() < 0.1
    assert ((qc[rejected] >> 6) >= 2).all()  # only the LST error class rejects clear pixels
    view = ds["Day_view_time"].values
    np.testing.assert_allclose(view, land.view_time_day_1km, atol=0.051, equal_nan=True)


def test_mod21a1d_flags_cloudy_lst(tmp_path: Path, land) -> None:
    path = write_hdf4(tmp_path, product="MOD21A1D", tile=TILE, date=DATE, landscape=land)
    raw = read_granule(path, "MOD21A1D", apply_qc=False)
    qc = raw["QC"].values
    assert qc.dtype == np.uint16
    cloudy_lst = np.isfinite(raw["LST_1KM"].values) & land.cloud_1km
    assert cloudy_lst.sum() > 1000  # MOD21 keeps an LST under detected clouds ...
    assert ((qc[cloudy_lst] & 0b11) == 2).all()
    masked = read_granule(path, "MOD21A1D")["LST_1KM"].values
    assert not np.isfinite(masked[land.cloud_1km]).any()  # ... that the default QC rejects
    assert np.isfinite(masked).sum() > 0.5 * np.isfinite(land.lst_day_1km).sum()
    assert ((qc >> 14) == 0).any()  # the high bits are populated


def test_night_product_uses_night_lst(tmp_path: Path, land) -> None:
    path = write_hdf4(tmp_path, product="MOD21A1N", tile=TILE, date=DATE, landscape=land)
    lst = read_granule(path, "MOD21A1N", apply_qc=False)["LST_1KM"].values
    clear = np.isfinite(land.lst_night_1km)
    np.testing.assert_allclose(lst[clear], land.lst_night_1km[clear], atol=0.0101)


def test_encode_is_deterministic(land) -> None:
    a = encode_product("MOD11A1", land)
    b = encode_product("MOD11A1", land)
    for name in a:
        np.testing.assert_array_equal(a[name], b[name])


def test_write_to_explicit_file_and_wrong_landscape(tmp_path: Path, land) -> None:
    target = tmp_path / "sub" / "granule.hdf"
    assert write_hdf4(target, product="MOD11A1", tile=TILE, date=DATE, landscape=land) == target
    assert not list(target.parent.glob("*.part"))
    with pytest.raises(ValueError, match="h18v04"):
        write_hdf4(tmp_path, product="MOD11A1", tile="h19v04", date=DATE, landscape=land)


def test_corrupt_file_modes(tmp_path: Path) -> None:
    path = tmp_path / "x.bin"
    path.write_bytes(bytes(range(256)) * 40)
    corrupt_file(path, mode="truncate")
    assert path.stat().st_size == int(10240 * 0.4)
    corrupt_file(path, mode="garbage")
    assert path.stat().st_size == int(10240 * 0.4) and path.read_bytes()[:8] != bytes(range(8))
    with pytest.raises(ValueError, match="mode"):
        corrupt_file(path, mode="shred")  # type: ignore[arg-type]


# ------------------------------------------------------------------ 250 m products (slow)


@pytest.mark.slow
def test_mod09gq_ndvi_and_qc(tmp_path: Path, land) -> None:
    path = write_hdf4(tmp_path, product="MOD09GQ", tile=TILE, date=DATE, landscape=land)
    ds = read_granule(path, "MOD09GQ")
    assert list(ds.data_vars) == ["sur_refl_b01_1", "sur_refl_b02_1", "QC_250m_1", "NDVI"]
    ndvi = ds["NDVI"].values
    assert ndvi.dtype == np.float32 and ndvi.shape == (4800, 4800)
    cloud = np.repeat(np.repeat(land.cloud_1km, 4, 0), 4, 1)
    assert not np.isfinite(ndvi[cloud | land.water_250m]).any()
    ok = np.isfinite(ndvi)
    assert ok.mean() > 0.5
    np.testing.assert_allclose(ndvi[ok], land.ndvi_250m[ok], atol=2e-3)
    raw = read_granule(path, "MOD09GQ", apply_qc=False, variables=["NDVI"])["NDVI"].values
    assert np.isfinite(raw[cloud & ~land.water_250m]).all()  # clouds are valid reflectance


@pytest.mark.slow
def test_mod09q1_uses_state_flags(tmp_path: Path, land) -> None:
    path = write_hdf4(tmp_path, product="MOD09Q1", tile=TILE, date=DATE, landscape=land)
    assert path.name.startswith("MOD09Q1.A2020177.")  # 8-day period of 2020-07-01
    ds = read_granule(path, "MOD09Q1", variables=["NDVI", "sur_refl_state_250m"])
    state = ds["sur_refl_state_250m"].values
    cloudy = (state & 0b11) == 1
    assert cloudy.any() and not np.isfinite(ds["NDVI"].values[cloudy]).any()


@pytest.mark.slow
def test_mod13q1_ndvi(tmp_path: Path, land) -> None:
    path = write_hdf4(tmp_path, product="MOD13Q1", tile=TILE, date=DATE, landscape=land)
    from pyhdf.SD import SD

    sd = SD(str(path))
    attrs = sd.select("250m 16 days NDVI").attributes()
    assert len(sd.datasets()) == 12
    sd.end()
    assert attrs["scale_factor"] == 10000.0 and attrs["_FillValue"] == -3000  # as the real file
    ds = read_granule(path, "MOD13Q1", variables=["250m 16 days NDVI"])
    ndvi = ds["250m 16 days NDVI"].values
    ok = np.isfinite(ndvi)
    assert 0.4 < ok.mean() < 1.0
    np.testing.assert_allclose(ndvi[ok], land.ndvi_250m[ok], atol=1e-4)
