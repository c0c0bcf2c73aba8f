"""Hold one super-resolution model per worker process, outside the task graph.

The model is loaded once per Dask worker by :class:`ModelPlugin` (a
``distributed.WorkerPlugin`` registered with ``client.register_plugin``) and kept in a
process-wide registry; the mapped inference function looks it up by key with
:func:`get_model`. The graph therefore only carries the key (a short string), never weights.

The torch device is chosen **on each worker**, in :meth:`ModelPlugin.setup`
(:func:`resolve_device`): the client (e.g. a CronJob pod without a GPU) never decides for the
workers. The key names the model only, not the device, so CPU and GPU workers of one cluster
serve the same tasks.

Without a distributed client (threaded or synchronous scheduler) the same registry is filled
in the calling process with :func:`install_model`.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from distributed import WorkerPlugin

from lstcloud.core.notices import hushed
from lstcloud.errors import ConfigError, LstcloudError

if TYPE_CHECKING:  # pragma: no cover
    from distributed import Worker

__all__ = [
    "DEVICES",
    "DEVICE_ENV",
    "THREADS_ENV",
    "ModelPlugin",
    "default_device",
    "get_model",
    "install_model",
    "load_model_for",
    "model_key",
    "model_status",
    "resolve_device",
    "torch_threads",
]

log = logging.getLogger(__name__)

#: Accepted device requests: ``auto`` picks CUDA when the worker sees a GPU, else the CPU.
DEVICES = ("auto", "cpu", "cuda")
#: Worker-level device setting (e.g. ``cuda`` on the GPU worker group); used when the job
#: asks for ``auto``.
DEVICE_ENV = "LSTCLOUD_DEVICE"
#: Worker-level torch intra-op thread count (overrides the computed default).
THREADS_ENV = "LSTCLOUD_TORCH_THREADS"
#: The value Dask's nanny puts into every worker's ``OMP_NUM_THREADS``
#: (``distributed.nanny.pre-spawn-environ``): not a choice made by the operator.
_NANNY_OMP_DEFAULT = "1"

_MODELS: dict[str, Any] = {}
_STATUS: dict[str, dict[str, Any]] = {}
_LOADS: dict[str, int] = {}
_LOCK = threading.Lock()


def default_device() -> str:
    """``"cuda"`` when a CUDA device is visible in this process, otherwise ``"cpu"``."""
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def check_device(device: str | None) -> str:
    """Normalise a device request (``None`` -> ``"auto"``); ``ConfigError`` if unknown."""
    value = "auto" if device is None else str(device).strip().lower()
    if value not in DEVICES:
        raise ConfigError(f"device must be one of {', '.join(DEVICES)}, got {device!r}")
    return value


def resolve_device(
    requested: str | None,
    *,
    environ: Mapping[str, str] | None = None,
    cuda_available: bool | None = None,
    where: str = "this process",
) -> str:
    """The torch device a worker uses for a request, decided where the model runs.

    ``cpu`` / ``cuda`` asked explicitly (``--device``, the job's ``device``) are honoured;
    ``auto`` (or ``None``) takes the worker's :data:`DEVICE_ENV` when set, else CUDA when
    ``torch.cuda.is_available()``, else the CPU.

    Raises
    ------
    LstcloudError
        When the result is ``cuda`` and no CUDA device is visible here.
    ConfigError
        For an unknown request or :data:`DEVICE_ENV` value.
    """
    env = os.environ if environ is None else environ
    asked = check_device(requested)
    source = "the job's device setting"
    device = asked
    if asked == "auto":
        override = env.get(DEVICE_ENV, "").strip().lower()
        if override and override != "auto":
            if override not in ("cpu", "cuda"):
                raise ConfigError(
                    f"{where}: {DEVICE_ENV}={env.get(DEVICE_ENV)!r} is not one of cpu, cuda, auto"
                )
            device, source = override, f"{DEVICE_ENV}={override}"
    if device in ("auto", "cuda"):
        if cuda_available is None:
            import torch

            cuda_available = bool(torch.cuda.is_available())
        if device == "auto":
            return "cuda" if cuda_available else "cpu"
        if not cuda_available:
            import torch

            build = torch.version.cuda or "none (CPU-only build)"
            raise LstcloudError(
                f"{where}: device 'cuda' requested by {source} but no CUDA device is usable here "
                f"(torch {torch.__version__}, CUDA build {build}, torch.cuda.is_available() is "
                "False); use device 'auto' or 'cpu', or run on the GPU worker group"
            )
    return device


def torch_threads(
    *,
    nthreads: int,
    explicit: int | None = None,
    host_nthreads: int | None = None,
    environ: Mapping[str, str] | None = None,
    cores: int | None = None,
) -> int | None:
    """Torch intra-op threads for one worker process, or ``None`` to leave torch's setting.

    ``nthreads`` tasks of a worker run at once, each calling torch: by default every call gets
    ``max(1, cores // nthreads)`` threads (``host_nthreads``, the threads of every worker on the
    same host, replaces ``nthreads`` when larger: local clusters share the cores). An explicit
    choice wins: ``explicit`` (the plugin's ``threads``), then :data:`THREADS_ENV`, then an
    ``OMP_NUM_THREADS`` other than the ``1`` Dask's nanny sets in every worker (left to torch,
    which read it at import).
    """
    env = os.environ if environ is None else environ
    if explicit:
        return max(1, int(explicit))
    raw = env.get(THREADS_ENV, "").strip()
    if raw:
        try:
            return max(1, int(raw))
        except ValueError:
            raise ConfigError(f"{THREADS_ENV}={raw!r} is not an integer") from None
    omp = env.get("OMP_NUM_THREADS", "").strip()
    if omp and omp != _NANNY_OMP_DEFAULT:
        return None
    if cores is None:
        from dask.system import CPU_COUNT  # affinity and cgroup quota aware

        cores = CPU_COUNT
    share = max(1, int(nthreads or 1), int(host_nthreads or 0))
    return max(1, int(cores) // share)


def model_key(model: Any, *, fingerprint: str | None = None) -> str:
    """A short key naming ``model`` (used as plugin and registry name).

    The device is not part of it: each worker picks its own (:func:`resolve_device`) and
    serves the same tasks.

    Parameters
    ----------
    model
        A model name / folder (``str``) or a loaded SuperResolver (identified by its class,
        its card's ``name`` and ``sha256`` of the weights, else by the object itself).
    fingerprint
        Content identity (the weights' sha256) added to the key, so that a folder retrained
        in place is never served by a model loaded earlier.
    """
    if isinstance(model, str):
        ident = model
    else:
        card = getattr(model, "card", {}) or {}
        kind = f"{type(model).__module__}.{type(model).__qualname__}"
        ident = f"{kind}:{card.get('name')}:{card.get('sha256') or id(model)}"
    digest = hashlib.sha256(f"{ident}|{fingerprint}".encode()).hexdigest()[:16]
    return f"lstcloud-model-{digest}"


def load_model_for(model: Any, device: str) -> Any:
    """Return a ready SuperResolver on ``device``: load ``model`` by name/folder if a string."""
    if isinstance(model, str):
        from lstcloud.models import load_model

        try:
            loaded = load_model(model, device=device)
        except TypeError:  # a loader without the device keyword
            loaded = load_model(model)
    else:
        loaded = model
    to = getattr(loaded, "to", None)
    if callable(to):
        moved = to(device)
        loaded = moved if moved is not None else loaded
    return loaded


def install_model(key: str, model: Any, *, status: dict[str, Any] | None = None) -> None:
    """Put an already loaded model into this process's registry under ``key``."""
    with _LOCK:
        _MODELS[key] = model
        _STATUS[key] = dict(status or {"device": str(getattr(model, "device", "cpu"))})


def get_model(key: str) -> Any:
    """Return the model registered under ``key`` in this process.

    Raises
    ------
    LstcloudError
        When no :class:`ModelPlugin` (or :func:`install_model`) provided it here.
    """
    try:
        return _MODELS[key]
    except KeyError:
        why = (_STATUS.get(key) or {}).get("skipped")
        raise LstcloudError(
            f"model {key!r} is not loaded in this worker process"
            + (f" ({why})" if why else "")
            + ": register lstcloud.inference.plugin.ModelPlugin on the client first"
        ) from None


def model_status(key: str | None = None) -> dict[str, Any]:
    """What this process's registry holds: ``{key: {device, requested, threads, loads, ...}}``.

    With ``key``, only that entry (``{}`` when absent). Run it on the workers with
    ``client.run(model_status, key)`` to see which device each chose.
    """
    with _LOCK:
        table = {k: {**v, "loads": _LOADS.get(k, 0)} for k, v in _STATUS.items()}
    if key is not None:
        return table.get(key, {})
    return table


def _host_of(address: str) -> str:
    rest = address.split("://", 1)[-1]
    return rest.rsplit(":", 1)[0] if ":" in rest else rest


class ModelPlugin(WorkerPlugin):
    """Load a super-resolution model once in every worker process.

    Parameters
    ----------
    model
        A model name or folder for :func:`lstcloud.load_model` (loaded on the worker), or a
        loaded SuperResolver (pickled once into the plugin, still never into the graph).
    device
        ``"auto"`` (default: each worker picks CUDA when it sees one, or its
        :data:`DEVICE_ENV`), ``"cpu"`` or ``"cuda"``; resolved on the worker in :meth:`setup`.
    threads
        Torch intra-op threads per worker; ``None``: see :func:`torch_threads`.
    fingerprint
        Content identity of the model (weights' sha256), part of the key.
    gpu_only
        Load the model only on workers advertising the Dask resource ``GPU`` (the tasks are
        then pinned to them with ``resources={"GPU": 1}``); other workers skip it.
    host_nthreads
        Worker threads per host at registration (``{host: threads}``), so that worker
        processes sharing a machine share its cores.
    """

    def __init__(
        self,
        model: Any,
        *,
        device: str | None = "auto",
        threads: int | None = None,
        fingerprint: str | None = None,
        gpu_only: bool = False,
        host_nthreads: Mapping[str, int] | None = None,
    ) -> None:
        self.model = model
        self.device = check_device(device)
        self.threads = threads
        self.gpu_only = bool(gpu_only)
        self.host_nthreads = dict(host_nthreads or {})
        self.key = model_key(model, fingerprint=fingerprint)
        self.name = self.key

    @property
    def settings(self) -> dict[str, Any]:
        """What a loaded copy must match to be reused (see ``predict_cube``)."""
        return {"requested": self.device, "gpu_only": self.gpu_only}

    def setup(self, worker: Worker) -> None:
        """Choose the device here and load the model into this worker's registry (once)."""
        address = str(getattr(worker, "address", "worker"))
        where = f"worker {address}"
        if self.gpu_only and float(worker.state.total_resources.get("GPU", 0)) < 1:
            with _LOCK:
                _STATUS[self.key] = {
                    **self.settings,
                    "device": None,
                    "threads": None,
                    "skipped": "not a GPU worker: the model tasks are pinned to GPU workers",
                }
            log.info("%s: no GPU resource, model %s not loaded", where, self.key)
            return
        device = resolve_device(self.device, where=where)
        import torch

        from lstcloud.allocator import malloc_tuned

        nthreads = int(getattr(worker.state, "nthreads", 1) or 1)
        threads = torch_threads(
            nthreads=nthreads,
            explicit=self.threads,
            host_nthreads=self.host_nthreads.get(_host_of(address)),
        )
        if threads is not None:
            torch.set_num_threads(threads)
        precision = "float32"
        if device == "cuda":
            from lstcloud.inference.precision import configure_cuda, worker_precision

            precision = configure_cuda(worker_precision())
        with hushed() as heard:  # the main process loaded it first and said its warnings
            loaded = load_model_for(self.model, device)
        for warning in heard:
            log.debug("%s: while loading the model: %s", where, warning.message)
        with _LOCK:
            _MODELS[self.key] = loaded
            _LOADS[self.key] = _LOADS.get(self.key, 0) + 1
            _STATUS[self.key] = {
                **self.settings,
                "device": device,
                "threads": torch.get_num_threads(),
                "nthreads": nthreads,
                "malloc_tuned": malloc_tuned(),
                "precision": precision,
            }
        log.info(
            "%s loaded model %s on %s (%d torch threads, %s)",
            where,
            self.key,
            device,
            torch.get_num_threads(),
            precision,
        )

    def teardown(self, worker: Worker) -> None:
        """Drop the model from the registry."""
        with _LOCK:
            _MODELS.pop(self.key, None)
            _STATUS.pop(self.key, None)
