"""``lstcloud train``: train SIF-CNN-SR1/SR2 or SC-UNet from a YAML config.

Examples
--------
``lstcloud train --config training/configs/sif-cnn-sr1.yaml --out runs/sr1``
``torchrun --nproc-per-node 4 -m lstcloud train --config ... --out ... --device cuda``
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

__all__ = ["register"]


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``train`` subcommand."""
    parser = subparsers.add_parser(
        "train",
        help="train a super-resolution model (SIF-CNN-SR1/SR2, SC-UNet)",
        description=(
            "Train the SIF-CNN U-Net from a YAML config and write a model folder "
            "(model.safetensors + model.json, metrics.jsonl, loss_curve.png, checkpoints/). "
            "Re-running the same command resumes from the last checkpoint. Under torchrun "
            "every process trains one DDP replica (nccl on CUDA, gloo on CPU)."
        ),
    )
    parser.add_argument("--config", required=True, type=Path, help="training YAML config")
    parser.add_argument(
        "--data",
        default=None,
        help="dev folder (folders of modis_lst_1km.tif + modis_ndvi_250m.tif) or input cube URL; "
        "overrides data.path of the config",
    )
    parser.add_argument("--out", required=True, type=Path, help="output model folder")
    parser.add_argument(
        "--device",
        choices=("auto", "cpu", "cuda"),
        default=None,
        help="overrides the config's device (default: the config's)",
    )
    parser.add_argument(
        "--max-steps",
        type=int,
        default=None,
        help="overrides optim.max_steps (and the schedule length)",
    )
    parser.add_argument("--start", default=None, help="cube window start (YYYY-MM-DD)")
    parser.add_argument("--end", default=None, help="cube window end (YYYY-MM-DD)")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument(
        "--no-resume",
        action="store_true",
        help="ignore an existing checkpoint in --out and start afresh",
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from lstcloud.training import load_config, train

    overrides = {}
    if args.start:
        overrides["data.start"] = args.start
    if args.end:
        overrides["data.end"] = args.end
    if args.threads:
        overrides["num_threads"] = args.threads
    config = load_config(args.config, **overrides)
    folder = train(
        config,
        out=args.out,
        data=args.data,
        device=args.device,
        max_steps=args.max_steps,
        resume=not args.no_resume,
        progress=not args.no_progress,
    )
    card_path = Path(folder) / "model.json"
    if card_path.exists() and int(os.environ.get("RANK", "0")) == 0:  # torchrun: rank 0 speaks
        card = json.loads(card_path.read_text(encoding="utf-8"))
        t = card.get("training", {})
        v = card.get("validation", {})
        print(f"model {card.get('name')} -> {folder}")
        print(
            f"  steps {t.get('steps')}  train loss {t.get('final_train_loss'):.4g}  "
            f"wall {t.get('wall_time_s')} s"
        )
        if v:
            print(
                f"  validation loss {v.get('val_loss'):.4g}  Wald RMSE "
                f"{v.get('wald_rmse_K'):.3f} K (bicubic {v.get('wald_rmse_bicubic_K'):.3f} K)"
            )
    return 0
