"""``lstcloud serve`` over HTTP: viewer page, EDR position/area, map tiles, request bounds."""

from __future__ import annotations

import io

import morecantile
import numpy as np
import pyproj
import pytest
import requests
import xarray as xr
from PIL import Image

from tests.query.sample_product import SINUSOIDAL, centre_lonlat
from tests.serve.conftest import MAX_DAYS

TMS = morecantile.tms.get("WebMercatorQuad")


def _lonlat(truth: xr.Dataset, row: int, col: int) -> tuple[float, float]:
    to_lonlat = pyproj.Transformer.from_crs(SINUSOIDAL, "EPSG:4326", always_xy=True)
    lon, lat = to_lonlat.transform(float(truth["x"][col]), float(truth["y"][row]))
    return float(lon), float(lat)


def _position(server: str, lon: float, lat: float, **params: str) -> requests.Response:
    query = {"coords": f"POINT({lon} {lat})", **params}
    return requests.get(f"{server}/edr/position", params=query, timeout=30)


def _drawn_fraction(png: bytes) -> float:
    rgba = np.asarray(Image.open(io.BytesIO(png)).convert("RGBA"))
    return float((rgba[..., 3] > 0).mean())


def test_index_is_the_html_viewer_with_only_local_scripts(server: str) -> None:
    resp = requests.get(f"{server}/", timeout=10)
    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith("text/html")
    assert "static/vendor/leaflet/leaflet.js" in resp.text
    assert "http://" not in resp.text and "https://" not in resp.text
    js = requests.get(f"{server}/static/vendor/leaflet/leaflet.js", timeout=10)
    assert js.status_code == 200 and "Leaflet 1.9.4" in js.text[:200]


def test_position_returns_the_products_own_pixel_values_with_null_where_nan(
    server: str, served_product: tuple[str, xr.Dataset]
) -> None:
    _, truth = served_product
    days = [str(d)[:10] for d in truth["time"].values]
    lon, lat = centre_lonlat(truth)
    window = f"{days[1]}/{days[-1]}"
    resp = _position(
        server,
        lon,
        lat,
        datetime=window,
        **{"parameter-name": "lst_250m,lst_250m_quality,lst_250m_spread"},
    )
    assert resp.status_code == 200, resp.text
    cov = resp.json()
    assert cov["type"] == "Coverage"
    assert [t[:10] for t in cov["domain"]["axes"]["t"]["values"]] == days[1:]
    got = np.ravel(np.array(cov["ranges"]["lst_250m"]["values"], dtype="float64"))
    want = truth["lst_250m"].values[1:, 240, 240]
    np.testing.assert_allclose(got, want, atol=1e-3, rtol=0)
    spread = np.ravel(np.array(cov["ranges"]["lst_250m_spread"]["values"], dtype="float64"))
    np.testing.assert_allclose(spread, truth["lst_250m_spread"].values[1:, 240, 240], atol=1e-3)
    # the cloudy corner: NaN in the product is null in the CoverageJSON, its flag alongside
    lon, lat = _lonlat(truth, 2, 3)
    resp = _position(
        server, lon, lat, datetime=window, **{"parameter-name": "lst_250m,lst_250m_quality"}
    )
    assert resp.status_code == 200, resp.text
    assert np.ravel(resp.json()["ranges"]["lst_250m"]["values"]).tolist() == [None] * 5
    assert np.ravel(resp.json()["ranges"]["lst_250m_quality"]["values"]).tolist() == [1] * 5


def test_position_refuses_off_grid_points_and_too_long_series(
    server: str, served_product: tuple[str, xr.Dataset]
) -> None:
    _, truth = served_product
    lon, lat = centre_lonlat(truth)
    off = _position(server, lon + 5, lat, datetime="2024-01-01/2024-01-02")
    assert off.status_code == 404 and "outside the product grid" in off.json()["detail"]
    days = truth.sizes["time"]
    assert days > MAX_DAYS
    long = _position(server, lon, lat)  # the whole product: 6 days
    assert long.status_code == 400 and f"limit of {MAX_DAYS}" in long.json()["detail"]
    bad = _position(server, lon, lat, datetime="2024-01-01", **{"parameter-name": "secret"})
    assert bad.status_code == 400
    assert requests.post(f"{server}/edr/position", timeout=10).status_code == 405
    assert requests.get(f"{server}/edr/cube", timeout=10).status_code == 404


def test_tiles_draw_the_data_transparent_elsewhere_and_refuse_zoomed_out(
    server: str, served_product: tuple[str, xr.Dataset]
) -> None:
    _, truth = served_product
    lon, lat = centre_lonlat(truth)
    tile = TMS.tile(lon, lat, 7)
    url = f"{server}/tiles/WebMercatorQuad/7/{tile.x}/{tile.y}.png"
    resp = requests.get(url, params={"datetime": "2024-01-02", "variable": "lst_250m"}, timeout=60)
    assert resp.status_code == 200, resp.text
    assert resp.headers["content-type"] == "image/png"
    drawn = _drawn_fraction(resp.content)
    assert 0.10 <= drawn < 0.9  # the 111 km product over a 313 km tile; the rest transparent
    far = TMS.tile(lon + 20, lat, 7)
    empty = requests.get(
        f"{server}/tiles/WebMercatorQuad/7/{far.x}/{far.y}.png",
        params={"datetime": "2024-01-02"},
        timeout=30,
    )
    assert empty.status_code == 200 and _drawn_fraction(empty.content) == 0.0
    # the cloudy corner (NaN) stays transparent at a zoom where it spans several pixels
    corner = TMS.tile(*_lonlat(truth, 3, 3), 13)
    resp = requests.get(
        f"{server}/tiles/WebMercatorQuad/13/{corner.x}/{corner.y}.png",
        params={"datetime": "2024-01-02"},
        timeout=30,
    )
    assert 0.0 < _drawn_fraction(resp.content) < 1.0
    out = TMS.tile(lon, lat, 4)
    refused = requests.get(
        f"{server}/tiles/WebMercatorQuad/4/{out.x}/{out.y}.png",
        params={"datetime": "2024-01-02"},
        timeout=10,
    )
    assert refused.status_code == 400 and "minimum zoom" in refused.json()["detail"]
    not_a_day = requests.get(url, params={"datetime": "1999-01-01"}, timeout=10)
    assert not_a_day.status_code == 404
    unknown = requests.get(url, params={"datetime": "2024-01-02", "variable": "x"}, timeout=10)
    assert unknown.status_code == 400


def test_quality_mask_and_spread_layers(
    server: str, served_product: tuple[str, xr.Dataset]
) -> None:
    _, truth = served_product
    corner = TMS.tile(*_lonlat(truth, 3, 3), 13)
    base = f"{server}/tiles/WebMercatorQuad/13/{corner.x}/{corner.y}.png"
    mask = requests.get(
        base, params={"datetime": "2024-01-02", "variable": "quality_mask"}, timeout=30
    )
    lst = requests.get(base, params={"datetime": "2024-01-02"}, timeout=30)
    # the flagged (cloudy) corner is exactly where the mask draws and the LST does not
    drawn_mask = np.asarray(Image.open(io.BytesIO(mask.content)).convert("RGBA"))[..., 3] > 0
    drawn_lst = np.asarray(Image.open(io.BytesIO(lst.content)).convert("RGBA"))[..., 3] > 0
    assert drawn_mask.any() and not (drawn_mask & drawn_lst).any()
    spread = requests.get(
        base, params={"datetime": "2024-01-02", "variable": "lst_250m_spread"}, timeout=30
    )
    assert spread.status_code == 200 and spread.headers["content-type"] == "image/png"
    layers = requests.get(f"{server}/api/product", timeout=10).json()["layers"]
    assert [layer["variable"] for layer in layers] == ["lst_250m", "lst_250m_spread"]
    assert requests.get(f"{server}/docs", timeout=10).status_code == 404  # Swagger UI's CDN


def test_tiles_of_two_days_use_the_same_fixed_colour_scale(
    server: str, served_product: tuple[str, xr.Dataset]
) -> None:
    lon, lat = centre_lonlat(served_product[1])
    tile = TMS.tile(lon, lat, 12)
    pngs = [
        requests.get(
            f"{server}/tiles/WebMercatorQuad/12/{tile.x}/{tile.y}.png",
            params={"datetime": day},
            timeout=30,
        ).content
        for day in ("2024-01-01", "2024-01-02")
    ]
    colours = [np.asarray(Image.open(io.BytesIO(p)).convert("RGB")).reshape(-1, 3) for p in pngs]
    # both days hold 280-290 K: with the fixed 250-330 K turbo range both use the same few
    # colours of the ramp's middle (a per-tile stretch would spread each day over the ramp)
    assert colours[0].mean(0) == pytest.approx(colours[1].mean(0), abs=8)


def test_area_gives_the_mean_and_count_per_day_of_the_pixels_inside(
    server: str, served_product: tuple[str, xr.Dataset]
) -> None:
    _, truth = served_product
    west, north = _lonlat(truth, 0, 0)
    east, south = _lonlat(truth, 40, 40)
    west, north, east, south = west + 1e-4, north - 1e-4, east + 1e-4, south - 1e-4
    resp = requests.get(
        f"{server}/edr/area",
        params={"bbox": f"{west},{south},{east},{north}", "datetime": "2024-01-01/2024-01-03"},
        timeout=30,
    )
    assert resp.status_code == 200, resp.text
    ranges = resp.json()["ranges"]
    # the pixels whose centre's lon/lat is in the box (the service works on the native grid)
    to_lonlat = pyproj.Transformer.from_crs(SINUSOIDAL, "EPSG:4326", always_xy=True)
    xx, yy = np.meshgrid(truth["x"].values[:60], truth["y"].values[:60])
    lons, lats = to_lonlat.transform(xx, yy)
    inside = (lons >= west) & (lons <= east) & (lats >= south) & (lats <= north)
    lst = truth["lst_250m"].values[:3, :60, :60]
    values = np.where(inside, lst, np.nan)
    assert inside.sum() > 1000
    assert ranges["lst_250m_count"]["values"] == np.isfinite(values).sum(axis=(1, 2)).tolist()
    np.testing.assert_allclose(
        ranges["lst_250m_mean"]["values"], np.nanmean(values, axis=(1, 2)), atol=1e-3
    )
    ring = f"{west} {south}, {east} {south}, {east} {north}, {west} {north}, {west} {south}"
    polygon = requests.get(
        f"{server}/edr/area",
        params={"coords": f"POLYGON(({ring}))", "datetime": "2024-01-01/2024-01-03"},
        timeout=30,
    )
    assert polygon.json()["ranges"] == resp.json()["ranges"]


def test_area_refuses_more_pixel_days_than_its_limit(
    served_product: tuple[str, xr.Dataset],
) -> None:
    import shapely

    import lstcloud
    from lstcloud.serve import Refused, ServeLimits
    from lstcloud.serve.area import area_statistics

    url, truth = served_product
    lon, lat = centre_lonlat(truth)
    box = shapely.box(lon - 0.1, lat - 0.1, lon + 0.1, lat + 0.1)
    with pytest.raises(Refused, match="limit of 1000") as err:
        area_statistics(
            lstcloud.open_product(url),
            box,
            start=None,
            end=None,
            variable="lst_250m",
            limits=ServeLimits(max_area_values=1000),
        )
    assert err.value.status == 413


def test_serve_binds_this_machine_by_default() -> None:
    from lstcloud.cli.main import build_parser

    args = build_parser().parse_args(["serve", "--product", "p.zarr"])
    assert (args.host, args.port) == ("127.0.0.1", 8000)
