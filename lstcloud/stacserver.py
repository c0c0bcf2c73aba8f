"""A real STAC API server on 127.0.0.1: ``rustac serve`` run as a subprocess.

Used by the test suite and by ``lstcloud demo``: the catalogue code then talks to a genuine STAC
API (item search, POST paging) instead of a mock. The server keeps everything in memory and
starts in a fraction of a second.

Examples
--------
>>> with StacServer([collection], items) as server:  # doctest: +SKIP
...     granules = search_granules(provider="lpcloud", stac_url=server.url, ...)
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import weakref
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

from lstcloud.core.errors import CatalogError, ConfigError

__all__ = ["StacServer", "find_rustac"]

_StacInput = Mapping[str, Any] | str | os.PathLike[str]


def find_rustac() -> str:
    """Return the path of the ``rustac`` executable (beside the interpreter, or on ``PATH``).

    Raises
    ------
    ConfigError
        ``rustac`` is not installed.
    """
    beside = Path(sys.executable).with_name("rustac")
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    found = shutil.which("rustac")
    if found:
        return found
    raise ConfigError("the 'rustac' executable was not found (pip install rustac)")


def _kill_quietly(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.kill()
        process.wait(timeout=5)


def _free_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _is_absolute_href(href: str) -> bool:
    return "://" in href or Path(href).is_absolute()


def _check_items_absolute(items: Iterable[Mapping[str, Any]]) -> None:
    for item in items:
        for key, asset in (item.get("assets") or {}).items():
            href = str(asset.get("href", ""))
            if not _is_absolute_href(href):
                raise ConfigError(
                    f"item {item.get('id')!r} asset {key!r}: href {href!r} is relative; "
                    "the STAC server needs absolute asset hrefs"
                )


class StacServer:
    """Run ``rustac serve`` on ``host`` with the given collections and items.

    Parameters
    ----------
    collections
        Collection dicts, paths to collection JSON files, or folders of them (``*.json``).
    items
        Item dicts, or the path of an ``.ndjson`` file of items. Asset hrefs must be absolute
        (URLs or absolute paths): rustac would resolve relative ones against its working folder.
    host
        Address to listen on (``127.0.0.1`` by default).
    port
        Port; ``None`` picks a free one.
    startup_timeout
        Seconds to wait for ``/`` to answer.

    Notes
    -----
    rustac answers ``GET /search`` requests that need a next page with HTTP 500; page with
    ``POST`` (pystac-client's default), as :func:`lstcloud.catalog.search_granules` does.
    """

    def __init__(
        self,
        collections: Sequence[_StacInput] | _StacInput,
        items: Sequence[Mapping[str, Any]] | str | os.PathLike[str],
        *,
        host: str = "127.0.0.1",
        port: int | None = None,
        startup_timeout: float = 30.0,
    ) -> None:
        if isinstance(collections, (str, os.PathLike, Mapping)):
            collections = [collections]
        self._collections = list(collections)
        self._items = items
        self.host = host
        self._requested_port = port
        self.port: int | None = None
        self.startup_timeout = startup_timeout
        self._process: subprocess.Popen[bytes] | None = None
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self._log: Any = None

    # ------------------------------------------------------------------ properties
    @property
    def url(self) -> str:
        """Root URL of the API (``http://127.0.0.1:PORT``)."""
        if self.port is None:
            raise CatalogError("the STAC server is not running (call start() or use 'with')")
        return f"http://{self.host}:{self.port}"

    @property
    def running(self) -> bool:
        """Whether the server process is alive."""
        return self._process is not None and self._process.poll() is None

    # ------------------------------------------------------------------ life cycle
    def _inputs(self, folder: Path) -> list[str]:
        hrefs: list[str] = []
        for i, coll in enumerate(self._collections):
            if isinstance(coll, Mapping):
                path = folder / f"collection-{i}.json"
                body = {
                    **coll,
                    "links": [
                        link
                        for link in coll.get("links", [])
                        if link.get("rel") not in ("item", "child", "root", "parent", "self")
                    ],
                }
                path.write_text(json.dumps(body))
                hrefs.append(str(path))
            else:
                path = Path(coll).resolve()
                if path.is_dir():
                    hrefs.extend(str(p) for p in sorted(path.glob("*.json")))
                elif path.is_file():
                    hrefs.append(str(path))
                else:
                    raise ConfigError(f"STAC collection file {path} does not exist")
        if isinstance(self._items, (str, os.PathLike)):
            path = Path(self._items).resolve()
            if not path.is_file():
                raise ConfigError(f"STAC items file {path} does not exist")
            with path.open() as handle:
                _check_items_absolute(json.loads(line) for line in handle if line.strip())
            hrefs.append(str(path))
        else:
            items = list(self._items)
            _check_items_absolute(items)
            if items:
                path = folder / "items.ndjson"
                with path.open("w") as handle:
                    for item in items:
                        handle.write(json.dumps(item) + "\n")
                hrefs.append(str(path))
        return hrefs

    def start(self) -> StacServer:
        """Start the server and wait until it answers; returns ``self``.

        Raises
        ------
        CatalogError
            The server did not come up (the message names the URL and rustac's error output).
        """
        if self.running:
            return self
        self._tmp = tempfile.TemporaryDirectory(prefix="lstcloud-stac-")
        folder = Path(self._tmp.name)
        try:
            hrefs = self._inputs(folder)
            attempts = 1 if self._requested_port is not None else 3
            last_error = ""
            for _ in range(attempts):
                self.port = self._requested_port or _free_port(self.host)
                error = self._launch(hrefs, folder)
                if error is None:
                    return self
                last_error = error
            raise CatalogError(f"the STAC server at {self.url} did not start: {last_error}")
        except BaseException:
            self.stop()
            raise

    def _launch(self, hrefs: list[str], folder: Path) -> str | None:
        if self._log is not None:
            self._log.close()
        log_path = folder / f"rustac-{self.port}.log"
        self._log = log_path.open("wb")
        cmd = [find_rustac(), "serve", "--addr", f"{self.host}:{self.port}", *hrefs]
        self._process = subprocess.Popen(
            cmd, stdout=self._log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=folder
        )
        # never leave an orphan server behind, even if stop() is forgotten
        weakref.finalize(self, _kill_quietly, self._process)
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                return log_path.read_text(errors="replace")[-2000:].strip() or "exited"
            try:
                with urllib.request.urlopen(self.url + "/", timeout=0.5) as resp:
                    if resp.status == 200:
                        return None
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.05)
        self._terminate()
        return f"no answer within {self.startup_timeout:.0f} s"

    def _terminate(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)

    def stop(self) -> None:
        """Stop the server and remove its temporary files (idempotent)."""
        self._terminate()
        if self._log is not None:
            self._log.close()
            self._log = None
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def __enter__(self) -> StacServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = self.url if self.running else "stopped"
        return f"StacServer({state})"
