"""Consolidated metadata of both cubes: plain ``xr.open_zarr`` opens them with no warning and
sees the current time axis and attributes after days are appended; ``open_cube`` and
``open_product`` open them consolidated (and still open an older, unconsolidated store)."""

from __future__ import annotations

import datetime as dt
import json
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import xarray as xr
import zarr

import lstcloud
from lstcloud.cube import create_cube, open_cube
from lstcloud.cube.product import (
    ProductGrid,
    Provenance,
    create_product,
    publish_complete_days,
    write_day_marker,
)
from lstcloud.grid import CubeGrid
from tests.inference.cubes import WKT

D0 = dt.date(2022, 6, 1)
PROV = Provenance(model_name="stand-in", model_sha256="abc123", receptive_field_px=8,
                  input_cube="s3://bucket/input.zarr")


def _grid() -> ProductGrid:
    res = 231.65635826395825
    return ProductGrid(y=5559752.6 - (np.arange(16) + 0.5) * res, x=(np.arange(24) + 0.5) * res,
                       crs_wkt=WKT, chunks=(8, 8))


def _plain_open(url: str) -> tuple[xr.Dataset, list[str]]:
    """``xr.open_zarr(url)`` exactly as a scientist types it, with every warning recorded."""
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        ds = xr.open_zarr(url)
    return ds, [str(w.message) for w in seen]


def _consolidated(url: str) -> dict[str, Any]:
    meta = json.loads((Path(url) / "zarr.json").read_text())
    assert meta.get("consolidated_metadata"), "no consolidated metadata in zarr.json"
    return meta["consolidated_metadata"]["metadata"]


def test_product_opens_plainly_without_warning_as_days_are_appended(tmp_path: Path) -> None:
    url = str(tmp_path / "product.zarr")
    create_product(url, grid=_grid(), dates=[D0], provenance=PROV)
    write_day_marker(url, D0, info={})  # the bookkeeping folder exists too
    ds, seen = _plain_open(url)
    assert seen == [] and ds.sizes["time"] == 1 and "lst_250m" in ds
    create_product(url, grid=_grid(), dates=[D0 + dt.timedelta(days=2)], provenance=PROV)
    assert _consolidated(url)["lst_250m"]["shape"][0] == 3  # kept current, not the old length
    ds, seen = _plain_open(url)
    assert seen == [] and ds.sizes["time"] == 3
    assert "extended" in ds.attrs["history"]
    publish_complete_days(url)
    ds, seen = _plain_open(url)
    assert seen == [] and list(ds.attrs["complete_days"]) == [D0.isoformat()]


def test_input_cube_opens_plainly_without_warning_as_days_are_appended(tmp_path: Path) -> None:
    url = str(tmp_path / "input.zarr")
    grid = CubeGrid(["h18v04"], chunks_1km=600)
    create_cube(url, grid=grid, dates=[D0])
    ds, seen = _plain_open(url)
    assert seen == [] and ds.sizes["time"] == 1 and "lst_day" in ds
    create_cube(url, grid=grid, dates=[D0 + dt.timedelta(days=1)])
    assert _consolidated(url)["lst_day"]["shape"][0] == 2
    ds, seen = _plain_open(url)
    assert seen == [] and ds.sizes["time"] == 2


def test_open_cube_and_open_product_open_consolidated(tmp_path, monkeypatch) -> None:
    product, cube = str(tmp_path / "product.zarr"), str(tmp_path / "input.zarr")
    create_product(product, grid=_grid(), dates=[D0], provenance=PROV)
    create_cube(cube, grid=CubeGrid(["h18v04"], chunks_1km=600), dates=[D0])
    calls: list[Any] = []
    real = xr.open_zarr

    def spy(*args: Any, **kwargs: Any) -> xr.Dataset:
        calls.append(kwargs.get("consolidated"))
        return real(*args, **kwargs)

    monkeypatch.setattr(xr, "open_zarr", spy)
    assert "lst_250m" in lstcloud.open_product(product)
    assert "lst_day" in open_cube(cube)
    assert calls == [True, True]


def test_an_unconsolidated_older_store_still_opens(tmp_path: Path) -> None:
    url = str(tmp_path / "product.zarr")
    create_product(url, grid=_grid(), dates=[D0], provenance=PROV)
    meta_path = Path(url) / "zarr.json"
    meta = json.loads(meta_path.read_text())
    meta.pop("consolidated_metadata", None)  # as written before consolidation existed
    meta_path.write_text(json.dumps(meta))
    with pytest.raises(ValueError, match="onsolidated"):
        zarr.open_group(url, mode="r", use_consolidated=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert lstcloud.open_product(url).sizes["time"] == 1


def test_the_time_series_copy_opens_plainly_without_warning(tmp_path: Path) -> None:
    from lstcloud.query import rechunk_for_timeseries
    from tests.query.sample_product import write_sample_product

    src, dst = str(tmp_path / "product.zarr"), str(tmp_path / "product_ts.zarr")
    write_sample_product(src, days=4)
    rechunk_for_timeseries(src, dst, time_chunk=2, space_chunk=48)
    ds, seen = _plain_open(dst)
    assert seen == [] and ds.sizes["time"] == 4


def test_zarrs_warning_about_our_record_folders_is_silenced_for_the_whole_process() -> None:
    """``Dataset.to_zarr`` onto a cube lists its members and warned about ``_lstcloud`` outside
    any quieting context, so the filter holds for the whole process: a fresh process with
    warnings as errors imports the package and raises zarr's warning about our folders without
    failing, while a stranger's object still warns."""
    import subprocess
    import sys

    code = (
        "import warnings, lstcloud.cube\n"
        "from zarr.errors import ZarrUserWarning\n"
        "for name in ('_lstcloud', 'writer'):\n"
        "    warnings.warn(f'Object at {name} is not recognized as a component of a Zarr "
        "hierarchy.', ZarrUserWarning)\n"
        "try:\n"
        "    warnings.warn('Object at stranger is not recognized as a component of a Zarr "
        "hierarchy.', ZarrUserWarning)\n"
        "except ZarrUserWarning:\n"
        "    print('stranger warned')\n"
    )
    done = subprocess.run(
        [sys.executable, "-W", "error", "-c", code], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "stranger warned"
