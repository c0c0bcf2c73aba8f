"""Turn the raw SDS arrays of one granule into the decoded :class:`xarray.Dataset` readers return.

Data variables become float32 physical values (``raw * scale + offset``) with NaN at fill, out of
the valid range and, when QC is applied, where the product's :class:`QCPolicy` rejects the pixel.
QC variables stay raw. Derived NDVI (MOD09GQ, MOD09Q1) is computed from the decoded red and NIR.
Coordinates are sinusoidal pixel centres; ``spatial_ref`` carries ``crs_wkt`` and ``GeoTransform``.
"""

from __future__ import annotations

import datetime as dt
import re
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import xarray as xr
from affine import Affine

from lstcloud.core.errors import ConfigError, GranuleReadError, LstcloudWarning
from lstcloud.core.redact import redact_url
from lstcloud.products import ProductSpec, VariableSpec
from lstcloud.products.qc import QCPolicy, default_policy, policy_from_config

__all__ = [
    "build_dataset",
    "date_from_name",
    "ndvi_from_reflectance",
    "raw_variables_needed",
    "resolve_variables",
    "snap_to_grid",
    "spatial_ref_attrs",
    "tile_from_transform",
]

STATE_SDS = "sur_refl_state_250m"
_GRANULE_DATE = re.compile(r"\.A(\d{4})(\d{3})\.")


def ndvi_from_reflectance(red: Any, nir: Any) -> np.ndarray:
    """NDVI = (NIR - red) / (NIR + red), float32, NaN where it is undefined.

    Parameters
    ----------
    red, nir
        Surface reflectance (physical, unitless; NaN = invalid), same shape.

    Returns
    -------
    numpy.ndarray
        float32 NDVI in [-1, 1]; NaN where either input is NaN, where NIR + red <= 0, or where
        the ratio falls outside [-1, 1] (slightly negative reflectances are valid in MOD09).
    """
    red = np.asarray(red, dtype=np.float32)
    nir = np.asarray(nir, dtype=np.float32)
    if red.shape != nir.shape:
        raise ValueError(f"red {red.shape} and nir {nir.shape} differ in shape")
    # in place, few temporaries: this runs on 23 M pixels per 250 m tile
    total = np.add(nir, red)
    ndvi = np.subtract(nir, red)
    with np.errstate(divide="ignore", invalid="ignore"):
        np.divide(ndvi, total, out=ndvi)
        bad = np.less_equal(total, 0)
        bad |= np.isnan(total)
        np.abs(ndvi, out=total)  # reuse the buffer: |ndvi|
        bad |= ~np.less_equal(total, 1.0)
    ndvi[bad] = np.nan
    return ndvi


def resolve_variables(product: ProductSpec, variables: Iterable[str] | None) -> tuple[str, ...]:
    """The variables to return: ``variables`` checked against the spec, or the defaults.

    Names may be SDS names or Planetary Computer asset keys (spaces as underscores).

    Raises
    ------
    ConfigError
        A name the product does not have.
    """
    if variables is None:
        return product.default_variables
    by_key = {v.pc_asset_key: k for k, v in product.variables.items()}
    out = []
    for name in [variables] if isinstance(variables, str) else variables:
        key = name if name in product.variables else by_key.get(name)
        if key is None:
            raise ConfigError(
                f"{product.name} has no variable {name!r} (known: {', '.join(product.variables)})"
            )
        if key not in out:
            out.append(key)
    return tuple(out)


def raw_variables_needed(
    product: ProductSpec, variables: Sequence[str], *, apply_qc: bool
) -> tuple[str, ...]:
    """Stored SDS to read for ``variables`` (inputs of derived ones, their QC when applied)."""
    needed: list[str] = []

    def add(name: str) -> None:
        if name not in needed:
            needed.append(name)

    for name in variables:
        spec = product.variables[name]
        inputs = spec.derived_from if spec.is_derived else (name,)
        for sds in inputs:
            add(sds)
            if apply_qc and sds in product.qc_for:
                add(product.qc_for[sds])
    uses_reflectance = any(product.variables[s].role in ("red", "nir") for s in needed)
    if apply_qc and uses_reflectance and STATE_SDS in product.variables:
        add(STATE_SDS)
    return tuple(needed)


def date_from_name(name: str) -> dt.date | None:
    """The acquisition (or period start) date in a MODIS file name (``.A2019305.``)."""
    m = _GRANULE_DATE.search(name)
    if m is None:
        return None
    year, doy = int(m.group(1)), int(m.group(2))
    return dt.date(year, 1, 1) + dt.timedelta(days=doy - 1)


def tile_from_transform(transform: Affine) -> str | None:
    """The MODIS tile id (``"h14v09"``) whose upper-left corner is the transform's origin."""
    from lstcloud.grid import Tile, tile_transform

    origin = tile_transform(Tile(0, 0), "1km")
    size = origin.a * 1200
    h = (transform.c - origin.c) / size
    v = (origin.f - transform.f) / size
    if abs(h - round(h)) > 1e-3 or abs(v - round(v)) > 1e-3:
        return None
    h, v = round(h), round(v)
    if not (0 <= h < 36 and 0 <= v < 18):
        return None
    return Tile(h, v).id


def snap_to_grid(transform: Affine, shape: tuple[int, int]) -> tuple[Affine, str | None]:
    """Replace a full-tile transform by the exact :mod:`lstcloud.grid` one (and its tile id).

    HDF-EOS corner coordinates are printed with 6 decimals (and some collections round the
    grid origin to the millimetre), so their transforms differ from the grid by < 1 cm; snapping
    makes every reader return coordinates identical to the cube's. Transforms that are not a
    whole MODIS tile are returned unchanged.
    """
    from lstcloud.grid import PIXELS_PER_TILE, tile_transform

    tile = tile_from_transform(transform)
    if tile is None:
        return transform, None
    for resolution, n in PIXELS_PER_TILE.items():
        if shape != (n, n):
            continue
        exact = tile_transform(tile, resolution)  # type: ignore[arg-type]
        close = (
            abs(transform.c - exact.c) < 0.01
            and abs(transform.f - exact.f) < 0.01
            and abs(transform.a / exact.a - 1) < 1e-6
            and abs(transform.e / exact.e - 1) < 1e-6
            and transform.b == 0
            and transform.d == 0
        )
        if close:
            return exact, tile
    return transform, tile


def spatial_ref_attrs(transform: Affine) -> dict[str, Any]:
    """CF grid-mapping attributes of the MODIS sinusoidal CRS for ``transform``."""
    from lstcloud.grid import SINUSOIDAL_WKT

    return {
        "crs_wkt": SINUSOIDAL_WKT,
        "spatial_ref": SINUSOIDAL_WKT,
        "grid_mapping_name": "sinusoidal",
        "longitude_of_central_meridian": 0.0,
        "false_easting": 0.0,
        "false_northing": 0.0,
        "earth_radius": 6371007.181,
        "GeoTransform": " ".join(
            repr(float(v))
            for v in (transform.c, transform.a, transform.b, transform.f, transform.d, transform.e)
        ),
    }


def _check_attrs(spec: VariableSpec, attrs: Mapping[str, Any] | None, href: str) -> None:
    """Warn when a file's scale/offset attributes disagree with the spec (never silently)."""
    if not attrs:
        return
    for attr, expected in (
        ("scale_factor", spec.hdf_scale_factor),
        ("add_offset", spec.hdf_add_offset),
    ):
        got = attrs.get(attr)
        if got is None or expected is None:
            continue
        if not np.isclose(float(got), expected, rtol=1e-6):
            warnings.warn(
                f"{redact_url(href)}: {spec.sds} {attr}={got} differs from the {expected} of the "
                f"product spec; decoding with the spec",
                LstcloudWarning,
                stacklevel=4,
            )


def _qc_accept(
    product: ProductSpec,
    policy: QCPolicy,
    qc_name: str,
    raw: Mapping[str, np.ndarray],
) -> np.ndarray:
    qc = raw[qc_name]
    if product.qc_scheme == "MOD09" and STATE_SDS in raw:
        return policy.accept(qc, state=raw[STATE_SDS])  # type: ignore[call-arg]
    return policy.accept(qc)


def build_dataset(
    raw: Mapping[str, np.ndarray],
    product: ProductSpec,
    *,
    variables: Sequence[str],
    transform: Affine,
    href: str,
    apply_qc: bool = True,
    qc_policy: QCPolicy | Mapping[str, Any] | None = None,
    date: dt.date | None = None,
    end_date: dt.date | None = None,
    tile: str | None = None,
    file_attrs: Mapping[str, Mapping[str, Any]] | None = None,
) -> xr.Dataset:
    """Decode raw SDS arrays into the readers' Dataset.

    Parameters
    ----------
    raw
        SDS name -> raw array, holding at least :func:`raw_variables_needed`.
    product
        The product spec.
    variables
        Variables to return (see :func:`resolve_variables`).
    transform
        Affine transform of the arrays (pixel corners).
    href
        Where the data came from (redacted into ``attrs["href"]``).
    apply_qc
        Set data to NaN where the QC policy rejects the pixel. When the QC SDS is not in
        ``raw`` (a lone COG) a :class:`LstcloudWarning` says that QC could not be applied.
    qc_policy
        A policy or a mapping for :func:`policy_from_config`; default: the product's.
    date, end_date, tile
        Acquisition (period) dates and tile id for the attributes (derived when ``None``).
    file_attrs
        The SDS attributes of the file, to cross-check scale and offset.
    """
    shapes = {name: arr.shape for name, arr in raw.items()}
    if len(set(shapes.values())) > 1:
        raise GranuleReadError(f"{redact_url(href)}: SDS shapes differ: {shapes}")
    policy = _resolve_policy(product, qc_policy)
    ny, nx = next(iter(shapes.values()))
    transform, grid_tile = snap_to_grid(transform, (ny, nx))
    x = transform.c + (np.arange(nx) + 0.5) * transform.a
    y = transform.f + (np.arange(ny) + 0.5) * transform.e
    decoder = _Decoder(raw, product, policy, href, apply_qc, file_attrs or {})
    data_vars = {name: decoder.variable(name) for name in variables}
    if decoder.unmasked:
        warnings.warn(
            f"{redact_url(href)}: QC not applied to {sorted(set(decoder.unmasked))}: their QC "
            "asset was not given",
            LstcloudWarning,
            stacklevel=3,
        )
    if date is None:
        date = date_from_name(href.rsplit("/", 1)[-1])
    ds_attrs: dict[str, Any] = {
        "product": product.name,
        "href": redact_url(href),
        "tile": (grid_tile if tile is None else tile) or "",
        "date": date.isoformat() if date else "",
        "qc_applied": int(bool(apply_qc)),
    }
    if apply_qc:
        ds_attrs["qc_policy"] = policy.model_dump_json()
    if end_date is not None:
        ds_attrs["end_date"] = end_date.isoformat()
    return xr.Dataset(
        data_vars,
        coords={
            "y": ("y", y, {"units": "m", "standard_name": "projection_y_coordinate"}),
            "x": ("x", x, {"units": "m", "standard_name": "projection_x_coordinate"}),
            "spatial_ref": ((), np.int32(0), spatial_ref_attrs(transform)),
        },
        attrs=ds_attrs,
    )


def _resolve_policy(
    product: ProductSpec, qc_policy: QCPolicy | Mapping[str, Any] | None
) -> QCPolicy:
    policy = (
        policy_from_config(qc_policy, product=product)
        if qc_policy is not None
        else default_policy(product)
    )
    if policy.scheme != product.qc_scheme:
        raise ConfigError(
            f"QC policy scheme {policy.scheme} does not fit {product.name} ({product.qc_scheme})"
        )
    return policy


@dataclass
class _Decoder:
    """Decodes the variables of one granule, each SDS once, each QC acceptance once."""

    raw: Mapping[str, np.ndarray]
    product: ProductSpec
    policy: QCPolicy
    href: str
    apply_qc: bool
    file_attrs: Mapping[str, Mapping[str, Any]]
    accepted: dict[str, np.ndarray] = field(default_factory=dict)
    decoded: dict[str, np.ndarray] = field(default_factory=dict)
    unmasked: list[str] = field(default_factory=list)

    def data_of(self, name: str) -> np.ndarray:
        """Physical values of SDS ``name`` (NaN where the QC policy rejects the pixel)."""
        if name in self.decoded:
            return self.decoded[name]
        spec = self.product.variables[name]
        _check_attrs(spec, self.file_attrs.get(name), self.href)
        values = spec.decode(self.raw[name])
        qc_name = self.product.qc_for.get(name)
        if self.apply_qc and qc_name is not None:
            if qc_name in self.raw:
                accepted = self.accepted.get(qc_name)
                if accepted is None:
                    accepted = _qc_accept(self.product, self.policy, qc_name, self.raw)
                    self.accepted[qc_name] = accepted
                values[~accepted] = np.nan
            else:
                self.unmasked.append(name)
        self.decoded[name] = values
        return values

    def variable(self, name: str) -> xr.DataArray:
        """The output variable ``name`` with its attributes."""
        spec = self.product.variables[name]
        attrs: dict[str, Any] = {"long_name": spec.long_name, "grid_mapping": "spatial_ref"}
        if spec.is_derived:
            red, nir = (self.data_of(s) for s in spec.derived_from)
            values = ndvi_from_reflectance(red, nir)
            attrs.update(units=spec.units, derived_from=list(spec.derived_from))
        elif spec.is_qc:
            values = np.asarray(self.raw[name])
            attrs.update(units=spec.units, qc_scheme=self.product.qc_scheme)
            if spec.fill is not None:
                attrs["fill_value"] = spec.fill
        else:
            values = self.data_of(name)
            attrs["units"] = spec.units
            if self.apply_qc and name in self.product.qc_for and name not in self.unmasked:
                attrs["qc_applied"] = self.product.qc_for[name]
        return xr.DataArray(values, dims=("y", "x"), attrs=attrs)
