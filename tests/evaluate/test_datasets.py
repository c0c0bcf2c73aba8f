"""Readers: alignment by geotransform, layouts, subsets, MOD11A1 fill."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import rasterio
from affine import Affine
from rasterio.crs import CRS

from lstcloud.errors import ConfigError, GranuleReadError
from lstcloud.evaluate import datasets

SINU = CRS.from_proj4("+proj=sinu +lon_0=0 +x_0=0 +y_0=0 +R=6371007.181 +units=m +no_defs")
RES_1KM = 926.6254330558334
RES_250 = RES_1KM / 4
X0, Y0 = 277061.00448369415, 5100146.38353772


def _write(path: Path, data: np.ndarray, transform: Affine, crs: CRS = SINU) -> None:
    data = np.atleast_3d(data)
    if data.ndim == 3 and data.shape[-1] <= 4 and data.shape[0] > 4:
        data = np.moveaxis(data, -1, 0)
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        width=data.shape[2],
        height=data.shape[1],
        count=data.shape[0],
        dtype="float32",
        crs=crs,
        transform=transform,
    ) as dst:
        dst.write(data.astype(np.float32))


def _triplet(folder: Path, *, drow: int, dcol: int) -> tuple[np.ndarray, np.ndarray]:
    folder.mkdir(parents=True)
    lst = (300 + np.arange(64, dtype=np.float32).reshape(8, 8)).astype(np.float32)
    ndvi = (np.arange(32 * 32, dtype=np.float32).reshape(32, 32) / 2000).astype(np.float32)
    _write(folder / datasets.LST_FILE, lst, Affine(RES_1KM, 0, X0, 0, -RES_1KM, Y0))
    ndvi_t = Affine(RES_250, 0, X0 + dcol * RES_250, 0, -RES_250, Y0 - drow * RES_250)
    _write(folder / datasets.NDVI_FILE, ndvi, ndvi_t)
    aster = np.full((40, 40), 3000.0, np.float32)
    aster[:, :4] = 0
    utm = Affine(231.65, 0, 530000.0, 0, -231.65, 5090000.0)
    _write(folder / datasets.ASTER_FILE, aster, utm, CRS.from_epsg(32631))
    return lst, ndvi


def test_ndvi_is_aligned_by_geotransform_not_index(tmp_path: Path) -> None:
    _, ndvi = _triplet(tmp_path / "001", drow=3, dcol=2)
    sample = datasets.read_dev_sample(tmp_path / "001")
    aligned = sample.ndvi_250m.data
    assert aligned.shape == (32, 32)
    assert sample.ndvi_offset_px == pytest.approx((3.0, 2.0))
    np.testing.assert_array_equal(aligned[3:, 2:], ndvi[:29, :30])
    assert np.isnan(aligned[:3]).all() and np.isnan(aligned[:, :2]).all()
    assert sample.ndvi_250m.transform.almost_equals(sample.lst_1km.transform @ Affine.scale(0.25))
    # ASTER is converted to kelvin
    assert np.nanmax(sample.aster.data) == pytest.approx(300.0)


def test_negative_offset_crops_the_ndvi(tmp_path: Path) -> None:
    _, ndvi = _triplet(tmp_path / "002", drow=-1, dcol=-2)
    aligned = datasets.read_dev_sample(tmp_path / "002").ndvi_250m.data
    np.testing.assert_array_equal(aligned[:31, :30], ndvi[1:, 2:])
    assert np.isnan(aligned[31]).all() and np.isnan(aligned[:, 30:]).all()


def test_layout_detection_and_subsets(tmp_path: Path) -> None:
    for name in ("000", "001", "002", "003", "004"):
        _triplet(tmp_path / "dev" / name, drow=0, dcol=0)
    assert datasets.detect_layout(tmp_path / "dev") == "aster-dev"
    names = [s.name for s in datasets.iter_dev_samples(tmp_path / "dev", limit=3)]
    assert names == ["000", "002", "004"]  # spread evenly over the sorted list
    names = [s.name for s in datasets.iter_dev_samples(tmp_path / "dev", names=["003"])]
    assert names == ["003"]
    with pytest.raises(ConfigError, match="not found"):
        list(datasets.iter_dev_samples(tmp_path / "dev", names=["999"]))
    (tmp_path / "empty").mkdir()
    with pytest.raises(ConfigError, match="neither"):
        datasets.detect_layout(tmp_path / "empty")


def test_mod11a1_patches_zero_is_nan(tmp_path: Path) -> None:
    patches = tmp_path / "patches"
    patches.mkdir()
    day = np.full((8, 8), 290.0, np.float32)
    day[0, 0] = 0
    night = np.full((8, 8), 280.0, np.float32)
    _write(
        patches / "MOD11A1.A2020001.x.tif",
        np.stack([day, night]),
        Affine(RES_1KM, 0, X0, 0, -RES_1KM, Y0),
    )
    assert datasets.detect_layout(patches) == "mod11a1-patches"
    (p,) = datasets.iter_mod11a1_patches(patches)
    assert p.name == "MOD11A1.A2020001.x" and np.isnan(p.lst_1km.data[0, 0])
    (n,) = datasets.iter_mod11a1_patches(patches, band="night")
    assert np.nanmean(n.lst_1km.data) == pytest.approx(280.0)


def test_unreadable_file_names_it(tmp_path: Path) -> None:
    bad = tmp_path / "bad.tif"
    bad.write_bytes(b"not a tiff")
    with pytest.raises(GranuleReadError, match=r"bad\.tif"):
        datasets.read_raster(bad)


def test_real_dev_offsets_are_whole_pixels(aster_dev: Path) -> None:
    sample = datasets.read_dev_sample(aster_dev / "000")
    assert sample.ndvi_offset_px == pytest.approx((1.0, 0.0), abs=1e-6)
    with rasterio.open(aster_dev / "000" / datasets.NDVI_FILE) as src:
        raw = src.read(1)
    np.testing.assert_array_equal(sample.ndvi_250m.data[1:, :], raw[:255, :])
    assert np.isnan(sample.ndvi_250m.data[0]).all()
