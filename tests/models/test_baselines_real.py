"""Baselines on the real MODIS inputs of the 21 development pairs (Wald protocol 4 km -> 1 km).

Only the MODIS LST and NDVI files are read (never the ASTER files). The NDVI window is aligned
to the LST window by the geotransforms (it can be offset by a few 250 m pixels).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import rasterio

from lstcloud import ops
from lstcloud.models import load_model

pytestmark = pytest.mark.shared_data


def _aligned_pair(folder: Path) -> tuple[np.ndarray, np.ndarray]:
    with rasterio.open(folder / "modis_lst_1km.tif") as lst_src, rasterio.open(
            folder / "modis_ndvi_250m.tif") as ndvi_src:
        lst = lst_src.read(1).astype(np.float32)
        ndvi = ndvi_src.read(1).astype(np.float32)
        dx = round((ndvi_src.transform.c - lst_src.transform.c) / ndvi_src.transform.a)
        dy = round((ndvi_src.transform.f - lst_src.transform.f) / ndvi_src.transform.e)
    h, w = lst.shape[0] * 4, lst.shape[1] * 4
    aligned = np.full((h, w), np.nan, np.float32)
    src = ndvi[max(0, -dy):, max(0, -dx):]
    oy, ox = max(0, dy), max(0, dx)
    src = src[:h - oy, :w - ox]
    aligned[oy:oy + src.shape[0], ox:ox + src.shape[1]] = src
    lst[~(lst > 0)] = np.nan  # 0 = no data
    return lst, aligned


@pytest.fixture(scope="module")
def wald_inputs(aster_dev: Path) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    folders = sorted(p for p in aster_dev.iterdir() if (p / "modis_lst_1km.tif").is_file())
    assert len(folders) == 21
    out = []
    for folder in folders:
        lst, ndvi = _aligned_pair(folder)
        out.append((ops.degrade_np(lst, method="mean"),
                    ops.degrade_np(ndvi, method="mean", min_valid=0.5), lst))
    return out


def _rmse(pred: np.ndarray, truth: np.ndarray) -> float:
    ok = np.isfinite(pred) & np.isfinite(truth)
    return float(np.sqrt(np.mean((pred[ok] - truth[ok]) ** 2)))


def test_wald_rmse_of_the_baselines(wald_inputs: list) -> None:
    scores = {name: [_rmse(load_model(name).predict(lst4, ndvi1), truth)
                     for lst4, ndvi1, truth in wald_inputs]
              for name in ("bicubic", "tsharp", "tsharp-window")}
    means = {name: float(np.mean(v)) for name, v in scores.items()}
    # measured: bicubic 1.55 K, tsharp 1.41 K, tsharp-window 1.36 K (mean over the 21 pairs)
    assert all(0.3 < v < 4.0 for v in scores["bicubic"])
    assert means["tsharp"] < means["bicubic"]
    assert means["tsharp-window"] < means["bicubic"]


def test_tsharp_keeps_the_coarse_means_on_real_data(wald_inputs: list) -> None:
    model = load_model("tsharp")
    for lst4, ndvi1, _ in wald_inputs[:5]:
        pred = model.predict(lst4, ndvi1)
        complete = np.isfinite(ops.degrade_np(ndvi1, method="mean")) & np.isfinite(lst4)
        back = ops.degrade_np(pred, method="mean")
        np.testing.assert_allclose(back[complete], lst4[complete], atol=1e-3)
