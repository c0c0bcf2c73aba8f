"""The storage wing: the input cube and the product cube (Zarr v3 on the MODIS sinusoidal grid),
their completion records and the product's quality flags.

The input cube holds daily 1 km LST and 250 m NDVI:

- :func:`create_cube` writes the template once (or extends its time axis);
- :func:`write_tile_day` writes one (date, tile) with chunk-aligned region writes;
- :mod:`lstcloud.cube.status` records which (date, tile) are complete, empty, no_input, failed
  or missing;
- storage failures raise :class:`~lstcloud.cube.errors.TransientCubeError` (retry) or
  :class:`~lstcloud.errors.CubeError` (permanent);
- :func:`open_cube` opens it lazily with the CRS decoded (:func:`open_input_cube` also opens
  a foreign Zarr store with the same variables).

The product cube (:mod:`lstcloud.cube.product`) holds the daily 250 m LST (:data:`LST_VAR`) and
its quality flags (:data:`QUALITY_VAR`, meaning in :mod:`lstcloud.cube.quality`), with one
completion marker per day; :func:`open_product` opens it.

See :mod:`lstcloud.cube.schema` for the variables and their attributes.
"""

from __future__ import annotations

from lstcloud.cube.errors import ProductModelMismatchError, TransientCubeError
from lstcloud.cube.product import (
    LST_VAR,
    QUALITY_VAR,
    SPREAD_VAR,
    UNCERTAINTY_VAR,
    open_product,
)
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
    open_input_cube,
    write_tile_day,
    zarr_store,
)

__all__ = [
    "LST_VAR",
    "QUALITY_VAR",
    "SPREAD_VAR",
    "UNCERTAINTY_VAR",
    "VARIABLES",
    "CubeLayout",
    "CubeVariable",
    "ProductModelMismatchError",
    "TileDayStatus",
    "TransientCubeError",
    "check_aligned",
    "create_cube",
    "cube_layout",
    "cube_variables",
    "day_complete",
    "open_cube",
    "open_input_cube",
    "open_product",
    "pending",
    "read_status",
    "tile_day_state",
    "write_status",
    "write_tile_day",
    "zarr_store",
]
