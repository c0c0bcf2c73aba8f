"""Product specs: registry, look-ups, encode/decode, and agreement with real granules."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pytest

from lstcloud.errors import ConfigError
from lstcloud.products import PRODUCTS, get_product

MOD11A1_REAL = "MOD11A1.A2019305.h14v09.006.2019306084028.hdf"
MYD13Q1_REAL = "MYD13Q1.A2002185.h00v09.006.2015149071135.hdf"


def test_registry_holds_the_six_products() -> None:
    assert set(PRODUCTS) == {"MOD21A1D", "MOD21A1N", "MOD11A1", "MOD09GQ", "MOD09Q1", "MOD13Q1"}


def test_get_product_variants() -> None:
    assert get_product("mod11a1") is PRODUCTS["MOD11A1"]
    assert get_product(PRODUCTS["MOD13Q1"]) is PRODUCTS["MOD13Q1"]
    aqua = get_product("MYD13Q1")
    assert aqua.name == "MYD13Q1" and aqua.variables == PRODUCTS["MOD13Q1"].variables
    with pytest.raises(ConfigError, match="unknown product"):
        get_product("MOD99X1")


def test_roles_and_qc() -> None:
    mod11 = get_product("MOD11A1")
    assert mod11.variable_for_role("lst_day") == "LST_Day_1km"
    assert mod11.qc_for["LST_Day_1km"] == "QC_Day"
    gq = get_product("MOD09GQ")
    assert gq.variable_for_role("ndvi") == "NDVI"
    assert gq.variables["NDVI"].derived_from == ("sur_refl_b01_1", "sur_refl_b02_1")
    assert "NDVI" not in gq.stored_variables
    assert get_product("MOD21A1N").variable_for_role("lst_night") == "LST_1KM"


def test_pc_asset_keys_replace_spaces() -> None:
    keys = get_product("MOD13Q1").pc_asset_keys
    assert keys["250m 16 days NDVI"] == "250m_16_days_NDVI"
    assert get_product("MOD21A1D").pc_asset_keys == {}


@pytest.mark.parametrize(
    ("product", "date", "start"),
    [
        ("MOD11A1", dt.date(2020, 7, 3), dt.date(2020, 7, 3)),
        ("MOD09Q1", dt.date(2020, 1, 9), dt.date(2020, 1, 9)),
        ("MOD09Q1", dt.date(2020, 1, 16), dt.date(2020, 1, 9)),
        ("MOD13Q1", dt.date(2020, 2, 1), dt.date(2020, 1, 17)),
        ("MYD13Q1", dt.date(2002, 7, 10), dt.date(2002, 7, 4)),  # the real MYD13Q1 granule
        ("MYD13Q1", dt.date(2021, 1, 3), dt.date(2020, 12, 26)),
    ],
)
def test_period_start(product: str, date: dt.date, start: dt.date) -> None:
    assert get_product(product).period_start(date) == start


def test_decode_and_encode_roundtrip() -> None:
    lst = get_product("MOD11A1").variables["LST_Day_1km"]
    raw = np.array([0, 7499, 7500, 14570, 65535], dtype=np.uint16)
    decoded = lst.decode(raw)
    assert decoded.dtype == np.float32
    assert np.isnan(decoded[:2]).all()
    np.testing.assert_allclose(decoded[2:], [150.0, 291.4, 1310.7], rtol=1e-6)
    back = lst.encode(np.array([np.nan, 291.4, 300.004], dtype=np.float32))
    np.testing.assert_array_equal(back, [0, 14570, 15000])
    angle = get_product("MOD11A1").variables["Day_view_angl"]
    np.testing.assert_allclose(
        angle.decode(np.array([0, 65, 130, 255], np.uint8))[:3], [-65, 0, 65]
    )
    with pytest.raises(TypeError):
        get_product("MOD11A1").variables["QC_Day"].decode(raw)


def _sds_facts(path: Path) -> dict[str, tuple[str, dict]]:
    from pyhdf.SD import SD

    sd = SD(str(path))
    try:
        out = {}
        for name in sd.datasets():
            sds = sd.select(name)
            out[name] = (np.asarray(sds[0:1, 0:1]).dtype.name, sds.attributes())
        return out
    finally:
        sd.end()


@pytest.mark.parametrize(
    ("filename", "product"), [(MOD11A1_REAL, "MOD11A1"), (MYD13Q1_REAL, "MYD13Q1")]
)
def test_spec_matches_real_granule(hdf4_granules: Path, filename: str, product: str) -> None:
    spec = get_product(product)
    facts = _sds_facts(hdf4_granules / filename)
    assert set(spec.stored_variables) == set(facts)
    for name in spec.stored_variables:
        var = spec.variables[name]
        dtype, attrs = facts[name]
        assert var.dtype == dtype, name
        assert attrs.get("_FillValue") == var.fill, name
        if var.valid_range is not None:
            assert tuple(attrs["valid_range"]) == var.valid_range, name
        assert attrs.get("scale_factor") == var.hdf_scale_factor, name
        assert attrs.get("add_offset") == var.hdf_add_offset or (
            var.hdf_add_offset == 0.0 and "add_offset" not in attrs
        ), name
        assert attrs.get("units", "") == var.file_units, name
        assert attrs["long_name"] == var.long_name, name
