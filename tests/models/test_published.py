"""Importing the authors' released checkpoints (ModelB_2 naming) safely."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from lstcloud.errors import ConfigError
from lstcloud.models import SIFCNN, NetworkConfig, from_published_checkpoint
from lstcloud.models.published import published_to_sifcnn, sifcnn_to_published

from .conftest import NORM, random_network, scene

# Tensors of the authors' ModelB_2(in_channels=2, downchannels=[16, 32, 64, 128], bilinear=1)
# as their model.py names them (DoubleConvolution.bloc = conv, BN, act, conv, BN, act).
PUBLISHED_SHAPES = {
    "inbloc.bloc.0.weight": (16, 2, 3, 3),
    "inbloc.bloc.4.running_var": (16,),
    "db1.resblock.doubleconv.bloc.3.weight": (16, 16, 3, 3),
    "db1.lastconv.0.weight": (32, 16, 3, 3),
    "db3.lastconv.0.weight": (64, 64, 3, 3),
    "ub1.convbloc.bloc.0.weight": (64, 128, 3, 3),
    "ub1.convbloc.bloc.3.weight": (32, 64, 3, 3),
    "ub3.convbloc.bloc.3.weight": (16, 16, 3, 3),
    "outlay.weight": (1, 16, 3, 3),
    "outlay.bias": (1,),
}


def test_published_names_and_shapes_map_onto_sifcnn() -> None:
    published = sifcnn_to_published(SIFCNN().state_dict())
    for key, shape in PUBLISHED_SHAPES.items():
        assert tuple(published[key].shape) == shape, key
    # every tensor has a home and nothing is left over
    assert len(published) == len(SIFCNN().state_dict())
    with pytest.raises(ConfigError, match="unexpected tensor"):
        published_to_sifcnn({**published, "bridge.0.weight": torch.zeros(1)})


def test_checkpoint_round_trip(tmp_path: Path) -> None:
    net = random_network(5)
    ref_net = SIFCNN(NetworkConfig(align_corners=True))
    ref_net.load_state_dict(net.state_dict())
    ref_net.eval()
    path = tmp_path / "modelB_state_dict.pt"
    torch.save({f"module.{k}": v for k, v in sifcnn_to_published(net.state_dict()).items()}, path)
    model = from_published_checkpoint(path, NORM, name="sr1-authors", device="cpu")
    assert model.network.config.align_corners is True
    lst, ndvi = scene(8, 8)
    x = torch.randn(1, 2, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(model.network(x), ref_net(x))
    assert np.isfinite(model.predict_tensor(torch.from_numpy(lst)[None, None],
                                            torch.from_numpy(ndvi)[None, None]).numpy()).all()


def test_checkpoint_with_code_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "whole_model.pt"
    torch.save(SIFCNN(), path)  # a pickled module, not a state dict
    with pytest.raises(ConfigError, match="not a loadable tensor state dict"):
        from_published_checkpoint(path, NORM, name="x")
    bad = tmp_path / "partial.pt"
    torch.save({"inbloc.bloc.0.weight": torch.zeros(16, 2, 3, 3)}, bad)
    with pytest.raises(ConfigError, match="does not fit"):
        from_published_checkpoint(bad, NORM, name="x")
