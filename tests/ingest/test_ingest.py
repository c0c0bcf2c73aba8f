"""End to end: a real STAC API on 127.0.0.1 serving MODIS-format granules, ingested on a real
Dask cluster with worker processes into a local folder and an S3 (moto) bucket, then bad input:
a truncated granule, a missing asset, an all-cloud day, a catalogue that fails.

The reference values come from an independent path: the granule decoded directly with
``read_granule``, never from the cube code.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pyproj
import pytest

from lstcloud.cube import open_cube, read_status
from lstcloud.grid import CubeGrid
from lstcloud.ingest import ingest
from lstcloud.readers import read_granule
from lstcloud.samples.granules import corrupt_file, write_hdf4
from lstcloud.samples.stac import build_sample_catalog
from lstcloud.stacserver import StacServer

pytestmark = pytest.mark.slow

TILE = "h18v04"
DAYS = [dt.date(2024, 7, 1) + dt.timedelta(days=i) for i in range(4)]


@pytest.fixture(scope="module")
def catalog(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """CMR-STAC-shaped catalogue of MOD21A1D + MOD09GQ HDF4 granules, one tile, four days."""
    root = tmp_path_factory.mktemp("lpcloud")
    return build_sample_catalog(
        root, provider="lpcloud", tiles=[TILE], dates=DAYS, products=["MOD21A1D", "MOD09GQ"],
        seed=3,
    )


@pytest.fixture(scope="module")
def server(catalog: Any) -> Any:
    with StacServer(catalog.collections, catalog.items) as srv:
        yield srv


def _href(catalog: Any, product: str, date: dt.date) -> str:
    for item in catalog.items:
        if item["id"].startswith(f"{product}.A{date:%Y%j}.{TILE}"):
            return item["assets"]["data"]["href"]
    raise KeyError((product, date))


def _tile_day(ds: Any, var: str, date: dt.date, resolution: str) -> np.ndarray:
    grid = CubeGrid([TILE])
    sy, sx = grid.tile_slices(TILE, resolution)
    dims = ("y_1km", "x_1km") if resolution == "1km" else ("y_250m", "x_250m")
    sel = ds[var].sel(time=np.datetime64(date, "ns")).isel({dims[0]: sy, dims[1]: sx})
    return np.asarray(sel.values)


def test_ingest_writes_the_decoded_granules_and_a_rerun_writes_nothing(
    catalog: Any, server: Any, store_url: str, store_options: Any, dask_client: Any
) -> None:
    days = DAYS[:2]
    summary = ingest(
        provider="lpcloud", stac_url=server.url, region=TILE, start=days[0], end=days[-1],
        cube_url=store_url, client=dask_client, storage_options=store_options, progress=False,
    )
    assert summary.ok, summary.format()
    assert summary.found == 4  # 2 days x (MOD21A1D + MOD09GQ)
    assert summary.written == 2 and summary.skipped == 0

    ds = open_cube(store_url, storage_options=store_options)
    crs = pyproj.CRS.from_wkt(ds["spatial_ref"].attrs["crs_wkt"])
    assert "Sinusoidal" in crs.to_wkt() and crs.ellipsoid.semi_major_metre == 6371007.181
    for day in days:
        lst = read_granule(_href(catalog, "MOD21A1D", day), "MOD21A1D")
        ndvi = read_granule(_href(catalog, "MOD09GQ", day), "MOD09GQ")
        got_lst = _tile_day(ds, "lst_day", day, "1km")
        want_lst = lst["LST_1KM"].values
        assert np.isfinite(want_lst).sum() > 10_000
        np.testing.assert_array_equal(np.isnan(got_lst), np.isnan(want_lst))
        np.testing.assert_allclose(got_lst, want_lst, rtol=0, atol=1e-4, equal_nan=True)
        got_ndvi = _tile_day(ds, "ndvi", day, "250m")
        np.testing.assert_allclose(got_ndvi, ndvi["NDVI"].values, atol=1e-6, equal_nan=True)
        assert np.nanmin(got_lst) > 200 and np.nanmax(got_lst) < 350

    records = read_status(store_url, storage_options=store_options)
    assert {(d, TILE) for d in days} <= set(records)
    assert all(records[(d, TILE)].state == "complete" for d in days)

    again = ingest(
        provider="lpcloud", stac_url=server.url, region=TILE, start=days[0], end=days[-1],
        cube_url=store_url, client=dask_client, storage_options=store_options, progress=False,
    )
    assert again.written == 0 and again.skipped == 2 and again.found == 0
    assert read_status(store_url, storage_options=store_options) == records


def test_bad_input_is_named_recorded_and_the_rest_of_the_run_completes(
    catalog: Any, tmp_path: Path, dask_client: Any
) -> None:
    items = copy.deepcopy(catalog.items)
    # day 2: the LST granule is a truncated download
    truncated = tmp_path / Path(_href(catalog, "MOD21A1D", DAYS[1])).name
    shutil.copy(_href(catalog, "MOD21A1D", DAYS[1]), truncated)
    corrupt_file(truncated, mode="truncate")
    # day 3: the 250 m item is missing from the catalogue
    # day 4: the LST granule is entirely cloud
    cloudy = write_hdf4(tmp_path / "cloudy", product="MOD21A1D", tile=TILE, date=DAYS[3],
                        seed=3, cloud_fraction=1.0)
    kept = []
    for item in items:
        if item["id"].startswith(f"MOD21A1D.A{DAYS[1]:%Y%j}"):
            item["assets"]["data"]["href"] = str(truncated)
        if item["id"].startswith(f"MOD21A1D.A{DAYS[3]:%Y%j}"):
            item["assets"]["data"]["href"] = str(cloudy)
        if item["id"].startswith(f"MOD09GQ.A{DAYS[2]:%Y%j}"):
            continue
        kept.append(item)
    cube = str(tmp_path / "cube.zarr")
    with StacServer(catalog.collections, kept) as srv:
        summary = ingest(provider="lpcloud", stac_url=srv.url, region=TILE, start=DAYS[0],
                         end=DAYS[3], cube_url=cube, client=dask_client, progress=False)
    states = {o.date: o.state for o in summary.outcomes}
    assert states == {DAYS[0]: "complete", DAYS[1]: "failed", DAYS[2]: "failed",
                      DAYS[3]: "empty"}, summary.format()
    reasons = {o.date: " ".join(o.reasons) for o in summary.outcomes}
    assert truncated.name in reasons[DAYS[1]]  # names the granule
    assert "no MOD09GQ granule" in reasons[DAYS[2]]
    assert "no valid day LST" in reasons[DAYS[3]]
    text = summary.format()
    assert f"FAILED {DAYS[1].isoformat()} {TILE}" in text

    records = read_status(cube)
    assert records[(DAYS[1], TILE)].state == "failed"
    assert truncated.name in " ".join(records[(DAYS[1], TILE)].reasons)
    ds = open_cube(cube)
    assert np.isnan(_tile_day(ds, "lst_day", DAYS[1], "1km")).all()  # nothing half-written
    assert np.isfinite(_tile_day(ds, "lst_day", DAYS[0], "1km")).any()
    assert np.isnan(_tile_day(ds, "lst_day", DAYS[3], "1km")).all()
    assert np.isfinite(_tile_day(ds, "ndvi", DAYS[3], "250m")).any()

    # once the catalogue is repaired, a rerun redoes only the failed days
    with StacServer(catalog.collections, catalog.items) as srv:
        again = ingest(provider="lpcloud", stac_url=srv.url, region=TILE, start=DAYS[0],
                       end=DAYS[3], cube_url=cube, client=dask_client, progress=False)
    assert again.ok, again.format()
    assert again.skipped == 2 and again.written == 2
    assert read_status(cube)[(DAYS[1], TILE)].state == "complete"


def test_a_failing_catalogue_fails_the_days_with_the_url_and_never_raises(
    catalog: Any, server: Any, tmp_path: Path, dask_client: Any, fault_proxy_factory: Any
) -> None:
    proxy = fault_proxy_factory(server.url, fault="500", count=-1)
    cube = str(tmp_path / "cube.zarr")
    summary = ingest(provider="lpcloud", stac_url=proxy.url, region=TILE, start=DAYS[0],
                     end=DAYS[0], cube_url=cube, client=dask_client, progress=False)
    assert [o.state for o in summary.outcomes] == ["failed"]
    reason = " ".join(summary.outcomes[0].reasons)
    assert "catalogue search" in reason and "127.0.0.1" in reason
    assert read_status(cube)[(DAYS[0], TILE)].state == "failed"


def test_a_transient_catalogue_error_is_retried(
    catalog: Any, server: Any, tmp_path: Path, dask_client: Any, fault_proxy_factory: Any
) -> None:
    proxy = fault_proxy_factory(server.url, fault="503", count=2)
    cube = str(tmp_path / "cube.zarr")
    summary = ingest(provider="lpcloud", stac_url=proxy.url, region=TILE, start=DAYS[0],
                     end=DAYS[0], cube_url=cube, client=dask_client, progress=False)
    assert summary.ok, summary.format()
    assert summary.written == 1
    assert sum(1 for r in proxy.requests if r.fault) == 2


def test_the_cli_ingests_and_prints_a_summary(
    server: Any, tmp_path: Path, dask_client: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    from lstcloud.cli.main import main

    cube = str(tmp_path / "cli.zarr")
    argv = ["ingest", "--provider", "lpcloud", "--stac-url", server.url, "--region", TILE,
            "--start", DAYS[0].isoformat(), "--end", DAYS[0].isoformat(), "--cube", cube,
            "--scheduler", dask_client.scheduler.address, "--json"]
    assert main(argv) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["written"] == 1 and out["failed"] == [] and out["found"] == 2
