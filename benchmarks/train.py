"""Training and forward throughput of the SIF-CNN U-Net on this machine, with a GPU estimate.

Prints, measured in one run:

- float32 matrix-multiply GFLOP/s (the machine's practical peak for dense float32 work);
- the network's FLOPs per 250 m pixel (``torch.utils.flop_counter``, forward and training step);
- forward throughput (250 m megapixels/s) and achieved GFLOP/s, network alone and through
  ``CNNModel.predict_tensor`` (bicubic + normalisation + network + NaN mask);
- training throughput (samples/s and 250 m megapixels/s) of the real training step (SIF loss,
  AdamW, the loop's input pipeline) on the development pairs when present, else random data;
- the FLOPs per 250 m pixel and the rate of a shipped model's whole ``predict_tensor`` (every
  ensemble pass) on one production window (``--model``, default ``default``), and the compute
  time of a day of Europe at that rate (the model alone, halo included);
- a paper estimate for one GPU node (assumptions printed).

Usage: ``python benchmarks/train.py [--threads N] [--seconds S] [--batch B] [--patch P]
[--model M] [--window W] [--tuned-malloc] [--compile]``
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch
from torch.utils.flop_counter import FlopCounterMode

from lstcloud.models.cnn import CNNModel
from lstcloud.models.fastnet import InferenceNetwork
from lstcloud.models.losses import PRESETS
from lstcloud.models.network import SIFCNN, NetworkConfig
from lstcloud.models.normalization import Normalization
from lstcloud.models.objective import TrainingObjective


def _timeit(fn: Callable[[], object], *, seconds: float, warmup: int = 2) -> tuple[float, int]:
    for _ in range(warmup):
        fn()
    n, t0 = 0, time.perf_counter()
    while True:
        fn()
        n += 1
        elapsed = time.perf_counter() - t0
        if elapsed >= seconds and n >= 3:
            return elapsed / n, n


def _count_flops(fn: Callable[[], object]) -> int:
    with FlopCounterMode(display=False) as counter:
        fn()
    return counter.get_total_flops()


def matmul_gflops(*, seconds: float, n: int = 1536) -> float:
    a, b = torch.randn(n, n), torch.randn(n, n)
    per, _ = _timeit(lambda: torch.mm(a, b), seconds=seconds)
    return 2 * n**3 / per / 1e9


def _batch(batch: int, patch: int) -> dict[str, torch.Tensor]:
    shared = Path(os.environ.get("LSTCLOUD_SHARED_DATA", "../shared/data")) / "aster_h18v04_dev"
    if shared.is_dir():
        from lstcloud.training.data import DevFolderPairs

        ds = DevFolderPairs(shared, patch_1km=patch, patches_per_epoch=batch, seed=0)
        items = [ds[i] for i in range(batch)]
        print(f"training batch: {batch} real patches from {shared}")
        keys = ("lst_1km", "ndvi_250m")  # not the per-item draw counters
        return {k: torch.stack([it[k] for it in items]) for k in keys}
    print("training batch: random data (development pairs not found)")
    return {
        "lst_1km": 300 + 5 * torch.randn(batch, 1, patch, patch),
        "ndvi_250m": torch.rand(batch, 1, 4 * patch, 4 * patch),
    }


def compiled_forward(net: torch.nn.Module, x: torch.Tensor, *, seconds: float, flops: int,
                     matmul: float, eager_seconds: float) -> None:
    """``torch.compile`` (inductor) of the inference copy, against eager on the same input:
    its warm-up (compilation, paid once per worker process and window shape) and steady rate."""
    compiled = torch.compile(net, dynamic=False)
    with torch.inference_mode():
        t0 = time.perf_counter()
        compiled(x)
        warm = time.perf_counter() - t0
        per, _ = _timeit(lambda: compiled(x), seconds=seconds)
        err = float((compiled(x) - net(x)).abs().max())
    gain = eager_seconds / per
    verdict = (f"break-even after {warm / (eager_seconds - per):.0f} calls" if gain > 1
               else "no gain")
    print(f"forward, inference copy compiled (torch.compile, inductor): warm-up {warm:.1f} s, "
          f"{x.shape[-1] * x.shape[-2] / per / 1e6:6.3f} Mpx/s -> {flops / per / 1e9:6.1f} "
          f"GFLOP/s ({flops / per / 1e9 / matmul:.0%} of matmul); eager / compiled {gain:.2f}, "
          f"{verdict}; max |compiled - eager| {err:.1e} (z units)")


def production_model(name: str, *, window: int | None, seconds: float, matmul: float) -> None:
    """FLOPs and rate of a shipped model's whole ``predict_tensor`` on one production window.

    ``window`` (250 m px) defaults to what every ``lstcloud predict`` task runs: a 300 px chunk
    at 1 km plus the model's context on both sides (:func:`lstcloud.inference.halo.plan_halo`);
    for an ensemble every pass (members x flips) is counted.
    """
    from lstcloud.grid import resolve_region
    from lstcloud.inference.halo import halo_share, plan_halo
    from lstcloud.models import load_model

    model = load_model(name, device="cpu")
    plan = plan_halo(int(model.receptive_field_px))
    chunk = 300  # the input cube's production chunking, 1 km px
    side = chunk + 2 * plan.context_1km if window is None else window // 4
    gen = torch.Generator().manual_seed(0)
    lst = 300 + 5 * torch.randn(1, 1, side, side, generator=gen)
    ndvi = torch.rand(1, 1, 4 * side, 4 * side, generator=gen)
    with torch.inference_mode():
        flops = _count_flops(lambda: model.predict_tensor(lst, ndvi))
        per, n = _timeit(lambda: model.predict_tensor(lst, ndvi), seconds=seconds, warmup=1)
    px = (4 * side) ** 2
    rate = flops / per / 1e9
    print(f"model {name!r}, predict_tensor on a {4 * side} px window (every pass): "
          f"{flops / px:,.0f} FLOP per 250 m px, {px / per / 1e6:6.3f} Mpx/s -> "
          f"{rate:6.1f} GFLOP/s ({rate / matmul:.0%} of matmul), {per:.2f} s per window "
          f"over {n}")
    europe = len(resolve_region("europe")) * 4800 * 4800
    share = halo_share(((chunk,) * 4, (chunk,) * 4), plan)
    print(f"  one day of Europe with {name!r} at this rate (the model alone, halo share "
          f"{share:.1%} included, no I/O): {europe / (1 - share) / (px / per) / 60:.1f} min "
          f"of compute")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--seconds", type=float, default=3.0, help="time per measurement")
    parser.add_argument("--batch", type=int, default=8, help="training batch")
    parser.add_argument("--patch", type=int, default=32, help="training patch, 1 km px")
    parser.add_argument("--tile", type=int, default=512, help="forward tile, 250 m px")
    parser.add_argument("--model", default="default", help="shipped model timed on a window")
    parser.add_argument("--window", type=int, default=None,
                        help="its window, 250 m px (default: a 300 px chunk + the model's halo)")
    parser.add_argument("--compile", action="store_true",
                        help="also time torch.compile of the inference copy (warm-up included)")
    parser.add_argument("--tuned-malloc", action="store_true",
                        help="run with lstcloud's worker allocator settings (WORKER_MALLOC_ENV), "
                             "as inference workers do (re-executes this script)")
    args = parser.parse_args()
    from lstcloud.allocator import WORKER_MALLOC_ENV, malloc_tuned

    if args.tuned_malloc and not malloc_tuned():
        # glibc reads these once, at process start
        os.execve(sys.executable, [sys.executable, *sys.argv], {**os.environ, **WORKER_MALLOC_ENV})
    torch.set_num_threads(args.threads)
    print(f"malloc: {'lstcloud worker settings' if malloc_tuned() else 'glibc defaults'}")
    print(f"torch {torch.__version__}, {args.threads} thread(s), os.cpu_count()={os.cpu_count()}")

    mm = matmul_gflops(seconds=args.seconds)
    print(f"float32 matmul (1536^3): {mm:8.1f} GFLOP/s")

    norm = Normalization(lst_mean=305.0, lst_std=5.0, ndvi_mean=0.5, ndvi_std=0.2)
    net = SIFCNN(NetworkConfig(residual=True)).eval().to(memory_format=torch.channels_last)
    tile = args.tile
    x = torch.randn(1, 2, tile, tile).contiguous(memory_format=torch.channels_last)
    fwd_flops = _count_flops(lambda: net(x))
    per_px = fwd_flops / tile**2
    print(f"network FLOPs per 250 m pixel: forward {per_px:,.0f}")

    with torch.inference_mode():
        per, _ = _timeit(lambda: net(x), seconds=args.seconds)
    mpx = tile**2 / per / 1e6
    print(f"forward, network only ({tile}x{tile}, channels_last, float32): {mpx:6.3f} Mpx/s "
          f"-> {fwd_flops / per / 1e9:6.1f} GFLOP/s ({fwd_flops / per / 1e9 / mm:.0%} of matmul)")

    fast = InferenceNetwork(net)  # what CNNModel.predict_tensor runs: BatchNorm folded
    xf = x.contiguous()
    with torch.inference_mode():
        per_f, _ = _timeit(lambda: fast(xf), seconds=args.seconds)
    print(f"forward, inference copy (BatchNorm folded, channels_last): "
          f"{tile**2 / per_f / 1e6:6.3f} Mpx/s -> {fwd_flops / per_f / 1e9:6.1f} GFLOP/s "
          f"({fwd_flops / per_f / 1e9 / mm:.0%} of matmul)")
    if args.compile:
        compiled_forward(fast, xf, seconds=args.seconds, flops=fwd_flops, matmul=mm,
                         eager_seconds=per_f)

    model = CNNModel(SIFCNN(NetworkConfig(residual=True)), norm, name="bench",
                     receptive_field_px=88, device="cpu")
    lst = 300 + 5 * torch.randn(1, 1, tile // 4, tile // 4)
    ndvi = torch.rand(1, 1, tile, tile)
    per_m, _ = _timeit(lambda: model.predict_tensor(lst, ndvi), seconds=args.seconds)
    mpx_m = tile**2 / per_m / 1e6
    print(f"forward, CNNModel.predict_tensor (contiguous, with bicubic + NaN handling): "
          f"{mpx_m:6.3f} Mpx/s")

    production_model(args.model, window=args.window, seconds=args.seconds, matmul=mm)

    # the real training step of the loop
    batch = _batch(args.batch, args.patch)
    tnet = SIFCNN(NetworkConfig(residual=True)).train().to(memory_format=torch.channels_last)
    objective = TrainingObjective("sif", PRESETS["sif-cnn-sr1"], norm, channels_last=True)
    opt = torch.optim.AdamW(tnet.parameters(), lr=1e-3)

    def step() -> None:
        opt.zero_grad(set_to_none=True)
        loss, _ = objective(tnet, batch)
        loss.backward()
        opt.step()

    step_flops = _count_flops(step)
    per_s, n_s = _timeit(step, seconds=args.seconds)
    px = args.batch * (4 * args.patch) ** 2
    print(f"training step (batch {args.batch} x {4 * args.patch}^2 at 250 m, SIF-SR1 loss, "
          f"AdamW): {per_s:.3f} s/step over {n_s} steps")
    print(f"  {args.batch / per_s:7.2f} samples/s, {px / per_s / 1e6:6.3f} Mpx/s at 250 m, "
          f"{step_flops / per_s / 1e9:6.1f} GFLOP/s ({step_flops / px:,.0f} FLOP/px per step)")

    # paper estimate for one GPU node
    from lstcloud.grid import resolve_region

    gpus = 8
    n_tiles = len(resolve_region("europe"))
    europe_mpx = n_tiles * 4800 * 4800 / 1e6
    print("\nGPU node estimate (paper, not measured): 8 x A100-40GB, bf16 autocast, "
          "channels_last, data loading keeps up,")
    print("  DDP all-reduce of the 1.1 MB of gradients negligible. Achieved per GPU: "
          "10 TFLOP/s (pessimistic: 16-128-channel 3x3 convs are memory-bound) to 40 TFLOP/s")
    print("  (optimistic: 13 % of the 312 TFLOP/s bf16 tensor-core peak).")
    for label, tflops in (("pessimistic", 10.0), ("optimistic", 40.0)):
        fwd = tflops * 1e12 / per_px / 1e6
        trn = tflops * 1e12 / (step_flops / args.batch)
        print(f"  {label:11s}: forward {fwd:,.0f} Mpx/s per GPU ({gpus * fwd:,.0f} per node, "
              f"{fwd / mpx:,.0f}x this CPU run); training {trn:,.0f} samples/s per GPU "
              f"({gpus * trn:,.0f} per node); one day of Europe ({n_tiles} tiles, "
              f"{europe_mpx:,.0f} Mpx at 250 m): {europe_mpx / (gpus * fwd):.1f} s of network "
              f"time per node")
    print(f"  this CPU run: one day of Europe = {europe_mpx / mpx / 60:.1f} min of network time")

if __name__ == "__main__":
    main()
