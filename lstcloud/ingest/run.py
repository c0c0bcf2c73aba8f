"""The ingest driver: plan the window, search the catalogue, run (day, tile) tasks on Dask.

The driver plans (:func:`lstcloud.ingest.plan.plan_window`, pure) then executes. (day, tile)
states after a run (:mod:`lstcloud.cube.status`): ``complete``, ``empty`` (no valid pixels),
``no_input`` (the catalogue has no granule for it: not a failure, so an ocean tile does not
make every run fail) and ``failed``. A rerun skips ``complete`` and ``empty``, redoes
``failed`` and missing, and searches again for ``no_input`` ones only when the catalogue is
searched anyway for other work within the same days and tiles (or with ``recheck_no_input``);
a rerun of a window with nothing else to do reads only the window's status records, does not
search the catalogue, and writes nothing.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from lstcloud.catalog import Granule, search_granules
from lstcloud.cluster import client_context
from lstcloud.core.backoff import RetryPolicy, RetryTally
from lstcloud.core.dates import day_range, parse_window
from lstcloud.core.errors import CatalogError, CatalogUnavailableError
from lstcloud.core.redact import redact_url
from lstcloud.core.storage import default_storage_options
from lstcloud.cube.status import TileDayStatus, read_status
from lstcloud.cube.store import create_cube
from lstcloud.grid import CubeGrid
from lstcloud.ingest.plan import TileDayTask, WindowPlan, plan_tasks, plan_window
from lstcloud.ingest.qc import QCPolicyOption, resolve_qc_policies
from lstcloud.ingest.record import record_outcome
from lstcloud.ingest.sources import Sources, sources_for
from lstcloud.ingest.summary import IngestSummary, TileDayOutcome
from lstcloud.ingest.task import ingest_tile_day

__all__ = ["ingest", "parse_window", "search_window"]

log = logging.getLogger(__name__)

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
) -> tuple[list[Granule], dict[str, str]]:
    """Search every source product over the window (composites from their period start).

    Returns the granules found and, per product whose search failed, the error text: a failed
    product search fails the (day, tile) that need it, not the run.
    """

    specs = sources.specs(include_night=include_night)
    granules: list[Granule] = []
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
        except CatalogUnavailableError as exc:  # the whole catalogue: no other search can work
            rest = [s.name for s in specs.values() if s.name not in errors]
            errors.update(dict.fromkeys(rest, str(exc)))
            log.info("catalogue search for %s failed: %s", ", ".join(rest), exc)
            break
        except CatalogError as exc:
            log.info("catalogue search for %s failed: %s", spec.name, exc)
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

    A rerun redoes only what the window's records say is not done (rules: module docstring).

    Parameters
    ----------
    provider, stac_url
        ``"planetary-computer"`` or ``"lpcloud"`` (see :mod:`lstcloud.catalog`); the API root.
    region
        A named region (``"europe"``, ``"conus"``, ``"africa"``), tile ids (``"h18v04,h19v04"``)
        or a lon/lat bbox; the cube covers the whole tiles.
    start, end
        First and last day (inclusive).
    cube_url
        Local folder or ``s3://bucket/prefix`` of the input cube (created or extended).
    scheduler, client
        A Dask scheduler address or a client; by default a local cluster is started and closed.
    include_night, lst_product, ndvi_product
        Also ingest the night LST; override the provider's default sources
        (:data:`lstcloud.ingest.sources.DEFAULT_SOURCES`).
    storage_options
        fsspec options for the cube store (default: from the environment).
    apply_qc, chunks_1km
        Mask pixels the QC policy rejects; the 1 km chunk edge of a new cube (250 m: 4x).
    progress, modifier
        Show a progress bar; a pystac-client modifier for item hrefs (the provider signs them).
    retry
        Backoff policy for transient read and write errors (catalogue, granules, cube store).
    qc_policy
        QC acceptance per product: ``None`` / ``"default"`` (each product's documented default),
        or the forms of :mod:`lstcloud.ingest.qc`. Complete (day, tile) are not redone under a
        new policy.
    recheck_no_input
        Search the catalogue again for every ``no_input`` (day, tile) of the window, not only
        those within the search made anyway (:func:`~lstcloud.ingest.plan.plan_window`).
    worker_timeout
        Seconds with no Dask worker connected before giving up with
        :class:`lstcloud.cluster.NoWorkersError` (default ``LSTCLOUD_WORKER_TIMEOUT`` or 120 s).

    Returns
    -------
    IngestSummary
        Found, written, skipped, no-input and failed (day, tile), with reasons.

    Raises
    ------
    lstcloud.errors.ConfigError
        A wrong provider, product, region, QC policy or window (malformed, start after end).
    lstcloud.errors.CubeError
        The cube cannot be created or its status records read (after retries).
    """
    t0 = time.perf_counter()
    dates = day_range(*parse_window(start, end))
    sources = sources_for(provider, lst=lst_product, ndvi=ndvi_product)
    specs = sources.specs(include_night=include_night)
    policies = resolve_qc_policies(qc_policy, [spec.name for spec in specs.values()])
    if storage_options is None:
        storage_options = default_storage_options(cube_url)
    retry = retry or RetryPolicy()
    summary = IngestSummary(cube_url=redact_url(cube_url))
    status = _open_window(
        cube_url,
        # from_region refuses a region across the antimeridian (never a whole-world-wide grid)
        grid=CubeGrid.from_region(region, chunks_1km=chunks_1km),
        dates=dates,
        include_night=include_night,
        storage_options=storage_options,
        retry=retry,
    )
    plan = plan_window(status.records, status.dates, status.tiles, recheck_no_input)
    summary.outcomes.extend(_known_outcomes(plan, status.records))
    if plan.wanted:
        granules, search_errors = search_window(
            provider=provider,
            stac_url=stac_url,
            sources=sources,
            tiles=plan.search_tiles,
            start=plan.search_dates[0],
            end=plan.search_dates[-1],
            include_night=include_night,
            modifier=modifier,
        )
        summary.found = len(granules)
        tasks = plan_tasks(granules, dates=plan.search_dates, tiles=plan.search_tiles, specs=specs)
        runner = _TaskRunner(
            cube_url, dict(storage_options), apply_qc, retry, policies, progress, worker_timeout
        )
        summary.outcomes.extend(
            runner.run(
                [t for t in tasks if (t.date, t.tile) in plan.wanted],
                search_errors,
                client=client if client is not None else scheduler,
            )
        )
    summary.outcomes.sort(key=lambda o: (o.date, o.tile))
    summary.seconds = time.perf_counter() - t0
    return summary


@dataclass(frozen=True)
class _WindowStatus:
    dates: list[dt.date]
    tiles: list[str]
    records: dict[tuple[dt.date, str], TileDayStatus]


def _open_window(
    cube_url: str,
    *,
    grid: CubeGrid,
    dates: list[dt.date],
    include_night: bool,
    storage_options: Mapping[str, Any] | None,
    retry: RetryPolicy,
) -> _WindowStatus:
    """Create the cube or extend it to the window, and read the window's status records."""
    options = dict(storage_options or {})
    create_cube(
        cube_url,
        grid=grid,
        dates=dates,
        include_night=include_night,
        storage_options=options,
        chunks_1km=grid.chunks_1km,
    )
    # only the window's records: a rerun costs what the window holds, not the cube's history
    records = retry.call(
        lambda: read_status(cube_url, storage_options=options, dates=dates),
        what=f"reading the status records of {redact_url(cube_url)}",
    )
    return _WindowStatus(dates=dates, tiles=[t.id for t in grid.tiles], records=records)


def _known_outcomes(
    plan: WindowPlan, status: Mapping[tuple[dt.date, str], TileDayStatus]
) -> list[TileDayOutcome]:
    """The outcomes of the (day, tile) this run does not search: done, or no_input kept."""
    out = [TileDayOutcome(date=d, tile=t, state="skipped") for d, t in plan.skipped]
    for d, t in plan.kept:
        record = status[(d, t)]
        reasons = (
            *record.reasons,
            f"(recorded {record.written_at}; not searched again in this run)",
        )
        out.append(
            TileDayOutcome(date=d, tile=t, state=record.state, reasons=reasons, items=record.items)
        )
    return out


@dataclass(frozen=True)
class _TaskRunner:
    """The executor of an ingest: records the (day, tile) their search failed, runs the others
    on a Dask cluster."""

    cube_url: str
    storage_options: dict[str, Any]
    apply_qc: bool
    retry: RetryPolicy
    qc_policy: Mapping[str, Any]
    progress: bool
    worker_timeout: float | None

    def run(
        self,
        tasks: list[TileDayTask],
        search_errors: Mapping[str, str],
        *,
        client: Any,
    ) -> list[TileDayOutcome]:
        """The outcome of every task; ``client``: a client, a scheduler address or ``None``."""
        outcomes: list[TileDayOutcome] = []
        runnable: list[TileDayTask] = []
        for task in tasks:
            failed: dict[str, list[str]] = {}  # one reason per error, naming its products
            for product in dict.fromkeys(task.products.values()):
                if product in search_errors:
                    failed.setdefault(search_errors[product], []).append(product)
            why = [
                f"catalogue search for {', '.join(products)} failed: {error}"
                for error, products in failed.items()
            ]
            if why:
                outcomes.append(self.record_search_failure(task, why))
            else:
                runnable.append(task)
        if not runnable:  # e.g. every search failed: no cluster needed
            return outcomes
        with client_context(client) as dask_client:
            futures = [
                dask_client.submit(
                    ingest_tile_day,
                    task,
                    cube_url=self.cube_url,
                    storage_options=self.storage_options,
                    apply_qc=self.apply_qc,
                    retry=self.retry,
                    qc_policy=self.qc_policy,
                    key=f"ingest-{task.tile}-{task.date.isoformat()}-{time.time_ns()}",
                    pure=False,
                    retries=2,  # a worker lost mid-task: rerun elsewhere (writes are idempotent)
                )
                for task in runnable
            ]
            outcomes.extend(
                _collect(
                    dask_client,
                    futures,
                    runnable,
                    progress=self.progress,
                    worker_timeout=self.worker_timeout,
                )
            )
        return outcomes

    def record_search_failure(self, task: TileDayTask, why: list[str]) -> TileDayOutcome:
        """Record a (day, tile) failed by its catalogue search (a store error here is added to
        the reasons, never raised: the run goes on and its summary is printed)."""
        failed = TileDayOutcome(
            date=task.date, tile=task.tile, state="failed", reasons=tuple(why), items=task.item_ids
        )
        return record_outcome(
            failed,
            cube_url=self.cube_url,
            storage_options=self.storage_options,
            retry=self.retry,
            tally=RetryTally(),
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
