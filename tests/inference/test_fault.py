"""A worker process dies in the middle of a prediction: the product is still exact."""

from __future__ import annotations

import datetime as dt
import os
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from distributed import Client, LocalCluster

from lstcloud.inference.predict import predict_cube
from lstcloud.product import complete_days, open_product
from tests.inference.cubes import day_inputs, write_input_cube
from tests.inference.standin import SlowStandInModel, make_standin

DAYS = [dt.date(2021, 8, 1), dt.date(2021, 8, 2)]


async def _die() -> None:
    """Kill the worker process at once (no clean shutdown), like an OOM kill or a lost node."""
    os._exit(1)


def _chunk_files(product: Path) -> int:
    return sum(1 for _ in (product / "lst_250m").rglob("c/*/*/*"))


@pytest.mark.slow
def test_worker_killed_mid_prediction_gives_identical_product(tmp_path: Path) -> None:
    lst, ndvi = day_inputs(48, 48, DAYS)
    cube = write_input_cube(tmp_path / "in.zarr", lst=lst, ndvi=ndvi, days=DAYS,
                            chunks_1km=(16, 16))
    reference = tmp_path / "reference.zarr"
    disturbed = tmp_path / "disturbed.zarr"
    with (
        LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                     dashboard_address=None) as cluster,
        Client(cluster) as client,
    ):
        predict_cube(cube_url=cube, model=make_standin(), out_url=str(reference),
                     start=DAYS[0], end=DAYS[-1], client=client, device="cpu", tile_1km=16)
        result: dict = {}

        def run() -> None:
            try:
                result["summary"] = predict_cube(
                    cube_url=cube, model=SlowStandInModel(delay=0.15), out_url=str(disturbed),
                    start=DAYS[0], end=DAYS[-1], client=client, device="cpu", tile_1km=16)
            except BaseException as exc:  # re-raised in the test thread
                result["error"] = exc

        thread = threading.Thread(target=run)
        thread.start()
        deadline = time.monotonic() + 60
        while _chunk_files(disturbed) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        victims = list(client.scheduler_info()["workers"])[:1]
        assert victims and thread.is_alive(), "the prediction finished before the kill"
        assert not complete_days(str(disturbed)), "a day was complete before the kill"
        client.run(_die, workers=victims, wait=False)
        thread.join(timeout=120)
        assert not thread.is_alive()
        assert "error" not in result, result.get("error")
        assert victims[0] not in client.scheduler_info()["workers"]  # the worker did die
    summary = result["summary"]
    assert summary.written == tuple(DAYS) and summary.ok
    a, b = open_product(str(reference)), open_product(str(disturbed))
    np.testing.assert_array_equal(a.lst_250m.values, b.lst_250m.values)
    np.testing.assert_array_equal(a.lst_250m_quality.values, b.lst_250m_quality.values)
    assert b.attrs["complete_days"] == [d.isoformat() for d in DAYS]


@pytest.mark.slow
def test_s3_dying_mid_prediction_reports_the_days_and_marks_none_complete(
    tmp_path: Path, dask_client, s3_endpoint, s3_bucket, s3_storage_options
) -> None:
    """Issue 12, point 8: the product's S3 store starts answering 503 to everything once the
    first chunk is written. The run used to end in an uncaught error (marker / complete_days
    publishing) and lose its summary; now every day is reported failed, the summary comes
    back, and no day is marked complete."""
    from tests.ingest.s3proxy import S3FaultProxy

    days = [dt.date(2021, 8, 1), dt.date(2021, 8, 2), dt.date(2021, 8, 3)]
    lst, ndvi = day_inputs(48, 48, days)
    cube = write_input_cube(tmp_path / "in.zarr", lst=lst, ndvi=ndvi, days=days,
                            chunks_1km=(16, 16))
    proxy = S3FaultProxy(s3_endpoint)
    options = {
        "key": s3_storage_options["key"], "secret": s3_storage_options["secret"],
        "client_kwargs": {"endpoint_url": proxy.url},
        "config_kwargs": {"retries": {"total_max_attempts": 1}},
        "skip_instance_cache": True,
    }
    out = f"{s3_bucket}/dying.zarr"
    result: dict = {}

    def run() -> None:
        try:
            result["summary"] = predict_cube(
                cube_url=cube, model=SlowStandInModel(delay=0.1), out_url=out, start=days[0],
                end=days[-1], client=dask_client, device="cpu", tile_1km=16,
                storage_options=options, retries=0)
        except BaseException as exc:  # the bug: an uncaught store error, no summary
            result["error"] = exc

    thread = threading.Thread(target=run)
    try:
        thread.start()
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not any(
            r.method == "PUT" and "/lst_250m/c/" in r.path for r in list(proxy.requests)
        ):
            time.sleep(0.02)
        assert thread.is_alive(), "the prediction ended before S3 died"
        for method in ("GET", "HEAD", "PUT", "POST", "DELETE"):  # S3 is gone
            proxy.add_fault(method, r".*", status=503, code="ServiceUnavailable", count=-1)
        thread.join(timeout=300)
        assert not thread.is_alive()
    finally:
        proxy.close()
    assert "error" not in result, f"{type(result['error']).__name__}: {result['error']}"
    summary = result["summary"]
    assert not summary.ok and summary.written == ()
    assert [d for d, _ in summary.missing] == days
    text = summary.format()
    assert all(d.isoformat() in text for d in days)
    assert complete_days(out, storage_options=s3_storage_options) == {}  # none looks complete
