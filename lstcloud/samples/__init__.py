"""Generators of MODIS-format test and demo inputs.

- :mod:`lstcloud.samples.landscape`: a deterministic synthetic landscape (NDVI, reflectance,
  LST day/night, clouds, water) continuous across tiles.
- :mod:`lstcloud.samples.granules`: HDF4-EOS granules (pyhdf) and Planetary-Computer-style COGs
  of MOD11A1, MOD21A1D/N, MOD09GQ, MOD09Q1 and MOD13Q1 written from a landscape.
- :mod:`lstcloud.samples.stac`: STAC collections and items for them.
"""

from __future__ import annotations

from lstcloud.samples.granules import (
    corrupt_file,
    encode_product,
    granule_filename,
    write_cogs,
    write_hdf4,
)
from lstcloud.samples.landscape import Landscape, make_landscape

__all__ = [
    "Landscape",
    "corrupt_file",
    "encode_product",
    "granule_filename",
    "make_landscape",
    "write_cogs",
    "write_hdf4",
]
