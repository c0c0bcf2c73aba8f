"""A time-series-optimised copy of the product: long time chunks, small spatial chunks."""

from __future__ import annotations

import logging
from typing import Any

from lstcloud.core.errors import ConfigError
from lstcloud.core.storage import default_storage_options, filesystem, join, strip_protocol
from lstcloud.cube.consolidated import consolidate
from lstcloud.query._dataset import (
    LST_VAR,
    QUALITY_VAR,
    SPREAD_VAR,
    UNCERTAINTY_VAR,
    load_product,
)

__all__ = ["rechunk_for_timeseries"]

log = logging.getLogger(__name__)


def rechunk_for_timeseries(
    src_url: str,
    dst_url: str,
    *,
    time_chunk: int = 365,
    space_chunk: int = 120,
    storage_options: dict[str, Any] | None = None,
    dst_storage_options: dict[str, Any] | None = None,
) -> str:
    """Copy the product at ``src_url`` to ``dst_url`` with chunks ``(time_chunk, s, s)``.

    A one-pixel series of ``time_chunk`` days then reads one chunk per variable instead of one
    per day. The copy is written block of days by block of days (each block one output time
    chunk), so memory stays bounded by a block of the source rows being rechunked by Dask.
    Completion records are copied so that :func:`~lstcloud.query.product_info` works on it.

    Returns
    -------
    str
        ``dst_url``.
    """
    if time_chunk < 1 or space_chunk < 1:
        raise ConfigError("time_chunk and space_chunk must be >= 1")
    src = load_product(src_url, storage_options=storage_options)
    names = [n for n in (LST_VAR, QUALITY_VAR, SPREAD_VAR, UNCERTAINTY_VAR) if n in src]
    keep = [*names, *(c for c in ("spatial_ref",) if c in src.variables)]
    src = src[keep]
    for name in src.variables:
        for key in ("chunks", "preferred_chunks", "shards", "compressors", "compressor"):
            src[name].encoding.pop(key, None)
    target = {"time": time_chunk, "y": space_chunk, "x": space_chunk}
    dst_options = {**default_storage_options(dst_url), **(dst_storage_options or {})}
    n_time = src.sizes["time"]
    for first in range(0, n_time, time_chunk):
        block = src.isel(time=slice(first, first + time_chunk)).chunk(target)
        encoding = {n: {"chunks": (time_chunk, space_chunk, space_chunk)} for n in names}
        if first == 0:
            block.to_zarr(
                dst_url,
                mode="w",
                consolidated=False,
                zarr_format=3,
                encoding=encoding,
                storage_options=dst_options or None,
            )
        else:
            block.drop_vars([v for v in ("spatial_ref",) if v in block.variables]).to_zarr(
                dst_url,
                append_dim="time",
                consolidated=False,
                storage_options=dst_options or None,
            )
        log.info("rechunked days %d..%d of %d", first, min(first + time_chunk, n_time), n_time)
    consolidate(dst_url, storage_options=dst_options)  # plain xr.open_zarr, no warning
    _copy_markers(src_url, dst_url, storage_options, dst_options)
    return dst_url


def _copy_markers(
    src_url: str,
    dst_url: str,
    src_options: dict[str, Any] | None,
    dst_options: dict[str, Any] | None,
) -> None:
    src_fs = filesystem(src_url, src_options)
    dst_fs = filesystem(dst_url, dst_options)
    folder = strip_protocol(join(src_url, "_lstcloud", "days"))
    try:
        names = src_fs.ls(folder, detail=False)
    except FileNotFoundError:
        return
    out_folder = strip_protocol(join(dst_url, "_lstcloud", "days"))
    dst_fs.makedirs(out_folder, exist_ok=True)
    for name in names:
        base = str(name).rstrip("/").rsplit("/", 1)[-1]
        with src_fs.open(name, "rb") as fin, dst_fs.open(f"{out_folder}/{base}", "wb") as fout:
            fout.write(fin.read())
