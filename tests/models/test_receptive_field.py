"""The gradient probe against networks of known receptive field, and against perturbations."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from lstcloud.errors import LstcloudError
from lstcloud.models import CNNModel
from lstcloud.models.receptive_field import (
    halo_px,
    measure_pipeline_receptive_field,
    measure_receptive_field,
)

from .conftest import scene


@pytest.mark.parametrize(
    ("layers", "expected"),
    [
        ([nn.Conv2d(2, 4, 3, padding=1)], 1),
        ([nn.Conv2d(2, 4, 3, padding=1), nn.ReLU(), nn.Conv2d(4, 1, 5, padding=2)], 3),
        ([nn.Conv2d(2, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(),
          nn.Conv2d(4, 4, 3, padding=2, dilation=2), nn.Conv2d(4, 1, 5, padding=2)], 5),
        ([nn.AvgPool2d(2), nn.Conv2d(2, 1, 3, padding=1), nn.Upsample(scale_factor=2)], 3),
    ],
)
def test_probe_on_known_networks(layers: list[nn.Module], expected: int) -> None:
    torch.manual_seed(0)
    assert measure_receptive_field(nn.Sequential(*layers), size=48) == expected


def test_probe_refuses_a_too_small_image() -> None:
    net = nn.Sequential(*[nn.Conv2d(2, 2, 9, padding=4) for _ in range(5)])
    with pytest.raises(LstcloudError, match="larger size"):
        measure_receptive_field(net, size=32)


def test_pipeline_probe_counts_coarse_pixels() -> None:
    # nearest upsampling of the LST: an output depends on its own coarse pixel only
    def nearest(lst: torch.Tensor, ndvi: torch.Tensor) -> torch.Tensor:
        return torch.nn.functional.interpolate(lst, scale_factor=4, mode="nearest") + 0 * ndvi

    assert measure_pipeline_receptive_field(nearest, size_1km=16) == 0

    def box(lst: torch.Tensor, ndvi: torch.Tensor) -> torch.Tensor:  # 3x3 coarse box, 5x5 NDVI
        up = torch.nn.functional.interpolate(torch.nn.functional.avg_pool2d(
            lst, 3, stride=1, padding=1), scale_factor=4, mode="nearest")
        return up + torch.nn.functional.avg_pool2d(ndvi, 5, stride=1, padding=2)

    assert measure_pipeline_receptive_field(box, size_1km=16) == 4


def test_halo_rounding() -> None:
    assert [halo_px(r) for r in (0, 1, 8, 9, 73, 88)] == [0, 8, 8, 16, 80, 88]


@pytest.mark.slow
def test_model_receptive_field_bounds_the_influence(measured_model: CNNModel) -> None:
    rf = measured_model.receptive_field_px
    exact = measured_model.card["receptive_field_exact_px"]
    assert rf % 8 == 0 and rf >= exact >= 73  # the bare network alone reaches 73 px
    lst, ndvi = scene(56, 56, seed=3)
    centre = 4 * 28 + 1
    base = measured_model.predict(lst, ndvi)[centre, centre]
    # perturbing the NDVI just outside the field changes nothing ...
    far = ndvi.copy()
    far[centre + exact + 1, centre] += 5.0
    far[centre, centre - exact - 1] -= 5.0
    assert measured_model.predict(lst, far)[centre, centre] == base
    # ... while inside the field it does
    near = ndvi.copy()
    near[centre + 12, centre] += 5.0
    assert abs(measured_model.predict(lst, near)[centre, centre] - base) > 0
    # the LST: a coarse pixel more than exact/4 coarse pixels away has no influence
    coarse_far = lst.copy()
    coarse_far[28 + exact // 4 + 1, 28] += 10.0
    assert np.float32(measured_model.predict(coarse_far, ndvi)[centre, centre]) == base


@pytest.mark.slow
def test_known_architecture_fields_are_what_the_probe_measures() -> None:
    from lstcloud.models import cnn
    from lstcloud.models.network import NetworkConfig

    config = NetworkConfig(residual=True)
    key = cnn.json.dumps(config.to_dict(), sort_keys=True)
    table = cnn._ARCHITECTURE_RF.pop(key)
    try:
        assert cnn.architecture_receptive_field(config) == table
    finally:
        cnn._ARCHITECTURE_RF[key] = table


def test_a_card_claiming_too_small_a_field_is_corrected(tmp_path) -> None:
    import json
    import shutil
    import warnings

    from lstcloud.errors import LstcloudWarning
    from lstcloud.models import load_model
    from lstcloud.models.registry import shipped_models_dir

    folder = tmp_path / "sr1"
    shutil.copytree(shipped_models_dir() / "sif-cnn-sr1", folder)
    card = json.loads((folder / "model.json").read_text())
    for key in ("receptive_field_px", "receptive_field_exact_px", "receptive_field_network_px"):
        card[key] = 0
    (folder / "model.json").write_text(json.dumps(card))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = load_model(folder, device="cpu")
    assert model.receptive_field_px >= 96  # 88 px network + 8 px consistency correction
    assert any(issubclass(w.category, LstcloudWarning) and "measured" in str(w.message)
               for w in caught)
    with warnings.catch_warnings():
        warnings.simplefilter("error", LstcloudWarning)  # the shipped card is right: no warning
        assert load_model("sif-cnn-sr1", device="cpu").receptive_field_px == 96
