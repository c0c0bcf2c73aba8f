"""Numeric precision of the model on a CUDA worker; the CPU always computes in float32.

A worker reads :data:`PRECISION_ENV` when it loads the model (the GPU worker group's manifest
sets it):

``tf32`` (the default)
    float32 tensors, TF32 tensor cores for convolutions and matrix products (Ampere and newer;
    ``torch.set_float32_matmul_precision("high")``). Rounding of about 1e-3 relative per product.
``float32``
    IEEE float32 throughout (TF32 off for cuDNN and matmul): the reference.
``bf16``
    ``torch.autocast`` to bfloat16 around the model, outputs cast back to float32. It is
    accepted only because a test on a CUDA machine holds its outputs (and tf32's) within
    :data:`TOLERANCE_K` of float32 on real scenes (``tests/inference/test_precision.py``);
    that test is skipped where no CUDA device exists.

Every CUDA worker also turns on ``torch.backends.cudnn.benchmark``: the model windows have one
size per run, so the autotuned kernels are reused. On the CPU none of this applies (bfloat16 is
about 100x slower there); an unknown value is a :class:`~lstcloud.errors.ConfigError` anyway.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Mapping
from typing import Any

from lstcloud.errors import ConfigError

__all__ = [
    "DEFAULT_PRECISION",
    "PRECISIONS",
    "PRECISION_ENV",
    "TOLERANCE_K",
    "autocast",
    "check_precision",
    "configure_cuda",
    "worker_precision",
]

#: Environment variable a worker reads: one of :data:`PRECISIONS`.
PRECISION_ENV = "LSTCLOUD_CUDA_PRECISION"
PRECISIONS = ("tf32", "float32", "bf16")
DEFAULT_PRECISION = "tf32"
#: Largest difference (K) from float32 that a reduced precision may make on real scenes.
TOLERANCE_K = 0.05

_cuda_precision = "float32"  # what configure_cuda last set in this process


def check_precision(value: str | None) -> str:
    """Normalise a precision name (``None`` or empty -> :data:`DEFAULT_PRECISION`).

    Raises
    ------
    ConfigError
        For a name not in :data:`PRECISIONS`.
    """
    name = (value or "").strip().lower() or DEFAULT_PRECISION
    if name not in PRECISIONS:
        raise ConfigError(
            f"{PRECISION_ENV} must be one of {', '.join(PRECISIONS)}, got {value!r}"
        )
    return name


def worker_precision(environ: Mapping[str, str] | None = None) -> str:
    """The precision this process's environment asks for (:data:`PRECISION_ENV`)."""
    env = os.environ if environ is None else environ
    return check_precision(env.get(PRECISION_ENV))


def configure_cuda(precision: str) -> str:
    """Set this process's CUDA numerics for ``precision``; returns the normalised name.

    Process-wide, like the ``torch.backends`` flags it sets: call it once per worker, where the
    model is loaded. :func:`autocast` then applies it to each model call.
    """
    import torch

    global _cuda_precision
    name = check_precision(precision)
    torch.backends.cudnn.benchmark = True
    tf32 = name != "float32"
    torch.backends.cudnn.allow_tf32 = tf32  # convolutions
    torch.set_float32_matmul_precision("high" if tf32 else "highest")  # matrix products
    _cuda_precision = name
    return name


def autocast(device: Any) -> contextlib.AbstractContextManager[Any]:
    """The autocast context of a model call on ``device``: bfloat16 on a CUDA worker configured
    for ``bf16``, otherwise nothing (float32)."""
    kind = getattr(device, "type", None) or str(device).split(":", 1)[0]
    if kind == "cuda" and _cuda_precision == "bf16":
        import torch

        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()
