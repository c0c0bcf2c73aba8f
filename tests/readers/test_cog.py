"""COG assets (Planetary Computer style) read alone, as a mapping, and against the HDF4 twin."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import rasterio

from lstcloud.errors import GranuleReadError, LstcloudWarning, MissingAssetError
from lstcloud.readers import is_cog_href, read_granule
from lstcloud.samples import corrupt_file


def test_cogs_are_cloud_optimized_like_planetary_computer(mod11a1_cogs: dict[str, str]) -> None:
    assert {"LST_Day_1km", "QC_Day", "Day_view_time", "Emis_31", "Clear_day_cov"} <= set(
        mod11a1_cogs
    )
    with rasterio.open(mod11a1_cogs["LST_Day_1km"]) as ds:
        assert ds.driver == "GTiff" and ds.tags(ns="IMAGE_STRUCTURE").get("LAYOUT") == "COG"
        assert ds.block_shapes[0] == (512, 512)
        assert ds.overviews(1)
        assert ds.nodata == 0 and ds.dtypes[0] == "uint16"
        assert "sinusoidal" in ds.crs.to_wkt().lower()
        assert ds.transform.c == pytest.approx(0.0) and ds.res[0] == pytest.approx(926.625433)
        assert ds.scales[0] == pytest.approx(0.02)
    with rasterio.open(mod11a1_cogs["QC_Day"]) as ds:
        assert ds.nodata is None and ds.dtypes[0] == "uint8"


def test_cog_mapping_equals_hdf4(mod11a1_sample: Path, mod11a1_cogs: dict[str, str]) -> None:
    assets = {**mod11a1_cogs, "hdf": str(mod11a1_sample), "metadata": "ignored.xml"}
    from_cogs = read_granule(assets, "MOD11A1")
    from_hdf = read_granule(mod11a1_sample, "MOD11A1")
    assert list(from_cogs.data_vars) == list(from_hdf.data_vars)
    for name in from_hdf.data_vars:
        np.testing.assert_array_equal(from_cogs[name].values, from_hdf[name].values)
    np.testing.assert_array_equal(from_cogs.x.values, from_hdf.x.values)
    np.testing.assert_array_equal(from_cogs.y.values, from_hdf.y.values)
    for key in ("tile", "date", "product"):
        assert from_cogs.attrs[key] == from_hdf.attrs[key]
    assert np.isfinite(from_hdf["LST_Day_1km"].values).sum() > 100_000


def test_cog_mapping_missing_qc_asset(mod11a1_cogs: dict[str, str]) -> None:
    assets = {k: v for k, v in mod11a1_cogs.items() if k != "QC_Day"}
    with pytest.raises(MissingAssetError, match="QC_Day"):
        read_granule(assets, "MOD11A1", variables=["LST_Day_1km"])
    ds = read_granule(assets, "MOD11A1", variables=["LST_Day_1km"], apply_qc=False)
    assert ds.attrs["qc_applied"] == 0


def test_single_cog_href(mod11a1_cogs: dict[str, str], mod11a1_sample: Path) -> None:
    href = mod11a1_cogs["LST_Day_1km"]
    assert is_cog_href(href + "?sig=x") and not is_cog_href(str(mod11a1_sample))
    with pytest.warns(LstcloudWarning, match="QC not applied"):
        ds = read_granule(href, "MOD11A1")
    assert list(ds.data_vars) == ["LST_Day_1km"]
    raw = read_granule(mod11a1_sample, "MOD11A1", apply_qc=False, variables=["LST_Day_1km"])
    np.testing.assert_array_equal(ds["LST_Day_1km"].values, raw["LST_Day_1km"].values)
    with pytest.raises(MissingAssetError, match="holds only LST_Day_1km"):
        read_granule(href, "MOD11A1", variables=["QC_Day"])


def test_unrecognised_cog_name(tmp_path: Path, mod11a1_cogs: dict[str, str]) -> None:
    odd = tmp_path / "something.tif"
    shutil.copy(mod11a1_cogs["LST_Day_1km"], odd)
    with pytest.raises(GranuleReadError, match=r"something\.tif"):
        read_granule(odd, "MOD11A1")


@pytest.mark.parametrize("mode", ["truncate", "garbage"])
def test_corrupt_cog(tmp_path: Path, mod11a1_cogs: dict[str, str], mode: str) -> None:
    bad = tmp_path / Path(mod11a1_cogs["LST_Day_1km"]).name
    shutil.copy(mod11a1_cogs["LST_Day_1km"], bad)
    corrupt_file(bad, mode=mode)  # type: ignore[arg-type]
    with pytest.raises(GranuleReadError, match=bad.name):
        read_granule(bad, "MOD11A1", apply_qc=False)


def test_cog_over_http(mod11a1_cogs: dict[str, str], http_server: str, http_root: Path) -> None:
    assets = {}
    for key in ("LST_Day_1km", "QC_Day"):
        shutil.copy(mod11a1_cogs[key], http_root / Path(mod11a1_cogs[key]).name)
        assets[key] = f"{http_server}/{Path(mod11a1_cogs[key]).name}?se=1&sig=TOPSECRET"
    ds = read_granule(assets, "MOD11A1", variables=["LST_Day_1km"])
    local = read_granule(mod11a1_cogs, "MOD11A1", variables=["LST_Day_1km"])
    np.testing.assert_array_equal(ds["LST_Day_1km"].values, local["LST_Day_1km"].values)
    assert "TOPSECRET" not in ds.attrs["href"]
