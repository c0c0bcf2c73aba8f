"""Storage errors of the cube, split into transient (retry) and permanent (fail fast).

Object stores fail in two ways that callers must tell apart: a throttled or briefly unavailable
S3 (HTTP 503 ``SlowDown`` / ``ServiceUnavailable``, 500, timeouts, reset connections) succeeds
when tried again, a wrong bucket, a denied access or a malformed request never does.
:func:`cube_io_error` turns the ``OSError`` / ``ValueError`` raised by zarr, fsspec or s3fs into
a :class:`TransientCubeError` (a :class:`~lstcloud.errors.CubeError` *and* a
:class:`~lstcloud.errors.TransientError`, which :class:`lstcloud.core.backoff.RetryPolicy`
retries) or a plain :class:`~lstcloud.errors.CubeError`, with the message naming what was being
done (cube URL, date, tile, variable or record) and the original exception chained as ``__cause__``.
"""

from __future__ import annotations

from lstcloud.core.errors import CubeError, TransientError
from lstcloud.core.redact import redact_text
from lstcloud.core.transient import is_transient

__all__ = ["ProductModelMismatchError", "TransientCubeError", "cube_io_error"]


class TransientCubeError(CubeError, TransientError):
    """A cube read or write failed for a reason worth retrying (S3 5xx, throttling, timeout,
    connection error). Both a :class:`CubeError` and a :class:`TransientError`."""


class ProductModelMismatchError(CubeError):
    """A product was written by another model (other weights, or the same weights with another
    card): it is never mixed into; write a new product."""


def cube_io_error(exc: BaseException, *, what: str) -> CubeError:
    """The :class:`CubeError` to raise (``from exc``) for a storage failure while doing ``what``.

    Parameters
    ----------
    exc
        The exception raised by the store (zarr, fsspec, s3fs, the local file system).
    what
        What was being done, naming the cube URL (redacted) and the date / tile / record.

    Returns
    -------
    CubeError
        A :class:`TransientCubeError` when :func:`lstcloud.core.transient.is_transient` says the
        error is worth retrying, else a plain :class:`CubeError`.
    """
    if isinstance(exc, CubeError):
        return exc
    detail = redact_text(f"{type(exc).__name__}: {exc}")[:300]
    if is_transient(exc):
        return TransientCubeError(f"{what}: transient storage error ({detail})")
    return CubeError(f"{what}: {detail}")
