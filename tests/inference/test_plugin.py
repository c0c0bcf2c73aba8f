"""The worker plugin: keys name the model (not the device), each worker picks its device,
the model is loaded once per worker and never travels in the task graph."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import cloudpickle
import numpy as np
import pytest
import torch

from lstcloud.cli.main import main
from lstcloud.errors import ConfigError, LstcloudError
from lstcloud.inference.halo import plan_halo, super_resolve
from lstcloud.inference.plugin import (
    DEVICE_ENV,
    THREADS_ENV,
    ModelPlugin,
    get_model,
    install_model,
    model_key,
    model_status,
    resolve_device,
    torch_threads,
)
from lstcloud.inference.predict import (
    _has_plugin,
    model_fingerprint,
    predict_cube,
    register_model,
)
from lstcloud.product import open_product
from tests.inference.cubes import day_inputs, write_input_cube
from tests.inference.standin import (
    BallastModel,
    FailingStandInModel,
    StandInModel,
    set_worker_env,
)

ROOT = Path(__file__).resolve().parents[2]
DAYS = [dt.date(2021, 10, 1)]
NO_CUDA = not torch.cuda.is_available()


@pytest.fixture()
def tiny_cube(tmp_path: Path) -> str:
    lst, ndvi = day_inputs(32, 24, DAYS)
    return write_input_cube(tmp_path / "input.zarr", lst=lst, ndvi=ndvi, days=DAYS,
                            chunks_1km=(16, 24))


def test_keys_tell_models_apart_and_leave_the_device_out() -> None:
    a, b = StandInModel(), FailingStandInModel()  # same card, different behaviour
    assert model_key(a) != model_key(b)
    assert model_key(a) == model_key(StandInModel())
    assert model_key("sif-cnn-sr1", fingerprint="1") != model_key("sif-cnn-sr1", fingerprint="2")
    plugins = [ModelPlugin("sif-cnn-sr1", device=d, fingerprint="1") for d in
               ("auto", "cpu", "cuda", None)]
    assert {p.key for p in plugins} == {model_key("sif-cnn-sr1", fingerprint="1")}
    assert all(p.name == p.key for p in plugins)
    assert plugins[3].device == "auto"
    with pytest.raises(ConfigError, match="device must be one of auto, cpu, cuda"):
        ModelPlugin("sif-cnn-sr1", device="gpu")


def test_registry_lookup() -> None:
    model = StandInModel()
    install_model("lstcloud-model-test", model)
    assert get_model("lstcloud-model-test") is model
    assert model_status("lstcloud-model-test")["device"] == "cpu"
    with pytest.raises(LstcloudError, match="not loaded in this worker"):
        get_model("lstcloud-model-missing")


def test_device_is_resolved_from_the_request_the_worker_env_and_cuda() -> None:
    assert resolve_device("auto", environ={}, cuda_available=False) == "cpu"
    assert resolve_device(None, environ={}, cuda_available=True) == "cuda"
    assert resolve_device("cpu", environ={DEVICE_ENV: "cuda"}, cuda_available=True) == "cpu"
    assert resolve_device("auto", environ={DEVICE_ENV: "cpu"}, cuda_available=True) == "cpu"
    assert resolve_device("auto", environ={DEVICE_ENV: "cuda"}, cuda_available=True) == "cuda"
    assert resolve_device("cuda", environ={}, cuda_available=True) == "cuda"
    with pytest.raises(LstcloudError, match=r"worker w1: device 'cuda' requested by "
                       r"LSTCLOUD_DEVICE=cuda but no CUDA device is usable"):
        resolve_device("auto", environ={DEVICE_ENV: "cuda"}, cuda_available=False,
                       where="worker w1")
    with pytest.raises(LstcloudError, match="requested by the job's device setting"):
        resolve_device("cuda", environ={}, cuda_available=False)
    with pytest.raises(ConfigError, match="LSTCLOUD_DEVICE='tpu'"):
        resolve_device("auto", environ={DEVICE_ENV: "tpu"}, cuda_available=False)


def test_torch_threads_share_the_cores_between_concurrent_tasks() -> None:
    nanny = {"OMP_NUM_THREADS": "1"}  # what Dask's nanny sets in every worker
    assert torch_threads(nthreads=4, environ=nanny, cores=4) == 1
    assert torch_threads(nthreads=2, environ=nanny, cores=8) == 4
    assert torch_threads(nthreads=1, environ={}, cores=8) == 8
    assert torch_threads(nthreads=8, environ={}, cores=4) == 1
    # worker processes sharing one machine share its cores
    assert torch_threads(nthreads=1, host_nthreads=2, environ=nanny, cores=2) == 1
    # explicit choices win: the plugin's threads, LSTCLOUD_TORCH_THREADS, an OMP_NUM_THREADS
    assert torch_threads(nthreads=4, explicit=3, environ=nanny, cores=4) == 3
    assert torch_threads(nthreads=4, environ={**nanny, THREADS_ENV: "2"}, cores=4) == 2
    assert torch_threads(nthreads=4, environ={"OMP_NUM_THREADS": "3"}, cores=4) is None
    with pytest.raises(ConfigError, match=THREADS_ENV):
        torch_threads(nthreads=1, environ={THREADS_ENV: "many"}, cores=4)


def test_each_worker_loads_the_model_once_on_the_device_it_chose(
    tiny_cube: str, tmp_path: Path, cluster_client: Any
) -> None:
    model = BallastModel(seed=11)
    kwargs = dict(cube_url=tiny_cube, model=model, start=DAYS[0], end=DAYS[0],
                  client=cluster_client, tile_1km=16)
    first = predict_cube(out_url=str(tmp_path / "a.zarr"), **kwargs)
    second = predict_cube(out_url=str(tmp_path / "b.zarr"), **kwargs)  # same model again
    assert first.written == second.written == tuple(DAYS)
    n_workers = len(cluster_client.scheduler_info()["workers"])
    assert first.devices == {"cpu": n_workers}  # chosen on the workers: no CUDA here
    assert "devices   cpu x" in first.format()
    key = model_key(model, fingerprint=model_fingerprint(model))  # weights and card
    states = cluster_client.run(model_status, key)
    assert len(states) == n_workers
    from dask.system import CPU_COUNT

    for state in states.values():
        assert state["requested"] == "auto" and state["device"] == "cpu"
        assert state["loads"] == 1, states  # once per worker, not per task or per run
        assert 1 <= state["threads"] <= max(1, CPU_COUNT // state["nthreads"])
    info = open_product(str(tmp_path / "a.zarr")).attrs
    assert info["complete_days"] == [DAYS[0].isoformat()]


def test_the_task_graph_carries_the_key_not_the_model(tiny_cube: str) -> None:
    from lstcloud.inference.predict import open_input_cube

    model = BallastModel(seed=12)
    assert len(cloudpickle.dumps(model)) > 8_000_000
    ds = open_input_cube(tiny_cube)
    plan = plan_halo(model.receptive_field_px, tile_1km=16)
    out, _ = super_resolve(ds["lst_day"].data[0], ds["ndvi"].data[0],
                           model_key=model_key(model), plan=plan)
    graph = dict(out.__dask_graph__())
    assert len(graph) > 4
    pickled = len(cloudpickle.dumps(graph))
    assert pickled < 200_000, pickled  # no weights inside: they travel in the worker plugin


@pytest.mark.skipif(not NO_CUDA, reason="this machine has CUDA")
def test_cuda_asked_on_workers_without_cuda_fails_clearly(
    tiny_cube: str, tmp_path: Path, cluster_client: Any, capsys: pytest.CaptureFixture
) -> None:
    model = StandInModel(seed=13)
    out = str(tmp_path / "p.zarr")
    with pytest.raises(LstcloudError) as info:
        predict_cube(cube_url=tiny_cube, model=model, out_url=out, start=DAYS[0], end=DAYS[0],
                     client=cluster_client, device="cuda", tile_1km=16)
    message = str(info.value)
    assert "could not be loaded on the Dask workers" in message
    assert "worker tcp://" in message and "no CUDA device is usable" in message
    key = model_key(model, fingerprint=model_fingerprint(model))  # weights and card
    # the broken registration is withdrawn: workers joining later do not retry it
    assert not cluster_client.run_on_scheduler(_has_plugin, key)
    # the CLI reports it as a clean error
    code = main(["predict", "--cube", tiny_cube, "--model", "bicubic", "--out", out,
                 "--start", DAYS[0].isoformat(), "--end", DAYS[0].isoformat(),
                 "--scheduler", cluster_client.scheduler.address, "--device", "cuda"])
    assert code == 1
    assert "no CUDA device is usable" in capsys.readouterr().err
    # the same model on the CPU still works on the same cluster
    ok = predict_cube(cube_url=tiny_cube, model=model, out_url=out, start=DAYS[0],
                      end=DAYS[0], client=cluster_client, device="cpu", tile_1km=16)
    assert ok.written == tuple(DAYS) and ok.devices


@pytest.mark.slow
def test_gpu_workers_get_the_model_tasks_when_the_cluster_advertises_them(
    tiny_cube: str, tmp_path: Path
) -> None:
    """A cluster with one plain worker and one advertising GPU=1 (as the GPU worker group)."""
    from distributed import Client, LocalCluster

    dask_cli = shutil.which("dask", path=str(Path(sys.executable).parent))
    assert dask_cli, "the dask CLI of the venv"
    with (
        LocalCluster(n_workers=1, threads_per_worker=1, processes=True,
                     dashboard_address=None) as cluster,
        Client(cluster) as client,
    ):
        gpu = subprocess.Popen(
            [dask_cli, "worker", cluster.scheduler_address, "--nthreads", "1",
             "--resources", "GPU=1", "--no-dashboard", "--name", "gpu-0",
             "--local-directory", str(tmp_path / "gpu-worker")],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            env={**os.environ, "PYTHONPATH": os.pathsep.join(
                p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)},
        )
        try:
            client.wait_for_workers(2, timeout=60)
            workers = client.scheduler_info()["workers"]
            (gpu_addr,) = [a for a, w in workers.items() if w.get("resources", {}).get("GPU")]
            (cpu_addr,) = [a for a in workers if a != gpu_addr]
            model = StandInModel(seed=14)
            key = model_key(model, fingerprint=model_fingerprint(model))  # weights and card

            pinned = predict_cube(cube_url=tiny_cube, model=model, out_url=str(tmp_path / "a"),
                                  start=DAYS[0], end=DAYS[0], client=client, tile_1km=16)
            assert pinned.written == tuple(DAYS), pinned.format()
            states = client.run(model_status, key)
            # only the GPU worker loaded it (on its CPU: there is no CUDA here) ...
            assert states[gpu_addr]["device"] == "cpu" and states[gpu_addr]["loads"] == 1
            assert states[cpu_addr]["device"] is None and "not a GPU worker" in (
                states[cpu_addr]["skipped"])
            # ... so every model task ran there (elsewhere get_model would have failed)
            assert pinned.devices == {"cpu": 1}

            # device cpu: no pinning, every worker loads the model (re-registered)
            free = predict_cube(cube_url=tiny_cube, model=model, out_url=str(tmp_path / "b"),
                                start=DAYS[0], end=DAYS[0], client=client, device="cpu",
                                tile_1km=16)
            assert free.written == tuple(DAYS) and free.devices == {"cpu": 2}
            np.testing.assert_array_equal(open_product(str(tmp_path / "a")).lst_250m.values,
                                          open_product(str(tmp_path / "b")).lst_250m.values)

            # LSTCLOUD_DEVICE=cuda on the GPU worker (the manifest's setting) with auto: a GPU
            # worker that cannot use CUDA refuses, it does not silently run on its CPU
            client.run(set_worker_env, DEVICE_ENV, "cuda", workers=[gpu_addr])
            other = StandInModel(seed=15)
            with pytest.raises(LstcloudError, match=r"LSTCLOUD_DEVICE=cuda but no CUDA"):
                register_model(client, other, device="auto")
            # an explicit cpu request is honoured over the worker's setting
            plugin, states = register_model(client, other, device="cpu")
            assert {s["device"] for s in states.values()} == {"cpu"}
            assert not plugin.gpu_only
        finally:
            gpu.terminate()
            gpu.wait(timeout=30)
