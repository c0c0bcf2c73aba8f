"""The training loop: SIF (1 km -> 250 m) or scale-consistency (4 km -> 1 km) training of SIFCNN.

One function, :func:`train`, runs single-process or under ``torchrun`` (DDP; ``nccl`` on CUDA,
``gloo`` on CPU). It writes into ``out``:

- ``model.safetensors`` + ``model.json``: the released model (:func:`lstcloud.models.save_model`);
- ``metrics.jsonl``: one JSON record per logged step and per validation;
- ``loss_curve.png``: training and validation loss against the step;
- ``checkpoints/last.pt``: model, optimiser, scheduler, RNG states, step, early-stopping state.
  Re-running the same command resumes from it exactly (the same weights as an uninterrupted run).

Patches are a pure function of ``(seed, epoch, index)`` (see :mod:`lstcloud.training.data`), so
resuming needs no data-loader state.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import platform
import random
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DistributedSampler

from lstcloud.errors import ConfigError
from lstcloud.models.cnn import CNNModel, save_model
from lstcloud.models.losses import PRESETS, LossConfig
from lstcloud.models.network import SIFCNN, NetworkConfig, count_parameters
from lstcloud.models.normalization import Normalization
from lstcloud.models.objective import TrainingObjective, prepare_batch, sc_inputs, valid_4km
from lstcloud.training.config import TrainConfig
from lstcloud.training.data import PatchDataset, open_training_data, split_ids
from lstcloud.training.distributed import (
    DistContext,
    all_reduce_mean,
    cleanup_distributed,
    init_distributed,
    sync_buffers,
)

__all__ = ["TrainResult", "build_loss_config", "fit", "train", "write_loss_curve"]

log = logging.getLogger(__name__)

CHECKPOINT = "checkpoints/last.pt"
METRICS = "metrics.jsonl"
CURVE = "loss_curve.png"


@dataclasses.dataclass(frozen=True)
class TrainResult:
    """What :func:`fit` returns (:func:`train` returns only ``folder``).

    Attributes
    ----------
    folder
        The output folder.
    steps
        Optimiser steps done in total (including resumed ones).
    stopped_early
        Early stopping ended the run.
    finished
        The run reached ``max_steps`` or stopped early (the model folder was written).
    network
        This process's trained network (the best validation weights when finished).
    world_size
        Number of DDP processes that trained it.
    """

    folder: Path
    steps: int
    stopped_early: bool
    finished: bool
    network: SIFCNN
    world_size: int = 1


def build_loss_config(config: TrainConfig) -> LossConfig:
    """The preset named by ``config.loss`` with ``config.loss_overrides`` applied."""
    preset = PRESETS[config.loss]
    if not config.loss_overrides:
        return preset
    fields = {f.name for f in dataclasses.fields(preset)}
    unknown = sorted(set(config.loss_overrides) - fields)
    if unknown:
        raise ConfigError(f"loss_overrides: unknown LossConfig fields {unknown}")
    return dataclasses.replace(preset, **config.loss_overrides)


# ----------------------------------------------------------------------------- batches
def _collate(items: list[dict[str, torch.Tensor]], device: torch.device) -> dict[str, torch.Tensor]:
    return {k: torch.stack([it[k] for it in items]).to(device) for k in items[0]}


# ----------------------------------------------------------------------------- validation
@torch.no_grad()
def _validate(
    net: nn.Module,
    items: list[dict[str, torch.Tensor]],
    objective: TrainingObjective,
    norm: Normalization,
    ctx: DistContext,
) -> dict[str, float]:
    """Validation loss, plus Wald-protocol RMSE (4 km -> 1 km) of the network and of bicubic, K.

    Items are shared out over the ranks and the sums all-reduced.
    """
    was_training = net.training
    net.eval()
    sums = torch.zeros(5, dtype=torch.float64)
    for item in items[ctx.rank :: ctx.world_size]:
        batch = _collate([item], ctx.device)
        loss, _ = objective(net, batch)
        # Wald: degrade the 1 km LST to 4 km, super-resolve with the 1 km NDVI, score at 1 km
        lst_z, _, mask = prepare_batch(batch, norm)
        x = sc_inputs(batch, norm)
        valid = mask & valid_4km(mask)
        pred_k = net(x) * norm.lst_std
        bic_k = x[:, :1] * norm.lst_std
        true_k = lst_z * norm.lst_std
        n = float(valid.sum())
        sums += torch.tensor(
            [
                float(loss),
                1.0,
                float((((pred_k - true_k) ** 2) * valid).sum()),
                float((((bic_k - true_k) ** 2) * valid).sum()),
                n,
            ],
            dtype=torch.float64,
        )
    if ctx.distributed:
        import torch.distributed as dist

        sums = sums.to(ctx.device)
        dist.all_reduce(sums)
        sums = sums.cpu()
    net.train(was_training)
    loss_sum, count, se_net, se_bic, npx = sums.tolist()
    if count == 0:
        return {}
    return {
        "val_loss": loss_sum / count,
        "wald_rmse_K": math.sqrt(se_net / max(npx, 1.0)),
        "wald_rmse_bicubic_K": math.sqrt(se_bic / max(npx, 1.0)),
        "val_items": int(count),
    }


# ----------------------------------------------------------------------------- schedule
def _lr_lambda(step: int, *, warmup: int, total: int, schedule: str, min_ratio: float) -> float:
    if warmup and step < warmup:
        return (step + 1) / warmup
    if schedule == "constant":
        return 1.0
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    return min_ratio + (1 - min_ratio) * 0.5 * (1 + math.cos(math.pi * progress))


# ----------------------------------------------------------------------------- checkpoints
def _rng_state() -> dict[str, Any]:
    state: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "python": list(random.getstate()[1]),
        "python_version": random.getstate()[0],
        "python_gauss": random.getstate()[2],
        "numpy": torch.from_numpy(np.random.get_state()[1].astype(np.int64)),
        "numpy_pos": int(np.random.get_state()[2]),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    random.setstate((state["python_version"], tuple(state["python"]), state["python_gauss"]))
    np.random.set_state(
        ("MT19937", state["numpy"].numpy().astype(np.uint32), state["numpy_pos"], 0, 0.0)
    )
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _config_fingerprint(config: TrainConfig) -> str:
    """The config minus the fields that do not change the result (threads, loader workers)."""
    data = config.model_dump(mode="json")
    data.pop("num_threads", None)
    data["data"].pop("num_workers", None)
    if data.get("distill") is None:
        data.pop("distill", None)  # (checkpoints from before the field existed)
    return json.dumps(data, sort_keys=True)


# ----------------------------------------------------------------------------- outputs
def _append_jsonl(path: Path, record: dict[str, Any]) -> None:
    with path.open("a", encoding="utf-8") as fh:
        fh.write(json.dumps(record) + "\n")


def _truncate_metrics(path: Path, step: int) -> None:
    if not path.exists():
        return
    keep = [
        line
        for line in path.read_text(encoding="utf-8").splitlines()
        if line.strip() and json.loads(line).get("step", 0) <= step
    ]
    path.write_text("".join(line + "\n" for line in keep), encoding="utf-8")


def write_loss_curve(metrics_path: Path, png_path: Path, *, title: str = "") -> Path:
    """Plot the training and validation losses of a ``metrics.jsonl`` to a PNG (Agg)."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    records = [
        json.loads(line)
        for line in metrics_path.read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]
    train = [(r["step"], r["train_loss"]) for r in records if "train_loss" in r]
    val = [(r["step"], r["val_loss"]) for r in records if "val_loss" in r]
    fig, ax = plt.subplots(figsize=(6, 4), dpi=100)
    if train:
        ax.plot(*zip(*train, strict=True), label="training loss")
    if val:
        ax.plot(*zip(*val, strict=True), "o-", label="validation loss")
    ax.set_xlabel("optimiser step")
    ax.set_ylabel("loss (z-scored units)")
    ax.set_yscale("log")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(png_path)
    plt.close(fig)
    return png_path


# ----------------------------------------------------------------------------- main entry
def _epoch_batches(sampler: DistributedSampler, epoch: int, batch_size: int) -> list[list[int]]:
    sampler.set_epoch(epoch)
    indices = list(sampler)
    n = len(indices) // batch_size
    return [indices[i * batch_size : (i + 1) * batch_size] for i in range(n)]


def _stack(items: list[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    return {k: torch.stack([it[k] for it in items]) for k in items[0]}


def _iter_batches(
    dataset: PatchDataset, batches: list[list[int]], *, num_workers: int, pin: bool
) -> Iterator[dict[str, torch.Tensor]]:
    """The given batches of the current epoch, read in-process or by loader workers."""
    if num_workers == 0:
        for indices in batches:
            yield _stack([dataset[i] for i in indices])
        return
    from torch.utils.data import DataLoader

    yield from DataLoader(
        dataset, batch_sampler=batches, num_workers=num_workers, collate_fn=_stack, pin_memory=pin
    )


def _autocast(ctx: DistContext, amp: str) -> tuple[Any, torch.dtype | None]:
    if ctx.device.type != "cuda" or amp == "off":
        return None, None
    if amp == "bf16" or (amp == "auto" and torch.cuda.is_bf16_supported()):
        return torch.autocast("cuda", dtype=torch.bfloat16), torch.bfloat16
    return torch.autocast("cuda", dtype=torch.float16), torch.float16


def train(
    config: TrainConfig,
    *,
    out: str | Path,
    data: str | PatchDataset | None = None,
    device: str | None = None,
    max_steps: int | None = None,
    resume: bool = True,
    progress: bool = True,
) -> Path:
    """Train SIFCNN as ``config`` says and write the model folder ``out``.

    Parameters
    ----------
    config
        The run (see :class:`~lstcloud.training.config.TrainConfig`).
    out
        Output folder: the model (``model.safetensors``, ``model.json``) and the run's
        ``metrics.jsonl``, ``loss_curve.png``, ``checkpoints/``.
    data
        A dev folder or cube URL replacing ``config.data.path``, or a ready
        :class:`~lstcloud.training.data.PatchDataset` (its whole sample set is split).
    device
        Overrides ``config.device``.
    max_steps
        Overrides ``config.optim.max_steps`` (also the schedule's length).
    resume
        Continue from ``out/checkpoints/last.pt`` when present.
    progress
        Show a tqdm progress bar (rank 0 only).

    Returns
    -------
    pathlib.Path
        ``out`` (the model folder).
    """
    if config.method == "distill":  # its own loop: whole scenes against a teacher's output
        from lstcloud.training.distill import distill

        if max_steps is not None:
            config = config.with_updates(**{"optim.max_steps": int(max_steps)})
        if isinstance(data, PatchDataset):
            raise ConfigError(f"{config.name}: distillation takes a dev folder path, not a dataset")
        if data is not None:
            config = config.with_updates(**{"data.path": str(data)})
        return distill(config, out=out, progress=progress)
    return fit(
        config,
        out=out,
        data=data,
        device=device,
        max_steps=max_steps,
        resume=resume,
        progress=progress,
    ).folder


def fit(
    config: TrainConfig,
    *,
    out: str | Path,
    data: str | PatchDataset | None = None,
    device: str | None = None,
    max_steps: int | None = None,
    stop_after: int | None = None,
    resume: bool = True,
    progress: bool = True,
) -> TrainResult:
    """:func:`train`, returning a :class:`TrainResult`; ``stop_after`` interrupts the run.

    ``stop_after=N`` stops after ``N`` steps of this call and leaves a checkpoint (the model
    folder is not written), as an interrupted run would; a later call with the same config
    resumes exactly. Under ``torchrun`` the process group is set up and torn down here.
    """
    if max_steps is not None:
        config = config.with_updates(**{"optim.max_steps": int(max_steps)})
    if device is not None:
        config = config.with_updates(device=device)
    ctx = init_distributed(config.device)
    try:
        return _train(
            config,
            out=Path(out),
            data=data,
            ctx=ctx,
            stop_after=stop_after,
            resume=resume,
            progress=progress,
        )
    finally:
        cleanup_distributed(ctx)


def _open_data(config: TrainConfig, data: str | PatchDataset | None) -> PatchDataset:
    if isinstance(data, PatchDataset):
        return data
    d = config.data
    return open_training_data(
        str(data) if data is not None else d.path,
        source=d.source if data is None else "auto",
        samples=d.samples,
        start=d.start,
        end=d.end,
        patch_1km=d.patch_1km,
        min_valid=d.min_valid,
        patches_per_epoch=d.patches_per_epoch,
        seed=config.seed,
        augment=d.augment,
        storage_options=d.storage_options,
    )


@dataclasses.dataclass
class _Run:
    """Everything one training run holds (set up by :func:`_setup`)."""

    config: TrainConfig
    ctx: DistContext
    train_ds: PatchDataset
    train_ids: list[str]
    val_ids: list[str]
    val_items: list[dict[str, torch.Tensor]]
    norm: Normalization
    loss_cfg: LossConfig
    objective: TrainingObjective
    net: SIFCNN
    model: nn.Module
    opt: torch.optim.Optimizer
    sched: torch.optim.lr_scheduler.LambdaLR
    scaler: torch.amp.GradScaler
    autocast: Any
    sampler: DistributedSampler
    per_epoch: int
    state: dict[str, Any]
    best_weights: dict[str, torch.Tensor] | None = None


def _new_state() -> dict[str, Any]:
    return {
        "step": 0,
        "best_val": math.inf,
        "bad_checks": 0,
        "stopped_early": False,
        "best_step": 0,
        "last_val": {},
        "train_time_s": 0.0,
        "recent_losses": [],
        "patches_drawn": 0,
        "rejected_draws": 0,
        "fallback_draws": 0,
    }


def _setup(config: TrainConfig, data: str | PatchDataset | None, ctx: DistContext) -> _Run:
    """Seed, open and split the data, build the network, optimiser, schedule and sampler."""
    if config.num_threads and ctx.device.type == "cpu":
        torch.set_num_threads(config.num_threads)
    torch.manual_seed(config.seed)
    random.seed(config.seed)
    np.random.seed(config.seed % 2**32)

    dataset = _open_data(config, data)
    train_ids, val_ids = split_ids(
        dataset.sample_ids,
        val_fraction=config.data.val_fraction,
        seed=config.seed,
        val_ids=config.data.val_samples,
    )
    train_ds = dataset.subset(train_ids)
    train_ds.check_patches()  # fails naming the data when no patch passes data.min_valid
    val_ds = dataset.subset(val_ids, augment=False) if val_ids else None
    norm = Normalization.from_arrays(*train_ds.stats_arrays())

    loss_cfg = build_loss_config(config)
    objective = TrainingObjective(config.method, loss_cfg, norm, channels_last=config.channels_last)
    net = SIFCNN(NetworkConfig.from_dict(config.network)).to(ctx.device)
    if config.channels_last:
        net = net.to(memory_format=torch.channels_last)
    model: nn.Module = net
    if ctx.distributed:
        model = DistributedDataParallel(
            net, device_ids=[ctx.device.index] if ctx.device.type == "cuda" else None
        )
    o = config.optim
    opt = torch.optim.AdamW(net.parameters(), lr=o.lr, weight_decay=o.weight_decay)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt,
        lambda s: _lr_lambda(
            s, warmup=o.warmup_steps, total=o.max_steps, schedule=o.schedule,
            min_ratio=o.min_lr_ratio,
        ),
    )
    autocast, amp_dtype = _autocast(ctx, config.amp)
    sampler = DistributedSampler(
        train_ds, num_replicas=ctx.world_size, rank=ctx.rank, shuffle=True, seed=config.seed,
        drop_last=True,
    )
    per_epoch = len(sampler) // o.batch_size
    if per_epoch < 1:
        raise ConfigError(
            f"data.patches_per_epoch={config.data.patches_per_epoch} gives no full batch of "
            f"{o.batch_size} per process (world size {ctx.world_size})"
        )
    return _Run(
        config=config, ctx=ctx, train_ds=train_ds, train_ids=train_ids, val_ids=val_ids,
        val_items=val_ds.validation_items() if val_ds is not None else [], norm=norm,
        loss_cfg=loss_cfg, objective=objective, net=net, model=model, opt=opt, sched=sched,
        scaler=torch.amp.GradScaler("cuda", enabled=amp_dtype == torch.float16),
        autocast=autocast, sampler=sampler, per_epoch=per_epoch, state=_new_state(),
    )


def _restore(run: _Run, out: Path, *, resume: bool) -> None:
    """Resume from ``out/checkpoints/last.pt`` when asked and present (refusing another
    config's checkpoint); otherwise start a fresh ``metrics.jsonl``."""
    ckpt_path, metrics_path = out / CHECKPOINT, out / METRICS
    if run.ctx.is_main:
        (out / "checkpoints").mkdir(parents=True, exist_ok=True)
    if resume and ckpt_path.exists():
        ckpt = torch.load(ckpt_path, map_location=run.ctx.device, weights_only=True)
        if ckpt["config"] != _config_fingerprint(run.config):
            raise ConfigError(
                f"{ckpt_path}: checkpoint was written by a different training config; "
                "use another --out or delete the checkpoint"
            )
        run.net.load_state_dict(ckpt["model"])
        run.opt.load_state_dict(ckpt["optimizer"])
        run.sched.load_state_dict(ckpt["scheduler"])
        run.scaler.load_state_dict(ckpt["scaler"])
        _set_rng_state(ckpt["rng"])
        run.state.update(json.loads(ckpt["state"]))
        run.best_weights = ckpt.get("best_model")
        if run.ctx.is_main:
            _truncate_metrics(metrics_path, run.state["step"])
        log.info("resumed %s at step %d", ckpt_path, run.state["step"])
    elif run.ctx.is_main and metrics_path.exists():
        metrics_path.unlink()


def _save_checkpoint(run: _Run, out: Path) -> None:
    """Write ``checkpoints/last.pt`` atomically (rank 0), then synchronise the ranks."""
    if run.ctx.is_main:
        payload = {
            "model": run.net.state_dict(),
            "optimizer": run.opt.state_dict(),
            "scheduler": run.sched.state_dict(),
            "scaler": run.scaler.state_dict(),
            "rng": _rng_state(),
            "state": json.dumps(run.state),
            "config": _config_fingerprint(run.config),
        }
        if run.best_weights is not None:
            payload["best_model"] = run.best_weights
        ckpt_path = out / CHECKPOINT
        tmp = ckpt_path.with_suffix(".tmp")
        torch.save(payload, tmp)
        tmp.replace(ckpt_path)
    if run.ctx.distributed:
        import torch.distributed as dist

        dist.barrier()


def _step(run: _Run, raw: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict[str, float]]:
    """One optimiser step on a batch; counts the patch draws."""
    state, o = run.state, run.config.optim
    state["patches_drawn"] += int(raw["lst_1km"].shape[0])
    state["rejected_draws"] += int(raw.pop("rejected_draws").sum())
    state["fallback_draws"] += int(raw.pop("fallback_draws").sum())
    batch = {k: v.to(run.ctx.device, non_blocking=True) for k, v in raw.items()}
    run.opt.zero_grad(set_to_none=True)
    if run.autocast is not None:
        with run.autocast:
            loss, parts = run.objective(run.model, batch)
    else:
        loss, parts = run.objective(run.model, batch)
    if not torch.isfinite(loss):
        raise ConfigError(
            f"{run.config.name}: training loss became {float(loss)} at step {state['step']}"
        )
    run.scaler.scale(loss).backward()
    if o.grad_clip:
        run.scaler.unscale_(run.opt)
        nn.utils.clip_grad_norm_(run.net.parameters(), o.grad_clip)
    run.scaler.step(run.opt)
    run.scaler.update()
    run.sched.step()
    state["step"] += 1
    state["recent_losses"] = [*state["recent_losses"][-19:], float(loss.detach())]
    return loss, parts


def _log_step(run: _Run, metrics_path: Path, epoch: int, parts: dict[str, float],
              elapsed: float, bar: Any) -> None:
    mean_loss = all_reduce_mean(run.state["recent_losses"][-1], run.ctx)
    bar.set_postfix(loss=f"{mean_loss:.4g}")
    if run.ctx.is_main:
        _append_jsonl(
            metrics_path,
            {"step": run.state["step"], "epoch": epoch, "lr": run.sched.get_last_lr()[0],
             "train_loss": mean_loss, **parts, "elapsed_s": elapsed},
        )


def _check_validation(run: _Run, metrics_path: Path) -> None:
    """Validate (MODIS only), keep the best weights, decide early stopping."""
    state, step = run.state, run.state["step"]
    metrics = _validate(run.net, run.val_items, run.objective, run.norm, run.ctx)
    state["last_val"] = metrics
    if run.ctx.is_main:
        _append_jsonl(metrics_path, {"step": step, **metrics})
    es = run.config.early_stopping
    if metrics["val_loss"] < state["best_val"] - es.min_delta:
        state.update(best_val=metrics["val_loss"], bad_checks=0, best_step=step)
        run.best_weights = {k: v.detach().clone() for k, v in run.net.state_dict().items()}
    else:
        state["bad_checks"] += 1
        if es.enabled and state["bad_checks"] >= es.patience:
            state["stopped_early"] = True
            log.info("early stop at step %d (best %d)", step, state["best_step"])


def _loop(run: _Run, out: Path, *, stop_after: int | None, progress: bool) -> None:
    """Optimiser steps until ``max_steps``, early stopping or ``stop_after`` steps."""
    from tqdm.auto import tqdm

    config, o, state = run.config, run.config.optim, run.state
    metrics_path = out / METRICS
    bar = tqdm(total=o.max_steps, initial=state["step"],
               disable=not (progress and run.ctx.is_main), desc=config.name, unit="step",
               dynamic_ncols=True)
    steps_this_call = 0
    current_epoch: int | None = None
    batches: Iterator[dict[str, torch.Tensor]] = iter(())
    run.model.train()
    t_loop = time.perf_counter()
    while state["step"] < o.max_steps and not state["stopped_early"]:
        if stop_after is not None and steps_this_call >= stop_after:
            break
        epoch, b = divmod(state["step"], run.per_epoch)
        if current_epoch != epoch:
            run.train_ds.set_epoch(epoch)
            batches = _iter_batches(
                run.train_ds, _epoch_batches(run.sampler, epoch, o.batch_size)[b:],
                num_workers=config.data.num_workers, pin=run.ctx.device.type == "cuda",
            )
            current_epoch = epoch
        _, parts = _step(run, next(batches))
        step = state["step"]
        steps_this_call += 1
        bar.update(1)
        if step % config.log_every == 0 or step == o.max_steps:
            elapsed = state["train_time_s"] + time.perf_counter() - t_loop
            _log_step(run, metrics_path, epoch, parts, elapsed, bar)
        validating = bool(run.val_items) and (
            step % config.validate_every == 0 or step == o.max_steps
        )
        if validating or step % config.checkpoint_every == 0:
            sync_buffers(run.net, run.ctx)
        if validating:
            _check_validation(run, metrics_path)
        if step % config.checkpoint_every == 0:
            state["train_time_s"] += time.perf_counter() - t_loop
            t_loop = time.perf_counter()
            _save_checkpoint(run, out)
    bar.close()
    state["train_time_s"] += time.perf_counter() - t_loop
    sync_buffers(run.net, run.ctx)
    _save_checkpoint(run, out)


def _release(run: _Run, out: Path, wall_s: float) -> None:
    """Load the best weights, validate them and write the model folder (rank 0)."""
    ctx, state = run.ctx, run.state
    if run.best_weights is not None:
        run.net.load_state_dict(run.best_weights)
    draws = {
        k: round(all_reduce_mean(float(state.get(k, 0)), ctx) * ctx.world_size)
        for k in ("patches_drawn", "rejected_draws", "fallback_draws")
    }
    if ctx.is_main:
        single = dataclasses.replace(ctx, rank=0, world_size=1, backend=None)
        final = _validate(run.net, run.val_items, run.objective, run.norm, single)
        card = _card(
            run.config, run.loss_cfg, run.net, run.norm, run.train_ds, run.train_ids,
            run.val_ids, state, final, ctx, wall_s, draws,
        )
        _save(out, run.net, run.norm, card)
        metrics_path = out / METRICS
        if metrics_path.exists():
            write_loss_curve(metrics_path, out / CURVE, title=run.config.name)
    if ctx.distributed:
        import torch.distributed as dist

        dist.barrier()


def _train(
    config: TrainConfig,
    *,
    out: Path,
    data: str | PatchDataset | None,
    ctx: DistContext,
    stop_after: int | None,
    resume: bool,
    progress: bool,
) -> TrainResult:
    t_start = time.perf_counter()
    run = _setup(config, data, ctx)
    _restore(run, out, resume=resume)
    _loop(run, out, stop_after=stop_after, progress=progress)
    state = run.state
    finished = state["step"] >= config.optim.max_steps or state["stopped_early"]
    if not finished:
        return TrainResult(out, state["step"], False, False, run.net, ctx.world_size)
    _release(run, out, time.perf_counter() - t_start)
    return TrainResult(
        out, state["step"], bool(state["stopped_early"]), True, run.net, ctx.world_size
    )


def _card(
    config: TrainConfig,
    loss_cfg: LossConfig,
    net: SIFCNN,
    norm: Normalization,
    train_ds: PatchDataset,
    train_ids: list[str],
    val_ids: list[str],
    state: dict[str, Any],
    final: dict[str, float],
    ctx: DistContext,
    wall_s: float,
    draws: dict[str, int] | None = None,
) -> dict[str, Any]:
    data = train_ds.describe()
    data.pop("samples", None)
    data.update(
        train_samples=train_ids,
        validation_samples=val_ids,
        split="by sample" if data.get("source") == "dev-folder" else "by day",
        patch_1km=config.data.patch_1km,
        min_valid=config.data.min_valid,
    )
    if draws is not None:
        data["patch_draws"] = {
            **draws,
            "note": (
                "every training patch passed min_valid (LST and NDVI); rejected_draws counts "
                "candidate windows redrawn, fallback_draws the patches drawn among the windows "
                "known to pass after 64 rejections (all ranks)"
            ),
        }
    method = (
        "scale-invariance-free: trained 1 km -> 250 m with the SIF loss"
        if config.method == "sif"
        else "scale-consistency: trained 4 km -> 1 km (MSE on the 1 km LST), applied 1 km -> 250 m"
    )
    return {
        "name": config.name,
        "description": config.description,
        "method": config.method,
        "method_description": method,
        "parameters": count_parameters(net),
        "normalization": norm.to_dict(),
        "loss": {"preset": config.loss, **loss_cfg.to_dict()},
        "training_data": data,
        "validation": final,
        "training": {
            "steps": state["step"],
            "stopped_early": bool(state["stopped_early"]),
            "best_step": state["best_step"],
            "final_train_loss": float(np.mean(state["recent_losses"])),
            "final_train_loss_note": "mean over the last 20 steps (rank 0)",
            "best_val_loss": None if math.isinf(state["best_val"]) else state["best_val"],
            "train_time_s": round(state["train_time_s"], 2),
            "wall_time_s": round(wall_s, 2),
            "device": str(ctx.device),
            "world_size": ctx.world_size,
            "torch": torch.__version__,
            "machine": platform.machine(),
            "seed": config.seed,
            "config": _portable_config(config),
        },
    }


def _portable_config(config: TrainConfig) -> dict[str, Any]:
    """The config as the card records it: a local data path becomes its folder name (cards
    are packaged data: no machine paths)."""
    data = config.model_dump(mode="json")
    path = data["data"].get("path")
    if path and "://" not in path:
        data["data"]["path"] = Path(path).name
    return data


_RF_CACHE: dict[str, tuple[int, int]] = {}


def _save(out: Path, net: SIFCNN, norm: Normalization, card: dict[str, Any]) -> None:
    """Write the model folder; the receptive field is measured once per architecture and
    process (the gradient probe depends on the layer layout, not on the trained values)."""
    clone = SIFCNN(net.config)
    clone.load_state_dict({k: v.detach().cpu() for k, v in net.state_dict().items()})
    key = json.dumps(net.config.to_dict(), sort_keys=True)
    card = dict(card)
    if key in _RF_CACHE:
        card["receptive_field_px"], card["receptive_field_exact_px"] = _RF_CACHE[key]
    model = CNNModel(clone, norm, name=card["name"], card=card, device="cpu")
    saved = save_model(out, model)
    written = json.loads((saved / "model.json").read_text(encoding="utf-8"))
    _RF_CACHE[key] = (written["receptive_field_px"], written["receptive_field_exact_px"])


def iter_records(metrics_path: Path) -> Iterator[dict[str, Any]]:
    """Records of a ``metrics.jsonl``."""
    for line in Path(metrics_path).read_text(encoding="utf-8").splitlines():
        if line.strip():
            yield json.loads(line)
