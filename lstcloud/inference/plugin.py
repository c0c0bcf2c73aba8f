"""Hold one super-resolution model per worker process, outside the task graph.

The model is loaded once per Dask worker by :class:`ModelPlugin` (a
``distributed.WorkerPlugin`` registered with ``client.register_plugin``) and kept in a
process-wide registry; the mapped inference function looks it up by key with
:func:`get_model`. The graph therefore only carries the key (a short string), never weights.

Without a distributed client (threaded or synchronous scheduler) the same registry is filled
in the calling process with :func:`install_model`.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from typing import TYPE_CHECKING, Any

from distributed import WorkerPlugin

from lstcloud.errors import LstcloudError

if TYPE_CHECKING:  # pragma: no cover
    from distributed import Worker

__all__ = [
    "ModelPlugin",
    "default_device",
    "get_model",
    "install_model",
    "load_model_for",
    "model_key",
]

log = logging.getLogger(__name__)

_MODELS: dict[str, Any] = {}
_LOCK = threading.Lock()


def default_device() -> str:
    """``"cuda"`` when a CUDA device is visible, otherwise ``"cpu"``."""
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def model_key(model: Any, device: str, *, fingerprint: str | None = None) -> str:
    """A short key naming ``model`` on ``device`` (used as plugin and registry name).

    Parameters
    ----------
    model
        A model name / folder (``str``) or a loaded SuperResolver (identified by its class,
        its card's ``name`` and ``sha256`` of the weights, else by the object itself).
    device
        ``"cpu"`` or ``"cuda"``.
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
    digest = hashlib.sha256(f"{ident}|{fingerprint}|{device}".encode()).hexdigest()[:16]
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


def install_model(key: str, model: Any) -> None:
    """Put an already loaded model into this process's registry under ``key``."""
    with _LOCK:
        _MODELS[key] = model


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
        raise LstcloudError(
            f"model {key!r} is not loaded in this worker process: register "
            "lstcloud.inference.plugin.ModelPlugin on the client first"
        ) from None


class ModelPlugin(WorkerPlugin):
    """Load a super-resolution model once in every worker process.

    Parameters
    ----------
    model
        A model name or folder for :func:`lstcloud.load_model` (loaded on the worker), or a
        loaded SuperResolver (pickled once into the plugin, still never into the graph).
    device
        Torch device for the model, ``"cpu"`` or ``"cuda"``.
    threads
        Torch intra-op threads per worker; ``None`` uses the worker's thread count.
    fingerprint
        Content identity of the model (weights' sha256), part of the key.
    """

    def __init__(
        self,
        model: Any,
        *,
        device: str = "cpu",
        threads: int | None = None,
        fingerprint: str | None = None,
    ) -> None:
        self.model = model
        self.device = device
        self.threads = threads
        self.key = model_key(model, device, fingerprint=fingerprint)
        self.name = self.key

    def setup(self, worker: Worker) -> None:
        """Load the model into the worker process registry (called once per worker)."""
        import torch

        if self.device == "cpu":
            threads = self.threads or max(1, int(getattr(worker.state, "nthreads", 1) or 1))
            torch.set_num_threads(threads)
        install_model(self.key, load_model_for(self.model, self.device))
        log.info("worker %s loaded model %s on %s", worker.address, self.key, self.device)

    def teardown(self, worker: Worker) -> None:
        """Drop the model from the registry."""
        with _LOCK:
            _MODELS.pop(self.key, None)
