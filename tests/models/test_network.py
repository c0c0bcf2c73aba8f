"""The SIF-CNN U-Net: parameter count, shapes, options, translation equivariance."""

from __future__ import annotations

import pytest
import torch

from lstcloud.errors import ConfigError
from lstcloud.models import SIFCNN, NetworkConfig, count_parameters

from .conftest import random_network


def test_published_configuration_has_282705_parameters() -> None:
    net = SIFCNN()
    assert count_parameters(net) == 282_705
    # the options that do not change the weights keep the count
    assert count_parameters(SIFCNN(NetworkConfig(align_corners=True, residual=True))) == 282_705
    convs = [m for m in net.modules() if isinstance(m, torch.nn.Conv2d)]
    assert all(m.padding_mode == "replicate" for m in convs)
    assert convs[0].in_channels == 2 and convs[-1].out_channels == 1
    assert sum(isinstance(m, torch.nn.AvgPool2d) for m in net.modules()) == 3


def test_forward_shapes_and_input_checks() -> None:
    net = SIFCNN().eval()
    with torch.no_grad():
        assert net(torch.randn(3, 2, 40, 24)).shape == (3, 1, 40, 24)
    with pytest.raises(ConfigError, match="multiples of 8"):
        net(torch.randn(1, 2, 36, 36))
    with pytest.raises(ConfigError, match="expects"):
        net(torch.randn(1, 3, 32, 32))


def test_residual_adds_the_bicubic_channel() -> None:
    net = SIFCNN(NetworkConfig(residual=True)).eval()
    with torch.no_grad():
        net.head.weight.zero_()
        net.head.bias.zero_()
        x = torch.randn(2, 2, 16, 16)
        torch.testing.assert_close(net(x), x[:, :1])


def test_config_round_trip_and_errors() -> None:
    cfg = NetworkConfig(residual=True)
    assert NetworkConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(ConfigError, match="unknown network option"):
        NetworkConfig.from_dict({"depth": 5})
    with pytest.raises(ConfigError, match="padding_mode"):
        NetworkConfig(padding_mode="circular")


def _crop_consistency(net: SIFCNN, x: torch.Tensor, offset: int, size: int, keep: int) -> float:
    """Max difference between the full output and the output of a crop, on the crop's
    interior (``keep`` pixels away from its edges)."""
    with torch.no_grad():
        full = net(x)
        part = net(x[..., offset:offset + size, offset:offset + size])
    a = full[..., offset + keep:offset + size - keep, offset + keep:offset + size - keep]
    b = part[..., keep:size - keep, keep:size - keep]
    return float((a - b).abs().max())


@pytest.mark.slow
def test_crops_aligned_to_8_give_the_same_interior() -> None:
    torch.manual_seed(0)
    x = torch.randn(1, 2, 256, 256)
    net = random_network(2)
    aligned = _crop_consistency(net, x, 40, 176, 80)
    assert aligned < 1e-5
    # the published align_corners=True makes the output depend on the input's extent
    published = SIFCNN(NetworkConfig(align_corners=True))
    published.load_state_dict(net.state_dict())
    published.eval()
    assert _crop_consistency(published, x, 40, 176, 80) > max(100 * aligned, 1e-6)
