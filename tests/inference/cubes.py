"""Build small input cubes inside the tests: windows of a tile, so written as the foreign Zarr
stores :func:`lstcloud.cube.open_input_cube` accepts (``lstcloud.cube.create_cube`` writes
whole tiles only), on the package's grid."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import xarray as xr

from lstcloud.grid import PIXEL_SIZE, Tile
from tests.inference.standin import structured_inputs

# h18v04 upper-left corner in MODIS sinusoidal metres
X0, _, _, Y0 = Tile.parse("h18v04").bounds
RES_1KM = PIXEL_SIZE["1km"]
WKT = (
    'PROJCS["unnamed",GEOGCS["Unknown datum based upon the custom spheroid",'
    'DATUM["Not specified (based on custom spheroid)",SPHEROID["Custom spheroid",6371007.181,0]],'
    'PRIMEM["Greenwich",0],UNIT["degree",0.0174532925199433]],PROJECTION["Sinusoidal"],'
    'PARAMETER["longitude_of_center",0],PARAMETER["false_easting",0],'
    'PARAMETER["false_northing",0],UNIT["Meter",1]]'
)


def day_inputs(ny: int, nx: int, days: list[dt.date]) -> tuple[np.ndarray, np.ndarray]:
    pairs = [structured_inputs(ny, nx, seed=d.toordinal() % 1000) for d in days]
    return np.stack([p[0] for p in pairs]), np.stack([p[1] for p in pairs])


def write_input_cube(
    path: Path | str,
    *,
    lst: np.ndarray,
    ndvi: np.ndarray,
    days: list[dt.date],
    chunks_1km: tuple[int, int],
) -> str:
    """Write an input cube with ``lst_day`` (time, y_1km, x_1km) and ``ndvi`` (time, 4y, 4x)."""
    _, ny, nx = lst.shape
    r250 = RES_1KM / 4
    ds = xr.Dataset(
        {
            "lst_day": (("time", "y_1km", "x_1km"), lst.astype("float32"),
                        {"units": "K", "grid_mapping": "spatial_ref"}),
            "ndvi": (("time", "y_250m", "x_250m"), ndvi.astype("float32"),
                     {"units": "1", "grid_mapping": "spatial_ref"}),
            "spatial_ref": ((), np.int32(0), {"crs_wkt": WKT}),
        },
        coords={
            "time": np.array([np.datetime64(d, "ns") for d in days]),
            "y_1km": Y0 - (np.arange(ny) + 0.5) * RES_1KM,
            "x_1km": X0 + (np.arange(nx) + 0.5) * RES_1KM,
            "y_250m": Y0 - (np.arange(4 * ny) + 0.5) * r250,
            "x_250m": X0 + (np.arange(4 * nx) + 0.5) * r250,
        },
    )
    cy, cx = chunks_1km
    encoding = {
        "lst_day": {"chunks": (1, cy, cx)},
        "ndvi": {"chunks": (1, 4 * cy, 4 * cx)},
    }
    ds.to_zarr(str(path), mode="w", encoding=encoding, consolidated=False, zarr_format=3)
    return str(path)
