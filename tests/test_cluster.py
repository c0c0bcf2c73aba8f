"""Getting a Dask client: local clusters, an existing scheduler, and the errors."""

from __future__ import annotations

import os

import pytest

from lstcloud.cluster import client_context, close_client, get_client
from lstcloud.errors import ConfigError, LstcloudError


def _worker_pid() -> int:
    return os.getpid()


def _worker_heap_reuse() -> tuple[bool, int, float]:
    """In a worker: started with the malloc settings? Page faults and kernel CPU seconds of
    allocating, filling and freeing a 200 MB buffer 10 times."""
    import resource

    import numpy as np

    from lstcloud.allocator import malloc_tuned

    np.ones(50_000_000, np.float32).sum()  # the heap grows once
    before = resource.getrusage(resource.RUSAGE_SELF)
    for _ in range(10):
        np.ones(50_000_000, np.float32).sum()
    after = resource.getrusage(resource.RUSAGE_SELF)
    return malloc_tuned(), after.ru_minflt - before.ru_minflt, after.ru_stime - before.ru_stime


def _heap_reuse_with(tuning: str | None) -> tuple[bool, int, float]:
    from lstcloud.allocator import TUNING_ENV, WORKER_MALLOC_ENV

    env = {k: os.environ.pop(k) for k in WORKER_MALLOC_ENV if k in os.environ}
    old = os.environ.pop(TUNING_ENV, None)
    if tuning is not None:
        os.environ[TUNING_ENV] = tuning
    try:
        with client_context(None, n_workers=1) as client:
            return client.submit(_worker_heap_reuse, pure=False).result()
    finally:
        os.environ.update(env)
        os.environ.pop(TUNING_ENV, None)
        if old is not None:
            os.environ[TUNING_ENV] = old


def test_local_workers_reuse_freed_memory_instead_of_faulting_it_in_again():
    """By default the workers start with WORKER_MALLOC_ENV: a large array freed and allocated
    again costs no page faults (with Dask's defaults each 200 MB array is mapped and faulted in
    again: ~3,000 faults with transparent huge pages, ~49,000 without)."""
    tuned, faults, _kernel = _heap_reuse_with(None)
    assert tuned
    assert faults < 1_000, faults


def test_malloc_tuning_off_gives_dasks_defaults():
    tuned, faults, _kernel = _heap_reuse_with("0")
    assert not tuned
    assert faults > 2_000, faults


def _exit_slowly(marker: str) -> int:
    """In a worker: make the process's exit take 6 s (longer than the 4 s Dask's nanny allows
    at close, as a worker holding a large heap does on a loaded machine), then leave a file."""
    import atexit
    import pathlib
    import time

    def slow_exit() -> None:
        time.sleep(6.0)
        pathlib.Path(marker).write_text("exited")

    atexit.register(slow_exit)
    return os.getpid()


def test_a_worker_slow_to_exit_is_waited_for_at_close(tmp_path):
    """close_client gives each worker of a local cluster more than the nanny's default 4 s:
    the slow exit completes (it is not killed half-way) and the close raises nothing."""
    import psutil

    marker = tmp_path / "exited"
    client = get_client(n_workers=1, threads_per_worker=1)
    worker_pid = client.submit(_exit_slowly, str(marker), pure=False).result()
    close_client(client)
    assert marker.read_text() == "exited"
    assert not psutil.pid_exists(worker_pid) or psutil.Process(worker_pid).status() == "zombie"


def test_local_cluster_with_worker_processes_is_closed_with_its_client():
    client = get_client(n_workers=1, threads_per_worker=1)
    try:
        cluster = client.cluster
        info = client.scheduler_info()
        assert len(info["workers"]) == 1
        assert all(w["nthreads"] == 1 for w in info["workers"].values())
        # processes: the task runs in another process
        assert client.submit(_worker_pid, pure=False).result() != os.getpid()
    finally:
        close_client(client)
    assert client.status == "closed"
    assert cluster.status.name == "closed"


def test_client_context_threads_and_existing_scheduler():
    with client_context(n_workers=1, processes=False, threads_per_worker=2) as local:
        assert local.submit(_worker_pid, pure=False).result() == os.getpid()
        assert sum(w["nthreads"] for w in local.scheduler_info()["workers"].values()) == 2
        address = local.scheduler.address
        # connecting to a running scheduler by address leaves it running on exit
        with client_context(address) as remote:
            assert remote.scheduler.address == address
            assert remote.submit(sum, [1, 2, 3]).result() == 6
        assert remote.status == "closed"
        assert local.submit(sum, [4, 5]).result() == 9
        # a Client passed in is used as it is, and left open
        assert get_client(local) is local
        with client_context(local) as same:
            assert same is local
        assert local.status == "running"
    assert local.status == "closed"


def test_scheduler_from_environment(monkeypatch):
    with client_context(n_workers=1, processes=False) as local:
        monkeypatch.setenv("LSTCLOUD_SCHEDULER", local.scheduler.address.removeprefix("tcp://"))
        with client_context() as client:
            assert client.scheduler.address == local.scheduler.address


def test_unreachable_scheduler_names_the_address():
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(LstcloudError, match=f"127.0.0.1:{port}"):
        get_client(f"tcp://127.0.0.1:{port}", timeout=1)


@pytest.mark.parametrize(
    "kwargs", [{"n_workers": 0}, {"threads_per_worker": 0}, {"scheduler": 42}, {"scheduler": " "}]
)
def test_bad_options(kwargs):
    with pytest.raises(ConfigError):
        get_client(**kwargs)
