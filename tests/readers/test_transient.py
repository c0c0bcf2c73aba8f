"""``is_transient`` / ``classify_error``: which storage errors are worth retrying."""

from __future__ import annotations

import errno

import pytest
from botocore.exceptions import ClientError, ConnectTimeoutError, EndpointConnectionError

from lstcloud.errors import GranuleReadError, MissingAssetError, TransientError
from lstcloud.readers.fetch import classify_error, is_transient


def _s3_error(status: int, code: str) -> OSError:
    """What s3fs raises: an OSError translated from botocore's ClientError, chained to it."""
    cause = ClientError(
        {"Error": {"Code": code, "Message": "m"}, "ResponseMetadata": {"HTTPStatusCode": status}},
        "PutObject",
    )
    err = OSError(errno.EBUSY if status >= 500 else errno.EACCES, "m")
    err.__cause__ = cause
    return err


@pytest.mark.parametrize(
    "exc",
    [
        _s3_error(503, "SlowDown"),
        _s3_error(503, "ServiceUnavailable"),
        _s3_error(500, "InternalError"),
        _s3_error(400, "RequestTimeout"),  # S3 answers a slow upload with 400 RequestTimeout
        TimeoutError("read timed out"),
        ConnectionResetError("connection reset by peer"),
        EndpointConnectionError(endpoint_url="http://127.0.0.1:9"),
        ConnectTimeoutError(endpoint_url="http://127.0.0.1:9"),
        TransientError("already classified"),
        OSError("Service Unavailable"),
    ],
    ids=lambda e: type(e).__name__ + ":" + str(e)[:30],
)
def test_transient(exc: BaseException) -> None:
    assert is_transient(exc)


@pytest.mark.parametrize(
    "exc",
    [
        _s3_error(403, "AccessDenied"),
        _s3_error(404, "NoSuchKey"),
        _s3_error(400, "InvalidRequest"),
        FileNotFoundError("s3://bucket/key"),
        PermissionError("denied"),
        ValueError("bad chunk shape"),
        OSError(errno.ENOSPC, "No space left on device"),
    ],
    ids=lambda e: type(e).__name__ + ":" + str(e)[:30],
)
def test_not_transient(exc: BaseException) -> None:
    assert not is_transient(exc)


def test_classify_error_keeps_its_mapping() -> None:
    href = "s3://bucket/a.hdf?sig=SECRET"
    assert isinstance(classify_error(_s3_error(503, "SlowDown"), href), TransientError)
    assert isinstance(classify_error(_s3_error(404, "NoSuchKey"), href), MissingAssetError)
    denied = classify_error(_s3_error(403, "AccessDenied"), href)
    assert type(denied) is GranuleReadError and "SECRET" not in str(denied)
