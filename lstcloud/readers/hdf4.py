"""Read HDF4-EOS grid granules with pyhdf (the PyPI rasterio wheel has no HDF4 driver).

:func:`parse_struct_metadata` turns the ``StructMetadata.0`` ODL text into :class:`EosGrid`
(grid name, size, corner coordinates -> affine transform); :func:`read_hdf4` returns the raw
SDS arrays of one granule, its grid and the few inventory facts (dates, tile, short name) kept in
``CoreMetadata.0``. Decoding to physical units is :mod:`lstcloud.readers.decode`'s job.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from affine import Affine

from lstcloud.errors import GranuleReadError, MissingAssetError, redact_url

#: The HDF4 library is not thread-safe: every pyhdf call of this module holds this lock.
HDF4_LOCK = threading.Lock()

__all__ = [
    "HDF4_LOCK",
    "EosGrid",
    "Hdf4Granule",
    "parse_core_metadata",
    "parse_struct_metadata",
    "read_hdf4",
]


@dataclass(frozen=True)
class EosGrid:
    """One HDF-EOS grid of ``StructMetadata.0``.

    Attributes
    ----------
    name
        ``GridName`` (``"MODIS_Grid_Daily_1km_LST"``).
    xdim, ydim
        Columns and rows.
    upper_left, lower_right
        Outer corner coordinates in projection metres (``UpperLeftPointMtrs``,
        ``LowerRightMtrs``).
    projection
        ``GCTP_SNSOID`` for the MODIS sinusoidal grid.
    proj_params
        ``ProjParams`` (the sphere radius first).
    fields
        ``DataFieldName`` values in file order.
    """

    name: str
    xdim: int
    ydim: int
    upper_left: tuple[float, float]
    lower_right: tuple[float, float]
    projection: str = "GCTP_SNSOID"
    proj_params: tuple[float, ...] = ()
    fields: tuple[str, ...] = field(default=())

    @property
    def shape(self) -> tuple[int, int]:
        """(rows, columns)."""
        return (self.ydim, self.xdim)

    @property
    def transform(self) -> Affine:
        """Affine transform of the pixel corners (north up)."""
        (x0, y0), (x1, y1) = self.upper_left, self.lower_right
        return Affine((x1 - x0) / self.xdim, 0.0, x0, 0.0, (y1 - y0) / self.ydim, y0)


_NUM = r"[-+]?\d+(?:\.\d*)?(?:[eE][-+]?\d+)?"


def _pair(text: str, key: str) -> tuple[float, float]:
    m = re.search(rf"\b{key}=\(\s*({_NUM})\s*,\s*({_NUM})\s*\)", text)
    if m is None:
        raise ValueError(f"StructMetadata.0 has no {key}")
    return float(m.group(1)), float(m.group(2))


def parse_struct_metadata(text: str) -> list[EosGrid]:
    """Parse the grids of an HDF-EOS ``StructMetadata.0`` text.

    Raises
    ------
    ValueError
        The text holds no grid or a grid lacks its size or corners.
    """
    text = text.rstrip("\x00")
    grids = []
    for block in re.findall(r"GROUP=GRID_\d+(.*?)END_GROUP=GRID_\d+", text, flags=re.DOTALL):
        name = re.search(r'GridName="([^"]*)"', block)
        xdim = re.search(r"\bXDim=(\d+)", block)
        ydim = re.search(r"\bYDim=(\d+)", block)
        if name is None or xdim is None or ydim is None:
            raise ValueError("StructMetadata.0 grid without GridName/XDim/YDim")
        proj = re.search(r"\bProjection=(\w+)", block)
        params = re.search(r"\bProjParams=\(([^)]*)\)", block)
        grids.append(
            EosGrid(
                name=name.group(1),
                xdim=int(xdim.group(1)),
                ydim=int(ydim.group(1)),
                upper_left=_pair(block, "UpperLeftPointMtrs"),
                lower_right=_pair(block, "LowerRightMtrs"),
                projection=proj.group(1) if proj else "",
                proj_params=tuple(float(v) for v in params.group(1).split(",")) if params else (),
                fields=tuple(re.findall(r'DataFieldName="([^"]*)"', block)),
            )
        )
    if not grids:
        raise ValueError("StructMetadata.0 holds no grid")
    return grids


def _odl_value(text: str, name: str) -> str | None:
    m = re.search(
        rf"OBJECT\s*=\s*{name}\b.*?VALUE\s*=\s*(\"[^\"]*\"|[^\n]*)", text, flags=re.DOTALL
    )
    return m.group(1).strip().strip('"') if m else None


def _psa(text: str, name: str) -> str | None:
    m = re.search(
        rf'VALUE\s*=\s*"{name}".*?OBJECT\s*=\s*PARAMETERVALUE.*?VALUE\s*=\s*(\"[^\"]*\"|[^\n]*)',
        text,
        flags=re.DOTALL,
    )
    return m.group(1).strip().strip('"') if m else None


def parse_core_metadata(text: str) -> dict[str, object]:
    """The inventory facts lstcloud uses from ``CoreMetadata.0``.

    Returns
    -------
    dict
        ``short_name``, ``start_date``, ``end_date`` (:class:`datetime.date`), ``h``, ``v``
        (int tile numbers), ``local_granule_id``; keys absent when not found.
    """
    out: dict[str, object] = {}
    for key, odl in (
        ("short_name", "SHORTNAME"),
        ("local_granule_id", "LOCALGRANULEID"),
    ):
        value = _odl_value(text, odl)
        if value:
            out[key] = value
    for key, odl in (("start_date", "RANGEBEGINNINGDATE"), ("end_date", "RANGEENDINGDATE")):
        value = _odl_value(text, odl)
        if value:
            with contextlib.suppress(ValueError):
                out[key] = dt.date.fromisoformat(value[:10])
    for key, psa in (("h", "HORIZONTALTILENUMBER"), ("v", "VERTICALTILENUMBER")):
        value = _psa(text, psa)
        if value and value.strip().isdigit():
            out[key] = int(value)
    return out


@dataclass(frozen=True)
class Hdf4Granule:
    """The raw content of one HDF4-EOS granule.

    Attributes
    ----------
    arrays
        SDS name -> raw numpy array (storage dtype).
    attrs
        SDS name -> the SDS attributes as pyhdf returns them.
    grid
        The HDF-EOS grid holding the SDS.
    core
        :func:`parse_core_metadata` of ``CoreMetadata.0`` (may be empty).
    """

    arrays: dict[str, np.ndarray]
    attrs: dict[str, dict[str, object]]
    grid: EosGrid
    core: dict[str, object]


#: The first four bytes of every HDF4 file (``DFH_MAGIC``).
HDF4_MAGIC = b"\x0e\x03\x13\x01"
_OTHER_FORMATS = (
    (b"\x89HDF\r\n\x1a\n", "it is an HDF5 / netCDF-4 file"),
    (b"CDF", "it is a netCDF-3 file"),
    (b"II*\x00", "it is a TIFF"),
    (b"MM\x00*", "it is a TIFF"),
    (b"PK\x03\x04", "it is a zip archive"),
    (b"\x1f\x8b", "it is gzip-compressed"),
    (b"<", "it is text / HTML or XML (an error page instead of the granule?)"),
    (b"{", "it is JSON text (an error response instead of the granule?)"),
)


def _not_hdf4(path: str | Path) -> str | None:
    """Why the file at ``path`` is not HDF4 (``None`` when it starts with the HDF4 magic)."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(8)
    except OSError as exc:
        return f"it cannot be read ({exc})"
    if head.startswith(HDF4_MAGIC):
        return None
    if not head:
        return "it is empty (0 bytes)"
    for magic, what in _OTHER_FORMATS:
        if head.startswith(magic):
            return what
    return f"it starts with bytes {head[:4].hex(' ')}, an HDF4 file with {HDF4_MAGIC.hex(' ')}"


def read_hdf4(
    path: str | Path,
    sds_names: Sequence[str],
    *,
    href: str | None = None,
    grid_name: str | None = None,
) -> Hdf4Granule:
    """Read the SDS ``sds_names`` of the HDF4-EOS granule at local ``path``.

    Parameters
    ----------
    path
        Local file path (pyhdf cannot read from a stream).
    sds_names
        SDS to read, by exact name.
    href
        The original href, for error messages (defaults to ``path``).
    grid_name
        Expected HDF-EOS grid name; the first grid is used when ``None`` or absent.

    Raises
    ------
    GranuleReadError
        Not an HDF4 file, truncated, unreadable SDS, no or wrong StructMetadata.
    MissingAssetError
        A requested SDS is not in the file.
    """

    name = redact_url(str(href if href is not None else path))
    with HDF4_LOCK:
        return _read_locked(path, sds_names, name=name, grid_name=grid_name)


def _read_locked(
    path: str | Path, sds_names: Sequence[str], *, name: str, grid_name: str | None
) -> Hdf4Granule:
    from pyhdf.error import HDF4Error
    from pyhdf.SD import SD, SDC

    kind = _not_hdf4(path)
    if kind is not None:
        raise GranuleReadError(f"{name} is not an HDF4 file: {kind}")
    try:
        sd = SD(str(path), SDC.READ)
    except HDF4Error as exc:
        # libhdf's own text ("File is supported, must be either hdf, cdf, netcdf") misleads
        raise GranuleReadError(
            f"{name} is an HDF4 file that cannot be opened (truncated or corrupt?): {exc}"
        ) from exc
    try:
        try:
            gattrs = sd.attributes()
            grids = parse_struct_metadata(str(gattrs.get("StructMetadata.0", "")))
        except (HDF4Error, ValueError) as exc:
            raise GranuleReadError(f"no HDF-EOS grid metadata in {name}: {exc}") from exc
        grid = next((g for g in grids if g.name == grid_name), grids[0])
        core_text = str(gattrs.get("CoreMetadata.0", ""))
        core = parse_core_metadata(core_text) if core_text else {}
        try:
            available = set(sd.datasets())
        except HDF4Error as exc:
            raise GranuleReadError(f"cannot list the SDS of {name}: {exc}") from exc
        missing = [s for s in sds_names if s not in available]
        if missing:
            raise MissingAssetError(f"{name} lacks SDS {missing} (has: {sorted(available)})")
        arrays: dict[str, np.ndarray] = {}
        attrs: dict[str, dict[str, object]] = {}
        for sds_name in sds_names:
            try:
                sds = sd.select(sds_name)
                try:
                    data = np.asarray(sds.get())
                    attrs[sds_name] = dict(sds.attributes())
                finally:
                    sds.endaccess()
            except HDF4Error as exc:
                raise GranuleReadError(
                    f"cannot read SDS {sds_name!r} of {name} (truncated or corrupt?): {exc}"
                ) from exc
            if data.shape != grid.shape:
                raise GranuleReadError(
                    f"SDS {sds_name!r} of {name} has shape {data.shape}, grid "
                    f"{grid.name} says {grid.shape}"
                )
            arrays[sds_name] = data
    finally:
        sd.end()
    return Hdf4Granule(arrays=arrays, attrs=attrs, grid=grid, core=core)
