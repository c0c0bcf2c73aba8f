"""predict_cube end to end: local and S3 products, reruns, missing days, CLI, quick-look."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from lstcloud.cli.main import main
from lstcloud.cube.product import complete_days, open_product, open_product_arrays
from lstcloud.inference.predict import predict_cube
from lstcloud.quicklook import write_quicklook
from tests.inference.cubes import day_inputs, write_input_cube
from tests.inference.standin import FailingStandInModel, make_standin

DAYS = [dt.date(2021, 9, 1), dt.date(2021, 9, 2)]


@pytest.fixture()
def small_cube(tmp_path: Path) -> tuple[str, np.ndarray, np.ndarray]:
    lst, ndvi = day_inputs(32, 24, DAYS)
    url = write_input_cube(tmp_path / "input.zarr", lst=lst, ndvi=ndvi, days=DAYS,
                           chunks_1km=(16, 24))
    return url, lst, ndvi


def test_predict_local_and_s3_rerun_skips(small_cube, store_url: str, store_options: Any,
                                          cluster_client: Any) -> None:
    cube, lst, _ = small_cube
    kwargs = dict(cube_url=cube, model=make_standin(), out_url=store_url, start=DAYS[0],
                  end=DAYS[-1], client=cluster_client, device="cpu", tile_1km=16,
                  storage_options=store_options)
    first = predict_cube(**kwargs)
    assert first.written == tuple(DAYS) and first.skipped == () and first.ok
    assert first.pixels_250m == 2 * 128 * 96
    assert 0 < first.halo_share < 1
    assert "stand-in" in first.format()
    ds = open_product(store_url, storage_options=store_options)
    assert ds.attrs["complete_days"] == [d.isoformat() for d in DAYS]
    values = ds.lst_250m.values
    assert np.array_equal(np.isnan(values),
                          np.repeat(np.repeat(np.isnan(lst), 4, axis=1), 4, axis=2))
    assert np.nanmin(values) > 200 and np.nanmax(values) < 400
    # tamper with a complete day: a rerun must not touch it ...
    target, _ = open_product_arrays(store_url, storage_options=store_options)
    target[0, :4, :4] = -1.0
    again = predict_cube(**kwargs)
    assert again.written == () and again.skipped == tuple(DAYS)
    assert (open_product(store_url, storage_options=store_options)
            .lst_250m.values[0, :4, :4] == -1.0).all()
    # ... and --overwrite recomputes it
    redo = predict_cube(**kwargs, overwrite=True)
    assert redo.written == tuple(DAYS)
    np.testing.assert_array_equal(
        open_product(store_url, storage_options=store_options).lst_250m.values, values)


def test_missing_input_day_is_reported(small_cube, tmp_path: Path, cluster_client: Any) -> None:
    cube, _, _ = small_cube
    out = str(tmp_path / "p.zarr")
    later = DAYS[-1] + dt.timedelta(days=1)
    summary = predict_cube(cube_url=cube, model=make_standin(), out_url=out, start=DAYS[-1],
                           end=later, client=cluster_client, device="cpu")
    assert summary.written == (DAYS[-1],)
    assert [d for d, _ in summary.missing] == [later] and not summary.ok
    assert "not on the time axis" in summary.missing[0][1]
    assert list(complete_days(out)) == [DAYS[-1]]


def test_a_failing_day_is_reported_and_never_marked_complete(
    tmp_path: Path, cluster_client: Any
) -> None:
    lst, ndvi = day_inputs(32, 24, DAYS)
    lst[1, 5, 5] = FailingStandInModel.SENTINEL
    cube = write_input_cube(tmp_path / "in.zarr", lst=lst, ndvi=ndvi, days=DAYS,
                            chunks_1km=(16, 24))
    out = str(tmp_path / "p.zarr")
    summary = predict_cube(cube_url=cube, model=FailingStandInModel(), out_url=out,
                           start=DAYS[0], end=DAYS[-1], client=cluster_client, device="cpu",
                           retries=0)
    assert summary.written == (DAYS[0],) and not summary.ok
    (day, reason), = summary.missing
    assert day == DAYS[1] and "RuntimeError" in reason
    assert "secret" not in reason and "sig=***" in reason
    assert list(complete_days(out)) == [DAYS[0]]
    assert open_product(out).attrs["complete_days"] == [DAYS[0].isoformat()]


def test_cli_predict_with_shipped_baseline_and_quicklook(small_cube, tmp_path: Path,
                                                         cluster_client: Any, capsys) -> None:
    cube, _, _ = small_cube
    out = str(tmp_path / "bicubic.zarr")
    address = cluster_client.scheduler.address
    code = main(["predict", "--cube", cube, "--model", "bicubic", "--out", out,
                 "--start", DAYS[0].isoformat(), "--end", DAYS[0].isoformat(),
                 "--scheduler", address, "--device", "cpu", "--json"])
    assert code == 0, capsys.readouterr()
    assert '"written": [\n    "2021-09-01"' in capsys.readouterr().out
    ds = open_product(out)
    assert ds.attrs["lstcloud_model_name"] == "bicubic"
    assert np.isfinite(ds.lst_250m.values[0]).mean() > 0.5
    png = write_quicklook(cube_url=cube, product_url=out, date=DAYS[0],
                          path=tmp_path / "quicklook.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000
    bad = main(["predict", "--cube", cube, "--model", "bicubic", "--out", out,
                "--start", "2021-09-03", "--end", "2021-09-01", "--scheduler", address])
    assert bad == 2 and "before --start" in capsys.readouterr().err  # a config error


def test_a_day_is_predicted_only_once_every_tile_of_it_is_ingested(
    tmp_path: Path, cluster_client: Any
) -> None:
    """A real input cube (lstcloud.cube) of two tiles and its per (day, tile) ingest records."""
    from lstcloud.cube import create_cube, write_tile_day
    from lstcloud.cube.status import TileDayStatus, write_status

    day = dt.date(2021, 9, 5)
    cube = str(tmp_path / "input.zarr")
    out = str(tmp_path / "product.zarr")
    create_cube(cube, grid="h18v04,h19v04", dates=[day])
    lst = np.full((1200, 1200), np.nan, np.float32)
    lst[600:640, 1100:1200] = 300.0  # a little valid LST near the shared tile edge
    ndvi = np.full((4800, 4800), 0.5, np.float32)
    write_tile_day(cube, date=day, tile="h18v04", arrays={"lst_day": lst, "ndvi": ndvi},
                   status=TileDayStatus(state="complete"))
    kwargs = dict(cube_url=cube, model=make_standin(), out_url=out, start=day, end=day,
                  client=cluster_client, device="cpu")

    # h19v04 was never ingested (no record: e.g. the ingest crashed, or is still running)
    first = predict_cube(**kwargs)
    assert first.written == () and not first.ok
    ((when, reason),) = first.incomplete
    assert when == day and "input incomplete" in reason
    assert "h19v04 missing" in reason and "h18v04" not in reason
    assert "input incomplete" in first.format()
    assert complete_days(out) == {}

    # its catalogue search failed: still not predicted, the reason says why
    write_status(cube, day, "h19v04", TileDayStatus(
        state="failed", reasons=("catalogue search for MOD11A1 failed: HTTP 503",)))
    second = predict_cube(**kwargs)
    assert second.written == () and not second.ok
    ((_, reason),) = second.incomplete
    assert "h19v04 failed" in reason and "HTTP 503" in reason
    assert complete_days(out) == {}

    # ingested again (nothing valid that day over h19v04: "empty" counts as done) -> predicted
    write_status(cube, day, "h19v04", TileDayStatus(state="empty", reasons=("all cloud",)))
    third = predict_cube(**kwargs)
    assert third.written == (day,) and third.ok and third.incomplete == ()
    assert list(complete_days(out)) == [day]
    values = open_product(out).lst_250m.sel(time=np.datetime64(day, "ns"))
    patch = values.isel(y=slice(4 * 600, 4 * 640), x=slice(4 * 1100, 4 * 1200)).values
    assert np.isfinite(patch).all() and np.isnan(values.values).mean() > 0.99

    # a rerun skips the complete day even if a record later goes bad: complete stays complete
    write_status(cube, day, "h19v04", TileDayStatus(state="failed", reasons=("later",)))
    assert predict_cube(**kwargs).skipped == (day,)


def test_a_tile_without_granule_does_not_hold_the_day_and_its_late_granule_redoes_it(
    tmp_path: Path, cluster_client: Any
) -> None:
    """``no_input`` (no granule in the catalogue) counts as done; when the granule arrives and
    the tile is ingested, the day's input digest changes and the next run predicts it again."""
    from lstcloud.cube import create_cube, write_tile_day
    from lstcloud.cube.status import TileDayStatus, write_status
    day = dt.date(2021, 9, 6)
    cube = str(tmp_path / "input.zarr")
    out = str(tmp_path / "product.zarr")
    create_cube(cube, grid="h18v04,h19v04", dates=[day])
    lst = np.full((1200, 1200), np.nan, np.float32)
    lst[600:640, 1100:1200] = 300.0
    ndvi = np.full((4800, 4800), 0.5, np.float32)
    write_tile_day(cube, date=day, tile="h18v04", arrays={"lst_day": lst, "ndvi": ndvi},
                   status=TileDayStatus(state="complete", items=("A.h18v04",)))
    write_status(cube, day, "h19v04", TileDayStatus(
        state="no_input", reasons=("no granule in the catalogue",)))
    kwargs = dict(cube_url=cube, model=make_standin(), out_url=out, start=day, end=day,
                  client=cluster_client, device="cpu")

    first = predict_cube(**kwargs)
    assert first.written == (day,) and first.ok
    marker = complete_days(out)[day]
    assert marker["tiles_without_input"] == ["h19v04"] and marker["input_status"]
    edge = (slice(4 * 600, 4 * 640), slice(4 * 1200, 4 * 1240))  # h19v04 side of the edge
    before = open_product(out).lst_250m.values[0][edge]
    assert np.isnan(before).all()

    assert predict_cube(**kwargs).skipped == (day,)  # nothing changed: skipped

    # the late granule arrives and is ingested: the day is predicted again with it
    lst2 = np.full((1200, 1200), np.nan, np.float32)
    lst2[600:640, 0:100] = 302.0
    write_tile_day(cube, date=day, tile="h19v04", arrays={"lst_day": lst2, "ndvi": ndvi},
                   status=TileDayStatus(state="complete", items=("A.h19v04",)))
    third = predict_cube(**kwargs)
    assert third.written == (day,) and third.skipped == ()
    after = open_product(out).lst_250m.values[0][edge]
    assert np.isfinite(after).all()
    assert complete_days(out)[day]["tiles_without_input"] == []
    assert predict_cube(**kwargs).skipped == (day,)


def test_quicklook_slices_before_reading() -> None:
    import tracemalloc

    import dask.array as da
    import xarray as xr

    from lstcloud.quicklook import _decimate

    full = da.random.random((4096, 4096), chunks=512).astype(np.float32)  # 64 MiB
    array = xr.DataArray(full, dims=("y", "x"))
    tracemalloc.start()
    try:
        picked, step = _decimate(array, 256)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert step == 16 and picked.shape == (256, 256)
    np.testing.assert_array_equal(picked, full.compute()[::16, ::16])
    assert peak < full.nbytes / 4, peak  # never the whole full-resolution array at once
