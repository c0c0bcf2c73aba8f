"""``product_info``: extent, complete and missing days, provenance."""

from __future__ import annotations

import datetime as dt
import json

import pyproj
import pytest

from lstcloud.errors import CubeError
from lstcloud.query import product_info
from lstcloud.query.info import lonlat_bbox
from tests.query.sample_product import SINUSOIDAL


def test_info_reports_days_extent_and_provenance(product):
    url, truth = product
    info = product_info(url)
    d = dt.date
    assert info.complete_days == (d(2024, 1, 1), d(2024, 1, 2), d(2024, 1, 3), d(2024, 1, 5))
    assert info.missing_days == (d(2024, 1, 4), *(d(2024, 1, i) for i in range(6, 11)))
    assert info.time_range == (d(2024, 1, 1), d(2024, 1, 10))
    assert info.shape == {"time": 10, "y": 96, "x": 96}
    assert info.chunks == {"time": 1, "y": 48, "x": 48}
    assert info.provenance["lstcloud_model_name"] == "sif-cnn-sr1"
    assert info.provenance["lstcloud_model_sha256"] == "ab" * 32
    # The bbox holds every pixel centre.
    to_lonlat = pyproj.Transformer.from_crs(SINUSOIDAL, "EPSG:4326", always_xy=True)
    for x in truth["x"].values[[0, -1]]:
        for y in truth["y"].values[[0, -1]]:
            lon, lat = to_lonlat.transform(x, y)
            assert info.bbox[0] <= lon <= info.bbox[2] and info.bbox[1] <= lat <= info.bbox[3]
    doc = json.loads(json.dumps(info.to_dict()))
    assert doc["missing_days"][0] == "2024-01-04"
    text = info.to_text()
    assert "2024-01-01..2024-01-03, 2024-01-05" in text and "sif-cnn-sr1" in text


def test_lonlat_bbox_ignores_points_off_the_globe():
    # Sinusoidal tile h09v02 (60-70 N): its western part at 70 N lies beyond the 180th meridian.
    x0, y0, tile = -20015109.355798, 10007554.677899, 1111950.5197665
    bounds = (x0 + 9 * tile, y0 - 3 * tile, x0 + 10 * tile, y0 - 2 * tile)
    west, south, east, north = lonlat_bbox(SINUSOIDAL, bounds)
    assert west == pytest.approx(-180.0, abs=0.5)
    assert -180.0 <= west < east < -150.0
    assert 60.0 - 1e-6 <= south < north <= 70.0 + 1e-6
    # A tile entirely off the globe has no valid part: the whole world is returned.
    off = (x0, y0 - 3 * tile, x0 + tile, y0 - 2 * tile)
    assert lonlat_bbox(SINUSOIDAL, off) == (-180.0, -90.0, 180.0, 90.0)


def test_info_of_nothing_is_a_cube_error(tmp_path):
    with pytest.raises(CubeError):
        product_info(str(tmp_path / "missing.zarr"))


def test_info_summarises_the_model_card_and_json_keeps_it_whole(product):
    """Issue 24, item 7: ``lstcloud info`` printed the model card as one line of several kB."""
    import dataclasses

    url, _ = product
    card = {"name": "default", "architecture": "ensemble", "passes": 20,
            "receptive_field_px": 120, "members": [{"name": f"m{i}", "notes": "x" * 900}
                                                  for i in range(5)],
            "postprocess": {"consistency_correction": "lowpass-residual", "sigma_km": 2.0}}
    info = product_info(url)
    info = dataclasses.replace(info, provenance={**info.provenance, "lstcloud_model_card": card})
    line = next(li for li in info.to_text().splitlines() if li.startswith("lstcloud_model_card"))
    assert len(line) < 250 and "passes 20" in line and "5 members" in line
    assert "lowpass-residual" in line and "--json" in line
    assert json.loads(json.dumps(info.to_dict()))["provenance"]["lstcloud_model_card"] == card
    assert max(len(li) for li in info.to_text().splitlines()) < 250
