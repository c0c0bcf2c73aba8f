"""The CLI on a dead S3 endpoint (issue 12, point 7): one line, no traceback, no secret.

A closed port on 127.0.0.1 stands for an unreachable S3 API. ``info``, ``query point`` and
``ingest`` used to print 140-270 lines of traceback ending in botocore's "<Token var=...> was
created in a different Context"; now each exits nonzero within 120 s with at most 15 lines on
standard error, one of them naming the store and the cause, and the credentials nowhere.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.servers import free_port

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
SECRET = "s3cr3t-Never-Print-Me-0123456789"
KEY_ID = "AKIADEADSTORETEST00"


def _env(port: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "LSTCLOUD_S3"))}
    env.update(
        LSTCLOUD_S3_ENDPOINT=f"http://127.0.0.1:{port}",
        AWS_ACCESS_KEY_ID=KEY_ID,
        AWS_SECRET_ACCESS_KEY=SECRET,
        AWS_DEFAULT_REGION="us-east-1",
        PYTHONPATH=str(ROOT) + os.pathsep + env.get("PYTHONPATH", ""),
    )
    return env


COMMANDS = {
    "info": (["info", "s3://dead-bucket/lst-250m.zarr"], "s3://dead-bucket/lst-250m.zarr"),
    "query": (
        ["query", "point", "--product", "s3://dead-bucket/lst-250m.zarr", "--lon", "2.35",
         "--lat", "48.85", "--format", "json"],
        "s3://dead-bucket/lst-250m.zarr",
    ),
    "ingest": (
        ["ingest", "--provider", "lpcloud", "--stac-url", "http://127.0.0.1:9", "--region",
         "h18v04", "--start", "2024-07-01", "--end", "2024-07-01", "--cube",
         "s3://dead-bucket/input.zarr", "--no-progress"],
        "s3://dead-bucket/input.zarr",
    ),
}


def test_commands_on_a_dead_s3_endpoint_fail_in_one_line() -> None:
    port = free_port()  # nothing listens there: connection refused
    started = {}
    for name, (argv, _) in COMMANDS.items():  # the three at once: each waits on retries
        started[name] = (
            time.monotonic(),
            subprocess.Popen(
                [sys.executable, "-m", "lstcloud", *argv], env=_env(port), cwd=ROOT,
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            ),
        )
    for name, (t0, proc) in started.items():
        try:
            out, err = proc.communicate(timeout=150)
        finally:
            proc.kill()
        seconds = time.monotonic() - t0
        store = COMMANDS[name][1]
        lines = err.strip().splitlines()
        assert proc.returncode not in (0, None), (name, out, err)
        assert seconds < 120, (name, seconds)
        assert "Traceback" not in err and "Exception ignored" not in err, (name, err[:3000])
        assert len(lines) <= 15, (name, err[:3000])
        named = [line for line in lines if store in line and "cannot reach" in line]
        assert named, (name, err)
        assert f"127.0.0.1:{port}" in named[0]  # the cause: the endpoint it could not connect to
        assert SECRET not in out + err and KEY_ID not in out + err


def test_the_traceback_comes_back_with_verbose() -> None:
    port = free_port()
    argv = ["-v", *COMMANDS["info"][0]]
    proc = subprocess.run(
        [sys.executable, "-m", "lstcloud", *argv], env=_env(port), cwd=ROOT,
        capture_output=True, text=True, timeout=150,
    )
    assert proc.returncode == 1
    assert "Traceback" in proc.stderr and "EndpointConnectionError" in proc.stderr
    assert SECRET not in proc.stderr
    # the error's traceback, not the shutdown noise of abandoned coroutines (issue 24, item 5)
    assert "Exception ignored" not in proc.stderr
    assert "created in a different Context" not in proc.stderr


def _limited(limit: int) -> Callable[[], None]:
    """A child-process hook: files can grow to ``limit`` bytes only (EFBIG beyond, as a full
    disk gives ENOSPC; a non-root stand-in for a full disk)."""
    import resource
    import signal

    def hook() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return hook


@pytest.mark.parametrize("limit", [300, 20_000])
def test_a_full_disk_gives_the_error_and_no_noise(tmp_path: Path, limit: int) -> None:
    """Issue 12, point 10: after the real error, no asyncio "Task was destroyed", no
    "Exception ignored in <coroutine>", no worker "Compute Failed" tracebacks. With room for
    nothing (300 bytes) the product's metadata cannot be written: one line naming the store;
    with room for the metadata only, the day fails and the summary says why."""
    import datetime as dt

    from tests.inference.cubes import day_inputs, write_input_cube

    days = [dt.date(2021, 8, 1)]
    lst, ndvi = day_inputs(96, 96, days)
    cube = write_input_cube(tmp_path / "in.zarr", lst=lst, ndvi=ndvi, days=days,
                            chunks_1km=(48, 48))
    out = tmp_path / "product.zarr"
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    proc = subprocess.run(
        [sys.executable, "-m", "lstcloud", "predict", "--cube", cube, "--model", "bicubic",
         "--out", str(out), "--start", "2021-08-01", "--end", "2021-08-01"],
        env=env, cwd=ROOT, capture_output=True, text=True, timeout=300,
        preexec_fn=_limited(limit),  # the limit must apply in the child, before exec
    )
    err = proc.stderr
    for noise in ("Traceback", "Task was destroyed", "Exception ignored", "Compute Failed"):
        assert noise not in err, (noise, err[-3000:])
    assert len(err.strip().splitlines()) <= 3, err[-3000:]
    if limit == 300:
        assert proc.returncode == 1
        assert f"no space left writing the store {out}" in err and "File too large" in err
    else:
        assert proc.returncode == 3, proc.stdout
        assert "2021-08-01: prediction failed: OSError: [Errno 27] File too large" in proc.stdout
