"""A synthetic, deterministic MODIS landscape for tests and demos.

Every field is a sum of smooth noise octaves defined on *global* lattices in sinusoidal metres:
lattice node values are hashed from (node indices, seed, field), so a field is continuous across
tile edges, and evaluating a tile costs two sparse interpolation products per octave (no
per-pixel Python): a full 4800 x 4800 tile takes about a second.

The physics is deliberately simple but has the structure super-resolution needs:

- NDVI at 250 m: regional vegetation gradients, km-scale variability, and sharp-edged parcels
  (nearest-node octave) that carry 250 m texture; a mild seasonal cycle.
- Water (lakes) at 250 m from a low-frequency field: NDVI, reflectance and LST are NaN there.
- LST day at 250 m: a latitude/season base temperature, minus 18 K per unit NDVI (LST is
  anti-correlated with NDVI), plus a terrain-like field and a little 250 m noise.
- LST day at 1 km = the L4 block aggregate ``mean(T**4) ** 0.25`` of the 4 x 4 land pixels;
  NaN where the block is more than half water or cloudy. Night LST is cooler and less
  vegetation-dependent; clouds differ day and night and move with the date.
- Red/NIR reflectance at 250 m consistent with NDVI (``ndvi_from_reflectance`` gives it back).
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from functools import lru_cache
from statistics import NormalDist

import numpy as np
import scipy.sparse as sp
from scipy import ndimage

from lstcloud.grid import EARTH_RADIUS, PIXEL_SIZE, Tile

__all__ = ["Landscape", "block_mean", "dilate", "l4_aggregate", "make_landscape", "smooth_field"]

_BLOCK = 64  # lattice nodes are drawn in blocks of 64 x 64, each from its own seeded generator


def _lattice(iy0: int, ny: int, ix0: int, nx: int, key: int) -> np.ndarray:
    """Standard-normal lattice values for nodes ``iy0 .. iy0+ny-1`` x ``ix0 .. ix0+nx-1``.

    Node (iy, ix) always gets the same value for a given key, whatever window is asked for:
    blocks of ``_BLOCK`` x ``_BLOCK`` nodes are drawn from generators seeded by (key, block).
    """
    by0, by1 = iy0 // _BLOCK, (iy0 + ny - 1) // _BLOCK
    bx0, bx1 = ix0 // _BLOCK, (ix0 + nx - 1) // _BLOCK
    big = np.empty(((by1 - by0 + 1) * _BLOCK, (bx1 - bx0 + 1) * _BLOCK), dtype=np.float32)
    off = 1 << 40
    for by in range(by0, by1 + 1):
        for bx in range(bx0, bx1 + 1):
            rng = np.random.default_rng([key & 0xFFFFFFFF, by + off, bx + off])
            big[
                (by - by0) * _BLOCK : (by - by0 + 1) * _BLOCK,
                (bx - bx0) * _BLOCK : (bx - bx0 + 1) * _BLOCK,
            ] = rng.standard_normal((_BLOCK, _BLOCK), dtype=np.float32)
    y = iy0 - by0 * _BLOCK
    x = ix0 - bx0 * _BLOCK
    return big[y : y + ny, x : x + nx]


def _expand(nodes: np.ndarray, index: np.ndarray, axis: int) -> np.ndarray:
    """``np.take(nodes, index, axis)`` for a monotonic ``index``, done with a fast ``repeat``."""
    if index.size > 1 and index[-1] < index[0]:
        return np.flip(_expand(nodes, index[::-1], axis), axis)
    if index.size and (np.diff(index) >= 0).all():
        lo, hi = int(index[0]), int(index[-1])
        counts = np.bincount(index - lo, minlength=hi - lo + 1)
        return np.repeat(np.take(nodes, np.arange(lo, hi + 1), axis), counts, axis)
    return np.take(nodes, index, axis)


def _bspline_weights(t: np.ndarray) -> np.ndarray:
    """Uniform cubic B-spline weights for nodes i-1, i, i+1, i+2 at fraction ``t``."""
    t2, t3 = t * t, t * t * t
    return np.stack(
        [(1 - t) ** 3 / 6, (3 * t3 - 6 * t2 + 4) / 6, (-3 * t3 + 3 * t2 + 3 * t + 1) / 6, t3 / 6],
        axis=1,
    )


def _interp_matrix(coords: np.ndarray, spacing: float, order: int) -> tuple[sp.csr_matrix, int]:
    """Sparse matrix mapping lattice nodes to ``coords`` and the first node index."""
    u = coords / spacing
    base = np.floor(u).astype(np.int64)
    if order == 0:
        first = int(base.min())
        cols = (base - first)[:, None]
        weights = np.ones((coords.size, 1))
        n = int(base.max()) - first + 1
    else:
        weights = _bspline_weights(u - base)
        first = int(base.min()) - 1
        cols = (base - first)[:, None] + np.arange(4)[None, :]
        n = int(base.max()) - first + 4
    rows = np.repeat(np.arange(coords.size), cols.shape[1])
    mat = sp.csr_matrix(
        (weights.ravel().astype(np.float32), (rows, cols.ravel())), shape=(coords.size, n)
    )
    return mat, first


# Mean over the fraction t of sum(w_k(t)^2) for the cubic B-spline, per axis: the variance of an
# interpolated unit-normal lattice is its square (computed once, exactly enough).
_T = (np.arange(4096) + 0.5) / 4096
_BSPLINE_VAR = float(np.mean(np.sum(_bspline_weights(_T) ** 2, axis=1))) ** 2


def smooth_field(
    y: np.ndarray,
    x: np.ndarray,
    octaves: tuple[tuple[float, float, int], ...],
    key: int,
) -> np.ndarray:
    """Sum of noise octaves evaluated on the grid ``y`` x ``x`` (metres), float32.

    Parameters
    ----------
    y, x
        1-D pixel-centre coordinates in sinusoidal metres.
    octaves
        ``(spacing_m, amplitude, order)``: lattice spacing, weight, and interpolation order
        (3 = smooth cubic B-spline, 0 = nearest node, i.e. sharp-edged parcels).
    key
        Integer key selecting the random lattice (fields with different keys are independent).

    Returns
    -------
    numpy.ndarray
        ``(len(y), len(x))`` float32; continuous in (y, x) for order 3, identical wherever two
        grids share coordinates.
    """
    y = np.asarray(y, dtype=np.float64)
    x = np.asarray(x, dtype=np.float64)
    # Smooth octaves share one product: out = [a_1 Wy_1 | a_2 Wy_2 | ...] @ vstack(G_k Wx_k^T),
    # so the full-size output is written once however many octaves there are.
    left, right = [], []
    out: np.ndarray | None = None
    for n, (spacing, amplitude, order) in enumerate(octaves):
        wy, y0 = _interp_matrix(y, spacing, order)
        wx, x0 = _interp_matrix(x, spacing, order)
        nodes = _lattice(y0, wy.shape[1], x0, wx.shape[1], key * 7919 + n)
        if order == 0:  # nearest node: repeat rows and columns (sharp-edged parcels)
            block = _expand(_expand(nodes * np.float32(amplitude), wy.indices, 0), wx.indices, 1)
            out = block if out is None else np.add(out, block, out=out)
        else:
            left.append(wy * np.float32(amplitude))
            right.append(np.asarray((wx @ nodes.T).T, dtype=np.float32))
    if left:
        wy_all = sp.hstack(left, format="csr")
        smooth = np.asarray(wy_all @ np.vstack(right), dtype=np.float32)
        out = smooth if out is None else np.add(out, smooth, out=out)
    if out is None:
        return np.zeros((y.size, x.size), dtype=np.float32)
    return out


def _field_std(octaves: tuple[tuple[float, float, int], ...]) -> float:
    return math.sqrt(sum(a * a * (_BSPLINE_VAR if o == 3 else 1.0) for _, a, o in octaves))


@dataclass(frozen=True)
class Landscape:
    """A synthetic MODIS scene on one full tile (arrays are read-only).

    Attributes
    ----------
    tile, date, seed
        What the landscape was made for.
    lst_day_1km, lst_night_1km
        (1200, 1200) float32 K; NaN = cloud or (mostly) water.
    view_time_day_1km, view_time_night_1km
        (1200, 1200) float32 local solar hours; NaN where the LST is NaN.
    view_angle_1km
        (1200, 1200) float32 view zenith angle, degrees.
    cloud_1km, cloud_night_1km
        (1200, 1200) bool day / night cloud masks.
    ndvi_250m
        (4800, 4800) float32; NaN = water.
    red_250m, nir_250m
        (4800, 4800) float32 surface reflectance; NaN = water.
    water_250m
        (4800, 4800) bool.
    lst_day_250m
        (4800, 4800) float32 K: the 250 m truth the 1 km LST aggregates (NaN = water; not
        cloud-masked).
    """

    tile: str
    date: dt.date
    seed: int
    lst_day_1km: np.ndarray
    lst_night_1km: np.ndarray
    view_time_day_1km: np.ndarray
    view_time_night_1km: np.ndarray
    view_angle_1km: np.ndarray
    cloud_1km: np.ndarray
    cloud_night_1km: np.ndarray
    ndvi_250m: np.ndarray
    red_250m: np.ndarray
    nir_250m: np.ndarray
    water_250m: np.ndarray
    lst_day_250m: np.ndarray


# Field keys (independent random lattices).
_K_VEG, _K_WATER, _K_TERRAIN, _K_CLOUD, _K_CLOUD_N = range(1, 6)

_VEG_SMOOTH = ((90e3, 1.0, 3), (22e3, 0.7, 3), (5e3, 0.5, 3), (1.2e3, 0.3, 3))
# Sharp-edged parcels (nearest node, ~3 px at 250 m): the texture the 1 km LST lacks.
_VEG = (*tuple((s, a / _field_std(_VEG_SMOOTH), o) for s, a, o in _VEG_SMOOTH), (740.0, 0.55, 0))
_WATER = ((70e3, 1.0, 3), (15e3, 0.6, 3), (3e3, 0.25, 3))
# Terrain-like smooth relief plus soil-moisture parcels independent of NDVI, in kelvin.
_TERRAIN = ((35e3, 2.5, 3), (8e3, 1.25, 3), (2e3, 0.6, 3), (1.5e3, 0.5, 0))
_CLOUD = ((60e3, 1.0, 3), (20e3, 0.6, 3), (6e3, 0.35, 3), (2e3, 0.15, 3))

_WATER_THRESHOLD = 1.75 * _field_std(_WATER)  # a few per cent of the land is lake


def _pixel_centres(tile: Tile, resolution: str) -> tuple[np.ndarray, np.ndarray]:
    left, _, right, top = tile.bounds
    size = PIXEL_SIZE[resolution]
    n = round((right - left) / size)
    x = left + (np.arange(n) + 0.5) * size
    y = top - (np.arange(n) + 0.5) * size
    return y, x


def _blocks(values: np.ndarray, factor: int = 4) -> np.ndarray:
    ny, nx = values.shape
    return values.reshape(ny // factor, factor, nx // factor, factor)


def l4_aggregate(values: np.ndarray, factor: int = 4) -> np.ndarray:
    """NaN-aware L4 block aggregate ``mean(T**4) ** 0.25`` over ``factor`` x ``factor`` blocks.

    NaN pixels are left out of the mean; an all-NaN block gives NaN.
    """
    scaled = np.asarray(values, dtype=np.float32) / np.float32(300.0)
    np.square(scaled, out=scaled)
    np.square(scaled, out=scaled)
    valid = ~np.isnan(scaled)
    np.copyto(scaled, 0.0, where=~valid)
    total = _block_sum(scaled, factor)
    count = _block_sum(valid.view(np.uint8), factor)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (300.0 * (total / count) ** 0.25).astype(np.float32)


def _block_sum(values: np.ndarray, factor: int) -> np.ndarray:
    """Sum over ``factor`` x ``factor`` blocks, float32 (strided slices: no short-axis reduce)."""
    cols = values[:, 0::factor].astype(np.float32)
    for k in range(1, factor):
        cols += values[:, k::factor]
    out = cols[0::factor].copy()
    for k in range(1, factor):
        out += cols[k::factor]
    return out


def _cloud_mask(y: np.ndarray, x: np.ndarray, key: int, fraction: float) -> np.ndarray:
    if fraction <= 0:
        return np.zeros((y.size, x.size), dtype=bool)
    if fraction >= 1:
        return np.ones((y.size, x.size), dtype=bool)
    threshold = NormalDist().inv_cdf(1.0 - fraction) * _field_std(_CLOUD)
    return smooth_field(y, x, _CLOUD, key) > np.float32(threshold)


def make_landscape(
    tile: Tile | str,
    date: dt.date,
    *,
    seed: int = 0,
    cloud_fraction: float = 0.2,
) -> Landscape:
    """Build the synthetic landscape of ``tile`` on ``date``.

    Parameters
    ----------
    tile
        A :class:`lstcloud.grid.Tile` or id (``"h18v04"``).
    date
        The day (clouds, season and view times depend on it).
    seed
        Selects an independent world.
    cloud_fraction
        Expected fraction of cloudy 1 km pixels (0 to 1; the fraction of one tile varies
        around it because clouds are spatially correlated).

    Returns
    -------
    Landscape
        Deterministic in (tile, date, seed, cloud_fraction); read-only arrays (the last
        landscape is cached: products of one tile and day share it; about 0.4 GB).
    """
    if not 0.0 <= cloud_fraction <= 1.0:
        raise ValueError(f"cloud_fraction must be within [0, 1], got {cloud_fraction}")
    return _make(Tile.parse(tile), date, int(seed), float(cloud_fraction))


@lru_cache(maxsize=1)
def _make(tile: Tile, date: dt.date, seed: int, cloud_fraction: float) -> Landscape:
    key = seed * 1000
    day_key = key + date.toordinal() * 17
    y250, x250 = _pixel_centres(tile, "250m")
    y1, x1 = _pixel_centres(tile, "1km")
    doy = date.timetuple().tm_yday
    f32 = np.float32

    # --- per-row climate: latitude (sinusoidal y = R * lat) and season ------------------------
    lat = y250 / EARTH_RADIUS
    season = math.cos(2 * math.pi * (doy - 196) / 365.25) * np.sign(lat)  # north summer
    greenness = (0.9 + 0.1 * season).astype(np.float32)[:, None]
    base = (279.0 + 32.0 * np.cos(lat) + 9.0 * season * np.abs(np.sin(lat)))[:, None]

    # --- NDVI and reflectance at 250 m (in-place arithmetic: few full-size passes) -----------
    ndvi = smooth_field(y250, x250, _VEG, key + _K_VEG)
    np.multiply(ndvi, f32(-1.4), out=ndvi)
    np.exp(ndvi, out=ndvi)
    ndvi += f32(1.0)
    np.divide(f32(0.78), ndvi, out=ndvi)
    ndvi += f32(0.08)
    ndvi *= greenness
    water = smooth_field(y250, x250, _WATER, key + _K_WATER) > f32(_WATER_THRESHOLD)
    ndvi[water] = np.nan

    red = np.clip(f32(0.16) - f32(0.14) * ndvi, f32(0.01), f32(0.3))
    nir = red * (f32(1.0) + ndvi) / (f32(1.0) - ndvi)

    # --- LST at 250 m: anti-correlated with NDVI, plus relief and moisture ------------------
    lst250 = smooth_field(y250, x250, _TERRAIN, key + _K_TERRAIN)
    lst250 -= f32(18.0) * ndvi
    lst250 += (base + 18.0 * 0.4).astype(np.float32)  # NaN from ndvi propagates to water

    # --- 1 km: L4 aggregate, water fraction, clouds -----------------------------------------
    lst_day = l4_aggregate(lst250)
    mostly_water = _block_sum(water.view(np.uint8), 4) > 8
    ndvi_1km = np.nan_to_num(block_mean(ndvi), nan=0.5)
    lst_night = np.maximum(lst_day - (9.0 + 6.0 * (1.0 - ndvi_1km)), 235.0).astype(np.float32)
    cloud = _cloud_mask(y1, x1, day_key + _K_CLOUD, cloud_fraction)
    cloud_night = _cloud_mask(y1, x1, day_key + _K_CLOUD_N, cloud_fraction)
    lst_day[mostly_water | cloud] = np.nan
    lst_night[mostly_water | cloud_night] = np.nan

    # Terra overpasses: local solar time drifts across the swath (a pattern along x that
    # shifts with the date); the view zenith angle follows the same cross-track position.
    phase = (date.toordinal() * 0.37 + seed * 0.11) % 1.0
    track = np.sin(2 * np.pi * (x1 / 2.33e6 + phase)).astype(np.float32)[None, :]
    view_angle = np.broadcast_to(62.0 * track, (1200, 1200)).astype(np.float32)
    view_day = np.where(np.isnan(lst_day), np.nan, 10.6 + 0.9 * track).astype(np.float32)
    view_night = np.where(np.isnan(lst_night), np.nan, 22.5 + 0.9 * track).astype(np.float32)

    arrays = {
        "lst_day_1km": lst_day,
        "lst_night_1km": lst_night,
        "view_time_day_1km": view_day,
        "view_time_night_1km": view_night,
        "view_angle_1km": view_angle,
        "cloud_1km": cloud,
        "cloud_night_1km": cloud_night,
        "ndvi_250m": ndvi,
        "red_250m": red,
        "nir_250m": nir,
        "water_250m": water,
        "lst_day_250m": lst250,
    }
    for arr in arrays.values():
        arr.flags.writeable = False
    return Landscape(tile=tile.id, date=date, seed=seed, **arrays)


def block_mean(values: np.ndarray, factor: int = 4) -> np.ndarray:
    """NaN-aware plain block mean over ``factor`` x ``factor`` blocks (float32)."""
    valid = ~np.isnan(values)
    total = _block_sum(np.where(valid, values, np.float32(0)), factor)
    count = _block_sum(valid.view(np.uint8), factor)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (total / count).astype(np.float32)


def dilate(mask: np.ndarray, pixels: int) -> np.ndarray:
    """Binary dilation of ``mask`` by a square of half-width ``pixels`` (for cloud edges)."""
    if pixels <= 0:
        return mask.copy()
    return ndimage.binary_dilation(mask, structure=np.ones((2 * pixels + 1,) * 2, dtype=bool))
