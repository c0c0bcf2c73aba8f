"""Fetch granule files through fsspec (local paths, ``file://``, ``s3://``, ``https://``).

pyhdf needs a real file path, so remote HDF4 granules are copied to a temporary file first
(:func:`local_copy`); COGs are read into memory (:func:`read_bytes`). Every failure becomes an
:mod:`lstcloud.core.errors` exception naming the (redacted) href, classified so that callers can
retry the transient ones:

- :class:`~lstcloud.errors.TransientError`: timeouts, refused/reset connections, HTTP 429/5xx,
  S3 throttling and internal errors;
- :class:`~lstcloud.errors.MissingAssetError`: the object does not exist (404, ``NoSuchKey``);
- :class:`~lstcloud.errors.GranuleReadError`: everything else (403, malformed URL ...).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from lstcloud.core.errors import (
    GranuleReadError,
    LstcloudError,
    MissingAssetError,
    TransientError,
)
from lstcloud.core.redact import redact_text, redact_url
from lstcloud.core.storage import filesystem, protocol_of, strip_protocol
from lstcloud.core.transient import (
    TRANSIENT_TEXT,
    error_chain,
    http_status,
    is_transient,
    transient_one,
)

__all__ = [
    "classify_error",
    "ensure_local_file",
    "is_local",
    "is_transient",
    "local_copy",
    "local_path",
    "read_bytes",
]


def is_local(href: str | os.PathLike[str]) -> bool:
    """Whether ``href`` is a local path or ``file://`` URL."""
    return protocol_of(str(href)) in ("file", "local")


def local_path(href: str | os.PathLike[str]) -> Path:
    """The local :class:`~pathlib.Path` of a local href (plain path or ``file://``)."""
    return Path(strip_protocol(str(href))) if "://" in str(href) else Path(href)


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
    for err in error_chain(exc):
        status = http_status(err)
        if isinstance(err, FileNotFoundError) or status == 404:
            return MissingAssetError(f"{what} not found: {name} ({detail})")
        if status is not None and (status == 429 or status >= 500):
            return TransientError(f"transient error (HTTP {status}) reading {what} {name}")
        if transient_one(err):
            return TransientError(f"transient error reading {what} {name}: {detail}")
    if isinstance(exc, PermissionError) or http_status(exc) in (401, 403):
        return GranuleReadError(f"access denied to {what} {name} ({detail})")
    if isinstance(exc, OSError) and TRANSIENT_TEXT.search(str(exc)):
        return TransientError(f"transient error reading {what} {name}: {detail}")
    return GranuleReadError(f"cannot read {what} {name}: {detail}")


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
