"""The MODIS product specs (MOD21A1D/N, MOD11A1, MOD09GQ, MOD09Q1, MOD13Q1) and their registry.

One frozen :class:`ProductSpec` per product: the HDF-EOS grid name, the science data sets (SDS)
with their storage type, scale, offset, fill value, valid range and units, where each SDS lives at
each STAC provider (asset keys), which QC SDS masks which variable, and the *role* each variable
plays in the input cube (``lst_day``, ``qc_day``, ``ndvi`` ...).

Everything here was checked against real granules (``../shared/data/hdf4_granules``: MOD11A1 and
MYD13Q1; ``other_modis_samples``: MOD09A1, MOD11B2, MOD13A2) and against the LP DAAC / LAADS file
specifications. Facts worth knowing:

- Physical value = ``raw * scale + offset`` for every variable here (the MODIS land convention;
  e.g. MOD11 ``Day_view_angl`` = raw * 1 - 65).
- The VI products (MOD13Q1) store ``scale_factor = 10000.0`` in the HDF file: a *divisor*
  (NDVI = raw / 10000). The spec keeps the multiplicative ``scale = 1e-4``;
  :attr:`VariableSpec.hdf_scale_factor` keeps the file's literal attribute so that writers can
  reproduce it. Never trust an HDF ``scale_factor`` attribute blindly.
- MOD09GQ SDS names carry a ``_1`` suffix (``sur_refl_b01_1``, ``QC_250m_1``) in grid
  ``MODIS_Grid_2D``; MOD09Q1 has none (``sur_refl_b01``, ``sur_refl_qc_250m``).
- MOD13Q1 SDS names contain spaces (``250m 16 days NDVI``); Planetary Computer's COG asset keys
  replace them with underscores (``250m_16_days_NDVI``).
- Planetary Computer has no MOD21A1D/N or MOD09GQ collection; NASA CMR-STAC (``lpcloud``) serves
  every product as one HDF4 file under asset key ``data``.
- Terra (``MOD``) and Aqua (``MYD``) products share one format; :func:`get_product` accepts both.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from types import MappingProxyType
from typing import Literal

from lstcloud.core.errors import ConfigError
from lstcloud.products.spec import ProductSpec, VariableSpec

__all__ = [
    "MOD09GQ",
    "MOD09Q1",
    "MOD11A1",
    "MOD13Q1",
    "MOD21A1D",
    "MOD21A1N",
    "PRODUCTS",
    "get_product",
]


def _vars(*specs: VariableSpec) -> dict[str, VariableSpec]:
    return {s.sds: s for s in specs}


def _lst(
    sds: str, long_name: str, role: str | None, *, hdf_add_offset: float | None = None
) -> VariableSpec:
    return VariableSpec(
        sds,
        "uint16",
        scale=0.02,
        fill=0,
        valid_range=(7500, 65535),
        units="K",
        long_name=long_name,
        role=role,
        hdf_scale_factor=0.02,
        hdf_add_offset=hdf_add_offset,
    )


def _view_time(sds: str, long_name: str, role: str | None) -> VariableSpec:
    return VariableSpec(
        sds,
        "uint8",
        scale=0.1,
        fill=255,
        valid_range=(0, 240),
        units="hours",
        long_name=long_name,
        role=role,
        hdf_scale_factor=0.1,
        hdf_units="hrs",
    )


def _view_angle(sds: str, long_name: str) -> VariableSpec:
    return VariableSpec(
        sds,
        "uint8",
        scale=1.0,
        offset=-65.0,
        fill=255,
        valid_range=(0, 130),
        units="degree",
        long_name=long_name,
        hdf_scale_factor=1.0,
        hdf_units="deg",
        hdf_add_offset=-65.0,
    )


def _emis(sds: str, band: int) -> VariableSpec:
    return VariableSpec(
        sds,
        "uint8",
        scale=0.002,
        offset=0.49,
        fill=0,
        valid_range=(1, 255),
        units="1",
        long_name=f"Band {band} emissivity",
        hdf_units="",
        hdf_scale_factor=0.002,
        hdf_add_offset=0.49,
    )


def _clear_cov(sds: str, long_name: str) -> VariableSpec:
    return VariableSpec(
        sds,
        "uint16",
        scale=0.0005,
        fill=0,
        valid_range=(1, 65535),
        units="1",
        long_name=long_name,
        hdf_scale_factor=0.0005,
        hdf_units="",
    )


def _refl(sds: str, band: int, role: str | None) -> VariableSpec:
    return VariableSpec(
        sds,
        "int16",
        scale=1e-4,
        fill=-28672,
        valid_range=(-100, 16000),
        units="1",
        long_name=f"Surface_reflectance_for_band_{band}",
        role=role,
        hdf_scale_factor=1e-4,
        hdf_add_offset=0.0,
    )


def _qc(
    sds: str,
    dtype: str,
    long_name: str,
    role: str | None,
    *,
    fill: int | None = None,
    valid_range: tuple[int, int] | None = None,
    hdf_units: str | None = None,
) -> VariableSpec:
    return VariableSpec(
        sds,
        dtype,
        fill=fill,
        valid_range=valid_range,
        units="bit field",
        long_name=long_name,
        role=role,
        kind="qc",
        hdf_units=hdf_units,
    )


def _ndvi_derived(red: str, nir: str) -> VariableSpec:
    return VariableSpec(
        "NDVI",
        "float32",
        units="1",
        long_name="NDVI = (NIR - red) / (NIR + red)",
        role="ndvi",
        kind="derived",
        derived_from=(red, nir),
    )


def _vi(
    sds: str, role: str | None, *, fill: int, valid: tuple[int, int], units: str
) -> VariableSpec:
    return VariableSpec(
        sds,
        "int16",
        scale=1e-4,
        fill=fill,
        valid_range=valid,
        units=units,
        long_name=sds,
        role=role,
        hdf_scale_factor=10000.0,
        hdf_add_offset=0.0,
    )


def _angle_vi(sds: str, *, valid: tuple[int, int], fill: int) -> VariableSpec:
    return VariableSpec(
        sds,
        "int16",
        scale=0.01,
        fill=fill,
        valid_range=valid,
        units="degrees",
        long_name=sds,
        hdf_scale_factor=100.0,
        hdf_add_offset=0.0,
    )


_MOD11_QC_RANGE = (0, 255)

MOD11A1 = ProductSpec(
    name="MOD11A1",
    long_name="MODIS/Terra Land Surface Temperature/Emissivity Daily L3 Global 1km SIN Grid",
    resolution="1km",
    temporal="daily",
    grid_name="MODIS_Grid_Daily_1km_LST",
    variables=_vars(
        _lst("LST_Day_1km", "Daily daytime 1km grid Land-surface Temperature", "lst_day"),
        _qc(
            "QC_Day",
            "uint8",
            "Quality control for daytime LST and emissivity",
            "qc_day",
            valid_range=_MOD11_QC_RANGE,
            hdf_units="",
        ),
        _view_time(
            "Day_view_time", "Time of daytime Land-surface Temperature observation", "view_time_day"
        ),
        _view_angle("Day_view_angl", "View zenith angle of daytime Land-surface Temperature"),
        _lst("LST_Night_1km", "Daily nighttime 1km grid Land-surface Temperature", "lst_night"),
        _qc(
            "QC_Night",
            "uint8",
            "Quality control for nighttime LST and emissivity",
            "qc_night",
            valid_range=_MOD11_QC_RANGE,
            hdf_units="",
        ),
        _view_time(
            "Night_view_time",
            "Time of nighttime Land-surface Temperature observation",
            "view_time_night",
        ),
        _view_angle("Night_view_angl", "View zenith angle of nighttime Land-surface Temperature"),
        _emis("Emis_31", 31),
        _emis("Emis_32", 32),
        _clear_cov("Clear_day_cov", "day clear-sky coverage"),
        _clear_cov("Clear_night_cov", "night clear-sky coverage"),
    ),
    qc_for={"LST_Day_1km": "QC_Day", "LST_Night_1km": "QC_Night"},
    qc_scheme="MOD11",
    collections={"planetary-computer": "modis-11A1-061", "lpcloud": "MOD11A1_061"},
    hdf_asset_key={"planetary-computer": "hdf", "lpcloud": "data"},
    cog_providers=("planetary-computer",),
)


def _mod21(name: str, part: Literal["day", "night"]) -> ProductSpec:
    word = "daytime" if part == "day" else "nighttime"
    return ProductSpec(
        name=name,
        long_name=f"MODIS/Terra Land Surface Temperature/3-Band Emissivity Daily L3 Global 1km "
        f"SIN Grid ({word})",
        resolution="1km",
        temporal="daily",
        grid_name="MODIS_Grid_Daily_1km_LST21",
        variables=_vars(
            # MOD21 files carry add_offset = 0.0 (MOD11 has none)
            _lst(
                "LST_1KM",
                "Daily 1km Land-surface Temperature",
                f"lst_{part}",
                hdf_add_offset=0.0,
            ),
            _qc(
                "QC",
                "uint16",
                "Daily QC for LST and emissivity",
                f"qc_{part}",
                valid_range=(0, 65535),
            ),
            _view_time("View_Time", "Time of Observation", f"view_time_{part}"),
            _view_angle("View_Angle", "View zenith angle"),
            _emis("Emis_29", 29),
            _emis("Emis_31", 31),
            _emis("Emis_32", 32),
        ),
        qc_for={"LST_1KM": "QC"},
        qc_scheme="MOD21",
        collections={"lpcloud": f"{name}_061"},
    )


MOD21A1D = _mod21("MOD21A1D", "day")
MOD21A1N = _mod21("MOD21A1N", "night")

MOD09GQ = ProductSpec(
    name="MOD09GQ",
    long_name="MODIS/Terra Surface Reflectance Daily L2G Global 250m SIN Grid",
    resolution="250m",
    temporal="daily",
    grid_name="MODIS_Grid_2D",
    variables=_vars(
        _refl("sur_refl_b01_1", 1, "red"),
        _refl("sur_refl_b02_1", 2, "nir"),
        # LP DAAC layer table: fill 2995 (MODLAND 11, band quality 1011 "missing input"),
        # valid 0..4096 (4096 = bit 12 "atmospheric correction performed" alone).
        _qc(
            "QC_250m_1",
            "uint16",
            "250m Reflectance Band Quality",
            "ndvi_qc",
            fill=2995,
            valid_range=(0, 4096),
        ),
        _ndvi_derived("sur_refl_b01_1", "sur_refl_b02_1"),
    ),
    qc_for={"sur_refl_b01_1": "QC_250m_1", "sur_refl_b02_1": "QC_250m_1"},
    qc_scheme="MOD09",
    collections={"lpcloud": "MOD09GQ_061"},
)

MOD09Q1 = ProductSpec(
    name="MOD09Q1",
    long_name="MODIS/Terra Surface Reflectance 8-Day L3 Global 250m SIN Grid",
    resolution="250m",
    temporal="8-day",
    grid_name="MOD_Grid_250m_Surface_Reflectance",
    variables=_vars(
        _refl("sur_refl_b01", 1, "red"),
        _refl("sur_refl_b02", 2, "nir"),
        # Bits as MOD09GQ's QC_250m, but bits 2-3 (cloud state) are not populated in 09Q1
        # (LP DAAC QA note CC_MOD09_09030): clouds are in sur_refl_state_250m bits 0-1.
        _qc(
            "sur_refl_qc_250m",
            "uint16",
            "Surface_reflectance_250m_quality_control_flags",
            "ndvi_qc",
            fill=65535,
            valid_range=(0, 32767),
        ),
        _qc(
            "sur_refl_state_250m",
            "uint16",
            "Surface_reflectance_250m_state_flags",
            None,
            fill=65535,
            valid_range=(0, 57343),
        ),
        _ndvi_derived("sur_refl_b01", "sur_refl_b02"),
    ),
    qc_for={"sur_refl_b01": "sur_refl_qc_250m", "sur_refl_b02": "sur_refl_qc_250m"},
    qc_scheme="MOD09",
    collections={"planetary-computer": "modis-09Q1-061", "lpcloud": "MOD09Q1_061"},
    hdf_asset_key={"planetary-computer": "hdf", "lpcloud": "data"},
    cog_providers=("planetary-computer",),
    composite_days=8,
)

MOD13Q1 = ProductSpec(
    name="MOD13Q1",
    long_name="MODIS/Terra Vegetation Indices 16-Day L3 Global 250m SIN Grid",
    resolution="250m",
    temporal="16-day",
    grid_name="MODIS_Grid_16DAY_250m_500m_VI",
    variables=_vars(
        _vi("250m 16 days NDVI", "ndvi", fill=-3000, valid=(-2000, 10000), units="NDVI"),
        _vi("250m 16 days EVI", None, fill=-3000, valid=(-2000, 10000), units="EVI"),
        _qc(
            "250m 16 days VI Quality",
            "uint16",
            "250m 16 days VI Quality",
            "ndvi_qc",
            fill=65535,
            valid_range=(0, 65534),
        ),
        _vi(
            "250m 16 days red reflectance", "red", fill=-1000, valid=(0, 10000), units="reflectance"
        ),
        _vi(
            "250m 16 days NIR reflectance", "nir", fill=-1000, valid=(0, 10000), units="reflectance"
        ),
        _vi(
            "250m 16 days blue reflectance", None, fill=-1000, valid=(0, 10000), units="reflectance"
        ),
        _vi(
            "250m 16 days MIR reflectance", None, fill=-1000, valid=(0, 10000), units="reflectance"
        ),
        _angle_vi("250m 16 days view zenith angle", valid=(0, 18000), fill=-10000),
        _angle_vi("250m 16 days sun zenith angle", valid=(0, 18000), fill=-10000),
        _angle_vi("250m 16 days relative azimuth angle", valid=(-18000, 18000), fill=-4000),
        VariableSpec(
            "250m 16 days composite day of the year",
            "int16",
            fill=-1,
            valid_range=(1, 366),
            units="Julian day of the year ",
            long_name="250m 16 days composite day of the year",
        ),
        VariableSpec(
            "250m 16 days pixel reliability",
            "int8",
            fill=-1,
            valid_range=(0, 3),
            units="rank",
            long_name="250m 16 days pixel reliability",
            kind="qc",
        ),
    ),
    qc_for={
        "250m 16 days NDVI": "250m 16 days VI Quality",
        "250m 16 days EVI": "250m 16 days VI Quality",
        "250m 16 days red reflectance": "250m 16 days VI Quality",
        "250m 16 days NIR reflectance": "250m 16 days VI Quality",
    },
    qc_scheme="MOD13",
    collections={"planetary-computer": "modis-13Q1-061", "lpcloud": "MOD13Q1_061"},
    hdf_asset_key={"planetary-computer": "hdf", "lpcloud": "data"},
    cog_providers=("planetary-computer",),
    composite_days=16,
    aqua_composite_offset=8,
)

#: The Terra product specs by name. Aqua twins: ``get_product("MYD11A1")``.
PRODUCTS: Mapping[str, ProductSpec] = MappingProxyType(
    {p.name: p for p in (MOD21A1D, MOD21A1N, MOD11A1, MOD09GQ, MOD09Q1, MOD13Q1)}
)


@cache
def _aqua(name: str) -> ProductSpec:
    return PRODUCTS["MOD" + name[3:]].for_platform("aqua")


def get_product(name: str | ProductSpec) -> ProductSpec:
    """Return the spec of product ``name`` (``"MOD11A1"``, ``"MYD11A1"``, case-insensitive).

    A :class:`ProductSpec` is returned unchanged.

    Raises
    ------
    ConfigError
        Unknown product.
    """
    if isinstance(name, ProductSpec):
        return name
    key = str(name).strip().upper().split(".")[0]
    if key in PRODUCTS:
        return PRODUCTS[key]
    if key.startswith("MYD") and "MOD" + key[3:] in PRODUCTS:
        return _aqua(key)
    raise ConfigError(f"unknown product {name!r} (known: {', '.join(PRODUCTS)} and MYD twins)")
