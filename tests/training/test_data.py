"""Training data: alignment by geotransform, patch sampling, augmentation, cube patches."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import rasterio
from affine import Affine

from lstcloud.errors import ConfigError, GranuleReadError
from lstcloud.training import CubePatches, DevFolderPairs, align_ndvi_to_lst, split_ids
from lstcloud.training.data import valid_fraction

PX_1KM = 926.625433055833
ORIGIN = (277061.0, 5100146.0)
CRS = (
    "+proj=sinu +lon_0=0 +x_0=0 +y_0=0 +R=6371007.181 +units=m +no_defs"
)


def _block_mean(a: np.ndarray) -> np.ndarray:
    h, w = a.shape[-2] // 4, a.shape[-1] // 4
    return a.reshape(*a.shape[:-2], h, 4, w, 4).mean(axis=(-3, -1))


def _write(path: Path, data: np.ndarray, transform: Affine) -> None:
    with rasterio.open(
        path, "w", driver="GTiff", height=data.shape[0], width=data.shape[1], count=1,
        dtype="float32", crs=CRS, transform=transform,
    ) as dst:
        dst.write(data.astype(np.float32), 1)


def _make_pair(folder: Path, *, size: int, shift: tuple[int, int], seed: int,
               lst_nan: slice | None = None) -> np.ndarray:
    """Write one sample: LST = 300 + 10 * blockmean(F); the NDVI file is F shifted by ``shift``
    250 m pixels (its window starts ``shift`` px right/down of the LST window). Returns F on the
    refined LST grid."""
    rng = np.random.default_rng(seed)
    pad = 8
    field = rng.random((4 * size + 2 * pad, 4 * size + 2 * pad)).astype(np.float32)
    f_on_lst = field[pad : pad + 4 * size, pad : pad + 4 * size]
    lst = 300.0 + 10.0 * _block_mean(f_on_lst)
    if lst_nan is not None:
        lst[:, lst_nan] = np.nan
    dr, dc = shift
    ndvi = field[pad + dr : pad + dr + 4 * size, pad + dc : pad + dc + 4 * size]
    tf = Affine(PX_1KM, 0, ORIGIN[0], 0, -PX_1KM, ORIGIN[1])
    fine = tf @ Affine.scale(0.25)
    ndvi_tf = fine @ Affine.translation(dc, dr)
    folder.mkdir(parents=True)
    _write(folder / "modis_lst_1km.tif", lst, tf)
    _write(folder / "modis_ndvi_250m.tif", ndvi, ndvi_tf)
    (folder / "aster_lst_250m_utm31n_x10.tif").write_bytes(b"never to be read")
    return f_on_lst


def test_align_ndvi_by_geotransform_positive_and_negative_shift() -> None:
    tf = Affine(PX_1KM, 0, 0.0, 0, -PX_1KM, 0.0)
    fine = tf @ Affine.scale(0.25)
    ndvi = np.arange(32 * 32, dtype=np.float32).reshape(32, 32)
    out = align_ndvi_to_lst(ndvi, fine @ Affine.translation(3, 2), (8, 8), tf)
    assert np.isnan(out[:2]).all() and np.isnan(out[:, :3]).all()
    np.testing.assert_array_equal(out[2:, 3:], ndvi[:30, :29])
    out = align_ndvi_to_lst(ndvi, fine @ Affine.translation(-1, -2), (8, 8), tf)
    np.testing.assert_array_equal(out[:30, :31], ndvi[2:, 1:])
    assert np.isnan(out[30:]).all() and np.isnan(out[:, 31:]).all()


def test_align_rejects_grids_that_are_not_nested() -> None:
    tf = Affine(PX_1KM, 0, 0.0, 0, -PX_1KM, 0.0)
    fine = tf @ Affine.scale(0.25)
    ndvi = np.zeros((32, 32), np.float32)
    with pytest.raises(GranuleReadError, match="off the refined LST grid"):
        align_ndvi_to_lst(ndvi, fine @ Affine.translation(0.5, 0), (8, 8), tf, name="x.tif")
    with pytest.raises(GranuleReadError, match="not a quarter"):
        align_ndvi_to_lst(ndvi, tf, (8, 8), tf)


def test_dev_pairs_align_shifted_ndvi_and_never_open_aster(tmp_path, rasterio_opened) -> None:
    truth = {
        "a": _make_pair(tmp_path / "a", size=32, shift=(2, 3), seed=1),
        "b": _make_pair(tmp_path / "b", size=32, shift=(0, 1), seed=2),
    }
    rasterio_opened.clear()  # writing the pairs is not reading them
    ds = DevFolderPairs(tmp_path, patch_1km=16, seed=0)
    assert ds.sample_ids == ["a", "b"]
    assert sorted({p.name for p in rasterio_opened}) == ["modis_lst_1km.tif", "modis_ndvi_250m.tif"]
    a = ds.scenes["a"].ndvi_250m
    assert np.isnan(a[:2]).all() and np.isnan(a[:, :3]).all()
    np.testing.assert_allclose(a[2:, 3:], truth["a"][2:, 3:])
    # aligned NDVI reproduces the LST exactly through the block mean where fully covered
    lst = ds.scenes["b"].lst_1km
    np.testing.assert_allclose(
        lst[:, 1:], 300 + 10 * _block_mean(ds.scenes["b"].ndvi_250m)[:, 1:], atol=1e-4
    )
    assert ds.describe()["aster_files_read"] is False


def test_patches_are_deterministic_nested_and_augmented_identically(tmp_path) -> None:
    _make_pair(tmp_path / "a", size=32, shift=(1, 1), seed=4)
    ds = DevFolderPairs(tmp_path, patch_1km=16, min_valid=0.9, patches_per_epoch=12, seed=7)
    first = [ds[i] for i in range(12)]
    assert all(it["lst_1km"].shape == (1, 16, 16) for it in first)
    assert all(it["ndvi_250m"].shape == (1, 64, 64) for it in first)
    for it in first:  # augmentation keeps LST = 300 + 10 * blockmean(NDVI)
        lst, ndvi = it["lst_1km"][0].numpy(), it["ndvi_250m"][0].numpy()
        ok = np.isfinite(_block_mean(ndvi))
        np.testing.assert_allclose(lst[ok], 300 + 10 * _block_mean(ndvi)[ok], atol=1e-4)
        assert valid_fraction(lst, ndvi) >= 0.9
    again = ds[5]
    assert np.array_equal(again["lst_1km"], first[5]["lst_1km"])
    ds.set_epoch(1)
    assert not all(np.array_equal(ds[i]["lst_1km"], first[i]["lst_1km"]) for i in range(12))


def test_min_valid_skips_cloudy_patches(tmp_path) -> None:
    _make_pair(tmp_path / "a", size=32, shift=(0, 0), seed=5, lst_nan=slice(0, 14))
    ds = DevFolderPairs(tmp_path, patch_1km=16, min_valid=0.95, seed=1, augment=False)
    fractions = [valid_fraction(ds[i]["lst_1km"][0].numpy(), ds[i]["ndvi_250m"][0].numpy())
                 for i in range(20)]
    assert min(fractions) >= 0.95


def test_split_is_by_sample_and_deterministic() -> None:
    ids = [f"{i:03d}" for i in range(21)]
    train, val = split_ids(ids, val_fraction=0.2, seed=0)
    assert len(val) == 4 and not set(train) & set(val) and sorted(train + val) == ids
    assert split_ids(ids, val_fraction=0.2, seed=0) == (train, val)
    assert split_ids(ids, val_fraction=0.2, seed=1) != (train, val)
    assert split_ids(ids, val_fraction=0.0, seed=0, val_ids=["003"])[1] == ["003"]
    with pytest.raises(ConfigError, match="unknown sample"):
        split_ids(ids, val_fraction=0.2, seed=0, val_ids=["999"])


@pytest.mark.shared_data
def test_real_dev_pairs_follow_their_geotransforms(aster_dev: Path) -> None:
    ds = DevFolderPairs(aster_dev, patch_1km=32)
    assert len(ds.sample_ids) == 21
    for sid in ("082", "164", "020"):
        with rasterio.open(aster_dev / sid / "modis_lst_1km.tif") as a, rasterio.open(
            aster_dev / sid / "modis_ndvi_250m.tif"
        ) as b:
            dc = round((b.transform.c - a.transform.c) / b.transform.a)
            dr = round((b.transform.f - a.transform.f) / b.transform.e)
            ndvi = b.read(1)
        aligned = ds.scenes[sid].ndvi_250m
        assert np.isnan(aligned[:dr]).all() and np.isnan(aligned[:, :dc]).all()
        np.testing.assert_array_equal(aligned[dr:, dc:], ndvi[: 256 - dr, : 256 - dc])
    items = ds.validation_items()
    assert len(items) == 21 and items[0]["lst_1km"].shape == (1, 64, 64)


# ----------------------------------------------------------------------------- cube
def _write_cube(path: Path, *, days: int = 3, size: int = 48) -> None:
    """A one-tile input cube (A's create_cube / write_tile_day) with data in a size x size
    corner: LST = 280 + 20 * day + 10 * blockmean(NDVI), half of it cloud; NaN elsewhere."""
    import datetime as dt

    from lstcloud.cube import create_cube, write_tile_day
    from lstcloud.grid import CubeGrid

    dates = [dt.date(2020, 7, 1) + dt.timedelta(days=d) for d in range(days)]
    create_cube(str(path), grid=CubeGrid(["h18v04"], chunks_1km=120), dates=dates)
    rng = np.random.default_rng(0)
    for d, date in enumerate(dates):
        field = rng.random((4 * size, 4 * size)).astype(np.float32)
        lst_part = (280.0 + 20.0 * d + 10.0 * _block_mean(field)).astype(np.float32)
        lst_part[:, : size // 2] = np.nan  # half of the region is cloud
        if d == min(1, days - 1):
            field[:8, :] = np.nan  # a strip of missing NDVI
        lst = np.full((1200, 1200), np.nan, np.float32)
        ndvi = np.full((4800, 4800), np.nan, np.float32)
        lst[:size, :size] = lst_part
        ndvi[: 4 * size, : 4 * size] = field
        write_tile_day(str(path), date=date, tile="h18v04", arrays={"lst_day": lst, "ndvi": ndvi})


@pytest.mark.slow
def test_cube_patches_are_valid_aligned_and_split_by_day(tmp_path) -> None:
    import datetime as dt

    cube = tmp_path / "input.zarr"
    _write_cube(cube, days=2)
    ds = CubePatches(
        str(cube), start=dt.date(2020, 6, 30), end=dt.date(2020, 7, 2), patch_1km=16,
        min_valid=0.8, patches_per_epoch=10, seed=2,
    )
    assert ds.sample_ids == ["2020-07-01", "2020-07-02"]
    for i in range(10):
        it = ds[i]
        lst, ndvi = it["lst_1km"][0].numpy(), it["ndvi_250m"][0].numpy()
        assert valid_fraction(lst, ndvi) >= 0.8
        ok = np.isfinite(lst) & np.isfinite(_block_mean(ndvi))
        day = int((np.nanmean(lst) - 280) // 20)
        expected = 280 + 20 * day + 10 * _block_mean(ndvi)
        np.testing.assert_allclose(lst[ok], expected[ok], atol=1e-3)
    only_last = ds.subset(["2020-07-02"])
    assert all(np.nanmin(only_last[i]["lst_1km"].numpy()) >= 300 for i in range(5))
    assert only_last.describe()["samples"] == ["2020-07-02"]
    lst_all, ndvi_all = ds.stats_arrays(n=4)
    assert lst_all.size == 4 * 16 * 16 and ndvi_all.size == 4 * 64 * 64


def test_cube_without_data_in_window_is_an_error(tmp_path) -> None:
    import datetime as dt

    from lstcloud.errors import CubeError

    cube = tmp_path / "input.zarr"
    _write_cube(cube, days=1)
    with pytest.raises(CubeError, match="no days between"):
        CubePatches(str(cube), start=dt.date(2021, 1, 1), end=dt.date(2021, 1, 2))


# ----------------------------------------------------------------------------- min_valid
def _write_arrays(folder: Path, lst: np.ndarray, ndvi: np.ndarray) -> None:
    tf = Affine(PX_1KM, 0, ORIGIN[0], 0, -PX_1KM, ORIGIN[1])
    folder.mkdir(parents=True)
    _write(folder / "modis_lst_1km.tif", lst, tf)
    _write(folder / "modis_ndvi_250m.tif", ndvi, tf @ Affine.scale(0.25))


def _scene_arrays(size: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    ndvi = rng.random((4 * size, 4 * size)).astype(np.float32)
    return (300.0 + 10.0 * _block_mean(ndvi)).astype(np.float32), ndvi


def test_min_valid_is_enforced_when_random_draws_all_fail(tmp_path) -> None:
    # one 16x16 clean window in a 64x64 scene: random draws almost never hit it
    lst, ndvi = _scene_arrays(64, 0)
    lst[:] = np.nan
    lst[40:56, 8:24] = 300.0
    _write_arrays(tmp_path / "a", lst, ndvi)
    ds = DevFolderPairs(tmp_path, patch_1km=16, min_valid=0.95, seed=3, patches_per_epoch=8)
    assert ds.check_patches() == 1
    for i in range(8):
        item = ds[i]
        assert valid_fraction(item["lst_1km"][0].numpy(), item["ndvi_250m"][0].numpy()) >= 0.95
        assert int(item["fallback_draws"]) == 1 and int(item["rejected_draws"]) == 64


def test_min_valid_checks_the_ndvi_and_redraws_from_other_scenes(tmp_path) -> None:
    lst, ndvi = _scene_arrays(32, 1)
    ndvi[:, :] = np.nan  # LST fine everywhere, but no NDVI at all: no patch passes here
    _write_arrays(tmp_path / "no-ndvi", lst, ndvi)
    lst2, ndvi2 = _scene_arrays(32, 2)
    ndvi2[:, :40] = np.nan  # the left 10 km of NDVI missing
    _write_arrays(tmp_path / "half", lst2, ndvi2)
    ds = DevFolderPairs(tmp_path, patch_1km=16, min_valid=0.9, seed=0, augment=False,
                        patches_per_epoch=16)
    rejected = 0
    for i in range(16):
        item = ds[i]
        lst_p, ndvi_p = item["lst_1km"][0].numpy(), item["ndvi_250m"][0].numpy()
        assert np.isfinite(lst_p).all()  # the LST alone would pass everywhere
        assert valid_fraction(lst_p, ndvi_p) >= 0.9
        rejected += int(item["rejected_draws"])
    assert rejected > 0  # the NDVI-less scene was drawn, rejected, and redrawn
    with pytest.raises(ConfigError, match="no 16x16 patch"):
        ds.subset(["no-ndvi"]).check_patches()
    with pytest.raises(ConfigError, match="LST and NDVI"):
        ds.subset(["no-ndvi"])[0]


def test_passing_windows_are_exact() -> None:
    from lstcloud.training.data import passing_windows

    rng = np.random.default_rng(4)
    valid = rng.random((20, 23)) < 0.85
    got = {tuple(w) for w in passing_windows(valid, 8, 0.85)}
    want = {(y, x) for y in range(13) for x in range(16) if valid[y:y + 8, x:x + 8].mean() >= 0.85}
    assert got == want and got
    assert passing_windows(valid, 30, 0.5).shape == (0, 2)


# ----------------------------------------------------------------------------- files read
def test_describe_is_derived_from_the_files_actually_read(tmp_path, rasterio_opened) -> None:
    _make_pair(tmp_path / "a", size=32, shift=(0, 0), seed=1)
    _make_pair(tmp_path / "b", size=32, shift=(1, 0), seed=2)
    rasterio_opened.clear()  # writing the pairs is not reading them
    ds = DevFolderPairs(tmp_path, patch_1km=16)
    # the record is exactly what rasterio was asked to open: the MODIS files, nothing else
    assert sorted(ds.files_read) == sorted(str(p) for p in rasterio_opened)
    assert {p.name for p in rasterio_opened} == {"modis_lst_1km.tif", "modis_ndvi_250m.tif"}
    assert not any("aster" in p.name for p in rasterio_opened)
    card = ds.describe()
    assert card["files"] == ["modis_lst_1km.tif", "modis_ndvi_250m.tif"]
    assert card["files_read_count"] == 4 and card["aster_files_read"] is False
    sub = ds.subset(["a"])  # the training split shares the record of the reader
    assert sub.describe()["files_read_count"] == 4
    # the field follows the record: had an ASTER file been opened, the card would say so
    sub._files_read.add(str(tmp_path / "a" / "aster_lst_250m_utm31n_x10.tif"))
    flagged = ds.describe()
    assert flagged["aster_files_read"] is True
    assert "aster_lst_250m_utm31n_x10.tif" in flagged["files"]
    assert "ASTER files read" in flagged["note"]


def test_cube_candidates_need_ndvi_too(tmp_path) -> None:
    import datetime as dt

    from lstcloud.cube import create_cube, write_tile_day
    from lstcloud.errors import CubeError
    from lstcloud.grid import CubeGrid

    cube = tmp_path / "input.zarr"
    date = dt.date(2020, 7, 1)
    create_cube(str(cube), grid=CubeGrid(["h18v04"], chunks_1km=120), dates=[date])
    lst = np.full((1200, 1200), np.nan, np.float32)
    lst[:48, :48] = 300.0  # valid LST, but no NDVI anywhere
    write_tile_day(str(cube), date=date, tile="h18v04",
                   arrays={"lst_day": lst, "ndvi": np.full((4800, 4800), np.nan, np.float32)})
    ds = CubePatches(str(cube), start=date, end=date, patch_1km=16, min_valid=0.8)
    with pytest.raises(CubeError, match=r"LST and NDVI"):
        ds.check_patches()
    assert ds.describe()["variables"] == ["lst_day", "ndvi"]
    assert ds.describe()["aster_files_read"] is False
