"""No worker left (issue 12, point 9): predict and ingest give up instead of waiting for ever.

A real scheduler (a ``LocalCluster`` without workers of its own) and one real ``dask worker``
process, killed with SIGKILL (no nanny to restart it) as an evicted pod or a lost node would be.
``lstcloud predict`` / ``ingest`` then log that they are waiting for workers and, after the worker
timeout, exit nonzero with a message about workers.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from distributed import Client, LocalCluster

from lstcloud.cluster import NoWorkersError, as_completed_with_workers, resolve_worker_timeout
from lstcloud.errors import ConfigError

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
DAYS = [dt.date(2021, 8, 1), dt.date(2021, 8, 2)]


@pytest.fixture
def scheduler() -> Iterator[tuple[str, Client]]:
    """A scheduler with no worker of its own, and a client of it."""
    with (
        LocalCluster(n_workers=0, processes=True, dashboard_address=None) as cluster,
        Client(cluster) as client,
    ):
        yield cluster.scheduler_address, client


def _spawn_worker(address: str) -> subprocess.Popen[bytes]:
    dask = shutil.which("dask", path=str(Path(sys.executable).parent)) or "dask"
    # the worker unpickles this module's functions: the project root must be importable there
    path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)
    return subprocess.Popen(
        [dask, "worker", address, "--no-nanny", "--nthreads", "1", "--no-dashboard"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        env={**os.environ, "PYTHONPATH": path},
    )


def _start_worker(address: str, client: Client) -> subprocess.Popen[bytes]:
    proc = _spawn_worker(address)
    client.wait_for_workers(1, timeout=60)
    return proc


def _kill_worker(proc: subprocess.Popen[bytes], client: Client) -> None:
    os.kill(proc.pid, signal.SIGKILL)  # no clean shutdown: an OOM kill, a lost node
    proc.wait(timeout=30)
    deadline = time.monotonic() + 60
    while client.nthreads() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not client.nthreads(), "the scheduler still lists the killed worker"


def _slow(x: int) -> int:
    time.sleep(0.5)
    return x


def test_waiting_is_logged_and_ends_when_no_worker_comes(
    scheduler: tuple[str, Client], caplog: pytest.LogCaptureFixture
) -> None:
    address, client = scheduler
    worker = _start_worker(address, client)
    try:
        futures = [client.submit(_slow, i, pure=False) for i in range(3)]
        first = next(as_completed_with_workers(client, futures, timeout=5, what="tests"))
        assert first.result() in range(3)
    finally:
        _kill_worker(worker, client)
    futures = [client.submit(_slow, i, pure=False) for i in range(3)]
    caplog.set_level(logging.WARNING, logger="lstcloud.cluster")
    t0 = time.monotonic()
    with pytest.raises(NoWorkersError, match=r"no Dask worker available.*3 tests could not run"):
        list(as_completed_with_workers(client, futures, timeout=3, what="tests"))
    assert 3 <= time.monotonic() - t0 < 30
    assert "waiting for Dask workers" in caplog.text
    assert all(f.cancelled() for f in futures)


def test_a_worker_that_comes_back_in_time_finishes_the_work(
    scheduler: tuple[str, Client], caplog: pytest.LogCaptureFixture
) -> None:
    address, client = scheduler
    futures = [client.submit(_slow, i, pure=False) for i in range(2)]
    caplog.set_level(logging.WARNING, logger="lstcloud.cluster")
    workers: list[subprocess.Popen[bytes]] = []
    # no worker for ~4 s, then one joins: the wait is logged and the work resumes
    timer = threading.Timer(4.0, lambda: workers.append(_spawn_worker(address)))
    timer.start()
    try:
        results = [f.result() for f in as_completed_with_workers(client, futures, timeout=60)]
    finally:
        timer.join()
        for worker in workers:
            _kill_worker(worker, client)
    assert sorted(results) == [0, 1]
    assert "waiting for Dask workers" in caplog.text
    assert "worker(s) back" in caplog.text


def test_the_worker_timeout_is_configurable(monkeypatch: pytest.MonkeyPatch) -> None:
    assert resolve_worker_timeout() == 120.0
    monkeypatch.setenv("LSTCLOUD_WORKER_TIMEOUT", "42")
    assert resolve_worker_timeout() == 42.0
    assert resolve_worker_timeout(7) == 7.0
    with pytest.raises(ConfigError, match="worker timeout"):
        resolve_worker_timeout(0)


def _run_cli(argv: list[str], timeout: float) -> tuple[int, str, float]:
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    t0 = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "lstcloud", *argv], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout)
    return proc.returncode, proc.stderr, time.monotonic() - t0


def test_predict_with_its_only_worker_killed_exits_nonzero_about_workers(
    scheduler: tuple[str, Client], tmp_path: Path
) -> None:
    from tests.inference.cubes import day_inputs, write_input_cube

    address, client = scheduler
    lst, ndvi = day_inputs(48, 48, DAYS)
    cube = write_input_cube(tmp_path / "in.zarr", lst=lst, ndvi=ndvi, days=DAYS,
                            chunks_1km=(16, 16))
    _kill_worker(_start_worker(address, client), client)
    out = tmp_path / "product.zarr"
    code, err, seconds = _run_cli(
        ["predict", "--cube", cube, "--model", "bicubic", "--out", str(out), "--start",
         DAYS[0].isoformat(), "--end", DAYS[-1].isoformat(), "--scheduler", address,
         "--worker-timeout", "10"],
        timeout=300,
    )
    assert code != 0, err
    assert seconds < 120, seconds
    assert "waiting for Dask workers" in err  # logged while it waits
    last = err.strip().splitlines()[-1]
    assert "lstcloud predict: error: no Dask worker available" in last
    assert "Traceback" not in err
    from lstcloud.cube.product import complete_days

    assert not complete_days(str(out))  # no day marked complete


def test_ingest_with_no_worker_exits_nonzero_about_workers(
    scheduler: tuple[str, Client], tmp_path: Path
) -> None:
    from lstcloud.samples.stac import build_sample_catalog
    from lstcloud.stacserver import StacServer

    address, client = scheduler
    catalog = build_sample_catalog(tmp_path / "cat", provider="lpcloud", tiles=["h18v04"],
                                   dates=DAYS[:1], products=["MOD21A1D", "MOD09GQ"], seed=1)
    _kill_worker(_start_worker(address, client), client)
    cube = tmp_path / "cube.zarr"
    with StacServer(catalog.collections, catalog.items) as srv:
        code, err, seconds = _run_cli(
            ["ingest", "--provider", "lpcloud", "--stac-url", srv.url, "--region", "h18v04",
             "--start", DAYS[0].isoformat(), "--end", DAYS[0].isoformat(), "--cube", str(cube),
             "--scheduler", address, "--worker-timeout", "8", "--no-progress"],
            timeout=300,
        )
    assert code != 0, err
    assert seconds < 120, seconds
    assert "waiting for Dask workers" in err
    assert "lstcloud ingest: error: no Dask worker available" in err.strip().splitlines()[-1]
    from lstcloud.cube import read_status

    assert read_status(str(cube)) == {}  # nothing recorded: the next run redoes the day


