"""Ingest throughput vs the bare read + decode of the same granules, measured in one run.

    .venv/bin/python benchmarks/ingest.py [--tiles h18v04,h19v04] [--days 3] [--workers 2]

Generates MODIS-format HDF4-EOS granules (MOD21A1D + MOD09GQ, full 1200 / 4800 px tiles) and a
CMR-STAC-shaped catalogue served by a real STAC API on 127.0.0.1, then measures on the same local
Dask cluster (worker processes):

1. bare: ``read_granule`` (read + decode + QC) of every granule, as Dask tasks, nothing written;
2. ingest: the full ``lstcloud.ingest.ingest`` (STAC search, read, decode, chunk-aligned Zarr
   writes, completion records) into a fresh local cube;
3. rerun: the same ingest again (everything complete: nothing is written).

and prints granules/s and MB/s (granule file bytes) for each, with the ratios ingest / bare
(aim >= 0.5) and rerun / first run (must be < 0.1).
"""

from __future__ import annotations

import argparse
import datetime as dt
import shutil
import tempfile
import time
from pathlib import Path


def _bare_read(href: str, product: str) -> int:
    from lstcloud.readers import read_granule

    ds = read_granule(href, product)
    return int(sum(v.size for v in ds.data_vars.values()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tiles", default="h18v04,h19v04")
    parser.add_argument("--days", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--workdir", default=None, help="keep the files here (default: temp)")
    args = parser.parse_args()

    from lstcloud.catalog import search_granules
    from lstcloud.cluster import client_context
    from lstcloud.ingest import ingest, sources_for
    from lstcloud.samples.stac import build_sample_catalog
    from lstcloud.stacserver import StacServer

    tiles = [t for t in args.tiles.split(",") if t]
    start = dt.date(2024, 7, 1)
    dates = [start + dt.timedelta(days=i) for i in range(args.days)]
    end = dates[-1]
    root = Path(args.workdir or tempfile.mkdtemp(prefix="lstcloud-bench-ingest-"))
    root.mkdir(parents=True, exist_ok=True)
    products = sources_for("lpcloud").products(include_night=False)
    t = time.perf_counter()
    catalog = build_sample_catalog(
        root / "granules", provider="lpcloud", tiles=tiles, dates=dates, products=products
    )
    took = time.perf_counter() - t
    print(f"generated {len(catalog.items)} granules in {took:.1f} s under {root}")

    with (
        StacServer(catalog.collections, catalog.items) as server,
        client_context(None, n_workers=args.workers) as client,
    ):
        granules = search_granules(
            provider="lpcloud", stac_url=server.url, products=products, tiles=tiles,
            start=start, end=end,
        )
        nbytes = sum(Path(str(g.href)).stat().st_size for g in granules)
        n = len(granules)
        # warm the workers (imports) so neither measurement pays for them
        client.run(lambda: __import__("lstcloud.readers") and __import__("lstcloud.cube"))

        t = time.perf_counter()
        futures = [client.submit(_bare_read, str(g.href), g.product, pure=False) for g in granules]
        client.gather(futures)
        bare = time.perf_counter() - t

        cube = root / "input.zarr"
        shutil.rmtree(cube, ignore_errors=True)
        t = time.perf_counter()
        first = ingest(provider="lpcloud", stac_url=server.url, region=",".join(tiles),
                       start=start, end=end, cube_url=str(cube), client=client, progress=False)
        full = time.perf_counter() - t
        t = time.perf_counter()
        again = ingest(provider="lpcloud", stac_url=server.url, region=",".join(tiles),
                       start=start, end=end, cube_url=str(cube), client=client, progress=False)
        rerun = time.perf_counter() - t

    mb = nbytes / 1e6
    print(f"{n} granules, {mb:.1f} MB of HDF4, {len(tiles)} tiles x {len(dates)} days, "
          f"{args.workers} worker processes")
    print(f"bare read+decode : {n / bare:6.2f} granules/s  {mb / bare:7.1f} MB/s  ({bare:.1f} s)")
    print(f"ingest           : {n / full:6.2f} granules/s  {mb / full:7.1f} MB/s  ({full:.1f} s; "
          f"{first.written} written, {len(first.failed)} failed)")
    print(f"ingest / bare    : {bare / full:.2f}   (aim >= 0.5); the ingest counted "
          f"{first.bytes_read / 1e6:.1f} MB read")
    print(f"rerun            : {rerun:.2f} s, {again.written} written, {again.skipped} skipped; "
          f"rerun / first = {rerun / full:.3f}   (must be < 0.1)")
    if args.workdir is None:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
