"""A continental day: ``lstcloud predict`` on a full-size Europe input cube, end to end.

    .venv/bin/python benchmarks/continent.py                      # all `europe` tiles, one day
    .venv/bin/python benchmarks/continent.py --tiles h18v04,h19v04  # a subset (extrapolated)
    .venv/bin/python benchmarks/continent.py --device cuda          # unchanged on a GPU node

1. Generates the input the way the demo does, at full size: MODIS-format HDF4-EOS granules
   (MOD21A1D + MOD09GQ, 1200 / 4800 px per tile) of every land tile of the ``europe`` region of
   :mod:`lstcloud.grid` for one day, a CMR-STAC-shaped catalogue served by a real STAC API on
   127.0.0.1, and :func:`lstcloud.ingest.ingest` into a Zarr input cube (its time is printed too).
2. Times the ``lstcloud predict`` command on it in a fresh process (default local cluster, the
   model given, ``--device``), end to end: cluster start, model loading, Zarr reads, halo,
   quality layer, Zarr writes, day marker.
3. Prints the 250 m Mpx/s (land tiles and the cube's whole bounding box, whose ocean tiles are
   all-missing input and cost little), the peak resident memory of every worker process (sampled
   from outside every 0.2 s), the halo share, the total time and the load average. With a subset
   of tiles it also prints the full-Europe time extrapolated from the measured land rate, and
   says it is an extrapolation.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

DAY = dt.date(2024, 7, 1)
TILE_MPX = 4800 * 4800 / 1e6


def build_cube(
    workdir: Path, tiles: list[str], *, workers: int | None = None
) -> tuple[Path, float]:
    """Granules, catalogue, STAC API and ingest of ``tiles`` for :data:`DAY`; (cube, seconds)."""
    from lstcloud.cluster import client_context
    from lstcloud.ingest import ingest, sources_for
    from lstcloud.samples.stac import build_sample_catalog
    from lstcloud.stacserver import StacServer

    products = sources_for("lpcloud").products(include_night=False)
    t0 = time.perf_counter()
    catalog = build_sample_catalog(workdir / "granules", provider="lpcloud", tiles=tiles,
                                   dates=[DAY], products=products)
    print(f"generated {len(catalog.items)} granules in {time.perf_counter() - t0:.0f} s",
          flush=True)
    cube = workdir / "input.zarr"
    with (
        StacServer(catalog.collections, catalog.items) as server,
        client_context(None, n_workers=workers) as client,
    ):
        t0 = time.perf_counter()
        summary = ingest(provider="lpcloud", stac_url=server.url, region=",".join(tiles),
                         start=DAY, end=DAY, cube_url=str(cube), client=client, progress=False)
        seconds = time.perf_counter() - t0
    if not summary.ok:
        raise SystemExit(f"ingest failed: {summary.failed}")
    return cube, seconds


class _PeakRSS:
    """Peak resident memory of every descendant process of ``pid`` (sampled in a thread)."""

    def __init__(self, pid: int, interval: float = 0.2) -> None:
        import psutil

        self.root = psutil.Process(pid)
        self.interval = interval
        self.peaks: dict[int, tuple[str, int]] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        import psutil

        while not self._stop.wait(self.interval):
            try:
                procs = [self.root, *self.root.children(recursive=True)]
            except psutil.Error:
                continue
            for p in procs:
                try:
                    rss = p.memory_info().rss
                    role = "worker" if "spawn_main" in " ".join(p.cmdline()) else p.name()
                except psutil.Error:
                    continue
                old = self.peaks.get(p.pid, (role, 0))
                self.peaks[p.pid] = (role, max(old[1], rss))

    def stop(self) -> dict[int, tuple[str, int]]:
        self._stop.set()
        self._thread.join()
        return self.peaks


def run_predict(cube: Path, out: Path, *, model: str, device: str) -> tuple[dict[str, Any],
                                                                            float, list[float]]:
    """``lstcloud predict --json`` in a fresh process: (summary, wall seconds, worker peaks MB)."""
    cmd = [sys.executable, "-m", "lstcloud", "predict", "--cube", str(cube), "--model", model,
           "--out", str(out), "--start", DAY.isoformat(), "--end", DAY.isoformat(),
           "--device", device, "--json"]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    sampler = _PeakRSS(proc.pid)
    stdout, stderr = proc.communicate()
    wall = time.perf_counter() - t0
    peaks = sampler.stop()
    if proc.returncode != 0:
        raise SystemExit(f"lstcloud predict failed ({proc.returncode}):\n{stderr[-3000:]}")
    summary = json.loads(stdout[stdout.index("{"):])
    workers = sorted(rss / 2**20 for role, rss in peaks.values() if role == "worker")
    return summary, wall, workers


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tiles", default=None,
                        help="comma-separated subset of the europe tiles (default: all)")
    parser.add_argument("--model", default="default")
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    parser.add_argument("--workdir", default=None, help="keep the cube here (default: temp)")
    parser.add_argument("--cube", default=None, help="reuse an input cube built by this script")
    args = parser.parse_args(argv)

    from lstcloud.grid import resolve_region

    europe = [t.id for t in resolve_region("europe")]
    tiles = [t.strip() for t in args.tiles.split(",")] if args.tiles else europe
    unknown = sorted(set(tiles) - set(europe))
    if unknown:
        raise SystemExit(f"not europe land tiles: {', '.join(unknown)}")
    work = Path(args.workdir or tempfile.mkdtemp(prefix="lstcloud-continent-"))
    work.mkdir(parents=True, exist_ok=True)
    print(f"{len(tiles)} of the {len(europe)} europe land tiles, {DAY}; model {args.model}, "
          f"device {args.device}; {os.cpu_count()} cores; load {_load()}", flush=True)
    try:
        if args.cube:
            cube, ingest_s = Path(args.cube), float("nan")
        else:
            cube, ingest_s = build_cube(work, tiles)
        land_mpx = len(tiles) * TILE_MPX
        print(f"ingest: {ingest_s:.0f} s ({land_mpx / ingest_s:.2f} Mpx/s of 250 m NDVI)",
              flush=True)
        load0 = _load()
        summary, wall, workers = run_predict(cube, work / "product.zarr", model=args.model,
                                             device=args.device)
        box_mpx = summary["pixels_250m"] / 1e6
        print(f"lstcloud predict: {wall:.1f} s end to end (load {load0} -> {_load()}); "
              f"devices {summary['devices']}")
        print(f"  land  {land_mpx:7.1f} Mpx at 250 m -> {land_mpx / wall:.3f} Mpx/s")
        print(f"  cube  {box_mpx:7.1f} Mpx at 250 m (bounding box) -> {box_mpx / wall:.3f} Mpx/s")
        print(f"  halo share {summary['halo_share']:.1%}; peak RSS per worker (MB): "
              f"{', '.join(f'{m:.0f}' for m in workers)}")
        if len(tiles) < len(europe):
            full = len(europe) * TILE_MPX
            print(f"  EXTRAPOLATED, not measured: all {len(europe)} europe tiles "
                  f"({full:.0f} Mpx) at the measured land rate: {full / (land_mpx / wall) / 60:.1f}"
                  " min")
    finally:
        if args.workdir is None:
            shutil.rmtree(work, ignore_errors=True)
    return 0


def _load() -> str:
    return " ".join(f"{v:.1f}" for v in os.getloadavg())


if __name__ == "__main__":
    sys.exit(main())
