#!/usr/bin/env bash
# Train on one GPU node with DistributedDataParallel: one process per GPU (nccl), bf16 autocast.
#
# usage: training/launch_torchrun.sh CONFIG OUT [DATA] [extra `lstcloud train` options...]
#   CONFIG  training/configs/<preset>.yaml
#   OUT     model folder (re-running the same command resumes from OUT/checkpoints/last.pt)
#   DATA    input cube URL (s3://bucket/input.zarr) or dev folder; default: the config's data.path
# environment:
#   NPROC        processes (GPUs) on this node      (default: all visible GPUs, else 1)
#   NNODES       nodes in the job                   (default 1)
#   NODE_RANK    this node's rank                   (default 0)
#   MASTER_ADDR  rendezvous host (multi-node)        (default 127.0.0.1)
#   MASTER_PORT  rendezvous port                     (default 29500)
#   OMP_NUM_THREADS  CPU threads per process (data loading / bicubic on CPU; default 4)
# The batch size in the config is per process: the effective batch is NPROC * NNODES * batch.
# On CPU-only machines the same script runs gloo DDP (e.g. NPROC=2 for a smoke test).
set -euo pipefail
if [ $# -lt 2 ]; then
  sed -n '2,17p' "$0"; exit 2
fi
CONFIG=$1; OUT=$2; shift 2
DATA_ARGS=()
if [ $# -gt 0 ] && [[ $1 != --* ]]; then DATA_ARGS=(--data "$1"); shift; fi

if command -v nvidia-smi >/dev/null 2>&1; then
  GPUS=$(nvidia-smi --list-gpus | wc -l); DEVICE=cuda
else
  GPUS=1; DEVICE=cpu
fi
NPROC=${NPROC:-$GPUS}
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-4}
export NCCL_ASYNC_ERROR_HANDLING=${NCCL_ASYNC_ERROR_HANDLING:-1}

exec torchrun \
  --nnodes "${NNODES:-1}" --node-rank "${NODE_RANK:-0}" --nproc-per-node "$NPROC" \
  --master-addr "${MASTER_ADDR:-127.0.0.1}" --master-port "${MASTER_PORT:-29500}" \
  -m lstcloud train --config "$CONFIG" --out "$OUT" --device "$DEVICE" --no-progress \
  "${DATA_ARGS[@]}" "$@"
