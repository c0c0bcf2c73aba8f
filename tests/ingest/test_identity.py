"""A granule is written only under its own day and tile (issue 12, point 1).

A real MOD11A1 granule (A2019305 = 2019-11-01, h14v09) served by a real STAC API under an item
whose ``datetime`` says 2019-11-03 must not be ingested as a complete 2019-11-03: the ingest
compares the granule's own date and tile (its HDF4 metadata, grid and file name) with the day
and tile it writes, records the day ``failed`` with a reason naming the item, and writes nothing.
"""

from __future__ import annotations

import copy
import datetime as dt
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from lstcloud.cube import open_cube, read_status
from lstcloud.errors import GranuleReadError
from lstcloud.grid import CubeGrid
from lstcloud.readers import read_granule
from lstcloud.readers.identity import granule_identity
from lstcloud.samples.stac import build_sample_catalog
from lstcloud.stacserver import StacServer

pytestmark = pytest.mark.slow

REAL = "MOD11A1.A2019305.h14v09.006.2019306084028.hdf"
TILE = "h14v09"
SHIFTED = dt.date(2019, 11, 3)  # the item's datetime; the file is of 2019-11-01


def _shifted_catalog(root: Path, real: Path, *, tile_of_item: str = TILE) -> tuple[Any, Any]:
    """A CMR-STAC-shaped catalogue for ``SHIFTED``: a generated MOD09GQ granule and, as the
    MOD11A1 item, the real A2019305 granule under its own id, dated 2019-11-03."""
    catalog = build_sample_catalog(
        root, provider="lpcloud", tiles=[tile_of_item], dates=[SHIFTED],
        products=["MOD11A1", "MOD09GQ"], seed=5,
    )
    items = copy.deepcopy(catalog.items)
    for item in items:
        if item["id"].startswith("MOD11A1."):
            item["id"] = REAL.removesuffix(".hdf")
            item["assets"]["data"]["href"] = str(real)
    return catalog, items


def test_the_reader_states_the_granules_own_date_and_tile(hdf4_granules: Path,
                                                          tmp_path: Path) -> None:
    ds = read_granule(hdf4_granules / REAL, "MOD11A1", variables=["LST_Day_1km"])
    assert ds.attrs["date"] == "2019-11-01" and ds.attrs["tile"] == TILE
    # a renamed file whose name contradicts its metadata is refused, naming both statements
    renamed = tmp_path / REAL.replace("A2019305", "A2019307")
    shutil.copy(hdf4_granules / REAL, renamed)
    with pytest.raises(GranuleReadError, match=r"two different dates.*2019-11-01.*2019-11-03"):
        read_granule(renamed, "MOD11A1", variables=["LST_Day_1km"])
    with pytest.raises(GranuleReadError, match=r"two different tiles.*h14v09.*h18v04"):
        granule_identity("MOD11A1.A2019305.h18v04.061.1.hdf", core={"h": 14, "v": 9})


def test_a_granule_under_a_shifted_item_date_fails_the_day_and_writes_nothing(
    hdf4_granules: Path, tmp_path: Path, dask_client: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    from lstcloud.cli.main import main

    catalog, items = _shifted_catalog(tmp_path / "cat", hdf4_granules / REAL)
    cube = tmp_path / "cube.zarr"
    with StacServer(catalog.collections, items) as srv:
        code = main([
            "ingest", "--provider", "lpcloud", "--stac-url", srv.url, "--region", TILE,
            "--start", SHIFTED.isoformat(), "--end", SHIFTED.isoformat(), "--cube", str(cube),
            "--lst-product", "MOD11A1", "--scheduler", dask_client.scheduler.address,
            "--no-progress",
        ])
    out = capsys.readouterr().out
    assert code == 3, out
    item = REAL.removesuffix(".hdf")
    assert f"FAILED {SHIFTED} {TILE}" in out and item in out
    assert "is of 2019-11-01, not 2019-11-03" in out
    record = read_status(str(cube))[(SHIFTED, TILE)]
    assert record.state == "failed"
    assert item in " ".join(record.reasons) and "2019-11-01" in " ".join(record.reasons)
    ds = open_cube(str(cube))
    sy, sx = CubeGrid([TILE]).tile_slices(TILE, "1km")
    day = ds.sel(time=np.datetime64(SHIFTED, "ns"))
    assert np.isnan(day["lst_day"].isel(y_1km=sy, x_1km=sx).values).all()
    sy, sx = CubeGrid([TILE]).tile_slices(TILE, "250m")
    assert np.isnan(day["ndvi"].isel(y_250m=sy, x_250m=sx).values).all()  # nothing of the day


def test_a_granule_of_another_tile_fails_naming_the_item(
    hdf4_granules: Path, tmp_path: Path, dask_client: Any
) -> None:
    from lstcloud.ingest import ingest

    # the item claims h13v09, 2019-11-01 (its right day); the file is h14v09
    catalog = build_sample_catalog(
        tmp_path / "cat", provider="lpcloud", tiles=["h13v09"], dates=[dt.date(2019, 11, 1)],
        products=["MOD11A1", "MOD09GQ"], seed=5,
    )
    items = copy.deepcopy(catalog.items)
    for item in items:
        if item["id"].startswith("MOD11A1."):
            item["assets"]["data"]["href"] = str(hdf4_granules / REAL)
    cube = str(tmp_path / "cube.zarr")
    with StacServer(catalog.collections, items) as srv:
        summary = ingest(provider="lpcloud", stac_url=srv.url, region="h13v09",
                         start="2019-11-01", end="2019-11-01", cube_url=cube,
                         client=dask_client, lst_product="MOD11A1", progress=False)
    (outcome,) = summary.outcomes
    assert outcome.state == "failed"
    assert "is tile h14v09, not h13v09" in outcome.reasons[0]
    assert "MOD11A1.A2019305.h13v09" in outcome.reasons[0]  # the item, by its id
