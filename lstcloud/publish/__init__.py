"""Publishing the product where scientists work: STAC (static folder or API) and COGs.

- :mod:`lstcloud.publish.stac`: the Collection and Item documents (datacube, projection,
  raster and xarray-assets extensions);
- :mod:`lstcloud.publish.cog`: per-day Cloud-Optimized GeoTIFFs written beside the cube;
- :mod:`lstcloud.publish.api`: create/update the Collection and upsert Items through the STAC
  Transactions extension;
- :mod:`lstcloud.publish.static`: :func:`publish_collection`, which does all of it.
"""

from __future__ import annotations

from lstcloud.publish.stac import (
    DATACUBE_EXTENSION,
    ITEMS_DIGEST_FIELD,
    PROJECTION_EXTENSION,
    RASTER_EXTENSION,
    XARRAY_EXTENSION,
    ZARR_MEDIA_TYPE,
    collection_dict,
    item_dict,
    items_digest,
    merge_collections,
)
from lstcloud.publish.static import PublishResult, publish, publish_collection

__all__ = [
    "DATACUBE_EXTENSION",
    "ITEMS_DIGEST_FIELD",
    "PROJECTION_EXTENSION",
    "RASTER_EXTENSION",
    "XARRAY_EXTENSION",
    "ZARR_MEDIA_TYPE",
    "PublishResult",
    "collection_dict",
    "item_dict",
    "items_digest",
    "merge_collections",
    "publish",
    "publish_collection",
]
