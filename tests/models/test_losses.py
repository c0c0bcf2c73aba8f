"""The SIF loss: presets, terms against direct computations, masks, gradients."""

from __future__ import annotations

import pytest
import torch

from lstcloud import ops
from lstcloud.errors import ConfigError
from lstcloud.models import PRESETS, SIFCNN, LossConfig, Normalization, SIFLoss, get_preset


def test_presets_encode_deck_and_published_conventions() -> None:
    assert set(PRESETS) == {"sif-cnn-sr1", "sif-cnn-sr2", "sif-cnn-sr1-published",
                            "sif-cnn-sr2-published", "sc-unet"}
    sr1, sr2 = PRESETS["sif-cnn-sr1"], PRESETS["sif-cnn-sr2"]
    # deck: alpha weights the texture term
    assert (sr1.texture_weight, sr1.consistency_weight, sr1.gamma, sr1.texture) == (
        0.99, 0.01, -0.5, "sobel")
    assert (sr2.texture_weight, sr2.consistency_weight, sr2.gamma, sr2.texture) == (
        0.10, 0.90, -0.25, "highpass")
    assert sr1.criterion == sr2.criterion == "mse"
    # published code: alpha weights the reconstruction term; SR1 alpha 0.99, SR2 alpha 0.5
    p1, p2 = PRESETS["sif-cnn-sr1-published"], PRESETS["sif-cnn-sr2-published"]
    assert (p1.consistency_weight, p1.texture_weight) == (0.99, 0.01)
    assert (p2.consistency_weight, p2.texture_weight) == (0.5, 0.5)
    assert p1.criterion == p2.criterion == "huber" and p1.huber_delta == 1.0
    assert p1.degradation == p2.degradation == "gaussian"
    sc = PRESETS["sc-unet"]
    assert sc.texture_weight == 0 and sc.criterion == "mse" and sc.degradation == "identity"


def test_config_validation_and_round_trip() -> None:
    cfg = LossConfig(texture_weight=0.3, consistency_weight=0.7, criterion="huber")
    assert LossConfig.from_dict(cfg.to_dict()) == cfg
    assert cfg.with_(gamma=-0.1).gamma == -0.1
    with pytest.raises(ConfigError, match="texture_weight"):
        LossConfig(texture_weight=-1, consistency_weight=1)
    with pytest.raises(ConfigError, match="both 0"):
        LossConfig(texture_weight=0, consistency_weight=0)
    with pytest.raises(ConfigError, match="criterion"):
        LossConfig(texture_weight=1, consistency_weight=1, criterion="l1")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="unknown loss option"):
        LossConfig.from_dict({"alpha": 0.5})
    with pytest.raises(ConfigError, match="unknown loss preset"):
        get_preset("sr3")
    with pytest.raises(ConfigError, match="kelvin"):
        SIFLoss(LossConfig(texture_weight=0, consistency_weight=1, degradation="l4"))


def _batch(seed: int = 0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    pred = torch.randn(2, 1, 32, 32, generator=g)
    lst = torch.randn(2, 1, 8, 8, generator=g)
    ndvi = torch.randn(2, 1, 32, 32, generator=g)
    return pred, lst, ndvi


@pytest.mark.parametrize("preset", ["sif-cnn-sr1", "sif-cnn-sr2", "sif-cnn-sr2-published"])
def test_terms_equal_direct_computation(preset: str) -> None:
    cfg = PRESETS[preset]
    pred, lst, ndvi = _batch()
    loss, parts = SIFLoss(preset)(pred, lst, ndvi)
    if cfg.texture == "sobel":
        gp, gn = ops.sobel(pred), ops.sobel(ndvi)
    else:
        gp, gn = ops.highpass(pred), ops.highpass(ndvi)
    h = ops.degrade(pred, method="gaussian", mtf_at_nyquist=0.1)
    if cfg.criterion == "mse":
        texture = ((gp - cfg.gamma * gn) ** 2).mean()
        consistency = ((h - lst) ** 2).mean()
    else:
        texture = torch.nn.functional.huber_loss(gp, cfg.gamma * gn)
        consistency = torch.nn.functional.huber_loss(h, lst)
    assert parts["texture"] == pytest.approx(float(texture), rel=1e-5)
    assert parts["consistency"] == pytest.approx(float(consistency), rel=1e-5)
    expected = cfg.texture_weight * texture + cfg.consistency_weight * consistency
    assert float(loss) == pytest.approx(float(expected), rel=1e-5)


def test_perfect_prediction_has_zero_loss() -> None:
    cfg = LossConfig(texture_weight=0.5, consistency_weight=0.5, gamma=-0.5, degradation="mean")
    g = torch.Generator().manual_seed(1)
    pred = torch.randn(1, 1, 16, 16, generator=g)
    ndvi = pred / cfg.gamma  # G is linear: G(pred) = gamma G(ndvi)
    lst = ops.degrade(pred, method="mean")
    loss, parts = SIFLoss(cfg)(pred, lst, ndvi)
    assert float(loss) < 1e-10 and parts["texture"] < 1e-10
    loss2, _ = SIFLoss(cfg)(pred + 0.1 * torch.randn(1, 1, 16, 16, generator=g), lst, ndvi)
    assert float(loss2) > 1e-3


def test_masked_and_nan_pixels_are_left_out() -> None:
    pred, lst, ndvi = _batch(2)
    mask = torch.ones_like(lst, dtype=torch.bool)
    mask[:, :, :4, :] = False
    loss_fn = SIFLoss("sif-cnn-sr1")
    ref, _ = loss_fn(pred, lst, ndvi, mask_1km=mask)
    # changing the target or the prediction deep inside the masked half changes nothing
    lst2 = lst.clone()
    lst2[:, :, :4, :] = 1e3
    lst2[:, :, 0, 0] = float("nan")
    pred2 = pred.clone()
    pred2[:, :, :8, :] += 50.0
    got, _ = loss_fn(pred2, lst2, ndvi, mask_1km=mask)
    assert float(got) == pytest.approx(float(ref), rel=1e-6)
    # NaN in the target alone acts as a mask, and the gradient stays finite
    lst3 = lst.clone()
    lst3[:, :, :4, :] = float("nan")
    p = pred.clone().requires_grad_(True)
    val, _ = loss_fn(p, lst3, ndvi)
    val.backward()
    assert torch.isfinite(val) and torch.isfinite(p.grad).all()
    assert float(val.detach()) == pytest.approx(float(ref), rel=1e-6)


def test_huber_is_gentler_than_mse_on_outliers() -> None:
    pred, lst, ndvi = _batch(3)
    mse = LossConfig(texture_weight=0, consistency_weight=1, criterion="mse")
    hub = mse.with_(criterion="huber")
    big = lst + 10.0
    assert float(SIFLoss(hub)(pred, big, ndvi)[0]) < float(SIFLoss(mse)(pred, big, ndvi)[0])


def test_l4_consistency_is_computed_in_kelvin() -> None:
    norm = Normalization(lst_mean=290.0, lst_std=10.0, ndvi_mean=0.4, ndvi_std=0.2)
    cfg = LossConfig(texture_weight=0, consistency_weight=1, degradation="l4")
    pred, _, ndvi = _batch(4)
    kelvin = norm.lst_from_z(pred)
    lst_z = norm.lst_to_z(ops.degrade(kelvin, method="l4"))
    loss, _ = SIFLoss(cfg, normalization=norm)(pred, lst_z, ndvi)
    assert float(loss) < 1e-8
    mean_target = norm.lst_to_z(ops.degrade(kelvin, method="mean"))
    assert float(SIFLoss(cfg, normalization=norm)(pred, mean_target, ndvi)[0]) > 1e-8


def test_sc_unet_identity_is_plain_mse() -> None:
    pred, _, ndvi = _batch(5)
    target = torch.randn_like(pred)
    loss, parts = SIFLoss("sc-unet")(pred, target, ndvi)
    assert float(loss) == pytest.approx(float(((pred - target) ** 2).mean()), rel=1e-6)
    assert parts["texture"] == 0.0
    with pytest.raises(ConfigError, match="does not match"):
        SIFLoss("sc-unet")(pred, target[..., :8, :8], ndvi)


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_gradients_reach_every_parameter_and_loss_falls(preset: str) -> None:
    torch.manual_seed(0)
    net = SIFCNN()
    g = torch.Generator().manual_seed(7)
    x = torch.randn(2, 2, 32, 32, generator=g)
    fine = preset == "sc-unet"
    target = torch.randn(2, 1, 32, 32, generator=g) if fine else torch.randn(
        2, 1, 8, 8, generator=g)
    loss_fn = SIFLoss(preset)
    opt = torch.optim.Adam(net.parameters(), lr=3e-3)
    losses = []
    for step in range(8):
        opt.zero_grad()
        loss, _ = loss_fn(net(x), target, x[:, 1:])
        loss.backward()
        if step == 0:
            assert all(p.grad is not None and bool(p.grad.abs().sum() > 0)
                       for p in net.parameters())
        opt.step()
        losses.append(float(loss.detach()))
    assert losses[-1] < losses[0]


def test_highpass_texture_ignores_everything_near_missing_ndvi() -> None:
    cfg = LossConfig(texture_weight=1.0, consistency_weight=0.0, texture="highpass", gamma=-0.3)
    loss_fn = SIFLoss(cfg)
    assert loss_fn.texture_radius == 8
    pred, lst, ndvi = _batch(6)
    pred, ndvi = pred[:1].repeat(1, 1, 2, 2), ndvi[:1].repeat(1, 1, 2, 2)  # 64 x 64
    lst = torch.zeros(1, 1, 16, 16)
    holed = ndvi.clone()
    holed[..., 30:34, 30:34] = float("nan")
    got, parts = loss_fn(pred, lst, holed)
    keep = torch.ones(64, 64, dtype=torch.bool)
    keep[30 - 8:34 + 8, 30 - 8:34 + 8] = False
    for fill in (0.0, 7.0):  # whatever the hole holds, the kept pixels never see it
        filled = torch.nan_to_num(holed, nan=fill)
        err = (ops.highpass(pred) - cfg.gamma * ops.highpass(filled)) ** 2
        assert parts["texture"] == pytest.approx(float(err[0, 0][keep].mean()), rel=1e-5)
    assert float(got) == pytest.approx(parts["texture"], rel=1e-6)
