"""The MODIS sinusoidal grid, checked against real files' georeferencing and known places."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pyproj
import pytest

from lstcloud.errors import ConfigError
from lstcloud.grid import (
    EARTH_RADIUS,
    PIXEL_SIZE,
    REGIONS,
    SINUSOIDAL_WKT,
    TILE_SIZE,
    CubeGrid,
    Tile,
    crs,
    resolve_region,
    split_antimeridian,
    tile_of,
    tile_transform,
)


# ---------------------------------------------------------------------- constants and tiles
def test_pixel_sizes_nest_exactly_four_times():
    assert PIXEL_SIZE["1km"] == pytest.approx(926.625433, abs=1e-6)
    assert PIXEL_SIZE["250m"] == pytest.approx(231.656358, abs=1e-6)
    assert PIXEL_SIZE["1km"] == 4 * PIXEL_SIZE["250m"]
    # 10 degrees of arc on the MODIS sphere
    assert abs(TILE_SIZE - np.radians(10) * 6371007.181) < 1e-3


def test_crs_is_the_modis_sphere():
    c = crs()
    assert c == pyproj.CRS.from_wkt(SINUSOIDAL_WKT)
    assert c.ellipsoid.semi_major_metre == 6371007.181
    assert c.ellipsoid.semi_minor_metre == 6371007.181
    assert c.to_cf()["grid_mapping_name"] == "sinusoidal"
    # the tile origin of h18v04 is lon 0 on the 40th parallel
    to_lonlat = pyproj.Transformer.from_crs(c, "EPSG:4326", always_xy=True)
    lon, lat = to_lonlat.transform(*Tile(18, 4).bounds[::3])
    assert (lon, lat) == pytest.approx((0.0, 50.0), abs=1e-9)


def test_tile_bounds_and_transform_h18v04():
    tile = Tile.parse("h18v04")
    assert tile == Tile(18, 4) and tile.id == "h18v04" and str(tile) == "h18v04"
    left, bottom, right, top = tile.bounds
    assert left == 0.0
    assert top == pytest.approx(5559752.598833, abs=1e-6)
    assert (right - left, top - bottom) == pytest.approx((TILE_SIZE, TILE_SIZE), abs=1e-6)
    t = tile_transform("h18v04", "250m")
    assert (t.a, t.e, t.c, t.f) == (PIXEL_SIZE["250m"], -PIXEL_SIZE["250m"], left, top)
    assert t @ (4800, 4800) == pytest.approx((right, bottom))
    assert tile.geobox("1km").shape == (1200, 1200)


@pytest.mark.parametrize("bad", ["h36v00", "h00v18", "hxxvyy", "h1v", "18,4", ""])
def test_tile_parse_rejects(bad):
    with pytest.raises(ConfigError, match="tile"):
        Tile.parse(bad)


def test_tile_rejects_out_of_range_and_sorts_row_by_row():
    with pytest.raises(ConfigError):
        Tile(-1, 0)
    with pytest.raises(ConfigError):
        Tile(1.5, 0)  # type: ignore[arg-type]
    assert Tile.parse(" H05V01 ") == Tile(5, 1)
    assert sorted([Tile(1, 2), Tile(0, 3), Tile(5, 0)]) == [Tile(5, 0), Tile(1, 2), Tile(0, 3)]


def _struct_corners(path: Path) -> tuple[str, tuple[float, float], tuple[float, float], int]:
    from pyhdf.SD import SD, SDC

    sd = SD(str(path), SDC.READ)
    try:
        meta = sd.attributes()["StructMetadata.0"]
    finally:
        sd.end()

    def pair(key: str) -> tuple[float, float]:
        m = re.search(key + r"=\(([-\d.]+),([-\d.]+)\)", meta)
        assert m, key
        return float(m.group(1)), float(m.group(2))

    xdim = int(re.search(r"XDim=(\d+)", meta).group(1))
    tile = re.search(r"\.(h\d\dv\d\d)\.", path.name).group(1)
    return tile, pair("UpperLeftPointMtrs"), pair("LowerRightMtrs"), xdim


@pytest.mark.shared_data
def test_tile_bounds_match_real_hdf4_struct_metadata(hdf4_granules):
    files = sorted(hdf4_granules.glob("*.hdf"))
    assert len(files) >= 3
    for path in files:
        tile_id, (ulx, uly), (lrx, lry), xdim = _struct_corners(path)
        left, bottom, right, top = Tile.parse(tile_id).bounds
        # the granules print the corners to the micrometre (h00 to 2 mm: written as -20015109.354)
        assert (left, top, right, bottom) == pytest.approx((ulx, uly, lrx, lry), abs=3e-3), path
        res = "1km" if xdim == 1200 else "250m"
        assert (lrx - ulx) / xdim == pytest.approx(PIXEL_SIZE[res], abs=1e-6)


@pytest.mark.shared_data
def test_real_geotiffs_sit_on_the_tile_pixel_grids(shared_data):
    import rasterio

    patches = sorted((shared_data / "mod11a1_h18v04_2020_patches").glob("*.tif"))[:6]
    dev = sorted((shared_data / "aster_h18v04_dev").glob("*/modis_*.tif"))
    assert patches and dev
    tile = Tile.parse("h18v04")
    for path in [*patches, *dev]:
        res = "250m" if "250m" in path.name else "1km"
        grid = tile_transform(tile, res)
        with rasterio.open(path) as src:
            t = src.transform
            assert pyproj.CRS.from_wkt(src.crs.to_wkt()).equals(crs(), ignore_axis_order=True)
        assert t.a == pytest.approx(grid.a, abs=1e-3), path
        col, row = ~grid @ (t.c, t.f)
        assert col == pytest.approx(round(col), abs=1e-3), path
        assert row == pytest.approx(round(row), abs=1e-3), path
        n = 1200 if res == "1km" else 4800
        assert 0 <= round(col) < n and 0 <= round(row) < n


# ---------------------------------------------------------------------- cube grid
def test_cube_grid_layout():
    grid = CubeGrid(["h19v04", "h18v03", "h18v04"], chunks_1km=300)
    assert grid.tile_ids == ("h18v03", "h18v04", "h19v04")
    assert grid.h_range == (18, 19) and grid.v_range == (3, 4)
    assert grid.shape("1km") == (2400, 2400) and grid.shape("250m") == (9600, 9600)
    assert grid.chunks_250m == 1200 and grid.chunks("1km") == 300
    assert grid.tile_slices("h19v04", "1km") == (slice(1200, 2400), slice(1200, 2400))
    assert grid.tile_slices("h18v03", "250m") == (slice(0, 4800), slice(0, 4800))
    with pytest.raises(ConfigError, match="h19v03"):
        grid.tile_slices("h19v03", "1km")  # inside the rectangle but not in the grid
    y, x = grid.coords("1km")
    assert y.shape == (2400,) and x.shape == (2400,)
    assert np.all(np.diff(y) < 0) and np.all(np.diff(x) > 0)
    # pixel centres; the tile h19v04 starts at x = TILE_SIZE
    assert x[1200] == pytest.approx(TILE_SIZE + PIXEL_SIZE["1km"] / 2)
    assert y[0] == pytest.approx(Tile(18, 3).bounds[3] - PIXEL_SIZE["1km"] / 2)
    # the 250 m centres nest inside the 1 km pixels: mean of 4 = the 1 km centre
    y250, x250 = grid.coords("250m")
    assert np.allclose(x250.reshape(-1, 4).mean(axis=1), x, rtol=0, atol=1e-6)
    assert np.allclose(y250.reshape(-1, 4).mean(axis=1), y, rtol=0, atol=1e-6)
    assert grid.transform("1km") @ (0.5, 0.5) == pytest.approx((x[0], y[0]))
    gb = grid.geobox("250m")
    assert gb.shape == (9600, 9600) and gb.affine == grid.transform("250m")
    assert CubeGrid.from_dict(grid.to_dict()) == grid


@pytest.mark.parametrize("chunks", [0, 7, 500, 1201, True])
def test_cube_grid_rejects_chunks_not_dividing_a_tile(chunks):
    with pytest.raises(ConfigError, match="chunks_1km"):
        CubeGrid(["h18v04"], chunks_1km=chunks)


def test_cube_grid_of_a_named_region():
    grid = CubeGrid.from_region("conus", chunks_1km=600)
    assert grid.h_range == (8, 13) and grid.v_range == (4, 6)
    assert grid.shape("250m") == (3 * 4800, 6 * 4800)
    assert len(grid.tiles) == 14 and grid.chunks_250m == 2400
    # the rectangle's ocean tiles are not in the grid, their slices are refused
    with pytest.raises(ConfigError):
        grid.tile_slices("h13v06", "1km")


def test_tile_of_edges():
    assert tile_of(0.0, 0.0) == Tile(18, 9)
    assert tile_of(-0.001, 0.001) == Tile(17, 8)
    assert tile_of(180.0, 0.0) == Tile(35, 9)  # the east edge belongs to the last tile
    assert tile_of(0.0, -90.0) == Tile(18, 17)  # and the south pole to the last row
    assert tile_of(-180.0, 90.0) == Tile(18, 0)  # the poles are points at x = 0
    with pytest.raises(ConfigError):
        tile_of(181.0, 0.0)


def test_cube_grid_needs_tiles():
    with pytest.raises(ConfigError):
        CubeGrid([])


# ---------------------------------------------------------------------- regions
PLACES = {
    "europe": {
        "Paris": (2.35, 48.86), "Madrid": (-3.70, 40.42), "Lisbon": (-9.14, 38.72),
        "Seville": (-5.98, 37.39), "Rome": (12.50, 41.90), "Palermo": (13.36, 38.12),
        "Athens": (23.73, 37.98), "Berlin": (13.40, 52.52), "Warsaw": (21.01, 52.23),
        "Dublin": (-6.26, 53.35), "Reykjavik": (-21.94, 64.15), "Oslo": (10.75, 59.91),
        "Helsinki": (24.94, 60.17), "Kyiv": (30.52, 50.45), "Moscow": (37.62, 55.76),
        "Hammerfest": (23.68, 70.66), "Vardo": (31.10, 70.37), "Volgograd": (44.51, 48.71),
    },
    "conus": {
        "Seattle": (-122.33, 47.61), "Los Angeles": (-118.24, 34.05),
        "San Diego": (-117.16, 32.72), "Phoenix": (-112.07, 33.45), "Denver": (-104.99, 39.74),
        "Dallas": (-96.80, 32.78), "Brownsville": (-97.50, 25.90), "Presidio": (-104.37, 29.56),
        "Miami": (-80.19, 25.76), "Key West": (-81.78, 24.56), "New York": (-74.01, 40.71),
        "Boston": (-71.06, 42.36), "Bar Harbor": (-68.20, 44.39), "Chicago": (-87.63, 41.88),
        "Cape May": (-74.91, 38.94),
    },
    "africa": {
        "Cairo": (31.24, 30.04), "Tunis": (10.18, 36.81), "Casablanca": (-7.59, 33.57),
        "Dakar": (-17.47, 14.72), "Freetown": (-13.23, 8.48), "Lagos": (3.38, 6.52),
        "Libreville": (9.45, 0.39), "Kinshasa": (15.27, -4.44), "Nairobi": (36.82, -1.29),
        "Mogadishu": (45.32, 2.05), "Cape Guardafui": (51.26, 11.80),
        "Cape Town": (18.42, -33.92), "Durban": (31.02, -29.86), "Maputo": (32.57, -25.97),
        "Antananarivo": (47.52, -18.88), "Fort Dauphin": (46.98, -25.03),
    },
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(PLACES))
def test_named_regions_hold_their_places(name):
    tiles = resolve_region(name)
    assert tiles == resolve_region(name.upper())
    assert [t.id for t in tiles] == sorted(REGIONS[name], key=lambda s: (s[4:], s[:3]))
    assert len(set(tiles)) == len(tiles)
    for place, (lon, lat) in PLACES[name].items():
        assert tile_of(lon, lat) in tiles, f"{place} ({tile_of(lon, lat)}) not in {name}"


def test_named_regions_leave_out_the_open_ocean_and_other_continents():
    europe, conus, africa = (set(resolve_region(n)) for n in ("europe", "conus", "africa"))
    assert len(conus) == 14
    # mid-Atlantic, Azores, Bay of Biscay-only rows ... no land of the region there
    for lon, lat in [(-30.0, 45.0), (-25.7, 37.8), (-16.9, 32.7), (-40.0, 0.0)]:
        tile = tile_of(lon, lat)
        assert tile not in europe | conus | africa, tile
    assert tile_of(44.4, 33.3) not in europe | africa  # Baghdad
    assert tile_of(46.7, 24.7) not in africa  # Riyadh: h22v06 holds only Arabia
    assert tile_of(-79.38, 43.65) in conus  # Toronto shares h12v04 with Buffalo
    assert not europe & conus and not africa & conus
    assert europe & africa == {Tile(17, 5), Tile(18, 5), Tile(19, 5), Tile(20, 5)}


def test_tile_lists():
    assert resolve_region("h18v04,h19v04") == [Tile(18, 4), Tile(19, 4)]
    assert resolve_region("h19v04 h18v04, h19v04") == [Tile(18, 4), Tile(19, 4)]
    assert resolve_region(["h18v04", Tile(17, 4)]) == [Tile(17, 4), Tile(18, 4)]
    assert resolve_region(Tile(1, 1)) == [Tile(1, 1)]
    with pytest.raises(ConfigError, match="unknown region"):
        resolve_region("atlantis")
    with pytest.raises(ConfigError):
        resolve_region("h18v04,h99v04")


def _tiles_by_sampling(west, south, east, north, n=400):
    """Independent check: project a dense lon/lat sample (cell centres), floor to tile indices."""
    lon = west + (np.arange(n) + 0.5) * (east - west) / n
    lat = south + (np.arange(n) + 0.5) * (north - south) / n
    lons, lats = np.meshgrid(lon, lat)
    fwd = pyproj.Transformer.from_crs("EPSG:4326", crs(), always_xy=True)
    x, y = fwd.transform(lons.ravel(), lats.ravel())
    h = np.minimum(np.floor(x / TILE_SIZE + 18).astype(int), 35)
    v = np.minimum(np.floor(9 - y / TILE_SIZE).astype(int), 17)
    return {Tile(int(a), int(b)) for a, b in set(zip(h.tolist(), v.tolist(), strict=True))}


@pytest.mark.parametrize(
    "bbox", [(-5.0, 42.0, 8.0, 51.0), (2.0, 43.5, 3.0, 44.0), (-125.0, 24.0, -66.0, 50.0)]
)
def test_bbox_gives_the_tiles_it_touches(bbox):
    tiles = resolve_region(bbox)
    assert tiles == resolve_region(",".join(str(v) for v in bbox))
    assert set(tiles) == _tiles_by_sampling(*bbox)


def test_bbox_france_and_small_boxes():
    assert [t.id for t in resolve_region((-5, 42, 8, 51))] == [
        "h17v03", "h18v03", "h17v04", "h18v04",
    ]  # fmt: skip
    assert resolve_region("2,43.5,3,44") == [Tile(18, 4)]


def test_whole_world_bbox_gives_the_460_modis_tiles_with_data():
    tiles = set(resolve_region((-180, -90, 180, 90)))
    # independent: a tile has data when one of its 1 km pixel centres lies inside the projection
    # outline |x| <= pi R cos(y / R)
    half, p = np.pi * EARTH_RADIUS, PIXEL_SIZE["1km"]
    expected = set()
    for v in range(18):
        for h in range(36):
            left, bottom, right, top = Tile(h, v).bounds
            x0, x1, y0, y1 = left + p / 2, right - p / 2, bottom + p / 2, top - p / 2
            near_x = 0.0 if x0 <= 0 <= x1 else min(abs(x0), abs(x1))
            near_y = 0.0 if y0 <= 0 <= y1 else min(abs(y0), abs(y1))
            if near_x < half * np.cos(near_y / EARTH_RADIUS):
                expected.add(Tile(h, v))
    assert tiles == expected
    assert len(tiles) == 460  # the count of MODIS sinusoidal tiles holding valid pixels


def test_bbox_across_the_antimeridian():
    tiles = resolve_region((179.0, -20.0, -179.0, -10.0))
    assert set(tiles) == _tiles_by_sampling(179.0, -20.0, 180.0, -10.0) | _tiles_by_sampling(
        -180.0, -20.0, -179.0, -10.0
    )
    assert {t.h for t in tiles} >= {0, 35}


@pytest.mark.parametrize(
    "bad", [(0, 10, 5, 5), (0, -95, 1, 0), (200, 0, 210, 1), (1, 0, 1, 1), "1,2,3,nan"]
)
def test_bbox_rejects_nonsense(bad):
    with pytest.raises(ConfigError):
        resolve_region(bad)


@pytest.mark.parametrize("region", ["170,-10,-170,10", (170.0, -10.0, -170.0, 10.0)])
def test_a_cube_grid_across_the_antimeridian_is_refused_never_36_tiles_wide(region):
    # the 8 tiles of the box, 4 on each side of 180 deg
    tiles = resolve_region(region)
    assert len(tiles) == 8 and {t.h for t in tiles} == {34, 35, 0, 1}
    with pytest.raises(ConfigError, match="antimeridian") as info:
        CubeGrid.from_region(region)
    message = str(info.value)
    # the message names the two boxes to build as separate cubes
    assert "'170,-10,180,10'" in message and "'-180,-10,-170,10'" in message
    with pytest.raises(ConfigError, match=r"antimeridian.*36 tiles wide for 8 wanted tiles"):
        CubeGrid(tiles)
    # each side on its own is a narrow grid
    for part in split_antimeridian((170.0, -10.0, -170.0, 10.0)):
        grid = CubeGrid.from_region(part)
        assert grid.shape("1km") == (2 * 1200, 2 * 1200)


def test_sparse_and_whole_world_grids_are_not_taken_for_wrapping():
    assert CubeGrid(["h05v05", "h20v05"]).shape("1km") == (1200, 16 * 1200)
    assert CubeGrid([Tile(h, 8) for h in range(36)]).shape("1km") == (1200, 36 * 1200)
    assert CubeGrid.from_region("europe").h_range == (16, 21)
