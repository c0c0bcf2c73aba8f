"""Ingesting one (day, tile) on a worker: read, decode, check, write, record.

The task never raises for bad input: it returns a :class:`TileDayOutcome` naming what went wrong,
so one corrupt granule or one S3 hiccup never stops the run. Transient errors (network, S3
throttling and 5xx, timeouts; :class:`~lstcloud.errors.TransientError`, which covers the cube's
:class:`~lstcloud.cube.errors.TransientCubeError`) are retried with exponential backoff, each
retry is counted in the outcome and its record; permanent errors (a corrupt granule, a denied
bucket, a wrong cube) fail at once. The region writes are idempotent, so retrying a write is
safe. The completion record is written only after the data: a worker that dies mid-write leaves
no record, and the (day, tile) reads as missing, never as complete.

A (day, tile) the catalogue has no LST granule for is recorded ``no_input``: nothing is read or
written, and it is not a failure. When only the 250 m (NDVI) granule is missing, the LST is read,
checked and written, and the (day, tile) is recorded ``lst_only`` (not a failure either).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from lstcloud.catalog.providers import parse_granule_id
from lstcloud.core.backoff import RetryPolicy, RetryTally
from lstcloud.core.errors import GranuleReadError, LstcloudError, MissingAssetError
from lstcloud.core.redact import redact_url
from lstcloud.cube.store import write_tile_day
from lstcloud.ingest.plan import TileDayTask
from lstcloud.ingest.qc import QCPolicyOption, resolve_qc_policies
from lstcloud.ingest.record import record_outcome
from lstcloud.ingest.summary import TileDayOutcome
from lstcloud.products import ProductSpec, get_product

if TYPE_CHECKING:
    import xarray as xr

    from lstcloud.catalog import Granule

__all__ = ["PART_ROLES", "RetryPolicy", "ingest_tile_day"]

log = logging.getLogger(__name__)

#: Cube variables (roles) each part of a task fills.
PART_ROLES: dict[str, tuple[str, ...]] = {
    "lst": ("lst_day", "qc_day", "view_time_day"),
    "lst_night": ("lst_night", "qc_night", "view_time_night"),
    "ndvi": ("ndvi", "ndvi_qc"),
}


def _href_label(href: str | Mapping[str, str]) -> str:
    if isinstance(href, str):
        return redact_url(href)
    first = next(iter(href.values()), "")
    return f"{len(href)} COG assets ({redact_url(first)} ...)"


def _size_of(href: str | Mapping[str, str], storage_options: Mapping[str, Any] | None) -> int:
    """Bytes of the granule file(s) at ``href`` (for throughput figures; 0 where unknown)."""
    from lstcloud.core.storage import filesystem
    from lstcloud.readers.fetch import is_local, local_path

    hrefs = [href] if isinstance(href, str) else list(href.values())
    total = 0
    for h in hrefs:
        try:
            if is_local(h):
                total += local_path(h).stat().st_size
            else:
                fs = filesystem(h, dict(storage_options or {}))
                total += int(fs.size(h) or 0)
        except (OSError, ValueError, TimeoutError, LstcloudError) as exc:
            log.debug("size of %s unknown: %s", redact_url(h), exc)
    return total


def _ready_href(granule: Granule) -> tuple[str | dict[str, str], dict[str, Any] | None]:
    """Sign the granule's hrefs now, on the worker (signed URLs expire: never sign at search
    time for a long run), and the fsspec options to read them (Earthdata auth for ``lpcloud``)."""
    from lstcloud.catalog import get_provider

    profile = get_provider(granule.provider)
    if isinstance(granule.href, str):
        href: str | dict[str, str] = profile.sign(granule.href)
        first = href
    else:
        href = {key: profile.sign(value) for key, value in granule.href.items()}
        first = next(iter(href.values()), "")
    return href, (profile.storage_options(first) or None)


def _check_assets(
    granule: Granule, spec: ProductSpec, names: tuple[str, ...], apply_qc: bool
) -> tuple[str, ...] | None:
    """The asset keys the read of ``names`` uses (``None`` for a whole HDF4 granule).

    Raises :class:`MissingAssetError` naming the item and the asset key when the STAC item lacks
    one (an HDF item without ``data``, a Planetary Computer item without a needed COG).
    """
    from lstcloud.catalog import get_provider
    from lstcloud.readers.decode import raw_variables_needed

    href = granule.href
    if isinstance(href, str) or get_provider(granule.provider).asset_layout == "hdf":
        if href:
            return None
        keys = [spec.asset_key(spec.stored_variables[0], granule.provider)]
    else:
        needed = raw_variables_needed(spec, names, apply_qc=apply_qc)
        wanted = tuple(dict.fromkeys(spec.asset_key(v, granule.provider) for v in needed))
        keys = [k for k in wanted if k not in href]
        if not keys:
            return wanted
    more = f" (nor {', '.join(repr(k) for k in keys[1:])})" if len(keys) > 1 else ""
    have = f"; it has {sorted(href)}" if isinstance(href, Mapping) and href else ""
    raise MissingAssetError(
        f"item {granule.item_id} has no {keys[0]!r} asset{more}{have}: {spec.name} cannot be read"
    )


def _read_group(
    task: TileDayTask,
    parts: list[str],
    *,
    apply_qc: bool,
    qc_policy: Any,
    retry: RetryPolicy,
    tally: RetryTally,
) -> tuple[dict[str, np.ndarray], int]:
    """Read the granule shared by ``parts`` once and return cube-variable arrays and its bytes.

    Only the variables the parts fill are read (``variables=``), so e.g. the Planetary Computer
    path does not fetch the night COGs of MOD11A1 for a day-only cube.
    """
    from lstcloud.readers import read_granule

    granule = task.granules[parts[0]]
    assert granule is not None
    spec = get_product(task.products[parts[0]])
    roles = [r for part in parts for r in PART_ROLES[part] if r in spec.roles]
    names = tuple(dict.fromkeys(spec.variable_for_role(r) for r in roles))
    what = f"{spec.name} {task.tile} {task.date} ({granule.item_id}: {_href_label(granule.href)})"
    keys = _check_assets(granule, spec, names, apply_qc)

    href, options = _ready_href(granule)
    if keys is not None and isinstance(href, Mapping):
        href = {k: href[k] for k in keys}  # the COGs read (and counted in bytes_read)

    def read() -> xr.Dataset:
        return read_granule(
            href,
            spec,
            apply_qc=apply_qc,
            qc_policy=qc_policy,
            variables=names,
            storage_options=options,
        )

    ds = retry.call(read, what=f"reading {what}", tally=tally)
    arrays: dict[str, np.ndarray] = {}
    for role in roles:
        name = spec.variable_for_role(role)
        if name not in ds:
            raise GranuleReadError(f"{what}: variable {name!r} ({role}) not in the decoded granule")
        data = np.asarray(ds[name].values)
        expected = spec.shape
        if data.shape != expected:
            raise GranuleReadError(f"{what}: {name} has shape {data.shape}, expected {expected}")
        arrays[role] = data
    _check_identity(ds.attrs, task, granule, spec)
    return arrays, _size_of(href, options)


def _check_identity(
    attrs: Mapping[str, Any], task: TileDayTask, granule: Any, spec: ProductSpec
) -> None:
    """Refuse a granule whose own date or tile (from its file) is not the (day, tile) written.

    The catalogue's item says which day and tile a granule is for; the file itself says which it
    is (:func:`lstcloud.readers.identity.granule_identity`: its metadata, grid, file name). A
    STAC item with a wrong ``datetime`` would otherwise file a good granule under the wrong day.
    """
    own_tile = attrs.get("tile") or None
    own_date = attrs.get("date") or None
    wanted = spec.period_start(task.date)
    label = _href_label(granule.href)
    if own_tile is not None and own_tile != task.tile:
        raise GranuleReadError(
            f"item {granule.item_id} is catalogued as {spec.name} {granule.tile} but its file "
            f"({label}) is tile {own_tile}, not {task.tile}: not written into {task.tile}"
        )
    if own_date is not None and own_date != wanted.isoformat():
        period = "" if wanted == task.date else f" (the period starting {wanted})"
        raise GranuleReadError(
            f"item {granule.item_id} is catalogued as {spec.name} of {granule.date} but its file "
            f"({label}) is of {own_date}, not {task.date}{period}: not written under {task.date}"
        )


def _groups(task: TileDayTask) -> list[list[str]]:
    """Parts grouped by the granule they read (MOD11A1 gives day and night from one item)."""
    groups: dict[tuple[str, str], list[str]] = {}
    for part, granule in task.granules.items():
        if granule is not None:
            groups.setdefault((task.products[part], granule.item_id), []).append(part)
    return list(groups.values())


def _collections(item_ids: Any) -> dict[str, str]:
    """``{item id: MODIS collection}`` of the granules used (from their names)."""
    out = {}
    for item in item_ids or ():
        parsed = parse_granule_id(str(item))
        if parsed and parsed.get("collection"):
            out[str(item)] = str(parsed["collection"])
    return out


def _reason(exc: BaseException, item_id: str) -> str:
    text = f"{type(exc).__name__}: {exc}"
    return text if item_id in text else f"{text} (item {item_id})"


def ingest_tile_day(
    task: TileDayTask,
    *,
    cube_url: str,
    storage_options: Mapping[str, Any] | None = None,
    apply_qc: bool = True,
    retry: RetryPolicy | None = None,
    qc_policy: QCPolicyOption | Mapping[str, Any] = None,
) -> TileDayOutcome:
    """Ingest one (day, tile) into the cube and record its completion.

    Parameters
    ----------
    task
        The day, tile and granules (from :func:`lstcloud.ingest.plan.plan_tasks`).
    cube_url
        The input cube (created beforehand with :func:`lstcloud.cube.create_cube`).
    storage_options
        fsspec options for the cube store.
    apply_qc
        Mask pixels rejected by the QC policy.
    retry
        Backoff for transient errors.
    qc_policy
        QC policy per product (the forms of :mod:`lstcloud.ingest.qc`; default: each product's
        documented default policy).

    Returns
    -------
    TileDayOutcome
        Never raises for bad input or storage errors: failures are returned with their reasons.
        ``no_input`` when the catalogue had no LST granule; ``lst_only`` when only the NDVI
        granule was missing (the LST is written).
    """
    run = _TileDayRun(
        task,
        cube_url=str(cube_url),
        storage_options=storage_options,
        apply_qc=apply_qc,
        retry=retry or RetryPolicy(),
        policies=resolve_qc_policies(qc_policy, task.products.values()),
    )
    return run.record(run.execute())


class _TileDayRun:
    """One (day, tile) on a worker: read its granules, write them, then record the outcome."""

    def __init__(
        self,
        task: TileDayTask,
        *,
        cube_url: str,
        storage_options: Mapping[str, Any] | None,
        apply_qc: bool,
        retry: RetryPolicy,
        policies: Mapping[str, Any],
    ) -> None:
        self.task = task
        self.cube_url = cube_url
        self.storage_options = storage_options
        self.apply_qc = apply_qc
        self.retry = retry
        self.policies = policies
        self.tally = RetryTally()
        self.t0 = time.perf_counter()
        self.arrays: dict[str, np.ndarray] = {}
        self.nbytes = 0
        self.where = f"{task.date} {task.tile} in the cube {redact_url(cube_url)}"

    def outcome(self, state: str, why: list[str]) -> TileDayOutcome:
        """The outcome so far, in ``state``."""
        arrays = self.arrays
        return TileDayOutcome(
            date=self.task.date,
            tile=self.task.tile,
            state=state,  # type: ignore[arg-type]
            reasons=tuple(why),
            items=self.task.item_ids,
            valid_lst=int(np.isfinite(arrays["lst_day"]).sum()) if "lst_day" in arrays else 0,
            valid_ndvi=int(np.isfinite(arrays["ndvi"]).sum()) if "ndvi" in arrays else 0,
            bytes_read=self.nbytes,
            attempts=self.tally.attempts,
            seconds=time.perf_counter() - self.t0,
            retries=tuple(self.tally.retried),
        )

    def execute(self) -> TileDayOutcome:
        """Read and write the (day, tile); the outcome is not recorded yet."""
        task = self.task
        absent = [
            f"no {task.products[part]} granule for {task.tile} {task.date} in the catalogue"
            for part in task.missing
        ]
        if "lst" in task.missing:  # nothing to predict from: nothing read
            return self.outcome("no_input", absent)
        reasons = self._read()
        if reasons:
            return self.outcome("failed", reasons)
        empty: list[str] = []
        if not np.isfinite(self.arrays["lst_day"]).any():
            empty.append(
                f"no valid day LST after QC in {task.products['lst']} {task.tile} {task.date} "
                "(all cloud, fill or rejected QC)"
            )
        if "ndvi" in self.arrays and not np.isfinite(self.arrays["ndvi"]).any():
            empty.append(f"no valid NDVI in {task.products['ndvi']} {task.tile} {task.date}")
        try:
            self.retry.call(
                lambda: write_tile_day(
                    self.cube_url,
                    date=task.date,
                    tile=task.tile,
                    arrays=self.arrays,
                    storage_options=self.storage_options,
                ),
                what=f"cube write {self.where}",
                tally=self.tally,
            )
        except Exception as exc:  # whatever the store raised (after retries): this tile-day failed
            return self.outcome("failed", [f"writing {self.where}: {type(exc).__name__}: {exc}"])
        if absent:  # the LST is good and kept; the 250 m granule is not published (yet)
            note = "LST written; the 250 m product needs it: a rerun searches for it again"
            return self.outcome("lst_only", [*absent, *empty, note])
        return self.outcome("empty" if empty else "complete", empty)

    def _read(self) -> list[str]:
        """Read every granule group into :attr:`arrays`; the reasons of those that failed."""
        reasons: list[str] = []
        for parts in _groups(self.task):
            granule = self.task.granules[parts[0]]
            assert granule is not None
            product = self.task.products[parts[0]]
            try:
                part_arrays, size = _read_group(
                    self.task,
                    parts,
                    apply_qc=self.apply_qc,
                    qc_policy=self.policies[get_product(product).name],
                    retry=self.retry,
                    tally=self.tally,
                )
            except (LstcloudError, OSError, TimeoutError, ValueError) as exc:
                reasons.append(_reason(exc, granule.item_id))
                continue
            self.arrays.update(part_arrays)
            self.nbytes += size
        return reasons

    def record(self, result: TileDayOutcome) -> TileDayOutcome:
        """Write the record of ``result`` (after the data) through :mod:`lstcloud.ingest.record`."""
        extra: dict[str, Any] = {
            "valid_pixels": {"lst_day": result.valid_lst, "ndvi": result.valid_ndvi},
            "bytes_read": result.bytes_read,
            "attempts": result.attempts,
            "retries": list(result.retries),
            "seconds": round(result.seconds, 3),
            # each granule's own collection (a 006 granule may be filed under a 061 collection)
            "collections": _collections(result.items),
        }
        if self.apply_qc and result.state in ("complete", "empty", "lst_only"):
            extra["qc_policy"] = {
                name: self.policies[name].model_dump(mode="json")
                for name in dict.fromkeys(self.task.products.values())
            }
        return record_outcome(
            result,
            cube_url=self.cube_url,
            storage_options=self.storage_options,
            retry=self.retry,
            tally=self.tally,
            extra=extra,
        )
