"""One product and one real HTTP server (uvicorn on 127.0.0.1, in a thread) for the serve tests.

Session-scoped: the service tests and the browser test share them (the first map tile pays
xpublish-tiles' JIT compilation, a few seconds, once).
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import xarray as xr

from lstcloud.cube.consolidated import consolidate
from lstcloud.cube.store import zarr_store
from tests.query.sample_product import write_sample_product

#: The limits of the test server: a 6-day product, so a full series (6 days) is too long.
MAX_DAYS = 5


def _add_spread(url: str, truth: xr.Dataset) -> xr.Dataset:
    """Add an ``lst_250m_spread`` variable like an ensemble's product has."""
    rng = np.random.default_rng(1)
    spread = rng.uniform(0.05, 1.5, truth["lst_250m"].shape).astype("float32")
    spread[np.isnan(truth["lst_250m"].values)] = np.nan
    var = xr.Dataset(
        {
            "lst_250m_spread": (
                ("time", "y", "x"),
                spread,
                {"units": "K", "grid_mapping": "spatial_ref"},
            )
        }
    ).chunk({"time": 1, "y": 240, "x": 240})
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Object at _lstcloud is not recognized")
        var.to_zarr(url, mode="a", consolidated=False)
    consolidate(zarr_store(url))
    return truth.assign(lst_250m_spread=(("time", "y", "x"), spread))


@pytest.fixture(scope="session")
def served_product(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, xr.Dataset]:
    """``(url, truth)``: a 6-day 480 x 480 product (111 km, France) with a spread variable."""
    url = str(Path(tmp_path_factory.mktemp("served")) / "product.zarr")
    truth = write_sample_product(url, days=6, size=480, chunk=240).load()
    return url, _add_spread(url, truth)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def running(app: Any) -> Iterator[str]:
    """Serve ``app`` with uvicorn on 127.0.0.1 in a thread; yields its base URL."""
    import uvicorn

    port = _free_port()
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not srv.started:
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail("lstcloud serve did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        srv.should_exit = True
        thread.join(timeout=10)


@pytest.fixture(scope="session")
def server(served_product: tuple[str, xr.Dataset]) -> Iterator[str]:
    """Base URL of ``lstcloud.serve`` over :func:`served_product`, on 127.0.0.1."""
    from lstcloud.serve import ServeLimits, create_app

    app = create_app(served_product[0], limits=ServeLimits(max_days=MAX_DAYS))
    with running(app) as base:
        yield base
