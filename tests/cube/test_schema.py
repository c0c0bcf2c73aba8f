"""The cube schema: CF attributes and grid mappings."""

from __future__ import annotations

import numpy as np
import pyproj
import pytest

from lstcloud.cube.schema import (
    GRID_MAPPINGS,
    QC_FILL,
    VARIABLES,
    cube_variables,
    grid_mapping_attrs,
)
from lstcloud.grid import CubeGrid, crs


def test_every_variable_has_cf_attributes():
    for var in VARIABLES.values():
        assert var.attrs["units"], var.name
        assert var.attrs["long_name"], var.name
        assert var.dims == ("time", f"y_{var.resolution}", f"x_{var.resolution}")
        if var.is_qc:
            assert var.numpy_dtype == np.uint16 and var.fill == QC_FILL
            n = len(var.attrs["flag_meanings"].split())
            assert len(var.attrs["flag_masks"]) == len(var.attrs["flag_values"]) == n
            # each value is a state of the masked bits
            assert all(
                (v & m) == v
                for v, m in zip(var.attrs["flag_values"], var.attrs["flag_masks"], strict=True)
            )
        else:
            assert var.numpy_dtype == np.float32 and np.isnan(var.fill)
            assert var.attrs["valid_min"] < var.attrs["valid_max"]
    assert VARIABLES["lst_day"].attrs["standard_name"] == "surface_temperature"
    assert VARIABLES["lst_night"].attrs["units"] == "K"
    assert VARIABLES["ndvi"].resolution == "250m" and VARIABLES["ndvi_qc"].resolution == "250m"


def test_night_variables_only_on_request():
    day = {v.name for v in cube_variables()}
    both = {v.name for v in cube_variables(include_night=True)}
    assert day == {"lst_day", "qc_day", "view_time_day", "ndvi", "ndvi_qc"}
    assert both - day == {"lst_night", "qc_night", "view_time_night"}


@pytest.mark.parametrize("resolution", ["1km", "250m"])
def test_grid_mapping_attributes(resolution):
    grid = CubeGrid(["h18v04", "h19v05"])
    attrs = grid_mapping_attrs(grid, resolution)
    assert attrs["grid_mapping_name"] == "sinusoidal"
    assert attrs["earth_radius"] == 6371007.181
    assert pyproj.CRS.from_cf(attrs) == crs()
    assert pyproj.CRS.from_wkt(attrs["crs_wkt"]) == crs()
    gt = [float(v) for v in attrs["GeoTransform"].split()]
    assert gt == list(grid.transform(resolution).to_gdal())
    assert GRID_MAPPINGS[resolution] in ("spatial_ref", "spatial_ref_250m")
