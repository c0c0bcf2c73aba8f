"""CUDA numerics of a worker (:mod:`lstcloud.inference.precision`).

The names and the CPU path are checked everywhere; the accuracy of the reduced precisions
against float32 (within 0.05 K on real scenes) needs a CUDA device and is skipped without one:
the CPU always computes in float32."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch

from lstcloud.errors import ConfigError
from lstcloud.inference import precision
from lstcloud.inference.precision import (
    PRECISION_ENV,
    TOLERANCE_K,
    autocast,
    check_precision,
    configure_cuda,
    worker_precision,
)

CUDA = torch.cuda.is_available()


@pytest.fixture
def restore_numerics(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """configure_cuda changes process-wide torch flags: put them back after the test."""
    saved = (torch.backends.cudnn.benchmark, torch.backends.cudnn.allow_tf32,
             torch.backends.cuda.matmul.allow_tf32, torch.get_float32_matmul_precision())
    monkeypatch.setattr(precision, "_cuda_precision", "float32")
    yield
    (torch.backends.cudnn.benchmark, torch.backends.cudnn.allow_tf32,
     torch.backends.cuda.matmul.allow_tf32) = saved[:3]
    torch.set_float32_matmul_precision(saved[3])


def test_precision_names_default_to_tf32_and_an_unknown_one_names_the_variable() -> None:
    assert check_precision(None) == "tf32" and check_precision(" BF16 ") == "bf16"
    assert worker_precision({}) == "tf32"
    assert worker_precision({PRECISION_ENV: "float32"}) == "float32"
    with pytest.raises(ConfigError, match=PRECISION_ENV):
        worker_precision({PRECISION_ENV: "fp16"})


def test_float32_turns_tf32_off_and_tf32_on(restore_numerics: None) -> None:
    assert configure_cuda("float32") == "float32"
    assert not torch.backends.cuda.matmul.allow_tf32 and not torch.backends.cudnn.allow_tf32
    assert torch.get_float32_matmul_precision() == "highest" and torch.backends.cudnn.benchmark
    configure_cuda("tf32")
    assert torch.backends.cuda.matmul.allow_tf32 and torch.backends.cudnn.allow_tf32


def test_the_cpu_never_autocasts_even_on_a_worker_configured_for_bf16(
    restore_numerics: None,
) -> None:
    configure_cuda("bf16")
    for device in ("cpu", torch.device("cpu")):
        with autocast(device):
            out = torch.ones(4, 4) @ torch.ones(4, 4)
        assert out.dtype == torch.float32
        assert isinstance(autocast(device), contextlib.nullcontext)


@pytest.mark.skipif(not CUDA, reason="needs a CUDA device (the CPU computes in float32 only)")
@pytest.mark.parametrize("name", ["tf32", "bf16"])
def test_reduced_precision_stays_within_tolerance_of_float32_on_real_scenes(
    name: str, aster_dev: Path, restore_numerics: None
) -> None:
    from lstcloud.evaluate.datasets import fill_nearest, read_dev_sample
    from lstcloud.models import load_model

    model = load_model("default", device="cuda")
    worst = 0.0
    for scene in ("000", "102", "196"):
        sample = read_dev_sample(aster_dev / scene, with_aster=False)
        lst_1km = fill_nearest(sample.lst_1km.data).astype(np.float32)
        lst = torch.from_numpy(lst_1km)[None, None].cuda()
        ndvi = torch.from_numpy(sample.ndvi_250m.data.astype(np.float32))[None, None].cuda()
        outs = {}
        for mode in ("float32", name):
            configure_cuda(mode)
            with torch.inference_mode(), autocast("cuda"):
                outs[mode] = model.predict_tensor(lst, ndvi).float().cpu().numpy()
        ok = np.isfinite(outs["float32"])
        assert ok.mean() > 0.5
        worst = max(worst, float(np.abs(outs[name][ok] - outs["float32"][ok]).max()))
    assert worst <= TOLERANCE_K, f"{name}: {worst:.4f} K from float32"
