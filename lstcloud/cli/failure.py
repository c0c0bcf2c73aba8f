"""One line for an error the commands did not foresee: the store concerned and the cause.

A dead S3 endpoint reaches the CLI as botocore's ``EndpointConnectionError`` (or worse: the
``ValueError: <Token var=...> was created in a different Context`` that aiobotocore raises while
unwinding it), wrapped in a page of traceback. :func:`explain` walks the exception chain for the
cause a user can act on (connection refused, name not resolved, timeout, access denied, no such
bucket, no credentials, disk full) and names the store of the command it concerns;
:func:`quiet_async_noise` keeps the garbage of interrupted coroutines ("Exception ignored in
<coroutine ...>", asyncio's "Task was destroyed but it is pending!") off standard error, unless
``-vv`` asks for it (``-v`` shows the traceback of the error itself).
"""

from __future__ import annotations

import argparse
import errno
import logging
import re
import sys
from collections.abc import Iterator
from typing import Any

from lstcloud.errors import redact_url

__all__ = ["explain", "quiet_async_noise", "redact_text", "store_arguments"]

log = logging.getLogger("lstcloud.cli")

#: Command-line arguments that hold a store URL, in the order they are named.
STORE_ARGUMENTS = ("url", "product", "cube", "out", "cube_url", "product_url")


_USERINFO = re.compile(r"(\b[a-z][a-z0-9+.-]*://)[^/\s@\"']+@", re.IGNORECASE)


def redact_text(text: str) -> str:
    """``text`` with every URL in it redacted (user-info dropped, signing values masked)."""
    text = _USERINFO.sub(r"\1", text)
    return re.sub(r"\b[a-z][a-z0-9+.-]*://[^\s\"']+", lambda m: redact_url(m.group(0)), text)


def store_arguments(args: argparse.Namespace) -> list[str]:
    """The store URLs the command was given (``--cube``, ``--out``, ``--product``, ``URL``)."""
    found = []
    for name in STORE_ARGUMENTS:
        value = getattr(args, name, None)
        if isinstance(value, str) and value and value not in found:
            found.append(value)
    return found


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    todo = [exc]
    while todo:
        current = todo.pop(0)
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        todo.extend(e for e in (current.__cause__, current.__context__) if e is not None)


def _cause(exc: BaseException) -> tuple[str, str] | None:
    """``(kind, text)`` of a storage / network cause, or ``None``."""
    name = type(exc).__name__
    text = " ".join(str(exc).split())
    if name in ("EndpointConnectionError", "ConnectTimeoutError", "ConnectionClosedError"):
        return "unreachable", text
    if isinstance(exc, ConnectionRefusedError) or name == "ClientConnectorError":
        return "unreachable", f"connection refused ({text})"
    if name in ("NoCredentialsError", "PartialCredentialsError"):
        return "credentials", text
    if name == "ClientError":
        code = getattr(exc, "response", {}).get("Error", {}).get("Code", "")
        return ("denied" if code in ("AccessDenied", "403", "InvalidAccessKeyId",
                                     "SignatureDoesNotMatch") else "s3"), text
    if isinstance(exc, PermissionError):
        return "denied", text
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
        where = f" ({exc.filename})" if exc.filename else ""
        return "full", text + ("" if str(exc.filename or "") in text else where)
    if isinstance(exc, TimeoutError | ConnectionError):
        return "unreachable", text or name
    return None


def _store_of(text: str, stores: list[str]) -> str | None:
    """The store among ``stores`` a cause's text mentions (bucket/prefix of an S3 URL)."""
    for store in stores:
        path = store.split("://", 1)[-1].strip("/")
        if path and path in text:
            return store
    remote = [s for s in stores if "://" in s]
    return remote[0] if len(remote) == 1 else None


def explain(exc: BaseException, args: argparse.Namespace) -> str:
    """One line for ``exc``: the store concerned (when one is) and the cause, no secret.

    Parameters
    ----------
    exc
        The exception the command raised.
    args
        The parsed command line (its store arguments are the candidates to name).
    """
    stores = store_arguments(args)
    causes = [c for c in (_cause(e) for e in _chain(exc)) if c is not None]
    if not causes:
        first = " ".join(str(exc).split()) or type(exc).__name__
        return f"unexpected {type(exc).__name__}: {redact_text(first)} (rerun with -v for details)"
    # the most specific cause: connection errors first, they explain the rest of the chain
    order = ("unreachable", "credentials", "denied", "full", "s3")
    kind, text = min(causes, key=lambda c: order.index(c[0]))
    text = redact_text(text)
    store = _store_of(" ".join(t for _, t in causes), stores)
    if store is None and kind in ("full", "denied"):  # a write failed: the store written
        store = next((getattr(args, n) for n in ("out", "cube") if getattr(args, n, None)), None)
    named = f"the store {redact_url(store)}" if store else (
        "the store" + (f" (one of {', '.join(redact_url(s) for s in stores)})" if stores else "")
    )
    what = {
        "unreachable": f"cannot reach {named}",
        "credentials": f"no credentials to open {named}",
        "denied": f"access to {named} denied",
        "full": f"no space left writing {named}",
        "s3": f"{named} refused the request",
    }[kind]
    return f"{what}: {text}"


def quiet_async_noise(verbose: int) -> None:
    """Keep the noise of abandoned coroutines off standard error unless ``-vv``.

    After a storage error, coroutines that zarr / s3fs had in flight are garbage-collected and
    Python prints "Exception ignored in: <coroutine ...>" with a traceback for each (aiobotocore's
    "<Token ...> was created in a different Context", about 100 lines), and asyncio logs "Task
    was destroyed but it is pending!": nothing the user can act on after the real error, whose
    traceback ``-v`` shows. They go to the debug log instead (``-vv`` shows everything).
    """
    if verbose >= 2:
        return
    logging.getLogger("asyncio").setLevel(logging.CRITICAL)

    def hook(unraisable: Any) -> None:
        log.debug(
            "ignored in %r: %s: %s",
            unraisable.object,
            type(unraisable.exc_value).__name__,
            unraisable.exc_value,
        )

    sys.unraisablehook = hook
