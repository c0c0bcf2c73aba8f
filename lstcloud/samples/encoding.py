"""Encode a synthetic landscape into the raw SDS arrays of each MODIS product.

The values follow the real scales, fills and QC bit layouts (:mod:`lstcloud.products.qc`):
cloudy pixels are flagged (MOD11: LST not produced; MOD21: LST produced but "cloud detected";
MOD09: cloud state; MOD13: probably cloudy, mixed clouds), a few per cent of clear pixels carry
lower-quality codes that the default QC policies reject, and water is fill. Quality "dice" are
drawn per 1 km block from a generator seeded by (seed, tile, period, product): deterministic.
"""

from __future__ import annotations

import datetime as dt
import zlib
from collections.abc import Callable

import numpy as np

from lstcloud.grid import Tile
from lstcloud.products import ProductSpec, get_product
from lstcloud.samples.landscape import Landscape, block_mean, dilate

__all__ = ["encode_product", "up4"]


def _rng(spec: ProductSpec, landscape: Landscape, start: dt.date) -> np.random.Generator:
    t = Tile.parse(landscape.tile)
    return np.random.default_rng(
        [landscape.seed, t.h, t.v, start.toordinal(), zlib.crc32(spec.name.encode())]
    )


def up4(mask: np.ndarray) -> np.ndarray:
    """Repeat each 1 km pixel into its 4 x 4 block of 250 m pixels."""
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
    cloud = up4(land.cloud_1km) & ~water
    bright = up4(rng.random(land.cloud_1km.shape, dtype=np.float32) * np.float32(0.05))
    red = np.where(cloud, np.float32(0.30) + bright, land.red_250m)
    nir = np.where(cloud, np.float32(0.33) + bright, land.nir_250m)
    noisy = up4(rng.random(land.cloud_1km.shape) < 0.01)  # band 1 "noisy detector" (1 km)
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
    cloud = up4(land.cloud_1km) & ~water
    shape = water.shape
    f32 = np.float32
    red = np.asarray(land.red_250m)
    nir = np.asarray(land.nir_250m)
    ndvi = np.where(cloud, f32(0.3) * land.ndvi_250m, land.ndvi_250m)
    # Layers nothing downstream uses (blue, MIR, EVI) carry 1 km detail only: they compress
    # and encode much faster, and keep the file format complete.
    red_1km, nir_1km = block_mean(red), block_mean(nir)
    blue = up4(f32(0.6) * red_1km)
    mir = up4(f32(0.5) * red_1km + f32(0.05))
    evi_1km = (
        f32(2.5) * (nir_1km - red_1km) / (nir_1km + f32(6.0) * red_1km - f32(4.5) * red_1km + 1)
    )
    evi = up4(np.where(land.cloud_1km, f32(0.3) * evi_1km, evi_1km))
    # Quality dice are drawn per 1 km block (cheaper, and compresses like real QC layers).
    shape_1km = land.cloud_1km.shape
    modland = np.where(cloud, 2, up4(_classes(rng.random(shape_1km), (0.8,))))
    useful = up4(_classes(rng.random(shape_1km), (0.6, 0.9, 0.98)))
    useful[useful == 3] = 12  # lowest quality: rejected by the default policy
    shadow = up4(rng.random(shape_1km) < 0.005)
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
    start_doy = spec.period_start(land.date).timetuple().tm_yday
    doy = up4(start_doy + rng.integers(0, 16, size=shape_1km)).astype(np.float32)
    doy[water] = np.nan
    vza = np.abs(up4(land.view_angle_1km)) * np.float32(0.9)
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
    start = spec.period_start(date or landscape.date)
    arrays = _ENCODERS[spec.qc_scheme](spec, landscape, _rng(spec, landscape, start))
    out = {}
    for name in spec.stored_variables:
        arr = np.ascontiguousarray(arrays[name], dtype=spec.variables[name].numpy_dtype)
        if arr.shape != spec.shape:
            raise AssertionError(f"{spec.name} {name}: shape {arr.shape} != {spec.shape}")
        out[name] = arr
    return out
