"""Which I/O errors are worth retrying: timeouts, HTTP 429 / 5xx, S3 throttling, lost connections.

Used by the retry policy (:mod:`lstcloud.core.backoff`), by the granule readers (which turn I/O
errors into :class:`~lstcloud.core.errors.TransientError` or permanent errors) and by the cube
store (which raises :class:`~lstcloud.cube.errors.TransientCubeError`).
"""

from __future__ import annotations

import asyncio
import re

from lstcloud.core.errors import TransientError

__all__ = ["TRANSIENT_TEXT", "error_chain", "http_status", "is_transient", "transient_one"]

TRANSIENT_TEXT = re.compile(
    r"\b(429|500|502|503|504)\b|timed? ?out|timeout|throttl|slow ?down|temporar|"
    r"internal ?error|service unavailable|connection (reset|refused|aborted)|"
    r"cannot connect|server disconnected|broken pipe",
    re.IGNORECASE,
)


def http_status(exc: BaseException) -> int | None:
    for attr in ("status", "status_code", "code"):
        value = getattr(exc, attr, None)
        if isinstance(value, int):
            return value
    response = getattr(exc, "response", None)
    if isinstance(response, dict):  # botocore ClientError
        status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        if isinstance(status, int):
            return status
    return None


#: S3 / AWS error codes that mean "try again" (throttling, internal errors, timeouts).
_TRANSIENT_CODES = frozenset(
    {
        "SlowDown",
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottled",
        "RequestThrottledException",
        "TooManyRequestsException",
        "ProvisionedThroughputExceededException",
        "RequestLimitExceeded",
        "RequestTimeout",
        "RequestTimeoutException",
        "InternalError",
        "ServiceUnavailable",
        "503",
        "500",
    }
)


def _error_code_of(exc: BaseException) -> str | None:
    response = getattr(exc, "response", None)
    if isinstance(response, dict):  # botocore ClientError
        code = response.get("Error", {}).get("Code")
        if code is not None:
            return str(code)
    return None


def error_chain(exc: BaseException) -> list[BaseException]:
    chain: list[BaseException] = []
    cur: BaseException | None = exc
    while cur is not None and len(chain) < 6 and cur not in chain:
        chain.append(cur)
        cur = cur.__cause__ or cur.__context__
    return chain


def transient_one(err: BaseException) -> bool | None:
    """``True``/``False`` when this one exception tells; ``None`` when it does not."""
    if isinstance(err, TransientError):
        return True
    status = http_status(err)
    if isinstance(err, FileNotFoundError) or status == 404:
        return False
    if status is not None and (status == 429 or status >= 500):
        return True
    if _error_code_of(err) in _TRANSIENT_CODES:
        return True
    if isinstance(err, (TimeoutError, asyncio.TimeoutError, ConnectionError)):
        return True
    if _is_transient_library_error(err):
        return True
    return None


def _transient_in_chain(exc: BaseException) -> bool | None:
    """The first verdict of :func:`transient_one` along the ``__cause__`` chain."""
    for err in error_chain(exc):
        verdict = transient_one(err)
        if verdict is not None:
            return verdict
    return None


def is_transient(exc: BaseException) -> bool:
    """Whether ``exc`` (or an exception it was raised from) is worth retrying.

    Transient: :class:`~lstcloud.errors.TransientError`, HTTP 429 and 5xx (also as botocore
    ``ClientError`` responses, which s3fs re-raises as ``OSError``), S3 throttling and internal
    error codes (``SlowDown``, ``ServiceUnavailable``, ``InternalError`` ...), timeouts,
    refused / reset connections (aiohttp, botocore, urllib3, requests), and an ``OSError`` whose
    text says so. Not transient: missing objects (404, ``FileNotFoundError``), access denied
    (401, 403, ``PermissionError``) and everything else.
    """
    verdict = _transient_in_chain(exc)
    if verdict is not None:
        return verdict
    if isinstance(exc, PermissionError) or http_status(exc) in (401, 403):
        return False
    return isinstance(exc, OSError) and bool(TRANSIENT_TEXT.search(str(exc)))


def _is_transient_library_error(err: BaseException) -> bool:
    module = type(err).__module__ or ""
    cls = type(err).__name__
    if module.startswith("aiohttp") and (
        "Connect" in cls or "Timeout" in cls or "Disconnected" in cls or "Payload" in cls
    ):
        return True
    if module.startswith(("botocore", "urllib3")) and (
        "Timeout" in cls or "Connect" in cls or "Connection" in cls
    ):
        return True
    return module.startswith("requests") and ("Timeout" in cls or "Connection" in cls)


