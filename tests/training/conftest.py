"""Fixtures of the training tests: tiny configs over the real development pairs."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from lstcloud.training import TrainConfig


@pytest.fixture(autouse=True)
def _one_thread():
    """Tests share 2 cores with the rest of the suite."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


def tiny_config(name: str = "sif-cnn-sr1", *, method: str = "sif", path: Path | None = None,
                **updates) -> TrainConfig:
    """A config that trains in a second or two: 16 px patches at 1 km, batch 4."""
    config = TrainConfig(
        name=name,
        method=method,
        loss=name,
        network={"residual": True},
        data={
            "path": str(path) if path else None,
            "patch_1km": 16,
            "val_samples": ["040", "147"],
            "samples": ["000", "007", "020", "040", "147"],
            "patches_per_epoch": 16,
        },
        optim={"lr": 2e-3, "batch_size": 4, "max_steps": 20, "warmup_steps": 2},
        validate_every=10,
        checkpoint_every=5,
        log_every=1,
        seed=3,
        device="cpu",
    )
    return config.with_updates(**updates) if updates else config


def link_scenes(aster_dev: Path, root: Path, names: list[str]) -> Path:
    """A dev folder ``root`` holding symlinks to the named development triplets."""
    root.mkdir()
    for name in names:
        (root / name).symlink_to(aster_dev / name)
    return root
