"""Seam-free chunked super-resolution: ``dask.array.map_overlap`` with a model-sized halo.

The 1 km LST and the 250 m NDVI are mapped together, block by block. Each block arrives with a
halo of ``D`` whole 1 km pixels (``4 D`` at 250 m, so both stay aligned); on the sides that are
the edge of the whole array the block is padded to the same ``D`` by replication, so every block
looks exactly like the same window cut from the (padded) whole array. Pixels whose receptive
field reaches past the array edge are flagged ``region_edge`` in the quality layer.

Inside a block the core is cut into equal tiles, each with ``C`` pixels of context
(``C >= ceil(rf / 4) + margin``), whose origins sit on a global grid of ``align`` 1 km pixels
(the network's pooling factor), and the tiles are run through the model in batches. The output
therefore does not depend on the chunking: each 250 m pixel sees the same inputs, at the same
pooling phase, whatever the chunks (tested to 1e-4 K).

The model is never in the graph: tasks look it up by key in the worker's registry
(:mod:`lstcloud.inference.plugin`).
"""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass
from typing import Any

import dask
import dask.array as da
import numpy as np

from lstcloud.errors import CubeError
from lstcloud.inference.guide_free import guide_free_250m
from lstcloud.inference.plugin import get_model
from lstcloud.inference.precision import autocast
from lstcloud.inference.quality import NEAR_PX, QualityFlag, quality_flags, region_edge_mask

__all__ = [
    "HaloPlan",
    "edge_radius",
    "ensure_min_chunks",
    "plan_halo",
    "predict_tiles",
    "super_resolve",
    "tile_starts",
]


@dataclass(frozen=True)
class HaloPlan:
    """How a model is mapped over chunks.

    Attributes
    ----------
    receptive_field_px
        The model's receptive-field radius in 250 m pixels (from its card).
    context_1km
        Context kept around each tile's core, in 1 km pixels (a multiple of ``align_1km``).
    align_1km
        Tile origins lie on multiples of this many 1 km pixels in the global frame
        (the network's size multiple / 4; 2 for the 8x-pooling SIF-CNN U-Net).
    depth_1km
        ``map_overlap`` depth at 1 km: ``context_1km + align_1km - 1``.
    tile_1km
        Largest tile core, in 1 km pixels.
    batch_size
        Tiles per model call.
    """

    receptive_field_px: int
    context_1km: int
    align_1km: int
    depth_1km: int
    tile_1km: int
    batch_size: int

    @property
    def depth_250m(self) -> int:
        """``map_overlap`` depth at 250 m: exactly four times the 1 km depth."""
        return 4 * self.depth_1km


def plan_halo(
    receptive_field_px: int,
    *,
    margin_1km: int = 2,
    align_1km: int = 2,
    tile_1km: int = 320,
    batch_size: int = 2,
    min_context_1km: int = 0,
) -> HaloPlan:
    """Plan the halo for a model with ``receptive_field_px`` (250 m pixels).

    Parameters
    ----------
    receptive_field_px
        Halo radius in 250 m pixels (``card["receptive_field_px"]``); 0 for pointwise models.
    margin_1km
        Extra whole 1 km pixels of context (the 1 km -> 250 m upsampling support).
    align_1km
        Global tile-origin alignment in 1 km pixels (pooling phase of the network).
    tile_1km
        Largest tile core in 1 km pixels (memory per model call grows with its square).
    batch_size
        Tiles per model call.
    min_context_1km
        Least context (1 km pixels), e.g. the guide-free path's reach
        (:func:`lstcloud.inference.guide_free.reach_1km`).
    """
    if receptive_field_px < 0:
        raise ValueError(f"receptive_field_px must be >= 0, got {receptive_field_px}")
    if align_1km < 1 or tile_1km < align_1km or batch_size < 1:
        raise ValueError("align_1km >= 1, tile_1km >= align_1km and batch_size >= 1 required")
    context = max(math.ceil(receptive_field_px / 4) + max(0, margin_1km), min_context_1km)
    context = -(-context // align_1km) * align_1km
    return HaloPlan(
        receptive_field_px=int(receptive_field_px),
        context_1km=context,
        align_1km=align_1km,
        depth_1km=context + align_1km - 1,
        tile_1km=tile_1km,
        batch_size=batch_size,
    )


def tile_starts(start: int, stop: int, *, tile: int, align: int) -> tuple[list[int], int]:
    """Aligned tile origins covering the core ``[start, stop)`` (global 1 km coordinates).

    Returns ``(starts, size)``: equal tiles ``[s, s + size)`` whose union covers the core, every
    ``s`` a multiple of ``align``, every tile within ``align - 1`` pixels of the core.
    """
    if stop <= start:
        return [], 0
    first = (start // align) * align
    span = stop - first
    ntiles = -(-span // tile)
    size = -(-span // ntiles)
    size = -(-size // align) * align
    starts = [first + k * size for k in range(ntiles)]
    last = max(first, -(-(stop - size) // align) * align)
    starts[-1] = min(starts[-1], last)
    return starts, size


def ensure_min_chunks(chunks: tuple[int, ...], minimum: int) -> tuple[int, ...]:
    """Merge chunks smaller than ``minimum`` with a neighbour (1 km chunks along one axis)."""
    out = list(chunks)
    if sum(out) < minimum:
        raise CubeError(f"array of {sum(out)} px is smaller than the halo depth {minimum} px")
    i = 0
    while i < len(out):
        if out[i] < minimum and len(out) > 1:
            j = i - 1 if i == len(out) - 1 else i + 1
            lo, hi = min(i, j), max(i, j)
            out[lo : hi + 1] = [out[lo] + out[hi]]
            i = max(0, lo - 1)
        else:
            i += 1
    return tuple(out)


def _pad_edges(block: np.ndarray, pads: tuple[tuple[int, int], tuple[int, int]]) -> np.ndarray:
    """Pad the array-edge sides of a block by replication."""
    if not any(p for side in pads for p in side):
        return block
    return np.pad(block, pads, mode="edge")


def predict_tiles(
    model: Any,
    lst: np.ndarray,
    ndvi: np.ndarray,
    *,
    core_1km: tuple[slice, slice],
    origin_1km: tuple[int, int],
    plan: HaloPlan,
    spread: bool = False,
    uncertainty: bool = False,
) -> np.ndarray:
    """Predict the core of a padded window, tile by tile, in batches.

    Parameters
    ----------
    model
        A SuperResolver (``predict_tensor`` preferred, ``predict`` as fallback).
    lst, ndvi
        The window: (H, W) 1 km LST (K) and (4H, 4W) NDVI, covering at least ``depth_1km``
        pixels beyond the core on every side.
    core_1km
        Slices of the core inside ``lst``.
    origin_1km
        Global 1 km coordinates of ``lst[0, 0]`` (tile alignment is global).
    plan
        The halo plan.

    spread
        Also the model's spread (``predict_tensor_with_spread``, an ensemble's passes).
    uncertainty
        Also the model's calibrated sigma (``sigma_of``: the card's ``uncertainty``), computed
        per tile from its inputs and prediction (the plan's context covers its reach).

    Returns
    -------
    numpy.ndarray
        (4 h_core, 4 w_core) float32 LST in K, NaN where the covering 1 km LST is NaN; with
        ``spread`` and / or ``uncertainty``, (1 + n, 4 h_core, 4 w_core): the LST, then its
        spread, then its sigma (K).
    """
    sy, sx = core_1km
    oy, ox = origin_1km
    h, w = sy.stop - sy.start, sx.stop - sx.start
    n_out = 1 + int(spread) + int(uncertainty)
    out = np.full((n_out, 4 * h, 4 * w), np.nan, dtype=np.float32)
    core_lst = lst[sy, sx]
    if not np.isfinite(core_lst).any():
        return out if n_out > 1 else out[0]
    c = plan.context_1km
    ys, ty = tile_starts(oy + sy.start, oy + sy.stop, tile=plan.tile_1km, align=plan.align_1km)
    xs, tx = tile_starts(ox + sx.start, ox + sx.stop, tile=plan.tile_1km, align=plan.align_1km)
    jobs: list[tuple[int, int]] = []
    for gy in ys:
        for gx in xs:
            ly, lx = gy - oy, gx - ox  # local 1 km origin of the tile core
            if np.isfinite(lst[max(ly, sy.start) : ly + ty, max(lx, sx.start) : lx + tx]).any():
                jobs.append((ly, lx))
    for i in range(0, len(jobs), plan.batch_size):
        batch = jobs[i : i + plan.batch_size]
        lst_b = np.stack([lst[ly - c : ly + ty + c, lx - c : lx + tx + c] for ly, lx in batch])
        ndvi_b = np.stack(
            [
                ndvi[4 * (ly - c) : 4 * (ly + ty + c), 4 * (lx - c) : 4 * (lx + tx + c)]
                for ly, lx in batch
            ]
        )
        pred = _run_model(model, lst_b, ndvi_b, spread=spread)  # (N, 1 or 2, H, W)
        if uncertainty:
            sigma = [model.sigma_of(a, b, p[0]) for a, b, p in zip(lst_b, ndvi_b, pred,
                                                                   strict=True)]
            pred = np.concatenate([pred, np.stack(sigma)[:, None]], axis=1)
        for (ly, lx), tile in zip(batch, pred, strict=True):
            core = tile[:, 4 * c : 4 * (c + ty), 4 * c : 4 * (c + tx)]
            # intersect the tile core [ly, ly+ty) with the block core [sy.start, sy.stop)
            y0, y1 = max(ly, sy.start), min(ly + ty, sy.stop)
            x0, x1 = max(lx, sx.start), min(lx + tx, sx.stop)
            dst = (
                slice(4 * (y0 - sy.start), 4 * (y1 - sy.start)),
                slice(4 * (x0 - sx.start), 4 * (x1 - sx.start)),
            )
            out[(slice(None), *dst)] = core[:, 4 * (y0 - ly) : 4 * (y1 - ly),
                                            4 * (x0 - lx) : 4 * (x1 - lx)]
    missing = ~np.isfinite(core_lst)
    out[:, np.repeat(np.repeat(missing, 4, axis=0), 4, axis=1)] = np.nan
    return out if n_out > 1 else out[0]


def _run_model(
    model: Any, lst_b: np.ndarray, ndvi_b: np.ndarray, *, spread: bool = False
) -> np.ndarray:
    """Run one batch (N, h, w) / (N, 4h, 4w) through the model; returns (N, 1, 4h, 4w)
    float32, or (N, 2, 4h, 4w) with ``spread`` (the LST and the spread of the passes)."""
    predict_tensor = getattr(model, "predict_tensor", None)
    if predict_tensor is None and not spread:
        pairs = zip(lst_b, ndvi_b, strict=True)
        return np.stack([np.asarray(model.predict(a, b), dtype=np.float32)[None]
                         for a, b in pairs])
    import torch

    device = getattr(model, "device", None) or "cpu"
    with torch.inference_mode(), autocast(device):
        lt = torch.from_numpy(np.ascontiguousarray(lst_b, dtype=np.float32))[:, None].to(device)
        nt = torch.from_numpy(np.ascontiguousarray(ndvi_b, dtype=np.float32))[:, None].to(device)
        if spread:
            mean, sd = model.predict_tensor_with_spread(lt, nt)
            res = torch.cat([mean, sd], dim=1)
        else:
            res = predict_tensor(lt, nt)
        return res.detach().to("cpu", torch.float32).numpy()


def _block_window(
    lst: np.ndarray,
    ndvi: np.ndarray,
    block_info: dict,
    plan: HaloPlan,
    guide_missing: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, tuple[slice, slice], tuple[int, int], np.ndarray | None]:
    """Pad a map_overlap block to the full depth on array-edge sides; locate its core.

    ``guide_missing`` (1 km, like ``lst``) is padded the same way; returned last (or None)."""
    info = block_info[None]  # the output's (its leading axis, if any, is the spread's)
    (y0, y1), (x0, x1) = info["array-location"][-2:]
    ny, nx = info["shape"][-2:]
    y0, y1, x0, x1, ny, nx = (v // 4 for v in (y0, y1, x0, x1, ny, nx))
    d = plan.depth_1km
    pad_top = d if y0 == 0 else 0
    pad_bottom = d if y1 == ny else 0
    pad_left = d if x0 == 0 else 0
    pad_right = d if x1 == nx else 0
    pads = ((pad_top, pad_bottom), (pad_left, pad_right))
    lst = _pad_edges(lst, pads)
    ndvi = _pad_edges(ndvi, ((4 * pad_top, 4 * pad_bottom), (4 * pad_left, 4 * pad_right)))
    if guide_missing is not None:
        guide_missing = _pad_edges(np.asarray(guide_missing, dtype=bool), pads)
    if lst.shape != (y1 - y0 + 2 * d, x1 - x0 + 2 * d) or ndvi.shape != tuple(
        4 * s for s in lst.shape
    ):
        raise CubeError(
            f"block at 1 km rows {y0}:{y1}, cols {x0}:{x1} has shapes {lst.shape}/{ndvi.shape}: "
            "the 1 km and 250 m chunks are not aligned"
        )
    core = (slice(d, d + y1 - y0), slice(d, d + x1 - x0))
    return lst, ndvi, core, (y0 - d, x0 - d), guide_missing


def _predict_block(
    lst: np.ndarray, ndvi: np.ndarray, *guide: np.ndarray, model_key: str, plan: HaloPlan,
    block_info: dict, spread: bool = False, uncertainty: bool = False,
) -> np.ndarray:
    lst, ndvi, core, origin, missing = _block_window(
        lst, ndvi, block_info, plan, guide[0] if guide else None
    )
    layers = {"spread": spread, "uncertainty": uncertainty}
    if missing is None or not missing.any():
        model = get_model(model_key)
        return predict_tiles(model, lst, ndvi, core_1km=core, origin_1km=origin, plan=plan,
                             **layers)
    # no guide there: the model sees no LST (as for a cloud), the interpolation fills it in
    guided_lst = np.where(missing, np.float32(np.nan), lst)
    n_out = 1 + int(spread) + int(uncertainty)
    if np.isfinite(guided_lst[core]).any():
        out = predict_tiles(get_model(model_key), guided_lst, ndvi, core_1km=core,
                            origin_1km=origin, plan=plan, **layers)
    else:
        size = tuple(4 * (c.stop - c.start) for c in core)
        out = np.full((n_out, *size) if n_out > 1 else size, np.nan, dtype=np.float32)
    interpolated = guide_free_250m(lst)[4 * core[0].start : 4 * core[0].stop,
                                        4 * core[1].start : 4 * core[1].stop]
    here = np.repeat(np.repeat(missing[core], 4, axis=0), 4, axis=1)
    if n_out > 1:  # the interpolation has no ensemble spread and no calibrated sigma
        out[0][here] = interpolated[here]
        out[1:, here] = np.nan
    else:
        out[here] = interpolated[here]
    return out


def _quality_block(
    lst: np.ndarray, ndvi: np.ndarray, *guide: np.ndarray, plan: HaloPlan, block_info: dict
) -> np.ndarray:
    lst, ndvi, (sy, sx), _, missing = _block_window(
        lst, ndvi, block_info, plan, guide[0] if guide else None
    )
    # the flags reach NEAR_PX (250 m) around a pixel: the core plus that much context suffices
    m = min(-(-NEAR_PX // 4), sy.start, sx.start)
    y0, y1, x0, x1 = sy.start - m, sy.stop + m, sx.start - m, sx.stop + m
    flags = quality_flags(
        lst[y0:y1, x0:x1],
        ndvi[4 * y0 : 4 * y1, 4 * x0 : 4 * x1],
        guide_missing=None if missing is None else missing[y0:y1, x0:x1],
    )
    if m:
        flags = flags[4 * m : -4 * m, 4 * m : -4 * m]
    # beyond the array edge there is no input: the model saw replicated values there
    info = block_info[None]
    (y0, y1), (x0, x1) = info["array-location"]
    edge = region_edge_mask((y0, y1), (x0, x1), info["shape"], edge_radius(plan))
    flags[edge] |= np.uint8(QualityFlag.REGION_EDGE)
    return flags


def edge_radius(plan: HaloPlan) -> int:
    """Width (250 m pixels) of the band along the cube's outer boundary flagged ``region_edge``.

    The model's receptive field, and at least :data:`~.quality.NEAR_PX` (one 1 km pixel): every
    method reads the neighbouring 1 km pixels when it upsamples, and beyond the boundary there
    are none (the input is padded by replication), so even a card claiming a smaller field
    cannot leave the outermost 1 km pixel unflagged.
    """
    return max(int(plan.receptive_field_px), NEAR_PX)


def align_inputs(
    lst_1km: da.Array, ndvi_250m: da.Array, plan: HaloPlan
) -> tuple[da.Array, da.Array]:
    """Rechunk so every 1 km chunk holds the halo depth and 250 m chunks are exactly 4x."""
    if lst_1km.ndim != 2 or ndvi_250m.ndim != 2:
        raise CubeError("super_resolve expects 2-D (y, x) arrays for one day")
    if tuple(4 * s for s in lst_1km.shape) != ndvi_250m.shape:
        raise CubeError(
            f"250 m NDVI shape {ndvi_250m.shape} is not 4x the 1 km LST shape {lst_1km.shape}"
        )
    cy = ensure_min_chunks(lst_1km.chunks[0], plan.depth_1km)
    cx = ensure_min_chunks(lst_1km.chunks[1], plan.depth_1km)
    if (cy, cx) != lst_1km.chunks:
        lst_1km = lst_1km.rechunk((cy, cx))
    want = (tuple(4 * c for c in cy), tuple(4 * c for c in cx))
    if ndvi_250m.chunks != want:
        ndvi_250m = ndvi_250m.rechunk(want)
    return lst_1km, ndvi_250m


def super_resolve(
    lst_1km: da.Array,
    ndvi_250m: da.Array,
    *,
    model_key: str,
    plan: HaloPlan,
    resources: dict[str, float] | None = None,
    spread: bool = False,
    guide_missing: da.Array | None = None,
    uncertainty: bool = False,
) -> tuple[da.Array, ...]:
    """Lazily super-resolve one day: 1 km LST (y, x) + 250 m NDVI (4y, 4x) -> 250 m LST.

    Parameters
    ----------
    lst_1km
        Dask array (y, x) float32 K, NaN = missing.
    ndvi_250m
        Dask array (4y, 4x) float32, NaN = missing; its chunks are made exactly 4x those
        of ``lst_1km`` (chunks smaller than the halo are merged first).
    model_key
        Registry key of the model in each worker (see :class:`~.plugin.ModelPlugin`).
    plan
        The halo plan of the model (:func:`plan_halo`).
    resources
        Dask resources the model tasks need (``{"GPU": 1}`` pins them to GPU workers);
        the quality layer is not restricted.
    spread
        Also the model's per-pixel spread (an ensemble; the same model tasks compute both).
    guide_missing
        Dask array (y, x) bool, True where the day has no 250 m guide (``lst_only`` tiles):
        there the 250 m LST is the guide-free interpolation
        (:func:`~lstcloud.inference.guide_free.guide_free_250m`), the spread NaN, and the
        quality flag ``guide_missing``. ``None``: the guide is there everywhere.
    uncertainty
        Also the model's calibrated 1-sigma uncertainty (same tasks; ``plan`` must be made
        for the model's ``uncertainty_halo_px``).

    Returns
    -------
    tuple of dask.array.Array
        ``(lst_250m float32 K, quality uint8)``, then ``spread float32 K`` with ``spread``,
        then ``sigma float32 K`` with ``uncertainty``,
        chunked like the (aligned) 250 m NDVI. All share the input reads and halo exchange
        (same overlap tasks).
    """
    lst_1km, ndvi_250m = align_inputs(
        lst_1km.astype(np.float32, copy=False), ndvi_250m.astype(np.float32, copy=False), plan
    )
    d1, d250 = plan.depth_1km, plan.depth_250m
    arrays = [lst_1km, ndvi_250m]
    if guide_missing is not None:
        arrays.append(guide_missing.astype(bool).rechunk(lst_1km.chunks))
    common = {
        "depth": [{0: d1, 1: d1}, {0: d250, 1: d250}, {0: d1, 1: d1}][: len(arrays)],
        "boundary": ["none"] * len(arrays),
        "trim": False,
        "align_arrays": False,
        "allow_rechunk": False,
        "chunks": ndvi_250m.chunks,
    }
    pin = dask.annotate(resources=dict(resources)) if resources else contextlib.nullcontext()
    # with the spread / sigma, one model task gives all layers: a leading axis, split below
    n_out = 1 + int(spread) + int(uncertainty)
    layout: dict[str, Any] = (
        {"new_axis": 0, "chunks": ((n_out,), *ndvi_250m.chunks), "spread": spread,
         "uncertainty": uncertainty} if n_out > 1 else {}
    )
    with pin:
        predicted = da.map_overlap(
            _predict_block,
            *arrays,
            dtype=np.float32,
            meta=np.empty((0,) * (3 if n_out > 1 else 2), np.float32),
            token="lstcloud-predict" + "-spread" * spread + "-uncertainty" * uncertainty,
            model_key=model_key,
            plan=plan,
            **{**common, **layout},
        )
    quality = da.map_overlap(
        _quality_block,
        *arrays,
        dtype=np.uint8,
        meta=np.empty((0, 0), np.uint8),
        token="lstcloud-quality",
        plan=plan,
        **common,
    )
    if n_out > 1:
        return (predicted[0], quality, *(predicted[i] for i in range(1, n_out)))
    return predicted, quality


def halo_share(chunks_1km: tuple[tuple[int, ...], tuple[int, ...]], plan: HaloPlan) -> float:
    """Share of the pixels run through the model that are halo/context, not output core."""
    core = computed = 0
    offsets = [np.concatenate([[0], np.cumsum(c)]) for c in chunks_1km]
    for y0, y1 in zip(offsets[0][:-1], offsets[0][1:], strict=True):
        ys, ty = tile_starts(int(y0), int(y1), tile=plan.tile_1km, align=plan.align_1km)
        for x0, x1 in zip(offsets[1][:-1], offsets[1][1:], strict=True):
            xs, tx = tile_starts(int(x0), int(x1), tile=plan.tile_1km, align=plan.align_1km)
            core += (y1 - y0) * (x1 - x0)
            c2 = 2 * plan.context_1km
            computed += len(ys) * len(xs) * (ty + c2) * (tx + c2)
    return float(1.0 - core / computed) if computed else 0.0
