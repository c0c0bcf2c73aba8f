"""A fault-injecting, request-counting HTTP proxy in front of a real S3 API (the moto server).

Real faults, no mocks: botocore / s3fs talk HTTP to the proxy on 127.0.0.1, which forwards every
request to the S3 server unchanged, except those matching a fault rule (method + regex on the
path), which get an S3-style XML error (``503 ServiceUnavailable``, ``500 InternalError``,
``403 AccessDenied`` ...) for the rule's first ``count`` matches. ``proxy.requests`` records what
was seen, so tests can count reads and writes.
"""

from __future__ import annotations

import http.client
import re
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import urlsplit

from tests.servers import LoopbackHTTPServer

_HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailers",
    "transfer-encoding",
    "upgrade",
    "expect",
    "host",
    "content-length",
}


@dataclass
class FaultRule:
    """Answer ``status`` with S3 error ``code`` to the first ``count`` (-1 = all) matches."""

    method: str
    pattern: re.Pattern[str]
    status: int
    code: str
    count: int
    served: int = 0


@dataclass
class SeenRequest:
    """One request the proxy received (``fault`` is the injected status, or None)."""

    method: str
    path: str
    fault: int | None


class S3FaultProxy:
    """Threaded HTTP proxy on 127.0.0.1 in front of ``upstream`` (e.g. ``http://127.0.0.1:5000``)."""

    def __init__(self, upstream: str) -> None:
        parts = urlsplit(upstream)
        self.upstream_host = parts.hostname or "127.0.0.1"
        self.upstream_port = parts.port or 80
        self.requests: list[SeenRequest] = []
        self.rules: list[FaultRule] = []
        self._lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:  # quiet
                return

            def _body(self) -> bytes:
                if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                    out = bytearray()
                    while True:
                        size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                        if size == 0:
                            while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                                pass
                            return bytes(out)
                        out += self.rfile.read(size)
                        self.rfile.readline()
                length = int(self.headers.get("Content-Length") or 0)
                return self.rfile.read(length) if length else b""

            def _handle(self) -> None:
                body = self._body()
                rule = proxy._match(self.command, self.path)
                with proxy._lock:
                    proxy.requests.append(
                        SeenRequest(self.command, self.path, rule.status if rule else None)
                    )
                if rule is not None:
                    payload = (
                        '<?xml version="1.0" encoding="UTF-8"?>\n'
                        f"<Error><Code>{rule.code}</Code><Message>injected fault</Message>"
                        "<RequestId>lstcloud-test</RequestId></Error>"
                    ).encode()
                    self.send_response(rule.status)
                    self.send_header("Content-Type", "application/xml")
                    self.send_header("Content-Length", str(len(payload)))
                    self.send_header("Connection", "close")
                    self.end_headers()
                    if self.command != "HEAD":
                        self.wfile.write(payload)
                    self.close_connection = True
                    return
                proxy._forward(self, body)

            def do_GET(self) -> None:
                self._handle()

            def do_HEAD(self) -> None:
                self._handle()

            def do_PUT(self) -> None:
                self._handle()

            def do_POST(self) -> None:
                self._handle()

            def do_DELETE(self) -> None:
                self._handle()

        self._http = LoopbackHTTPServer(Handler)
        self.url = self._http.url

    # ------------------------------------------------------------------ faults
    def add_fault(
        self, method: str, pattern: str, *, status: int = 503, code: str = "ServiceUnavailable",
        count: int = 1,
    ) -> FaultRule:
        """Inject ``status``/``code`` into the first ``count`` ``method`` requests whose path
        matches the regex ``pattern``."""
        rule = FaultRule(method.upper(), re.compile(pattern), status, code, count)
        with self._lock:
            self.rules.append(rule)
        return rule

    def clear(self) -> None:
        """Drop the fault rules and the request log."""
        with self._lock:
            self.rules.clear()
            self.requests.clear()

    def _match(self, method: str, path: str) -> FaultRule | None:
        with self._lock:
            for rule in self.rules:
                matches = rule.method == method and rule.pattern.search(path)
                if matches and (rule.count < 0 or rule.served < rule.count):
                    rule.served += 1
                    return rule
        return None

    @property
    def faults_served(self) -> int:
        """How many requests got an injected error."""
        return sum(1 for r in self.requests if r.fault is not None)

    def count(self, *methods: str) -> int:
        """Requests seen with one of ``methods`` (all when none given)."""
        wanted = {m.upper() for m in methods}
        return sum(1 for r in self.requests if not wanted or r.method in wanted)

    # ------------------------------------------------------------------ forwarding
    def _forward(self, handler: BaseHTTPRequestHandler, body: bytes) -> None:
        headers = {k: v for k, v in handler.headers.items() if k.lower() not in _HOP_BY_HOP}
        headers["Host"] = f"{self.upstream_host}:{self.upstream_port}"
        if body or handler.command in ("PUT", "POST"):
            headers["Content-Length"] = str(len(body))
        conn = http.client.HTTPConnection(self.upstream_host, self.upstream_port, timeout=60)
        try:
            conn.request(handler.command, handler.path, body=body or None, headers=headers)
            resp = conn.getresponse()
            payload = resp.read()
            handler.send_response(resp.status, resp.reason)
            for key, value in resp.getheaders():
                if key.lower() not in _HOP_BY_HOP:
                    handler.send_header(key, value)
            if handler.command == "HEAD":
                handler.send_header("Content-Length", resp.getheader("Content-Length") or "0")
            else:
                handler.send_header("Content-Length", str(len(payload)))
            handler.end_headers()
            if handler.command != "HEAD" and payload:
                handler.wfile.write(payload)
        finally:
            conn.close()

    def close(self) -> None:
        """Stop the proxy."""
        self._http.close()
