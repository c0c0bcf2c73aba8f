"""Readers of the evaluation data: the ASTER development triplets and the MOD11A1 patches.

Two folder layouts are understood (see ``../shared/data/README.md``):

``aster-dev``
    One sub-folder per sample holding ``modis_lst_1km.tif`` (K, sinusoidal, 926.6 m),
    ``modis_ndvi_250m.tif`` (NDVI, 231.7 m, window offset from the LST window by a few pixels)
    and ``aster_lst_250m_utm31n_x10.tif`` (ASTER AST_08 kinetic temperature, K x 10, UTM 31N).
    The NDVI is put on the LST grid / 4 **by geotransform** (never by array index); pixels
    it does not cover are NaN.
``mod11a1-patches``
    Flat folder of 2-band GeoTIFFs (band 1 LST_Day, band 2 LST_Night, K; 0 = cloud / sea -> NaN).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import rasterio
from affine import Affine
from rasterio.crs import CRS
from rasterio.warp import Resampling, reproject

from lstcloud.errors import ConfigError, GranuleReadError

__all__ = [
    "ASTER_FILE",
    "ASTER_SCALE_K",
    "LST_FILE",
    "NDVI_FILE",
    "DevSample",
    "GeoRaster",
    "ModisPatch",
    "align_to_grid",
    "detect_layout",
    "fill_nearest",
    "fine_grid",
    "iter_dev_samples",
    "iter_mod11a1_patches",
    "list_dev_samples",
    "list_mod11a1_patches",
    "read_raster",
    "select_subset",
]

log = logging.getLogger(__name__)

LST_FILE = "modis_lst_1km.tif"
NDVI_FILE = "modis_ndvi_250m.tif"
ASTER_FILE = "aster_lst_250m_utm31n_x10.tif"
ASTER_SCALE_K = 0.1
"""ASTER file value x this = kelvin."""

Layout = Literal["aster-dev", "mod11a1-patches"]


@dataclass(frozen=True)
class GeoRaster:
    """A single-band raster in memory: values, affine geotransform and CRS.

    Attributes
    ----------
    data
        float32 array (rows, cols), NaN = invalid.
    transform
        Affine transform of the pixel corners.
    crs
        Coordinate reference system.
    """

    data: np.ndarray
    transform: Affine
    crs: CRS

    @property
    def shape(self) -> tuple[int, int]:
        """(rows, cols) of :attr:`data`."""
        return (int(self.data.shape[0]), int(self.data.shape[1]))


@dataclass(frozen=True)
class DevSample:
    """One development triplet of ``aster_h18v04_dev``.

    Attributes
    ----------
    name
        Folder name (``"000"``).
    lst_1km
        MODIS LST (K) on its own 1 km grid.
    ndvi_250m
        NDVI on the LST grid / 4 (shape 4x the LST's), aligned by geotransform; NaN where the
        NDVI window does not reach.
    aster
        ASTER kinetic temperature in K (file value x 0.1), fill values kept as they are
        (0 and 200 K); masking is the ASTER protocol's job. ``None`` when read with
        ``with_aster=False`` (the Wald protocol never opens the ASTER file).
    ndvi_offset_px
        (row, col) offset of the NDVI window in 250 m pixels from the LST window's corner.
    """

    name: str
    lst_1km: GeoRaster
    ndvi_250m: GeoRaster
    aster: GeoRaster | None
    ndvi_offset_px: tuple[float, float]


@dataclass(frozen=True)
class ModisPatch:
    """One MOD11A1 LST patch (K, NaN at cloud / sea) with its 1 km grid."""

    name: str
    lst_1km: GeoRaster


def read_raster(path: str | Path, *, band: int = 1) -> GeoRaster:
    """Read one band of a GeoTIFF as float32 with its transform and CRS.

    Raises
    ------
    GranuleReadError
        When the file is missing or unreadable (the message names it).
    """
    try:
        with rasterio.open(path) as src:
            data = src.read(band).astype(np.float32)
            nodata = src.nodata
            transform, crs = src.transform, src.crs
    except (rasterio.errors.RasterioError, OSError, IndexError) as exc:
        raise GranuleReadError(f"cannot read band {band} of {path}: {exc}") from exc
    if nodata is not None and np.isfinite(nodata):
        data[data == nodata] = np.nan
    return GeoRaster(data=data, transform=transform, crs=crs)


def fine_grid(transform: Affine, shape: tuple[int, int], factor: int = 4) -> tuple[Affine, tuple]:
    """Transform and shape of the grid ``factor`` times finer than (transform, shape)."""
    return transform @ Affine.scale(1.0 / factor), (shape[0] * factor, shape[1] * factor)


def align_to_grid(
    raster: GeoRaster,
    *,
    transform: Affine,
    shape: tuple[int, int],
    crs: CRS | None = None,
    resampling: Resampling = Resampling.nearest,
) -> np.ndarray:
    """Put ``raster`` on the grid (transform, shape, crs) by geotransform.

    With the same CRS and pixel size and an integer offset (the MODIS case) nearest-neighbour
    resampling is an exact shift; pixels the source does not cover are NaN.
    """
    out = np.full(shape, np.nan, dtype=np.float32)
    reproject(
        source=raster.data,
        destination=out,
        src_transform=raster.transform,
        src_crs=raster.crs,
        src_nodata=np.nan,
        dst_transform=transform,
        dst_crs=crs if crs is not None else raster.crs,
        dst_nodata=np.nan,
        resampling=resampling,
    )
    return out


def _pixel_offset(src: Affine, dst: Affine) -> tuple[float, float]:
    """(row, col) of ``src``'s corner in pixels of ``dst``."""
    col, row = (~dst) @ (src.c, src.f)
    return float(row), float(col)


def fill_nearest(image: np.ndarray) -> np.ndarray:
    """Replace NaN by the value of the nearest finite pixel (all-NaN stays NaN)."""
    invalid = ~np.isfinite(image)
    if not invalid.any() or invalid.all():
        return image.copy()
    from scipy import ndimage

    idx = ndimage.distance_transform_edt(invalid, return_distances=False, return_indices=True)
    return image[tuple(idx)]


def detect_layout(root: str | Path) -> Layout:
    """Tell which layout a data folder has (``"aster-dev"`` or ``"mod11a1-patches"``).

    Raises
    ------
    ConfigError
        When the folder is missing or holds neither layout.
    """
    root = Path(root)
    if not root.is_dir():
        raise ConfigError(f"--data {root}: not a folder")
    if any((d / LST_FILE).is_file() for d in root.iterdir() if d.is_dir()):
        return "aster-dev"
    if any(root.glob("*.tif")):
        return "mod11a1-patches"
    raise ConfigError(
        f"--data {root}: neither sample folders with {LST_FILE} (aster-dev layout) "
        "nor 2-band GeoTIFF patches (mod11a1-patches layout)"
    )


def select_subset(
    items: Sequence[str], *, names: Sequence[str] | None = None, limit: int | None = None
) -> list[str]:
    """Pick samples: by name, then ``limit`` of them evenly spread over the sorted list.

    The even spread (``numpy.linspace`` over the indices) keeps a small subset representative
    of the whole period instead of the first days only; it is deterministic.
    """
    chosen = sorted(items)
    if names:
        missing = sorted(set(names) - set(chosen))
        if missing:
            raise ConfigError(f"samples not found: {', '.join(missing)}")
        chosen = [c for c in chosen if c in set(names)]
    if limit is not None:
        if limit < 1:
            raise ConfigError(f"--limit must be >= 1, got {limit}")
        if limit < len(chosen):
            idx = np.unique(np.linspace(0, len(chosen) - 1, limit).round().astype(int))
            chosen = [chosen[i] for i in idx]
    return chosen


def list_dev_samples(root: str | Path) -> list[str]:
    """Names of the sample folders of an ``aster-dev`` folder, sorted."""
    root = Path(root)
    return sorted(d.name for d in root.iterdir() if d.is_dir() and (d / LST_FILE).is_file())


def read_dev_sample(
    folder: str | Path, *, factor: int = 4, with_aster: bool = True
) -> DevSample:
    """Read one triplet folder, aligning the NDVI onto the LST grid / ``factor``.

    ``with_aster=False`` opens only the two MODIS files (``aster`` is then ``None``).
    """
    folder = Path(folder)
    lst = read_raster(folder / LST_FILE)
    ndvi_raw = read_raster(folder / NDVI_FILE)
    transform, shape = fine_grid(lst.transform, lst.shape, factor)
    offset = _pixel_offset(ndvi_raw.transform, transform)
    if not np.allclose(offset, np.round(offset), atol=1e-3):
        log.warning("%s: NDVI window offset %s is not whole 250 m pixels", folder, offset)
    ndvi = align_to_grid(ndvi_raw, transform=transform, shape=shape, crs=lst.crs)
    aster = None
    if with_aster:
        aster_raw = read_raster(folder / ASTER_FILE)
        aster = GeoRaster(
            data=aster_raw.data * np.float32(ASTER_SCALE_K),
            transform=aster_raw.transform,
            crs=aster_raw.crs,
        )
    return DevSample(
        name=folder.name,
        lst_1km=lst,
        ndvi_250m=GeoRaster(data=ndvi, transform=transform, crs=lst.crs),
        aster=aster,
        ndvi_offset_px=offset,
    )


def iter_dev_samples(
    root: str | Path,
    *,
    names: Sequence[str] | None = None,
    limit: int | None = None,
    factor: int = 4,
    with_aster: bool = True,
) -> Iterator[DevSample]:
    """Yield the triplets of an ``aster-dev`` folder (optionally a subset, see
    :func:`select_subset`); ``with_aster=False`` leaves the ASTER files unopened."""
    root = Path(root)
    for name in select_subset(list_dev_samples(root), names=names, limit=limit):
        yield read_dev_sample(root / name, factor=factor, with_aster=with_aster)


def list_mod11a1_patches(root: str | Path) -> list[str]:
    """File names of the GeoTIFF patches of a ``mod11a1-patches`` folder, sorted."""
    return sorted(p.name for p in Path(root).glob("*.tif"))


def iter_mod11a1_patches(
    root: str | Path,
    *,
    band: Literal["day", "night"] = "day",
    names: Sequence[str] | None = None,
    limit: int | None = None,
) -> Iterator[ModisPatch]:
    """Yield MOD11A1 patches (band 1 = day, 2 = night), 0 (cloud / sea) as NaN."""
    if band not in ("day", "night"):
        raise ConfigError(f"band must be 'day' or 'night', got {band!r}")
    root = Path(root)
    for name in select_subset(list_mod11a1_patches(root), names=names, limit=limit):
        raster = read_raster(root / name, band=1 if band == "day" else 2)
        data = raster.data
        data[data <= 0] = np.nan
        yield ModisPatch(name=name.removesuffix(".tif"), lst_1km=raster)
