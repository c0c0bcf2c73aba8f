"""The MODIS sinusoidal grid: tiles, their pixel grids, regions and the cube grid.

The MODIS land products live on a sinusoidal projection of a sphere of radius
:data:`EARTH_RADIUS` (6371007.181 m), cut into 36 x 18 tiles of :data:`TILE_SIZE`
(1111950.5197665 m, i.e. 10 degrees of arc at the equator). A tile holds 1200 x 1200 pixels at
"1 km" (926.625 m) and 4800 x 4800 pixels at "250 m" (231.656 m): the two grids nest exactly,
four 250 m pixels per 1 km pixel in each direction. Granules land in the cube by index, never
by resampling.

Tile ``hHHvVV`` spans ``x = (H - 18) * TILE_SIZE ... + TILE_SIZE`` and
``y = (9 - V) * TILE_SIZE ... - TILE_SIZE``; these are the corner coordinates of the HDF-EOS
``StructMetadata.0`` of real granules (e.g. h14v09 ``UpperLeftPointMtrs=(-4447802.079066,0)``).
"""

from __future__ import annotations

import functools
import itertools
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from affine import Affine

from lstcloud.errors import ConfigError

if TYPE_CHECKING:
    import pyproj
    from odc.geo.geobox import GeoBox

__all__ = [
    "EARTH_RADIUS",
    "N_TILES_H",
    "N_TILES_V",
    "PIXELS_PER_TILE",
    "PIXEL_SIZE",
    "REGIONS",
    "RESOLUTIONS",
    "SINUSOIDAL_WKT",
    "TILE_SIZE",
    "X_ORIGIN",
    "Y_ORIGIN",
    "CubeGrid",
    "Resolution",
    "Tile",
    "crs",
    "resolve_region",
    "split_antimeridian",
    "tile_of",
    "tile_transform",
]

Resolution = Literal["1km", "250m"]

#: Radius of the MODIS sphere (metres).
EARTH_RADIUS = 6371007.181
#: Side of one tile (metres): 10 degrees of arc on the sphere.
TILE_SIZE = 1111950.5197665
#: Tiles across (h = 0..35) and down (v = 0..17).
N_TILES_H = 36
N_TILES_V = 18
#: Upper-left corner of tile h00v00 (metres); ``-18 * TILE_SIZE`` and ``9 * TILE_SIZE``.
X_ORIGIN = -18 * TILE_SIZE
Y_ORIGIN = 9 * TILE_SIZE
#: The resolutions of the cube, finest last.
RESOLUTIONS: tuple[Resolution, ...] = ("1km", "250m")
#: Pixels along one side of a tile.
PIXELS_PER_TILE: dict[str, int] = {"1km": 1200, "250m": 4800}
#: Pixel side (metres): 926.625433... at 1 km, 231.656358... at 250 m.
PIXEL_SIZE: dict[str, float] = {res: TILE_SIZE / n for res, n in PIXELS_PER_TILE.items()}

#: The MODIS sinusoidal CRS as Planetary Computer publishes it (``proj:wkt2``).
SINUSOIDAL_WKT = (
    'PROJCRS["unnamed",BASEGEOGCRS["Unknown datum based upon the custom spheroid",'
    'DATUM["Not specified (based on custom spheroid)",ELLIPSOID["Custom spheroid",6371007.181,0,'
    'LENGTHUNIT["metre",1,ID["EPSG",9001]]]],PRIMEM["Greenwich",0,ANGLEUNIT["degree",'
    '0.0174532925199433,ID["EPSG",9122]]]],CONVERSION["unnamed",METHOD["Sinusoidal"],'
    'PARAMETER["Longitude of natural origin",0,ANGLEUNIT["degree",0.0174532925199433],'
    'ID["EPSG",8802]],PARAMETER["False easting",0,LENGTHUNIT["metre",1],ID["EPSG",8806]],'
    'PARAMETER["False northing",0,LENGTHUNIT["metre",1],ID["EPSG",8807]]],CS[Cartesian,2],'
    'AXIS["easting",east,ORDER[1],LENGTHUNIT["metre",1,ID["EPSG",9001]]],'
    'AXIS["northing",north,ORDER[2],LENGTHUNIT["metre",1,ID["EPSG",9001]]]]'
)

_TILE_RE = re.compile(r"^\s*h(\d{1,2})v(\d{1,2})\s*$", re.IGNORECASE)


def _tiles(*ids: str) -> tuple[str, ...]:
    return tuple(sorted(ids))


#: Named regions: the MODIS tiles holding land of the region (ocean-only tiles are left out).
#: Derived from a 1 km land mask sampled on every tile (200 x 200 points per tile) and lon/lat
#: outlines of each region:
#:
#: - ``europe``: 25 W - 45 E, 34 N - 72 N without the Maghreb, Anatolia, the Levant, the South
#:   Caucasus and Greenland; with Iceland, the British Isles and the Mediterranean islands; without
#:   the remote Atlantic islands (Azores, Madeira, Jan Mayen) and Svalbard.
#: - ``conus``: the contiguous United States (48 states), 14 tiles.
#: - ``africa``: the African mainland and Madagascar, without the remote islands (Madeira, Cape
#:   Verde, Ascension, St Helena).
REGIONS: Mapping[str, tuple[str, ...]] = MappingProxyType({
    "europe": _tiles(
        "h18v01", "h19v01",
        "h16v02", "h17v02", "h18v02", "h19v02", "h20v02",
        "h17v03", "h18v03", "h19v03", "h20v03",
        "h17v04", "h18v04", "h19v04", "h20v04", "h21v04",
        "h17v05", "h18v05", "h19v05", "h20v05",
    ),
    "conus": _tiles(
        "h08v04", "h09v04", "h10v04", "h11v04", "h12v04", "h13v04",
        "h08v05", "h09v05", "h10v05", "h11v05", "h12v05",
        "h08v06", "h09v06", "h10v06",
    ),
    "africa": _tiles(
        "h17v05", "h18v05", "h19v05", "h20v05",
        "h16v06", "h17v06", "h18v06", "h19v06", "h20v06", "h21v06",
        "h16v07", "h17v07", "h18v07", "h19v07", "h20v07", "h21v07", "h22v07", "h23v07",
        "h16v08", "h17v08", "h18v08", "h19v08", "h20v08", "h21v08", "h22v08", "h23v08",
        "h18v09", "h19v09", "h20v09", "h21v09", "h22v09",
        "h19v10", "h20v10", "h21v10", "h22v10",
        "h19v11", "h20v11", "h21v11", "h22v11",
        "h19v12", "h20v12",
    ),
})  # fmt: skip


def _check_resolution(resolution: str) -> Resolution:
    if resolution not in PIXELS_PER_TILE:
        raise ConfigError(f"resolution must be one of {RESOLUTIONS}, got {resolution!r}")
    return resolution  # type: ignore[return-value]


@functools.lru_cache(maxsize=1)
def crs() -> pyproj.CRS:
    """The MODIS sinusoidal CRS as a :class:`pyproj.CRS` (from :data:`SINUSOIDAL_WKT`)."""
    import pyproj

    return pyproj.CRS.from_wkt(SINUSOIDAL_WKT)


@functools.lru_cache(maxsize=4)
def _transformer(inverse: bool) -> pyproj.Transformer:
    import pyproj

    lonlat = pyproj.CRS.from_epsg(4326)
    src, dst = (crs(), lonlat) if inverse else (lonlat, crs())
    return pyproj.Transformer.from_crs(src, dst, always_xy=True)


@dataclass(frozen=True, order=True)
class Tile:
    """One MODIS tile ``hHHvVV``.

    Parameters
    ----------
    h
        Horizontal index, 0 (west) to 35 (east).
    v
        Vertical index, 0 (north) to 17 (south).

    Examples
    --------
    >>> Tile.parse("h18v04").bounds[0]
    0.0
    """

    # ordering sorts row by row (north to south, then west to east), as tiles appear in a cube
    v: int = field(compare=True)
    h: int = field(compare=True)

    def __init__(self, h: int, v: int) -> None:
        if isinstance(h, bool) or isinstance(v, bool):
            raise ConfigError(f"tile indices must be integers, got h={h!r} v={v!r}")
        try:
            hi, vi = int(h), int(v)
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"tile indices must be integers, got h={h!r} v={v!r}") from exc
        if hi != h or vi != v or not (0 <= hi < N_TILES_H and 0 <= vi < N_TILES_V):
            raise ConfigError(
                f"no MODIS tile h={h!r} v={v!r}: h must be 0..{N_TILES_H - 1}, v 0..{N_TILES_V - 1}"
            )
        object.__setattr__(self, "h", hi)
        object.__setattr__(self, "v", vi)

    def __repr__(self) -> str:
        return f"Tile({self.id})"

    def __str__(self) -> str:
        return self.id

    @classmethod
    def parse(cls, value: str | Tile) -> Tile:
        """Parse ``"h18v04"`` (case-insensitive) into a :class:`Tile`."""
        if isinstance(value, Tile):
            return value
        match = _TILE_RE.match(str(value))
        if not match:
            raise ConfigError(f"not a MODIS tile id (expected like 'h18v04'): {value!r}")
        return cls(int(match.group(1)), int(match.group(2)))

    @property
    def id(self) -> str:
        """The tile id, ``"h18v04"``."""
        return f"h{self.h:02d}v{self.v:02d}"

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """``(left, bottom, right, top)`` in sinusoidal metres."""
        left = (self.h - 18) * TILE_SIZE
        top = (9 - self.v) * TILE_SIZE
        return (left, top - TILE_SIZE, left + TILE_SIZE, top)

    def transform(self, resolution: Resolution) -> Affine:
        """The pixel-corner affine transform of the tile at ``resolution``."""
        return tile_transform(self, resolution)

    def geobox(self, resolution: Resolution) -> GeoBox:
        """The tile's pixel grid as an :class:`odc.geo.geobox.GeoBox`."""
        from odc.geo.geobox import GeoBox

        n = PIXELS_PER_TILE[_check_resolution(resolution)]
        return GeoBox((n, n), self.transform(resolution), crs())


def tile_transform(tile: Tile | str, resolution: Resolution) -> Affine:
    """Affine transform (pixel corners, north up) of ``tile`` at ``resolution``.

    Parameters
    ----------
    tile
        A :class:`Tile` or a tile id such as ``"h18v04"``.
    resolution
        ``"1km"`` or ``"250m"``.
    """
    t = Tile.parse(tile)
    size = PIXEL_SIZE[_check_resolution(resolution)]
    left, _, _, top = t.bounds
    return Affine(size, 0.0, left, 0.0, -size, top)


def tile_of(lon: float, lat: float) -> Tile:
    """The tile holding the point ``(lon, lat)`` (degrees, WGS84 read as the MODIS sphere)."""
    if not (-180.0 <= lon <= 180.0 and -90.0 <= lat <= 90.0):
        raise ConfigError(f"lon/lat out of range: ({lon}, {lat})")
    x, y = _transformer(False).transform(lon, lat)
    # clamp: the grid's outer edges (lon 180, the poles) belong to the outermost tiles
    h = min(max(math.floor((x - X_ORIGIN) / TILE_SIZE), 0), N_TILES_H - 1)
    v = min(max(math.floor((Y_ORIGIN - y) / TILE_SIZE), 0), N_TILES_V - 1)
    return Tile(h, v)


@dataclass(frozen=True)
class CubeGrid:
    """The pixel grid of a cube: the rectangle of whole tiles covering a set of tiles.

    The arrays of the cube span the bounding rectangle of :attr:`tiles` (tiles of the rectangle
    that are not listed, e.g. ocean, stay empty). Chunks are ``chunks_1km`` pixels square at 1 km
    and exactly four times that at 250 m, so a tile is always a whole number of chunks and a
    250 m chunk covers exactly one 1 km chunk.

    Parameters
    ----------
    tiles
        The tiles of the cube (any iterable of :class:`Tile` or ids); stored sorted, unique.
    chunks_1km
        Chunk side at 1 km; must divide 1200 (default 300; the 250 m chunk is 4x that).
    """

    tiles: tuple[Tile, ...]
    chunks_1km: int = 300

    def __init__(self, tiles: Iterable[Tile | str], *, chunks_1km: int = 300) -> None:
        parsed = tuple(sorted({Tile.parse(t) for t in tiles}))
        if not parsed:
            raise ConfigError("a CubeGrid needs at least one tile")
        if isinstance(chunks_1km, bool) or not isinstance(chunks_1km, int | np.integer):
            raise ConfigError(f"chunks_1km must be an integer, got {chunks_1km!r}")
        if chunks_1km <= 0 or PIXELS_PER_TILE["1km"] % int(chunks_1km):
            raise ConfigError(f"chunks_1km must divide 1200, got {chunks_1km}")
        if _wraps_around(parsed):
            raise ConfigError(_wrap_message(parsed))
        object.__setattr__(self, "tiles", parsed)
        object.__setattr__(self, "chunks_1km", int(chunks_1km))

    @classmethod
    def from_region(
        cls, region: str | Sequence[float] | Iterable[Tile | str], *, chunks_1km: int = 300
    ) -> CubeGrid:
        """The grid of the tiles :func:`resolve_region` gives for ``region``.

        Raises
        ------
        ConfigError
            For a region across the antimeridian (a lon/lat box with ``W > E``, or tiles on
            both sides of it): a grid cannot wrap around the globe, and the rectangle between
            the two sides would be the whole world. The message names the two boxes (or tile
            sets) to build as separate cubes.
        """
        bbox = _parse_bbox(region) if isinstance(region, str | Sequence) else None
        if bbox is not None and bbox[0] > bbox[2]:
            parts = " and ".join(
                "'" + ",".join(f"{v:g}" for v in part) + "'" for part in split_antimeridian(bbox)
            )
            raise ConfigError(
                f"region {_region_text(region)} crosses the antimeridian (W > E): a cube grid "
                f"cannot wrap around the globe and would be {N_TILES_H} tiles wide; build one "
                f"cube per side of 180 deg, with the regions {parts}"
            )
        return cls(resolve_region(region), chunks_1km=chunks_1km)

    # ------------------------------------------------------------------ layout
    @property
    def chunks_250m(self) -> int:
        """Chunk side at 250 m: ``4 * chunks_1km``."""
        return 4 * self.chunks_1km

    def chunks(self, resolution: Resolution) -> int:
        """Chunk side (pixels) at ``resolution``."""
        return self.chunks_1km if _check_resolution(resolution) == "1km" else self.chunks_250m

    @property
    def tile_ids(self) -> tuple[str, ...]:
        """The tile ids, sorted as :attr:`tiles`."""
        return tuple(t.id for t in self.tiles)

    @property
    def h_range(self) -> tuple[int, int]:
        """Smallest and largest h index (inclusive)."""
        hs = [t.h for t in self.tiles]
        return (min(hs), max(hs))

    @property
    def v_range(self) -> tuple[int, int]:
        """Smallest and largest v index (inclusive)."""
        vs = [t.v for t in self.tiles]
        return (min(vs), max(vs))

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """``(left, bottom, right, top)`` of the grid in sinusoidal metres."""
        (h0, h1), (v0, v1) = self.h_range, self.v_range
        left, _, _, top = Tile(h0, v0).bounds
        _, bottom, right, _ = Tile(h1, v1).bounds
        return (left, bottom, right, top)

    def shape(self, resolution: Resolution) -> tuple[int, int]:
        """``(ny, nx)`` pixels at ``resolution``."""
        n = PIXELS_PER_TILE[_check_resolution(resolution)]
        (h0, h1), (v0, v1) = self.h_range, self.v_range
        return ((v1 - v0 + 1) * n, (h1 - h0 + 1) * n)

    def transform(self, resolution: Resolution) -> Affine:
        """Affine transform (pixel corners) of the whole grid at ``resolution``."""
        (h0, _), (v0, _) = self.h_range, self.v_range
        return tile_transform(Tile(h0, v0), resolution)

    def coords(self, resolution: Resolution) -> tuple[np.ndarray, np.ndarray]:
        """Pixel-centre coordinates ``(y, x)`` in metres (float64; y decreasing)."""
        size = PIXEL_SIZE[_check_resolution(resolution)]
        left, _, _, top = self.bounds
        ny, nx = self.shape(resolution)
        y = top - (np.arange(ny, dtype=np.float64) + 0.5) * size
        x = left + (np.arange(nx, dtype=np.float64) + 0.5) * size
        return y, x

    def tile_slices(self, tile: Tile | str, resolution: Resolution) -> tuple[slice, slice]:
        """``(slice_y, slice_x)`` of ``tile`` in the cube arrays at ``resolution``.

        Raises
        ------
        ConfigError
            If the tile is not one of :attr:`tiles`.
        """
        t = Tile.parse(tile)
        if t not in self.tiles:
            raise ConfigError(f"tile {t.id} is not in this cube grid ({', '.join(self.tile_ids)})")
        n = PIXELS_PER_TILE[_check_resolution(resolution)]
        y0 = (t.v - self.v_range[0]) * n
        x0 = (t.h - self.h_range[0]) * n
        return slice(y0, y0 + n), slice(x0, x0 + n)

    def geobox(self, resolution: Resolution) -> GeoBox:
        """The grid as an :class:`odc.geo.geobox.GeoBox` at ``resolution``."""
        from odc.geo.geobox import GeoBox

        return GeoBox(self.shape(resolution), self.transform(resolution), crs())

    # ------------------------------------------------------------------ (de)serialisation
    def to_dict(self) -> dict[str, Any]:
        """A JSON-able description (stored in the cube's attributes)."""
        return {"tiles": list(self.tile_ids), "chunks_1km": self.chunks_1km}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CubeGrid:
        """Inverse of :meth:`to_dict`."""
        try:
            return cls(data["tiles"], chunks_1km=int(data["chunks_1km"]))
        except (KeyError, TypeError) as exc:
            raise ConfigError(f"not a CubeGrid description: {data!r}") from exc


def _wraps_around(tiles: Sequence[Tile]) -> bool:
    """Whether ``tiles`` sit on both sides of the antimeridian (h 35 | h 0).

    A cube grid is a rectangle h0..h1 that cannot wrap; tiles are "across the antimeridian"
    when the narrowest arc of columns holding them, read around the globe, passes from h 35 to
    h 0 and is narrower than the rectangle from the westernmost to the easternmost column.
    """
    columns = sorted({t.h for t in tiles})
    straight = columns[-1] - columns[0] + 1
    # the widest run of empty columns, circularly; the arc that wraps skips it
    gaps = [b - a - 1 for a, b in itertools.pairwise(columns)]
    wrap_gap = max(gaps, default=0)
    wrapped = N_TILES_H - wrap_gap
    return wrapped < straight


def _wrap_message(tiles: Sequence[Tile]) -> str:
    n = len(tiles)
    west = sorted({t.id for t in tiles if t.h >= N_TILES_H // 2})
    east = sorted({t.id for t in tiles if t.h < N_TILES_H // 2})
    return (
        f"the {n} tiles ({', '.join(t.id for t in tiles)}) lie on both sides of the antimeridian "
        f"(180 deg): a cube grid cannot wrap around it and would span the whole world in "
        f"between ({N_TILES_H} tiles wide for {n} wanted tiles); build one cube per side, e.g. "
        f"a region 'W,S,180,N' for {', '.join(west)} and '-180,S,E,N' for {', '.join(east)}"
    )


def split_antimeridian(
    bbox: tuple[float, float, float, float],
) -> list[tuple[float, float, float, float]]:
    """Split a lon/lat box ``(W, S, E, N)`` with ``W > E`` at the antimeridian.

    Returns ``[bbox]`` for a box that does not cross it, else its western part
    ``(W, S, 180, N)`` and its eastern part ``(-180, S, E, N)``: one cube per part.
    """
    west, south, east, north = bbox
    if west <= east:
        return [bbox]
    return [(west, south, 180.0, north), (-180.0, south, east, north)]


# ---------------------------------------------------------------------- regions
def _bbox_tiles(west: float, south: float, east: float, north: float) -> list[Tile]:
    """Tiles whose area intersects the lon/lat box (the box boundary densified, projected)."""
    from shapely.geometry import Polygon, box

    n = 181
    lons = np.linspace(west, east, n)
    lats = np.linspace(south, north, n)
    ring_lon = np.concatenate([lons, np.full(n, east), lons[::-1], np.full(n, west)])
    ring_lat = np.concatenate([np.full(n, south), lats, np.full(n, north), lats[::-1]])
    x, y = _transformer(False).transform(ring_lon, ring_lat)
    poly = Polygon(np.column_stack([x, y]))
    if not poly.is_valid:
        poly = poly.buffer(0)
    minx, miny, maxx, maxy = poly.bounds
    h0 = max(0, math.floor((minx - X_ORIGIN) / TILE_SIZE))
    h1 = min(N_TILES_H - 1, math.floor((maxx - X_ORIGIN) / TILE_SIZE))
    v0 = max(0, math.floor((Y_ORIGIN - maxy) / TILE_SIZE))
    v1 = min(N_TILES_V - 1, math.floor((Y_ORIGIN - miny) / TILE_SIZE))
    out = []
    for v in range(v0, v1 + 1):
        for h in range(h0, h1 + 1):
            tile = Tile(h, v)
            # > 1 m2: a corner merely touched (float noise of ~1e-13 m2) does not count
            if poly.intersection(box(*tile.bounds)).area > 1.0:
                out.append(tile)
    return out


def _region_text(region: Any) -> str:
    if isinstance(region, str):
        return repr(region.strip())
    return "'" + ",".join(f"{float(v):g}" for v in region) + "'"


def _parse_bbox(region: str | Sequence[float]) -> tuple[float, float, float, float] | None:
    if isinstance(region, str):
        parts = [p for p in re.split(r"[,\s]+", region.strip()) if p]
        if len(parts) != 4:
            return None
        try:
            values = [float(p) for p in parts]
        except ValueError:
            return None
    else:
        values = list(region)
        if len(values) != 4 or not all(
            isinstance(v, int | float | np.integer | np.floating) and not isinstance(v, bool)
            for v in values
        ):
            return None
        values = [float(v) for v in values]
    west, south, east, north = values
    if not all(math.isfinite(v) for v in values):
        raise ConfigError(f"bbox has non-finite values: {region!r}")
    if not (-180 <= west <= 180 and -180 <= east <= 180 and -90 <= south < north <= 90):
        raise ConfigError(
            f"bbox must be W,S,E,N in degrees with -180<=W,E<=180 and -90<=S<N<=90: {region!r}"
        )
    return west, south, east, north


def resolve_region(region: str | Sequence[float] | Iterable[Tile | str]) -> list[Tile]:
    """Tiles of a region, sorted.

    Parameters
    ----------
    region
        One of:

        - a named region of :data:`REGIONS` (``"europe"``, ``"conus"``, ``"africa"``; its land
          tiles);
        - tile ids, ``"h18v04,h19v04"`` (commas or spaces) or a sequence of ids / :class:`Tile`;
        - a lon/lat box ``(west, south, east, north)`` in degrees, as a sequence or the string
          ``"W,S,E,N"``: every tile whose area intersects the box (ocean tiles included). A box
          with ``west > east`` crosses the antimeridian: its tiles are those of both parts
          (:func:`split_antimeridian`), but no :class:`CubeGrid` holds them (a grid cannot wrap
          around the globe); build one cube per part.

    Returns
    -------
    list of Tile

    Raises
    ------
    ConfigError
        For an unknown name, a malformed tile id or an invalid box.
    """
    if isinstance(region, Tile):
        return [region]
    if isinstance(region, str):
        name = region.strip().lower()
        if name in REGIONS:
            return sorted(Tile.parse(t) for t in REGIONS[name])
        if not name:
            raise ConfigError("empty region")
    bbox = _parse_bbox(region) if isinstance(region, str | Sequence) else None
    if bbox is not None:
        west, south, east, north = bbox
        if west > east:  # across the antimeridian
            tiles = set(_bbox_tiles(west, south, 180.0, north))
            tiles |= set(_bbox_tiles(-180.0, south, east, north))
        elif west == east:
            raise ConfigError(f"bbox has zero width: {region!r}")
        else:
            tiles = set(_bbox_tiles(west, south, east, north))
        return sorted(tiles)
    items: Iterable[Any] = (
        re.split(r"[,\s]+", region.strip()) if isinstance(region, str) else region
    )
    try:
        tiles = {Tile.parse(t) for t in items if not (isinstance(t, str) and not t.strip())}
    except ConfigError as exc:
        raise ConfigError(
            f"unknown region {region!r}: expected one of {sorted(REGIONS)}, tile ids like "
            f"'h18v04,h19v04' or a bbox 'W,S,E,N' ({exc})"
        ) from exc
    if not tiles:
        raise ConfigError(f"region {region!r} names no tile")
    return sorted(tiles)
