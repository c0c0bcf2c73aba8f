"""Transient errors are retried with backoff; permanent ones are not."""

from __future__ import annotations

import pytest

from lstcloud.errors import GranuleReadError, TransientError
from lstcloud.ingest.task import RetryPolicy


def test_transient_errors_are_retried_until_success() -> None:
    calls: list[int] = []

    def flaky() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise TransientError("S3 503 Slow Down on s3://bucket/cube.zarr/lst_day/c/0/0/0")
        return "ok"

    counter = [1]
    assert RetryPolicy(attempts=4, base=0.001).call(flaky, what="write", counter=counter) == "ok"
    assert len(calls) == 3
    assert counter == [3]


def test_retries_give_up_after_the_last_attempt() -> None:
    def down() -> None:
        raise ConnectionError("connection refused by 127.0.0.1:9")

    with pytest.raises(ConnectionError, match="refused"):
        RetryPolicy(attempts=2, base=0.001).call(down, what="read", counter=[1])


def test_permanent_errors_are_not_retried() -> None:
    calls: list[int] = []

    def corrupt() -> None:
        calls.append(1)
        raise GranuleReadError("MOD21A1D.A2024183.h18v04.061.hdf: not an HDF4 file")

    with pytest.raises(GranuleReadError):
        RetryPolicy(attempts=4, base=0.001).call(corrupt, what="read", counter=[1])
    assert len(calls) == 1
