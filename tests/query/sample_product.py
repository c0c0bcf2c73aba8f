"""A small product cube for the query tests, written through :mod:`lstcloud.cube.product`.

The grid is a window of the real MODIS 250 m sinusoidal grid in tile h18v04 (France), so that
lon/lat lookups go through the real projection.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pyproj
import xarray as xr

from lstcloud.cube.product import ProductCube, ProductGrid, Provenance
from lstcloud.grid import PIXEL_SIZE, Tile

PIX_250 = PIXEL_SIZE["250m"]
SINUSOIDAL = pyproj.CRS.from_proj4(
    "+proj=sinu +lon_0=0 +x_0=0 +y_0=0 +R=6371007.181 +units=m +no_defs"
)


def sample_product_dataset(
    *,
    start: dt.date = dt.date(2024, 1, 1),
    days: int = 10,
    size: int = 96,
    chunk: int = 48,
    row0: int = 2000,
    col0: int = 1000,
    seed: int = 0,
) -> xr.Dataset:
    """A product Dataset: ``lst_250m`` (time, y, x) K, ``lst_250m_quality`` uint8, spatial_ref."""
    rng = np.random.default_rng(seed)
    tile_x0, _, _, tile_y1 = Tile.parse("h18v04").bounds
    ulx = tile_x0 + col0 * PIX_250
    uly = tile_y1 - row0 * PIX_250
    x = ulx + (np.arange(size) + 0.5) * PIX_250
    y = uly - (np.arange(size) + 0.5) * PIX_250
    times = np.array([np.datetime64(start + dt.timedelta(days=i), "ns") for i in range(days)])
    lst = (280.0 + 10.0 * rng.random((days, size, size))).astype("float32")
    quality = np.zeros((days, size, size), dtype="uint8")
    lst[:, :8, :8] = np.nan  # a cloudy corner
    quality[:, :8, :8] = 1
    spatial_ref = xr.DataArray(
        np.int64(0),
        attrs={
            "crs_wkt": SINUSOIDAL.to_wkt(),
            "spatial_ref": SINUSOIDAL.to_wkt(),
            "grid_mapping_name": "sinusoidal",
            "GeoTransform": f"{ulx} {PIX_250} 0 {uly} 0 {-PIX_250}",
        },
    )
    ds = xr.Dataset(
        {
            "lst_250m": (
                ("time", "y", "x"),
                lst,
                {
                    "units": "K",
                    "standard_name": "surface_temperature",
                    "grid_mapping": "spatial_ref",
                },
            ),
            "lst_250m_quality": (
                ("time", "y", "x"),
                quality,
                {"flag_masks": [1, 2, 4, 8], "grid_mapping": "spatial_ref"},
            ),
        },
        coords={
            "time": times,
            "y": ("y", y, {"units": "m", "standard_name": "projection_y_coordinate"}),
            "x": ("x", x, {"units": "m", "standard_name": "projection_x_coordinate"}),
            "spatial_ref": spatial_ref,
        },
        attrs={
            "title": "lstcloud daily 250 m LST (test product)",
            "lstcloud_model_name": "sif-cnn-sr1",
            "lstcloud_model_sha256": "ab" * 32,
            "lstcloud_receptive_field_px": 40,
            "lstcloud_input_cube": "s3://bucket/input.zarr",
            "lstcloud_software_version": "0.1.0",
        },
    )
    return ds.chunk({"time": 1, "y": chunk, "x": chunk})


def write_sample_product(
    path: Path | str,
    *,
    complete: list[int] | None = None,
    **kwargs: object,
) -> xr.Dataset:
    """Write :func:`sample_product_dataset` at ``path`` as the package writes a product:
    template, region writes of whole days, then each complete day's marker.

    ``complete`` lists the day indices that get their completion marker (all by default).
    """
    ds = sample_product_dataset(**kwargs)  # type: ignore[arg-type]
    days = [d.astype("datetime64[D]").astype(dt.date) for d in ds["time"].values]
    chunk = int(ds.chunks["y"][0])
    product = ProductCube(str(path))
    product.ensure(
        grid=ProductGrid(
            y=ds["y"].values,
            x=ds["x"].values,
            crs_wkt=str(ds["spatial_ref"].attrs["crs_wkt"]),
            chunks=(chunk, chunk),
        ),
        dates=days,
        provenance=Provenance(
            model_name=str(ds.attrs["lstcloud_model_name"]),
            model_sha256=str(ds.attrs["lstcloud_model_sha256"]),
            receptive_field_px=int(ds.attrs["lstcloud_receptive_field_px"]),
            input_cube=str(ds.attrs["lstcloud_input_cube"]),
        ),
    )
    lst, quality = product.arrays()
    for i, day in enumerate(days):
        region = product.region(day)
        lst[region] = ds["lst_250m"].values[i : i + 1]
        quality[region] = ds["lst_250m_quality"].values[i : i + 1]
    for i in range(len(days)) if complete is None else complete:
        product.mark_complete(days[i], {})
    return ds


def centre_lonlat(ds: xr.Dataset) -> tuple[float, float]:
    """Longitude and latitude of the centre pixel of a product-shaped Dataset."""
    x = float(ds["x"].values[ds.sizes["x"] // 2])
    y = float(ds["y"].values[ds.sizes["y"] // 2])
    to_lonlat = pyproj.Transformer.from_crs(SINUSOIDAL, "EPSG:4326", always_xy=True)
    lon, lat = to_lonlat.transform(x, y)
    return float(lon), float(lat)
