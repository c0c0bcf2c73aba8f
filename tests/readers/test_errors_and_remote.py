"""Bad input and remote stores: HDF4 over HTTP and S3 (real servers), error classification."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from lstcloud.errors import GranuleReadError, MissingAssetError, TransientError
from lstcloud.readers import read_granule
from lstcloud.samples import corrupt_file

H14V09 = "MOD11A1.A2019305.h14v09.006.2019306084028.hdf"


@pytest.mark.parametrize("mode", ["truncate", "garbage"])
def test_corrupt_granule_raises_granule_read_error_naming_href(
    mod11a1_sample: Path, tmp_path: Path, mode: str
) -> None:
    bad = tmp_path / mod11a1_sample.name
    shutil.copy(mod11a1_sample, bad)
    corrupt_file(bad, mode=mode)  # type: ignore[arg-type]
    with pytest.raises(GranuleReadError) as err:
        read_granule(bad, "MOD11A1")
    assert not isinstance(err.value, MissingAssetError)
    assert str(bad) in str(err.value)


def test_truncated_real_granule(hdf4_granules: Path, tmp_path: Path) -> None:
    bad = tmp_path / H14V09
    bad.write_bytes((hdf4_granules / H14V09).read_bytes()[:200_000])
    with pytest.raises(GranuleReadError, match=H14V09):
        read_granule(bad, "MOD11A1")


def test_missing_sds_raises_missing_asset(mod11a1_sample: Path) -> None:
    with pytest.raises(MissingAssetError, match="LST_1KM") as err:
        read_granule(mod11a1_sample, "MOD21A1D")  # a MOD11A1 file has no LST_1KM
    assert mod11a1_sample.name in str(err.value)


def test_missing_file_raises_missing_asset(tmp_path: Path) -> None:
    with pytest.raises(MissingAssetError, match=r"nothing\.hdf"):
        read_granule(tmp_path / "nothing.hdf", "MOD11A1")


def test_unknown_variable_is_a_config_error(mod11a1_sample: Path) -> None:
    from lstcloud.errors import ConfigError

    with pytest.raises(ConfigError, match="LST_Day_1KM"):
        read_granule(mod11a1_sample, "MOD11A1", variables=["LST_Day_1KM"])


# ------------------------------------------------------------------ HTTP (a real server)


def test_hdf4_over_http_equals_local(
    mod11a1_sample: Path, http_server: str, http_root: Path
) -> None:
    shutil.copy(mod11a1_sample, http_root / mod11a1_sample.name)
    url = f"{http_server}/{mod11a1_sample.name}?sig=SECRET123&se=2030"
    remote = read_granule(url, "MOD11A1", variables=["LST_Day_1km"])
    local = read_granule(mod11a1_sample, "MOD11A1", variables=["LST_Day_1km"])
    np.testing.assert_array_equal(remote["LST_Day_1km"].values, local["LST_Day_1km"].values)
    assert remote.attrs["tile"] == "h18v04"
    assert "SECRET123" not in remote.attrs["href"]


@pytest.mark.parametrize("status", [500, 503, 429])
def test_http_5xx_is_transient(http_server: str, status: int) -> None:
    url = f"{http_server}/status/{status}/MOD11A1.A2020183.h18v04.061.2020184181852.hdf?sig=S3CR3T"
    with pytest.raises(TransientError) as err:
        read_granule(url, "MOD11A1")
    assert "MOD11A1.A2020183" in str(err.value)
    assert "S3CR3T" not in str(err.value)


def test_http_404_is_missing_asset(http_server: str) -> None:
    with pytest.raises(MissingAssetError, match=r"absent\.hdf"):
        read_granule(f"{http_server}/absent.hdf", "MOD11A1")


def test_refused_connection_is_transient() -> None:
    from tests.servers import free_port

    url = f"http://127.0.0.1:{free_port()}/MOD11A1.hdf"
    with pytest.raises(TransientError, match=r"127\.0\.0\.1"):
        read_granule(url, "MOD11A1")


# ------------------------------------------------------------------ S3 (a real moto server)


def test_hdf4_and_cogs_from_s3(
    mod11a1_sample: Path,
    mod11a1_cogs: dict[str, str],
    s3_bucket: str,
    s3_storage_options: dict[str, Any],
) -> None:
    import s3fs

    fs = s3fs.S3FileSystem(skip_instance_cache=True, **s3_storage_options)
    hdf_url = f"{s3_bucket}/granules/{mod11a1_sample.name}"
    fs.put_file(str(mod11a1_sample), hdf_url)
    cogs = {}
    for key in ("LST_Day_1km", "QC_Day"):
        cogs[key] = f"{s3_bucket}/cogs/{Path(mod11a1_cogs[key]).name}"
        fs.put_file(mod11a1_cogs[key], cogs[key])
    variables = ["LST_Day_1km"]
    from_hdf = read_granule(
        hdf_url, "MOD11A1", variables=variables, storage_options=s3_storage_options
    )
    from_cog = read_granule(
        cogs, "MOD11A1", variables=variables, storage_options=s3_storage_options
    )
    local = read_granule(mod11a1_sample, "MOD11A1", variables=variables)
    np.testing.assert_array_equal(from_hdf["LST_Day_1km"].values, local["LST_Day_1km"].values)
    np.testing.assert_array_equal(from_cog["LST_Day_1km"].values, local["LST_Day_1km"].values)
    with pytest.raises(MissingAssetError, match=r"nope\.hdf"):
        read_granule(f"{s3_bucket}/nope.hdf", "MOD11A1", storage_options=s3_storage_options)


def test_s3_unreachable_endpoint_is_transient() -> None:
    from tests.servers import free_port

    options = {
        "key": "testing",
        "secret": "testing",
        "client_kwargs": {"endpoint_url": f"http://127.0.0.1:{free_port()}"},
        "config_kwargs": {"retries": {"max_attempts": 1}, "connect_timeout": 2},
    }
    with pytest.raises(TransientError, match="bucket/MOD11A1"):
        read_granule("s3://bucket/MOD11A1.hdf", "MOD11A1", storage_options=options)


def test_file_url_and_scale_mismatch_warning(mod11a1_sample: Path, tmp_path: Path) -> None:
    from pyhdf.SD import SD, SDC

    from lstcloud.errors import LstcloudWarning

    ds = read_granule(f"file://{mod11a1_sample}", "MOD11A1", variables=["LST_Day_1km"])
    assert ds.attrs["tile"] == "h18v04"
    odd = tmp_path / mod11a1_sample.name
    shutil.copy(mod11a1_sample, odd)
    sd = SD(str(odd), SDC.WRITE)
    sd.select("LST_Day_1km").attr("scale_factor").set(SDC.FLOAT64, 0.5)
    sd.end()
    with pytest.warns(LstcloudWarning, match="scale_factor=0.5"):
        again = read_granule(odd, "MOD11A1", variables=["LST_Day_1km"])
    # decoding follows the product spec, not a suspicious attribute
    np.testing.assert_array_equal(again["LST_Day_1km"].values, ds["LST_Day_1km"].values)


@pytest.mark.parametrize(
    ("content", "why"),
    [
        (b"<html><body>503 Service Unavailable</body></html>", "text / HTML"),
        (b"\x89HDF\r\n\x1a\n" + bytes(64), "HDF5 / netCDF-4"),
        (b"", "empty"),
        (bytes(range(64)), "starts with bytes 00 01 02 03"),
    ],
)
def test_a_file_that_is_not_hdf4_is_called_so(tmp_path: Path, content: bytes, why: str) -> None:
    """libhdf says "File is supported, must be either hdf, cdf, netcdf" for such a file; the
    message says what it is instead."""
    bad = tmp_path / H14V09
    bad.write_bytes(content)
    with pytest.raises(GranuleReadError) as err:
        read_granule(bad, "MOD11A1")
    text = str(err.value)
    assert f"{bad} is not an HDF4 file" in text and why in text
    assert "is supported" not in text


def test_a_truncated_hdf4_file_is_called_corrupt_not_foreign(
    mod11a1_sample: Path, tmp_path: Path
) -> None:
    bad = tmp_path / mod11a1_sample.name
    bad.write_bytes(mod11a1_sample.read_bytes()[:4096])
    with pytest.raises(GranuleReadError, match="truncated or corrupt") as err:
        read_granule(bad, "MOD11A1")
    assert "not an HDF4 file" not in str(err.value)
