"""The input datacube: Zarr v3 with daily 1 km LST and 250 m NDVI on the MODIS sinusoidal grid.

- :func:`create_cube` writes the template once (or extends its time axis);
- :func:`write_tile_day` writes one (date, tile) with chunk-aligned region writes;
- :mod:`lstcloud.cube.status` records which (date, tile) are complete, empty, no_input, failed
  or missing;
- storage failures raise :class:`~lstcloud.cube.errors.TransientCubeError` (retry) or
  :class:`~lstcloud.errors.CubeError` (permanent);
- :func:`open_cube` opens it lazily with the CRS decoded.

See :mod:`lstcloud.cube.schema` for the variables and their attributes.
"""

from __future__ import annotations

from lstcloud.cube.errors import TransientCubeError
from lstcloud.cube.schema import VARIABLES, CubeVariable, cube_variables
from lstcloud.cube.status import (
    TileDayStatus,
    day_complete,
    pending,
    read_status,
    tile_day_state,
    write_status,
)
from lstcloud.cube.store import (
    CubeLayout,
    check_aligned,
    create_cube,
    cube_layout,
    open_cube,
    write_region,
    write_tile_day,
    zarr_store,
)

__all__ = [
    "VARIABLES",
    "CubeLayout",
    "CubeVariable",
    "TileDayStatus",
    "TransientCubeError",
    "check_aligned",
    "create_cube",
    "cube_layout",
    "cube_variables",
    "day_complete",
    "open_cube",
    "pending",
    "read_status",
    "tile_day_state",
    "write_region",
    "write_status",
    "write_tile_day",
    "zarr_store",
]
