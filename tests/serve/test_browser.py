"""The viewer in a real browser: Debian's headless Chromium driven by Playwright.

No browser is downloaded: Playwright launches ``/usr/bin/chromium`` (the Debian package
``chromium``, installed by the CI's system-package step). Without it this test FAILS: the
viewer is a deliverable, not an optional extra. The screenshot is kept in
``$LSTCLOUD_ARTIFACTS`` (default: pytest's temporary folder) as ``viewer.png``.
"""

from __future__ import annotations

import io
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from PIL import Image

import lstcloud
from lstcloud.query import point_series
from tests.query.sample_product import centre_lonlat
from tests.serve.conftest import MAX_DAYS

CHROMIUM = os.environ.get("LSTCLOUD_CHROMIUM", "/usr/bin/chromium")


@pytest.fixture(scope="module")
def chromium() -> str:
    path = shutil.which(CHROMIUM) or (CHROMIUM if Path(CHROMIUM).exists() else None)
    if path is None:
        pytest.fail(
            f"{CHROMIUM} not found: install Debian's chromium (apt-get install -y chromium) "
            "for the viewer test"
        )
    return path


def _artifacts(tmp_path: Path) -> Path:
    folder = Path(os.environ.get("LSTCLOUD_ARTIFACTS", tmp_path))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def test_viewer_draws_tiles_and_a_click_shows_the_pixel_series(
    chromium: str, server: str, served_product: tuple[str, xr.Dataset], tmp_path: Path
) -> None:
    from playwright.sync_api import sync_playwright

    url, truth = served_product
    lon, lat = centre_lonlat(truth)
    requested: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=chromium, headless=True, args=["--no-sandbox", "--disable-gpu"]
        )
        try:
            page = browser.new_page(viewport={"width": 1100, "height": 640})
            page.on("request", lambda req: requested.append(req.url))
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.goto(f"{server}/", wait_until="load")
            page.wait_for_function(
                "document.querySelectorAll('#map img.leaflet-tile-loaded').length >= 2",
                timeout=60_000,
            )
            page.wait_for_load_state("networkidle")
            sizes = page.eval_on_selector_all(
                "#map img.leaflet-tile-loaded", "els => els.map(e => e.naturalWidth)"
            )
            assert sizes and all(w == 256 for w in sizes)
            assert page.eval_on_selector("#colorbar", "e => e.naturalWidth") > 0
            shot = np.asarray(Image.open(io.BytesIO(page.locator("#map").screenshot())))
            background = np.array([0xDF, 0xE5, 0xEA])
            coloured = np.abs(shot[..., :3].astype(int) - background).sum(-1) > 30
            assert coloured.mean() > 0.05, "the map shows no data"

            page.check("#mask")  # the quality-mask layer: its tiles load over the map
            page.wait_for_function(
                "[...document.querySelectorAll('#map img.leaflet-tile-loaded')]"
                ".some(i => i.src.includes('variable=quality_mask'))",
                timeout=30_000,
            )
            point = page.evaluate(
                "([lat, lon]) => window.lstcloudViewer.map.latLngToContainerPoint([lat, lon])",
                [lat, lon],
            )
            box = page.locator("#map").bounding_box()
            page.mouse.click(box["x"] + point["x"], box["y"] + point["y"])
            page.wait_for_function(
                f"document.querySelectorAll('#series tbody tr').length === {MAX_DAYS}",
                timeout=30_000,
            )
            clicked = page.evaluate("window.lstcloudViewer.clicked")
            shown = page.eval_on_selector_all(
                "#series tbody tr", "rows => rows.map(r => r.dataset.lst)"
            )
            header = page.inner_text("#uhead")
            page.wait_for_timeout(200)
            page.screenshot(path=str(_artifacts(tmp_path) / "viewer.png"))
        finally:
            browser.close()
    assert not errors, errors
    series = point_series(lstcloud.open_product(url), lon=clicked["lng"], lat=clicked["lat"])
    want = series["lst_250m"].values[-MAX_DAYS:]
    np.testing.assert_allclose(np.array(shown, dtype="float64"), want, atol=1e-3)
    assert header == "spread (K)"
    assert all(u.startswith(server) for u in requested), [
        u for u in requested if not u.startswith(server)
    ]
