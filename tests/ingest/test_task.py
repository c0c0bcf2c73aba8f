"""One (day, tile) task on Planetary-Computer-style COGs: only the needed assets are read."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from lstcloud.catalog import Granule
from lstcloud.catalog.providers import AssetHrefs
from lstcloud.cube import create_cube, open_cube, read_status
from lstcloud.grid import CubeGrid
from lstcloud.ingest.plan import TileDayTask
from lstcloud.ingest.task import RetryPolicy, ingest_tile_day
from lstcloud.products import get_product
from lstcloud.readers import read_granule
from lstcloud.samples.granules import write_cogs

TILE = "h18v04"
DAY = dt.date(2024, 7, 1)  # in the MOD09Q1 8-day period starting on 2024-06-25 (A2024177)
NIGHT_KEYS = ("LST_Night_1km", "QC_Night", "Night_view_time", "Night_view_angl")


@pytest.fixture(scope="module")
def cogs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, str]]:
    root = tmp_path_factory.mktemp("pc-cogs")
    return {
        product: {k: str(v) for k, v in write_cogs(root, product=product, tile=TILE, date=DAY,
                                                   seed=5).items()}
        for product in ("MOD11A1", "MOD09Q1")
    }


def _granule(product: str, href: dict[str, str]) -> Granule:
    start = get_product(product).period_start(DAY)
    return Granule(
        product=product, tile=TILE, date=start, end_date=DAY, item_id=f"{product}.A{start:%Y%j}."
        f"{TILE}", href=AssetHrefs(href), provider="planetary-computer", collection="x",
    )


def _task(cogs: dict[str, dict[str, str]], lst_assets: dict[str, str], *, night: bool) -> Any:
    lst = _granule("MOD11A1", lst_assets)
    products = {"lst": "MOD11A1", "ndvi": "MOD09Q1"}
    granules: dict[str, Granule | None] = {"lst": lst, "ndvi": _granule("MOD09Q1",
                                                                         cogs["MOD09Q1"])}
    if night:
        products["lst_night"] = "MOD11A1"
        granules["lst_night"] = lst
    return TileDayTask(date=DAY, tile=TILE, products=products, granules=granules)


def test_a_day_only_ingest_reads_no_night_cog(
    cogs: dict[str, dict[str, str]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A PC item whose night COGs are gone (or unreadable) still ingests without --night."""
    import lstcloud.readers as readers

    day_only = {k: v for k, v in cogs["MOD11A1"].items() if k not in NIGHT_KEYS}
    assert len(day_only) < len(cogs["MOD11A1"])
    calls: list[tuple[str, ...]] = []
    real = readers.read_granule

    def spy(href: Any, product: Any, **kwargs: Any) -> Any:
        calls.append(tuple(kwargs.get("variables") or ()))
        return real(href, product, **kwargs)

    monkeypatch.setattr(readers, "read_granule", spy)
    cube = str(tmp_path / "cube.zarr")
    create_cube(cube, grid=CubeGrid([TILE]), dates=[DAY])
    outcome = ingest_tile_day(_task(cogs, day_only, night=False), cube_url=cube)
    assert outcome.state == "complete", outcome.reasons
    read = [cogs["MOD11A1"][k] for k in ("LST_Day_1km", "QC_Day", "Day_view_time")] + [
        cogs["MOD09Q1"][k]
        for k in ("sur_refl_b01", "sur_refl_b02", "sur_refl_qc_250m", "sur_refl_state_250m")
    ]
    assert outcome.bytes_read == sum(Path(p).stat().st_size for p in read) > 0
    assert sorted(calls) == sorted([("LST_Day_1km", "QC_Day", "Day_view_time"),
                                    ("NDVI", "sur_refl_qc_250m")])
    want = read_granule(cogs["MOD11A1"], "MOD11A1")["LST_Day_1km"].values
    got = open_cube(cube)["lst_day"].isel(time=0).values
    np.testing.assert_allclose(got, want, atol=1e-4, equal_nan=True)


def test_day_and_night_from_one_item_are_read_once(
    cogs: dict[str, dict[str, str]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import lstcloud.readers as readers

    calls: list[str] = []
    real = readers.read_granule

    def spy(href: Any, product: Any, **kwargs: Any) -> Any:
        calls.append(str(product))
        return real(href, product, **kwargs)

    monkeypatch.setattr(readers, "read_granule", spy)
    cube = str(tmp_path / "cube.zarr")
    create_cube(cube, grid=CubeGrid([TILE]), dates=[DAY], include_night=True)
    outcome = ingest_tile_day(_task(cogs, cogs["MOD11A1"], night=True), cube_url=cube)
    assert outcome.state == "complete", outcome.reasons
    assert len(calls) == 2  # MOD11A1 once (day + night), MOD09Q1 once
    night = read_granule(cogs["MOD11A1"], "MOD11A1")["LST_Night_1km"].values
    got = open_cube(cube)["lst_night"].isel(time=0).values
    np.testing.assert_allclose(got, night, atol=1e-4, equal_nan=True)


def test_a_pc_item_without_a_needed_cog_names_the_item_and_the_asset(
    cogs: dict[str, dict[str, str]], tmp_path: Path
) -> None:
    no_qc = {k: v for k, v in cogs["MOD11A1"].items() if k != "QC_Day"}
    cube = str(tmp_path / "cube.zarr")
    create_cube(cube, grid=CubeGrid([TILE]), dates=[DAY])
    outcome = ingest_tile_day(_task(cogs, no_qc, night=False), cube_url=cube,
                              retry=RetryPolicy(attempts=1))
    assert outcome.state == "failed"
    assert f"item MOD11A1.A2024183.{TILE} has no 'QC_Day' asset" in outcome.reasons[0]
    assert read_status(cube)[(DAY, TILE)].state == "failed"
