"""``lstcloud train`` end to end on a tiny config."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lstcloud.cli.main import main

pytestmark = pytest.mark.shared_data

TINY = """
name: tiny-sr2
loss: sif-cnn-sr2
network: {{residual: true}}
data: {{path: {data}, patch_1km: 16, samples: ["000", "020", "147"], val_samples: ["147"],
        patches_per_epoch: 8}}
optim: {{batch_size: 4, max_steps: 50, warmup_steps: 1}}
validate_every: 2
log_every: 1
device: cpu
"""


@pytest.mark.slow
def test_train_command_writes_a_model_folder(aster_dev: Path, tmp_path: Path, capsys) -> None:
    config = tmp_path / "tiny.yaml"
    config.write_text(TINY.format(data=aster_dev))
    out = tmp_path / "model"
    code = main(["train", "--config", str(config), "--out", str(out), "--max-steps", "3",
                 "--threads", "1", "--no-progress"])
    assert code == 0
    printed = capsys.readouterr().out
    assert "model tiny-sr2" in printed and "Wald RMSE" in printed
    card = json.loads((out / "model.json").read_text())
    assert card["training"]["steps"] == 3
    assert card["training"]["config"]["optim"]["max_steps"] == 3
    assert card["training"]["config"]["num_threads"] == 1
    assert {"model.safetensors", "model.json", "metrics.jsonl", "loss_curve.png"} <= {
        p.name for p in out.iterdir()
    }


def test_train_command_reports_bad_fields(tmp_path: Path, capsys) -> None:
    config = tmp_path / "bad.yaml"
    config.write_text("name: x\noptim: {lr: 0.1, momentum: 0.9}\n")
    code = main(["train", "--config", str(config), "--out", str(tmp_path / "m")])
    assert code == 2  # a usage / configuration error (issue 24)
    err = capsys.readouterr().err
    assert "optim.momentum" in err and str(config) in err
    assert not (tmp_path / "m").exists()
