"""Who is creating a cube: a small record, so that concurrent writers agree and can be named.

Two ingests started together on a new cube both find no cube. Each writes its record
``<cube>/_lstcloud/writer/creator.json`` (host, process, start time, command, a random token),
waits :data:`CLAIM_SETTLE` seconds and reads it back: the writer still named creates the
template, the others wait for it (the template is identical, so they then simply use it) and
name it when it stays unfinished.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import socket
import sys
import time
import uuid
from collections.abc import Callable
from typing import Any

from lstcloud.storage import filesystem, join, strip_protocol

__all__ = [
    "CLAIM_SETTLE",
    "WRITER_RECORD",
    "describe_writer",
    "read_writer",
    "wait_for",
    "write_writer",
]

#: Seconds a would-be creator lets a concurrent writer's record land before reading it back.
CLAIM_SETTLE = 0.5

#: Where the record lives, under the cube's root.
WRITER_RECORD = "_lstcloud/writer/creator.json"


def _command() -> str:
    name = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else "python"
    if name in ("__main__.py", "-m", "-c"):
        name = "lstcloud"
    words = [name, *(a for a in sys.argv[1:2] if not a.startswith("-"))]
    return " ".join(words)


def write_writer(url: str, *, storage_options: dict[str, Any] | None = None) -> dict[str, Any]:
    """Record this process as the cube's creator (replacing any older record); returns it."""
    record = {
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "started": dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat(),
        "command": _command(),
        "token": uuid.uuid4().hex,
    }
    fs = filesystem(url, storage_options)
    path = strip_protocol(join(url, WRITER_RECORD))
    fs.makedirs(path.rsplit("/", 1)[0], exist_ok=True)
    with fs.open(path, "w") as fh:
        fh.write(json.dumps(record))
    return record


def read_writer(url: str, *, storage_options: dict[str, Any] | None = None) -> dict[str, Any]:
    """The creator's record, or ``{}`` when there is none (or it cannot be read)."""
    fs = filesystem(url, storage_options)
    try:
        with fs.open(strip_protocol(join(url, WRITER_RECORD)), "r") as fh:
            record = json.loads(fh.read())
    except (OSError, ValueError):
        return {}
    return record if isinstance(record, dict) else {}


def describe_writer(record: dict[str, Any]) -> str:
    """``"lstcloud ingest (pid 4242 on node-7, since 2026-12-02T15:00:00+00:00)"``."""
    if not record:
        return "an unknown writer (no writer record)"
    return (
        f"{record.get('command') or 'a writer'} (pid {record.get('pid', '?')} on "
        f"{record.get('host', '?')}, since {record.get('started', '?')})"
    )


def wait_for(ready: Callable[[], bool], *, timeout: float, poll: float = 0.25) -> bool:
    """Call ``ready`` until it returns True or ``timeout`` seconds pass; its last answer."""
    deadline = time.monotonic() + max(0.0, timeout)
    while True:
        if ready():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(poll)
