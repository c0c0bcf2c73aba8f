"""What a model's prediction costs per pixel: measured on this CPU, counted in FLOPs, projected
on paper for one GPU. Used by ``benchmarks/model_cost.py`` and written into model cards
(``card["cost"]``) by ``training/build_distilled.py``."""

from __future__ import annotations

import statistics
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = [
    "GPU_SUSTAINED_TFLOPS", "CostFigures", "flops_per_px", "measure_costs",
    "measure_uncertainty_cost", "sample_block",
]

#: Assumed sustained TF32/AMP convolution rate of one A100-class GPU (a paper figure).
GPU_SUSTAINED_TFLOPS = 20.0


def sample_block(size: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A synthetic ``size x size`` px block at 1 km (LST ~ 295 K with 1 km texture) and its
    NDVI at 250 m (0.05-0.9): the cost does not depend on the values, only on the shape."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size] / size
    lst = 295 + 6 * np.sin(6 * yy) * np.cos(4 * xx) + rng.normal(0, 0.8, (size, size))
    ndvi = np.clip(np.kron(0.45 + 0.2 * np.sin(9 * xx), np.ones((4, 4)))
                   + rng.normal(0, 0.08, (4 * size, 4 * size)), 0.05, 0.9)
    return lst.astype(np.float32), ndvi.astype(np.float32)


def flops_per_px(model: Any, *, size: int = 64) -> float:
    """Forward FLOPs per 250 m output pixel of ``model.predict_tensor`` (torch's counter;
    convolutions and matrix products, the bulk of the cost)."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    lst, ndvi = sample_block(size)
    counter = FlopCounterMode(display=False)
    with counter:
        model.predict_tensor(torch.from_numpy(lst)[None, None],
                             torch.from_numpy(ndvi)[None, None])
    return counter.get_total_flops() / (16 * size * size)


@dataclass(frozen=True)
class CostFigures:
    """One model's figures from :func:`measure_costs` (times are medians, seconds)."""

    name: str
    passes: int
    seconds: float
    mpx_per_s: float
    mpx_per_s_per_core: float
    ratio: float
    gflop_per_mpx: float | None = None
    gpu_mpx_per_s_paper: float | None = None

    def to_card(self, *, size: int, threads: int, reference: str) -> dict[str, Any]:
        """The card's ``cost`` section."""
        return {
            "passes": self.passes,
            "network_passes_per_prediction": self.passes,
            "cpu_mpx_per_s_per_core": round(self.mpx_per_s_per_core, 3),
            "cpu_measured_with": f"{threads} torch threads, {size} x {size} px (1 km) block, "
                                 "median of interleaved runs (benchmarks/model_cost.py)",
            f"time_x_{reference}": round(self.ratio, 3),
            "gflop_per_mpx": None if self.gflop_per_mpx is None else round(self.gflop_per_mpx, 1),
            "gpu_mpx_per_s_paper": None if self.gpu_mpx_per_s_paper is None
            else round(self.gpu_mpx_per_s_paper),
            "gpu_note": f"on paper: the FLOPs counted by torch at an assumed sustained "
                        f"{GPU_SUSTAINED_TFLOPS:g} TFLOP/s of one A100-class GPU",
        }


def measure_costs(
    models: Mapping[str, Any],
    *,
    reference: str,
    size: int = 600,
    threads: int = 2,
    repeats: int = 3,
    flops: bool = False,
) -> dict[str, CostFigures]:
    """Time ``predict`` of every model on the same block, interleaved, in this process.

    Parameters
    ----------
    models
        Name -> model (``reference`` among them).
    reference
        The model the ratios are taken against (e.g. ``sif-cnn-sr1``).
    size
        Block side in 1 km pixels (``16 * size**2`` pixels out).
    threads
        ``torch.set_num_threads`` for the measurement (restored afterwards).
    repeats
        Rounds; every model runs once per round, the median is kept.
    flops
        Also count FLOPs per pixel and project one GPU on paper.
    """
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        lst, ndvi = sample_block(size)
        for model in models.values():  # warm-up (oneDNN primitives, folded copies)
            model.predict(lst[:64, :64], ndvi[:256, :256])
        times: dict[str, list[float]] = {n: [] for n in models}
        for _ in range(repeats):
            for name, model in models.items():
                t0 = time.perf_counter()
                model.predict(lst, ndvi)
                times[name].append(time.perf_counter() - t0)
    finally:
        torch.set_num_threads(previous)
    mpx = 16 * size * size / 1e6
    base = statistics.median(times[reference])
    out = {}
    for name, model in models.items():
        t = statistics.median(times[name])
        fpp = flops_per_px(model) if flops else None
        out[name] = CostFigures(
            name, int(model.card.get("passes") or 1), t, mpx / t, mpx / t / threads, t / base,
            None if fpp is None else fpp * 1e6 / 1e9,
            None if not fpp else GPU_SUSTAINED_TFLOPS * 1e12 / fpp / 1e6,  # (0: no FLOPs counted)
        )
    return out


def measure_uncertainty_cost(
    model: Any, *, size: int = 600, threads: int = 2, repeats: int = 3,
) -> tuple[float, float]:
    """Median seconds of ``model.predict`` and of its calibrated sigma on that prediction
    (``model.sigma_of``: the features and the variance model, no network pass), interleaved on
    the same :func:`sample_block` in this process."""
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        lst, ndvi = sample_block(size)
        model.sigma_of(lst[:64, :64], ndvi[:256, :256],
                       np.asarray(model.predict(lst[:64, :64], ndvi[:256, :256]), np.float32))
        predict, sigma = [], []
        for _ in range(repeats):
            t0 = time.perf_counter()
            pred = np.asarray(model.predict(lst, ndvi), np.float32)
            t1 = time.perf_counter()
            model.sigma_of(lst, ndvi, pred)
            t2 = time.perf_counter()
            predict.append(t1 - t0)
            sigma.append(t2 - t1)
    finally:
        torch.set_num_threads(previous)
    return statistics.median(predict), statistics.median(sigma)
