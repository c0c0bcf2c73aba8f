"""The HDF4-EOS layer: StructMetadata / CoreMetadata parsing, plain HDF4 files, threads."""

from __future__ import annotations

import datetime as dt
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from lstcloud.errors import GranuleReadError
from lstcloud.readers import read_granule
from lstcloud.readers.hdf4 import parse_core_metadata, parse_struct_metadata, read_hdf4

STRUCT = """GROUP=GridStructure
\tGROUP=GRID_1
\t\tGridName="MODIS_Grid_2D"
\t\tXDim=4800
\t\tYDim=4800
\t\tUpperLeftPointMtrs=(-1111950.519667,5559752.598333)
\t\tLowerRightMtrs=(0.000000,4447802.078667)
\t\tProjection=GCTP_SNSOID
\t\tGROUP=DataField
\t\t\tOBJECT=DataField_1
\t\t\t\tDataFieldName="sur_refl_b01_1"
\t\t\tEND_OBJECT=DataField_1
\t\tEND_GROUP=DataField
\tEND_GROUP=GRID_1
\tGROUP=GRID_2
\t\tGridName="MODIS_Grid_1km_2D"
\t\tXDim=1200
\t\tYDim=1200
\t\tUpperLeftPointMtrs=(-1111950.519667,5559752.598333)
\t\tLowerRightMtrs=(0.000000,4447802.078667)
\tEND_GROUP=GRID_2
END_GROUP=GridStructure
END
\x00\x00"""


def test_parse_struct_metadata_several_grids() -> None:
    grids = parse_struct_metadata(STRUCT)
    assert [g.name for g in grids] == ["MODIS_Grid_2D", "MODIS_Grid_1km_2D"]
    first = grids[0]
    assert first.shape == (4800, 4800) and first.fields == ("sur_refl_b01_1",)
    assert first.transform.a == pytest.approx(231.656358, rel=1e-8)
    assert first.transform.e == pytest.approx(-231.656358, rel=1e-8)
    assert (first.transform.c, first.transform.f) == (-1111950.519667, 5559752.598333)
    assert grids[1].transform.a == pytest.approx(926.625433, rel=1e-8)


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("GROUP=GridStructure\nEND_GROUP=GridStructure\n", "no grid"),
        ('GROUP=GRID_1\nGridName="G"\nXDim=10\nEND_GROUP=GRID_1', "XDim/YDim"),
        ('GROUP=GRID_1\nGridName="G"\nXDim=10\nYDim=10\nEND_GROUP=GRID_1', "UpperLeft"),
    ],
)
def test_parse_struct_metadata_errors(text: str, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        parse_struct_metadata(text)


def test_parse_core_metadata_of_the_writer(mod11a1_sample: Path) -> None:
    from pyhdf.SD import SD

    sd = SD(str(mod11a1_sample))
    core = parse_core_metadata(sd.attributes()["CoreMetadata.0"])
    sd.end()
    assert core["short_name"] == "MOD11A1"
    assert core["start_date"] == core["end_date"] == dt.date(2020, 7, 1)
    assert (core["h"], core["v"]) == (18, 4)
    assert core["local_granule_id"] == mod11a1_sample.name
    assert parse_core_metadata("garbage") == {}


def test_plain_hdf4_without_eos_metadata(tmp_path: Path) -> None:
    from pyhdf.SD import SD, SDC

    path = tmp_path / "plain.hdf"
    sd = SD(str(path), SDC.WRITE | SDC.CREATE)
    sds = sd.create("LST_Day_1km", SDC.UINT16, (4, 4))
    sds[:] = np.full((4, 4), 15000, dtype=np.uint16)
    sds.endaccess()
    sd.end()
    with pytest.raises(GranuleReadError, match=r"no HDF-EOS grid metadata in .*plain\.hdf"):
        read_hdf4(path, ["LST_Day_1km"])


def test_concurrent_reads_in_threads(mod11a1_sample: Path) -> None:
    expected = read_granule(mod11a1_sample, "MOD11A1")["LST_Day_1km"].values
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda _: read_granule(mod11a1_sample, "MOD11A1"), range(4)))
    for ds in results:
        np.testing.assert_array_equal(ds["LST_Day_1km"].values, expected)
