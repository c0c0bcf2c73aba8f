"""Two-process DDP training on CPU (gloo): both replicas end with identical weights."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest
import torch
import torch.multiprocessing as mp

pytestmark = [pytest.mark.shared_data, pytest.mark.slow]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _worker(rank: int, world: int, port: int, data: str, out: str, result_dir: str) -> None:
    os.environ.update(
        MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank),
        WORLD_SIZE=str(world), LOCAL_RANK=str(rank),
    )
    torch.set_num_threads(1)
    from lstcloud.training import DevFolderPairs, fit
    from tests.training.conftest import tiny_config

    config = tiny_config("sif-cnn-sr1", path=Path(data), validate_every=3,
                         **{"optim.max_steps": 7})
    # record which patches this rank trains on (epoch 0) to show the data is sharded
    seen = []
    original = DevFolderPairs.__getitem__

    def spy(self, index):
        seen.append(int(index))
        return original(self, index)

    DevFolderPairs.__getitem__ = spy
    result = fit(config, out=out, stop_after=6, progress=False)
    torch.save(
        {"weights": result.network.state_dict(), "world": result.world_size, "seen": seen},
        Path(result_dir) / f"rank{rank}.pt",
    )


def test_two_process_gloo_replicas_stay_identical(aster_dev: Path, tmp_path: Path) -> None:
    port = _free_port()
    mp.spawn(_worker, args=(2, port, str(aster_dev), str(tmp_path / "run"), str(tmp_path)),
             nprocs=2, join=True)
    r0 = torch.load(tmp_path / "rank0.pt", weights_only=True)
    r1 = torch.load(tmp_path / "rank1.pt", weights_only=True)
    assert r0["world"] == r1["world"] == 2
    for key, value in r0["weights"].items():
        assert torch.equal(value, r1["weights"][key]), key
    # in epoch 0 (16 patches, 8 per rank) each rank drew its own shard of the patch indices
    first0, first1 = set(r0["seen"][:8]), set(r1["seen"][:8])
    assert len(first0) == len(first1) == 8 and not first0 & first1
    # rank 0 alone wrote the run's files; training moved the weights
    assert (tmp_path / "run" / "checkpoints" / "last.pt").exists()
    ckpt = torch.load(tmp_path / "run" / "checkpoints" / "last.pt", weights_only=True)
    for key, value in ckpt["model"].items():
        assert torch.equal(value, r0["weights"][key]), key
    from lstcloud.models.network import SIFCNN, NetworkConfig

    torch.manual_seed(3)
    init = SIFCNN(NetworkConfig(residual=True)).state_dict()
    assert not torch.equal(init["inc.0.weight"], r0["weights"]["inc.0.weight"])
