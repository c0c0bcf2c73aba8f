"""One way to get a Dask client: a local cluster, an existing scheduler, or Kubernetes.

``scheduler`` may be:

- ``None`` or ``"local"``: a :class:`distributed.LocalCluster` on this machine, worker *processes*
  by default (the GIL-bound HDF4 decoding and the Zarr writes scale with processes). ``None``
  first looks at the ``LSTCLOUD_SCHEDULER`` environment variable.
- an address, ``"tcp://10.0.0.5:8786"`` or ``"10.0.0.5:8786"``: connect to that scheduler;
- ``"kubernetes"``: a dask-kubernetes operator ``KubeCluster`` (the operator must run in the
  cluster; options in ``kubernetes``; the image defaults to ``LSTCLOUD_DASK_IMAGE``);
- a :class:`distributed.Client`: used as it is.

:func:`client_context` closes what it started; a client from :func:`get_client` is closed, with
any cluster it started, by :func:`close_client`.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
import weakref
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from lstcloud.core.errors import ConfigError, LstcloudError
from lstcloud.core.redact import redact_url

if TYPE_CHECKING:
    import distributed

__all__ = [
    "DEFAULT_WORKER_TIMEOUT",
    "WORKER_CLOSE_TIMEOUT",
    "NoWorkersError",
    "as_completed_with_workers",
    "client_context",
    "close_client",
    "get_client",
    "resolve_worker_timeout",
]

log = logging.getLogger(__name__)

#: Seconds a run waits with no Dask worker connected before giving up (see
#: :func:`as_completed_with_workers`); ``LSTCLOUD_WORKER_TIMEOUT`` overrides it.
DEFAULT_WORKER_TIMEOUT = 120.0

#: Seconds each worker process of a local cluster gets to exit at close. Dask's nanny gives 4 s
#: and raises ``TimeoutError`` from the cluster's close when a worker holding a large heap
#: (a model's working set, kept by :mod:`lstcloud.allocator`) exits more slowly on a loaded
#: machine, after the work and its records are already written.
WORKER_CLOSE_TIMEOUT = 60.0


class NoWorkersError(LstcloudError):
    """No Dask worker was connected to the scheduler for the whole worker timeout."""

#: Clusters started by get_client, closed with their client by close_client.
_OWNED: weakref.WeakKeyDictionary[Any, Any] = weakref.WeakKeyDictionary()


def _local_client(
    *,
    n_workers: int | None,
    threads_per_worker: int,
    processes: bool,
    memory_limit: str | float | None,
    dashboard_address: str | None,
) -> distributed.Client:
    from distributed import Client, LocalCluster

    if n_workers is None:
        n_workers = max(1, (os.cpu_count() or 1) // max(1, threads_per_worker))
    kwargs: dict[str, Any] = {
        "n_workers": n_workers,
        "threads_per_worker": threads_per_worker,
        "processes": processes,
        "dashboard_address": dashboard_address,
        # the workers' own lines (INFO, and "Compute Failed" tracebacks that lstcloud reports
        # itself per day / tile) only when this process logs INFO (lstcloud -v)
        "silence_logs": (
            logging.CRITICAL if logging.getLogger().getEffectiveLevel() > logging.INFO else False
        ),
    }
    if memory_limit is not None:
        kwargs["memory_limit"] = memory_limit
    import dask

    from lstcloud.allocator import worker_environ

    # glibc reads its malloc settings at process start (LSTCLOUD_MALLOC_TUNING=0 turns it off)
    with dask.config.set({"distributed.nanny.pre-spawn-environ": worker_environ()}):
        cluster = LocalCluster(**kwargs)
    try:
        client = Client(cluster)
    except BaseException:
        cluster.close()
        raise
    _OWNED[client] = cluster
    return client


def _kubernetes_client(
    *, n_workers: int | None, options: Mapping[str, Any] | None
) -> distributed.Client:
    try:
        from dask_kubernetes.operator import KubeCluster
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise ConfigError(
            "scheduler='kubernetes' needs dask-kubernetes (pip install dask-kubernetes)"
        ) from exc
    from distributed import Client

    opts = dict(options or {})
    opts.setdefault("name", "lstcloud")
    image = opts.pop("image", None) or os.environ.get("LSTCLOUD_DASK_IMAGE")
    if image:
        opts["image"] = image
    opts.setdefault("n_workers", 2 if n_workers is None else n_workers)
    cluster = KubeCluster(**opts)  # pragma: no cover - needs a Kubernetes cluster
    client = Client(cluster)  # pragma: no cover
    _OWNED[client] = cluster  # pragma: no cover
    return client  # pragma: no cover


def get_client(
    scheduler: str | distributed.Client | None = None,
    *,
    n_workers: int | None = None,
    threads_per_worker: int = 1,
    processes: bool = True,
    memory_limit: str | float | None = None,
    dashboard_address: str | None = ":0",
    kubernetes: Mapping[str, Any] | None = None,
    timeout: float = 30.0,
) -> distributed.Client:
    """A :class:`distributed.Client` for ``scheduler``.

    Parameters
    ----------
    scheduler
        ``None``/``"local"``, a scheduler address, ``"kubernetes"`` or a Client (see the module).
    n_workers
        Workers of a local (default: one per core / ``threads_per_worker``) or Kubernetes cluster.
    threads_per_worker
        Threads per local worker (default 1).
    processes
        Local workers as processes (default) or threads of this process.
    memory_limit
        Per-worker memory limit of a local cluster (Dask's default when ``None``).
    dashboard_address
        Dashboard / HTTP address of a local cluster; default ``":0"``, a free port
        (``client.dashboard_link``); ``None`` turns the dashboard off (the scheduler's HTTP
        endpoints then use port 8787).
    kubernetes
        Keyword arguments of ``dask_kubernetes.operator.KubeCluster``.
    timeout
        Seconds to wait for a remote scheduler.

    Returns
    -------
    distributed.Client
        Close it with :func:`close_client` (or use :func:`client_context`).

    Raises
    ------
    ConfigError
        For a malformed option.
    LstcloudError
        When the scheduler cannot be reached (the message names the address).
    """
    from distributed import Client

    if isinstance(scheduler, Client):
        return scheduler
    if threads_per_worker < 1 or (n_workers is not None and n_workers < 1):
        raise ConfigError(
            f"n_workers and threads_per_worker must be >= 1, got {n_workers}, {threads_per_worker}"
        )
    if scheduler is None:
        scheduler = os.environ.get("LSTCLOUD_SCHEDULER") or None
    if scheduler is None or str(scheduler).strip().lower() == "local":
        return _local_client(
            n_workers=n_workers,
            threads_per_worker=threads_per_worker,
            processes=processes,
            memory_limit=memory_limit,
            dashboard_address=dashboard_address,
        )
    if not isinstance(scheduler, str) or not scheduler.strip():
        raise ConfigError(
            f"scheduler must be None, 'local', 'kubernetes' or an address: {scheduler!r}"
        )
    name = scheduler.strip()
    if name.lower() == "kubernetes":
        return _kubernetes_client(n_workers=n_workers, options=kubernetes)
    address = name if "://" in name else f"tcp://{name}"
    try:
        return Client(address, timeout=timeout)
    except (OSError, TimeoutError) as exc:
        raise LstcloudError(
            f"cannot reach the Dask scheduler at {redact_url(address)}: {exc}"
        ) from exc


def _close_local_workers(cluster: Any, timeout: float) -> None:
    """Close the worker processes of a local cluster, each with ``timeout`` seconds to exit.

    Nanny-managed workers only (``processes=True``); the cluster's own close then finds them
    closed. A worker still alive after 80 % of ``timeout`` is killed by its nanny.
    """
    import asyncio

    from distributed import Nanny

    nannies = [w for w in getattr(cluster, "workers", {}).values() if isinstance(w, Nanny)]
    if not nannies:
        return

    async def close_all() -> None:
        results = await asyncio.gather(
            *(n.close(timeout=timeout, reason="lstcloud-close") for n in nannies),
            return_exceptions=True,
        )
        for nanny, result in zip(nannies, results, strict=True):
            if isinstance(result, BaseException):
                log.warning("worker of %s did not close cleanly: %r", nanny.address_safe, result)

    cluster.sync(close_all)


def close_client(client: distributed.Client, *, worker_timeout: float | None = None) -> None:
    """Close ``client`` and the cluster :func:`get_client` started for it, if any.

    The workers of a local cluster get ``worker_timeout`` seconds each to exit (default
    :data:`WORKER_CLOSE_TIMEOUT`) before their nanny kills them.
    """
    cluster = _OWNED.pop(client, None)
    try:
        client.close()
    finally:
        if cluster is not None:
            try:
                _close_local_workers(
                    cluster, WORKER_CLOSE_TIMEOUT if worker_timeout is None else worker_timeout
                )
            finally:
                cluster.close()


@contextlib.contextmanager
def client_context(
    scheduler: str | distributed.Client | None = None, **kwargs: Any
) -> Iterator[distributed.Client]:
    """Context manager around :func:`get_client`: closes the client and the cluster it started.

    A Client passed in as ``scheduler`` is left open (it belongs to the caller).
    """
    from distributed import Client

    if isinstance(scheduler, Client):
        yield scheduler
        return
    client = get_client(scheduler, **kwargs)
    try:
        yield client
    finally:
        close_client(client)


def resolve_worker_timeout(value: float | None = None) -> float:
    """The worker timeout: ``value``, else ``LSTCLOUD_WORKER_TIMEOUT``, else the default.

    Raises
    ------
    ConfigError
        For a value that is not a positive number of seconds.
    """
    raw: Any = value if value is not None else os.environ.get("LSTCLOUD_WORKER_TIMEOUT")
    if raw is None or raw == "":
        return DEFAULT_WORKER_TIMEOUT
    try:
        seconds = float(raw)
    except (TypeError, ValueError):
        raise ConfigError(f"worker timeout: {raw!r} is not a number of seconds") from None
    if not seconds > 0:
        raise ConfigError(f"worker timeout must be > 0 seconds, got {raw!r}")
    return seconds


def _n_workers(client: distributed.Client) -> int | None:
    try:
        return len(client.nthreads())
    except Exception as exc:  # the scheduler itself unreachable: not this watcher's call
        log.debug("could not count the workers: %s", exc)
        return None


def as_completed_with_workers(
    client: distributed.Client,
    futures: list[Any],
    *,
    timeout: float | None = None,
    what: str = "tasks",
    poll: float = 1.0,
) -> Iterator[Any]:
    """Yield ``futures`` as they finish, giving up when no worker is left to run them.

    Dask waits without end for a worker when every worker is gone (killed, evicted, its node
    lost); a batch job then hangs silently. Here, while futures are pending and the scheduler
    has no worker, a warning says the run is waiting for workers (again every 30 s); after
    ``timeout`` seconds without any worker the pending futures are cancelled and
    :class:`NoWorkersError` is raised (a nonzero exit: the Kubernetes Job retries).

    Parameters
    ----------
    client
        The client the futures belong to.
    futures
        The futures to wait for.
    timeout
        Seconds without any worker before giving up (:func:`resolve_worker_timeout`).
    what
        What the futures compute, for the messages (``"ingest tasks"``).
    poll
        Seconds between checks.
    """
    from distributed import wait

    limit = resolve_worker_timeout(timeout)
    pending = set(futures)
    alone_since: float | None = None
    told = 0.0
    address = redact_url(str(getattr(client.scheduler, "address", "") or "the scheduler"))
    while pending:
        try:
            done = wait(list(pending), timeout=poll, return_when="FIRST_COMPLETED").done
        except TimeoutError:
            done = set()
        for future in done:
            pending.discard(future)
            yield future
        if done and alone_since is not None:  # a worker came back and already finished work
            log.warning("%d Dask worker(s) back at %s: %s resume", _n_workers(client), address,
                        what)
            alone_since = None
        if not pending or done:
            continue
        workers = _n_workers(client)
        now = time.monotonic()
        if workers != 0:
            if alone_since is not None:
                log.warning("%d Dask worker(s) back at %s: %s resume", workers, address, what)
            alone_since = None
            continue
        if alone_since is None:
            alone_since = told = now
            log.warning(
                "waiting for Dask workers: none is connected to %s (%d %s pending); "
                "giving up after %.0f s without any",
                address, len(pending), what, limit,
            )
        elif now - told >= 30.0:
            told = now
            log.warning(
                "still waiting for Dask workers at %s (%.0f s of %.0f s)",
                address, now - alone_since, limit,
            )
        if now - alone_since >= limit:
            client.cancel(list(pending))
            raise NoWorkersError(
                f"no Dask worker available: none was connected to the scheduler {address} "
                f"for {limit:.0f} s, so {len(pending)} {what} could not run; giving up "
                "(set the worker timeout with --worker-timeout or LSTCLOUD_WORKER_TIMEOUT)"
            )
