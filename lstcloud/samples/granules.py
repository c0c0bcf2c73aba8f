"""Write MODIS-format granules from a synthetic :class:`~lstcloud.samples.landscape.Landscape`.

- :func:`write_hdf4`: an HDF4-EOS granule as LP DAAC serves them (pyhdf): the real SDS names,
  storage types, attributes (``long_name``, ``units``, ``valid_range``, ``_FillValue``,
  ``scale_factor`` ...), dimension names ``YDim:<grid>``, deflate compression, and the global
  ``StructMetadata.0`` (grid name, size, corner coordinates, sinusoidal projection),
  ``CoreMetadata.0`` (granule id, dates, tile numbers) and ``ArchiveMetadata.0``.
- :func:`write_cogs`: one COG per SDS as Planetary Computer serves them (asset key = SDS name with
  underscores, sinusoidal WKT CRS, 512 px internal tiles, overviews, nodata = fill).
- :func:`corrupt_file`: truncated or garbage copies for bad-input tests.

The encoded values follow the real scales, fills and QC bit layouts (:mod:`lstcloud.products.qc`):
cloudy pixels are flagged (MOD11: LST not produced; MOD21: LST produced but "cloud detected";
MOD09: cloud state; MOD13: probably cloudy, mixed clouds), a few per cent of clear pixels carry
lower-quality codes that the default QC policies reject, and water is fill.
"""

from __future__ import annotations

import datetime as dt
import math
import os
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Literal

import numpy as np

from lstcloud.grid import EARTH_RADIUS, SINUSOIDAL_WKT, Tile, tile_transform
from lstcloud.products import ProductSpec, VariableSpec, get_product
from lstcloud.samples.landscape import Landscape, block_mean, dilate, make_landscape

__all__ = [
    "COLLECTION_VERSION",
    "corrupt_file",
    "encode_product",
    "granule_filename",
    "granule_id",
    "write_cogs",
    "write_hdf4",
]

#: Collection version written in file names and metadata.
COLLECTION_VERSION = "061"

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


def _end_date(spec: ProductSpec, start: dt.date) -> dt.date:
    end = start + dt.timedelta(days=spec.composite_days - 1)
    return min(end, dt.date(start.year, 12, 31))


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
        day = _end_date(spec, start) + dt.timedelta(days=1)
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


# ----------------------------------------------------------------------------- encoding


def _rng(spec: ProductSpec, landscape: Landscape, start: dt.date) -> np.random.Generator:
    t = Tile.parse(landscape.tile)
    return np.random.default_rng(
        [landscape.seed, t.h, t.v, start.toordinal(), zlib.crc32(spec.name.encode())]
    )


def _up4(mask: np.ndarray) -> np.ndarray:
    return np.repeat(np.repeat(mask, 4, axis=0), 4, axis=1)


def _classes(u: np.ndarray, cumulative: tuple[float, ...]) -> np.ndarray:
    """Class index per pixel: 0 below cumulative[0], 1 below cumulative[1], ..."""
    return np.searchsorted(np.asarray(cumulative), u, side="right").astype(np.uint16)


def _enc(spec: ProductSpec, name: str, values: np.ndarray) -> np.ndarray:
    return spec.variables[name].encode(values)


def _encode_mod11(spec: ProductSpec, land: Landscape, rng: np.random.Generator) -> dict:
    ndvi_1km = block_mean(land.ndvi_250m)
    out: dict[str, np.ndarray] = {}
    shape = land.lst_day_1km.shape
    for part, lst, cloud, view in (
        ("Day", land.lst_day_1km, land.cloud_1km, land.view_time_day_1km),
        ("Night", land.lst_night_1km, land.cloud_night_1km, land.view_time_night_1km),
    ):
        valid = np.isfinite(lst)
        lst_err = _classes(rng.random(shape), (0.70, 0.95, 0.99))  # <=1, <=2, <=3, >3 K
        emis_err = (rng.random(shape) > 0.9).astype(np.uint16)
        mandatory = np.where((lst_err == 0) & (emis_err == 0), 0, 1).astype(np.uint16)
        qc = mandatory | (emis_err << 4) | (lst_err << 6)
        qc = np.where(valid, qc, np.where(cloud, 2, 3)).astype(np.uint8)
        out[f"LST_{part}_1km"] = _enc(spec, f"LST_{part}_1km", lst)
        out[f"QC_{part}"] = qc
        out[f"{part}_view_time"] = _enc(spec, f"{part}_view_time", view)
        angle = np.where(valid, land.view_angle_1km, np.nan)
        out[f"{part}_view_angl"] = _enc(spec, f"{part}_view_angl", angle)
        cover = np.where(valid, 2.0 + 10.0 * rng.random(shape), np.nan)
        out[f"Clear_{part.lower()}_cov"] = _enc(spec, f"Clear_{part.lower()}_cov", cover)
    any_lst = np.isfinite(land.lst_day_1km) | np.isfinite(land.lst_night_1km)
    for band, base in (("Emis_31", 0.968), ("Emis_32", 0.972)):
        emis = np.where(any_lst, base + 0.018 * np.nan_to_num(ndvi_1km, nan=0.5), np.nan)
        out[band] = _enc(spec, band, emis)
    return out


def _encode_mod21(spec: ProductSpec, land: Landscape, rng: np.random.Generator) -> dict:
    night = spec.name.endswith("N")
    lst = land.lst_night_1km if night else land.lst_day_1km
    cloud = land.cloud_night_1km if night else land.cloud_1km
    view = land.view_time_night_1km if night else land.view_time_day_1km
    shape = lst.shape
    ndvi_1km = np.nan_to_num(block_mean(land.ndvi_250m), nan=0.5)
    clear = np.isfinite(lst)
    # MOD21 still retrieves LST under detected clouds (cold cloud tops), flagged in QC.
    cloudy = cloud & ~clear & ~(block_mean(land.water_250m.astype(np.float32)) > 0.5)
    lst_out = np.where(cloudy, 250.0 + 12.0 * rng.random(shape), lst)
    produced = clear | cloudy
    lst_acc = _classes(rng.random(shape), (0.05, 0.20, 0.50))  # 00 >2 K ... 11 <1 K
    near = dilate(cloud, 2) & ~cloud
    cloud_flag = np.where(cloud, 3, np.where(near, 2, 0)).astype(np.uint16)
    mandatory = np.where(cloudy, 2, np.where(lst_acc == 3, 0, 1)).astype(np.uint16)
    mmd = np.where(ndvi_1km > 0.5, 3, 1).astype(np.uint16)
    qc = (
        mandatory
        | (cloud_flag << 4)
        | (np.uint16(1) << 6)  # TES iterations: nominal
        | (np.uint16(2) << 8)  # atmospheric opacity 0.1-0.2
        | (mmd << 10)
        | (np.uint16(2) << 12)  # emissivity accuracy 0.01-0.015
        | (lst_acc << 14)
    ).astype(np.uint16)
    qc[~produced] = 3  # not produced (missing L1B / water)
    view = np.where(produced, np.where(np.isnan(view), 10.6, view), np.nan)
    out = {
        "LST_1KM": _enc(spec, "LST_1KM", lst_out),
        "QC": qc,
        "View_Time": _enc(spec, "View_Time", view),
        "View_Angle": _enc(spec, "View_Angle", np.where(produced, land.view_angle_1km, np.nan)),
    }
    for band, base in (("Emis_29", 0.955), ("Emis_31", 0.968), ("Emis_32", 0.972)):
        out[band] = _enc(spec, band, np.where(produced, base + 0.018 * ndvi_1km, np.nan))
    return out


def _encode_mod09(spec: ProductSpec, land: Landscape, rng: np.random.Generator) -> dict:
    names = {v.role: k for k, v in spec.variables.items() if v.role}
    red_name, nir_name, qc_name = names["red"], names["nir"], names["ndvi_qc"]
    water = land.water_250m
    cloud = _up4(land.cloud_1km) & ~water
    bright = _up4(rng.random(land.cloud_1km.shape, dtype=np.float32) * np.float32(0.05))
    red = np.where(cloud, np.float32(0.30) + bright, land.red_250m)
    nir = np.where(cloud, np.float32(0.33) + bright, land.nir_250m)
    noisy = _up4(rng.random(land.cloud_1km.shape) < 0.01)  # band 1 "noisy detector" (1 km)
    modland = np.where(cloud, 1, np.where(noisy, 1, 0)).astype(np.uint16)
    b1 = np.where(noisy, 7, 0).astype(np.uint16)
    qc = modland | (b1 << 4) | np.uint16(1 << 12)
    out = {red_name: _enc(spec, red_name, red), nir_name: _enc(spec, nir_name, nir)}
    state_name = "sur_refl_state_250m"
    if state_name in spec.variables:  # MOD09Q1: cloud state lives in the state SDS
        shadow = np.roll(cloud, (8, 8), axis=(0, 1)) & ~cloud
        state = (
            np.where(cloud, 1, 0).astype(np.uint16)
            | (shadow.astype(np.uint16) << 2)
            | np.uint16(1 << 3)  # land
        )
        state[water] = spec.variables[state_name].fill
        out[state_name] = state.astype(np.uint16)
    else:  # MOD09GQ: cloud state in bits 2-3 of the QC word
        qc |= np.where(cloud, 1, 0).astype(np.uint16) << 2
    qc = qc.astype(np.uint16)
    qc[water] = spec.variables[qc_name].fill
    out[qc_name] = qc
    return out


def _encode_mod13(spec: ProductSpec, land: Landscape, rng: np.random.Generator) -> dict:
    water = land.water_250m
    cloud = _up4(land.cloud_1km) & ~water
    shape = water.shape
    f32 = np.float32
    red = np.asarray(land.red_250m)
    nir = np.asarray(land.nir_250m)
    ndvi = np.where(cloud, f32(0.3) * land.ndvi_250m, land.ndvi_250m)
    # Layers nothing downstream uses (blue, MIR, EVI) carry 1 km detail only: they compress
    # and encode much faster, and keep the file format complete.
    red_1km, nir_1km = block_mean(red), block_mean(nir)
    blue = _up4(f32(0.6) * red_1km)
    mir = _up4(f32(0.5) * red_1km + f32(0.05))
    evi_1km = (
        f32(2.5) * (nir_1km - red_1km) / (nir_1km + f32(6.0) * red_1km - f32(4.5) * red_1km + 1)
    )
    evi = _up4(np.where(land.cloud_1km, f32(0.3) * evi_1km, evi_1km))
    # Quality dice are drawn per 1 km block (cheaper, and compresses like real QC layers).
    shape_1km = land.cloud_1km.shape
    modland = np.where(cloud, 2, _up4(_classes(rng.random(shape_1km), (0.8,))))
    useful = _up4(_classes(rng.random(shape_1km), (0.6, 0.9, 0.98)))
    useful[useful == 3] = 12  # lowest quality: rejected by the default policy
    shadow = _up4(rng.random(shape_1km) < 0.005)
    vi_q = (
        modland.astype(np.uint16)
        | (useful << 2)
        | np.uint16(1 << 6)  # aerosol low
        | (cloud.astype(np.uint16) << 10)  # mixed clouds
        | np.uint16(1 << 11)  # land
        | (shadow.astype(np.uint16) << 15)
    ).astype(np.uint16)
    vi_q[water] = spec.variables["250m 16 days VI Quality"].fill
    reliability = np.where(cloud, 3, np.where(modland == 0, 0, 1)).astype(np.int8)
    reliability[water] = -1
    start_doy = land.date.timetuple().tm_yday
    doy = _up4(start_doy + rng.integers(0, 16, size=shape_1km)).astype(np.float32)
    doy[water] = np.nan
    vza = np.abs(_up4(land.view_angle_1km)) * np.float32(0.9)
    angles = {
        "250m 16 days view zenith angle": vza,
        "250m 16 days sun zenith angle": np.full(shape, 35.0, dtype=np.float32),
        "250m 16 days relative azimuth angle": np.full(shape, 120.0, dtype=np.float32),
    }
    out = {
        "250m 16 days NDVI": _enc(spec, "250m 16 days NDVI", ndvi),
        "250m 16 days EVI": _enc(spec, "250m 16 days EVI", evi),
        "250m 16 days VI Quality": vi_q,
        "250m 16 days red reflectance": _enc(spec, "250m 16 days red reflectance", red),
        "250m 16 days NIR reflectance": _enc(spec, "250m 16 days NIR reflectance", nir),
        "250m 16 days blue reflectance": _enc(spec, "250m 16 days blue reflectance", blue),
        "250m 16 days MIR reflectance": _enc(spec, "250m 16 days MIR reflectance", mir),
        "250m 16 days composite day of the year": _enc(
            spec, "250m 16 days composite day of the year", doy
        ),
        "250m 16 days pixel reliability": reliability,
    }
    for name, values in angles.items():
        out[name] = _enc(spec, name, np.where(water, np.nan, values))
    return out


_ENCODERS: dict[str, Callable[[ProductSpec, Landscape, np.random.Generator], dict]] = {
    "MOD11": _encode_mod11,
    "MOD21": _encode_mod21,
    "MOD09": _encode_mod09,
    "MOD13": _encode_mod13,
}


def encode_product(
    product: str | ProductSpec, landscape: Landscape, *, date: dt.date | None = None
) -> dict[str, np.ndarray]:
    """Raw SDS arrays (storage dtypes) of ``product`` for ``landscape``, in the spec's order.

    Deterministic in (product, landscape tile / seed, date).
    """
    spec = get_product(product)
    start = _product_date(spec, date or landscape.date)
    arrays = _ENCODERS[spec.qc_scheme](spec, landscape, _rng(spec, landscape, start))
    out = {}
    for name in spec.stored_variables:
        arr = np.ascontiguousarray(arrays[name], dtype=spec.variables[name].numpy_dtype)
        if arr.shape != spec.shape:
            raise AssertionError(f"{spec.name} {name}: shape {arr.shape} != {spec.shape}")
        out[name] = arr
    return out


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


def _corners(tile: Tile) -> tuple[float, float, float, float]:
    """Tile corners as the MODIS production code prints them (tile = 2 pi R / 36, unrounded)."""
    size = 2.0 * math.pi * EARTH_RADIUS / 36.0
    left, top = (tile.h - 18) * size, (9 - tile.v) * size
    return left, top - size, left + size, top


def _struct_metadata(spec: ProductSpec, tile: Tile) -> str:
    left, bottom, right, top = _corners(tile)
    n = spec.shape[0]
    fields = []
    for i, name in enumerate(spec.stored_variables, start=1):
        dtype = spec.variables[name].numpy_dtype.name.upper()
        fields.append(
            f"\t\t\tOBJECT=DataField_{i}\n"
            f'\t\t\t\tDataFieldName="{name}"\n'
            f"\t\t\t\tDataType=DFNT_{dtype}\n"
            f'\t\t\t\tDimList=("YDim","XDim")\n'
            f"\t\t\tEND_OBJECT=DataField_{i}\n"
        )
    return (
        "GROUP=SwathStructure\nEND_GROUP=SwathStructure\nGROUP=GridStructure\n"
        "\tGROUP=GRID_1\n"
        f'\t\tGridName="{spec.grid_name}"\n'
        f"\t\tXDim={n}\n\t\tYDim={n}\n"
        f"\t\tUpperLeftPointMtrs=({left:.6f},{top:.6f})\n"
        f"\t\tLowerRightMtrs=({right:.6f},{bottom:.6f})\n"
        "\t\tProjection=GCTP_SNSOID\n"
        "\t\tProjParams=(6371007.181000,0,0,0,0,0,0,0,86400,0,0,0,0)\n"
        "\t\tSphereCode=-1\n\t\tGridOrigin=HDFE_GD_UL\n"
        "\t\tGROUP=Dimension\n\t\tEND_GROUP=Dimension\n"
        "\t\tGROUP=DataField\n" + "".join(fields) + "\t\tEND_GROUP=DataField\n"
        "\t\tGROUP=MergedFields\n\t\tEND_GROUP=MergedFields\n"
        "\tEND_GROUP=GRID_1\nEND_GROUP=GridStructure\n"
        "GROUP=PointStructure\nEND_GROUP=PointStructure\nEND\n"
    )


def _odl_object(name: str, value: object, indent: str = "    ") -> str:
    text = f'"{value}"' if isinstance(value, str) else str(value)
    return (
        f"{indent}OBJECT                 = {name}\n"
        f"{indent}  NUM_VAL              = 1\n"
        f"{indent}  VALUE                = {text}\n"
        f"{indent}END_OBJECT             = {name}\n\n"
    )


def _psa(name: str, value: str, cls: int) -> str:
    return (
        "    OBJECT                 = ADDITIONALATTRIBUTESCONTAINER\n"
        f'      CLASS                = "{cls}"\n\n'
        "      OBJECT                 = ADDITIONALATTRIBUTENAME\n"
        f'        CLASS                = "{cls}"\n'
        "        NUM_VAL              = 1\n"
        f'        VALUE                = "{name}"\n'
        "      END_OBJECT             = ADDITIONALATTRIBUTENAME\n\n"
        "      GROUP                  = INFORMATIONCONTENT\n"
        f'        CLASS                = "{cls}"\n\n'
        "        OBJECT                 = PARAMETERVALUE\n"
        "          NUM_VAL              = 1\n"
        f'          CLASS                = "{cls}"\n'
        f'          VALUE                = "{value}"\n'
        "        END_OBJECT             = PARAMETERVALUE\n\n"
        "      END_GROUP              = INFORMATIONCONTENT\n\n"
        "    END_OBJECT             = ADDITIONALATTRIBUTESCONTAINER\n\n"
    )


def _core_metadata(spec: ProductSpec, tile: Tile, start: dt.date, gid: str) -> str:
    end = _end_date(spec, start)
    production = gid.rsplit(".", 1)[-1]
    prod_dt = dt.datetime.strptime(production, "%Y%j%H%M%S")
    return (
        "\nGROUP                  = INVENTORYMETADATA\n  GROUPTYPE            = MASTERGROUP\n\n"
        "  GROUP                  = ECSDATAGRANULE\n\n"
        + _odl_object("LOCALGRANULEID", gid + ".hdf")
        + _odl_object("PRODUCTIONDATETIME", f"{prod_dt:%Y-%m-%dT%H:%M:%S}.000Z")
        + _odl_object("DAYNIGHTFLAG", "Day" if not spec.name.endswith("N") else "Night")
        + _odl_object("LOCALVERSIONID", "lstcloud synthetic")
        + "  END_GROUP              = ECSDATAGRANULE\n\n"
        "  GROUP                  = RANGEDATETIME\n\n"
        + _odl_object("RANGEENDINGDATE", end.isoformat())
        + _odl_object("RANGEENDINGTIME", "23:59:59")
        + _odl_object("RANGEBEGINNINGDATE", start.isoformat())
        + _odl_object("RANGEBEGINNINGTIME", "00:00:00")
        + "  END_GROUP              = RANGEDATETIME\n\n"
        "  GROUP                  = COLLECTIONDESCRIPTIONCLASS\n\n"
        + _odl_object("VERSIONID", int(COLLECTION_VERSION))
        + _odl_object("SHORTNAME", spec.name)
        + "  END_GROUP              = COLLECTIONDESCRIPTIONCLASS\n\n"
        "  GROUP                  = ADDITIONALATTRIBUTES\n\n"
        + _psa("HORIZONTALTILENUMBER", f"{tile.h:02d}", 1)
        + _psa("VERTICALTILENUMBER", f"{tile.v:02d}", 2)
        + "  END_GROUP              = ADDITIONALATTRIBUTES\n\n"
        "END_GROUP              = INVENTORYMETADATA\n\nEND\n"
    )


def _archive_metadata(spec: ProductSpec, tile: Tile) -> str:
    return (
        "\nGROUP                  = ARCHIVEDMETADATA\n  GROUPTYPE            = MASTERGROUP\n\n"
        "  GROUP                  = TILEINFO\n\n"
        + _odl_object("HORIZONTALTILENUMBER", f"{tile.h:02d}")
        + _odl_object("VERTICALTILENUMBER", f"{tile.v:02d}")
        + "  END_GROUP              = TILEINFO\n\n"
        + _odl_object("LONGNAME", spec.long_name, "  ")
        + _odl_object(
            "CHARACTERISTICBINSIZE",
            926.625433055556 if spec.resolution == "1km" else 231.656358263889,
            "  ",
        )
        + "END_GROUP              = ARCHIVEDMETADATA\n\nEND\n"
    )


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
    from pyhdf.SD import SD, SDC

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
        _set_attr(sd, "StructMetadata.0", SDC.CHAR8, _struct_metadata(spec, t))
        _set_attr(sd, "CoreMetadata.0", SDC.CHAR8, _core_metadata(spec, t, start, gid))
        _set_attr(sd, "ArchiveMetadata.0", SDC.CHAR8, _archive_metadata(spec, t))
        doi = f"{_DOI_PREFIX}{spec.name}.{COLLECTION_VERSION}"
        _set_attr(sd, "identifier_product_doi", SDC.CHAR8, doi)
        _set_attr(sd, "identifier_product_doi_authority", SDC.CHAR8, "http://dx.doi.org")
    finally:
        sd.end()
    os.replace(tmp, out)
    return out


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
