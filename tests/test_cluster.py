"""Getting a Dask client: local clusters, an existing scheduler, and the errors."""

from __future__ import annotations

import os

import pytest

from lstcloud.cluster import client_context, close_client, get_client
from lstcloud.errors import ConfigError, LstcloudError


def _worker_pid() -> int:
    return os.getpid()


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
