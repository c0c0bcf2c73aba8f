"""Read and decode MODIS granules: HDF4-EOS (pyhdf) or COG assets (rasterio), through fsspec.

:func:`read_granule` is the one entry point. It accepts

- the path or URL of a whole HDF4-EOS granule (local, ``file://``, ``s3://``, ``https://``;
  remote files are copied to a temporary file because pyhdf needs a path),
- a mapping asset key -> COG href, as Planetary Computer items carry one COG per SDS (keys are
  SDS names with spaces replaced by underscores; extra keys such as ``hdf`` are ignored),
- the href of a single COG (one SDS; the SDS is recognised from the ``_<SDS>.tif`` file-name
  suffix; QC cannot be applied to a lone COG and a warning says so),

and returns an :class:`xarray.Dataset` whose variables keep the product's SDS names, decoded to
physical units (see :mod:`lstcloud.readers.decode`).
"""

from __future__ import annotations

import datetime as dt
import os
import re
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import xarray as xr

from lstcloud.errors import GranuleReadError, MissingAssetError, redact_url
from lstcloud.products import ProductSpec, get_product
from lstcloud.products.qc import QCPolicy
from lstcloud.readers.cog import CogRaster, read_cog
from lstcloud.readers.decode import (
    build_dataset,
    ndvi_from_reflectance,
    raw_variables_needed,
    resolve_variables,
)
from lstcloud.readers.fetch import local_copy
from lstcloud.readers.hdf4 import read_hdf4
from lstcloud.readers.identity import granule_identity

__all__ = ["is_cog_href", "ndvi_from_reflectance", "read_granule"]

_TIFF = re.compile(r"\.tiff?$", re.IGNORECASE)

Href = str | os.PathLike[str] | Mapping[str, str]


def is_cog_href(href: str | os.PathLike[str]) -> bool:
    """Whether ``href`` names a GeoTIFF (``.tif``/``.tiff``, query string ignored)."""
    path = str(href).split("?", 1)[0].split("#", 1)[0]
    return bool(_TIFF.search(path))


def read_granule(
    href: Href,
    product: str | ProductSpec,
    *,
    apply_qc: bool = True,
    qc_policy: QCPolicy | Mapping[str, Any] | None = None,
    variables: Iterable[str] | None = None,
    storage_options: dict[str, Any] | None = None,
) -> xr.Dataset:
    """Read one MODIS granule and decode it.

    Parameters
    ----------
    href
        HDF4 granule path/URL, mapping asset key -> COG href, or one COG href.
    product
        Product name (``"MOD11A1"``, ``"MYD13Q1"`` ...) or :class:`ProductSpec`.
    apply_qc
        Set data variables to NaN where the QC policy rejects the pixel (fill and out-of-range
        values are NaN regardless).
    qc_policy
        Policy object or mapping (:func:`lstcloud.products.policy_from_config`); default: the
        product's documented default policy.
    variables
        SDS names (or PC asset keys) to return; default: every variable with a cube role
        (e.g. MOD11A1: LST, QC and view time for day and night; MOD09GQ/MOD09Q1: red, NIR,
        QC and the derived ``NDVI``).
    storage_options
        fsspec options for remote hrefs (S3 endpoint and credentials, HTTP headers).

    Returns
    -------
    xarray.Dataset
        Dims ``(y, x)`` with sinusoidal pixel-centre coordinates and a ``spatial_ref``
        coordinate (``crs_wkt``, ``GeoTransform``); data variables float32 in physical units
        (LST in K, NaN = invalid); QC variables raw; attrs ``product``, ``tile``, ``date``
        (ISO), ``href`` (redacted).

    Raises
    ------
    GranuleReadError
        Corrupt, truncated or non-MODIS file (the message names the href).
    MissingAssetError
        The file lacks a needed SDS, the mapping a needed asset, or the href does not exist.
    TransientError
        Timeouts, connection errors, HTTP 429/5xx, S3 throttling: worth retrying.
    ConfigError
        Unknown product, variable or QC option.
    """
    spec = get_product(product)
    if isinstance(href, Mapping):
        names = resolve_variables(spec, variables)
        return _read_cog_assets(
            href,
            spec,
            names,
            apply_qc=apply_qc,
            qc_policy=qc_policy,
            storage_options=storage_options,
        )
    href = os.fspath(href)
    if is_cog_href(href):
        return _read_single_cog(
            href,
            spec,
            variables,
            apply_qc=apply_qc,
            qc_policy=qc_policy,
            storage_options=storage_options,
        )
    names = resolve_variables(spec, variables)
    return _read_hdf(
        href,
        spec,
        names,
        apply_qc=apply_qc,
        qc_policy=qc_policy,
        storage_options=storage_options,
    )


def _read_hdf(
    href: str,
    spec: ProductSpec,
    names: tuple[str, ...],
    *,
    apply_qc: bool,
    qc_policy: Any,
    storage_options: dict[str, Any] | None,
) -> xr.Dataset:
    needed = raw_variables_needed(spec, names, apply_qc=apply_qc)
    with local_copy(href, storage_options=storage_options) as path:
        granule = read_hdf4(path, needed, href=href, grid_name=spec.grid_name)
    core = granule.core
    # the granule's own date and tile (metadata, grid, file name; refused when they disagree)
    date, tile = granule_identity(href, core=core, transform=granule.grid.transform)
    return build_dataset(
        granule.arrays,
        spec,
        variables=names,
        transform=granule.grid.transform,
        href=href,
        apply_qc=apply_qc,
        qc_policy=qc_policy,
        date=date,
        end_date=core.get("end_date") if isinstance(core.get("end_date"), dt.date) else None,
        tile=tile,
        file_attrs=granule.attrs,
    )


def _end_date(spec: ProductSpec, date: dt.date | None) -> dt.date | None:
    if date is None or spec.composite_days == 1:
        return date
    end = date + dt.timedelta(days=spec.composite_days - 1)
    return min(end, dt.date(date.year, 12, 31))


def _assemble(
    rasters: Mapping[str, CogRaster],
    spec: ProductSpec,
    names: tuple[str, ...],
    *,
    label: str,
    apply_qc: bool,
    qc_policy: Any,
) -> xr.Dataset:
    first = next(iter(rasters.values()))
    for sds, raster in rasters.items():
        if raster.transform != first.transform or raster.data.shape != first.data.shape:
            raise GranuleReadError(
                f"{label}: asset {sds} is not on the grid of the others "
                f"({raster.data.shape} {tuple(raster.transform)[:6]})"
            )
        if raster.crs_wkt and "sinusoidal" not in raster.crs_wkt.lower():
            raise GranuleReadError(f"{label}: asset {sds} is not on the MODIS sinusoidal grid")
    date, tile = granule_identity(label, transform=first.transform)
    return build_dataset(
        {k: np.asarray(r.data) for k, r in rasters.items()},
        spec,
        variables=names,
        transform=first.transform,
        href=label,
        apply_qc=apply_qc,
        qc_policy=qc_policy,
        date=date,
        end_date=_end_date(spec, date),
        tile=tile,
    )


def _read_cog_assets(
    assets: Mapping[str, str],
    spec: ProductSpec,
    names: tuple[str, ...],
    *,
    apply_qc: bool,
    qc_policy: Any,
    storage_options: dict[str, Any] | None,
) -> xr.Dataset:
    needed = raw_variables_needed(spec, names, apply_qc=apply_qc)
    hrefs: dict[str, str] = {}
    for sds in needed:
        key = spec.variables[sds].pc_asset_key
        href = assets.get(key, assets.get(sds))
        if href is None:
            if not assets:
                raise MissingAssetError(
                    f"{spec.name}: no asset href given (asset {key!r} is needed): the STAC item "
                    "has none of the product's assets"
                )
            raise MissingAssetError(
                f"{spec.name}: asset {key!r} missing (have {sorted(assets)}; first href "
                f"{redact_url(str(next(iter(assets.values()))))})"
            )
        hrefs[sds] = os.fspath(href)
    stated = {h: granule_identity(h) for h in hrefs.values()}
    if len(set(stated.values())) > 1:
        said = "; ".join(f"{redact_url(h)}: {d} {t}" for h, (d, t) in stated.items())
        raise GranuleReadError(
            f"{spec.name}: the COG assets come from different granules (date, tile): {said}"
        )
    rasters = {sds: read_cog(h, storage_options=storage_options) for sds, h in hrefs.items()}
    label = next(iter(hrefs.values()))
    return _assemble(rasters, spec, names, label=label, apply_qc=apply_qc, qc_policy=qc_policy)


def _sds_of_cog(spec: ProductSpec, href: str) -> str:
    stem = _TIFF.sub("", str(href).split("?", 1)[0].rsplit("/", 1)[-1])
    matches = [
        name
        for name, v in spec.variables.items()
        if not v.is_derived and (stem.endswith("_" + v.pc_asset_key) or stem == v.pc_asset_key)
    ]
    if not matches:
        raise GranuleReadError(
            f"cannot tell which {spec.name} SDS the COG {redact_url(href)} holds: its name "
            f"should end with _<SDS>.tif"
        )
    return max(matches, key=lambda n: len(spec.variables[n].pc_asset_key))


def _read_single_cog(
    href: str,
    spec: ProductSpec,
    variables: Iterable[str] | None,
    *,
    apply_qc: bool,
    qc_policy: Any,
    storage_options: dict[str, Any] | None,
) -> xr.Dataset:
    sds = _sds_of_cog(spec, href)
    if variables is not None:
        names = resolve_variables(spec, variables)
        if names != (sds,):
            raise MissingAssetError(
                f"the COG {redact_url(href)} holds only {sds}; asked for {list(names)}"
            )
    raster = read_cog(href, storage_options=storage_options)
    return _assemble(
        {sds: raster}, spec, (sds,), label=href, apply_qc=apply_qc, qc_policy=qc_policy
    )
