"""Keep a model worker's freed tensor memory in the process (glibc ``mallopt``).

A forward pass of the U-Net on a 1408 px window allocates and frees feature maps of tens to
hundreds of MB. glibc serves every block above its mmap threshold with a fresh ``mmap`` and
returns it with ``munmap`` on free, so each model call page-faults its whole working set in again
(measured: ~1.1 million minor faults and more kernel than user CPU time per 1408 px window). Dask's
nanny makes it worse: it sets ``MALLOC_TRIM_THRESHOLD_=65536`` in every worker, which also freezes
the mmap threshold at its 128 KiB default.

:func:`tune_allocator` switches that off for the process it runs in: no mmap for large blocks
(they come from the heap), no trimming of the heap top, and a single arena (so a worker thread's
large blocks land in the main heap instead of failing over to it). Memory is then reused between
model calls: the resident size stays at the peak of one call (flat in the area predicted), and
the kernel time disappears. The model plugin calls it when it loads a model; set
``LSTCLOUD_MALLOC_TUNING=off`` on a worker to keep the allocator's defaults. Outside glibc (musl,
macOS) it does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
from collections.abc import Mapping

__all__ = ["ALLOCATOR_ENV", "MALLOPT_SETTINGS", "tune_allocator"]

#: Worker environment switch: ``off`` (or ``0``, ``false``, ``no``) keeps glibc's defaults.
ALLOCATOR_ENV = "LSTCLOUD_MALLOC_TUNING"

#: glibc ``mallopt`` parameter numbers (``malloc.h``) and the values set.
_M_TRIM_THRESHOLD = -1
_M_MMAP_MAX = -4
_M_ARENA_MAX = -8
MALLOPT_SETTINGS: tuple[tuple[str, int, int], ...] = (
    ("M_MMAP_MAX", _M_MMAP_MAX, 0),  # large blocks from the heap, reused after free
    ("M_TRIM_THRESHOLD", _M_TRIM_THRESHOLD, 2**31 - 1),  # never give the heap top back
    ("M_ARENA_MAX", _M_ARENA_MAX, 1),  # one heap shared by the task and torch threads
)

_DONE: dict[str, bool] = {}


def tune_allocator(*, environ: Mapping[str, str] | None = None) -> dict[str, bool]:
    """Apply :data:`MALLOPT_SETTINGS` to this process (once); returns ``{name: applied}``.

    Empty when switched off by :data:`ALLOCATOR_ENV` or when the C library has no ``mallopt``
    (not glibc). Safe to call repeatedly.
    """
    env = os.environ if environ is None else environ
    if env.get(ALLOCATOR_ENV, "").strip().lower() in ("0", "off", "false", "no"):
        return {}
    if _DONE:
        return dict(_DONE)
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return {}
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    for name, param, value in MALLOPT_SETTINGS:
        _DONE[name] = bool(mallopt(param, value))
    return dict(_DONE)
