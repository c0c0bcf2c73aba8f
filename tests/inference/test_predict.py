"""predict_cube end to end: local and S3 products, reruns, missing days, CLI, quick-look."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from lstcloud.cli.main import main
from lstcloud.inference.predict import predict_cube
from lstcloud.product import complete_days, open_product, open_product_arrays
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
    assert bad == 1 and "before --start" in capsys.readouterr().err
