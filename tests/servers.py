"""Real server fixtures: an S3 API (moto) and a Dask cluster with worker processes.

- ``s3_endpoint`` (session): ``LSTCLOUD_TEST_S3_ENDPOINT`` when set (``scripts/test.sh`` starts a
  ``moto_server`` process), else a ``moto.server.ThreadedMotoServer`` on a free 127.0.0.1 port.
- ``s3_storage_options``: fsspec/s3fs options for that endpoint.
- ``s3_bucket`` (function): a fresh, uniquely named, empty bucket, ``"s3://name"``; emptied and
  removed afterwards. Tests that go through the environment rather than ``storage_options`` (the
  CLI) set ``LSTCLOUD_S3_ENDPOINT`` themselves with ``monkeypatch.setenv``.
- ``store_url`` (function, parametrised ``local`` / ``s3``): a place for a store, a local tmp
  folder and an ``s3://`` URL, so that one suite runs against both; ``store_options`` gives the
  matching ``storage_options`` (``None`` for local).
- ``dask_client`` (session): a ``distributed.LocalCluster`` with 2 worker processes of 1 thread
  (the default client once created).

Fake AWS credentials are put in ``os.environ`` when the session starts (before any worker
process is spawned), so nothing can reach a real account.
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

_FAKE_AWS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_SECURITY_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}


def pytest_configure(config: pytest.Config) -> None:
    """Fake AWS credentials for the whole session (worker processes inherit them)."""
    os.environ.update(_FAKE_AWS)
    for name in ("AWS_PROFILE", "AWS_SHARED_CREDENTIALS_FILE", "AWS_CONFIG_FILE"):
        os.environ.pop(name, None)


class LoopbackHTTPServer:
    """A ``ThreadingHTTPServer`` on 127.0.0.1 (free port) served from a daemon thread.

    The base of the test proxies that put faults in front of the real servers.
    """

    def __init__(self, handler: type[Any]) -> None:
        from http.server import ThreadingHTTPServer

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), daemon=True
        )
        self._thread.start()

    def close(self) -> None:
        """Stop serving and release the port."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port free on ``host`` right now."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """URL of a real S3 API server on 127.0.0.1 (moto)."""
    configured = os.environ.get("LSTCLOUD_TEST_S3_ENDPOINT")
    if configured:
        yield configured.rstrip("/")
        return
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


@pytest.fixture(scope="session")
def s3_storage_options(s3_endpoint: str) -> dict[str, Any]:
    """fsspec / s3fs storage options for the test S3 server."""
    return {
        "key": _FAKE_AWS["AWS_ACCESS_KEY_ID"],
        "secret": _FAKE_AWS["AWS_SECRET_ACCESS_KEY"],
        "client_kwargs": {"endpoint_url": s3_endpoint},
    }


@pytest.fixture()
def s3_bucket(s3_storage_options: dict[str, Any]) -> Iterator[str]:
    """A fresh empty bucket on the test server: ``"s3://lstcloud-test-<random>"``."""
    import s3fs

    fs = s3fs.S3FileSystem(skip_instance_cache=True, **s3_storage_options)
    name = f"lstcloud-test-{uuid.uuid4().hex[:12]}"
    fs.mkdir(name)
    try:
        yield f"s3://{name}"
    finally:
        with contextlib.suppress(FileNotFoundError):
            fs.rm(name, recursive=True)
        fs.invalidate_cache()


@pytest.fixture(params=["local", "s3"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Where to put a store: a local folder, then an ``s3://`` URL (one test, both stores)."""
    if request.param == "local":
        return str(tmp_path / "store.zarr")
    bucket = request.getfixturevalue("s3_bucket")
    return f"{bucket}/store.zarr"


@pytest.fixture()
def store_options(request: pytest.FixtureRequest, store_url: str) -> dict[str, Any] | None:
    """The ``storage_options`` matching ``store_url`` (``None`` for a local folder)."""
    if store_url.startswith("s3://"):
        return dict(request.getfixturevalue("s3_storage_options"))
    return None


@pytest.fixture(scope="session")
def dask_client() -> Iterator[Any]:
    """A ``distributed.Client`` on a LocalCluster: 2 worker processes, 1 thread each."""
    from distributed import Client, LocalCluster

    cluster = LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        dashboard_address=":0",  # a free port: its HTTP server never fights over 8787
    )
    # the default client while it lives: code under test that relies on ``default_client()``
    # (``distributed.as_completed(futures)`` without ``loop=``) works; plain ``.compute()`` calls
    # of later tests then run on this cluster too
    client = Client(cluster)
    try:
        yield client
    finally:
        client.close()
        cluster.close()
