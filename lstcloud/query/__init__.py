"""Querying the 250 m LST product: point series, bbox subsets, product summary, exports.

Open the product with :func:`lstcloud.open_product` (or :func:`load_product`), then::

    series = point_series(ds, lon=2.35, lat=48.85, start="2024-01-01", end="2024-12-31")
    subset = bbox_subset(ds, bbox=(2.0, 48.5, 2.7, 49.0), start="2024-07-01", end="2024-07-01",
                         crs="EPSG:4326")
    write_subset(subset, "paris.tif")
"""

from __future__ import annotations

from lstcloud.query._dataset import (
    LST_VAR,
    QUALITY_VAR,
    SPREAD_VAR,
    UNCERTAINTY_VAR,
    day_complete_flags,
    incomplete_days,
    load_product,
    product_crs,
)
from lstcloud.query.bbox import bbox_statistics, bbox_subset, parse_bbox, reproject
from lstcloud.query.export import (
    describe_pixel,
    series_records,
    series_to_csv,
    series_to_json,
    write_geotiff,
    write_netcdf,
    write_subset,
)
from lstcloud.query.info import ProductInfo, complete_days, product_info
from lstcloud.query.point import nearest_pixel, point_series
from lstcloud.query.rechunk import rechunk_for_timeseries

__all__ = [
    "LST_VAR",
    "QUALITY_VAR",
    "SPREAD_VAR",
    "UNCERTAINTY_VAR",
    "ProductInfo",
    "bbox_statistics",
    "bbox_subset",
    "complete_days",
    "day_complete_flags",
    "describe_pixel",
    "incomplete_days",
    "load_product",
    "nearest_pixel",
    "parse_bbox",
    "point_series",
    "product_crs",
    "product_info",
    "rechunk_for_timeseries",
    "reproject",
    "series_records",
    "series_to_csv",
    "series_to_json",
    "write_geotiff",
    "write_netcdf",
    "write_subset",
]
