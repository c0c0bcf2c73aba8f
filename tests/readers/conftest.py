"""Fixtures for the reader tests: sample granules and a real HTTP server with failure routes."""

from __future__ import annotations

import datetime as dt
import http.server
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

SAMPLE_TILE = "h18v04"
SAMPLE_DATE = dt.date(2020, 7, 1)


@pytest.fixture(scope="session")
def sample_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder of synthetic granules (MOD11A1 HDF4 and COGs; MOD21A1D HDF4)."""
    from lstcloud.samples import write_cogs, write_hdf4

    root = tmp_path_factory.mktemp("reader-samples")
    write_hdf4(root, product="MOD11A1", tile=SAMPLE_TILE, date=SAMPLE_DATE, seed=3)
    write_hdf4(root, product="MOD21A1D", tile=SAMPLE_TILE, date=SAMPLE_DATE, seed=3)
    write_cogs(root / "cogs", product="MOD11A1", tile=SAMPLE_TILE, date=SAMPLE_DATE, seed=3)
    return root


@pytest.fixture(scope="session")
def mod11a1_sample(sample_dir: Path) -> Path:
    return next(sample_dir.glob("MOD11A1.*.hdf"))


@pytest.fixture(scope="session")
def mod11a1_cogs(sample_dir: Path) -> dict[str, str]:
    out = {}
    for path in sorted((sample_dir / "cogs").glob("*.tif")):
        key = path.stem.split("_", 1)[1]
        out[key] = str(path)
    return out


class _Handler(http.server.SimpleHTTPRequestHandler):
    """Serves files from the server's folder; ``/status/<code>/...`` answers that status."""

    def log_message(self, format: str, *args: object) -> None:
        return

    def _failure(self) -> bool:
        parts = self.path.split("?", 1)[0].strip("/").split("/")
        if len(parts) >= 2 and parts[0] == "status":
            self.send_response(int(parts[1]))
            self.send_header("Content-Length", "0")
            self.end_headers()
            return True
        return False

    def do_GET(self) -> None:
        if not self._failure():
            super().do_GET()

    def do_HEAD(self) -> None:
        if not self._failure():
            super().do_HEAD()


@pytest.fixture(scope="session")
def http_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("http-root")


@pytest.fixture(scope="session")
def http_server(http_root: Path) -> Iterator[str]:
    """A real HTTP server on 127.0.0.1 serving ``http_root``; ``/status/503/x`` fails with 503."""

    def handler(*args: object, **kwargs: object) -> _Handler:
        return _Handler(*args, directory=str(http_root), **kwargs)  # type: ignore[arg-type]

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
