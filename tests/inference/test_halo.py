"""The halo core: chunked inference equals whole-array inference, on worker processes."""

from __future__ import annotations

import datetime as dt

import dask
import dask.array as da
import numpy as np
import pytest
import torch

from lstcloud.inference.halo import ensure_min_chunks, halo_share, plan_halo, tile_starts
from lstcloud.inference.plugin import install_model, model_key
from lstcloud.inference.predict import predict_cube
from lstcloud.inference.quality import QualityFlag
from lstcloud.product import open_product
from tests.inference.cubes import day_inputs, write_input_cube
from tests.inference.standin import RECEPTIVE_FIELD_PX, StandInModel, make_standin

DAYS = [dt.date(2021, 7, 1), dt.date(2021, 7, 2)]
NY, NX = 48, 40  # 1 km; 192 x 160 at 250 m


def test_plan_depths_are_whole_aligned_pixels() -> None:
    plan = plan_halo(44, margin_1km=2, align_1km=2)
    assert plan.context_1km == 14  # ceil(44 / 4) + 2 = 13 -> 14 (even)
    assert plan.depth_1km == 15
    assert plan.depth_250m == 4 * plan.depth_1km
    assert plan_halo(0, margin_1km=0).depth_1km == 1
    with pytest.raises(ValueError):
        plan_halo(-1)


@pytest.mark.parametrize(("start", "stop", "tile"), [(0, 30, 40), (13, 14, 8), (17, 100, 40),
                                                      (35, 70, 16), (0, 300, 128), (7, 9, 2)])
def test_tile_starts_cover_core_on_aligned_origins(start: int, stop: int, tile: int) -> None:
    starts, size = tile_starts(start, stop, tile=tile, align=2)
    covered = np.zeros(stop + 4, bool)
    for s in starts:
        assert s % 2 == 0 and size % 2 == 0
        assert s >= start - 1 and s + size <= stop + 1  # within align - 1 of the core
        covered[max(s, 0) : s + size] = True
    assert covered[start:stop].all()


def test_small_chunks_are_merged() -> None:
    assert ensure_min_chunks((10, 10, 10, 3), 5) == (10, 10, 13)
    assert ensure_min_chunks((2, 2, 2), 4) in {(4, 2), (2, 4), (6,)}
    assert min(ensure_min_chunks((2, 2, 2), 4)) >= 4 or len(ensure_min_chunks((2, 2, 2), 4)) == 1


def test_standin_receptive_field_bound() -> None:
    """The stand-in's declared receptive field bounds the gradient footprint."""
    m = StandInModel()
    lst = torch.full((1, 1, 32, 32), 295.0, requires_grad=True)
    ndvi = torch.full((1, 1, 128, 128), 0.4, requires_grad=True)
    with torch.enable_grad():
        m.net.train(False)
        from torch.nn import functional as nnf

        up = nnf.interpolate((lst - 295.0) / 8.0, scale_factor=4, mode="bicubic")
        y = m.net(torch.cat([up, (ndvi - 0.4) / 0.2], dim=1))
        y[0, 0, 64, 64].backward()
    ys, xs = np.nonzero(ndvi.grad[0, 0].numpy())
    assert max(np.abs(ys - 64).max(), np.abs(xs - 64).max()) <= RECEPTIVE_FIELD_PX
    ys, xs = np.nonzero(lst.grad[0, 0].numpy())
    assert max(np.abs(ys - 16).max(), np.abs(xs - 16).max()) * 4 <= RECEPTIVE_FIELD_PX + 4


@pytest.mark.slow
def test_chunked_equals_whole_array_on_worker_processes(tmp_path, cluster_client) -> None:
    lst, ndvi = day_inputs(NY, NX, DAYS)
    results = {}
    for chunks in [(NY, NX), (16, 20), (24, 17)]:
        cube = write_input_cube(tmp_path / f"in-{chunks}.zarr", lst=lst, ndvi=ndvi, days=DAYS,
                                chunks_1km=chunks)
        out = str(tmp_path / f"out-{chunks}.zarr")
        summary = predict_cube(cube_url=cube, model=make_standin(), out_url=out,
                               start=DAYS[0], end=DAYS[-1], client=cluster_client,
                               device="cpu", tile_1km=16, batch_size=3)
        assert summary.written == tuple(DAYS) and summary.ok
        ds = open_product(out)
        assert ds.lst_250m.dims == ("time", "y", "x")
        assert ds.lst_250m.chunks[1][0] == 4 * chunks[0]
        results[chunks] = (ds.lst_250m.values, ds.lst_250m_quality.values)
    ref, ref_q = results[(NY, NX)]
    assert np.isfinite(ref).mean() > 0.6
    for chunks, (values, quality) in results.items():
        np.testing.assert_array_equal(np.isnan(values), np.isnan(ref), err_msg=str(chunks))
        assert np.nanmax(np.abs(values - ref)) < 1e-4, chunks
        np.testing.assert_array_equal(quality, ref_q, err_msg=str(chunks))
    # the pipeline equals the model run on the whole array away from the array edges
    direct = make_standin().predict(lst[0], ndvi[0])
    m = RECEPTIVE_FIELD_PX + 8
    assert np.nanmax(np.abs(direct[m:-m, m:-m] - ref[0, m:-m, m:-m])) < 1e-4
    # NaN exactly where the covering 1 km LST is missing, flagged as such
    lst_missing = np.repeat(np.repeat(np.isnan(lst), 4, axis=1), 4, axis=2)
    np.testing.assert_array_equal(np.isnan(ref), lst_missing)
    assert ((ref_q & QualityFlag.LST_MISSING) > 0).tolist() == lst_missing.tolist()


def test_too_small_halo_shows_seams() -> None:
    """Negative control: with a halo smaller than the receptive field chunking changes values."""
    m = make_standin()
    key = model_key(m)
    install_model(key, m)
    from lstcloud.inference.halo import super_resolve

    lst, ndvi = day_inputs(NY, NX, DAYS[:1])
    outs = []
    for c in [(NY, NX), (16, 16)]:
        plan = plan_halo(0, margin_1km=0, tile_1km=16)
        o, _ = super_resolve(da.from_array(lst[0], chunks=c),
                             da.from_array(ndvi[0], chunks=(4 * c[0], 4 * c[1])),
                             model_key=key, plan=plan)
        with dask.config.set(scheduler="sync"):
            outs.append(o.compute())
    assert np.nanmax(np.abs(outs[0] - outs[1])) > 1e-2


def test_quality_flags_meaning() -> None:
    from lstcloud.inference.quality import quality_flags

    lst = np.full((8, 8), 300.0, np.float32)
    lst[0, 0] = np.nan
    ndvi = np.full((32, 32), 0.5, np.float32)
    ndvi[31, 31] = np.nan
    ndvi[16, 0] = 0.05
    q = quality_flags(lst, ndvi, near_px=4)
    assert q[0, 0] == QualityFlag.LST_MISSING
    assert q[31, 31] & QualityFlag.NDVI_MISSING and q[31, 31] & QualityFlag.NEAR_INVALID
    assert q[16, 0] == QualityFlag.LOW_CONFIDENCE
    assert q[4, 5] == QualityFlag.NEAR_INVALID  # within 1 km pixel of the missing LST
    assert q[9, 9] == QualityFlag.OK  # 2 km away
    assert q[16, 16] == QualityFlag.OK
    from lstcloud.inference.quality import region_edge_mask

    edge = region_edge_mask((0, 8), (90, 100), (100, 100), 5)
    assert edge[:5].all() and edge[:, 5:].all() and not edge[5:, :5].any()


def test_halo_share() -> None:
    plan = plan_halo(44, tile_1km=128)
    share = halo_share(((300,) * 4, (300,) * 4), plan)
    assert 0.1 < share < 0.6
    assert halo_share(((1200,),) * 2, plan) < share


@pytest.mark.slow
def test_shipped_sif_cnn_is_chunk_independent(tmp_path, cluster_client) -> None:
    """The real SIF-CNN-SR1 (receptive field from its card) through the pipeline."""
    from lstcloud.errors import ConfigError
    from lstcloud.models import load_model

    try:
        model = load_model("sif-cnn-sr1", device="cpu")
    except ConfigError as exc:
        pytest.skip(f"shipped model not installed: {exc}")
    lst, ndvi = day_inputs(64, 56, DAYS[:1])
    outs = []
    for chunks in [(64, 56), (32, 28)]:
        cube = write_input_cube(tmp_path / f"in-{chunks}.zarr", lst=lst, ndvi=ndvi,
                                days=DAYS[:1], chunks_1km=chunks)
        out = str(tmp_path / f"out-{chunks}.zarr")
        summary = predict_cube(cube_url=cube, model="sif-cnn-sr1", out_url=out, start=DAYS[0],
                               end=DAYS[0], client=cluster_client, device="cpu")
        assert summary.written == (DAYS[0],)
        outs.append(open_product(out).lst_250m.values[0])
    assert np.isfinite(outs[0]).mean() > 0.6
    assert np.nanmax(np.abs(outs[0] - outs[1])) < 1e-4
    # and equals the model's own whole-scene prediction away from the region edge
    direct = model.predict(lst[0], ndvi[0])
    m = model.receptive_field_px
    assert np.nanmax(np.abs(direct[m:-m, m:-m] - outs[0][m:-m, m:-m])) < 1e-3


def test_quality_layer_equals_whole_array_flags() -> None:
    """The quality tasks look only at the core plus NEAR_PX: same flags as the whole array."""
    from lstcloud.inference.halo import edge_radius, super_resolve
    from lstcloud.inference.quality import quality_flags, region_edge_mask

    lst, ndvi = day_inputs(NY, NX, DAYS[:1])
    lst, ndvi = lst[0], ndvi[0]
    plan = plan_halo(RECEPTIVE_FIELD_PX, tile_1km=16)
    d = plan.depth_1km
    whole = quality_flags(np.pad(lst, d, mode="edge"), np.pad(ndvi, 4 * d, mode="edge"))
    whole = whole[4 * d : -4 * d, 4 * d : -4 * d]
    whole[region_edge_mask((0, 4 * NY), (0, 4 * NX), (4 * NY, 4 * NX), edge_radius(plan))] |= (
        np.uint8(QualityFlag.REGION_EDGE)
    )
    assert (whole & QualityFlag.NEAR_INVALID).any() and (whole == 0).any()
    _, quality = super_resolve(da.from_array(lst, chunks=(16, 20)),
                               da.from_array(ndvi, chunks=(64, 80)), model_key="unused", plan=plan)
    with dask.config.set(scheduler="sync"):
        np.testing.assert_array_equal(quality.compute(), whole)


@pytest.mark.slow
@pytest.mark.parametrize("model_name", ["bicubic", "sif-cnn-sr1"])
def test_every_pixel_the_outer_boundary_changes_is_flagged_region_edge(
    tmp_path, cluster_client, model_name
) -> None:
    """Issue 12, point 6: the cube is a crop of a larger scene. Near the crop's outer boundary
    the input is padded, and the output differs from the larger scene's (by kelvins within a few
    pixels); every such pixel carries ``region_edge``, and the band is the receptive field."""
    from lstcloud.inference.halo import edge_radius
    from lstcloud.models import load_model

    rf = load_model(model_name, device="cpu").receptive_field_px
    off = 24  # 1 km pixels: >= rf / 4 and a multiple of the tile alignment (same pooling phase)
    lst, ndvi = day_inputs(144, 144, DAYS[:1])
    crop = (slice(None), slice(off, 144 - off), slice(off, 144 - off))
    crop4 = (slice(None), slice(4 * off, 4 * (144 - off)), slice(4 * off, 4 * (144 - off)))
    outs = {}
    for name, (lst_in, ndvi_in) in {"scene": (lst, ndvi), "cube": (lst[crop], ndvi[crop4])}.items():
        cube = write_input_cube(tmp_path / f"{name}.zarr", lst=lst_in, ndvi=ndvi_in,
                                days=DAYS[:1], chunks_1km=(48, 48))
        out = str(tmp_path / f"{name}-out.zarr")
        predict_cube(cube_url=cube, model=model_name, out_url=out, start=DAYS[0], end=DAYS[0],
                     client=cluster_client, device="cpu")
        outs[name] = open_product(out)
    whole = outs["scene"].lst_250m.values[0][crop4[1:]]
    got = outs["cube"].lst_250m.values[0]
    quality = outs["cube"].lst_250m_quality.values[0]
    flagged = (quality & QualityFlag.REGION_EDGE) > 0
    diff = np.abs(got - whole)
    assert np.isfinite(diff).mean() > 0.6
    assert np.nanmax(diff[~flagged]) < 1e-3  # unflagged pixels equal the larger scene's
    assert np.nanmax(diff[flagged]) > 0.05  # the flag is not decoration: edge values differ
    band = max(rf, 4)
    assert edge_radius(plan_halo(rf)) == band
    assert flagged[:band].all() and flagged[-band:].all() and flagged[:, :band].all()
    assert not flagged[band:-band, band:-band].any()
