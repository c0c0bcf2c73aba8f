"""The ingest driver: search the catalogue, plan (day, tile) tasks, run them on a Dask cluster."""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Mapping, Sequence
from typing import Any

from lstcloud.errors import CatalogError, redact_url
from lstcloud.ingest.plan import TileDayTask, daterange, plan_tasks
from lstcloud.ingest.sources import Sources, sources_for
from lstcloud.ingest.summary import IngestSummary, TileDayOutcome
from lstcloud.ingest.task import RetryPolicy, ingest_tile_day

__all__ = ["ingest", "search_window"]

log = logging.getLogger(__name__)

#: (day, tile) states that a rerun does not redo.
DONE_STATES = frozenset({"complete", "empty"})


def _as_date(value: dt.date | str) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value))


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
        Mask pixels rejected by the products' default QC policy.
    chunks_1km
        1 km chunk edge for a new cube (the 250 m chunks are four times larger).
    progress
        Show a progress bar.
    modifier
        Optional pystac-client modifier for item hrefs (signing is done by the provider profile).
    retry
        Backoff policy for transient read and write errors.

    Returns
    -------
    IngestSummary
        Found, written, skipped and failed (day, tile), with reasons.

    Raises
    ------
    lstcloud.errors.ConfigError
        A wrong provider, product or region.
    """
    from lstcloud.cluster import client_context
    from lstcloud.cube import create_cube
    from lstcloud.cube.status import read_status
    from lstcloud.grid import CubeGrid, resolve_region
    from lstcloud.storage import default_storage_options

    t0 = time.perf_counter()
    start_d, end_d = _as_date(start), _as_date(end)
    dates = daterange(start_d, end_d)
    sources = sources_for(provider, lst=lst_product, ndvi=ndvi_product)
    specs = sources.specs(include_night=include_night)
    tiles = resolve_region(region)
    grid = CubeGrid(tiles, chunks_1km=chunks_1km)
    tile_ids = [t.id for t in grid.tiles]
    if storage_options is None:
        storage_options = default_storage_options(cube_url)
    summary = IngestSummary(cube_url=redact_url(cube_url))

    create_cube(
        cube_url,
        grid=grid,
        dates=dates,
        include_night=include_night,
        storage_options=storage_options,
        chunks_1km=chunks_1km,
    )
    status = read_status(cube_url, storage_options=storage_options)
    todo_keys = [
        (d, t)
        for d in dates
        for t in tile_ids
        if not (status.get((d, t)) is not None and status[(d, t)].state in DONE_STATES)
    ]
    skipped = [
        TileDayOutcome(date=d, tile=t, state="skipped")
        for d in dates
        for t in tile_ids
        if (d, t) not in set(todo_keys)
    ]
    summary.outcomes.extend(skipped)
    if not todo_keys:
        summary.seconds = time.perf_counter() - t0
        return summary

    todo_dates = sorted({d for d, _ in todo_keys})
    granules, search_errors = search_window(
        provider=provider,
        stac_url=stac_url,
        sources=sources,
        tiles=sorted({t for _, t in todo_keys}),
        start=todo_dates[0],
        end=todo_dates[-1],
        include_night=include_night,
        modifier=modifier,
    )
    summary.found = len(granules)
    wanted = set(todo_keys)
    tasks = [
        t
        for t in plan_tasks(granules, dates=todo_dates, tiles=tile_ids, specs=specs)
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
            from lstcloud.cube.status import TileDayStatus, write_status

            write_status(
                cube_url,
                task.date,
                task.tile,
                TileDayStatus(state="failed", reasons=tuple(why), items=task.item_ids),
                storage_options=storage_options,
            )
            summary.outcomes.append(
                TileDayOutcome(date=task.date, tile=task.tile, state="failed", reasons=tuple(why))
            )
        else:
            runnable.append(task)

    with client_context(client if client is not None else scheduler) as dask_client:
        futures = [
            dask_client.submit(
                ingest_tile_day,
                task,
                cube_url=cube_url,
                storage_options=dict(storage_options or {}),
                apply_qc=apply_qc,
                retry=retry,
                key=f"ingest-{task.tile}-{task.date.isoformat()}-{time.time_ns()}",
                pure=False,
                retries=2,  # a worker lost mid-task: rerun elsewhere (writes are idempotent)
            )
            for task in runnable
        ]
        summary.outcomes.extend(_collect(dask_client, futures, runnable, progress=progress))

    summary.outcomes.sort(key=lambda o: (o.date, o.tile))
    summary.seconds = time.perf_counter() - t0
    return summary


def _collect(
    client: Any, futures: list[Any], tasks: list[TileDayTask], *, progress: bool
) -> list[TileDayOutcome]:
    """Gather task outcomes as they finish, with a progress bar; a crashed task is a failure."""
    from distributed import as_completed
    from tqdm.auto import tqdm

    by_key = {f.key: t for f, t in zip(futures, tasks, strict=True)}
    outcomes: list[TileDayOutcome] = []
    bar = tqdm(total=len(futures), desc="ingest (day, tile)", unit="tile-day", disable=not progress)
    try:
        for future in as_completed(futures, loop=client.loop):
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
