"""``predict_cube``: super-resolve days of the input cube into the product cube, on Dask.

For every requested day the 1 km ``lst_day`` and the 250 m ``ndvi`` of the input cube are
mapped through the model with a halo (:mod:`lstcloud.inference.halo`), the 250 m LST and its
quality flags are stored into the product with region writes of whole chunks, and only then is
the day's completion marker written. Days already complete are skipped; a failed day leaves no
marker and is redone by the next run. Worker loss is absorbed by the scheduler (tasks are pure
and writes idempotent), so a disturbed run ends with the same product as an undisturbed one.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import dask.array as da
import numpy as np
import xarray as xr

from lstcloud.errors import CubeError, LstcloudError, redact_url
from lstcloud.inference.halo import HaloPlan, align_inputs, halo_share, plan_halo, super_resolve
from lstcloud.inference.plugin import ModelPlugin, default_device, load_model_for
from lstcloud.product import (
    LST_VAR,
    ProductGrid,
    Provenance,
    complete_days,
    create_product,
    open_product_arrays,
    publish_complete_days,
    remove_day_marker,
    time_index,
    write_day_marker,
)

__all__ = ["PredictSummary", "open_input_cube", "predict_cube"]

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
    pixels_250m
        250 m output pixels written.
    halo_share
        Share of the pixels run through the model that were halo (context), not output.
    seconds
        Wall-clock time.
    """

    product_url: str
    model: str
    written: tuple[dt.date, ...] = ()
    skipped: tuple[dt.date, ...] = ()
    missing: tuple[tuple[dt.date, str], ...] = field(default_factory=tuple)
    pixels_250m: int = 0
    halo_share: float = 0.0
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        """True when no day failed or was missing."""
        return not self.missing

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
        for day, reason in self.missing:
            lines.append(f"missing   {day}: {reason}")
        return "\n".join(lines)


def open_input_cube(url: str, *, storage_options: dict[str, Any] | None = None) -> xr.Dataset:
    """Open the input cube lazily.

    An lstcloud input cube (group attribute ``lstcloud_format_version``) is opened with
    :func:`lstcloud.cube.open_cube` (layout checked); any other Zarr store holding the same
    variables (``lst_day`` (time, y_1km, x_1km), ``ndvi`` (time, y_250m, x_250m), the
    coordinates and a ``spatial_ref`` grid mapping) is opened with xarray.
    """
    import zarr

    from lstcloud.product import _zarr_store

    store = _zarr_store(url, storage_options)
    try:
        group = zarr.open_group(store, mode="r", use_consolidated=False)
    except (FileNotFoundError, zarr.errors.NodeNotFoundError) as exc:
        raise CubeError(f"no input cube at {redact_url(url)}") from exc
    if "lstcloud_format_version" in group.attrs:
        from lstcloud.cube import open_cube

        return open_cube(url, storage_options=storage_options)
    return xr.open_zarr(store, consolidated=False, decode_coords="all", chunks={})


def _input_grid(ds: xr.Dataset, url: str) -> ProductGrid:
    for name in ("lst_day", "ndvi", "y_250m", "x_250m", "time"):
        if name not in ds.variables:
            raise CubeError(f"input cube {redact_url(url)} has no {name!r}")
    crs_wkt = None
    for ref in ("spatial_ref_250m", "spatial_ref"):
        if ref in ds.variables and not crs_wkt:
            crs_wkt = ds[ref].attrs.get("crs_wkt") or ds[ref].attrs.get("spatial_ref")
    if not crs_wkt:
        try:
            from lstcloud.grid import SINUSOIDAL_WKT
        except ImportError as exc:
            raise CubeError(f"input cube {redact_url(url)} has no spatial_ref crs_wkt") from exc
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
    try:
        from lstcloud.cluster import client_context
    except ImportError:
        client_context = None
    if client_context is not None:
        with client_context(scheduler=scheduler) as started:
            yield started
        return
    from distributed import Client, LocalCluster

    if scheduler:
        with Client(scheduler) as started:
            yield started
        return
    with (
        LocalCluster(processes=True, threads_per_worker=1, dashboard_address=None) as cluster,
        Client(cluster) as started,
    ):
        yield started


def _has_plugin(name: str, dask_scheduler: Any = None) -> bool:
    return name in getattr(dask_scheduler, "worker_plugins", {})


def _ensure_plugin(client: Any, plugin: ModelPlugin) -> None:
    """Register ``plugin`` unless the cluster already loads the same model (same key)."""
    try:
        known = bool(client.run_on_scheduler(_has_plugin, plugin.name))
    except Exception:  # an older scheduler without the attribute: just register
        known = False
    if not known:
        client.register_plugin(plugin)


_URL = re.compile(r"[a-z][a-z0-9+.-]*://[^\s'\"<>]+", re.IGNORECASE)


def _redact_text(text: str) -> str:
    """``text`` with every URL in it passed through :func:`redact_url`."""
    return _URL.sub(lambda m: redact_url(m.group(0)), text)


def _daterange(start: dt.date, end: dt.date) -> list[dt.date]:
    if end < start:
        raise LstcloudError(f"end {end} is before start {start}")
    return [start + dt.timedelta(days=i) for i in range((end - start).days + 1)]


def _day_graph(
    ds: xr.Dataset,
    ti: int,
    *,
    key: str,
    plan: HaloPlan,
    targets: tuple[Any, Any],
    pi: int,
    product_chunks: tuple[int, int],
) -> tuple[Any, int]:
    lst = ds["lst_day"].data[ti]
    ndvi = ds["ndvi"].data[ti]
    if not isinstance(lst, da.Array):
        lst, ndvi = da.asarray(lst), da.asarray(ndvi)
    out, quality = super_resolve(lst, ndvi, model_key=key, plan=plan)
    want = tuple(
        tuple(min(c, n - o) for o in range(0, n, c))
        for c, n in zip(product_chunks, out.shape, strict=True)
    )
    if out.chunks != want:  # only when tiny chunks were merged for the halo: keep writes aligned
        out, quality = out.rechunk(want), quality.rechunk(want)
    region = (slice(pi, pi + 1), slice(None), slice(None))
    stored = da.store(
        [out[None], quality[None]],
        list(targets),
        regions=[region, region],
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
        ``"cpu"`` or ``"cuda"``; default CUDA when visible on this machine, else CPU.
    storage_options
        fsspec options for both cubes (S3 endpoint, credentials).
    tile_1km, batch_size
        Model tile core (1 km pixels) and tiles per model call.
    overwrite
        Recompute days already marked complete.
    retries
        Task retries for transient storage errors (worker loss is retried by the scheduler).

    Returns
    -------
    PredictSummary
    """
    t0 = time.perf_counter()
    device = device or default_device()
    if device not in ("cpu", "cuda"):
        raise LstcloudError(f"device must be 'cpu' or 'cuda', got {device!r}")
    local = load_model_for(model, "cpu")
    card = dict(getattr(local, "card", {}) or {})
    rf = int(card.get("receptive_field_px", getattr(local, "receptive_field_px", 0)))
    name = str(card.get("name", getattr(local, "name", model if isinstance(model, str) else "?")))
    sha = str(card.get("sha256") or f"none:{name}")
    multiple = int(card.get("alignment_px") or getattr(local, "size_multiple", 8) or 8)
    plan = plan_halo(rf, align_1km=max(1, multiple // 4), tile_1km=tile_1km, batch_size=batch_size)

    ds = open_input_cube(cube_url, storage_options=storage_options)
    grid = _input_grid(ds, cube_url)
    cube_days = {np.datetime64(t, "D"): i for i, t in enumerate(ds["time"].values)}
    requested = _daterange(start, end)
    missing: list[tuple[dt.date, str]] = []
    present = []
    for day in requested:
        if np.datetime64(day, "D") in cube_days:
            present.append(day)
        else:
            missing.append((day, f"not on the time axis of input cube {redact_url(cube_url)}"))
    summary_model = f"{name} (sha256 {sha[:12]})"
    if not present:
        return PredictSummary(
            product_url=redact_url(out_url),
            model=summary_model,
            missing=tuple(missing),
            seconds=time.perf_counter() - t0,
        )
    provenance = Provenance(
        model_name=name, model_sha256=sha, receptive_field_px=rf, input_cube=redact_url(cube_url)
    )
    # the product's daily axis starts with the input cube's, so any later backfill fits
    first_cube_day = min(cube_days).astype("datetime64[D]").astype(dt.date)
    create_product(
        out_url,
        grid=grid,
        dates=[first_cube_day, *present],
        provenance=provenance,
        storage_options=storage_options,
    )
    done = complete_days(out_url, storage_options=storage_options)
    skipped = [d for d in present if d in done and not overwrite]
    todo = [d for d in present if d not in skipped]
    for day in todo:
        if day in done:  # --overwrite: the day stops looking complete before it is rewritten
            remove_day_marker(out_url, day, storage_options=storage_options)
    targets = open_product_arrays(out_url, storage_options=storage_options)
    aligned = align_inputs(ds["lst_day"].data[0], ds["ndvi"].data[0], plan)[0]
    share = halo_share(aligned.chunks, plan)

    written: list[dt.date] = []
    pixels = 0
    if todo:
        with _client_for(client, scheduler) as cl:
            plugin = ModelPlugin(
                model if isinstance(model, str) else local, device=device, fingerprint=sha
            )
            _ensure_plugin(cl, plugin)
            graphs = {}
            for day in todo:
                stored, n = _day_graph(
                    ds,
                    cube_days[np.datetime64(day, "D")],
                    key=plugin.key,
                    plan=plan,
                    targets=targets,
                    pi=time_index(out_url, day, storage_options=storage_options),
                    product_chunks=grid.chunks,
                )
                graphs[day] = (stored, n)
            futures = cl.compute([g for g, _ in graphs.values()], retries=retries)
            by_future = dict(zip(futures, graphs, strict=True))
            from distributed import as_completed

            for fut in as_completed(futures, loop=cl.loop):
                day = by_future[fut]
                try:
                    fut.result()
                except Exception as exc:  # reported per day, the other days go on
                    reason = _redact_text(f"{type(exc).__name__}: {exc}")
                    log.error("predicting %s failed: %s", day, reason)
                    missing.append((day, f"prediction failed: {reason}"))
                    continue
                write_day_marker(
                    out_url,
                    day,
                    storage_options=storage_options,
                    info={
                        "model_name": name,
                        "model_sha256": sha,
                        "receptive_field_px": rf,
                        "input_cube": redact_url(cube_url),
                        "variable": LST_VAR,
                        "halo_depth_1km": plan.depth_1km,
                    },
                )
                written.append(day)
                pixels += graphs[day][1]
    publish_complete_days(out_url, storage_options=storage_options)
    return PredictSummary(
        product_url=redact_url(out_url),
        model=summary_model,
        written=tuple(sorted(written)),
        skipped=tuple(skipped),
        missing=tuple(sorted(missing)),
        pixels_250m=pixels,
        halo_share=share,
        seconds=time.perf_counter() - t0,
    )
