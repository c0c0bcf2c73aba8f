"""The one retry policy of lstcloud: exponential backoff on transient errors, with its counts.

Every retried operation (a granule read, a cube write, a status record, a STAC request) goes
through :class:`RetryPolicy`. :meth:`RetryPolicy.run` returns an :class:`Attempts` holding the
value or the final error *and* how many attempts it took and which errors were retried, so the
callers report those counts (ingest outcomes and status records) without out-parameters.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from lstcloud.core.errors import LstcloudError, TransientError
from lstcloud.core.redact import redact_text
from lstcloud.core.transient import is_transient

__all__ = ["Attempts", "RetryPolicy", "RetryTally", "default_retryable"]

T = TypeVar("T")


def default_retryable(exc: BaseException) -> bool:
    """Whether ``exc`` is worth another try.

    Retried: :class:`~lstcloud.core.errors.TransientError` (the readers' and the cube's
    transient errors), ``TimeoutError``, ``ConnectionError`` and any other exception that
    :func:`~lstcloud.core.transient.is_transient` deems transient (HTTP 5xx, throttling,
    botocore connection errors ...). Everything else (corrupt granules, missing objects, denied
    access, a wrong cube, other lstcloud errors) is not.
    """
    if isinstance(exc, TransientError):
        return True
    if isinstance(exc, LstcloudError):  # classified as permanent (GranuleReadError ...)
        return False
    if isinstance(exc, (TimeoutError, ConnectionError)):
        return True
    return is_transient(exc)


@dataclass(frozen=True)
class Attempts(Generic[T]):
    """What :meth:`RetryPolicy.run` did: the value (or the final error) and its counts.

    Attributes
    ----------
    value
        What the function returned (``None`` when it failed).
    error
        The last exception when every attempt failed or the error was permanent.
    attempts
        Calls made (1 when the first one succeeded).
    retried
        One ``"<what>: attempt k: <error>"`` line per retried error (redacted).
    """

    value: T | None = None
    error: BaseException | None = None
    attempts: int = 1
    retried: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        """True when the function returned."""
        return self.error is None

    def unwrap(self) -> T:
        """The value; raises the final error when there is none."""
        if self.error is not None:
            raise self.error
        return self.value  # type: ignore[return-value]


@dataclass
class RetryTally:
    """Counts of several retried operations of one job (e.g. one ingest task): the most
    attempts any of them took and every retried error, in order."""

    attempts: int = 1
    retried: list[str] = field(default_factory=list)

    def add(self, result: Attempts[T]) -> Attempts[T]:
        """Count ``result`` in; returns it for chaining."""
        self.attempts = max(self.attempts, result.attempts)
        self.retried.extend(result.retried)
        return result


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff: ``attempts`` tries, ``base * 2**k`` s apart (at most ``cap``).

    Parameters
    ----------
    attempts
        Calls at most (1 = no retry).
    base
        First delay in seconds; doubles with each retry.
    cap
        Longest delay in seconds.
    jitter
        Relative random spread of each delay (``0.1``: +-10 %).
    retryable
        Which errors are retried; default :func:`default_retryable`.
    logger
        Name of the logger that reports each retry (the caller's module, say).
    level
        Logging level of those reports (``logging.INFO`` where the final outcome is reported
        anyway, so the default output says it once).
    """

    attempts: int = 4
    base: float = 0.5
    cap: float = 8.0
    jitter: float = 0.0
    retryable: Callable[[BaseException], bool] = default_retryable
    logger: str = __name__
    level: int = logging.WARNING

    def delay(self, retry: int) -> float:
        """Seconds to wait before retry number ``retry`` (0-based)."""
        delay = min(self.cap, self.base * 2**retry)
        if self.jitter:
            delay *= 1.0 + random.uniform(-self.jitter, self.jitter)
        return max(0.0, delay)

    def run(self, fn: Callable[[], T], *, what: str) -> Attempts[T]:
        """Call ``fn``, retrying the errors :attr:`retryable` accepts; never raises.

        Returns
        -------
        Attempts
            The value or the final error, the number of calls and the retried errors.
        """
        retried: list[str] = []
        for attempt in range(1, self.attempts + 1):
            try:
                return Attempts(value=fn(), attempts=attempt, retried=tuple(retried))
            except Exception as exc:
                if not self.retryable(exc) or attempt == self.attempts:
                    return Attempts(error=exc, attempts=attempt, retried=tuple(retried))
                delay = self.delay(attempt - 1)
                text = redact_text(f"{type(exc).__name__}: {exc}")
                logging.getLogger(self.logger).log(
                    self.level,
                    "%s: transient error (%s), retry %d/%d in %.2f s",
                    what,
                    redact_text(str(exc), limit=300),
                    attempt,
                    self.attempts - 1,
                    delay,
                )
                retried.append(f"{what}: attempt {attempt}: {text}")
                time.sleep(delay)
        raise AssertionError("unreachable")  # pragma: no cover - the loop always returns

    def call(self, fn: Callable[[], T], *, what: str, tally: RetryTally | None = None) -> T:
        """:meth:`run`, then the value or the final error raised; counted into ``tally``."""
        result = self.run(fn, what=what)
        if tally is not None:
            tally.add(result)
        return result.unwrap()
