"""The pipeline with the production model's parts: per-day adaptation, the ensemble's spread."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from pyproj import CRS, Transformer

import lstcloud
from lstcloud.cube.product import LST_VAR, QUALITY_VAR, SPREAD_VAR, ProductCube, open_product
from lstcloud.cube.store import open_input_cube
from lstcloud.inference.adapt import adapt_for_day, day_scenes
from lstcloud.inference.predict import predict_cube
from lstcloud.inference.quality import QualityFlag
from lstcloud.models.adaptation import Adaptation
from lstcloud.models.ensemble import EnsembleModel
from lstcloud.query.point import point_series
from tests.inference.cubes import WKT, day_inputs, write_input_cube

DAY = dt.date(2021, 9, 1)


def _cube(folder: Path, *, cloud: bool, shape: tuple[int, int] = (48, 32)) -> str:
    lst, ndvi = day_inputs(*shape, [DAY])
    if cloud:  # over the northern part: crops come from the rest
        lst[0, :20, :] = np.nan
    return write_input_cube(folder / "input.zarr", lst=lst, ndvi=ndvi, days=[DAY],
                            chunks_1km=(shape[0] // 3, shape[1] // 2))


def _adaptive() -> EnsembleModel:
    member = lstcloud.load_model("sif-cnn-sr2-published", device="cpu")
    return EnsembleModel([member], tta="none", name="adaptive",
                         adaptation=Adaptation(steps=4, lr=5e-4, crop_1km=8))


def test_day_scenes_are_seeded_and_at_least_half_valid(tmp_path: Path) -> None:
    ds = open_input_cube(_cube(tmp_path, cloud=True))
    recipe = Adaptation(steps=1, crop_1km=8)
    scenes = day_scenes(ds, 0, recipe, count=5)
    again = day_scenes(ds, 0, recipe, count=5)
    assert len(scenes) == 5
    for (lt, nt), (lt2, _) in zip(scenes, again, strict=True):
        assert lt.shape == (8, 8) and nt.shape == (32, 32)
        assert np.isfinite(lt).mean() >= 0.5
        np.testing.assert_array_equal(lt, lt2)
    other = day_scenes(ds, 0, Adaptation(steps=1, crop_1km=8, seed=1), count=5)
    assert any(not np.array_equal(a[0], b[0], equal_nan=True)
               for a, b in zip(scenes, other, strict=True))


def test_pipeline_adapts_once_per_day_and_equals_the_whole_day(tmp_path: Path,
                                                               cluster_client: Any) -> None:
    torch.set_num_threads(1)
    cube = _cube(tmp_path, cloud=False, shape=(96, 80))
    model = _adaptive()
    ds = open_input_cube(cube)
    expected = adapt_for_day(model, ds, 0).predict(ds["lst_day"].values[0], ds["ndvi"].values[0])
    out = str(tmp_path / "product.zarr")
    summary = predict_cube(cube_url=cube, model=model, out_url=out, start=DAY, end=DAY,
                           client=cluster_client, device="cpu", tile_1km=8)
    assert summary.written == (DAY,), summary.format()
    product = open_product(out)
    marker = ProductCube(out).complete_days()[DAY]
    assert marker["adaptation"]["steps"] == 4 and marker["adaptation"]["scenes"] >= 1
    # chunked (32 x 40 km chunks, 8 km model tiles) = the whole day predicted at once, where the
    # region's edge is out of the model's reach (near it the pipeline pads the region as every
    # chunk sees it, and flags it)
    edge = (product[QUALITY_VAR].values[0] & int(QualityFlag.REGION_EDGE)) > 0
    got = product[LST_VAR].values[0]
    assert (~edge).sum() > 10_000
    np.testing.assert_allclose(got[~edge], expected[~edge], atol=1e-4)
    plain = EnsembleModel(model.members, tta="none").predict(ds["lst_day"].values[0],
                                                             ds["ndvi"].values[0])
    assert np.nanmax(np.abs(got - plain)) > 1e-3  # the day's adaptation changed the output


def test_an_ensemble_product_holds_the_spread_of_its_passes(tmp_path: Path,
                                                            cluster_client: Any) -> None:
    torch.set_num_threads(1)
    cube = _cube(tmp_path, cloud=True, shape=(96, 80))
    members = [lstcloud.load_model(n, device="cpu") for n in ("sc-unet", "sif-cnn-sr2-published")]
    model = EnsembleModel(members, tta="flips", name="ens")
    out = str(tmp_path / "product.zarr")
    summary = predict_cube(cube_url=cube, model=model, out_url=out, start=DAY, end=DAY,
                           client=cluster_client, device="cpu", tile_1km=16)
    assert summary.written == (DAY,), summary.format()
    product = open_product(out)
    assert product[SPREAD_VAR].attrs["units"] == "K"
    lst, spread = product[LST_VAR].values[0], product[SPREAD_VAR].values[0]
    assert np.array_equal(np.isnan(lst), np.isnan(spread))  # NaN under the cloud, both
    assert np.isnan(lst).any() and (spread[np.isfinite(spread)] >= 0).all()
    edge = (product[QUALITY_VAR].values[0] & int(QualityFlag.REGION_EDGE)) > 0
    ds = open_input_cube(cube)
    _, whole = model.predict_with_spread(ds["lst_day"].values[0], ds["ndvi"].values[0])
    ok = ~edge & np.isfinite(spread)
    assert ok.sum() > 10_000
    np.testing.assert_allclose(spread[ok], whole[ok], atol=1e-4)
    # scientists get it from the queries
    to_lonlat = Transformer.from_crs(CRS.from_wkt(WKT), "EPSG:4326", always_xy=True)
    lon, lat = to_lonlat.transform(float(product.x[200]), float(product.y[300]))
    pixel = point_series(product, lon=lon, lat=lat)
    assert float(pixel[SPREAD_VAR].values[0]) == pytest.approx(float(spread[300, 200]))
    single = str(tmp_path / "single.zarr")
    predict_cube(cube_url=cube, model=members[0], out_url=single, start=DAY, end=DAY,
                 client=cluster_client, device="cpu", tile_1km=16)
    assert SPREAD_VAR not in open_product(single)  # one pass: no spread to write
