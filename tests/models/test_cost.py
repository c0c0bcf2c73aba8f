"""The cost figures a card carries: measured side by side, FLOPs counted, GPU on paper."""

from __future__ import annotations

import pytest

from lstcloud.models import load_model
from lstcloud.models.cost import GPU_SUSTAINED_TFLOPS, measure_costs, sample_block


def test_costs_are_measured_side_by_side_and_counted() -> None:
    models = {"sif-cnn-sr1": load_model("sif-cnn-sr1", device="cpu"),
              "bicubic": load_model("bicubic", device="cpu")}
    figures = measure_costs(models, reference="sif-cnn-sr1", size=32, threads=1, repeats=1,
                            flops=True)
    sr1, bic = figures["sif-cnn-sr1"], figures["bicubic"]
    assert sr1.ratio == 1.0 and sr1.passes == 1
    assert sr1.mpx_per_s == pytest.approx(16 * 32 * 32 / 1e6 / sr1.seconds)
    # the U-Net's convolutions: ~55 kFLOP per 250 m pixel; bicubic a few hundred at most
    assert 20_000 < sr1.gflop_per_mpx * 1e3 < 200_000
    assert bic.gflop_per_mpx * 1e3 < 2_000 and bic.ratio < 1.0
    assert bic.gpu_mpx_per_s_paper is None or bic.gpu_mpx_per_s_paper > sr1.gpu_mpx_per_s_paper
    assert sr1.gpu_mpx_per_s_paper == pytest.approx(
        GPU_SUSTAINED_TFLOPS * 1e6 / (sr1.gflop_per_mpx * 1e3))
    card = sr1.to_card(size=32, threads=1, reference="sif-cnn-sr1")
    assert card["passes"] == 1 and card["time_x_sif-cnn-sr1"] == 1.0


def test_the_sample_block_is_a_valid_pair() -> None:
    lst, ndvi = sample_block(8)
    assert lst.shape == (8, 8) and ndvi.shape == (32, 32)
    assert 280 < lst.mean() < 310 and ndvi.min() >= 0.05 and ndvi.max() <= 0.9
