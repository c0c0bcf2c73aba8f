"""The input cube's schema: its variables, their storage and their CF-1.x attributes.

Variables (all on a daily ``time`` axis):

============== ============ ======== =========================================================
name           grid         dtype    content
============== ============ ======== =========================================================
lst_day        1 km         float32  daytime LST, K, NaN = no valid observation
qc_day         1 km         uint16   the product's raw QC bit field (65535 = not written)
view_time_day  1 km         float32  local solar time of the observation, hours, NaN = none
lst_night ...  1 km                  the same for the night pass (``include_night=True``)
ndvi           250 m        float32  NDVI (1), NaN = no valid observation
ndvi_qc        250 m        uint16   the reflectance / VI product's raw QC (65535 = not written)
============== ============ ======== =========================================================

QC variables keep the source product's whole bit field (MOD11 8-bit or MOD21 16-bit QC for LST,
MOD09 ``QC_250m`` or MOD13 ``VI Quality`` for NDVI). The CF flag attributes describe the bits
common to all of them, bits 0-1 (the MODLAND mandatory QA); the other bits are documented by the
source product (the STAC items of each tile-day are listed in its status record).

Physical values are stored as they are (float32, no ``scale_factor``): the readers decode, the
cube keeps what they give. Grid-mapping variables: ``spatial_ref`` (1 km variables) and
``spatial_ref_250m`` (250 m variables) hold the same CRS (``crs_wkt``, CF sinusoidal parameters)
and the ``GeoTransform`` of their own grid, so that rioxarray and GDAL find the right pixel size.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import numpy as np

from lstcloud.grid import PIXELS_PER_TILE, CubeGrid, Resolution, crs

__all__ = [
    "CUBE_FORMAT_VERSION",
    "GRID_MAPPINGS",
    "QC_FILL",
    "TIME_CHUNK",
    "TIME_EPOCH",
    "TIME_UNITS",
    "VARIABLES",
    "CubeVariable",
    "cube_variables",
    "dims_of",
    "grid_mapping_attrs",
]

#: Version of the cube layout written in the root attributes (``lstcloud.format_version``).
CUBE_FORMAT_VERSION = 1
#: Time is stored as integer days since this date (00:00 UTC).
TIME_EPOCH = dt.date(1970, 1, 1)
TIME_UNITS = "days since 1970-01-01"
#: Chunk length of the ``time`` coordinate (the data arrays have one day per chunk).
TIME_CHUNK = 1024
#: Fill of the QC variables: where nothing was written.
QC_FILL = 65535

#: Grid-mapping variable per resolution.
GRID_MAPPINGS: dict[str, str] = {"1km": "spatial_ref", "250m": "spatial_ref_250m"}

_MODLAND_FLAGS = {
    "flag_masks": np.array([3, 3, 3, 3], dtype=np.uint16),
    "flag_values": np.array([0, 1, 2, 3], dtype=np.uint16),
}


@dataclass(frozen=True)
class CubeVariable:
    """One data variable of the input cube.

    Parameters
    ----------
    name
        Variable name in the cube (``"lst_day"``).
    resolution
        ``"1km"`` or ``"250m"``.
    dtype
        Storage dtype (numpy name).
    fill
        The fill value (NaN for floats): what unwritten chunks read as.
    attrs
        CF attributes (``units``, ``standard_name``, ``long_name``, flags ...).
    night
        Whether the variable belongs to the night pass (created only with ``include_night``).
    is_qc
        Whether this is a raw QC bit field.
    """

    name: str
    resolution: Resolution
    dtype: str
    fill: float | int
    attrs: Mapping[str, Any] = field(default_factory=dict)
    night: bool = False
    is_qc: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "attrs", MappingProxyType(dict(self.attrs)))

    @property
    def numpy_dtype(self) -> np.dtype:
        """The storage dtype."""
        return np.dtype(self.dtype)

    @property
    def dims(self) -> tuple[str, str, str]:
        """``("time", "y_<res>", "x_<res>")``."""
        return dims_of(self.resolution)

    @property
    def tile_shape(self) -> tuple[int, int]:
        """Shape of one tile of this variable: (1200, 1200) or (4800, 4800)."""
        n = PIXELS_PER_TILE[self.resolution]
        return (n, n)


def dims_of(resolution: Resolution) -> tuple[str, str, str]:
    """Dimension names of a data variable at ``resolution``."""
    return ("time", f"y_{resolution}", f"x_{resolution}")


def _lst(part: str) -> CubeVariable:
    return CubeVariable(
        name=f"lst_{part}",
        resolution="1km",
        dtype="float32",
        fill=float("nan"),
        attrs={
            "standard_name": "surface_temperature",
            "long_name": f"{'daytime' if part == 'day' else 'night-time'} land surface "
            "temperature (MODIS, 1 km)",
            "units": "K",
            "valid_min": np.float32(150.0),
            "valid_max": np.float32(1310.7),
            "coverage_content_type": "physicalMeasurement",
            "ancillary_variables": f"qc_{part} view_time_{part}",
        },
        night=part == "night",
    )


def _qc(name: str, resolution: Resolution, long_name: str, *, night: bool = False) -> CubeVariable:
    return CubeVariable(
        name=name,
        resolution=resolution,
        dtype="uint16",
        fill=QC_FILL,
        attrs={
            "long_name": long_name,
            "units": "1",
            **_MODLAND_FLAGS,
            "flag_meanings": "modland_qa_good modland_qa_other_quality "
            "modland_qa_not_produced_cloud modland_qa_not_produced_other",
            "comment": "Raw QC bit field of the source product (MOD11/MOD21 QC, MOD09 QC_250m "
            "or MOD13 VI Quality); the flags describe bits 0-1 (MODLAND mandatory QA) common "
            "to all of them. 65535 = nothing written.",
            "coverage_content_type": "qualityInformation",
        },
        night=night,
        is_qc=True,
    )


def _view_time(part: str) -> CubeVariable:
    return CubeVariable(
        name=f"view_time_{part}",
        resolution="1km",
        dtype="float32",
        fill=float("nan"),
        attrs={
            "long_name": f"local solar time of the {'daytime' if part == 'day' else 'night-time'}"
            " LST observation",
            "units": "h",
            "valid_min": np.float32(0.0),
            "valid_max": np.float32(24.0),
            "coverage_content_type": "auxiliaryInformation",
        },
        night=part == "night",
    )


#: Every variable the input cube can hold, by name.
VARIABLES: Mapping[str, CubeVariable] = MappingProxyType(
    {
        v.name: v
        for v in (
            _lst("day"),
            _qc("qc_day", "1km", "quality control of the daytime LST"),
            _view_time("day"),
            _lst("night"),
            _qc("qc_night", "1km", "quality control of the night-time LST", night=True),
            _view_time("night"),
            CubeVariable(
                name="ndvi",
                resolution="250m",
                dtype="float32",
                fill=float("nan"),
                attrs={
                    "standard_name": "normalized_difference_vegetation_index",
                    "long_name": "normalized difference vegetation index (MODIS, 250 m)",
                    "units": "1",
                    "valid_min": np.float32(-1.0),
                    "valid_max": np.float32(1.0),
                    "coverage_content_type": "physicalMeasurement",
                    "ancillary_variables": "ndvi_qc",
                },
            ),
            _qc("ndvi_qc", "250m", "quality control of the reflectance behind the NDVI"),
        )
    }
)


def cube_variables(*, include_night: bool = False) -> tuple[CubeVariable, ...]:
    """The variables of a cube, in storage order."""
    return tuple(v for v in VARIABLES.values() if include_night or not v.night)


def grid_mapping_attrs(grid: CubeGrid, resolution: Resolution) -> dict[str, Any]:
    """CF grid-mapping attributes (+ GDAL ``spatial_ref``/``GeoTransform``) at ``resolution``."""
    cf = crs().to_cf()
    attrs: dict[str, Any] = {
        k: cf[k]
        for k in (
            "grid_mapping_name",
            "longitude_of_central_meridian",
            "longitude_of_projection_origin",
            "false_easting",
            "false_northing",
            "semi_major_axis",
            "semi_minor_axis",
            "inverse_flattening",
            "longitude_of_prime_meridian",
            "crs_wkt",
        )
        if k in cf
    }
    # CF Appendix F names the sinusoidal's parameter longitude_of_central_meridian (GDAL
    # writes that one); pyproj gives longitude_of_projection_origin: keep both
    attrs.setdefault(
        "longitude_of_central_meridian", float(cf.get("longitude_of_projection_origin", 0.0))
    )
    attrs["earth_radius"] = float(cf.get("semi_major_axis", 6371007.181))
    attrs["spatial_ref"] = attrs["crs_wkt"]
    attrs["GeoTransform"] = " ".join(repr(float(v)) for v in grid.transform(resolution).to_gdal())
    return attrs
