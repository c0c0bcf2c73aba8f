"""The outside check of the inference pipeline: ``lstcloud predict`` against the bare model.

    .venv/bin/python benchmarks/outside.py [--cube DEMO/input.zarr] [--repeat 2] [--model M]
        [--bare-malloc glibc|tuned]

On the demo's input cube (2 tiles x 2 days, built here as ``lstcloud demo`` builds it when
``--cube`` is not given), measured side by side, alternating, ``--repeat`` times:

- **pipeline**: the ``lstcloud predict`` command (a fresh process: default local cluster, model
  loading, Zarr reads, halo, quality layer, Zarr writes, markers), wall time end to end;
- **bare**: in a fresh process with 2 torch threads, the same model's ``.predict`` on every
  300 x 300 (1 km) block of the same days, in memory, no halo; only the ``.predict`` calls are
  timed (reading the cube and loading the model are not). Its allocator is glibc's defaults, as
  in any plain process, unless ``--bare-malloc tuned`` starts it with the settings lstcloud's
  workers run with (:data:`lstcloud.allocator.WORKER_MALLOC_ENV`): a stricter reference.

Prints the 250 m Mpx/s of each, the ratio pipeline / bare, the user and system CPU time of each
side (the processes and everything they started) and the load average when measured.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BLOCK_1KM = 300


def build_demo_cube(workdir: Path, *, days: int = 2) -> Path:
    """The demo's input cube: its granules, STAC API and ingest, without its prediction."""
    from lstcloud.cluster import client_context
    from lstcloud.demo import DEFAULT_START, DEFAULT_TILES
    from lstcloud.ingest import ingest, sources_for
    from lstcloud.samples.stac import build_sample_catalog
    from lstcloud.stacserver import StacServer

    dates = [DEFAULT_START + dt.timedelta(days=i) for i in range(days)]
    products = sources_for("lpcloud").products(include_night=False)
    catalog = build_sample_catalog(workdir / "granules", provider="lpcloud",
                                   tiles=list(DEFAULT_TILES), dates=dates, products=products)
    cube = workdir / "input.zarr"
    with StacServer(catalog.collections, catalog.items) as server, client_context(None) as client:
        ingest(provider="lpcloud", stac_url=server.url, region=",".join(DEFAULT_TILES),
               start=dates[0], end=dates[-1], cube_url=str(cube), client=client, progress=False)
    return cube


def bare(cube: str, model_name: str, threads: int, days: int | None) -> dict[str, float]:
    """In this process: ``model.predict`` on every 300 px block of every day of ``cube``."""
    import numpy as np
    import torch

    import lstcloud

    torch.set_num_threads(threads)
    model = lstcloud.load_model(model_name, device="cpu")
    ds = lstcloud.open_cube(cube)
    model.predict(np.full((8, 8), 300.0, np.float32), np.full((32, 32), 0.5, np.float32))
    seconds, pixels = 0.0, 0
    for ti in range(min(days or ds.sizes["time"], ds.sizes["time"])):
        lst = np.asarray(ds["lst_day"][ti].values, dtype=np.float32)
        ndvi = np.asarray(ds["ndvi"][ti].values, dtype=np.float32)
        ny, nx = lst.shape
        t0 = time.perf_counter()
        for y in range(0, ny, BLOCK_1KM):
            for x in range(0, nx, BLOCK_1KM):
                blk = (slice(y, y + BLOCK_1KM), slice(x, x + BLOCK_1KM))
                out = model.predict(lst[blk], ndvi[4 * y : 4 * y + 4 * BLOCK_1KM,
                                                   4 * x : 4 * x + 4 * BLOCK_1KM])
                pixels += out.size
        seconds += time.perf_counter() - t0
    return {"seconds": seconds, "pixels": pixels}


def _children_cpu() -> tuple[float, float]:
    use = resource.getrusage(resource.RUSAGE_CHILDREN)
    return use.ru_utime, use.ru_stime


def _load() -> str:
    return " ".join(f"{v:.1f}" for v in os.getloadavg())


def _run(cmd: list[str], env: dict[str, str] | None = None) -> tuple[float, float, float, str]:
    u0, s0 = _children_cpu()
    t0 = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if done.returncode:
        raise SystemExit(f"{' '.join(cmd)} failed ({done.returncode}):\n{done.stderr[-4000:]}")
    wall = time.perf_counter() - t0
    u1, s1 = _children_cpu()
    return wall, u1 - u0, s1 - s0, done.stdout


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cube", default=None, help="the demo's input cube (built when absent)")
    parser.add_argument("--model", default="default")
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--days", type=int, default=None, help="only the first N days")
    parser.add_argument("--threads", type=int, default=2, help="torch threads of the bare side")
    parser.add_argument("--bare-malloc", choices=["glibc", "tuned"], default="glibc",
                        help="the bare process's allocator: glibc's defaults (a plain process, "
                             "the reference) or lstcloud's worker settings (WORKER_MALLOC_ENV)")
    parser.add_argument("--bare-only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.bare_only:
        print(json.dumps(bare(args.cube, args.model, args.threads, args.days)))
        return 0

    work = Path(tempfile.mkdtemp(prefix="lstcloud-outside-"))
    try:
        cube = Path(args.cube) if args.cube else build_demo_cube(work)
        import lstcloud

        ds = lstcloud.open_cube(str(cube))
        days = [str(t)[:10] for t in ds["time"].values][: args.days]
        print(f"cube {cube}: {ds.sizes['y_1km']} x {ds.sizes['x_1km']} px at 1 km, "
              f"days {days[0]}..{days[-1]}; model {args.model}; {os.cpu_count()} cores")
        env = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}
        bare_env = dict(env)
        if args.bare_malloc == "tuned":
            from lstcloud.allocator import WORKER_MALLOC_ENV

            bare_env.update(WORKER_MALLOC_ENV)
        print(f"bare side: {args.threads} torch threads, {args.bare_malloc} malloc")
        rows = []
        for rep in range(args.repeat):
            load0 = _load()
            _, user_b, sys_b, out = _run(
                [sys.executable, __file__, "--bare-only", "--cube", str(cube), "--model",
                 args.model, "--threads", str(args.threads), "--days", str(len(days))],
                env=bare_env)
            result = json.loads(out.strip().splitlines()[-1])
            mpx = result["pixels"] / 1e6
            product = work / f"product-{rep}.zarr"
            cli = [sys.executable, "-m", "lstcloud", "predict", "--cube", str(cube), "--model",
                   args.model, "--out", str(product), "--start", days[0], "--end", days[-1]]
            wall_p, user_p, sys_p, _ = _run(cli, env=env)
            shutil.rmtree(product, ignore_errors=True)
            rate_b, rate_p = mpx / result["seconds"], mpx / wall_p
            rows.append(rate_p / rate_b)
            print(f"[{rep + 1}] load {load0} -> {_load()}")
            print(f"  bare     {mpx:6.1f} Mpx in {result['seconds']:7.1f} s = {rate_b:.3f} Mpx/s"
                  f"  (process: user {user_b:6.1f} s, sys {sys_b:6.1f} s)")
            print(f"  pipeline {mpx:6.1f} Mpx in {wall_p:7.1f} s = {rate_p:.3f} Mpx/s"
                  f"  (processes: user {user_p:6.1f} s, sys {sys_p:6.1f} s)   "
                  f"ratio {rate_p / rate_b:.2f}")
        print(f"ratio pipeline / bare: {', '.join(f'{r:.2f}' for r in rows)} "
              f"(median {sorted(rows)[len(rows) // 2]:.2f})")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
