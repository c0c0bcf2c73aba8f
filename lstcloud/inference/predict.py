"""``predict_cube``: super-resolve days of the input cube into the product cube, on Dask.

For every requested day the 1 km ``lst_day`` and the 250 m ``ndvi`` of the input cube are
mapped through the model with a halo (:mod:`lstcloud.inference.halo`), the 250 m LST and its
quality flags are stored into the product with region writes of whole chunks, and only then is
the day's completion marker written. Days already complete are skipped; a failed day leaves no
marker and is redone by the next run. Worker loss is absorbed by the scheduler (tasks are pure
and writes idempotent), so a disturbed run ends with the same product as an undisturbed one.

A day is predicted only when its input is whole: on an lstcloud input cube every tile of the
cube must have an ingest record in :data:`lstcloud.cube.status.DONE_STATES` (``complete``,
``empty`` or ``no_input``) for that day (:func:`input_states`); otherwise the day is reported in
:attr:`PredictSummary.incomplete` and left for a later run (a day that is on the time axis but
whose ingest failed would otherwise become an all-NaN day marked complete for good). Each day
marker keeps the digest of the records it was predicted from: a complete day whose records
changed since (a late granule ingested) is predicted again.

The model is registered once per cluster (:func:`register_model`); each worker chooses its
device (``auto``: CUDA when it sees a GPU). When workers advertise the Dask resource ``GPU``,
the model tasks are pinned to them (``resources={"GPU": 1}``) unless ``cpu`` is asked.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Any

import dask
import dask.array as da
import numpy as np
import xarray as xr

from lstcloud.cluster import as_completed_with_workers, client_context
from lstcloud.core.dates import day_range
from lstcloud.core.errors import CubeError, LstcloudError
from lstcloud.core.redact import redact_text, redact_url
from lstcloud.cube.product import (
    LST_VAR,
    SPREAD_VAR,
    UNCERTAINTY_VAR,
    ProductCube,
    ProductGrid,
    Provenance,
    quantize_uncertainty,
)
from lstcloud.cube.status import read_status
from lstcloud.cube.store import open_input_cube
from lstcloud.grid import SINUSOIDAL_WKT
from lstcloud.inference.adapt import adapt_for_day
from lstcloud.inference.guide_free import reach_1km
from lstcloud.inference.halo import HaloPlan, align_inputs, halo_share, plan_halo, super_resolve
from lstcloud.inference.identity import behaviour_fields, model_identity
from lstcloud.inference.plugin import (
    ModelPlugin,
    check_device,
    load_model_for,
    model_status,
)
from lstcloud.inference.select import DaySelection, InputState, day_input_state, select_days

__all__ = [
    "InputState",
    "PredictSummary",
    "input_states",
    "model_fingerprint",
    "predict_cube",
    "register_model",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PredictSummary:
    """What :func:`predict_cube` did.

    Attributes
    ----------
    product_url
        The product (credentials redacted).
    model
        Model name and sha256.
    written
        Days predicted and marked complete in this run.
    skipped
        Days already complete (not recomputed).
    missing
        ``(day, reason)`` for days not predicted: absent from the input cube, or failed.
    incomplete
        ``(day, reason)`` for days skipped because their input is not whole yet (a tile of
        the input cube failed or has no ingest record); a later run predicts them.
    devices
        Device chosen by the workers holding the model: ``{"cpu": 2, "cuda": 1}``.
    pixels_250m
        250 m output pixels written.
    halo_share
        Share of the pixels run through the model that were halo (context), not output.
    seconds
        Wall-clock time.
    errors
        Store errors of the run's bookkeeping (e.g. the ``complete_days`` attribute could not
        be updated: the day markers stay the truth).
    without_guide
        ``(day, tiles)`` for written days some of whose tiles had no 250 m guide (``lst_only``):
        their LST is interpolated there and flagged ``guide_missing``.
    """

    product_url: str
    model: str
    written: tuple[dt.date, ...] = ()
    skipped: tuple[dt.date, ...] = ()
    missing: tuple[tuple[dt.date, str], ...] = field(default_factory=tuple)
    incomplete: tuple[tuple[dt.date, str], ...] = field(default_factory=tuple)
    devices: dict[str, int] = field(default_factory=dict)
    pixels_250m: int = 0
    halo_share: float = 0.0
    seconds: float = 0.0
    errors: tuple[str, ...] = ()
    without_guide: tuple[tuple[dt.date, tuple[str, ...]], ...] = ()

    @property
    def ok(self) -> bool:
        """True when no day failed, was missing or had an incomplete input, and the product's
        bookkeeping was updated (``errors`` empty)."""
        return not self.missing and not self.incomplete and not self.errors

    def format(self) -> str:
        """A human-readable closing summary."""
        lines = [
            f"product   {self.product_url}",
            f"model     {self.model}",
            f"written   {len(self.written)} day(s) {', '.join(map(str, self.written))}",
            f"skipped   {len(self.skipped)} day(s) already complete",
            f"pixels    {self.pixels_250m / 1e6:.2f} Mpx at 250 m in {self.seconds:.1f} s"
            f" (halo share {self.halo_share:.1%})",
        ]
        if self.devices:
            used = ", ".join(f"{d} x{n}" for d, n in sorted(self.devices.items()))
            lines.append(f"devices   {used} worker(s)")
        for day, tiles in self.without_guide:
            lines.append(
                f"no guide  {day}: tile(s) {', '.join(tiles)} had no 250 m NDVI; their LST is "
                "interpolated from 1 km, flagged guide_missing"
            )
        for day, reason in self.incomplete:
            lines.append(f"skipped   {day}: {reason}")
        for day, reason in self.missing:
            lines.append(f"missing   {day}: {reason}")
        for error in self.errors:
            lines.append(f"error     {error}")
        return "\n".join(lines)


def _input_grid(ds: xr.Dataset, url: str) -> ProductGrid:
    for name in ("lst_day", "ndvi", "y_250m", "x_250m", "time"):
        if name not in ds.variables:
            raise CubeError(f"input cube {redact_url(url)} has no {name!r}")
    crs_wkt = None
    for ref in ("spatial_ref_250m", "spatial_ref"):
        if ref in ds.variables and not crs_wkt:
            crs_wkt = ds[ref].attrs.get("crs_wkt") or ds[ref].attrs.get("spatial_ref")
    if not crs_wkt:
        crs_wkt = SINUSOIDAL_WKT
    ndvi = ds["ndvi"].data
    chunks = (
        (int(ndvi.chunks[1][0]), int(ndvi.chunks[2][0]))
        if isinstance(ndvi, da.Array)
        else tuple(ds["ndvi"].encoding.get("chunks", (1, *ndvi.shape[1:])))[1:]
    )
    return ProductGrid(
        y=np.asarray(ds["y_250m"].values, dtype="float64"),
        x=np.asarray(ds["x_250m"].values, dtype="float64"),
        crs_wkt=str(crs_wkt),
        chunks=chunks,
    )


@contextmanager
def _client_for(client: Any, scheduler: str | None) -> Iterator[Any]:
    """``client``, else a client for ``scheduler`` or a local cluster (closed afterwards)."""
    if client is not None:
        yield client
        return
    with client_context(scheduler=scheduler) as started:
        yield started


def _has_plugin(name: str, dask_scheduler: Any = None) -> bool:
    return name in getattr(dask_scheduler, "worker_plugins", {})


def _worker_table(dask_scheduler: Any = None) -> dict[str, dict[str, Any]]:
    """On the scheduler: host, threads and resources of every worker."""
    return {
        addr: {"host": ws.host, "nthreads": ws.nthreads, "resources": dict(ws.resources)}
        for addr, ws in dask_scheduler.workers.items()
    }


def _ensure_plugin(client: Any, plugin: ModelPlugin) -> dict[str, dict[str, Any]]:
    """Register ``plugin`` unless every worker already holds it with the same settings.

    Returns the workers' :func:`~lstcloud.inference.plugin.model_status` for the key. A failed
    setup (e.g. ``cuda`` asked on a worker without CUDA) unregisters the plugin again and
    raises :class:`LstcloudError` with the worker's message.
    """
    try:
        known = bool(client.run_on_scheduler(_has_plugin, plugin.name))
    except Exception:  # an older scheduler without the attribute: just register
        known = False
    if known:
        states = client.run(model_status, plugin.key)
        wanted = plugin.settings
        if states and all(
            state and all(state.get(k) == v for k, v in wanted.items())
            for state in states.values()
        ):
            return states
    try:
        client.register_plugin(plugin)
    except Exception as exc:
        with contextlib.suppress(Exception):  # new workers must not retry a broken setup
            client.unregister_worker_plugin(plugin.name)
        raise LstcloudError(
            f"the model could not be loaded on the Dask workers: {type(exc).__name__}: "
            f"{redact_text(str(exc))}"
        ) from exc
    return client.run(model_status, plugin.key)


def model_fingerprint(model: Any, *, loaded: Any = None) -> str:
    """The content identity :func:`predict_cube` keys a model by: its weights AND its card.

    :func:`lstcloud.inference.identity.model_identity` of the loaded model's card (the weights'
    sha256 and every card field that changes what the model computes). ``loaded`` is ``model``
    already loaded (saves loading a named model once more).
    """
    local = loaded if loaded is not None else load_model_for(model, "cpu")
    return _ModelInfo.of(local, model).identity


def register_model(
    client: Any,
    model: Any,
    *,
    device: str | None = "auto",
    fingerprint: str | None = None,
    threads: int | None = None,
) -> tuple[ModelPlugin, dict[str, dict[str, Any]]]:
    """Load ``model`` once on every worker of ``client`` (reused when already there).

    This is how :func:`predict_cube` registers its model; call it first to warm a cluster up
    (same key: the prediction then finds the model loaded).

    Parameters
    ----------
    client
        A ``distributed.Client``.
    model
        Model name / folder, or a loaded SuperResolver.
    device
        ``auto`` (default), ``cpu`` or ``cuda``; each worker resolves it in the plugin's setup.
        Unless ``cpu``, when workers advertise the Dask resource ``GPU`` only they load the
        model (the tasks get pinned to them: see ``plugin.gpu_only``).
    fingerprint
        The model's identity (part of the key); default :func:`model_fingerprint`.
    threads
        Explicit torch threads per worker.

    Returns
    -------
    (ModelPlugin, dict)
        The plugin (``.key`` for the graph, ``.gpu_only``) and each worker's model status.
    """
    requested = check_device(device)
    if fingerprint is None:
        fingerprint = model_fingerprint(model)
    try:
        workers = client.run_on_scheduler(_worker_table)
    except Exception:  # pragma: no cover - schedulers without the attribute
        workers = {}
    hosts: dict[str, int] = {}
    for info in workers.values():
        hosts[str(info["host"])] = hosts.get(str(info["host"]), 0) + int(info["nthreads"])
    gpu = any(float(info["resources"].get("GPU", 0)) >= 1 for info in workers.values())
    plugin = ModelPlugin(
        model,
        device=requested,
        threads=threads,
        fingerprint=fingerprint,
        gpu_only=gpu and requested != "cpu",
        host_nthreads=hosts,
    )
    return plugin, _ensure_plugin(client, plugin)


def _devices(states: dict[str, dict[str, Any]]) -> dict[str, int]:
    out: dict[str, int] = {}
    for state in states.values():
        if state and state.get("device"):
            out[str(state["device"])] = out.get(str(state["device"]), 0) + 1
    return out


def input_states(
    cube_url: str,
    ds: xr.Dataset,
    days: list[dt.date],
    *,
    storage_options: dict[str, Any] | None = None,
) -> dict[dt.date, InputState]:
    """The ingest state of each of ``days`` (one listing per day of the ingest records).

    On an lstcloud input cube (group attribute ``lstcloud_tiles``) a day is ready when every
    tile has an ingest record in one of :data:`lstcloud.cube.status.DONE_STATES`; a failed
    tile, a tile without record (never ingested, or interrupted) or any other state keeps the
    day out (:func:`~lstcloud.inference.select.day_input_state`). Other Zarr stores carry no
    ingest records: every day on their time axis is ready (with an empty digest).
    """
    tiles_attr = ds.attrs.get("lstcloud_tiles")
    if not tiles_attr or not days:
        return {day: InputState(ready=True) for day in days}
    tiles = sorted(t.strip() for t in str(tiles_attr).split(",") if t.strip())
    records = read_status(cube_url, storage_options=storage_options, dates=days)
    where = redact_url(cube_url)
    return {day: day_input_state(day, tiles, records, where=where) for day in days}


def guide_missing_mask(
    ds: xr.Dataset, tiles: tuple[str, ...], chunks: tuple[tuple[int, ...], ...]
) -> da.Array:
    """(y, x) 1 km bool array, True over ``tiles`` (the day's ``lst_only`` tiles: no guide)."""
    from lstcloud.grid import CubeGrid

    names = [t.strip() for t in str(ds.attrs.get("lstcloud_tiles", "")).split(",")]
    grid = CubeGrid([t for t in names if t])
    mask = da.zeros(tuple(sum(c) for c in chunks), chunks=chunks, dtype=bool)
    for tile in tiles:
        sy, sx = grid.tile_slices(tile, "1km")
        mask[sy, sx] = True
    return mask


def _day_graph(
    ds: xr.Dataset,
    ti: int,
    *,
    key: str,
    plan: HaloPlan,
    targets: tuple[Any, ...],
    region: tuple[slice, slice, slice],
    product_chunks: tuple[int, int],
    resources: dict[str, float] | None = None,
    tiles_without_guide: tuple[str, ...] = (),
    layer_names: tuple[str, ...] = (),
) -> tuple[Any, int]:
    lst = ds["lst_day"].data[ti]
    ndvi = ds["ndvi"].data[ti]
    if not isinstance(lst, da.Array):
        lst, ndvi = da.asarray(lst), da.asarray(ndvi)
    guide = None
    if tiles_without_guide:  # lst_only tiles: interpolated, flagged guide_missing
        guide = guide_missing_mask(ds, tiles_without_guide, lst.chunks)
    # the product of an ensemble also holds its spread, a calibrated model its sigma
    layers = super_resolve(lst, ndvi, model_key=key, plan=plan, resources=resources,
                           spread=SPREAD_VAR in layer_names,
                           uncertainty=UNCERTAINTY_VAR in layer_names, guide_missing=guide)
    if UNCERTAINTY_VAR in layer_names:  # the last layer; stored rounded (it compresses 3x)
        layers = (*layers[:-1], quantize_uncertainty(layers[-1]))
    out = layers[0]
    want = tuple(
        tuple(min(c, n - o) for o in range(0, n, c))
        for c, n in zip(product_chunks, out.shape, strict=True)
    )
    if out.chunks != want:  # only when tiny chunks were merged for the halo: keep writes aligned
        layers = tuple(a.rechunk(want) for a in layers)
    stored = da.store(
        [a[None] for a in layers],
        list(targets),
        regions=[region] * len(layers),
        lock=False,
        compute=False,
        return_stored=False,
    )
    return stored, int(out.size)


def predict_cube(
    *,
    cube_url: str,
    model: Any,
    out_url: str,
    start: dt.date,
    end: dt.date,
    client: Any = None,
    scheduler: str | None = None,
    device: str | None = None,
    storage_options: dict[str, Any] | None = None,
    tile_1km: int = 320,
    batch_size: int = 2,
    overwrite: bool = False,
    retries: int = 2,
    worker_timeout: float | None = None,
) -> PredictSummary:
    """Super-resolve the days ``start..end`` of an input cube into a product cube.

    Parameters
    ----------
    cube_url
        Input cube (``lst_day`` at 1 km, ``ndvi`` at 250 m; see :mod:`lstcloud.cube`).
    model
        Model name or folder for :func:`lstcloud.load_model`, or a loaded SuperResolver.
    out_url
        Product cube (created or extended; local folder or ``s3://``).
    start, end
        First and last day (inclusive).
    client
        A ``distributed.Client``; otherwise ``scheduler`` (address) or a local cluster of
        worker processes is used and closed afterwards.
    device
        ``"auto"`` (or ``None``, the default): every worker uses CUDA when it sees a GPU (or
        its ``LSTCLOUD_DEVICE``), else its CPU; ``"cpu"`` / ``"cuda"`` force it on every
        worker (``cuda`` on a worker without CUDA fails with the worker's message). Decided
        on the workers, never in this process.
    storage_options
        fsspec options for both cubes (S3 endpoint, credentials).
    tile_1km, batch_size
        Model tile core (1 km pixels) and tiles per model call.
    overwrite
        Recompute days already marked complete. Without it a complete day is recomputed only
        when its input changed since (the ingest records' digest in its marker differs: a tile
        without granule got one, a tile was re-ingested).
    retries
        Task retries for transient storage errors (worker loss is retried by the scheduler).
    worker_timeout
        Seconds to wait with no Dask worker connected before giving up
        (:func:`lstcloud.cluster.as_completed_with_workers`; default
        ``LSTCLOUD_WORKER_TIMEOUT`` or 120 s).

    Returns
    -------
    PredictSummary
        Days whose input is not whole (a tile failed or was never ingested) are in
        ``incomplete``, not predicted.
    """
    t0 = time.perf_counter()
    requested = check_device(device)
    info = _ModelInfo.load(model)
    ds = open_input_cube(cube_url, storage_options=storage_options)
    grid = _input_grid(ds, cube_url)
    cube_days = {np.datetime64(t, "D"): i for i, t in enumerate(ds["time"].values)}
    present = [d for d in day_range(start, end) if np.datetime64(d, "D") in cube_days]
    missing = [
        (d, f"not on the time axis of input cube {redact_url(cube_url)}")
        for d in day_range(start, end)
        if np.datetime64(d, "D") not in cube_days
    ]
    product = ProductCube(out_url, storage_options=storage_options)
    done = product.complete_days() if present else {}
    inputs = input_states(cube_url, ds, present, storage_options=storage_options)
    chosen = select_days(done, inputs, overwrite)
    for day in chosen.changed:
        log.info("predicting %s again: its input changed since it was predicted", day)
    for day, reason in chosen.unready:
        log.warning("not predicting %s: %s", day, reason)
    summary = PredictSummary(
        product_url=redact_url(out_url),
        model=f"{info.name} (sha256 {info.sha256[:12]})",
        skipped=chosen.skipped,
        missing=tuple(missing),
        incomplete=chosen.unready,
    )
    if not chosen.skipped and not chosen.todo:
        return replace(summary, seconds=time.perf_counter() - t0)
    job = _PredictJob(
        ds=ds,
        cube_url=cube_url,
        cube_days=cube_days,
        product=product,
        grid=grid,
        info=info,
        plan=_plan(info, tile_1km=tile_1km, batch_size=batch_size,
                   guide_free=any(inputs[d].lst_only for d in chosen.todo)),
        inputs=inputs,
        retries=retries,
        worker_timeout=worker_timeout,
    )
    with contextlib.ExitStack() as stack:
        cl = stack.enter_context(_client_for(client, scheduler)) if chosen.todo else None
        ran = job.run(cl, model, chosen, done, device=requested)
    errors = _publish_complete_days(product)
    return replace(
        summary,
        written=tuple(sorted(ran.written)),
        missing=tuple(sorted([*missing, *ran.failed])),
        devices=ran.devices,
        pixels_250m=ran.pixels,
        halo_share=ran.halo_share,
        seconds=time.perf_counter() - t0,
        errors=errors,
        without_guide=tuple((d, inputs[d].lst_only) for d in sorted(ran.written)
                            if inputs[d].lst_only),
    )


def _plan(info: _ModelInfo, *, tile_1km: int, batch_size: int, guide_free: bool) -> HaloPlan:
    """The halo plan of the model; with ``guide_free`` (a day to predict has ``lst_only``
    tiles) deep enough for the guide-free path too, so that it is chunk-local as well."""
    return plan_halo(
        info.halo_px,
        align_1km=max(1, info.alignment_px // 4),
        tile_1km=tile_1km,
        batch_size=batch_size,
        min_context_1km=reach_1km() if guide_free else 0,
    )


def _publish_complete_days(product: ProductCube) -> tuple[str, ...]:
    """Mirror the day markers into the product's ``complete_days`` attribute; the errors.

    The markers are the truth; the attribute only mirrors them for readers, and the summary
    must survive a store that died meanwhile.
    """
    try:
        product.publish_complete_days()
    except Exception as exc:
        reason = redact_text(f"{type(exc).__name__}: {exc}")
        log.error("could not update the complete_days attribute: %s", reason)
        return (f"the complete_days attribute of the product was not updated: {reason}",)
    return ()


@dataclass(frozen=True)
class _ModelInfo:
    """What prediction needs to know of a model, from its card read once."""

    loaded: Any
    name: str
    sha256: str
    identity: str
    card: dict[str, Any]
    receptive_field_px: int
    alignment_px: int

    @property
    def halo_px(self) -> int:
        """The halo of the model tasks: the receptive field, widened to the reach of the
        calibrated sigma when the product holds one."""
        if not self.card.get("uncertainty"):
            return self.receptive_field_px
        return max(self.receptive_field_px, int(getattr(self.loaded, "uncertainty_halo_px", 0)))

    @classmethod
    def load(cls, model: Any) -> _ModelInfo:
        """Load ``model`` on the CPU of this process and read its card."""
        return cls.of(load_model_for(model, "cpu"), model)

    @classmethod
    def of(cls, local: Any, model: Any) -> _ModelInfo:
        """The info of ``local``, the loaded form of ``model``."""
        card = dict(getattr(local, "card", {}) or {})
        fallback = model if isinstance(model, str) else "?"
        name = str(card.get("name", getattr(local, "name", fallback)))
        return cls(
            loaded=local,
            name=name,
            sha256=str(card.get("sha256") or f"none:{name}"),
            # the product's identity of the model: its weights AND its card (halo, ...)
            identity=model_identity(card, name=name),
            card=card,
            receptive_field_px=int(
                card.get("receptive_field_px", getattr(local, "receptive_field_px", 0))
            ),
            alignment_px=int(card.get("alignment_px") or getattr(local, "size_multiple", 8) or 8),
        )


@dataclass
class _Ran:
    """What the execution of a prediction did."""

    written: list[dt.date] = field(default_factory=list)
    failed: list[tuple[dt.date, str]] = field(default_factory=list)
    devices: dict[str, int] = field(default_factory=dict)
    pixels: int = 0
    halo_share: float = 0.0


@dataclass(frozen=True)
class _PredictJob:
    """The executor of :func:`predict_cube`: one input, one product, one model, one plan."""

    ds: xr.Dataset
    cube_url: str
    cube_days: dict[Any, int]
    product: ProductCube
    grid: ProductGrid
    info: _ModelInfo
    plan: HaloPlan
    inputs: dict[dt.date, InputState]
    retries: int
    worker_timeout: float | None
    adapted: dict[dt.date, dict[str, Any]] = field(default_factory=dict)

    def run(
        self,
        client: Any,
        model: Any,
        chosen: DaySelection,
        done: dict[dt.date, dict[str, Any]],
        *,
        device: str,
    ) -> _Ran:
        """Register the model, prepare the product, compute ``chosen.todo``, mark each day."""
        ran = _Ran()
        plugin = None
        if client is not None:  # the model first: a worker refusing it leaves the product as is
            plugin, states = register_model(
                client,
                model if isinstance(model, str) else self.info.loaded,
                device=device,
                fingerprint=self.info.identity,  # another card, same weights: another model
            )
            ran.devices = _devices(states)
        # the product's daily axis starts with the input cube's, so any later backfill fits
        first_cube_day = min(self.cube_days).astype("datetime64[D]").astype(dt.date)
        self.product.ensure(
            grid=self.grid,
            dates=[first_cube_day, *chosen.skipped, *chosen.todo],
            provenance=Provenance(
                model_name=self.info.name,
                model_sha256=self.info.sha256,
                receptive_field_px=self.info.receptive_field_px,
                input_cube=redact_url(self.cube_url),
                model_identity=self.info.identity,
                model_card=behaviour_fields(self.info.card),
            ),
        )
        for day in chosen.todo:
            if day in done:  # redone: the day stops looking complete before it is rewritten
                self.product.withdraw(day)
        aligned = align_inputs(self.ds["lst_day"].data[0], self.ds["ndvi"].data[0], self.plan)[0]
        ran.halo_share = halo_share(aligned.chunks, self.plan)
        if client is not None and plugin is not None:
            self._compute(client, plugin, chosen.todo, ran, device=device)
        return ran

    def _day_key(self, client: Any, plugin: ModelPlugin, day: dt.date, device: str) -> str:
        """The model key of ``day``: the registered model, or (a model with a test-time
        adaptation) the model adapted to crops of that day, registered on the workers."""
        ti = self.cube_days[np.datetime64(day, "D")]
        adapted = adapt_for_day(self.info.loaded, self.ds, ti)
        if adapted is self.info.loaded:
            return plugin.key
        card = adapted.card
        day_plugin, _ = register_model(client, adapted, device=device,
                                       fingerprint=model_identity(card, name=self.info.name))
        self.adapted[day] = next((m.card["adapted"] for m in adapted.members
                                  if "adapted" in m.card), {})
        return day_plugin.key

    def _compute(
        self,
        client: Any,
        plugin: ModelPlugin,
        todo: tuple[dt.date, ...],
        ran: _Ran,
        *,
        device: str,
    ) -> None:
        resources = {"GPU": 1} if plugin.gpu_only else None
        targets = self.product.arrays()
        keys = {day: self._day_key(client, plugin, day, device) for day in todo}
        graphs = {
            day: _day_graph(
                self.ds,
                self.cube_days[np.datetime64(day, "D")],
                key=keys[day],
                plan=self.plan,
                targets=targets,
                region=self.product.region(day),
                product_chunks=self.grid.chunks,
                resources=resources,
                tiles_without_guide=self.inputs[day].lst_only,
                layer_names=self.product.layer_names(),
            )
            for day in todo
        }
        # low-level task fusion drops layer annotations: keep it off when pinning the model
        # tasks, so they (and only they) land on the GPU workers
        unfused = {"optimization.fuse.active": False} if resources else {}
        with dask.config.set(unfused):
            futures = client.compute([g for g, _ in graphs.values()], retries=self.retries)
        by_future = dict(zip(futures, graphs, strict=True))
        try:
            for fut in as_completed_with_workers(
                client, futures, timeout=self.worker_timeout, what="day predictions"
            ):
                day = by_future[fut]
                try:
                    fut.result()
                except Exception as exc:  # reported per day, the other days go on
                    reason = redact_text(f"{type(exc).__name__}: {exc}")
                    log.error("predicting %s failed: %s", day, reason)
                    ran.failed.append((day, f"prediction failed: {reason}"))
                    continue
                try:
                    self.product.mark_complete(day, self._marker(day, ran.devices))
                except Exception as exc:  # the data may be whole, but the day is not marked
                    reason = redact_text(f"{type(exc).__name__}: {exc}")
                    log.error("could not mark %s complete: %s", day, reason)
                    ran.failed.append((day, f"completion marker not written: {reason}"))
                    continue
                ran.written.append(day)
                ran.pixels += graphs[day][1]
        finally:
            # release the results now, not when a garbage collection breaks their reference
            # cycles: the input's dask keys are named by its store, not its shape, so a later
            # run over the same (extended) cube must not find this run's keys still held
            for fut in futures:
                fut.release()

    def _guide_share(self, day: dt.date) -> float:
        """Share of the cube's tiles whose 250 m guide was missing that day."""
        tiles = [t for t in str(self.ds.attrs.get("lstcloud_tiles", "")).split(",") if t.strip()]
        return round(len(self.inputs[day].lst_only) / len(tiles), 4) if tiles else 0.0

    def _marker(self, day: dt.date, devices: dict[str, int]) -> dict[str, Any]:
        return {
            "model_name": self.info.name,
            "model_sha256": self.info.sha256,
            "receptive_field_px": self.info.receptive_field_px,
            "input_cube": redact_url(self.cube_url),
            "variable": LST_VAR,
            "halo_depth_1km": self.plan.depth_1km,
            "devices": devices,
            "input_status": self.inputs[day].digest,
            "tiles_without_input": list(self.inputs[day].no_input),
            "tiles_without_guide": list(self.inputs[day].lst_only),
            "guide_missing_share": self._guide_share(day),
            "adaptation": self.adapted.get(day),
        }
