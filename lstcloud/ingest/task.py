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
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import numpy as np

from lstcloud.errors import (
    GranuleReadError,
    LstcloudError,
    MissingAssetError,
    TransientError,
    redact_url,
)
from lstcloud.ingest.plan import TileDayTask
from lstcloud.ingest.qc import QCPolicyOption, resolve_qc_policies
from lstcloud.ingest.summary import TileDayOutcome
from lstcloud.products import ProductSpec, get_product

__all__ = ["PART_ROLES", "RetryPolicy", "ingest_tile_day"]

log = logging.getLogger(__name__)

T = TypeVar("T")

#: Cube variables (roles) each part of a task fills.
PART_ROLES: dict[str, tuple[str, ...]] = {
    "lst": ("lst_day", "qc_day", "view_time_day"),
    "lst_night": ("lst_night", "qc_night", "view_time_night"),
    "ndvi": ("ndvi", "ndvi_qc"),
}


class RetryPolicy:
    """Exponential backoff for transient errors: ``attempts`` tries, ``base * 2**k`` s apart.

    Retried: :class:`~lstcloud.errors.TransientError` (the readers' and the cube's transient
    errors), ``TimeoutError``, ``ConnectionError`` and any other exception that
    :func:`lstcloud.readers.fetch.is_transient` deems transient (HTTP 5xx, throttling, botocore
    connection errors ...). Everything else (corrupt granules, missing objects, denied access, a
    wrong cube, other lstcloud errors) is raised at once.
    """

    def __init__(self, *, attempts: int = 4, base: float = 0.5, cap: float = 8.0) -> None:
        self.attempts = attempts
        self.base = base
        self.cap = cap

    @staticmethod
    def retryable(exc: BaseException) -> bool:
        """Whether ``exc`` is worth another try."""
        from lstcloud.readers.fetch import is_transient

        if isinstance(exc, TransientError):
            return True
        if isinstance(exc, LstcloudError):  # classified as permanent (GranuleReadError ...)
            return False
        if isinstance(exc, (TimeoutError, ConnectionError)):
            return True
        return is_transient(exc)  # 5xx / throttling / connection errors of s3fs, botocore ...

    def call(
        self,
        fn: Callable[[], T],
        *,
        what: str,
        counter: list[int],
        retried: list[str] | None = None,
    ) -> T:
        """Call ``fn``, retrying transient errors (:meth:`retryable`); re-raise the last one.

        ``counter[0]`` is raised to the number of attempts this call took; each retried error is
        appended to ``retried`` (``"<what>: attempt k: <error>"``) when given.
        """
        for attempt in range(1, self.attempts + 1):
            counter[0] = max(counter[0], attempt)
            try:
                return fn()
            except Exception as exc:
                if not self.retryable(exc) or attempt == self.attempts:
                    raise
                delay = min(self.cap, self.base * 2 ** (attempt - 1))
                log.warning(
                    "%s: transient error (%s), retry %d in %.1f s", what, exc, attempt, delay
                )
                if retried is not None:
                    retried.append(f"{what}: attempt {attempt}: {type(exc).__name__}: {exc}")
                time.sleep(delay)
        raise AssertionError("unreachable")


def _href_label(href: str | Mapping[str, str]) -> str:
    if isinstance(href, str):
        return redact_url(href)
    first = next(iter(href.values()), "")
    return f"{len(href)} COG assets ({redact_url(first)} ...)"


def _size_of(href: str | Mapping[str, str], storage_options: Mapping[str, Any] | None) -> int:
    """Bytes of the granule file(s) at ``href`` (for throughput figures; 0 where unknown)."""
    from lstcloud.readers.fetch import is_local, local_path
    from lstcloud.storage import filesystem

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


def _ready_href(granule: Any) -> tuple[str | dict[str, str], dict[str, Any] | None]:
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
    granule: Any, spec: ProductSpec, names: tuple[str, ...], apply_qc: bool
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
    counter: list[int],
    retried: list[str],
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

    def read() -> Any:
        return read_granule(
            href,
            spec,
            apply_qc=apply_qc,
            qc_policy=qc_policy,
            variables=names,
            storage_options=options,
        )

    ds = retry.call(read, what=f"reading {what}", counter=counter, retried=retried)
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
        ``no_input`` when the catalogue had no granule for one of the products.
    """
    from lstcloud.cube import write_tile_day
    from lstcloud.cube.status import TileDayStatus, write_status

    retry = retry or RetryPolicy()
    counter = [1]
    retried: list[str] = []
    t0 = time.perf_counter()
    reasons: list[str] = []
    arrays: dict[str, np.ndarray] = {}
    nbytes = 0
    policies = resolve_qc_policies(qc_policy, task.products.values())
    where = f"{task.date} {task.tile} in the cube {redact_url(str(cube_url))}"

    def outcome(state: str, why: list[str]) -> TileDayOutcome:
        return TileDayOutcome(
            date=task.date,
            tile=task.tile,
            state=state,  # type: ignore[arg-type]
            reasons=tuple(why),
            items=task.item_ids,
            valid_lst=int(np.isfinite(arrays["lst_day"]).sum()) if "lst_day" in arrays else 0,
            valid_ndvi=int(np.isfinite(arrays["ndvi"]).sum()) if "ndvi" in arrays else 0,
            bytes_read=nbytes,
            attempts=counter[0],
            seconds=time.perf_counter() - t0,
            retries=tuple(retried),
        )

    def record(result: TileDayOutcome) -> TileDayOutcome:
        extra: dict[str, Any] = {
            "valid_pixels": {"lst_day": result.valid_lst, "ndvi": result.valid_ndvi},
            "bytes_read": result.bytes_read,
            "attempts": result.attempts,
            "retries": list(result.retries),
            "seconds": round(result.seconds, 3),
        }
        if apply_qc and result.state in ("complete", "empty", "lst_only"):
            extra["qc_policy"] = {
                name: policies[name].model_dump(mode="json")
                for name in dict.fromkeys(task.products.values())
            }
        status = TileDayStatus(
            state=result.state if result.state != "skipped" else "complete",
            reasons=result.reasons,
            items=result.items,
            extra=extra,
        )
        try:
            retry.call(
                lambda: write_status(
                    cube_url, task.date, task.tile, status, storage_options=storage_options
                ),
                what=f"status record {where}",
                counter=counter,
                retried=retried,
            )
        except Exception as exc:  # whatever the store raised: the run goes on, reported
            # the data may be written but unrecorded: it reads as missing and is redone next run
            return TileDayOutcome(
                **{
                    **result.__dict__,
                    "state": "failed",
                    "reasons": (*result.reasons, f"could not write the status record: {exc}"),
                    "attempts": counter[0],
                    "retries": tuple(retried),
                }
            )
        return TileDayOutcome(
            **{**result.__dict__, "attempts": counter[0], "retries": tuple(retried)}
        )

    absent = [
        f"no {task.products[part]} granule for {task.tile} {task.date} in the catalogue"
        for part in task.missing
    ]
    if "lst" in task.missing:  # nothing to predict from: nothing read
        return record(outcome("no_input", absent))

    for parts in _groups(task):
        granule = task.granules[parts[0]]
        assert granule is not None
        product = task.products[parts[0]]
        try:
            part_arrays, size = _read_group(
                task,
                parts,
                apply_qc=apply_qc,
                qc_policy=policies[get_product(product).name],
                retry=retry,
                counter=counter,
                retried=retried,
            )
        except (LstcloudError, OSError, TimeoutError, ValueError) as exc:
            reasons.append(_reason(exc, granule.item_id))
            continue
        arrays.update(part_arrays)
        nbytes += size

    if reasons:
        return record(outcome("failed", reasons))

    empty: list[str] = []
    if not np.isfinite(arrays["lst_day"]).any():
        empty.append(
            f"no valid day LST after QC in {task.products['lst']} {task.tile} {task.date} "
            "(all cloud, fill or rejected QC)"
        )
    if "ndvi" in arrays and not np.isfinite(arrays["ndvi"]).any():
        empty.append(f"no valid NDVI in {task.products['ndvi']} {task.tile} {task.date}")

    try:
        retry.call(
            lambda: write_tile_day(
                cube_url,
                date=task.date,
                tile=task.tile,
                arrays=arrays,
                storage_options=storage_options,
            ),
            what=f"cube write {where}",
            counter=counter,
            retried=retried,
        )
    except Exception as exc:  # whatever the store raised (after retries): this tile-day failed
        return record(outcome("failed", [f"writing {where}: {type(exc).__name__}: {exc}"]))
    if absent:  # the LST is good and kept; the 250 m granule is not published (yet)
        note = "LST written; the 250 m product needs it: a rerun searches for it again"
        return record(outcome("lst_only", [*absent, *empty, note]))
    return record(outcome("empty" if empty else "complete", empty))
