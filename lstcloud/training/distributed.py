"""DistributedDataParallel helpers: one process per device under ``torchrun``.

``torchrun`` sets ``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR`` and ``MASTER_PORT``;
:func:`init_distributed` reads them, picks the backend (``nccl`` on CUDA, ``gloo`` on CPU) and
the device of this rank. Without those variables (or with ``WORLD_SIZE=1``) it returns a
single-process context and nothing is initialised.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist

from lstcloud.errors import ConfigError

__all__ = [
    "DistContext",
    "all_reduce_mean",
    "broadcast_object",
    "cleanup_distributed",
    "init_distributed",
    "resolve_device",
    "sync_buffers",
]


@dataclass(frozen=True)
class DistContext:
    """Where this process stands in a (possibly single-process) run.

    Attributes
    ----------
    rank, world_size, local_rank
        Global rank, number of processes, rank on this node.
    device
        The device this rank computes on.
    backend
        ``nccl``, ``gloo`` or ``None`` when not distributed.
    """

    rank: int
    world_size: int
    local_rank: int
    device: torch.device
    backend: str | None

    @property
    def distributed(self) -> bool:
        """True when a process group is in use."""
        return self.backend is not None

    @property
    def is_main(self) -> bool:
        """True on rank 0 (the process that logs and writes files)."""
        return self.rank == 0


def resolve_device(device: str | None) -> torch.device:
    """``auto``/``None`` -> CUDA when available else CPU; ``cuda`` without a GPU is an error."""
    if device in (None, "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if str(device).startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(f"device {device!r} requested but CUDA is not available")
    return torch.device(device)


def init_distributed(device: str | None = "auto") -> DistContext:
    """Initialise the process group from the ``torchrun`` environment, if any.

    Parameters
    ----------
    device
        ``auto``, ``cpu`` or ``cuda``. Under DDP on CUDA each rank uses ``cuda:LOCAL_RANK``.

    Returns
    -------
    DistContext
    """
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    base = resolve_device(device)
    if world_size <= 1:
        return DistContext(0, 1, 0, base, None)
    if base.type == "cuda":
        torch.cuda.set_device(local_rank)
        dev, backend = torch.device("cuda", local_rank), "nccl"
    else:
        dev, backend = torch.device("cpu"), "gloo"
    if not dist.is_initialized():
        dist.init_process_group(backend=backend, rank=rank, world_size=world_size)
    return DistContext(rank, world_size, local_rank, dev, backend)


def cleanup_distributed(ctx: DistContext) -> None:
    """Destroy the process group this context initialised."""
    if ctx.distributed and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()


def all_reduce_mean(value: float, ctx: DistContext) -> float:
    """Mean of a scalar over all ranks (the value itself when not distributed)."""
    if not ctx.distributed:
        return float(value)
    t = torch.tensor([float(value)], dtype=torch.float64, device=ctx.device)
    dist.all_reduce(t, op=dist.ReduceOp.SUM)
    return float(t.item()) / ctx.world_size


def sync_buffers(module: torch.nn.Module, ctx: DistContext, *, src: int = 0) -> None:
    """Copy rank ``src``'s buffers (BatchNorm running statistics) to every rank.

    DDP broadcasts buffers at the start of each forward, so after the last step each replica
    holds the statistics of its own last batch; call this before validating, checkpointing or
    saving so that every replica is the same model.
    """
    if not ctx.distributed:
        return
    for buffer in module.buffers():
        dist.broadcast(buffer.data, src=src)


def broadcast_object(obj: Any, ctx: DistContext, *, src: int = 0) -> Any:
    """Send a picklable object from rank ``src`` to every rank (identity when not distributed)."""
    if not ctx.distributed:
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=src, device=ctx.device if ctx.backend == "nccl" else None)
    return box[0]
