"""The input cube on a local folder and on a real S3 API (moto): template, writes, reopen."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pyproj
import pytest
import zarr

from lstcloud.cube import (
    TileDayStatus,
    check_aligned,
    create_cube,
    cube_layout,
    open_cube,
    read_status,
    write_tile_day,
    zarr_store,
)
from lstcloud.errors import ConfigError, CubeError
from lstcloud.grid import PIXEL_SIZE, CubeGrid, crs

D1, D2, D3 = dt.date(2021, 7, 1), dt.date(2021, 7, 2), dt.date(2021, 7, 5)
ONE_TILE = CubeGrid(["h18v04"], chunks_1km=300)
# tests run on both stores use fewer, larger chunks: every S3 request counts on a busy machine
BOTH_STORES_GRID = CubeGrid(["h18v04"], chunks_1km=600)


def _tile_arrays(seed: int, *, with_250m: bool = True) -> dict[str, np.ndarray]:
    """Distinct, compressible full-tile arrays (NaN holes included)."""
    rng = np.random.default_rng(seed)
    base = np.add.outer(np.arange(1200), np.arange(1200)).astype(np.float32) / 100.0
    lst = 260.0 + seed + base
    lst[rng.integers(0, 1200, 500), rng.integers(0, 1200, 500)] = np.nan
    arrays = {
        "lst_day": lst,
        "qc_day": ((np.arange(1200 * 1200) + seed) % 256).reshape(1200, 1200).astype(np.uint8),
        "view_time_day": np.full((1200, 1200), 10.5 + seed / 10, np.float32),
    }
    if with_250m:
        ndvi = np.tile(np.linspace(-0.2, 0.9, 4800, dtype=np.float32), (4800, 1))
        ndvi[:7, :] = np.nan
        arrays["ndvi"] = ndvi + np.float32(seed / 1000)
        arrays["ndvi_qc"] = np.full((4800, 4800), 4096 + seed, np.uint16)
    return arrays


def test_round_trip(store_url, store_options):
    layout = create_cube(
        store_url, grid=BOTH_STORES_GRID, dates=[D2, D1], storage_options=store_options
    )
    assert layout.time_start == D1 and layout.n_times == 2 and not layout.include_night
    assert set(layout.variables) == {"lst_day", "qc_day", "view_time_day", "ndvi", "ndvi_qc"}
    arrays = _tile_arrays(3)
    status = TileDayStatus("complete", items=("MOD11A1.A2021183.h18v04",))
    write_tile_day(
        store_url,
        date=D2,
        tile="h18v04",
        arrays=arrays,
        storage_options=store_options,
        status=status,
    )

    ds = open_cube(store_url, storage_options=store_options)
    assert list(ds.time.values) == [np.datetime64(D1, "ns"), np.datetime64(D2, "ns")]
    assert ds.time.dtype == np.dtype("datetime64[ns]")
    assert ds.lst_day.dims == ("time", "y_1km", "x_1km")
    assert ds.ndvi.dims == ("time", "y_250m", "x_250m")
    assert ds.lst_day.chunks is not None and ds.lst_day.data.chunksize == (1, 600, 600)
    assert ds.ndvi.data.chunksize == (1, 2400, 2400)
    for name, expected in arrays.items():
        got = ds[name].sel(time=np.datetime64(D2)).values
        assert got.dtype == (np.uint16 if "qc" in name else np.float32), name
        np.testing.assert_array_equal(got, expected.astype(got.dtype), err_msg=name)
    # the day not written reads as fill
    assert np.isnan(ds.lst_day.isel(time=0).values).all()
    assert (ds.qc_day.isel(time=0).values == 65535).all()
    # coordinates are the grid's pixel centres
    y, x = BOTH_STORES_GRID.coords("250m")
    np.testing.assert_array_equal(ds.x_250m.values, x)
    np.testing.assert_array_equal(ds.y_250m.values, y)
    assert ds.y_1km.attrs["units"] == "m"
    # CF attributes
    assert ds.lst_day.attrs["standard_name"] == "surface_temperature"
    assert ds.lst_day.attrs["units"] == "K"
    assert ds.ndvi.attrs["units"] == "1"
    assert ds.qc_day.attrs["flag_meanings"].split()[0] == "modland_qa_good"
    assert list(ds.qc_day.attrs["flag_masks"]) == [3, 3, 3, 3]
    assert ds.lst_day.encoding["_FillValue"] != ds.lst_day.encoding["_FillValue"]  # NaN
    assert ds.qc_day.attrs.get("_FillValue", ds.qc_day.encoding.get("_FillValue")) == 65535
    assert ds.attrs["Conventions"].startswith("CF-1.")
    assert read_status(store_url, storage_options=store_options)[(D2, "h18v04")] == status


def test_crs_decoded_on_reopen(tmp_path):
    import rioxarray  # noqa: F401  (registers the .rio accessor)

    url = str(tmp_path / "c.zarr")
    create_cube(url, grid=ONE_TILE, dates=[D1])
    ds = open_cube(url)
    assert "spatial_ref" in ds.coords and "spatial_ref_250m" in ds.coords
    assert pyproj.CRS.from_wkt(ds.spatial_ref.attrs["crs_wkt"]) == crs()
    assert ds.lst_day.rio.crs is not None
    assert pyproj.CRS.from_wkt(ds.lst_day.rio.crs.to_wkt()).equals(crs(), ignore_axis_order=True)
    # each grid mapping carries its own grid's GeoTransform
    gt1 = [float(v) for v in ds.spatial_ref.attrs["GeoTransform"].split()]
    gt250 = [float(v) for v in ds.spatial_ref_250m.attrs["GeoTransform"].split()]
    assert gt1 == pytest.approx(list(ONE_TILE.transform("1km").to_gdal()))
    assert gt250[1] == pytest.approx(PIXEL_SIZE["250m"])
    ndvi = ds.ndvi.rio.set_spatial_dims(x_dim="x_250m", y_dim="y_250m")
    assert ndvi.rio.transform() == pytest.approx(ONE_TILE.transform("250m"))
    assert ds.ndvi.attrs.get("grid_mapping", ds.ndvi.encoding.get("grid_mapping")) == (
        "spatial_ref_250m"
    )


def test_extend_time_axis_keeps_written_data(store_url, store_options):
    create_cube(store_url, grid=BOTH_STORES_GRID, dates=[D1], storage_options=store_options)
    arrays = _tile_arrays(1, with_250m=False)
    write_tile_day(store_url, date=D1, tile="h18v04", arrays=arrays, storage_options=store_options)
    layout = create_cube(
        store_url, grid=BOTH_STORES_GRID, dates=[D3], storage_options=store_options
    )
    assert layout.n_times == 5 and layout.time_end == D3
    # idempotent: dates already covered change nothing
    again = create_cube(
        store_url, grid=BOTH_STORES_GRID, dates=[D1, D2], storage_options=store_options
    )
    assert again == layout
    write_tile_day(
        store_url,
        date=D3,
        tile="h18v04",
        arrays={"lst_day": arrays["lst_day"] + 1},
        storage_options=store_options,
    )
    ds = open_cube(store_url, storage_options=store_options)
    assert ds.sizes["time"] == 5 and ds.ndvi.sizes["time"] == 5
    assert [str(t)[:10] for t in ds.time.values] == [
        str(D1 + dt.timedelta(days=i)) for i in range(5)
    ]
    np.testing.assert_array_equal(ds.lst_day.isel(time=0).values, arrays["lst_day"])
    np.testing.assert_array_equal(ds.qc_day.isel(time=0).values, arrays["qc_day"])
    np.testing.assert_array_equal(ds.lst_day.isel(time=4).values, arrays["lst_day"] + 1)
    assert np.isnan(ds.lst_day.isel(time=slice(1, 4)).values).all()


def test_create_refuses_incompatible_requests(tmp_path):
    url = str(tmp_path / "c.zarr")
    create_cube(url, grid="h18v04", dates=[D2])
    with pytest.raises(CubeError, match="starts on 2021-07-02"):
        create_cube(url, grid=ONE_TILE, dates=[D1])
    with pytest.raises(CubeError, match="h19v04"):
        create_cube(url, grid="h18v04,h19v04", dates=[D2])
    with pytest.raises(CubeError, match="chunks_1km"):
        create_cube(url, grid=CubeGrid(["h18v04"], chunks_1km=600), dates=[D2])
    with pytest.raises(CubeError, match="night"):
        create_cube(url, grid=ONE_TILE, dates=[D2], include_night=True)
    with pytest.raises(ConfigError):
        create_cube(url, grid=ONE_TILE, dates=[D2], chunks_1km=600)
    with pytest.raises(ConfigError):
        create_cube(str(tmp_path / "other.zarr"), grid=ONE_TILE, dates=[])
    # a Zarr group that is not a cube is left alone
    foreign = tmp_path / "foreign.zarr"
    zarr.open_group(str(foreign), mode="w").create_array("a", shape=(2,), dtype="i4")
    with pytest.raises(CubeError, match="not an lstcloud cube"):
        create_cube(str(foreign), grid=ONE_TILE, dates=[D1])


def test_night_variables(tmp_path):
    url = str(tmp_path / "c.zarr")
    layout = create_cube(url, grid=ONE_TILE, dates=[D1], include_night=True)
    assert {"lst_night", "qc_night", "view_time_night"} <= set(layout.variables)
    write_tile_day(url, date=D1, tile="h18v04", arrays={"lst_night": np.full((1200, 1200), 280.0)})
    ds = open_cube(url)
    assert float(ds.lst_night.isel(time=0).mean()) == 280.0
    assert ds.lst_night.attrs["standard_name"] == "surface_temperature"
    # asking again without night is fine (the night variables stay)
    create_cube(url, grid=ONE_TILE, dates=[D2])


@pytest.mark.parametrize(
    ("region", "ok"),
    [
        ((slice(0, 1), slice(0, 300)), True),
        ((slice(2, 3), slice(900, 1000)), True),  # the last chunk may be partial at the end
        ((slice(0, 1), slice(1, 300)), False),
        ((slice(0, 1), slice(0, 299)), False),
        ((slice(0, 1), slice(None, 300)), False),
        ((slice(0, 1), slice(0, 600, 2)), False),
        ((slice(0, 1),), False),
    ],
)
def test_check_aligned(region, ok):
    def run():
        check_aligned(region, (3, 1000), (1, 300), what="test")

    if ok:
        run()
    else:
        with pytest.raises(CubeError, match="test"):
            run()


def test_bad_writes_write_nothing(tmp_path):
    url = str(tmp_path / "c.zarr")
    create_cube(url, grid=ONE_TILE, dates=[D1, D2])
    good = np.full((1200, 1200), 290.0, np.float32)
    cases = [
        ({"lst_day": good, "ndvi": np.zeros((1200, 1200))}, "shape"),
        ({"lst_day": good, "lst_night": good}, "no such variable"),
        ({"lst_day": good, "qc_day": np.full((1200, 1200), -1)}, "range"),
    ]
    for arrays, match in cases:
        with pytest.raises(CubeError, match=match):
            write_tile_day(url, date=D1, tile="h18v04", arrays=arrays)
    with pytest.raises(CubeError, match="outside the cube's time axis"):
        write_tile_day(url, date=D3, tile="h18v04", arrays={"lst_day": good})
    with pytest.raises(CubeError, match="h19v04"):
        write_tile_day(url, date=D1, tile="h19v04", arrays={"lst_day": good})
    assert np.isnan(open_cube(url).lst_day.values).all()
    assert read_status(url) == {}


def test_tile_writes_touch_no_metadata(tmp_path):
    """Concurrent writers are safe only if a (date, tile) write rewrites no shared object."""
    url = str(tmp_path / "c.zarr")
    create_cube(url, grid="h18v04,h19v04", dates=[D1])
    meta = sorted(Path(url).rglob("zarr.json"))
    before = {p: p.stat().st_mtime_ns for p in meta}
    write_tile_day(url, date=D1, tile="h19v04", arrays=_tile_arrays(0, with_250m=False))
    assert {p: p.stat().st_mtime_ns for p in sorted(Path(url).rglob("zarr.json"))} == before
    # only h19v04's chunks exist: 4 x 4 chunks of each written 1 km variable, x index >= 4
    chunks = [p for p in Path(url, "lst_day", "c").rglob("*") if p.is_file()]
    assert len(chunks) == 16
    assert all(int(p.name) >= 4 for p in chunks)


def test_qc_given_as_float_with_nan_becomes_fill(tmp_path):
    url = str(tmp_path / "c.zarr")
    create_cube(url, grid=ONE_TILE, dates=[D1])
    qc = np.zeros((1200, 1200))
    qc[0, :5] = np.nan
    write_tile_day(url, date=D1, tile="h18v04", arrays={"qc_day": qc})
    got = open_cube(url).qc_day.isel(time=0).values
    assert got.dtype == np.uint16
    assert (got[0, :5] == 65535).all() and (got[0, 5:] == 0).all()


def test_consolidated_metadata_is_kept_current(tmp_path):
    url = str(tmp_path / "c.zarr")
    create_cube(url, grid=ONE_TILE, dates=[D1])
    zarr.consolidate_metadata(zarr_store(url))
    create_cube(url, grid=ONE_TILE, dates=[D2])
    group = zarr.open_group(zarr_store(url, read_only=True), mode="r", use_consolidated=True)
    assert group["lst_day"].shape[0] == 2
    assert group.metadata.consolidated_metadata.metadata["time"].shape == (2,)


def test_missing_cube_is_a_cube_error(tmp_path, s3_bucket, s3_storage_options):
    with pytest.raises(CubeError, match="no cube"):
        open_cube(str(tmp_path / "nothing.zarr"))
    with pytest.raises(CubeError, match="no cube"):
        cube_layout(f"{s3_bucket}/nothing.zarr", storage_options=s3_storage_options)
    with pytest.raises(CubeError, match="no cube"):
        write_tile_day(
            f"{s3_bucket}/nothing.zarr",
            date=D1,
            tile="h18v04",
            arrays={},
            storage_options=s3_storage_options,
        )


def test_file_url_and_path_are_the_same_cube(tmp_path):
    path = tmp_path / "c.zarr"
    create_cube(f"file://{path}", grid=ONE_TILE, dates=[D1])
    assert cube_layout(str(path)).n_times == 1


@pytest.mark.slow
def test_parallel_writes_from_dask_workers_to_s3(dask_client, s3_bucket, s3_storage_options):
    """Four (date, tile) written at once by two worker processes into one S3 cube."""
    url = f"{s3_bucket}/cube.zarr"
    grid = CubeGrid(["h18v04", "h19v04"], chunks_1km=1200)
    create_cube(url, grid=grid, dates=[D1, D2], storage_options=s3_storage_options)
    jobs = {
        (d, t): 270.0 + 10 * i + j for i, d in enumerate((D1, D2)) for j, t in enumerate(grid.tiles)
    }
    futures = []
    for (d, t), value in jobs.items():
        # the arrays are made on the workers: only small tasks travel
        lst = dask_client.submit(np.full, (1200, 1200), value, np.float32, pure=False)
        qc = dask_client.submit(np.full, (1200, 1200), int(value), np.uint16, pure=False)
        futures.append(
            dask_client.submit(
                write_tile_day,
                url,
                date=d,
                tile=t,
                arrays={"lst_day": lst, "qc_day": qc},
                storage_options=s3_storage_options,
                status=TileDayStatus("complete", items=(f"{d}-{t.id}",)),
                pure=False,
            )
        )
    dask_client.gather(futures)
    assert len(dask_client.scheduler_info()["workers"]) == 2
    ds = open_cube(url, storage_options=s3_storage_options)[["lst_day", "qc_day"]].load()
    lst, qc = ds.lst_day.values, ds.qc_day.values
    for (d, t), value in jobs.items():
        ys, xs = grid.tile_slices(t, "1km")
        ti = (d - D1).days
        assert (lst[ti, ys, xs] == value).all(), (d, t)
        assert (qc[ti, ys, xs] == int(value)).all(), (d, t)
    records = read_status(url, storage_options=s3_storage_options)
    assert set(records) == {(d, t.id) for d, t in jobs}
    assert all(r.state == "complete" and r.items == (f"{d}-{t}",) for (d, t), r in records.items())


def test_plain_xarray_reads_the_cube_without_warnings(tmp_path):
    """Readers without lstcloud: no consolidated metadata needed, the status folder is no noise."""
    import warnings

    import xarray as xr

    url = str(tmp_path / "c.zarr")
    layout = create_cube(url, grid=ONE_TILE, dates=[D1, D2])
    lst = np.full((1200, 1200), 300.0)
    write_tile_day(
        url, date=D1, tile="h18v04", arrays={"lst_day": lst}, status=TileDayStatus("complete")
    )
    assert layout.dates == [D1, D2]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ds = xr.open_zarr(url, consolidated=False, decode_coords="all")
        assert set(ds.data_vars) == set(layout.variables)
        assert float(ds.lst_day.isel(time=0).mean()) == 300.0
    assert "spatial_ref" in ds.coords


def test_interrupted_template_is_not_taken_for_a_cube(tmp_path):
    url = str(tmp_path / "c.zarr")
    create_cube(url, grid=ONE_TILE, dates=[D1])
    group = zarr.open_group(url, mode="r+")
    del group.attrs["lstcloud_format_version"]  # as if create_cube died before its last step
    with pytest.raises(CubeError, match="unfinished"):  # no other writer finishes it
        create_cube(url, grid=ONE_TILE, dates=[D1], wait_for_writer=0.5)
    with pytest.raises(CubeError, match="not an lstcloud input cube"):
        open_cube(url)
