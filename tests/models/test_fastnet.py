"""The folded channels_last inference copy: same outputs, never stale, source untouched."""

from __future__ import annotations

import torch
from torch import nn

from lstcloud.models.cnn import CNNModel
from lstcloud.models.fastnet import InferenceNetwork, fold_batchnorm
from lstcloud.models.network import SIFCNN, NetworkConfig
from lstcloud.models.normalization import Normalization


def _net() -> SIFCNN:
    torch.manual_seed(0)
    net = SIFCNN(NetworkConfig(residual=True))
    with torch.no_grad():  # non-trivial BatchNorm statistics
        for m in net.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 2.0)
    return net.eval()


def test_folded_network_equals_the_source() -> None:
    net = _net()
    x = torch.randn(2, 2, 64, 48)
    folded = fold_batchnorm(net)
    assert not any(isinstance(m, nn.BatchNorm2d) for m in folded.modules())
    assert any(isinstance(m, nn.BatchNorm2d) for m in net.modules())  # source untouched
    with torch.inference_mode():
        ref = net(x)
        out = InferenceNetwork(net)(x)
    assert out.shape == ref.shape
    assert float((out - ref).abs().max()) < 1e-4


def test_inference_copy_follows_weight_updates() -> None:
    net = _net()
    fast = InferenceNetwork(net)
    x = torch.randn(1, 2, 32, 32)
    with torch.inference_mode():
        before = fast(x)
    with torch.no_grad():
        net.head.bias.add_(1.0)  # an optimiser step changes parameters in place
    with torch.inference_mode():
        after = fast(x)
        ref = net(x)
    assert float((after - before).abs().min()) > 0.5
    assert float((after - ref).abs().max()) < 1e-4


def test_cnn_model_uses_the_copy_only_without_gradients() -> None:
    norm = Normalization(lst_mean=300.0, lst_std=5.0, ndvi_mean=0.5, ndvi_std=0.2)
    model = CNNModel(_net(), norm, receptive_field_px=88, device="cpu")
    lst = 300 + 3 * torch.randn(1, 1, 16, 16)
    ndvi = torch.rand(1, 1, 64, 64)
    fast = model.predict_tensor(lst, ndvi)
    lst_g = lst.clone().requires_grad_(True)
    slow = model.forward_kelvin(lst_g, ndvi)  # the probe's path: differentiable
    slow.sum().backward()
    assert lst_g.grad is not None and float(lst_g.grad.abs().sum()) > 0
    assert float((fast - slow.detach()).abs().max()) < 1e-4
