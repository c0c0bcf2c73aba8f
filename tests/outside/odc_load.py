"""Load ``lst_250m`` of the first published day with odc-stac, without lstcloud.

Usage: python odc_load.py STAC_DIR LON LAT HALF_WIDTH_DEG OUT.npz

Reads ``STAC_DIR/collection.json`` and its Items with pystac, takes the CRS and the pixel size
from the ``lst_250m`` asset's projection fields, and calls ``odc.stac.load(items,
bands=["lst_250m"], crs=..., resolution=..., bbox=...)`` for the first day. Writes the values and
the x/y pixel-centre coordinates to OUT.npz. Fails if anything imported lstcloud.
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

import numpy as np
import odc.stac
import pyproj
import pystac


def main(argv: list[str]) -> int:
    stac_dir, lon, lat, half, out = argv[0], *map(float, argv[1:4]), argv[4]
    collection = pystac.Collection.from_file(str(Path(stac_dir) / "collection.json"))
    items = sorted(collection.get_items(recursive=True), key=lambda i: i.datetime)
    first = items[0]
    asset = first.assets["lst_250m"]
    crs = pyproj.CRS.from_wkt(asset.extra_fields["proj:wkt2"])
    resolution = asset.extra_fields["proj:transform"][0]
    bbox = (lon - half, lat - half, lon + half, lat + half)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # shapely.ops inside odc-geo
        ds = odc.stac.load([first], bands=["lst_250m"], crs=crs, resolution=resolution, bbox=bbox)
    lst = ds["lst_250m"].isel(time=0)
    np.savez(
        out,
        values=lst.values,
        x=lst["x"].values,
        y=lst["y"].values,
        time=np.datetime64(first.datetime.replace(tzinfo=None), "ns"),
        crs=str(ds.odc.crs),
    )
    leaked = sorted(m for m in sys.modules if m == "lstcloud" or m.startswith("lstcloud."))
    if leaked:
        raise SystemExit(f"lstcloud was imported: {leaked}")
    print(f"loaded {lst.shape} from {asset.href}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
