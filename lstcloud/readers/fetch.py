"""Fetch granule files through fsspec (local paths, ``file://``, ``s3://``, ``https://``).

pyhdf needs a real file path, so remote HDF4 granules are copied to a temporary file first
(:func:`local_copy`); COGs are read into memory (:func:`read_bytes`). Every failure becomes an
:mod:`lstcloud.errors` exception naming the (redacted) href, classified so that callers can retry
the transient ones:

- :class:`~lstcloud.errors.TransientError`: timeouts, refused/reset connections, HTTP 429/5xx,
  S3 throttling and internal errors;
- :class:`~lstcloud.errors.MissingAssetError`: the object does not exist (404, ``NoSuchKey``);
- :class:`~lstcloud.errors.GranuleReadError`: everything else (403, malformed URL ...).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from lstcloud.errors import (
    GranuleReadError,
    LstcloudError,
    MissingAssetError,
    TransientError,
    redact_url,
)
from lstcloud.storage import filesystem, protocol_of, strip_protocol

__all__ = [
    "classify_error",
    "ensure_local_file",
    "is_local",
    "is_transient",
    "local_copy",
    "local_path",
    "read_bytes",
    "redact_text",
]

_TRANSIENT_TEXT = re.compile(
    r"\b(429|500|502|503|504)\b|timed? ?out|timeout|throttl|slow ?down|temporar|"
    r"internal ?error|service unavailable|connection (reset|refused|aborted)|"
    r"cannot connect|server disconnected|broken pipe",
    re.IGNORECASE,
)


def is_local(href: str | os.PathLike[str]) -> bool:
    """Whether ``href`` is a local path or ``file://`` URL."""
    return protocol_of(str(href)) in ("file", "local")


def local_path(href: str | os.PathLike[str]) -> Path:
    """The local :class:`~pathlib.Path` of a local href (plain path or ``file://``)."""
    return Path(strip_protocol(str(href))) if "://" in str(href) else Path(href)


_URL_IN_TEXT = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s'\"<>]+")


def redact_text(text: str) -> str:
    """``text`` with every URL in it passed through :func:`~lstcloud.errors.redact_url`."""
    return _URL_IN_TEXT.sub(lambda m: redact_url(m.group(0)), text)


def _status_of(exc: BaseException) -> int | None:
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


def _chain(exc: BaseException) -> list[BaseException]:
    chain: list[BaseException] = []
    cur: BaseException | None = exc
    while cur is not None and len(chain) < 6 and cur not in chain:
        chain.append(cur)
        cur = cur.__cause__ or cur.__context__
    return chain


def _transient_one(err: BaseException) -> bool | None:
    """``True``/``False`` when this one exception tells; ``None`` when it does not."""
    if isinstance(err, TransientError):
        return True
    status = _status_of(err)
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
    """The first verdict of :func:`_transient_one` along the ``__cause__`` chain."""
    for err in _chain(exc):
        verdict = _transient_one(err)
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
    if isinstance(exc, PermissionError) or _status_of(exc) in (401, 403):
        return False
    return isinstance(exc, OSError) and bool(_TRANSIENT_TEXT.search(str(exc)))


def classify_error(exc: BaseException, href: str, *, what: str = "granule") -> LstcloudError:
    """Map an I/O exception raised while fetching ``href`` to an lstcloud error.

    Parameters
    ----------
    exc
        The exception raised by fsspec / s3fs / aiohttp / rasterio.
    href
        The href being read (redacted in the message).
    what
        Word naming the object in the message (``"granule"``, ``"asset"``).
    """
    if isinstance(exc, LstcloudError):
        return exc
    name = redact_url(str(href))
    detail = redact_text(f"{type(exc).__name__}: {exc}")[:300]
    for err in _chain(exc):
        status = _status_of(err)
        if isinstance(err, FileNotFoundError) or status == 404:
            return MissingAssetError(f"{what} not found: {name} ({detail})")
        if status is not None and (status == 429 or status >= 500):
            return TransientError(f"transient error (HTTP {status}) reading {what} {name}")
        if _transient_one(err):
            return TransientError(f"transient error reading {what} {name}: {detail}")
    if isinstance(exc, PermissionError) or _status_of(exc) in (401, 403):
        return GranuleReadError(f"access denied to {what} {name} ({detail})")
    if isinstance(exc, OSError) and _TRANSIENT_TEXT.search(str(exc)):
        return TransientError(f"transient error reading {what} {name}: {detail}")
    return GranuleReadError(f"cannot read {what} {name}: {detail}")


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


def ensure_local_file(path: Path, href: str) -> None:
    """Raise :class:`MissingAssetError` / :class:`GranuleReadError` unless ``path`` is a file."""
    if not path.exists():
        raise MissingAssetError(f"granule not found: {redact_url(str(href))}")
    if not path.is_file():
        raise GranuleReadError(f"not a file: {redact_url(str(href))}")


@contextlib.contextmanager
def local_copy(
    href: str | os.PathLike[str],
    *,
    storage_options: dict[str, Any] | None = None,
    suffix: str = ".hdf",
) -> Iterator[Path]:
    """Yield a local path holding the file at ``href``.

    Local files are yielded as they are; remote ones are downloaded to a temporary file that
    is removed when the context exits.

    Raises
    ------
    TransientError, MissingAssetError, GranuleReadError
        As classified by :func:`classify_error`.
    """
    href = str(href)
    if is_local(href):
        path = local_path(href)
        ensure_local_file(path, href)
        yield path
        return
    fd, tmp = tempfile.mkstemp(prefix="lstcloud-", suffix=suffix)
    os.close(fd)
    try:
        try:
            fs = filesystem(href, storage_options)
            fs.get_file(href, tmp)
        except Exception as exc:
            raise classify_error(exc, href) from exc
        if os.path.getsize(tmp) == 0:
            raise GranuleReadError(f"empty file: {redact_url(href)}")
        yield Path(tmp)
    finally:
        with contextlib.suppress(OSError):
            os.unlink(tmp)


def read_bytes(
    href: str | os.PathLike[str], *, storage_options: dict[str, Any] | None = None
) -> bytes:
    """Return the bytes of the file at ``href`` (any fsspec URL or local path).

    Raises
    ------
    TransientError, MissingAssetError, GranuleReadError
        As classified by :func:`classify_error`.
    """
    href = str(href)
    try:
        if is_local(href):
            path = local_path(href)
            ensure_local_file(path, href)
            return path.read_bytes()
        fs = filesystem(href, storage_options)
        return fs.cat_file(href)
    except LstcloudError:
        raise
    except Exception as exc:
        raise classify_error(exc, href, what="asset") from exc
