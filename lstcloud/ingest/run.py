"""The ingest driver: search the catalogue, plan (day, tile) tasks, run them on a Dask cluster."""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Mapping, Sequence
from typing import Any

from lstcloud.errors import CatalogError, ConfigError, redact_url
from lstcloud.ingest.plan import TileDayTask, daterange, plan_tasks
from lstcloud.ingest.qc import QCPolicyOption, resolve_qc_policies
from lstcloud.ingest.sources import Sources, sources_for
from lstcloud.ingest.summary import IngestSummary, TileDayOutcome
from lstcloud.ingest.task import RetryPolicy, ingest_tile_day

__all__ = ["ingest", "parse_window", "search_window"]

log = logging.getLogger(__name__)

#: (day, tile) states that a rerun does not redo.
DONE_STATES = frozenset({"complete", "empty"})
#: (day, tile) states a rerun searches the catalogue again for, when it searches anyway.
RECHECK_STATES = frozenset({"no_input", "lst_only"})


def _as_date(value: dt.date | str, *, name: str = "date") -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value).strip())
    except ValueError:
        raise ConfigError(f"{name}: {value!r} is not a date (expected YYYY-MM-DD)") from None


def parse_window(start: dt.date | str, end: dt.date | str) -> tuple[dt.date, dt.date]:
    """The (start, end) days of an ingest window, checked.

    Raises
    ------
    ConfigError
        A malformed date, or ``start`` after ``end``.
    """
    start_d, end_d = _as_date(start, name="start"), _as_date(end, name="end")
    if start_d > end_d:
        raise ConfigError(f"start {start_d} is after end {end_d}: the window would be empty")
    return start_d, end_d


def search_window(
    *,
    provider: str,
    stac_url: str,
    sources: Sources,
    tiles: Sequence[str],
    start: dt.date,
    end: dt.date,
    include_night: bool,
    modifier: Any = None,
) -> tuple[list[Any], dict[str, str]]:
    """Search every source product over the window (composites from their period start).

    Returns the granules found and, per product whose search failed, the error text: a failed
    product search fails the (day, tile) that need it, not the run.
    """
    from lstcloud.catalog import search_granules

    specs = sources.specs(include_night=include_night)
    granules: list[Any] = []
    errors: dict[str, str] = {}
    for spec in {s.name: s for s in specs.values()}.values():
        try:
            granules.extend(
                search_granules(
                    provider=provider,
                    stac_url=stac_url,
                    products=[spec.name],
                    tiles=list(tiles),
                    start=spec.period_start(start),
                    end=end,
                    modifier=modifier,
                    sign=False,  # signed on the worker just before reading
                )
            )
        except CatalogError as exc:
            log.error("catalogue search for %s failed: %s", spec.name, exc)
            errors[spec.name] = str(exc)
    return granules, errors


def ingest(
    *,
    provider: str,
    stac_url: str,
    region: str | Sequence[float],
    start: dt.date | str,
    end: dt.date | str,
    cube_url: str,
    scheduler: str | None = None,
    client: Any = None,
    include_night: bool = False,
    lst_product: str | None = None,
    ndvi_product: str | None = None,
    storage_options: Mapping[str, Any] | None = None,
    apply_qc: bool = True,
    chunks_1km: int = 300,
    progress: bool = True,
    modifier: Any = None,
    retry: RetryPolicy | None = None,
    qc_policy: QCPolicyOption = None,
    recheck_no_input: bool = False,
    worker_timeout: float | None = None,
) -> IngestSummary:
    """Ingest MODIS LST and 250 m NDVI for a region and a window of days into the input cube.

    Parameters
    ----------
    provider
        ``"planetary-computer"`` or ``"lpcloud"`` (see :mod:`lstcloud.catalog`).
    stac_url
        The STAC API root.
    region
        A named region (``"europe"``, ``"conus"``, ``"africa"``), tile ids (``"h18v04,h19v04"``)
        or a lon/lat bbox; the cube covers the whole tiles.
    start, end
        First and last day (inclusive).
    cube_url
        Local folder or ``s3://bucket/prefix`` of the input cube (created or extended).
    scheduler, client
        A Dask scheduler address or an existing client; by default a local cluster with worker
        processes is started and closed.
    include_night
        Also ingest the night LST.
    lst_product, ndvi_product
        Override the provider's default sources (:data:`lstcloud.ingest.sources.DEFAULT_SOURCES`).
    storage_options
        fsspec options for the cube store (default: from the environment).
    apply_qc
        Mask pixels rejected by the QC policy (``qc_policy``).
    chunks_1km
        1 km chunk edge for a new cube (the 250 m chunks are four times larger).
    progress
        Show a progress bar.
    modifier
        Optional pystac-client modifier for item hrefs (signing is done by the provider profile).
    retry
        Backoff policy for transient read and write errors (catalogue, granules, cube store).
    qc_policy
        QC acceptance per product: ``None`` / ``"default"`` (each product's documented default,
        :mod:`lstcloud.products.qc`), one policy (or config mapping with ``scheme``) for the
        products of its scheme, or a mapping product name or scheme -> policy / options (see
        :mod:`lstcloud.ingest.qc`). (day, tile) already complete are not redone under a new
        policy.
    recheck_no_input
        Search the catalogue again for every ``no_input`` (day, tile) of the window (their
        granules may have been published since). By default a rerun rechecks only those that lie
        within the search it makes anyway for other work (same days range and tiles), so that a
        window of ocean tiles costs nothing to rerun.
    worker_timeout
        Seconds to wait with no Dask worker connected before giving up with
        :class:`lstcloud.cluster.NoWorkersError` (default ``LSTCLOUD_WORKER_TIMEOUT`` or 120 s);
        the (day, tile) not done then have no record and are redone by the next run.

    Returns
    -------
    IngestSummary
        Found, written, skipped, no-input and failed (day, tile), with reasons.

    Notes
    -----
    (day, tile) states after a run (:mod:`lstcloud.cube.status`): ``complete``, ``empty`` (no
    valid pixels), ``no_input`` (the catalogue has no granule for it: not a failure, so an ocean
    tile does not make every run fail) and ``failed``. A rerun skips ``complete`` and ``empty``,
    redoes ``failed`` and missing, and searches again for ``no_input`` ones only when the
    catalogue is searched anyway for other work within the same days and tiles (or with
    ``recheck_no_input``); a rerun of a window with nothing else to do reads only the window's
    status records, does not search the catalogue, and writes nothing.

    Raises
    ------
    lstcloud.errors.ConfigError
        A wrong provider, product, region, QC policy, or window (malformed dates, start after
        end).
    lstcloud.errors.CubeError
        The cube cannot be created or its status records read (after retries).
    """
    from lstcloud.cluster import client_context
    from lstcloud.cube import create_cube
    from lstcloud.cube.status import read_status
    from lstcloud.grid import CubeGrid
    from lstcloud.storage import default_storage_options

    t0 = time.perf_counter()
    start_d, end_d = parse_window(start, end)
    dates = daterange(start_d, end_d)
    sources = sources_for(provider, lst=lst_product, ndvi=ndvi_product)
    specs = sources.specs(include_night=include_night)
    policies = resolve_qc_policies(qc_policy, [spec.name for spec in specs.values()])
    # from_region refuses a region across the antimeridian (never a whole-world-wide grid)
    grid = CubeGrid.from_region(region, chunks_1km=chunks_1km)
    tile_ids = [t.id for t in grid.tiles]
    if storage_options is None:
        storage_options = default_storage_options(cube_url)
    retry = retry or RetryPolicy()
    summary = IngestSummary(cube_url=redact_url(cube_url))

    create_cube(
        cube_url,
        grid=grid,
        dates=dates,
        include_night=include_night,
        storage_options=storage_options,
        chunks_1km=chunks_1km,
    )
    # only the window's records: a rerun costs what the window holds, not the cube's history
    status = retry.call(
        lambda: read_status(cube_url, storage_options=storage_options, dates=dates),
        what=f"reading the status records of {redact_url(cube_url)}",
        counter=[1],
    )
    todo_keys: list[tuple[dt.date, str]] = []
    recheck: dict[tuple[dt.date, str], Any] = {}
    for d in dates:
        for t in tile_ids:
            record = status.get((d, t))
            if record is None or record.state not in DONE_STATES | RECHECK_STATES:
                todo_keys.append((d, t))
            elif record.state in RECHECK_STATES:
                recheck[(d, t)] = record
    todo_set = set(todo_keys)
    summary.outcomes.extend(
        TileDayOutcome(date=d, tile=t, state="skipped")
        for d in dates
        for t in tile_ids
        if (d, t) not in todo_set and (d, t) not in recheck
    )
    if recheck_no_input:
        wanted = todo_set | set(recheck)
    elif todo_keys:
        # no_input (day, tile) inside the search that is needed anyway cost nothing to check again
        first, last = min(d for d, _ in todo_keys), max(d for d, _ in todo_keys)
        tiles_todo = {t for _, t in todo_keys}
        wanted = todo_set | {(d, t) for d, t in recheck if first <= d <= last and t in tiles_todo}
    else:
        wanted = set()
    for (d, t), record in recheck.items():
        if (d, t) not in wanted:
            summary.outcomes.append(
                TileDayOutcome(
                    date=d,
                    tile=t,
                    state=record.state,  # no_input or lst_only, as recorded
                    reasons=(
                        *record.reasons,
                        f"(recorded {record.written_at}; not searched again in this run)",
                    ),
                    items=record.items,
                )
            )
    if not wanted:
        summary.outcomes.sort(key=lambda o: (o.date, o.tile))
        summary.seconds = time.perf_counter() - t0
        return summary
    todo_dates = sorted({d for d, _ in wanted})
    todo_tiles = sorted({t for _, t in wanted})

    granules, search_errors = search_window(
        provider=provider,
        stac_url=stac_url,
        sources=sources,
        tiles=todo_tiles,
        start=todo_dates[0],
        end=todo_dates[-1],
        include_night=include_night,
        modifier=modifier,
    )
    summary.found = len(granules)
    tasks = [
        t
        for t in plan_tasks(granules, dates=todo_dates, tiles=todo_tiles, specs=specs)
        if (t.date, t.tile) in wanted
    ]

    def failed_by_search(task: TileDayTask) -> list[str]:
        return [
            f"catalogue search for {product} failed: {search_errors[product]}"
            for product in dict.fromkeys(task.products.values())
            if product in search_errors
        ]

    runnable: list[TileDayTask] = []
    for task in tasks:
        why = failed_by_search(task)
        if why:
            summary.outcomes.append(
                _record_search_failure(
                    cube_url, task, why, storage_options=storage_options, retry=retry
                )
            )
        else:
            runnable.append(task)

    if not runnable:  # e.g. every search failed: no cluster needed
        summary.outcomes.sort(key=lambda o: (o.date, o.tile))
        summary.seconds = time.perf_counter() - t0
        return summary

    with client_context(client if client is not None else scheduler) as dask_client:
        futures = [
            dask_client.submit(
                ingest_tile_day,
                task,
                cube_url=cube_url,
                storage_options=dict(storage_options or {}),
                apply_qc=apply_qc,
                retry=retry,
                qc_policy=policies,
                key=f"ingest-{task.tile}-{task.date.isoformat()}-{time.time_ns()}",
                pure=False,
                retries=2,  # a worker lost mid-task: rerun elsewhere (writes are idempotent)
            )
            for task in runnable
        ]
        summary.outcomes.extend(
            _collect(
                dask_client, futures, runnable, progress=progress, worker_timeout=worker_timeout
            )
        )

    summary.outcomes.sort(key=lambda o: (o.date, o.tile))
    summary.seconds = time.perf_counter() - t0
    return summary


def _record_search_failure(
    cube_url: str,
    task: TileDayTask,
    why: list[str],
    *,
    storage_options: Mapping[str, Any] | None,
    retry: RetryPolicy,
) -> TileDayOutcome:
    """Record a (day, tile) failed by its catalogue search; a store error here (after retries)
    is added to the reasons, never raised: the run goes on and its summary is printed."""
    from lstcloud.cube.status import TileDayStatus, write_status

    counter = [1]
    retried: list[str] = []
    reasons = list(why)
    try:
        retry.call(
            lambda: write_status(
                cube_url,
                task.date,
                task.tile,
                TileDayStatus(state="failed", reasons=tuple(why), items=task.item_ids),
                storage_options=dict(storage_options or {}),
            ),
            what=f"status record {task.date} {task.tile}",
            counter=counter,
            retried=retried,
        )
    except Exception as exc:  # whatever the store raised: reported in the summary, not raised
        reasons.append(f"could not write the status record: {type(exc).__name__}: {exc}")
    return TileDayOutcome(
        date=task.date,
        tile=task.tile,
        state="failed",
        reasons=tuple(reasons),
        items=task.item_ids,
        attempts=counter[0],
        retries=tuple(retried),
    )


def _collect(
    client: Any,
    futures: list[Any],
    tasks: list[TileDayTask],
    *,
    progress: bool,
    worker_timeout: float | None = None,
) -> list[TileDayOutcome]:
    """Gather task outcomes as they finish, with a progress bar; a crashed task is a failure.

    Raises :class:`lstcloud.cluster.NoWorkersError` when no worker is left for
    ``worker_timeout`` seconds.
    """
    from tqdm.auto import tqdm

    from lstcloud.cluster import as_completed_with_workers

    by_key = {f.key: t for f, t in zip(futures, tasks, strict=True)}
    outcomes: list[TileDayOutcome] = []
    bar = tqdm(total=len(futures), desc="ingest (day, tile)", unit="tile-day", disable=not progress)
    try:
        for future in as_completed_with_workers(
            client, futures, timeout=worker_timeout, what="ingest tasks"
        ):
            task = by_key[future.key]
            try:
                outcome = future.result()
            except Exception as exc:  # a bug or a worker lost beyond retries
                outcome = TileDayOutcome(
                    date=task.date,
                    tile=task.tile,
                    state="failed",
                    reasons=(f"task crashed: {type(exc).__name__}: {exc}",),
                )
            outcomes.append(outcome)
            bar.update(1)
            bar.set_postfix_str(f"{outcome.date} {outcome.tile} {outcome.state}")
    finally:
        bar.close()
    return outcomes
