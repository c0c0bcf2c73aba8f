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

from lstcloud.cube.product import complete_days, open_product
from lstcloud.inference.predict import predict_cube
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
