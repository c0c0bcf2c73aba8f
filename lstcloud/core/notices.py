"""The one place where lstcloud turns warnings into its own messages: one plain line each, once
per run.

Python prints a warning as ``path:line: Category: message`` followed by the source line, once per
code location: a card warning raised in the main process and in every Dask worker came out three
times, a zarr warning about lstcloud's own record folders on every ingest. :func:`install` (the
CLI calls it first) makes every warning of the run go through :func:`show`:

- lstcloud's own warnings (:class:`~lstcloud.core.errors.LstcloudWarning` and its subclasses:
  ``ModelCardWarning``, ``CollectionMismatchWarning``, the catalogue's ``EmptySearchWarning`` ...)
  print as ``lstcloud: warning: <plain sentence>``, each text once per run, and are never turned
  into errors by ``-W error::UserWarning`` (they are lstcloud's report, not a defect);
- the library warnings listed in :data:`SILENCED` say nothing a user can act on (zarr listing
  lstcloud's own ``_lstcloud/`` records) and are dropped;
- any other library warning prints as one line naming its category and package, once.

Retries are reported by :class:`lstcloud.core.backoff.RetryPolicy` (at INFO where the final
error says what happened, e.g. the catalogue's "answered HTTP 500 (server error) 5 times").

Worker processes say nothing of what the main process already said: a model is loaded (and its
card checked) in the main process before any worker loads it, and the workers load it under
:func:`hushed`.
"""

from __future__ import annotations

import contextlib
import re
import sys
import warnings
from collections.abc import Callable, Iterator
from typing import Any, TextIO

from lstcloud.core.errors import LstcloudWarning

__all__ = ["SILENCED", "hushed", "install", "plain", "said", "show"]

#: Library warnings about lstcloud's own bookkeeping, dropped (message regexes).
SILENCED: tuple[str, ...] = (
    # zarr lists a cube's members and finds the JSON records of _lstcloud/ (status, days, writer)
    r"Object at \S+ is not recognized as a component of a Zarr hierarchy",
    r"Consolidated metadata is currently not part",
)

_RF = re.compile(
    r"^(?P<source>.+?): the card claims a receptive field of \[(?P<claims>[^\]]*)\] px, less "
    r"than the (?P<net>\d+) px \(\+(?P<post>\d+) px post-processing\) measured for its "
    r"architecture: using the measured field$",
    re.DOTALL,
)


def _receptive_field(match: re.Match[str]) -> str:
    claims = [int(c) for c in re.findall(r"\d+", match["claims"])]
    measured = int(match["net"]) + int(match["post"])
    claimed = f"{max(claims)} px" if claims else "no receptive field"
    return (
        f"the card of model {match['source']} claims {claimed} of receptive field, but "
        f"{measured} px were measured; lstcloud uses {measured} px."
    )


#: Messages said in lstcloud's own words: (pattern, rewrite).
_REWRITES: tuple[tuple[re.Pattern[str], Callable[[re.Match[str]], str]], ...] = (
    (_RF, _receptive_field),
)

_said: set[str] = set()


def plain(message: str) -> str:
    """``message`` in lstcloud's words, on one line."""
    text = " ".join(str(message).split())
    for pattern, rewrite in _REWRITES:
        match = pattern.match(text)
        if match:
            return rewrite(match)
    return text


def said() -> frozenset[str]:
    """The warning lines said so far in this process (for tests)."""
    return frozenset(_said)


def show(
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    file: TextIO | None = None,
    line: str | None = None,
) -> None:
    """``warnings.showwarning`` of lstcloud: one plain line, each text once per run."""
    if issubclass(category, LstcloudWarning):
        text = f"lstcloud: warning: {plain(str(message))}"
    else:
        package = _module_of(filename).split(".")[0]
        text = f"lstcloud: warning from {package} ({category.__name__}): {plain(str(message))}"
    if text in _said:
        return
    _said.add(text)
    stream = file if file is not None else sys.stderr
    with contextlib.suppress(OSError, ValueError):  # a closed stream at shutdown
        print(text, file=stream)


def _module_of(filename: str) -> str:
    """The dotted module a ``site-packages`` file belongs to (best effort)."""
    path = filename.replace("\\", "/")
    for marker in ("/site-packages/", "/dist-packages/", "/lib/python3"):
        if marker in path:
            tail = path.split(marker, 1)[1]
            if marker == "/lib/python3":
                tail = tail.split("/", 1)[-1]
            return tail.removesuffix(".py").replace("/", ".").removesuffix(".__init__")
    return path.rsplit("/", 1)[-1].removesuffix(".py")


def install() -> None:
    """Route every warning of this process through :func:`show` (the CLI's first step)."""
    warnings.showwarning = show
    for message in SILENCED:
        warnings.filterwarnings("ignore", message=message)
    # lstcloud's own warnings are its report: shown (once, by show), never raised as errors
    warnings.filterwarnings("always", category=LstcloudWarning)


@contextlib.contextmanager
def hushed() -> Iterator[list[Any]]:
    """Record the warnings of the block instead of showing them (a worker loading a model the
    main process has already loaded and warned about)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield caught
