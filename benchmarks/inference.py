"""Inference benchmark: bare model vs the full Dask pipeline, halo cost, memory, projections.

Measured in one run, on this machine:

- bare model throughput: ``model.predict`` on in-memory numpy arrays (250 m Mpx/s, torch using
  every core of the process);
- full pipeline throughput on the same pixels: Zarr read -> ``map_overlap`` with halo -> model
  (WorkerPlugin) -> Zarr region writes, on the production local cluster (worker processes,
  tuned allocator: `lstcloud.cluster`); the ratio;
- the halo's share of the pixels run through the model;
- the peak resident memory per worker for regions of 1x, 4x and 16x the area (fresh cluster each,
  fixed chunking), absolute and above the worker's baseline (its RSS once the model is loaded,
  before the run): it must stay flat;
- projections for one day of Europe at 250 m on this machine and on one GPU node (the GPU figure
  is on paper: FLOPs per pixel counted by torch, an assumed sustained GPU rate, the measured
  pipeline efficiency).

Run: ``.venv/bin/python benchmarks/inference.py [--model default] [--base 300] [--chunk 300]``
"""

from __future__ import annotations

import argparse
import datetime as dt
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

DAY = dt.date(2021, 7, 15)
GPU_SUSTAINED_TFLOPS = 20.0  # assumed sustained AMP convolution rate of one A100-class GPU
STORAGE_MB_S = 500.0  # assumed object-storage throughput of one node (read + write)


def _model(name: str | None) -> Any:
    """The shipped model when present, else the SIF-CNN architecture with untrained weights
    (same cost per pixel: throughput does not depend on the weights)."""
    import lstcloud

    if name:
        try:
            return lstcloud.load_model(name, device="cpu")
        except Exception as exc:
            print(f"# {name} not available ({exc.__class__.__name__}); using an untrained SIFCNN")
    import torch

    from lstcloud.models.cnn import CNNModel
    from lstcloud.models.network import SIFCNN
    from lstcloud.models.normalization import Normalization

    torch.manual_seed(0)
    norm = Normalization(lst_mean=295.0, lst_std=10.0, ndvi_mean=0.4, ndvi_std=0.2)
    return CNNModel(SIFCNN(), norm, name="sif-cnn-untrained", device="cpu")


def _inputs(n_1km: int) -> tuple[np.ndarray, np.ndarray]:
    """Realistic inputs: a crop of the synthetic MODIS landscape of tile h18v04."""
    from lstcloud.samples.landscape import make_landscape

    land = make_landscape("h18v04", DAY, seed=1, cloud_fraction=0.15)
    y0, x0 = 1200 - n_1km, 1200 - n_1km  # inland (south-east of the tile): land, some cloud
    lst = np.asarray(land.lst_day_1km[y0 : y0 + n_1km, x0 : x0 + n_1km], dtype=np.float32)
    ndvi = np.asarray(
        land.ndvi_250m[4 * y0 : 4 * (y0 + n_1km), 4 * x0 : 4 * (x0 + n_1km)], dtype=np.float32
    )
    return lst, ndvi


def _write_cube(path: Path, lst: np.ndarray, ndvi: np.ndarray, chunk_1km: int) -> str:
    import xarray as xr

    from lstcloud.grid import SINUSOIDAL_WKT

    ny, nx = lst.shape
    r1 = 926.625433055833
    ds = xr.Dataset(
        {
            "lst_day": (("time", "y_1km", "x_1km"), lst[None]),
            "ndvi": (("time", "y_250m", "x_250m"), ndvi[None]),
            "spatial_ref": ((), np.int32(0), {"crs_wkt": SINUSOIDAL_WKT}),
        },
        coords={
            "time": [np.datetime64(DAY, "ns")],
            "y_1km": 5559752.6 - (np.arange(ny) + 0.5) * r1,
            "x_1km": (np.arange(nx) + 0.5) * r1,
            "y_250m": 5559752.6 - (np.arange(4 * ny) + 0.5) * r1 / 4,
            "x_250m": (np.arange(4 * nx) + 0.5) * r1 / 4,
        },
    )
    c = chunk_1km
    ds.to_zarr(path, mode="w", consolidated=False, zarr_format=3,
               encoding={"lst_day": {"chunks": (1, c, c)}, "ndvi": {"chunks": (1, 4 * c, 4 * c)}})
    return str(path)


def _start_rss_sampler(dask_worker: Any, interval: float = 0.02) -> None:
    """In a worker: sample this process's resident memory in a daemon thread, keep the max."""
    import threading

    import psutil

    proc = psutil.Process()
    _PEAK: dict[str, Any] = {}
    dask_worker._lstcloud_peak = _PEAK  # kept on the worker between the two calls
    _PEAK["max"] = proc.memory_info().rss
    _PEAK["base"] = _PEAK["max"]
    _PEAK["stop"] = stop = threading.Event()

    def loop() -> None:
        while not stop.wait(interval):
            _PEAK["max"] = max(_PEAK["max"], proc.memory_info().rss)

    threading.Thread(target=loop, daemon=True).start()


def _stop_rss_sampler(dask_worker: Any) -> tuple[float, float]:
    """In a worker: (resident MB before the run, peak resident MB during it)."""
    _PEAK = dask_worker._lstcloud_peak
    _PEAK["stop"].set()
    return _PEAK["base"] / 2**20, _PEAK["max"] / 2**20


def _pipeline(model: Any, cube: str, out: str, *, workers: int, tile: int) -> tuple[Any, float,
                                                                                    list[float]]:
    from lstcloud.cluster import client_context
    from lstcloud.inference import predict_cube

    # the production local cluster (worker processes started with the tuned allocator, one
    # thread each), as `lstcloud predict` starts it
    with client_context(None, n_workers=workers) as client:
        # warm-up: load the model in every worker before timing, through the same registration
        # (same key) predict_cube uses, so the timed run finds it loaded
        from lstcloud.inference.plugin import model_status
        from lstcloud.inference.predict import register_model

        plugin, _ = register_model(client, model, device="cpu")
        client.run(_start_rss_sampler)
        t0 = time.perf_counter()
        summary = predict_cube(cube_url=cube, model=model, out_url=out, start=DAY, end=DAY,
                               client=client, device="cpu", tile_1km=tile)
        seconds = time.perf_counter() - t0
        memory = sorted(client.run(_stop_rss_sampler).values(), key=lambda bp: bp[1])
        loads = {s.get("loads") for s in client.run(model_status, plugin.key).values()}
        if loads != {1}:
            print(f"# WARNING: model loads per worker {loads} (expected 1: warm-up missed)")
    return summary, seconds, memory


def _flops_per_px(model: Any) -> float:
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    lst = torch.full((1, 1, 32, 32), 295.0)
    ndvi = torch.full((1, 1, 128, 128), 0.4)
    with FlopCounterMode(display=False) as counter:
        model.predict_tensor(lst, ndvi)
    return counter.get_total_flops() / (128 * 128)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="default")
    parser.add_argument("--base", type=int, default=300, help="1x area side in 1 km pixels")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--chunk", type=int, default=300,
                        help="1 km chunk side of the cube (300: the production chunking)")
    parser.add_argument("--tile", type=int, default=320, help="model tile core, 1 km pixels")
    args = parser.parse_args(argv)

    import torch

    from lstcloud.inference.halo import plan_halo

    torch.set_num_threads(args.workers)
    model = _model(args.model)
    rf = int(model.receptive_field_px)
    plan = plan_halo(rf, tile_1km=args.tile)
    print(f"model {model.card.get('name', model.name)}: receptive field {rf} px at 250 m, "
          f"halo depth {plan.depth_1km} px at 1 km / {plan.depth_250m} px at 250 m")
    work = Path(tempfile.mkdtemp(prefix="lstcloud-bench-"))
    try:
        rows = []
        for factor in (1, 4, 16):
            n = args.base * int(np.sqrt(factor))
            lst, ndvi = _inputs(n)
            mpx = 16 * n * n / 1e6
            cube = _write_cube(work / f"in-{factor}.zarr", lst, ndvi, args.chunk)
            bare = None
            print(f"# {factor}x: {np.isfinite(lst).mean():.0%} of the 1 km LST valid")
            if factor == 4:  # bare model on the same pixels, whole array in memory
                model.predict(lst[:8, :8], ndvi[:32, :32])  # warm-up
                rates = {}
                for threads in (args.workers, 1):
                    torch.set_num_threads(threads)
                    t0 = time.perf_counter()
                    model.predict(lst, ndvi)
                    # one thread per core scales linearly with independent processes
                    scale = args.workers if threads == 1 else 1
                    rates[threads] = scale * mpx / (time.perf_counter() - t0)
                torch.set_num_threads(args.workers)
                print(f"# bare: {rates[args.workers]:.3f} Mpx/s with {args.workers} threads, "
                      f"{rates[1] / args.workers:.3f} Mpx/s with 1 thread (x{args.workers} cores)")
                bare = max(rates.values())
            summary, seconds, memory = _pipeline(model, cube, str(work / f"out-{factor}.zarr"),
                                                 workers=args.workers, tile=args.tile)
            peaks = [peak for _, peak in memory]
            growth = [peak - base for base, peak in memory]
            rows.append((factor, n, mpx, seconds, mpx / seconds, summary.halo_share, peaks, bare,
                         growth))
        print(f"\n{'area':>5} {'1km px':>8} {'Mpx 250m':>9} {'pipeline s':>10} "
              f"{'Mpx/s':>7} {'halo':>6} {'peak RSS/worker (MB)':>21} "
              f"{'peak - baseline (MB)':>21}")
        for factor, n, mpx, seconds, rate, share, peaks, _, growth in rows:
            print(f"{factor:>4}x {n:>5}^2 {mpx:>9.2f} {seconds:>10.2f} {rate:>7.3f} "
                  f"{share:>6.1%} {', '.join(f'{p:.0f}' for p in peaks):>21} "
                  f"{', '.join(f'{g:.0f}' for g in growth):>21}")
        from lstcloud.inference.halo import halo_share

        prod = halo_share(((300,) * 4, (300,) * 4), plan)
        print(f"halo share at the cube's production chunking (300 px at 1 km): {prod:.1%}")
        bare = next(r[7] for r in rows if r[7] is not None)
        pipe = rows[1][4]
        print(f"\nbare model (in memory, best of {args.workers} threads / 1 thread x "
              f"{args.workers} cores): {bare:.3f} Mpx/s")
        print(f"full pipeline (Zarr -> map_overlap -> model -> Zarr, {args.workers} workers): "
              f"{pipe:.3f} Mpx/s   ratio {pipe / bare:.2f}")
        share4 = rows[1][5]
        print(f"  per pixel run through the model (halo {share4:.1%} excluded): ratio "
              f"{pipe / (1 - share4) / bare:.2f} (the rest is Zarr I/O, scheduling, quality)")
        peak_growth = max(rows[2][6]) / max(rows[0][6])
        above = max(rows[2][8]) / max(1.0, max(rows[0][8]))
        print(f"peak worker memory 16x / 1x area: {peak_growth:.2f} (absolute), "
              f"{above:.2f} (above the per-worker baseline)")

        from lstcloud.grid import resolve_region

        tiles = len(resolve_region("europe"))
        europe_mpx = tiles * 4800 * 4800 / 1e6
        flops = _flops_per_px(model)
        best = rows[-1][4]
        # computed pixels per output pixel, bench chunking vs the cube's 300 px chunks
        halo_gain = (1 - prod) / (1 - rows[-1][5]) if rows[-1][5] < 1 else 1.0
        print(f"\nEurope: {tiles} land tiles = {europe_mpx:,.0f} Mpx at 250 m per day")
        print(f"  this machine ({args.workers} cores, measured {best:.3f} Mpx/s): "
              f"{europe_mpx / best / 3600:.1f} h per day; with 300 px chunks (less halo) "
              f"{europe_mpx / (best * halo_gain) / 3600:.1f} h")
        eff = min(1.0, pipe / bare)
        gpu = GPU_SUSTAINED_TFLOPS * 1e12 / flops / 1e6 * eff * (1 - prod)
        io_mb = europe_mpx * (4 + 5) + europe_mpx / 16 * 4  # NDVI in, LST + flags out, LST in
        gpu_minutes = max(europe_mpx / gpu, io_mb / STORAGE_MB_S) / 60
        print(f"  one GPU node (on paper): model {flops / 1e3:.0f} kFLOP/px at "
              f"{GPU_SUSTAINED_TFLOPS:.0f} TFLOP/s sustained x pipeline efficiency {eff:.2f} x "
              f"(1 - halo {prod:.0%}) = {gpu:,.0f} Mpx/s -> compute {europe_mpx / gpu:.0f} s; "
              f"Zarr I/O {io_mb / 1e3:.1f} GB at {STORAGE_MB_S:.0f} MB/s -> "
              f"{io_mb / STORAGE_MB_S:.0f} s: about {gpu_minutes:.1f} min per day")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
