"""Ingesting one (day, tile) on a worker: read, decode, check, write, record.

The task never raises for bad input: it returns a :class:`TileDayOutcome` naming what went wrong,
so one corrupt granule or one S3 hiccup never stops the run. Transient errors (network, S3, server
5xx) are retried with exponential backoff; the region writes are idempotent, so retrying a write
is safe. The completion record is written only after the data: a worker that dies mid-write leaves
no record, and the (day, tile) reads as missing, never as complete.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import numpy as np

from lstcloud.errors import GranuleReadError, LstcloudError, TransientError, redact_url
from lstcloud.ingest.plan import TileDayTask
from lstcloud.ingest.summary import TileDayOutcome
from lstcloud.products import get_product

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
    """Exponential backoff for transient errors: ``attempts`` tries, ``base * 2**k`` s apart."""

    def __init__(self, *, attempts: int = 4, base: float = 0.5, cap: float = 8.0) -> None:
        self.attempts = attempts
        self.base = base
        self.cap = cap

    def call(self, fn: Callable[[], T], *, what: str, counter: list[int]) -> T:
        """Call ``fn``, retrying :class:`TransientError` and ``OSError``; re-raise the last one."""
        for attempt in range(1, self.attempts + 1):
            counter[0] = max(counter[0], attempt)
            try:
                return fn()
            except (TransientError, OSError, TimeoutError) as exc:
                if isinstance(exc, GranuleReadError) or attempt == self.attempts:
                    raise
                delay = min(self.cap, self.base * 2 ** (attempt - 1))
                log.warning(
                    "%s: transient error (%s), retry %d in %.1f s", what, exc, attempt, delay
                )
                time.sleep(delay)
        raise AssertionError("unreachable")


def _href_label(href: str | Mapping[str, str]) -> str:
    if isinstance(href, str):
        return redact_url(href)
    first = next(iter(href.values()), "")
    return f"{len(href)} COG assets ({redact_url(first)} ...)"


def _size_of(href: str | Mapping[str, str], storage_options: Mapping[str, Any] | None) -> int:
    from lstcloud.storage import filesystem

    hrefs = [href] if isinstance(href, str) else list(href.values())
    total = 0
    for h in hrefs:
        try:
            fs, path = filesystem(h, storage_options=storage_options)
            total += int(fs.size(path) or 0)
        except Exception:  # size is only for throughput figures
            continue
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


def _read_part(
    task: TileDayTask,
    part: str,
    *,
    apply_qc: bool,
    retry: RetryPolicy,
    counter: list[int],
) -> tuple[dict[str, np.ndarray], int]:
    """Read one part's granule and return cube-variable arrays and the bytes read."""
    from lstcloud.readers import read_granule

    granule = task.granules[part]
    assert granule is not None
    spec = get_product(task.products[part])
    roles = [r for r in PART_ROLES[part] if r in spec.roles]
    what = f"{spec.name} {task.tile} {task.date} ({granule.item_id}: {_href_label(granule.href)})"

    href, options = _ready_href(granule)

    def read() -> Any:
        return read_granule(href, spec, apply_qc=apply_qc, storage_options=options)

    ds = retry.call(read, what=what, counter=counter)
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
    granule_tile = ds.attrs.get("tile")
    if granule_tile and granule_tile != task.tile:
        raise GranuleReadError(f"{what}: the file is tile {granule_tile}, not {task.tile}")
    return arrays, _size_of(href, options)


def ingest_tile_day(
    task: TileDayTask,
    *,
    cube_url: str,
    storage_options: Mapping[str, Any] | None = None,
    apply_qc: bool = True,
    retry: RetryPolicy | None = None,
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
        Mask rejected QC (the product's default :class:`~lstcloud.products` policy).
    retry
        Backoff for transient errors.

    Returns
    -------
    TileDayOutcome
        Never raises for bad input or storage errors: failures are returned with their reasons.
    """
    from lstcloud.cube import write_tile_day
    from lstcloud.cube.status import TileDayStatus, write_status

    retry = retry or RetryPolicy()
    counter = [1]
    t0 = time.perf_counter()
    reasons: list[str] = []
    arrays: dict[str, np.ndarray] = {}
    nbytes = 0

    for part in task.missing:
        reasons.append(
            f"no {task.products[part]} granule for {task.tile} {task.date} in the catalogue"
        )
    if not reasons:
        for part in task.granules:
            try:
                part_arrays, size = _read_part(
                    task, part, apply_qc=apply_qc, retry=retry, counter=counter
                )
            except (LstcloudError, OSError, TimeoutError, ValueError) as exc:
                reasons.append(f"{type(exc).__name__}: {exc}")
                continue
            arrays.update(part_arrays)
            nbytes += size

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
        )

    def record(result: TileDayOutcome) -> TileDayOutcome:
        status = TileDayStatus(
            state=result.state if result.state != "skipped" else "complete",
            reasons=result.reasons,
            items=result.items,
            extra={
                "valid_pixels": {"lst_day": result.valid_lst, "ndvi": result.valid_ndvi},
                "bytes_read": result.bytes_read,
                "attempts": result.attempts,
                "seconds": round(result.seconds, 3),
            },
        )
        try:
            retry.call(
                lambda: write_status(
                    cube_url, task.date, task.tile, status, storage_options=storage_options
                ),
                what=f"status record {task.date} {task.tile}",
                counter=counter,
            )
        except Exception as exc:
            # the data may be written but unrecorded: it reads as missing and is redone next run
            return TileDayOutcome(
                **{
                    **result.__dict__,
                    "state": "failed",
                    "reasons": (*result.reasons, f"could not write the status record: {exc}"),
                }
            )
        return result

    if reasons:
        return record(outcome("failed", reasons))

    empty: list[str] = []
    if not np.isfinite(arrays["lst_day"]).any():
        empty.append(
            f"no valid day LST after QC in {task.products['lst']} {task.tile} {task.date} "
            "(all cloud, fill or rejected QC)"
        )
    if not np.isfinite(arrays["ndvi"]).any():
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
            what=f"cube write {task.date} {task.tile}",
            counter=counter,
        )
    except Exception as exc:
        return record(outcome("failed", [f"writing {task.date} {task.tile} to the cube: {exc}"]))
    return record(outcome("empty" if empty else "complete", empty))
