"""Distillation: one network trained to reproduce a teacher model's output (``method: distill``).

The production cost of lstcloud is the cost of ``default`` per pixel. An ensemble over seeds and
flips (``ensemble``: 20 network passes) is slightly more accurate than any of its members; a
student with the members' architecture, trained to reproduce the ensemble's output, runs in one
pass. What the student learns from, all MODIS (the ASTER files are never opened):

- the teacher's 250 m output on each training scene (LST 1 km + NDVI 250 m, whole scenes, so
  the target's context is the input's), in the eight flips / rot90 of the scene (the teacher's
  output is flipped with the input: its flips TTA makes it flip-equivariant);
- the teacher's 1 km output on a coarsened copy of each scene (LST 4 km by block means, NDVI
  1 km by block means): the scale-invariance assumption of the seed paper, weighted by
  ``distill.coarse_weight``.

The student is trained *through* its post-processing (``distill.postprocess``, e.g. the low-pass
residual correction of the 1 km means), so the shipped pipeline is what matches the teacher.
The loss is the mean squared difference in K^2 over the pixels whose 1 km LST is valid. Early
stopping uses the same loss on the validation scenes (drawn among the training scenes, as for
the other methods). The student starts from teacher member ``distill.init_from_member``'s
weights and normalisation when given.

Under cross-validation (:func:`lstcloud.training.folds.train_fold_member`) the teacher is the
fold's own teacher, rebuilt from ``distill.teacher_recipe`` on the training folds' scenes, so no
held-out scene's inputs reach its student.
"""

from __future__ import annotations

import json
import logging
import math
import platform
import random
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from lstcloud.errors import ConfigError
from lstcloud.models.base import default_device
from lstcloud.models.cnn import CNNModel, save_model
from lstcloud.models.ensemble import ENSEMBLE, combine_models
from lstcloud.models.network import SIFCNN, NetworkConfig, count_parameters
from lstcloud.models.normalization import Normalization
from lstcloud.models.registry import load_model
from lstcloud.ops import degrade_np
from lstcloud.training.config import TrainConfig, recorded_config
from lstcloud.training.data import DevFolderPairs, default_dev_folder, split_ids
from lstcloud.training.loop import _lr_lambda, _portable_config, write_loss_curve

__all__ = ["Targets", "distill", "teacher_recipe"]

log = logging.getLogger(__name__)

METRICS = "metrics.jsonl"
CURVE = "loss_curve.png"


def teacher_recipe(model: Any) -> dict[str, Any]:
    """The recipe of a teacher model read from its card: member training configs, TTA, and
    post-processing (what the cross-validation needs to rebuild it per fold)."""
    card = model.card
    members = list(getattr(model, "members", None) or [model])
    return {
        "members": [recorded_config(m.card, f"teacher {card.get('name')!r} member "
                                            f"{m.card.get('name')!r}") for m in members],
        "tta": str(card.get("tta", "none")) if card.get("architecture") == ENSEMBLE else "none",
        "postprocess": card.get("postprocess"),
    }


def _teacher(config: TrainConfig, device: torch.device) -> tuple[Any, dict[str, Any]]:
    """The teacher model and its recipe (the fold's members when ``teacher_folders`` is set)."""
    d = config.distill
    assert d is not None
    if d.teacher_folders:
        if not d.teacher_recipe:
            raise ConfigError(f"{config.name}: distill.teacher_folders needs a teacher_recipe")
        recipe = d.teacher_recipe
        models = [load_model(f, device=device) for f in d.teacher_folders]
        return combine_models(models, name=d.teacher, tta=recipe.get("tta", "none"),
                              postprocess=recipe.get("postprocess")), recipe
    teacher = load_model(d.teacher, device=device)
    return teacher, teacher_recipe(teacher)


def _members(teacher: Any) -> list[CNNModel]:
    return list(getattr(teacher, "members", None) or [teacher])


@dataclass
class Targets:
    """Inputs and teacher outputs of one scene: ``fine`` (1 km -> 250 m) and ``coarse``
    (4 km -> 1 km), each ``(lst, ndvi, target)`` float32 arrays (NaN where undefined)."""

    fine: tuple[np.ndarray, np.ndarray, np.ndarray]
    coarse: tuple[np.ndarray, np.ndarray, np.ndarray] | None


def _coarsen(lst: np.ndarray, ndvi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    h, w = (s // 16 * 16 for s in lst.shape)
    lst4 = degrade_np(lst[:h, :w], method="mean", factor=4)
    ndvi1 = degrade_np(ndvi[: 4 * h, : 4 * w], method="mean", factor=4, min_valid=0.5)
    return lst4.astype(np.float32), ndvi1[:h, :w].astype(np.float32)


def teacher_targets(teacher: Any, lst: np.ndarray, ndvi: np.ndarray, *, coarse: bool) -> Targets:
    """The teacher's outputs on a scene (cropped to a multiple of 8 1 km pixels)."""
    h, w = (s // 8 * 8 for s in lst.shape)
    lst, ndvi = lst[:h, :w], ndvi[: 4 * h, : 4 * w]
    fine = (lst, ndvi, np.asarray(teacher.predict(lst, ndvi), np.float32))
    small = None
    if coarse and min(h, w) >= 32:
        lst4, ndvi1 = _coarsen(lst, ndvi)
        small = (lst4, ndvi1, np.asarray(teacher.predict(lst4, ndvi1), np.float32))
    return Targets(fine, small)


def _d4(a: np.ndarray, k: int) -> np.ndarray:
    """Transform ``k`` (0-7) of the dihedral group: rot90 by ``k % 4``, flipped if ``k >= 4``."""
    out = np.rot90(a, k % 4, axes=(-2, -1))
    return np.ascontiguousarray(out[..., ::-1] if k >= 4 else out)


def _batch(
    items: list[tuple[np.ndarray, np.ndarray, np.ndarray]], rng: np.random.Generator,
    device: torch.device,
) -> dict[str, torch.Tensor]:
    """Items of one shape, each in a random D4 transform, stacked ``(N, 1, H, W)``."""
    ks = rng.integers(0, 8, size=len(items))
    return {
        name: torch.from_numpy(
            np.stack([_d4(it[i], int(k)) for it, k in zip(items, ks, strict=True)])
        )[:, None].to(device)
        for i, name in enumerate(("lst", "ndvi", "target"))
    }


def _loss(student: CNNModel, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """Mean squared difference (K^2) to the target over pixels with valid 1 km LST."""
    out = student.forward_kelvin(batch["lst"], batch["ndvi"])
    valid = torch.isfinite(batch["target"]) & torch.isfinite(
        torch.nn.functional.interpolate(batch["lst"], scale_factor=4, mode="nearest")
    )
    diff = torch.where(valid, out - torch.nan_to_num(batch["target"]), 0.0)
    return (diff**2).sum() / valid.sum().clamp(min=1)


def _student(config: TrainConfig, teacher: Any, train_scenes: list[Any],
             device: torch.device) -> CNNModel:
    d = config.distill
    assert d is not None
    if d.init_from_member is not None:
        members = _members(teacher)
        if d.init_from_member >= len(members):
            raise ConfigError(f"{config.name}: distill.init_from_member {d.init_from_member} "
                              f"but the teacher has {len(members)} member(s)")
        src = members[d.init_from_member]
        net = SIFCNN(src.network.config)
        net.load_state_dict({k: v.detach().cpu().clone() for k, v in
                             src.network.state_dict().items()})
        norm = src.normalization
    else:
        net = SIFCNN(NetworkConfig.from_dict(config.network))
        lst = np.concatenate([s.lst_1km.ravel() for s in train_scenes])
        ndvi = np.concatenate([s.ndvi_250m.ravel() for s in train_scenes])
        norm = Normalization.from_arrays(lst, ndvi)
    return CNNModel(net, norm, name=config.name, postprocess=d.postprocess, device=device,
                    receptive_field_px=0)  # (the halo is not used in training)


def _validate(student: CNNModel, items: list[Targets], *, train_mode: bool) -> float:
    """Mean of the per-scene losses (K^2) on the validation scenes, untransformed."""
    student.network.eval()
    with torch.no_grad():
        losses = [
            float(_loss(student, {name: torch.from_numpy(a)[None, None].to(student.device)
                                  for name, a in zip(("lst", "ndvi", "target"), t.fine,
                                                     strict=True)}))
            for t in items
        ]
    student.network.train(train_mode)
    return float(np.mean(losses)) if losses else math.nan


def _fit(config: TrainConfig, student: CNNModel, targets: dict[str, Targets],
         train_ids: list[str], val_items: list[Targets], metrics_path: Path, *,
         progress: bool) -> dict[str, Any]:
    """The optimiser loop: best weights (validation loss) loaded into ``student`` at the end."""
    d = config.distill
    assert d is not None
    rng = np.random.default_rng(config.seed)
    net = student.network
    # fine-tuning a member: its BatchNorm statistics stay frozen (a batch of two scenes would
    # replace them with noisy ones); a fresh network learns them
    frozen_bn = d.init_from_member is not None
    net.train(not frozen_bn)
    o = config.optim
    opt = torch.optim.AdamW(net.parameters(), lr=o.lr, weight_decay=o.weight_decay)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: _lr_lambda(s, warmup=o.warmup_steps, total=o.max_steps,
                                  schedule=o.schedule, min_ratio=o.min_lr_ratio))
    best = (math.inf, 0, {k: v.detach().clone() for k, v in net.state_dict().items()})
    bad, step, recent, stopped = 0, 0, [], False
    t_loop = time.perf_counter()
    with metrics_path.open("w", encoding="utf-8") as metrics:
        while step < o.max_steps and not stopped:
            ids = rng.choice(train_ids, size=min(d.batch_scenes, len(train_ids)), replace=False)
            loss = _loss(student, _batch([targets[s].fine for s in ids], rng, student.device))
            coarse = [targets[s].coarse for s in ids if targets[s].coarse is not None]
            if coarse and d.coarse_weight > 0:
                loss = loss + d.coarse_weight * _loss(student, _batch(coarse, rng,
                                                                      student.device))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            if o.grad_clip:
                torch.nn.utils.clip_grad_norm_(net.parameters(), o.grad_clip)
            opt.step()
            sched.step()
            step += 1
            recent = [*recent[-19:], float(loss.detach())]
            if step % config.validate_every and step != o.max_steps:
                continue
            val = (_validate(student, val_items, train_mode=not frozen_bn) if val_items
                   else float(np.mean(recent)))
            record = {"step": step, "train_loss": float(np.mean(recent)), "val_loss": val}
            metrics.write(json.dumps(record) + "\n")
            metrics.flush()
            (log.info if progress else log.debug)(
                "%s: step %d train %.4f K^2 val %.4f K^2", config.name, step, record["train_loss"],
                val)
            if val < best[0] - config.early_stopping.min_delta:
                best, bad = (val, step, {k: v.detach().clone()
                                         for k, v in net.state_dict().items()}), 0
            else:
                bad += 1
                stopped = config.early_stopping.enabled and bad >= config.early_stopping.patience
    net.load_state_dict(best[2])
    net.eval()
    return {
        "steps": step, "stopped_early": stopped, "best_step": best[1],
        "final_train_loss": float(np.mean(recent)) if recent else None,
        "best_val_loss": None if math.isinf(best[0]) else best[0],
        "train_time_s": round(time.perf_counter() - t_loop, 2),
    }


def distill(config: TrainConfig, *, out: str | Path, progress: bool = False) -> Path:
    """Train the student of ``config.distill`` and write its model folder ``out``.

    Parameters
    ----------
    config
        A ``method: distill`` config on a dev folder (``data.source`` ``dev-folder``/``auto``).
    out
        Output folder (``model.safetensors``, ``model.json``, ``metrics.jsonl``).
    progress
        Log every validation at INFO.

    Returns
    -------
    pathlib.Path
        ``out``.
    """
    d = config.distill
    if config.method != "distill" or d is None:
        raise ConfigError(f"{config.name}: distill() needs a 'method: distill' config")
    t0 = time.perf_counter()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    if config.num_threads:
        torch.set_num_threads(config.num_threads)
    torch.manual_seed(config.seed)
    random.seed(config.seed)

    root = config.data.path or default_dev_folder()
    if config.data.source == "cube" or "://" in str(root) or str(root).endswith(".zarr"):
        raise ConfigError(f"{config.name}: distillation reads dev folders (MODIS LST + NDVI "
                          f"pairs), not a cube: {root}")
    dataset = DevFolderPairs(root, samples=config.data.samples, patch_1km=8, min_valid=0.0)
    train_ids, val_ids = split_ids(dataset.sample_ids, val_fraction=config.data.val_fraction,
                                   seed=config.seed, val_ids=config.data.val_samples)
    scenes = dataset.scenes
    device = default_device(None if config.device == "auto" else config.device)
    teacher, recipe = _teacher(config, device)
    t_targets = time.perf_counter()
    targets = {
        sid: teacher_targets(teacher, scenes[sid].lst_1km, scenes[sid].ndvi_250m,
                             coarse=d.coarse_weight > 0 and sid in train_ids)
        for sid in [*train_ids, *val_ids]
    }
    t_targets = time.perf_counter() - t_targets
    student = _student(config, teacher, [scenes[s] for s in train_ids], device)
    state = _fit(config, student, targets, train_ids, [targets[s] for s in val_ids],
                 out / METRICS, progress=progress)
    state["teacher_targets_time_s"] = round(t_targets, 2)
    state["wall_time_s"] = round(time.perf_counter() - t0, 2)
    net = student.network
    stored = config.with_updates(**{"distill.teacher_recipe": recipe})
    card = _card(stored, student, dataset, train_ids, val_ids, state, teacher)
    same = [m for m in _members(teacher)
            if m.network.config.to_dict() == net.config.to_dict()]
    if same:  # the halo is the architecture's: no need to probe it again
        card["receptive_field_network_px"] = same[0].receptive_field_network_px
    model = CNNModel(SIFCNN(net.config), student.normalization, name=config.name, card=card,
                     device="cpu")
    model.network.load_state_dict({k: v.cpu() for k, v in net.state_dict().items()})
    save_model(out, model)
    write_loss_curve(out / METRICS, out / CURVE, title=config.name)
    return out


def _card(config: TrainConfig, student: CNNModel, dataset: DevFolderPairs, train_ids: list[str],
          val_ids: list[str], state: dict[str, Any], teacher: Any) -> dict[str, Any]:
    d = config.distill
    assert d is not None
    data = dataset.describe()
    data.pop("samples", None)
    data.update(train_samples=train_ids, validation_samples=val_ids, split="by sample")
    passes = int(getattr(teacher, "passes", 1))
    return {
        "name": config.name,
        "description": config.description,
        "method": "distill",
        "method_description": (
            f"distilled: trained to reproduce {d.teacher!r} ({passes} network passes) on the "
            "MODIS inputs of its training scenes (whole scenes in 8 flips/rot90, plus their "
            "4 km -> 1 km coarsened copies), through its own post-processing; MSE in K^2"
        ),
        "parameters": count_parameters(student.network),
        "normalization": student.normalization.to_dict(),
        "loss": None,
        "postprocess": d.postprocess,
        "passes": 1,
        "teacher": {"name": d.teacher, "passes": passes,
                    "members": [m.card.get("name") for m in _members(teacher)]},
        "training_data": data,
        "validation": {"distillation_mse_k2": state["best_val_loss"],
                       "note": "MSE (K^2) between the student's and the teacher's output on the "
                               "validation scenes (MODIS inputs only)"},
        "training": {
            **state,
            "device": str(student.device),
            "torch": torch.__version__,
            "machine": platform.machine(),
            "seed": config.seed,
            "config": _portable_config(config),
        },
    }
