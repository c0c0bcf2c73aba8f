"""Transient errors are retried with backoff; permanent ones are not."""

from __future__ import annotations

import pytest

from lstcloud.core.backoff import RetryPolicy, RetryTally
from lstcloud.errors import GranuleReadError, TransientError


def test_transient_errors_are_retried_until_success() -> None:
    calls: list[int] = []

    def flaky() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise TransientError("S3 503 Slow Down on s3://bucket/cube.zarr/lst_day/c/0/0/0")
        return "ok"

    result = RetryPolicy(attempts=4, base=0.001).run(flaky, what="write")
    assert result.ok and result.value == "ok"
    assert len(calls) == 3
    assert result.attempts == 3 and len(result.retried) == 2


def test_retries_give_up_after_the_last_attempt() -> None:
    def down() -> None:
        raise ConnectionError("connection refused by 127.0.0.1:9")

    with pytest.raises(ConnectionError, match="refused"):
        RetryPolicy(attempts=2, base=0.001).call(down, what="read")


def test_permanent_errors_are_not_retried() -> None:
    calls: list[int] = []

    def corrupt() -> None:
        calls.append(1)
        raise GranuleReadError("MOD21A1D.A2024183.h18v04.061.hdf: not an HDF4 file")

    with pytest.raises(GranuleReadError):
        RetryPolicy(attempts=4, base=0.001).call(corrupt, what="read")
    assert len(calls) == 1


def test_transient_cube_errors_are_retried_and_recorded() -> None:
    from lstcloud.cube import TransientCubeError

    calls: list[int] = []

    def flaky() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise TransientCubeError("cube s3://b/c.zarr 2024-07-01 h18v04 lst_day: 503")
        return "ok"

    tally = RetryTally()
    assert RetryPolicy(attempts=4, base=0.001).call(
        flaky, what="cube write 2024-07-01 h18v04", tally=tally
    ) == "ok"
    assert tally.attempts == 3 and len(tally.retried) == 2
    retried = tally.retried
    assert retried[0].startswith("cube write 2024-07-01 h18v04: attempt 1: TransientCubeError")


@pytest.mark.parametrize(
    "exc",
    [
        PermissionError("s3://bucket/cube.zarr: Access Denied"),
        FileNotFoundError("s3://bucket/nothing"),
        ValueError("bad region"),
    ],
)
def test_permanent_storage_errors_fail_fast(exc: Exception) -> None:
    from lstcloud.errors import CubeError

    for raised in (exc, CubeError(f"cube s3://b/c.zarr: {exc}")):
        calls: list[int] = []

        def fail(raised: Exception = raised, calls: list[int] = calls) -> None:
            calls.append(1)
            raise raised

        with pytest.raises(type(raised)):
            RetryPolicy(attempts=4, base=0.001).call(fail, what="write")
        assert len(calls) == 1


def test_run_returns_the_final_error_with_its_counts() -> None:
    def down() -> None:
        raise TimeoutError("read timed out on https://host/a.hdf?sig=secret")

    result = RetryPolicy(attempts=3, base=0.001).run(down, what="read")
    assert not result.ok and isinstance(result.error, TimeoutError)
    assert result.attempts == 3 and len(result.retried) == 2
    assert all("secret" not in line and "sig=***" in line for line in result.retried)
    with pytest.raises(TimeoutError):
        result.unwrap()


def test_a_policy_retries_only_what_its_predicate_accepts() -> None:
    calls: list[int] = []

    def flaky() -> str:
        calls.append(1)
        if len(calls) < 2:
            raise KeyError("not usually transient")
        return "ok"

    policy = RetryPolicy(attempts=3, base=0.001, retryable=lambda e: isinstance(e, KeyError))
    assert policy.call(flaky, what="lookup") == "ok" and len(calls) == 2
