"""Write MODIS-format granules from a synthetic :class:`~lstcloud.samples.landscape.Landscape`.

- :func:`write_hdf4`: an HDF4-EOS granule as LP DAAC serves them (pyhdf): the real SDS names,
  storage types, attributes (``long_name``, ``units``, ``valid_range``, ``_FillValue``,
  ``scale_factor`` ...), dimension names ``YDim:<grid>``, deflate compression, and the global
  ``StructMetadata.0`` (grid name, size, corner coordinates, sinusoidal projection),
  ``CoreMetadata.0`` (granule id, dates, tile numbers) and ``ArchiveMetadata.0``.
- :func:`write_cogs`: one COG per SDS as Planetary Computer serves them (asset key = SDS name with
  underscores, sinusoidal WKT CRS, 512 px internal tiles, overviews, nodata = fill).
- :func:`corrupt_file`: truncated or garbage copies for bad-input tests.

Values are encoded by :mod:`lstcloud.samples.encoding`; the HDF-EOS metadata text comes from
:mod:`lstcloud.samples.eos_metadata`.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from typing import Literal

import numpy as np

from lstcloud.grid import SINUSOIDAL_WKT, Tile, tile_transform
from lstcloud.products import ProductSpec, VariableSpec, get_product
from lstcloud.readers.hdf4 import HDF4_LOCK
from lstcloud.samples.encoding import encode_product
from lstcloud.samples.eos_metadata import (
    COLLECTION_VERSION,
    archive_metadata,
    core_metadata,
    period_end,
    struct_metadata,
)
from lstcloud.samples.landscape import Landscape, make_landscape

__all__ = [
    "COLLECTION_VERSION",
    "corrupt_file",
    "encode_product",
    "granule_filename",
    "granule_id",
    "write_cogs",
    "write_hdf4",
]

_HDF_TYPES = {
    "int8": "INT8",
    "uint8": "UINT8",
    "int16": "INT16",
    "uint16": "UINT16",
    "int32": "INT32",
    "uint32": "UINT32",
    "float32": "FLOAT32",
}

# MOD11 / MOD21 files describe each calibrated SDS in one extra string attribute.
_LST_DESCRIPTIONS: dict[str, tuple[str, str]] = {
    "LST_Day_1km": ("LST", "LST data * scale_factor"),
    "LST_Night_1km": ("LST", "LST data * scale_factor"),
    "LST_1KM": ("LST", "LST data * scale_factor"),
    "Day_view_time": ("View_time", "View_time data * scale_factor"),
    "Night_view_time": ("View_time", "View_time data * scale_factor"),
    "View_Time": ("View_time", "View_time data * scale_factor"),
    "Day_view_angl": ("View_angle", "View_angle data * scale_factor + add_offset"),
    "Night_view_angl": ("View_angle", "View_angle data * scale_factor + add_offset"),
    "View_Angle": ("View_angle", "View_angle data * scale_factor + add_offset"),
    "Emis_29": ("Emis_29", "Emis_29 data * scale_factor + add_offset"),
    "Emis_31": ("Emis_31", "Emis_31 data * scale_factor + add_offset"),
    "Emis_32": ("Emis_32", "Emis_32 data * scale_factor + add_offset"),
    "Clear_day_cov": ("day clear_sky_cov", "day_clear_sky_cov data * scale_factor"),
    "Clear_night_cov": ("night clear_sky_cov", "nit_clear_sky_cov data * scale_factor"),
}

_DOI_PREFIX = "10.5067/MODIS/"


# ----------------------------------------------------------------------------- names


def _product_date(spec: ProductSpec, date: dt.date) -> dt.date:
    return spec.period_start(date)


def granule_id(
    product: str | ProductSpec,
    tile: Tile | str,
    date: dt.date,
    *,
    production: dt.datetime | None = None,
) -> str:
    """The granule id (file name without ``.hdf``), e.g.
    ``MOD11A1.A2019305.h14v09.061.2019306084028``.

    For composites ``date`` is moved to the start of its compositing period. The production
    time defaults to a deterministic time on the day after the period ends.
    """
    spec = get_product(product)
    t = Tile.parse(tile)
    start = _product_date(spec, date)
    if production is None:
        day = period_end(spec, start) + dt.timedelta(days=1)
        production = dt.datetime(
            day.year, day.month, day.day, (t.h * 7 + t.v * 3) % 24, (t.h * 11) % 60, (t.v * 13) % 60
        )
    prod = f"{production.year}{production.timetuple().tm_yday:03d}{production:%H%M%S}"
    doy = start.timetuple().tm_yday
    return f"{spec.name}.A{start.year}{doy:03d}.{t.id}.{COLLECTION_VERSION}.{prod}"


def granule_filename(
    product: str | ProductSpec,
    tile: Tile | str,
    date: dt.date,
    *,
    production: dt.datetime | None = None,
) -> str:
    """The HDF4 file name of a granule, like ``MOD11A1.A2019305.h14v09.061.2019306084028.hdf``."""
    return granule_id(product, tile, date, production=production) + ".hdf"


def _landscape_for(
    spec: ProductSpec,
    tile: Tile | str,
    date: dt.date,
    *,
    seed: int,
    cloud_fraction: float,
    landscape: Landscape | None,
) -> Landscape:
    if landscape is not None:
        if landscape.tile != Tile.parse(tile).id:
            raise ValueError(f"landscape is for {landscape.tile}, not {Tile.parse(tile).id}")
        return landscape
    return make_landscape(tile, _product_date(spec, date), seed=seed, cloud_fraction=cloud_fraction)


# ----------------------------------------------------------------------------- HDF4


def _set_attr(target: object, name: str, kind: int, value: object) -> None:
    target.attr(name).set(kind, value)  # type: ignore[attr-defined]


def _write_sds_attrs(sds: object, spec: ProductSpec, var: VariableSpec, sdc: object) -> None:
    hdf_type = getattr(sdc, _HDF_TYPES[var.numpy_dtype.name])
    lst_style = spec.qc_scheme in ("MOD11", "MOD21")
    _set_attr(sds, "long_name", sdc.CHAR8, var.long_name)  # type: ignore[attr-defined]
    if var.file_units:
        _set_attr(sds, "units", sdc.CHAR8, var.file_units)  # type: ignore[attr-defined]
    if lst_style:
        _set_attr(sds, "Number Type", sdc.CHAR8, var.numpy_dtype.name)  # type: ignore[attr-defined]
    if var.valid_range is not None:
        _set_attr(sds, "valid_range", hdf_type, list(var.valid_range))
    if var.fill is not None:
        sds.setfillvalue(var.fill)  # type: ignore[attr-defined]
    if lst_style and var.sds in _LST_DESCRIPTIONS:
        key, text = _LST_DESCRIPTIONS[var.sds]
        _set_attr(sds, key, sdc.CHAR8, text)  # type: ignore[attr-defined]
    if var.hdf_scale_factor is not None:
        f64 = sdc.FLOAT64  # type: ignore[attr-defined]
        _set_attr(sds, "scale_factor", f64, var.hdf_scale_factor)
        if lst_style:
            if var.hdf_add_offset is not None:
                _set_attr(sds, "add_offset", f64, var.hdf_add_offset)
            _set_attr(sds, "scale_factor_err", f64, 0.0)
        else:
            _set_attr(sds, "scale_factor_err", f64, 0.0)
            _set_attr(sds, "add_offset", f64, var.hdf_add_offset or 0.0)
        _set_attr(sds, "add_offset_err", f64, 0.0)
        _set_attr(sds, "calibrated_nt", sdc.INT32, 5)  # type: ignore[attr-defined]


def _resolve_path(path: str | os.PathLike[str], filename: str) -> Path:
    out = Path(path)
    if out.is_dir():
        out = out / filename
    out.parent.mkdir(parents=True, exist_ok=True)
    return out


def write_hdf4(
    path: str | os.PathLike[str],
    *,
    product: str | ProductSpec,
    tile: Tile | str,
    date: dt.date,
    seed: int = 0,
    cloud_fraction: float = 0.2,
    landscape: Landscape | None = None,
) -> Path:
    """Write a real-format HDF4-EOS granule of ``product`` for ``tile`` and ``date``.

    Parameters
    ----------
    path
        The file to write, or an existing directory (the file is then named by
        :func:`granule_filename`).
    product, tile, date
        What to write; composites use the start of the period holding ``date``.
    seed, cloud_fraction
        Passed to :func:`~lstcloud.samples.landscape.make_landscape` when ``landscape`` is None.
    landscape
        A ready landscape of the same tile (reused across products of one day).

    Returns
    -------
    pathlib.Path
        The written file.
    """

    spec = get_product(product)
    t = Tile.parse(tile)
    start = _product_date(spec, date)
    land = _landscape_for(
        spec, t, date, seed=seed, cloud_fraction=cloud_fraction, landscape=landscape
    )
    arrays = encode_product(spec, land, date=start)
    gid = granule_id(spec, t, start)
    out = _resolve_path(path, gid + ".hdf")
    tmp = out.with_name(out.name + ".part")
    with HDF4_LOCK:  # the HDF4 library is not thread-safe
        _write_hdf4_locked(tmp, spec, t, start, gid, arrays)
    os.replace(tmp, out)
    return out


def _write_hdf4_locked(
    tmp: Path,
    spec: ProductSpec,
    t: Tile,
    start: dt.date,
    gid: str,
    arrays: dict[str, np.ndarray],
) -> None:
    from pyhdf.SD import SD, SDC

    sd = SD(str(tmp), SDC.WRITE | SDC.CREATE | SDC.TRUNC)
    try:
        for name, data in arrays.items():
            var = spec.variables[name]
            sds = sd.create(name, getattr(SDC, _HDF_TYPES[var.numpy_dtype.name]), data.shape)
            try:
                sds.dim(0).setname(f"YDim:{spec.grid_name}")
                sds.dim(1).setname(f"XDim:{spec.grid_name}")
                _write_sds_attrs(sds, spec, var, SDC)
                sds.setcompress(SDC.COMP_DEFLATE, value=1)
                sds[:] = data
            finally:
                sds.endaccess()
        _set_attr(sd, "HDFEOSVersion", SDC.CHAR8, "HDFEOS_V2.19")
        _set_attr(sd, "StructMetadata.0", SDC.CHAR8, struct_metadata(spec, t))
        _set_attr(sd, "CoreMetadata.0", SDC.CHAR8, core_metadata(spec, t, start, gid))
        _set_attr(sd, "ArchiveMetadata.0", SDC.CHAR8, archive_metadata(spec, t))
        doi = f"{_DOI_PREFIX}{spec.name}.{COLLECTION_VERSION}"
        _set_attr(sd, "identifier_product_doi", SDC.CHAR8, doi)
        _set_attr(sd, "identifier_product_doi_authority", SDC.CHAR8, "http://dx.doi.org")
    finally:
        sd.end()


# ----------------------------------------------------------------------------- COGs


def write_cogs(
    directory: str | os.PathLike[str],
    *,
    product: str | ProductSpec,
    tile: Tile | str,
    date: dt.date,
    seed: int = 0,
    cloud_fraction: float = 0.2,
    landscape: Landscape | None = None,
) -> dict[str, Path]:
    """Write one COG per SDS of ``product``, like Planetary Computer's ``modis-*-061`` assets.

    Files are named ``<granule id>_<asset key>.tif``; the asset key is the SDS name with spaces
    replaced by underscores. Sinusoidal CRS (WKT), deflate, 512 px internal tiles, overviews,
    nodata = the SDS fill value, band scale/offset/unit set from the spec.

    Returns
    -------
    dict
        Asset key -> written path.
    """
    from rasterio.crs import CRS
    from rasterio.io import MemoryFile
    from rasterio.shutil import copy as rio_copy

    spec = get_product(product)
    t = Tile.parse(tile)
    start = _product_date(spec, date)
    land = _landscape_for(
        spec, t, date, seed=seed, cloud_fraction=cloud_fraction, landscape=landscape
    )
    arrays = encode_product(spec, land, date=start)
    gid = granule_id(spec, t, start)
    folder = Path(directory)
    folder.mkdir(parents=True, exist_ok=True)
    crs = CRS.from_wkt(SINUSOIDAL_WKT)
    transform = tile_transform(t, spec.resolution)
    out: dict[str, Path] = {}
    for name, data in arrays.items():
        var = spec.variables[name]
        key = var.pc_asset_key
        path = folder / f"{gid}_{key}.tif"
        profile = {
            "driver": "GTiff",
            "dtype": data.dtype.name,
            "count": 1,
            "height": data.shape[0],
            "width": data.shape[1],
            "crs": crs,
            "transform": transform,
            "nodata": var.fill,
        }
        with MemoryFile() as mem:
            with mem.open(**profile) as ds:
                ds.write(data, 1)
                if var.kind == "data":
                    ds.scales = (var.scale,)
                    ds.offsets = (var.offset,)
                    ds.units = (var.units,)
                ds.set_band_description(1, name)
                ds.update_tags(1, long_name=var.long_name)
            with mem.open() as src:
                tmp = path.with_name(path.name + ".part")
                rio_copy(
                    src,
                    str(tmp),
                    driver="COG",
                    BLOCKSIZE=512,
                    COMPRESS="DEFLATE",
                    LEVEL=1,
                    OVERVIEWS="AUTO",
                    RESAMPLING="NEAREST",
                )
        os.replace(tmp, path)
        out[key] = path
    return out


# ----------------------------------------------------------------------------- bad input


def corrupt_file(
    path: str | os.PathLike[str],
    *,
    mode: Literal["truncate", "garbage"] = "truncate",
    keep_fraction: float = 0.4,
) -> Path:
    """Damage a file in place for bad-input tests.

    Parameters
    ----------
    path
        The file to damage.
    mode
        ``"truncate"``: keep only the first ``keep_fraction`` of the bytes (a download cut
        short). ``"garbage"``: same size, deterministic random bytes (not the format at all).
    keep_fraction
        Fraction kept by ``"truncate"``.

    Returns
    -------
    pathlib.Path
        ``path``.
    """
    p = Path(path)
    size = p.stat().st_size
    if mode == "truncate":
        with p.open("r+b") as fh:
            fh.truncate(max(1, int(size * keep_fraction)))
    elif mode == "garbage":
        rng = np.random.default_rng(size)
        p.write_bytes(rng.integers(0, 256, size=size, dtype=np.uint8).tobytes())
    else:
        raise ValueError(f"unknown corruption mode {mode!r} (truncate or garbage)")
    return p
