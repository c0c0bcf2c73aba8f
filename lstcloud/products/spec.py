"""The frozen dataclasses describing a MODIS product: :class:`VariableSpec`, :class:`ProductSpec`.

Physical value = ``raw * scale + offset`` for every variable (the MODIS land convention; e.g. MOD11
``Day_view_angl`` = raw * 1 - 65). The literal HDF attributes are kept apart
(:attr:`VariableSpec.hdf_scale_factor`) because the VI products store a *divisor* there.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Literal

import numpy as np

from lstcloud.core.errors import ConfigError

__all__ = ["PROVIDERS", "ROLES", "ProductSpec", "VariableSpec"]

#: STAC providers lstcloud knows.
PROVIDERS: tuple[str, ...] = ("planetary-computer", "lpcloud")

#: Roles a variable can play in the input cube.
ROLES: tuple[str, ...] = (
    "lst_day",
    "qc_day",
    "view_time_day",
    "lst_night",
    "qc_night",
    "view_time_night",
    "red",
    "nir",
    "ndvi",
    "ndvi_qc",
)

Resolution = Literal["1km", "250m"]
Temporal = Literal["daily", "8-day", "16-day"]
VariableKind = Literal["data", "qc", "derived"]


@dataclass(frozen=True)
class VariableSpec:
    """One science data set (SDS) of a product.

    Parameters
    ----------
    sds
        The SDS name exactly as in the HDF4 file (``"LST_Day_1km"``, ``"250m 16 days NDVI"``).
    dtype
        Storage type (numpy name: ``"uint16"``, ``"int16"``, ``"uint8"`` ...).
    scale, offset
        Physical value = ``raw * scale + offset``.
    fill
        The ``_FillValue`` (``None`` when the SDS has none, e.g. MOD11 QC).
    valid_range
        Inclusive raw valid range, or ``None``.
    units
        Physical units (``"K"``, ``"hours"``, ``"1"``, ``"bit field"``).
    long_name
        The SDS ``long_name``.
    role
        Role in the input cube (one of :data:`ROLES`) or ``None`` for variables the cube does not
        carry (emissivity, view angle ...).
    kind
        ``"data"`` (decoded to float32 physical units), ``"qc"`` (left raw) or ``"derived"``
        (computed by the reader, not stored in the file: NDVI from red/NIR reflectance).
    hdf_units
        The literal ``units`` attribute of real files when it differs from ``units`` (MOD11
        writes ``"hrs"`` and ``"deg"``); ``None``: same as ``units``.
    hdf_scale_factor, hdf_add_offset
        The literal ``scale_factor`` / ``add_offset`` attributes of real files when present
        (``None``: the attribute is absent). Differs from ``scale`` for the VI products.
    derived_from
        For ``kind="derived"``: the SDS names it is computed from (``(red, nir)``).
    """

    sds: str
    dtype: str
    scale: float = 1.0
    offset: float = 0.0
    fill: int | None = None
    valid_range: tuple[int, int] | None = None
    units: str = ""
    long_name: str = ""
    role: str | None = None
    kind: VariableKind = "data"
    hdf_scale_factor: float | None = None
    hdf_add_offset: float | None = None
    derived_from: tuple[str, ...] = ()
    hdf_units: str | None = None

    def __post_init__(self) -> None:
        if self.role is not None and self.role not in ROLES:
            raise ConfigError(f"VariableSpec {self.sds!r}: unknown role {self.role!r}")
        np.dtype(self.dtype)  # raises on a bad name

    @property
    def numpy_dtype(self) -> np.dtype:
        """The storage dtype as a :class:`numpy.dtype`."""
        return np.dtype(self.dtype)

    @property
    def is_qc(self) -> bool:
        """Whether this SDS is a QC bit field (kept raw by the readers)."""
        return self.kind == "qc"

    @property
    def is_derived(self) -> bool:
        """Whether the reader computes this variable instead of reading it."""
        return self.kind == "derived"

    @property
    def file_units(self) -> str:
        """The ``units`` attribute as real HDF files write it."""
        return self.units if self.hdf_units is None else self.hdf_units

    def decode(self, raw: np.ndarray) -> np.ndarray:
        """Raw stored values -> float32 physical values, NaN at fill and outside the valid range.

        QC and derived variables are not decoded (``TypeError``).
        """
        if self.kind != "data":
            raise TypeError(f"{self.sds!r} is a {self.kind} variable: it has no physical decoding")
        raw = np.asarray(raw)
        invalid = np.zeros(raw.shape, dtype=bool)
        if self.fill is not None:
            invalid |= raw == self.fill
        if self.valid_range is not None:
            invalid |= (raw < self.valid_range[0]) | (raw > self.valid_range[1])
        out = raw.astype(np.float32)
        if self.scale != 1.0:
            out *= np.float32(self.scale)
        if self.offset != 0.0:
            out += np.float32(self.offset)
        out[invalid] = np.nan
        return out

    def encode(self, values: np.ndarray) -> np.ndarray:
        """Physical values -> raw stored values (rounded; NaN -> fill); inverse of ``decode``."""
        if self.kind != "data":
            raise TypeError(f"{self.sds!r} is a {self.kind} variable: it has no physical encoding")
        values = np.asarray(values)
        info = np.iinfo(self.numpy_dtype)
        # float32 is exact enough for 16-bit integers (and much faster on 4800 x 4800 tiles)
        work = (
            np.float32
            if values.dtype == np.float32 and self.numpy_dtype.itemsize <= 2
            else np.float64
        )
        raw = (values.astype(work) - work(self.offset)) / work(self.scale)
        np.rint(raw, out=raw)
        lo, hi = self.valid_range if self.valid_range is not None else (info.min, info.max)
        nan = np.isnan(raw)
        np.clip(raw, lo, hi, out=raw)
        raw[nan] = lo
        raw = raw.astype(self.numpy_dtype)
        if self.fill is not None:
            raw[nan] = self.fill
        return raw

    @property
    def pc_asset_key(self) -> str:
        """Planetary Computer's COG asset key: the SDS name with spaces as underscores."""
        return self.sds.replace(" ", "_")


@dataclass(frozen=True)
class ProductSpec:
    """The declarative description of one MODIS product.

    Parameters
    ----------
    name
        Short name (``"MOD11A1"``).
    long_name
        Human-readable title.
    resolution
        ``"1km"`` or ``"250m"`` (the grid the product lands on in the cube).
    temporal
        ``"daily"``, ``"8-day"`` or ``"16-day"``.
    grid_name
        HDF-EOS grid name in ``StructMetadata.0`` (``"MODIS_Grid_Daily_1km_LST"``).
    variables
        SDS name -> :class:`VariableSpec` (also holds derived variables such as ``ndvi``).
    qc_for
        Variable name -> the QC SDS that masks it.
    qc_scheme
        Which QC bit layout the QC SDS follow (``"MOD11"``, ``"MOD21"``, ``"MOD09"``, ``"MOD13"``);
        :func:`lstcloud.products.qc.default_policy` maps it to a policy.
    collections
        Provider -> STAC collection id (providers that do not serve the product are absent).
    hdf_asset_key
        Provider -> the asset key of the whole HDF4 granule (``lpcloud``: ``"data"``;
        Planetary Computer: ``"hdf"``).
    cog_providers
        Providers serving one COG per SDS keyed by :attr:`VariableSpec.pc_asset_key`.
    composite_days
        Length of the compositing period in days (1 for daily products).
    aqua_composite_offset
        Days by which the Aqua (``MYD``) composite periods are shifted (8 for MOD13Q1/MYD13Q1).
    """

    name: str
    long_name: str
    resolution: Resolution
    temporal: Temporal
    grid_name: str
    variables: Mapping[str, VariableSpec]
    qc_for: Mapping[str, str]
    qc_scheme: Literal["MOD11", "MOD21", "MOD09", "MOD13"]
    collections: Mapping[str, str]
    hdf_asset_key: Mapping[str, str] = field(
        default_factory=lambda: MappingProxyType({"lpcloud": "data"})
    )
    cog_providers: tuple[str, ...] = ()
    composite_days: int = 1
    aqua_composite_offset: int = 0

    def __post_init__(self) -> None:
        for name in ("variables", "qc_for", "collections", "hdf_asset_key"):
            object.__setattr__(self, name, MappingProxyType(dict(getattr(self, name))))
        for var, qc in self.qc_for.items():
            if var not in self.variables or qc not in self.variables:
                raise ConfigError(f"{self.name}: qc_for {var!r} -> {qc!r} names an unknown SDS")
            if not self.variables[qc].is_qc:
                raise ConfigError(f"{self.name}: {qc!r} masks {var!r} but is not a QC SDS")
        roles = [v.role for v in self.variables.values() if v.role is not None]
        if len(roles) != len(set(roles)):
            raise ConfigError(f"{self.name}: a role is given to two variables: {roles}")

    def __hash__(self) -> int:
        return hash(self.name)

    # ------------------------------------------------------------------ look-ups
    @property
    def shape(self) -> tuple[int, int]:
        """Pixels of one tile: (1200, 1200) at 1 km, (4800, 4800) at 250 m."""
        n = 1200 if self.resolution == "1km" else 4800
        return (n, n)

    @property
    def stored_variables(self) -> tuple[str, ...]:
        """SDS names that exist in the files (everything but derived variables)."""
        return tuple(k for k, v in self.variables.items() if not v.is_derived)

    @property
    def roles(self) -> Mapping[str, str]:
        """Role -> variable name for the variables the cube uses."""
        return MappingProxyType(
            {v.role: k for k, v in self.variables.items() if v.role is not None}
        )

    @property
    def default_variables(self) -> tuple[str, ...]:
        """Variables a reader returns by default: those with a role, in spec order."""
        return tuple(k for k, v in self.variables.items() if v.role is not None)

    def variable_for_role(self, role: str) -> str:
        """The variable name playing ``role`` (``"lst_day"`` -> ``"LST_Day_1km"``).

        Raises
        ------
        KeyError
            The product has no variable with this role.
        """
        try:
            return self.roles[role]
        except KeyError:
            raise KeyError(f"{self.name} has no variable with role {role!r}") from None

    def collection(self, provider: str) -> str:
        """STAC collection id of this product at ``provider``.

        Raises
        ------
        ConfigError
            The provider does not serve this product.
        """
        _check_provider(provider)
        try:
            return self.collections[provider]
        except KeyError:
            raise ConfigError(
                f"provider {provider!r} has no collection for {self.name} "
                f"(available: {sorted(self.collections)})"
            ) from None

    def asset_key(self, variable: str, provider: str) -> str:
        """The STAC asset key holding ``variable`` at ``provider``.

        For COG providers (Planetary Computer) this is the per-SDS key; for HDF providers it is
        the key of the whole granule (``"data"`` at lpcloud).
        """
        self.collection(provider)
        if provider in self.cog_providers:
            return self.variables[variable].pc_asset_key
        return self.hdf_asset_key[provider]

    def asset_keys(self, provider: str) -> Mapping[str, str]:
        """Variable name -> asset key at ``provider`` for every stored variable."""
        return MappingProxyType({v: self.asset_key(v, provider) for v in self.stored_variables})

    @property
    def pc_asset_keys(self) -> Mapping[str, str]:
        """Variable name -> Planetary Computer COG asset key (empty when PC lacks the product)."""
        if "planetary-computer" not in self.cog_providers:
            return MappingProxyType({})
        return self.asset_keys("planetary-computer")

    def period_start(self, date: dt.date) -> dt.date:
        """First day of the compositing period holding ``date`` (``date`` for daily products).

        MODIS composites restart on 1 January: 8-day periods begin on day-of-year 1, 9, 17 ...,
        16-day periods on 1, 17, 33 ... (Aqua 16-day: 9, 25, 41 ...).
        """
        if self.composite_days == 1:
            return date
        offset = self.aqua_composite_offset if self.name.startswith("MYD") else 0
        doy0 = date.timetuple().tm_yday - 1 - offset
        if doy0 < 0:  # before the first Aqua period of the year: last period of previous year
            prev = dt.date(date.year - 1, 12, 31)
            return self.period_start(prev)
        start = doy0 - doy0 % self.composite_days + offset
        return dt.date(date.year, 1, 1) + dt.timedelta(days=start)

    def for_platform(self, platform: Literal["terra", "aqua"]) -> ProductSpec:
        """The Terra (``MOD``) or Aqua (``MYD``) twin of this product (same format)."""
        prefix = "MOD" if platform == "terra" else "MYD"
        name = prefix + self.name[3:]
        if name == self.name:
            return self
        collections = {
            p: c.replace(self.name, name) if p == "lpcloud" else c
            for p, c in self.collections.items()
        }
        return dataclasses.replace(self, name=name, collections=collections)


def _check_provider(provider: str) -> None:
    if provider not in PROVIDERS:
        raise ConfigError(f"unknown provider {provider!r} (known: {', '.join(PROVIDERS)})")
