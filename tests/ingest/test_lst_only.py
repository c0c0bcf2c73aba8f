"""Good LST is kept when the NDVI granule is missing (issue 12, point 5).

A real STAC API serves day 1 complete and day 2 without its MOD09GQ item. The ingest writes day
2's LST (state ``lst_only``, naming the missing product); prediction gives that day a 250 m LST
wherever the 1 km LST is valid, interpolated without a guide and keeping the 1 km means, flagged
``guide_missing`` and never ``lst_missing`` (issue 24, item 1), listed in the day marker's
``tiles_without_guide``; once the NDVI is published the ``--recheck-no-input`` path ingests it
and the next predict redoes the day with the model.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from lstcloud.cube import open_cube, read_status
from lstcloud.cube.quality import QualityFlag
from lstcloud.cube.status import DONE_STATES
from lstcloud.grid import CubeGrid
from lstcloud.ingest import ingest
from lstcloud.readers import read_granule
from lstcloud.samples.stac import build_sample_catalog
from lstcloud.stacserver import StacServer

pytestmark = pytest.mark.slow

TILE = "h18v04"
DAYS = [dt.date(2024, 7, 1), dt.date(2024, 7, 2)]


def _tile(ds: Any, var: str, day: dt.date, resolution: str) -> np.ndarray:
    sy, sx = CubeGrid([TILE]).tile_slices(TILE, resolution)
    dims = ("y_1km", "x_1km") if resolution == "1km" else ("y_250m", "x_250m")
    sel = ds[var].sel(time=np.datetime64(day, "ns")).isel({dims[0]: sy, dims[1]: sx})
    return np.asarray(sel.values)


def test_lst_is_written_without_ndvi_and_picked_up_when_ndvi_arrives(
    tmp_path: Path, dask_client: Any
) -> None:
    from lstcloud.cube.product import complete_days, open_product
    from lstcloud.inference import predict_cube

    catalog = build_sample_catalog(tmp_path / "cat", provider="lpcloud", tiles=[TILE],
                                   dates=DAYS, products=["MOD21A1D", "MOD09GQ"], seed=4)
    without = [i for i in catalog.items if not i["id"].startswith(f"MOD09GQ.A{DAYS[1]:%Y%j}")]
    lst_href = next(i["assets"]["data"]["href"] for i in catalog.items
                    if i["id"].startswith(f"MOD21A1D.A{DAYS[1]:%Y%j}"))
    cube = str(tmp_path / "cube.zarr")
    kwargs = dict(provider="lpcloud", region=TILE, start=DAYS[0], end=DAYS[1], cube_url=cube,
                  client=dask_client, progress=False)
    with StacServer(catalog.collections, without) as srv:
        summary = ingest(stac_url=srv.url, **kwargs)
    assert summary.ok, summary.format()  # a missing granule is not a failure
    record = read_status(cube)[(DAYS[1], TILE)]
    assert record.state == "lst_only" and "lst_only" in DONE_STATES
    assert "no MOD09GQ granule" in record.reasons[0]
    assert f"lst only {DAYS[1]} {TILE}" in summary.format().lower()
    ds = open_cube(cube)
    want = read_granule(lst_href, "MOD21A1D")["LST_1KM"].values
    got = _tile(ds, "lst_day", DAYS[1], "1km")
    assert np.isfinite(got).sum() > 10_000
    np.testing.assert_allclose(got, want, atol=1e-4, equal_nan=True)  # the LST is kept
    assert np.isnan(_tile(ds, "ndvi", DAYS[1], "250m")).all()

    product = str(tmp_path / "product.zarr")
    first = predict_cube(cube_url=cube, model="bicubic", out_url=product, start=DAYS[0],
                         end=DAYS[1], client=dask_client, device="cpu")
    assert first.written == tuple(DAYS), first.format()
    marker = complete_days(product)[DAYS[1]]
    assert marker["tiles_without_input"] == [] and marker["tiles_without_guide"] == [TILE]
    assert marker["guide_missing_share"] == 1.0
    out = open_product(product)
    _check_guide_free_day(out, got, DAYS[1])
    assert np.isfinite(out.lst_250m.sel(time=np.datetime64(DAYS[0], "ns")).values).any()
    _check_day_is_reported_without_guide(first, product, DAYS[1])

    # the NDVI is published: the recheck path ingests it, and predict redoes the day
    with StacServer(catalog.collections, catalog.items) as srv:
        again = ingest(stac_url=srv.url, recheck_no_input=True, **kwargs)
    assert again.ok and again.written == 1, again.format()
    assert read_status(cube)[(DAYS[1], TILE)].state == "complete"
    second = predict_cube(cube_url=cube, model="bicubic", out_url=product, start=DAYS[0],
                          end=DAYS[1], client=dask_client, device="cpu")
    assert second.written == (DAYS[1],) and second.skipped == (DAYS[0],), second.format()
    assert complete_days(product)[DAYS[1]]["tiles_without_guide"] == []
    out = open_product(product)
    assert np.isfinite(out.lst_250m.sel(time=np.datetime64(DAYS[1], "ns")).values).mean() > 0.5
    flags = out.lst_250m_quality.sel(time=np.datetime64(DAYS[1], "ns")).values
    assert not (flags & QualityFlag.GUIDE_MISSING).any()


def _check_day_is_reported_without_guide(summary: Any, product: str, day: dt.date) -> None:
    """The run summary, ``lstcloud info``, the STAC item and the quick-look say it."""
    from lstcloud.cube.product import open_product
    from lstcloud.publish.stac import item_dict
    from lstcloud.query import product_info
    from lstcloud.quicklook import _guide_missing_share

    assert f"no guide  {day}: tile(s) {TILE} had no 250 m NDVI" in summary.format()
    info = product_info(product)
    assert info.without_guide == {day: 1.0}
    assert f"no guide    {day}: 100% of the tiles had no 250 m NDVI" in info.to_text()
    assert info.to_dict()["without_guide"] == {day.isoformat(): 1.0}
    item = item_dict(info, day, asset_href="product.zarr")
    assert item["properties"]["lstcloud:guide_missing_share"] == 1.0
    assert _guide_missing_share(open_product(product), np.datetime64(day, "ns"), 300) == 1.0


def _check_guide_free_day(out: Any, lst_1km: np.ndarray, day: dt.date) -> None:
    """Every pixel under a valid 1 km LST has a finite 250 m LST flagged ``guide_missing``
    (a name of ``flag_meanings``) and never ``lst_missing``; the 4 x 4 block means keep the
    1 km LST (within 0.5 K on average; measured: a few hundredths)."""
    sel = {"time": np.datetime64(day, "ns")}
    lst = out.lst_250m.sel(sel).values
    flags = out.lst_250m_quality.sel(sel).values
    valid = np.repeat(np.repeat(np.isfinite(lst_1km), 4, axis=0), 4, axis=1)
    assert valid.sum() > 100_000
    assert np.isfinite(lst[valid]).all()
    assert np.isnan(lst[~valid]).all()
    meanings = out.lst_250m_quality.attrs["flag_meanings"].split()
    masks = list(out.lst_250m_quality.attrs["flag_masks"])
    bit = masks[meanings.index("guide_missing")]
    assert bit == QualityFlag.GUIDE_MISSING
    assert ((flags[valid] & bit) == bit).all()
    assert not (flags[valid] & QualityFlag.LST_MISSING).any()
    blocks = lst.reshape(lst.shape[0] // 4, 4, lst.shape[1] // 4, 4).mean(axis=(1, 3))
    ok = np.isfinite(lst_1km)
    assert np.abs(blocks[ok] - lst_1km[ok]).mean() < 0.5
