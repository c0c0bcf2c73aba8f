"""Fixtures shared by the whole suite.

Real parts, not mocks: the S3 server, the STAC API server and the Dask cluster are real
processes on 127.0.0.1 (see ``tests/servers.py``). Real data comes from ``LSTCLOUD_SHARED_DATA``
(default ``../shared/data`` beside the project); tests that need it skip with a reason when it is
absent outside CI, and fail in CI, where it must be present.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[1]

pytest_plugins = ["tests.servers", "tests.stac_server", "tests.pgstac_server"]


def _shared_data_dir() -> Path:
    configured = os.environ.get("LSTCLOUD_SHARED_DATA")
    if configured:
        path = Path(configured)
        return path if path.is_absolute() else (PROJECT_ROOT / path).resolve()
    return (PROJECT_ROOT.parent / "shared" / "data").resolve()


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The folder of real MODIS / ASTER data (``../shared/data``)."""
    path = _shared_data_dir()
    if not path.is_dir():
        if os.environ.get("CI"):
            pytest.fail(f"LSTCLOUD_SHARED_DATA={path} is missing in CI: real-data tests must run")
        pytest.skip(f"real MODIS data not found at {path} (set LSTCLOUD_SHARED_DATA)")
    return path


@pytest.fixture(scope="session")
def hdf4_granules(shared_data: Path) -> Path:
    """The folder of real full-tile HDF4-EOS granules."""
    return shared_data / "hdf4_granules"


@pytest.fixture(scope="session")
def aster_dev(shared_data: Path) -> Path:
    """The 21 development triplets (MODIS LST 1 km, NDVI 250 m, ASTER)."""
    return shared_data / "aster_h18v04_dev"


@pytest.fixture
def rasterio_opened(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """Every path handed to ``rasterio.open`` during the test, in order (the files still open
    for real): what a reader really read, e.g. to prove it never opens an ASTER file."""
    import rasterio

    opened: list[Path] = []
    real_open = rasterio.open

    def spy(path, *args, **kwargs):
        opened.append(Path(str(path)))
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(rasterio, "open", spy)
    return opened
