"""Out-of-fold calibration of the uncertainty: a fold's sigma never comes from its own ASTER
errors, and the figures measure what they claim."""

from __future__ import annotations

import numpy as np
import pytest

from lstcloud.evaluate.calibration import (
    SceneRows,
    calibrate_out_of_fold,
    fit_uncertainty,
    out_of_fold_ranks,
    uncertainty_scores,
)
from lstcloud.models.uncertainty import fit_log_variance

FEATURES = ("lst_local_sd", "ndvi")
FOLDS = [["a", "d"], ["b", "e"], ["c", "f"]]


def _scene(name: str, seed: int, gain: float = 1.0) -> SceneRows:
    rng = np.random.default_rng(seed)
    feats = rng.normal(0, 1, (2, 3000))
    err = gain * rng.normal(0, 1, 3000) * np.exp(0.5 * (0.5 + 0.8 * feats[0]))
    return SceneRows(name, err, feats, feats.copy(), warp=lambda image: image)


def _rows(poison: str | None = None) -> dict[str, SceneRows]:
    rows = {n: _scene(n, i) for i, n in enumerate("abcdef")}
    if poison:  # its ASTER errors 100 times larger
        rows[poison] = _scene(poison, "abcdef".index(poison), gain=100.0)
    return rows


def test_a_fold_is_scored_by_a_calibrator_that_never_read_its_errors() -> None:
    seen: list[set[str]] = []

    def spy(rows, features):
        seen.append({r.name for r in rows})
        return fit_uncertainty(rows, features)

    calibrate_out_of_fold(_rows(), FOLDS, FEATURES, fit=spy)
    assert len(seen) == len(FOLDS)
    for held, names in zip(FOLDS, seen, strict=True):
        assert names == set("abcdef") - set(held)
    # behaviour: poisoning a held-out scene's errors leaves its own fold's sigma unchanged...
    clean, _ = calibrate_out_of_fold(_rows(), FOLDS, FEATURES)
    poisoned, _ = calibrate_out_of_fold(_rows(poison="a"), FOLDS, FEATURES)
    for name in FOLDS[0]:
        np.testing.assert_array_equal(poisoned[name], clean[name])
    # ...and changes the others' (whose calibrators did read it)
    assert np.median(poisoned["b"] / clean["b"]) > 2


def test_scores_of_a_calibrated_sigma_cover_68_and_90_percent_and_rank_the_error() -> None:
    rows = _rows()
    sigma, models = calibrate_out_of_fold(rows, FOLDS, FEATURES)
    sc = uncertainty_scores({n: r.err for n, r in rows.items()}, sigma)
    assert sc["coverage_1sigma"] == pytest.approx(0.683, abs=0.02)
    assert sc["coverage_90"] == pytest.approx(0.90, abs=0.02)
    assert sc["rmse_ratio_top_bottom_quintile"] > 3  # sigma varies with feature 0 as the error
    assert [b["n_px"] for b in sc["rmse_by_sigma_quintile"]] == [3600] * 5
    assert all(m.coef[0] > 0.5 and abs(m.coef[1]) < 0.1 for m in models)
    # a sigma unrelated to the error ranks nothing: ratio ~1
    rng = np.random.default_rng(9)
    blind = uncertainty_scores({n: r.err for n, r in rows.items()},
                               {n: rng.uniform(1, 3, r.err.size) for n, r in rows.items()})
    assert blind["rmse_ratio_top_bottom_quintile"] == pytest.approx(1.0, abs=0.25)


def _offset_scene(name: str, seed: int, offset: float) -> SceneRows:
    rng = np.random.default_rng(seed)
    feats = rng.normal(0, 1, (2, 4000))
    err = offset + rng.normal(0, 1, 4000) * np.exp(0.5 * (-0.5 + 0.8 * feats[0]))
    return SceneRows(name, err, feats, feats.copy(), warp=lambda image: image)


def test_scene_offsets_go_to_tau_and_leave_the_local_coefficients_unblurred() -> None:
    """Each scene shifted by its own offset (what MODIS vs ASTER does): the offsets make
    ``tau^2``, the local part keeps the feature's true effect (0.8 per unit), which a fit of the
    raw errors underestimates."""
    offsets = [-2.0, 1.5, -0.5, 2.5, -1.0, 0.0]
    rows = [_offset_scene(n, i, o) for i, (n, o) in enumerate(zip("abcdef", offsets, strict=True))]
    model = fit_uncertainty(rows, FEATURES)
    means = [r.err.mean() for r in rows]
    assert model.scene_variance_k2 == pytest.approx(np.mean(np.square(means)))
    assert model.scene_variance_k2 == pytest.approx(np.mean(np.square(offsets)), rel=0.05)
    local = model.coef[0] / model.sd[0]
    raw = fit_log_variance(np.concatenate([r.feats for r in rows], axis=1),
                           np.concatenate([r.err for r in rows]), FEATURES)
    assert local == pytest.approx(0.8, abs=0.06)
    assert raw.coef[0] / raw.sd[0] < local - 0.3  # the offsets blur the raw fit
    sigma = np.concatenate([r.sigma_on_aster(model) for r in rows])
    err = np.concatenate([r.err for r in rows])
    assert np.mean(np.abs(err) <= sigma) == pytest.approx(0.683, abs=0.005)  # conformal


def test_one_models_ordering_comes_from_the_fold_models_without_their_constants() -> None:
    rows = _rows()
    sigma, models = calibrate_out_of_fold(rows, FOLDS, FEATURES)
    ranks = out_of_fold_ranks(rows, FOLDS, models)
    for held, model in zip(FOLDS, models, strict=True):
        for name in held:  # the fold's own model orders its scenes, as its sigma does
            np.testing.assert_array_equal(np.argsort(ranks[name], kind="stable"),
                                          np.argsort(sigma[name], kind="stable"))
            np.testing.assert_allclose(
                ranks[name], (np.asarray(model.coef) / np.asarray(model.sd))
                @ np.clip(rows[name].feats, np.array(model.lo)[:, None],
                          np.array(model.hi)[:, None]))
    # the ranks of a fold never read its errors either
    poisoned = _rows(poison="a")
    _, pmodels = calibrate_out_of_fold(poisoned, FOLDS, FEATURES)
    np.testing.assert_array_equal(out_of_fold_ranks(poisoned, FOLDS, pmodels)["d"], ranks["d"])
    sc = uncertainty_scores({n: r.err for n, r in rows.items()}, sigma, rank=ranks)
    lo, hi = sc["scene_bootstrap_90"]["rmse_ratio_ranking"]
    assert sc["rmse_ratio_ranking"] > 3 and lo < sc["rmse_ratio_ranking"] < hi
    lo, hi = sc["scene_bootstrap_90"]["coverage_1sigma"]
    assert lo < sc["coverage_1sigma"] < hi and hi - lo < 0.1
    assert uncertainty_scores({n: r.err for n, r in rows.items()}, sigma)[
        "rmse_ratio_ranking"] is None


def test_evaluate_aster_reports_coverage_quintiles_and_reliability(aster_dev, tmp_path) -> None:
    """A model with a calibrated sigma gets the uncertainty table and the reliability PNG."""
    from lstcloud.evaluate.aster import evaluate_aster
    from lstcloud.evaluate.datasets import iter_dev_samples
    from lstcloud.evaluate.methods import _from_model
    from lstcloud.evaluate.report import _uncertainty_section
    from lstcloud.inference.predict import _ModelInfo
    from tests.models.test_uncertainty import _CalibratedStandIn, _section

    model = _CalibratedStandIn(_section(FEATURES))
    method = _from_model("calibrated", model, needs_ndvi_default=True)
    assert method.predict_with_uncertainty is not None
    plain = _from_model("plain", _CalibratedStandIn(None), needs_ndvi_default=True)
    assert plain.predict_with_uncertainty is None
    result = evaluate_aster(iter_dev_samples(aster_dev, names=["000"]), [method, plain],
                            data="aster_h18v04_dev")
    (err, sigma), = result.uncertainty["calibrated"].values()
    assert err.size == sigma.size > 1000 and "plain" not in result.uncertainty
    figures: list = []
    text = "\n".join(_uncertainty_section(result, tmp_path, figures))  # report.md's section
    assert "## Uncertainty" in text and "| calibrated |" in text
    assert figures[0][0] == "reliability.png"
    assert 0 <= result.to_json()["uncertainty"]["calibrated"]["coverage_1sigma"] <= 1
    assert (tmp_path / "reliability.png").stat().st_size > 1000
    # the product's model tasks use the halo that keeps sigma chunk-local
    info = _ModelInfo.of(model, model)
    assert info.halo_px == model.uncertainty_halo_px > model.receptive_field_px
    assert _ModelInfo.of(plain_model := _CalibratedStandIn(None), plain_model).halo_px == 44
