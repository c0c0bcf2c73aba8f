"""The calibrated uncertainty as a model capability: the variance model, its card section, the
QC widening, and chunk locality (tiled output equals whole-scene output)."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import dask
import dask.array as da
import numpy as np
import pytest

from lstcloud.errors import ConfigError
from lstcloud.inference.halo import plan_halo, super_resolve
from lstcloud.inference.plugin import install_model, model_key
from lstcloud.models.uncertainty import (
    FEATURES,
    QcWidening,
    UncertaintyCapable,
    UncertaintyModel,
    conformal_scale,
    fit_log_variance,
    scene_offset_variance,
    uncertainty_features,
)
from lstcloud.training.uncertainty import DEFAULT_FEATURES
from tests.inference.cubes import day_inputs
from tests.inference.standin import StandInModel

D0 = dt.date(2021, 7, 1)


def _section(features=DEFAULT_FEATURES, scale: float = 1.0) -> dict:
    n = len(features)
    rng = np.random.default_rng(1)
    return UncertaintyModel(
        features=tuple(features), lo=(-50.0,) * n, hi=(50.0,) * n, mean=(0.0,) * n,
        sd=(1.0,) * n, coef=tuple(rng.uniform(0.05, 0.3, n)), intercept=1.0, scale=scale,
    ).to_dict()


class _CalibratedStandIn(StandInModel, UncertaintyCapable):
    def __init__(self, section: dict | None) -> None:
        super().__init__()
        self.card = {**self.card, **({"uncertainty": section} if section else {})}


def test_fit_recovers_a_known_log_linear_variance() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(0, 1, (2, 40_000))
    sigma = np.exp(0.5 * (0.4 + 0.6 * x[0] - 0.3 * x[1]))
    err = rng.normal(0, 1, x.shape[1]) * sigma
    model = fit_log_variance(x, err, ["lst", "ndvi"])
    coef = np.asarray(model.coef) / np.asarray(model.sd)  # per raw unit
    np.testing.assert_allclose(coef, [0.6, -0.3], atol=0.04)
    got = model.sigma_from_features(x)
    assert abs(np.mean(np.abs(err) <= got) - 0.683) < 0.01  # already calibrated: scale ~ 1
    assert conformal_scale(err, got) == pytest.approx(1.0, abs=0.03)
    assert conformal_scale(err, 0.5 * got) == pytest.approx(2.0, abs=0.06)


def test_scene_variance_adds_in_quadrature_and_version_1_cards_read_without_it() -> None:
    rng = np.random.default_rng(3)
    x = rng.normal(0, 1, (2, 500))
    local = fit_log_variance(x, rng.normal(0, 1, 500) * np.exp(0.3 * x[0]), ["lst", "ndvi"])
    model = replace(local, scene_variance_k2=1.1, scale=0.9)
    expected = 0.9 * np.sqrt(1.1 + np.exp(model.log_variance(x)))
    np.testing.assert_allclose(model.sigma_from_features(x),
                               np.clip(expected, model.min_sigma_k, model.max_sigma_k))
    # the rank score orders pixels as sigma does, whatever the constants
    np.testing.assert_array_equal(np.argsort(model.rank_score(x)),
                                  np.argsort(model.sigma_from_features(x)))
    card = model.to_dict()
    assert card["kind"] == "log-linear-variance-v2" and card["scene_variance_k2"] == 1.1
    assert UncertaintyModel.from_dict(card) == model
    v1 = {k: v for k, v in card.items() if k != "scene_variance_k2"}
    old = UncertaintyModel.from_dict(v1)
    assert old.scene_variance_k2 == 0.0
    np.testing.assert_allclose(old.sigma_from_features(x),
                               np.clip(0.9 * np.exp(0.5 * model.log_variance(x)),
                                       model.min_sigma_k, model.max_sigma_k))
    with pytest.raises(ConfigError, match="scene_variance_k2"):
        replace(model, scene_variance_k2=-0.1)


def test_window_sigma_weighs_1km_features_at_1km_with_the_same_values() -> None:
    """The product's path (features summed at their own resolution) equals the calibration's
    (every feature on the 250 m grid), next to missing inputs too."""
    lst, ndvi = day_inputs(20, 16, [D0])
    lst, ndvi = lst[0].copy(), ndvi[0].copy()
    lst[3:5, 3:6] = np.nan
    ndvi[30:34, 0:9] = np.nan
    pred = np.repeat(np.repeat(lst, 4, 0), 4, 1) + np.linspace(-1, 1, 64)[None, :]
    names = sorted(set(FEATURES) - {"spread"})
    section = _section(names) | {"scene_variance_k2": 0.7}
    model = UncertaintyModel.from_dict(section)
    feats = uncertainty_features(lst, ndvi, pred, names)
    np.testing.assert_allclose(model.window_log_variance(lst, ndvi, pred),  # float32 terms
                               model.log_variance(feats), rtol=1e-6, atol=1e-6)
    expected = np.where(np.isfinite(pred), model.sigma_from_features(feats), np.nan)
    np.testing.assert_allclose(model.sigma(lst, ndvi, pred), expected.astype(np.float32),
                               rtol=1e-6)
    assert [FEATURES[n].at_1km for n in names].count(True) >= 5


def test_scene_offset_variance_is_the_mean_squared_scene_mean() -> None:
    errs = [np.array([1.0, 3.0]), np.array([-1.0, -1.0, -1.0]), np.array([])]
    assert scene_offset_variance(errs) == pytest.approx((4.0 + 1.0) / 2)
    with pytest.raises(ConfigError):
        scene_offset_variance([np.array([])])


def test_every_feature_is_finite_next_to_missing_inputs() -> None:
    lst, ndvi = day_inputs(12, 12, [D0])
    lst, ndvi = lst[0].copy(), ndvi[0].copy()
    lst[3:5, 3:6] = np.nan
    ndvi[30:34, 0:9] = np.nan
    pred = np.repeat(np.repeat(lst, 4, 0), 4, 1) + 0.3
    names = sorted(FEATURES)
    feats = uncertainty_features(lst, ndvi, pred, names, spread_250m=np.full(pred.shape, 0.2))
    finite = np.isfinite(pred)
    assert feats.shape == (len(names), *pred.shape)
    assert np.isfinite(feats[:, finite]).all()
    with pytest.raises(ConfigError, match="spread"):
        uncertainty_features(lst, ndvi, pred, ["spread"])


def test_card_section_round_trips_and_malformed_ones_are_refused() -> None:
    section = _section()
    again = UncertaintyModel.from_dict(section).to_dict()
    assert again == section and again["qc"]["calibrated"] is False
    with pytest.raises(ConfigError, match="uncertainty"):
        UncertaintyModel.from_dict({**section, "coef_log_k2_per_sd": [1.0]})
    with pytest.raises(ConfigError, match="unknown"):
        UncertaintyModel.from_dict({**section, "features": ["nope"] * len(DEFAULT_FEATURES)})
    lst, ndvi = day_inputs(8, 8, [D0])
    with pytest.raises(ConfigError, match="no calibrated uncertainty"):
        _CalibratedStandIn(None).predict_with_uncertainty(lst[0], ndvi[0])


def test_sigma_is_clipped_to_the_calibration_range_and_nan_under_missing_lst() -> None:
    lst, ndvi = day_inputs(12, 12, [D0])
    model = _CalibratedStandIn(_section())
    pred, sigma = model.predict_with_uncertainty(lst[0], ndvi[0])
    assert sigma.dtype == np.float32 and sigma.shape == pred.shape
    np.testing.assert_array_equal(np.isnan(sigma), np.isnan(pred))
    assert np.nanmin(sigma) > 0
    unc = UncertaintyModel.from_dict(_section())
    feats = uncertainty_features(lst[0], ndvi[0], np.nan_to_num(pred, nan=300.0), unc.features)
    far = np.clip(feats * 1000, -1e9, 1e9)  # far outside: clipped, no extrapolation
    assert np.nanmax(unc.sigma_from_features(far)) <= unc.sigma_from_features(
        np.full_like(feats, 50.0)).max() + 1e-6


def test_qc_lst_error_class_widens_sigma_only_when_worse_than_the_reference() -> None:
    lst = np.full((4, 4), 300.0, np.float32)
    ndvi = np.full((16, 16), 0.5, np.float32)
    pred = np.full((16, 16), 300.0, np.float32)
    unc = UncertaintyModel.from_dict(_section(("ndvi",)))
    base = unc.sigma(lst, ndvi, pred)
    qc = np.full((4, 4), 0b11 << 14, np.uint16)  # MOD21 LST accuracy < 1 K
    qc[0, 0] = 0b00 << 14  # > 2 K: taken as 3 K, the reference class is 2 K
    qc[1, 1] = 65535  # not written
    wide = unc.sigma(lst, ndvi, pred, qc_1km=qc)
    np.testing.assert_allclose(wide[:4, :4], np.sqrt(base[:4, :4] ** 2 + 9 - 4), rtol=1e-6)
    np.testing.assert_allclose(wide[4:, 4:], base[4:, 4:])
    assert QcWidening(scheme="MOD11").extra_variance(np.array([3 << 6]))[0] == 16 - 4


def test_tiled_product_sigma_equals_whole_scene_sigma() -> None:
    """super_resolve with small chunks gives the sigma of predict_with_uncertainty."""
    assert set(DEFAULT_FEATURES) <= set(FEATURES)
    model = _CalibratedStandIn(_section())
    key = model_key(model)
    install_model(key, model)
    lst, ndvi = day_inputs(40, 36, [D0])
    halo = model.uncertainty_halo_px
    assert halo >= model.receptive_field_px + 8 and halo % 8 == 0
    plan = plan_halo(halo, tile_1km=12)
    outs = []
    for c in [(40, 36), (14, 12)]:
        layers = super_resolve(da.from_array(lst[0], chunks=c),
                               da.from_array(ndvi[0], chunks=(4 * c[0], 4 * c[1])),
                               model_key=key, plan=plan, uncertainty=True)
        with dask.config.set(scheduler="sync"):
            outs.append([a.compute() for a in layers])
    (whole_lst, _, whole_sigma), (_, _, tiled_sigma) = outs
    np.testing.assert_array_equal(np.isnan(tiled_sigma), np.isnan(whole_lst))
    assert np.nanmax(np.abs(tiled_sigma - whole_sigma)) < 1e-4
    assert np.nanstd(whole_sigma) > 0.05  # a varying field, not a constant
    # and equals the model's own whole-scene predict_with_uncertainty away from the edges
    _, direct = model.predict_with_uncertainty(lst[0], ndvi[0])
    m = halo + 8
    assert np.nanmax(np.abs(direct[m:-m, m:-m] - whole_sigma[m:-m, m:-m])) < 1e-3


def test_product_stores_sigma_as_a_cf_standard_error_of_the_lst(tmp_path) -> None:
    import lstcloud
    from lstcloud.cube.product import Provenance, create_product
    from tests.test_product import _grid

    prov = Provenance(model_name="m", model_sha256="abc", receptive_field_px=8,
                      input_cube="in.zarr", model_card={"uncertainty": _section()})
    product = create_product(str(tmp_path / "p.zarr"), grid=_grid(), dates=[D0],
                             provenance=prov)
    assert product.layer_names() == ("lst_250m", "lst_250m_quality", "lst_250m_uncertainty")
    ds = lstcloud.open_product(str(tmp_path / "p.zarr"))
    sigma = ds["lst_250m_uncertainty"]
    assert sigma.attrs["standard_name"] == f"{ds.lst_250m.attrs['standard_name']} standard_error"
    assert sigma.attrs["units"] == "K" and sigma.dtype == np.float32
    assert "lst_250m_uncertainty" in ds.lst_250m.attrs["ancillary_variables"].split()
    plain = Provenance(model_name="m", model_sha256="abc", receptive_field_px=8,
                       input_cube="in.zarr")
    create_product(str(tmp_path / "q.zarr"), grid=_grid(), dates=[D0], provenance=plain)
    assert "lst_250m_uncertainty" not in lstcloud.open_product(str(tmp_path / "q.zarr"))


def test_point_series_exports_carry_the_uncertainty() -> None:
    import xarray as xr

    from lstcloud.query.export import series_records, series_to_csv

    times = np.array(["2021-07-01", "2021-07-02"], dtype="datetime64[ns]")
    series = xr.Dataset({"lst_250m": ("time", np.array([300.0, np.nan], np.float32)),
                         "lst_250m_uncertainty": ("time", np.array([1.5, np.nan], np.float32))},
                        coords={"time": times})
    records = series_records(series)
    assert records[0]["uncertainty_k"] == 1.5 and records[1]["uncertainty_k"] is None
    assert series_to_csv(series).splitlines()[0] == "date,lst_k,uncertainty_k,complete"
