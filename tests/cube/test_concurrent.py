"""Two writers creating the same cube at once (issue 12, point 10).

Two ingests started together on a new cube both find no cube and both create its template: the
loser used to get zarr's "Cannot create '' with mode 'w-'" or, seeing the winner's template
half-made, the advice to remove it. Now the loser waits for the winner's template and uses it;
a template that stays unfinished names its writer (host, process, start time).
"""

from __future__ import annotations

import datetime as dt
import json
import socket
import threading
from pathlib import Path
from typing import Any

import pytest
import zarr

from lstcloud.cube import create_cube, open_cube
from lstcloud.errors import CubeError
from lstcloud.grid import CubeGrid

DAYS = [dt.date(2024, 7, 1), dt.date(2024, 7, 2)]


@pytest.mark.parametrize("where", ["local", "s3"])
def test_two_writers_creating_a_cube_at_once_both_succeed(
    where: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    options: dict[str, Any] | None = None
    if where == "s3":
        bucket = request.getfixturevalue("s3_bucket")
        options = dict(request.getfixturevalue("s3_storage_options"))
    grid = CubeGrid(["h18v04"], chunks_1km=600)
    for attempt in range(6):  # the race window is small: several fresh cubes
        url = f"{bucket}/race-{attempt}.zarr" if where == "s3" else str(tmp_path / f"r{attempt}")
        barrier = threading.Barrier(2)
        errors: list[BaseException] = []

        def create(
            url: str = url, barrier: threading.Barrier = barrier, errors: list = errors
        ) -> None:
            barrier.wait()
            try:
                create_cube(url, grid=grid, dates=DAYS, storage_options=options)
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=create) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        assert not errors, [f"{type(e).__name__}: {e}" for e in errors]
        ds = open_cube(url, storage_options=options)
        assert ds.sizes["time"] == len(DAYS)


def test_an_unfinished_template_names_its_writer(tmp_path: Path) -> None:
    url = str(tmp_path / "cube.zarr")
    # a writer that started the template and is still at it (or died): its record and a
    # template group without the format version
    store = zarr.storage.LocalStore(url)
    group = zarr.open_group(store, mode="w", attributes={"lstcloud_kind": "input"})
    group.create_array("time", shape=(1,), dtype="int64")
    record = {"host": "node-7", "pid": 4242, "started": "2026-12-02T15:00:00+00:00",
              "command": "lstcloud ingest"}
    (Path(url) / "_lstcloud" / "writer").mkdir(parents=True)
    (Path(url) / "_lstcloud" / "writer" / "creator.json").write_text(json.dumps(record))
    with pytest.raises(CubeError) as info:
        create_cube(url, grid=CubeGrid(["h18v04"], chunks_1km=600), dates=DAYS,
                    wait_for_writer=1.0)
    text = str(info.value)
    assert "another writer" in text and "node-7" in text and "4242" in text
    assert "2026-12-02T15:00:00" in text and "lstcloud ingest" in text


def test_the_creator_leaves_its_record(tmp_path: Path) -> None:
    url = str(tmp_path / "cube.zarr")
    create_cube(url, grid=CubeGrid(["h18v04"], chunks_1km=600), dates=DAYS)
    record = json.loads((Path(url) / "_lstcloud" / "writer" / "creator.json").read_text())
    assert record["host"] == socket.gethostname() and record["pid"] > 0
