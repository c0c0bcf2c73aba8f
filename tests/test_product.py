"""The product cube: template, time extension, completion markers, reruns, open_product."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pytest

import lstcloud
from lstcloud.cube.product import (
    ProductGrid,
    Provenance,
    complete_days,
    create_product,
    open_product,
    open_product_arrays,
    publish_complete_days,
    remove_day_marker,
    time_index,
    write_day_marker,
)
from lstcloud.cube.quality import NOT_COMPUTED
from lstcloud.errors import CubeError
from tests.inference.cubes import WKT

D0 = dt.date(2022, 6, 1)


def _grid(ny: int = 16, nx: int = 24, chunks: tuple[int, int] = (8, 8)) -> ProductGrid:
    res = 231.65635826395825
    return ProductGrid(y=5559752.6 - (np.arange(ny) + 0.5) * res, x=(np.arange(nx) + 0.5) * res,
                       crs_wkt=WKT, chunks=chunks)


PROV = Provenance(model_name="stand-in", model_sha256="abc123", receptive_field_px=8,
                  input_cube="s3://bucket/input.zarr")


def test_template_schema_and_crs(tmp_path: Path) -> None:
    url = str(tmp_path / "p.zarr")
    create_product(url, grid=_grid(), dates=[D0, D0 + dt.timedelta(days=2)], provenance=PROV)
    ds = lstcloud.open_product(url)
    assert ds.lst_250m.dims == ("time", "y", "x") and ds.lst_250m.dtype == np.float32
    assert ds.lst_250m.attrs["units"] == "K"
    assert ds.lst_250m.chunks == ((1, 1, 1), (8, 8), (8, 8, 8))
    assert ds.sizes["time"] == 3  # contiguous days
    assert np.isnan(ds.lst_250m.values).all()
    assert (ds.lst_250m_quality.values == NOT_COMPUTED).all()
    assert ds.attrs["Conventions"].startswith("CF-1")
    assert ds.attrs["lstcloud_model_sha256"] == "abc123"
    assert ds.attrs["lstcloud_input_cube"] == "s3://bucket/input.zarr"
    assert "spatial_ref" in ds.coords
    assert ds.rio.crs is not None and "Sinusoidal" in ds.rio.crs.to_wkt()
    gt = [float(v) for v in ds.spatial_ref.attrs["GeoTransform"].split()]
    assert gt[1] == pytest.approx(231.656358, rel=1e-6) and gt[5] < 0
    assert ds.attrs["complete_days"] == []
    # a coordinate with plain xarray too, as in the input cube (issue 24, item 7)
    import xarray as xr

    plain = xr.open_zarr(url)
    assert "spatial_ref" in plain.coords and "spatial_ref" not in plain.data_vars


def test_extend_appends_days_and_keeps_data(tmp_path: Path) -> None:
    url = str(tmp_path / "p.zarr")
    create_product(url, grid=_grid(), dates=[D0], provenance=PROV)
    lst, _ = open_product_arrays(url)
    lst[0] = 300.0
    create_product(url, grid=_grid(), dates=[D0 + dt.timedelta(days=3)], provenance=PROV)
    ds = open_product(url)
    assert ds.sizes["time"] == 4
    assert (ds.lst_250m.values[0] == 300.0).all() and np.isnan(ds.lst_250m.values[1:]).all()
    assert time_index(url, D0 + dt.timedelta(days=3)) == 3
    with pytest.raises(CubeError, match="before the first day"):
        create_product(url, grid=_grid(), dates=[D0 - dt.timedelta(days=1)], provenance=PROV)
    with pytest.raises(CubeError, match="not on the time axis"):
        time_index(url, D0 + dt.timedelta(days=9))


def test_incompatible_grid_or_model_is_refused(tmp_path: Path) -> None:
    url = str(tmp_path / "p.zarr")
    create_product(url, grid=_grid(), dates=[D0], provenance=PROV)
    with pytest.raises(CubeError, match="shape"):
        create_product(url, grid=_grid(nx=32), dates=[D0], provenance=PROV)
    other = Provenance(model_name="other", model_sha256="fff", receptive_field_px=8,
                       input_cube="x")
    with pytest.raises(CubeError, match="refusing to mix"):
        create_product(url, grid=_grid(), dates=[D0], provenance=other)


def test_day_is_complete_only_after_its_marker(tmp_path: Path) -> None:
    url = str(tmp_path / "p.zarr")
    create_product(url, grid=_grid(), dates=[D0, D0 + dt.timedelta(days=1)], provenance=PROV)
    lst, quality = open_product_arrays(url)
    lst[0, :8, :8] = 290.0  # a crash after one chunk: data present, no marker
    assert complete_days(url) == {}
    assert open_product(url).attrs["complete_days"] == []
    lst[0] = 291.0
    quality[0] = 0
    write_day_marker(url, D0, info={"model_sha256": "abc123"})
    assert list(complete_days(url)) == [D0]
    assert complete_days(url)[D0]["model_sha256"] == "abc123"
    assert publish_complete_days(url) == [D0.isoformat()]
    assert open_product(url).attrs["complete_days"] == [D0.isoformat()]
    remove_day_marker(url, D0)  # an overwrite withdraws the day first
    remove_day_marker(url, D0)  # idempotent
    assert complete_days(url) == {}


def test_open_missing_product_names_url(tmp_path: Path) -> None:
    with pytest.raises(CubeError, match=r"nowhere\.zarr"):
        open_product(str(tmp_path / "nowhere.zarr"))


def test_markers_are_listed_once_and_each_read_once(tmp_path: Path, monkeypatch) -> None:
    import json

    from fsspec.implementations.local import LocalFileSystem

    url = str(tmp_path / "p.zarr")
    days = [D0 + dt.timedelta(days=i) for i in range(6)]
    create_product(url, grid=_grid(), dates=days, provenance=PROV)
    for day in days[:5]:
        write_day_marker(url, day, info={"n": day.day})
    reads: list[str] = []
    lists: list[str] = []
    real_cat, real_ls = LocalFileSystem.cat_file, LocalFileSystem.ls

    def cat_file(self, path, *args, **kwargs):
        reads.append(str(path))
        return real_cat(self, path, *args, **kwargs)

    def ls(self, path, *args, **kwargs):
        lists.append(str(path))
        return real_ls(self, path, *args, **kwargs)

    monkeypatch.setattr(LocalFileSystem, "cat_file", cat_file)
    monkeypatch.setattr(LocalFileSystem, "ls", ls)
    first = complete_days(url)
    assert list(first) == days[:5] and first[days[2]]["n"] == days[2].day
    assert len(lists) == 1 and len(reads) == 5
    # the next calls of the run: one listing each, nothing read again
    for _ in range(3):
        assert list(complete_days(url)) == days[:5]
    assert len(lists) == 4 and len(reads) == 5
    # a new day: only its marker is read; a withdrawn one disappears; a changed one is re-read
    write_day_marker(url, days[5], info={"n": 99})
    remove_day_marker(url, days[0])
    marker = Path(url) / "_lstcloud" / "days" / f"{days[1].isoformat()}.json"
    marker.write_text(json.dumps({"date": days[1].isoformat(), "state": "redo"}))
    reads.clear()
    now = complete_days(url)
    assert list(now) == [days[2], days[3], days[4], days[5]]
    assert now[days[5]]["n"] == 99
    assert sorted(Path(p).name for p in reads) == sorted(
        [f"{days[1].isoformat()}.json", f"{days[5].isoformat()}.json"])
    # what callers get is a copy: editing it does not change the cache
    now[days[5]]["n"] = -1
    assert complete_days(url)[days[5]]["n"] == 99


def test_markers_on_s3(store_url: str, store_options) -> None:
    create_product(store_url, grid=_grid(), dates=[D0, D0 + dt.timedelta(days=1)],
                   provenance=PROV, storage_options=store_options)
    assert complete_days(store_url, storage_options=store_options) == {}
    write_day_marker(store_url, D0, info={"k": 1}, storage_options=store_options)
    assert list(complete_days(store_url, storage_options=store_options)) == [D0]
    write_day_marker(store_url, D0 + dt.timedelta(days=1), info={"k": 2},
                     storage_options=store_options)
    both = complete_days(store_url, storage_options=store_options)
    assert [r["k"] for r in both.values()] == [1, 2]
    remove_day_marker(store_url, D0, storage_options=store_options)
    assert list(complete_days(store_url, storage_options=store_options)) == [
        D0 + dt.timedelta(days=1)]
