"""Fixtures for the model tests: a randomly initialised SIF-CNN with non-trivial BatchNorm."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
import torch

from lstcloud.models import SIFCNN, CNNModel, Normalization


@pytest.fixture(scope="package", autouse=True)
def _one_torch_thread() -> Iterator[None]:
    """Small tensors: one intra-op thread is faster than two on a shared 2-core machine."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


def random_network(seed: int = 0) -> SIFCNN:
    """A SIFCNN with random weights and random BatchNorm running statistics (eval mode)."""
    torch.manual_seed(seed)
    net = SIFCNN()
    with torch.no_grad():
        for module in net.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.running_mean.uniform_(-0.2, 0.2)
                module.running_var.uniform_(0.5, 1.5)
                module.weight.uniform_(0.5, 1.5)
                module.bias.uniform_(-0.1, 0.1)
    return net.eval()


NORM = Normalization(lst_mean=295.0, lst_std=8.0, ndvi_mean=0.45, ndvi_std=0.2)


def scene(h: int, w: int, *, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A structured (1 km LST, 250 m NDVI) pair with features up to the edges."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0 : 4 * h, 0 : 4 * w] / 4.0
    ndvi = 0.45 + 0.3 * np.sin(xx / 2.3 + rng.uniform(0, 6)) * np.cos(yy / 3.1)
    ndvi = (ndvi + rng.normal(0, 0.03, ndvi.shape)).astype(np.float32)
    lst_fine = 300.0 - 15.0 * ndvi + rng.normal(0, 0.5, ndvi.shape)
    lst = lst_fine.reshape(h, 4, w, 4).mean(axis=(1, 3)).astype(np.float32)
    return lst, ndvi


@pytest.fixture(scope="session")
def measured_model() -> CNNModel:
    """A random-weight CNN model whose receptive field is measured by the probe (once)."""
    model = CNNModel(random_network(1), NORM, name="test-sif", loss="sif-cnn-sr1",
                     training_data={"samples": []}, validation={}, device="cpu")
    _ = model.receptive_field_px
    return model
