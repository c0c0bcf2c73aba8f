"""Worker-process allocator settings: keep freed tensor memory in the process (glibc malloc).

A forward pass of the U-Net on a 1408 px window allocates and frees feature maps of tens to
hundreds of MB. glibc serves every block above its mmap threshold with a fresh ``mmap`` and
unmaps it on free, so each model call page-faults its whole working set in again; Dask's nanny
makes it worse by setting ``MALLOC_TRIM_THRESHOLD_=65536`` in every worker, which also freezes
the mmap threshold at 128 KiB and makes the task thread's arena hand memory back at once. Measured
on this project's inference (2 worker processes, 600 x 600 px at 1 km): ~1.5 million minor page
faults and about as much kernel as user CPU time per worker; with :data:`WORKER_MALLOC_ENV`,
a fifth of the faults, a fifth of the kernel time, and 3x the throughput.

:data:`WORKER_MALLOC_ENV` (one arena, no mmap for large blocks, no trimming) must be in a
process's environment when it starts: glibc reads it once. :func:`worker_environ` gives the
``distributed.nanny.pre-spawn-environ`` mapping the local cluster of :mod:`lstcloud.cluster`
starts its workers with. It is ON by default; ``LSTCLOUD_MALLOC_TUNING=0``
(:data:`TUNING_ENV`) turns it off. A variable already set in the environment wins (Dask's rule
for these settings). The resident memory of a worker then stays at the peak of one task: flat in
the area predicted. Kubernetes worker pods set the same variables in their manifests.

A worker holding its peak heap exits more slowly than Dask's nanny allows at close on a loaded
machine (4 s); :func:`lstcloud.cluster.close_client` gives each worker longer, so a finished run
is not turned into a failure at shutdown.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

__all__ = ["TUNING_ENV", "WORKER_MALLOC_ENV", "malloc_tuned", "worker_environ"]

#: glibc tunables for worker processes, as environment variables.
WORKER_MALLOC_ENV: dict[str, str] = {
    "MALLOC_ARENA_MAX": "1",  # every thread in the main heap: large blocks reused across tasks
    "MALLOC_MMAP_MAX_": "0",  # no mmap per large block: no page faults per model call
    "MALLOC_TRIM_THRESHOLD_": str(2**31 - 1),  # never hand the heap top back to the kernel
}


#: Switch, in the environment of the process starting a local cluster: ``0`` turns it off.
TUNING_ENV = "LSTCLOUD_MALLOC_TUNING"


def worker_environ(
    base: Mapping[str, object] | None = None, *, environ: Mapping[str, str] | None = None
) -> dict[str, object]:
    """``base`` (Dask's ``distributed.nanny.pre-spawn-environ``), with :data:`WORKER_MALLOC_ENV`
    on top unless :data:`TUNING_ENV` says ``0`` / ``off`` / ``false`` / ``no``."""
    if base is None:
        import dask

        base = dask.config.get("distributed.nanny.pre-spawn-environ", default={}) or {}
    env = os.environ if environ is None else environ
    if env.get(TUNING_ENV, "").strip().lower() in ("0", "off", "false", "no"):
        return dict(base)
    return {**dict(base), **WORKER_MALLOC_ENV}


def malloc_tuned(environ: Mapping[str, str] | None = None) -> bool:
    """Whether this process started with :data:`WORKER_MALLOC_ENV`."""
    env = os.environ if environ is None else environ
    return all(env.get(k) == v for k, v in WORKER_MALLOC_ENV.items())
