"""How many chunks and bytes a query reads: map chunking vs a time-series-optimised copy.

Builds a product cube with the production chunking (1, c, c) over ``--days`` days, makes the
time-series copy with :func:`lstcloud.query.rechunk_for_timeseries`, then counts the store GETs
(data chunks) and bytes of:

- a one-pixel, whole-period time series (``point_series``);
- a one-day map of the whole area (a ``bbox_subset`` of one day).

Run:  .venv/bin/python benchmarks/query.py [--days 365 --size 480 --chunk 480]

The counts do not depend on the machine; the times do. Bytes scale with the chunk area:
the production chunk (1, 1200, 1200) is (1200 / chunk)^2 times the chunk used here.
"""

from __future__ import annotations

import argparse
import datetime as dt
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr
import zarr
import zarr.storage

from lstcloud.query import point_series, rechunk_for_timeseries


class CountingStore(zarr.storage.WrapperStore):
    """A read-only view of a store that counts GETs and bytes of data chunks."""

    def __init__(self, store: Any) -> None:
        super().__init__(store)
        self.gets: Counter[str] = Counter()
        self.bytes = 0

    async def get(self, key, prototype, byte_range=None):  # type: ignore[override]
        buf = await self._store.get(key, prototype, byte_range)
        if "/c/" in key or key.split("/")[-1].startswith("c"):  # chunk keys, not metadata
            self.gets[key.split("/")[0]] += 1
            self.bytes += 0 if buf is None else len(buf)
        return buf

    def reset(self) -> None:
        self.gets.clear()
        self.bytes = 0


def build_product(path: Path, *, days: int, size: int, chunk: int, seed: int = 0) -> None:
    """A product-shaped cube with a smooth, noisy LST field (compresses like real data)."""
    rng = np.random.default_rng(seed)
    pix = 1111950.5197665 / 4800
    x = 0.0 + (np.arange(size) + 0.5) * pix
    y = 5e6 - (np.arange(size) + 0.5) * pix
    yy, xx = np.meshgrid(np.linspace(0, 6, size), np.linspace(0, 6, size), indexing="ij")
    base = (290 + 8 * np.sin(xx) * np.cos(yy)).astype("float32")
    times = [np.datetime64(dt.date(2024, 1, 1) + dt.timedelta(days=i), "ns") for i in range(days)]
    wkt = (
        'PROJCS["unnamed",GEOGCS["Unknown datum based upon the custom spheroid",DATUM["unknown",'
        'SPHEROID["unnamed",6371007.181,0]],PRIMEM["Greenwich",0],UNIT["degree",0.0174532925199433]],'
        'PROJECTION["Sinusoidal"],PARAMETER["longitude_of_center",0],PARAMETER["false_easting",0],'
        'PARAMETER["false_northing",0],UNIT["metre",1]]'
    )
    template = xr.Dataset(
        {
            "lst_250m": (("time", "y", "x"), np.zeros((days, size, size), "float32")),
            "lst_250m_quality": (("time", "y", "x"), np.zeros((days, size, size), "uint8")),
        },
        coords={"time": times, "y": y, "x": x,
                "spatial_ref": ((), np.int32(0), {"crs_wkt": wkt})},
    ).chunk({"time": 1, "y": chunk, "x": chunk})
    template.to_zarr(path, mode="w", compute=False, consolidated=False, zarr_format=3)
    group = zarr.open_group(str(path), mode="r+")
    for t in range(days):
        noise = rng.normal(0, 0.5, (size, size)).astype("float32")
        lst = np.round(base + 3 * np.sin(2 * np.pi * t / 365) + noise, 2)
        cloud = rng.random((size, size)) < 0.2
        group["lst_250m"][t] = np.where(cloud, np.nan, lst)
        group["lst_250m_quality"][t] = cloud.astype("uint8")


def measure(path: Path, label: str, *, lon: float, lat: float) -> list[str]:
    store = CountingStore(zarr.storage.LocalStore(str(path), read_only=True))
    ds = xr.open_zarr(store, consolidated=False, decode_coords="all")
    lines = []
    chunks = ds["lst_250m"].encoding["chunks"]
    store.reset()
    t0 = time.perf_counter()
    series = point_series(ds, lon=lon, lat=lat)
    t_point = time.perf_counter() - t0
    lines.append(
        f"{label:<22} chunks {chunks!s:<16} point series ({series.sizes['time']} days): "
        f"{sum(store.gets.values()):5d} GETs {store.bytes / 1e6:9.2f} MB {t_point:6.2f} s"
    )
    store.reset()
    t0 = time.perf_counter()
    day = ds.isel(time=ds.sizes["time"] // 2)[["lst_250m", "lst_250m_quality"]].load()
    t_map = time.perf_counter() - t0
    lines.append(
        f"{'':<22} {'':<23} one-day map ({day.sizes['y']}x{day.sizes['x']}): "
        f"{sum(store.gets.values()):5d} GETs {store.bytes / 1e6:9.2f} MB {t_map:6.2f} s"
    )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--size", type=int, default=480, help="pixels per side of the area")
    parser.add_argument("--chunk", type=int, default=480, help="spatial chunk of the map layout")
    parser.add_argument("--time-chunk", type=int, default=365)
    parser.add_argument("--space-chunk", type=int, default=120)
    args = parser.parse_args()
    import pyproj

    with tempfile.TemporaryDirectory(prefix="lstcloud-bench-") as tmp:
        src = Path(tmp) / "product.zarr"
        t0 = time.perf_counter()
        build_product(src, days=args.days, size=args.size, chunk=args.chunk)
        print(f"built {args.days} days of {args.size}x{args.size} px in "
              f"{time.perf_counter() - t0:.1f} s")
        dst = Path(tmp) / "product_ts.zarr"
        t0 = time.perf_counter()
        rechunk_for_timeseries(str(src), str(dst), time_chunk=args.time_chunk,
                               space_chunk=args.space_chunk)
        print(f"time-series copy made in {time.perf_counter() - t0:.1f} s")
        x = 0.0 + (args.size // 3 + 0.5) * 1111950.5197665 / 4800
        y = 5e6 - (args.size // 2 + 0.5) * 1111950.5197665 / 4800
        sinu = pyproj.CRS.from_proj4("+proj=sinu +R=6371007.181 +units=m")
        lon, lat = pyproj.Transformer.from_crs(sinu, "EPSG:4326", always_xy=True).transform(x, y)
        for line in measure(src, "map layout", lon=lon, lat=lat):
            print(line)
        for line in measure(dst, "time-series copy", lon=lon, lat=lat):
            print(line)
        scale = (1200 / args.chunk) ** 2
        print(f"(bytes per map-layout chunk scale by {scale:.2f} for production chunks of 1200)")


if __name__ == "__main__":
    main()
