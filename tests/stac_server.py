"""STAC API server fixtures: a real rustac server and a fault-injecting HTTP proxy, on 127.0.0.1.

- ``stac_server_factory(collections, items)`` starts a :class:`lstcloud.stacserver.StacServer`
  and stops it at teardown.
- ``fault_proxy_factory(upstream_url)`` starts a :class:`FaultProxy` in front of any HTTP server:
  for the first ``count`` requests it answers 500 / 502 / 503 / 429 / 404 / an HTML page,
  sleeps past the client's timeout, or drops the connection; then it forwards (rewriting the
  upstream URL in bodies so that paging links keep going through the proxy).
  ``proxy.requests`` records what it saw.
"""

from __future__ import annotations

import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from typing import Any

import pytest

from lstcloud.stacserver import StacServer
from tests.servers import LoopbackHTTPServer

FAULTS = ("500", "502", "503", "429", "404", "html", "timeout", "drop")


@dataclass
class SeenRequest:
    """One request the proxy received."""

    method: str
    path: str
    fault: str | None
    headers: dict[str, str]
    body: bytes


class FaultProxy:
    """A threaded HTTP proxy on 127.0.0.1 that injects faults before forwarding.

    Parameters
    ----------
    upstream
        Base URL of the real server.
    fault
        One of :data:`FAULTS`, or ``None`` to always forward.
    count
        How many requests get the fault (then it forwards); ``-1`` = all of them.
    delay
        Seconds to stall for the ``"timeout"`` fault (make it longer than the client timeout).
    """

    def __init__(
        self, upstream: str, *, fault: str | None = None, count: int = 1, delay: float = 2.0
    ) -> None:
        self.upstream = upstream.rstrip("/")
        self.requests: list[SeenRequest] = []
        self._lock = threading.Lock()
        self.set_fault(fault, count=count, delay=delay)
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:  # quiet
                return

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                fault = proxy._next_fault()
                with proxy._lock:
                    proxy.requests.append(
                        SeenRequest(self.command, self.path, fault, dict(self.headers), body)
                    )
                if fault in ("500", "502", "503", "429", "404"):
                    payload = f"injected fault {fault}".encode()
                    self.send_response(int(fault))
                    self.send_header("Content-Type", "text/plain")
                    self.send_header("Content-Length", str(len(payload)))
                    self.send_header("Connection", "close")
                    self.end_headers()
                    self.wfile.write(payload)
                    self.close_connection = True
                    return
                if fault == "html":  # a 200 that is not JSON (captive portal, proxy page)
                    payload = b"<html><body>Please log in</body></html>"
                    self.send_response(200)
                    self.send_header("Content-Type", "text/html")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                    return
                if fault == "timeout":
                    time.sleep(proxy.delay)
                    self.close_connection = True
                    return
                if fault == "drop":
                    self.close_connection = True
                    return  # nothing written: the client sees the connection closed
                proxy._forward(self, body)

            def do_GET(self) -> None:
                self._handle()

            def do_POST(self) -> None:
                self._handle()

            def do_PUT(self) -> None:
                self._handle()

            def do_DELETE(self) -> None:
                self._handle()

        self._http = LoopbackHTTPServer(Handler)
        self.url = self._http.url

    def set_fault(self, fault: str | None, *, count: int = 1, delay: float = 2.0) -> None:
        """Change the fault plan (resets the remaining count)."""
        if fault is not None and fault not in FAULTS:
            raise ValueError(f"unknown fault {fault!r}; choose from {FAULTS}")
        with self._lock:
            self.fault, self.remaining, self.delay = fault, count, delay

    def _next_fault(self) -> str | None:
        with self._lock:
            if self.fault is None or self.remaining == 0:
                return None
            if self.remaining > 0:
                self.remaining -= 1
            return self.fault

    def _forward(self, handler: BaseHTTPRequestHandler, body: bytes) -> None:
        headers = {
            k: v
            for k, v in handler.headers.items()
            if k.lower() in ("content-type", "accept", "authorization")
        }
        request = urllib.request.Request(
            self.upstream + handler.path,
            data=body or None,
            headers=headers,
            method=handler.command,
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as resp:
                status, payload, ctype = resp.status, resp.read(), resp.headers.get("Content-Type")
        except urllib.error.HTTPError as err:
            status, payload, ctype = err.code, err.read(), err.headers.get("Content-Type")
        payload = payload.replace(self.upstream.encode(), self.url.encode())
        handler.send_response(status)
        handler.send_header("Content-Type", ctype or "application/json")
        handler.send_header("Content-Length", str(len(payload)))
        handler.end_headers()
        handler.wfile.write(payload)

    @property
    def faults_served(self) -> int:
        """How many requests got a fault."""
        return sum(1 for r in self.requests if r.fault is not None)

    def close(self) -> None:
        """Stop the proxy."""
        self._http.close()


@pytest.fixture
def stac_server_factory() -> Iterator[Callable[..., StacServer]]:
    """Start rustac STAC servers: ``factory(collections, items, **kwargs) -> StacServer``."""
    started: list[StacServer] = []

    def factory(
        collections: Sequence[Mapping[str, Any]] | Any, items: Any, **kwargs: Any
    ) -> StacServer:
        server = StacServer(collections, items, **kwargs).start()
        started.append(server)
        return server

    yield factory
    for server in started:
        server.stop()


@pytest.fixture
def fault_proxy_factory() -> Iterator[Callable[..., FaultProxy]]:
    """Start fault-injecting proxies: ``factory(upstream_url, fault=..., count=..., delay=...)``."""
    started: list[FaultProxy] = []

    def factory(upstream: str, **kwargs: Any) -> FaultProxy:
        proxy = FaultProxy(upstream, **kwargs)
        started.append(proxy)
        return proxy

    yield factory
    for proxy in started:
        proxy.close()
