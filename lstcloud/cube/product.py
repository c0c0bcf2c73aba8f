"""The product cube: daily 250 m LST (``lst_250m``) and its quality flags, Zarr v3.

Layout (local folder or ``s3://``)::

    <product>/zarr.json                     group: CF-1.10 and provenance attributes
    <product>/lst_250m                      (time, y, x) float32 K, NaN = no value
    <product>/lst_250m_quality              (time, y, x) uint8 flags (lstcloud.cube.quality)
    <product>/time, y, x, spatial_ref       coordinates and the CF grid mapping (crs_wkt)
    <product>/_lstcloud/days/<date>.json    completion marker of one day, written LAST

The template is created once (metadata only) and the time axis is extended by appending days.
Each day is written with region writes of whole chunks; its marker is written only after all
of its chunks are stored, so a crash leaves a day *not complete* (it is redone by the next run),
never half-written and looking complete. :func:`complete_days` reads the markers; the group
attribute ``complete_days`` mirrors them at the end of each run for readers without listing.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import threading
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import xarray as xr
import zarr

from lstcloud import __version__
from lstcloud.core.errors import CubeError
from lstcloud.core.redact import redact_url
from lstcloud.core.storage import (
    filesystem,
    join,
    protocol_of,
    strip_protocol,
)
from lstcloud.cube.consolidated import consolidate, open_consolidated
from lstcloud.cube.errors import ProductModelMismatchError
from lstcloud.cube.quality import NOT_COMPUTED, quality_attrs
from lstcloud.cube.store import zarr_store

__all__ = [
    "LST_VAR",
    "QUALITY_VAR",
    "SPREAD_VAR",
    "UNCERTAINTY_STEP_K",
    "UNCERTAINTY_VAR",
    "ProductCube",
    "ProductGrid",
    "Provenance",
    "complete_days",
    "create_product",
    "day_marker_url",
    "open_product",
    "open_product_arrays",
    "publish_complete_days",
    "quantize_uncertainty",
    "remove_day_marker",
    "time_index",
    "write_day_marker",
]

LST_VAR = "lst_250m"
QUALITY_VAR = "lst_250m_quality"
#: Per-pixel spread (K) of an ensemble's passes: written when the product's model has several.
SPREAD_VAR = "lst_250m_spread"
#: The period mean of a composite cube (``lstcloud compose``), read as ``lst_250m``.
COMPOSITE_MEAN_VAR = "lst_250m_mean"
#: Calibrated 1-sigma uncertainty (K): written when the product's model card has one.
UNCERTAINTY_VAR = "lst_250m_uncertainty"
#: ``standard_name`` of the LST; its uncertainty is the CF ``standard_error`` of it.
LST_STANDARD_NAME = "surface_temperature"
MARKER_DIR = "_lstcloud/days"
_EPOCH = np.datetime64("1970-01-01", "D")


@dataclass(frozen=True)
class ProductGrid:
    """The 250 m grid of a product: pixel-centre coordinates (m), CRS and chunking."""

    y: np.ndarray
    x: np.ndarray
    crs_wkt: str
    chunks: tuple[int, int]

    @property
    def geotransform(self) -> tuple[float, float, float, float, float, float]:
        """GDAL geotransform (x0, dx, 0, y0, 0, dy) of the pixel corners."""
        dx = float(self.x[1] - self.x[0]) if self.x.size > 1 else 231.65635826395825
        dy = float(self.y[1] - self.y[0]) if self.y.size > 1 else -231.65635826395825
        return (float(self.x[0]) - dx / 2, dx, 0.0, float(self.y[0]) - dy / 2, 0.0, dy)


@dataclass(frozen=True)
class Provenance:
    """Where a product comes from (stored as group attributes and in each day's marker)."""

    model_name: str
    model_sha256: str
    receptive_field_px: int
    input_cube: str
    software_version: str = __version__
    #: sha256 of the weights AND the behaviour fields of the card
    #: (:func:`lstcloud.inference.identity.model_identity`); empty for hand-made provenances
    model_identity: str = ""
    #: the behaviour fields of the card, to name what differs when another model is refused
    model_card: dict[str, Any] = field(default_factory=dict)

    @property
    def has_spread(self) -> bool:
        """Whether the model gives a per-pixel spread (an ensemble of several passes)."""
        card = self.model_card or {}
        return card.get("architecture") == "ensemble" and int(card.get("passes") or 1) > 1

    @property
    def has_uncertainty(self) -> bool:
        """Whether the model gives a calibrated sigma (its card's ``uncertainty`` section)."""
        return bool((self.model_card or {}).get("uncertainty"))

    def attrs(self) -> dict[str, Any]:
        """Group attributes (``lstcloud_`` prefixed; the identity ones only when set)."""
        out = {f"lstcloud_{k}": v for k, v in asdict(self).items()}
        if not self.model_identity:
            out.pop("lstcloud_model_identity")
        if not self.model_card:
            out.pop("lstcloud_model_card")
        return out


def _open_group(url: str, storage_options: dict[str, Any] | None, mode: str = "r+") -> zarr.Group:
    try:
        store = zarr_store(url, storage_options=storage_options)
        return zarr.open_group(store, mode=mode, use_consolidated=False)
    except (FileNotFoundError, zarr.errors.NodeNotFoundError) as exc:
        raise CubeError(f"no product cube at {redact_url(url)}") from exc


def _days(dates: Iterable[dt.date]) -> np.ndarray:
    return np.array(sorted({np.datetime64(d, "D") for d in dates}), dtype="datetime64[D]")


def _time_values(group: zarr.Group) -> np.ndarray:
    return _EPOCH + np.asarray(group["time"][:], dtype="int64").astype("timedelta64[D]")


def create_product(
    url: str,
    *,
    grid: ProductGrid,
    dates: Sequence[dt.date],
    provenance: Provenance,
    storage_options: dict[str, Any] | None = None,
) -> ProductCube:
    """Create the product template, or extend its daily time axis to cover ``dates``.

    Idempotent; never rewrites written data. The time axis is a contiguous run of days; new
    days are appended after the last one. Returns the opened :class:`ProductCube`.

    Raises
    ------
    CubeError
        When a product exists at ``url`` with another grid or another model (a product holds
        one model's output), or when a date falls before the product's first day.
    """
    product = ProductCube(url, storage_options=storage_options)
    product.ensure(grid=grid, dates=dates, provenance=provenance)
    return product


def _write_template(
    group: zarr.Group, grid: ProductGrid, days: np.ndarray, provenance: Provenance
) -> None:
    """Write the product's metadata, coordinates and grid mapping into an empty group."""
    group.attrs.update(_group_attrs(provenance))
    ny, nx = grid.y.size, grid.x.size
    cy, cx = grid.chunks
    ancillary = " ".join([QUALITY_VAR, *([SPREAD_VAR] if provenance.has_spread else []),
                          *([UNCERTAINTY_VAR] if provenance.has_uncertainty else [])])
    layers: list[tuple[str, str, Any, dict[str, Any]]] = [
        (LST_VAR, "float32", np.nan, {
            "standard_name": LST_STANDARD_NAME,
            "long_name": "daytime land surface temperature at 250 m (super-resolved MODIS)",
            "units": "K",
            "ancillary_variables": ancillary,
            "valid_min": 150.0,
            "valid_max": 400.0,
        }),
        (QUALITY_VAR, "uint8", NOT_COMPUTED, quality_attrs()),
    ]
    if provenance.has_spread:
        layers.append((SPREAD_VAR, "float32", np.nan, {
            "long_name": "spread of the ensemble's passes (standard deviation over its members "
                         "and test-time transforms): a relative uncertainty flag",
            "units": "K",
            "comment": "ranks the error against ASTER weakly (docs/evaluation.md); it is not "
                       "a calibrated standard deviation of the error",
        }))
    if provenance.has_uncertainty:
        layers.append((UNCERTAINTY_VAR, "float32", np.nan, uncertainty_attrs()))
    for name, dtype, fill, attrs in layers:
        group.create_array(
            name,
            shape=(days.size, ny, nx),
            chunks=(1, cy, cx),
            dtype=dtype,
            fill_value=fill,
            dimension_names=["time", "y", "x"],
            attributes={**attrs, "grid_mapping": "spatial_ref", "coordinates": "spatial_ref"},
        )
    time = group.create_array(
        "time",
        shape=(days.size,),
        chunks=(4096,),
        dtype="int64",
        dimension_names=["time"],
        attributes={
            "standard_name": "time",
            "axis": "T",
            "units": "days since 1970-01-01",
            "calendar": "proleptic_gregorian",
        },
    )
    time[:] = (days - _EPOCH).astype("int64")
    for name, values, std, axis in (
        ("y", grid.y, "projection_y_coordinate", "Y"),
        ("x", grid.x, "projection_x_coordinate", "X"),
    ):
        arr = group.create_array(
            name,
            shape=values.shape,
            chunks=values.shape,
            dtype="float64",
            dimension_names=[name],
            attributes={
                "standard_name": std,
                "axis": axis,
                "units": "m",
                "long_name": f"{name} coordinate of the pixel centre (MODIS sinusoidal)",
            },
        )
        arr[:] = values
    ref = group.create_array(
        "spatial_ref",
        shape=(),
        dtype="int32",
        fill_value=0,
        dimension_names=[],
        attributes={
            "grid_mapping_name": "sinusoidal",
            "longitude_of_central_meridian": 0.0,
            "false_easting": 0.0,
            "false_northing": 0.0,
            "earth_radius": 6371007.181,
            "crs_wkt": grid.crs_wkt,
            "spatial_ref": grid.crs_wkt,
            "GeoTransform": " ".join(repr(v) for v in grid.geotransform),
        },
    )
    ref[...] = 0




#: Storage step of :data:`UNCERTAINTY_VAR` (K): sigma is stored to the nearest 1/128 K, which
#: its own precision (a tenth of a kelvin at best) does not notice, so that its low mantissa
#: bits are zero and it compresses about 3x (the LST itself is stored unrounded).
UNCERTAINTY_STEP_K = 2.0**-7


def quantize_uncertainty(sigma: Any) -> Any:
    """``sigma`` (numpy or dask, K) rounded to :data:`UNCERTAINTY_STEP_K`, dtype kept."""
    return (sigma / UNCERTAINTY_STEP_K).round() * UNCERTAINTY_STEP_K


def uncertainty_attrs() -> dict[str, Any]:
    """CF attributes of :data:`UNCERTAINTY_VAR` (a ``standard_error`` ancillary of the LST)."""
    return {
        "standard_name": f"{LST_STANDARD_NAME} standard_error",
        "long_name": "1-sigma uncertainty of lst_250m as an estimate of an independent 250 m "
                     "LST (what ASTER would measure)",
        "units": "K",
        "comment": "calibrated out of fold against ASTER AST_08 on the development scenes "
                   "(docs/evaluation.md, 'Calibrated uncertainty'); +-1 sigma is meant to "
                   "cover 68 % and +-1.645 sigma 90 % of such pixels. It includes the "
                   "MODIS-ASTER sensor mismatch; it is not the model's error alone. Stored "
                   "to the nearest 1/128 K.",
        "coverage_content_type": "qualityInformation",
    }


def _group_attrs(provenance: Provenance) -> dict[str, Any]:
    now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    return {
        "Conventions": "CF-1.10",
        "title": "lstcloud daily 250 m land surface temperature",
        "summary": (
            "MODIS 1 km daytime LST super-resolved to 250 m with the 250 m NDVI as guide "
            f"by the model {provenance.model_name}."
        ),
        "source": f"MODIS LST and NDVI from the input cube {provenance.input_cube}",
        "institution": "lstcloud",
        "history": f"{now} created by lstcloud {provenance.software_version}",
        "date_created": now,
        "complete_days": [],
        **provenance.attrs(),
    }


def _extend(
    group: zarr.Group, url: str, *, grid: ProductGrid, wanted: np.ndarray, provenance: Provenance
) -> bool:
    """Check a product against the wanted grid and model; extend its time axis. Returns whether
    the axis grew."""
    lst = group[LST_VAR]
    if lst.shape[1:] != (grid.y.size, grid.x.size) or lst.chunks[1:] != tuple(grid.chunks):
        raise CubeError(
            f"product {redact_url(url)} has shape {lst.shape[1:]} / chunks {lst.chunks[1:]}, "
            f"the input needs {(grid.y.size, grid.x.size)} / {tuple(grid.chunks)}"
        )
    _check_same_model(group, url, provenance)
    days = _time_values(group)
    if wanted[0] < days[0]:
        raise CubeError(
            f"{wanted[0]} is before the first day {days[0]} of product {redact_url(url)}: "
            "the time axis only grows forward; write earlier days to a new product"
        )
    if wanted[-1] <= days[-1]:
        return False
    new_days = np.arange(days[0], wanted[-1] + 1, dtype="datetime64[D]")
    for name in (LST_VAR, QUALITY_VAR, SPREAD_VAR):
        if name not in group:
            continue
        arr = group[name]
        arr.resize((new_days.size, *arr.shape[1:]))
    time = group["time"]
    time.resize((new_days.size,))
    time[days.size :] = (new_days[days.size :] - _EPOCH).astype("int64")
    history = str(group.attrs.get("history", ""))
    now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    group.attrs.update({"history": f"{history}\n{now} time axis extended to {wanted[-1]}"})
    return True


def _check_same_model(group: zarr.Group, url: str, provenance: Provenance) -> None:
    """Refuse to write ``provenance``'s model into a product another model wrote.

    The identity covers the weights and the card (:mod:`lstcloud.inference.identity`); a
    product written before identities were recorded is compared on what it has: the weights'
    sha256 and the receptive field (the halo).
    """
    attrs = group.attrs
    sha = attrs.get("lstcloud_model_sha256")
    name = attrs.get("lstcloud_model_name")
    refuse = (
        f"product {redact_url(url)} was written by model {name} (sha256 {sha}); refusing to "
        f"mix in {provenance.model_name} (sha256 {provenance.model_sha256})"
    )
    if sha != provenance.model_sha256:
        raise ProductModelMismatchError(f"{refuse}: use a new product")
    stored = attrs.get("lstcloud_model_identity")
    if stored and provenance.model_identity and stored != provenance.model_identity:
        what = _card_difference(
            dict(attrs.get("lstcloud_model_card") or {}), provenance.model_card
        )
        raise ProductModelMismatchError(
            f"{refuse}: same weights, another model card ({what or 'the card differs'}); "
            "use a new product"
        )
    stored_rf = attrs.get("lstcloud_receptive_field_px")
    if not stored and stored_rf is not None and int(stored_rf) != provenance.receptive_field_px:
        raise ProductModelMismatchError(
            f"{refuse}: same weights, another receptive field {stored_rf} -> "
            f"{provenance.receptive_field_px} px (another halo); use a new product"
        )


def _card_difference(stored: dict[str, Any], current: dict[str, Any]) -> str:
    """The card fields that differ, ``"receptive_field_px 96 -> 128"``, nested sections by their
    dotted path (``"uncertainty.scene_variance_k2 absent -> 1.08"``); at most five."""

    def short(value: Any) -> str:
        text = "absent" if value is None else json.dumps(value, sort_keys=True, default=str)
        return text if len(text) <= 60 else text[:57] + "..."

    def walk(a: dict[str, Any], b: dict[str, Any], prefix: str) -> list[str]:
        out: list[str] = []
        for key in sorted(set(a) | set(b)):
            old, new = a.get(key), b.get(key)
            if old == new:
                continue
            if isinstance(old, dict) and isinstance(new, dict):
                out += walk(old, new, f"{prefix}{key}.")
            else:
                out.append(f"{prefix}{key} {short(old)} -> {short(new)}")
        return out

    diffs = walk(stored, current, "")
    return "; ".join(diffs[:5]) + (f" (and {len(diffs) - 5} more)" if len(diffs) > 5 else "")


# Marker records already read in this process, per marker folder: {path: (signature, record)}.
# A record is read again only when its listing signature (size + ETag / mtime) changes, so the
# several calls of one run cost one listing each, not one request per day.
_MARKERS: dict[str, dict[str, tuple[tuple[Any, ...], dict[str, Any] | None]]] = {}
_MARKERS_LOCK = threading.Lock()


def _signature(entry: dict[str, Any]) -> tuple[Any, ...] | None:
    keys = ("ETag", "etag", "mtime", "LastModified", "last_modified")
    stamp = next((entry[k] for k in keys if entry.get(k)), None)
    if stamp is None:
        return None  # a filesystem without change stamps: never trust a cached record
    return (entry.get("size"), str(stamp))


def _read_markers(fs: Any, url: str) -> dict[dt.date, dict[str, Any]]:
    """Days whose completion marker exists, with their content (one listing, one batched
    ``cat`` of the markers not read before in this process or changed since)."""
    folder = strip_protocol(join(url, MARKER_DIR))
    try:
        entries = fs.ls(folder, detail=True, refresh=True)
    except FileNotFoundError:
        return {}
    cache_key = f"{protocol_of(url)}://{folder}"
    with _MARKERS_LOCK:
        cached = dict(_MARKERS.get(cache_key, {}))
    listed: dict[str, tuple[dt.date, tuple[Any, ...] | None]] = {}
    for entry in entries:
        path = str(entry["name"] if isinstance(entry, dict) else entry)
        name = path.rstrip("/").rsplit("/", 1)[-1]
        if not name.endswith(".json"):
            continue
        try:
            day = dt.date.fromisoformat(name[:-5])
        except ValueError:
            continue
        listed[path] = (day, _signature(entry) if isinstance(entry, dict) else None)
    stale = [p for p, (_, sig) in listed.items() if sig is None or cached.get(p, (None,))[0] != sig]
    if stale:
        raw = fs.cat(stale, on_error="omit")
        for path in stale:
            record: dict[str, Any] | None = None
            if path in raw:
                try:
                    loaded = json.loads(raw[path])
                    record = loaded if isinstance(loaded, dict) else None
                except (ValueError, UnicodeDecodeError):
                    record = None
            cached[path] = (listed[path][1] or (), record)
    fresh = {p: cached[p] for p in listed if p in cached}
    with _MARKERS_LOCK:
        _MARKERS[cache_key] = fresh
    out: dict[dt.date, dict[str, Any]] = {}
    for path in sorted(listed):
        record = fresh.get(path, ((), None))[1]
        if record is not None and record.get("state") == "complete":
            out[listed[path][0]] = dict(record)
    return dict(sorted(out.items()))




class ProductCube:
    """One product cube, opened once and passed around (filesystem and Zarr group are kept).

    Parameters
    ----------
    url
        Local folder, ``file://`` or ``s3://`` URL of the product.
    storage_options
        fsspec options (S3 endpoint, credentials); the environment is used otherwise.
    """

    def __init__(self, url: str, *, storage_options: dict[str, Any] | None = None) -> None:
        self.url = str(url)
        self.storage_options = storage_options
        self._fs: Any = None
        self._group: zarr.Group | None = None
        self._days: np.ndarray | None = None

    def __repr__(self) -> str:
        return f"ProductCube({redact_url(self.url)!r})"

    @property
    def fs(self) -> Any:
        """The fsspec filesystem of the product (created once)."""
        if self._fs is None:
            self._fs = filesystem(self.url, self.storage_options)
        return self._fs

    @property
    def group(self) -> zarr.Group:
        """The product's Zarr group, opened for writing once (``CubeError`` when absent)."""
        if self._group is None:
            self._group = _open_group(self.url, self.storage_options)
        return self._group

    def exists(self) -> bool:
        """Whether a product (its group metadata) is at :attr:`url`."""
        return bool(self.fs.exists(join(strip_protocol(self.url), "zarr.json")))

    def ensure(
        self, *, grid: ProductGrid, dates: Sequence[dt.date], provenance: Provenance
    ) -> None:
        """Create the template, or extend the time axis to cover ``dates`` (see
        :func:`create_product`)."""
        if not dates:
            raise CubeError(f"no dates given for the product {redact_url(self.url)}")
        wanted = _days(dates)
        self._days = None
        store = zarr_store(self.url, storage_options=self.storage_options)
        if self.exists():
            if _extend(self.group, self.url, grid=grid, wanted=wanted, provenance=provenance):
                consolidate(store)  # the new length, for plain readers
            return
        group = zarr.open_group(store, mode="w-")
        days = np.arange(wanted[0], wanted[-1] + 1, dtype="datetime64[D]")
        _write_template(group, grid, days, provenance)
        consolidate(store)  # plain xr.open_zarr: one read, no warning
        self._group = group

    def days(self) -> np.ndarray:
        """The time axis (``datetime64[D]``), read once."""
        if self._days is None:
            self._days = _time_values(self.group)
        return self._days

    def time_index(self, date: dt.date) -> int:
        """Index of ``date`` on the time axis (``CubeError`` when absent)."""
        hit = np.nonzero(self.days() == np.datetime64(date, "D"))[0]
        if hit.size == 0:
            raise CubeError(f"{date} is not on the time axis of product {redact_url(self.url)}")
        return int(hit[0])

    def region(self, date: dt.date) -> tuple[slice, slice, slice]:
        """The (time, y, x) region of ``date`` in :meth:`arrays` (whole chunks: one day)."""
        index = self.time_index(date)
        return (slice(index, index + 1), slice(None), slice(None))

    def layer_names(self) -> tuple[str, ...]:
        """The product's layers present, in write order: ``lst_250m``, ``lst_250m_quality``,
        ``lst_250m_spread`` (ensembles), ``lst_250m_uncertainty`` (calibrated models)."""
        return tuple(n for n in (LST_VAR, QUALITY_VAR, SPREAD_VAR, UNCERTAINTY_VAR)
                     if n in self.group)

    def arrays(self) -> tuple[zarr.Array, ...]:
        """The writable arrays of :meth:`layer_names`, in that order (for region writes)."""
        return tuple(self.group[n] for n in self.layer_names())  # type: ignore[misc]

    def marker_url(self, date: dt.date) -> str:
        """URL of the completion marker of ``date``."""
        return join(self.url, MARKER_DIR, f"{date.isoformat()}.json")

    def mark_complete(self, date: dt.date, info: dict[str, Any]) -> None:
        """Mark ``date`` complete. Call only after every chunk of the day is stored."""
        record = {
            "date": date.isoformat(),
            "state": "complete",
            "written_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "software_version": __version__,
            **info,
        }
        path = strip_protocol(self.marker_url(date))
        self.fs.makedirs(path.rsplit("/", 1)[0], exist_ok=True)
        self.fs.pipe_file(path, json.dumps(record, indent=1, sort_keys=True).encode())

    def withdraw(self, date: dt.date) -> None:
        """Withdraw the completion of ``date`` (before rewriting it); no error if absent."""
        path = strip_protocol(self.marker_url(date))
        if self.fs.exists(path):
            self.fs.rm_file(path)

    def complete_days(self) -> dict[dt.date, dict[str, Any]]:
        """Days whose completion marker exists, with their marker content."""
        return _read_markers(self.fs, self.url)

    def publish_complete_days(self) -> list[str]:
        """Copy the markers' day list into the group attribute ``complete_days`` (end of a
        run)."""
        days = sorted(d.isoformat() for d in self.complete_days())
        self.group.attrs.update({"complete_days": days})
        consolidate(zarr_store(self.url, storage_options=self.storage_options))
        return days


def time_index(url: str, date: dt.date, *, storage_options: dict[str, Any] | None = None) -> int:
    """Index of ``date`` on the product's time axis (``CubeError`` when absent)."""
    return ProductCube(url, storage_options=storage_options).time_index(date)


def open_product_arrays(
    url: str, *, storage_options: dict[str, Any] | None = None
) -> tuple[zarr.Array, zarr.Array]:
    """The writable ``lst_250m`` and ``lst_250m_quality`` Zarr arrays (for region writes)."""
    return ProductCube(url, storage_options=storage_options).arrays()


def day_marker_url(url: str, date: dt.date) -> str:
    """URL of the completion marker of ``date``."""
    return ProductCube(url).marker_url(date)


def write_day_marker(
    url: str,
    date: dt.date,
    *,
    info: dict[str, Any],
    storage_options: dict[str, Any] | None = None,
) -> None:
    """Mark ``date`` complete. Call only after every chunk of the day is stored."""
    ProductCube(url, storage_options=storage_options).mark_complete(date, info)


def remove_day_marker(
    url: str, date: dt.date, *, storage_options: dict[str, Any] | None = None
) -> None:
    """Withdraw the completion of ``date`` (before rewriting it); no error if absent."""
    ProductCube(url, storage_options=storage_options).withdraw(date)


def complete_days(
    url: str, *, storage_options: dict[str, Any] | None = None
) -> dict[dt.date, dict[str, Any]]:
    """Days whose completion marker exists, with their marker content.

    One listing of the marker folder per call; the markers not read before in this process
    (or changed since) are fetched together in one batched ``cat``.
    """
    return ProductCube(url, storage_options=storage_options).complete_days()


def publish_complete_days(url: str, *, storage_options: dict[str, Any] | None = None) -> list[str]:
    """Copy the markers' day list into the group attribute ``complete_days`` (end of a run)."""
    return ProductCube(url, storage_options=storage_options).publish_complete_days()


def open_product(url: str, *, storage_options: dict[str, Any] | None = None) -> xr.Dataset:
    """Open a product cube lazily (dask), CRS decoded.

    Parameters
    ----------
    url
        Local folder, ``file://`` or ``s3://`` URL of the product.
    storage_options
        fsspec options (S3 endpoint, credentials); the environment is used otherwise.

    Returns
    -------
    xarray.Dataset
        ``lst_250m`` (time, y, x) float32 K and ``lst_250m_quality`` (uint8 flags), with the
        ``spatial_ref`` grid-mapping coordinate (``crs_wkt``; ``ds.rio.crs`` works) and the
        attribute ``complete_days`` (ISO dates whose every chunk is written). For a composite
        cube (``lstcloud compose``) ``lst_250m`` is its ``lst_250m_mean`` and the days are the
        periods' first days.
    """
    with contextlib.suppress(ImportError):  # registers ``.rio`` (CRS from ``spatial_ref``)
        import rioxarray  # noqa: F401
    store = zarr_store(url, storage_options=storage_options)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Object at _lstcloud is not recognized")
            ds = open_consolidated(store, decode_coords="all", chunks={}, mask_and_scale=True)
    except (FileNotFoundError, KeyError, zarr.errors.GroupNotFoundError) as exc:
        raise CubeError(f"no product cube at {redact_url(url)}") from exc
    if LST_VAR not in ds and COMPOSITE_MEAN_VAR in ds:
        # a composite cube (``lstcloud compose``): its period mean answers as ``lst_250m``, so
        # that every query works on it unchanged
        ds[LST_VAR] = ds[COMPOSITE_MEAN_VAR]
    if LST_VAR not in ds:
        raise CubeError(f"{redact_url(url)} is not an lstcloud product (no {LST_VAR})")
    ds.attrs["complete_days"] = sorted(
        d.isoformat() for d in complete_days(url, storage_options=storage_options)
    )
    return ds
