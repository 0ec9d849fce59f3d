#!/usr/bin/env bash
# Distributed training with torchrun: nccl on GPUs, gloo on CPU (chosen automatically).
# Usage: bash tools/dist_train.sh CONFIG NUM_PROCESSES [train.py args...]
set -euo pipefail
CONFIG=$1
NPROC=$2
NNODES=${NNODES:-1}
NODE_RANK=${NODE_RANK:-0}
PORT=${PORT:-29500}
MASTER_ADDR=${MASTER_ADDR:-127.0.0.1}
DIR="$(cd "$(dirname "$0")/.." && pwd)"
PYTHON=${PYTHON:-$([ -x "$DIR/.venv/bin/python" ] && echo "$DIR/.venv/bin/python" || echo python3)}
PYTHONPATH="$DIR:${PYTHONPATH:-}" \
"$PYTHON" -m torch.distributed.run --nnodes="$NNODES" --node_rank="$NODE_RANK" \
  --master_addr="$MASTER_ADDR" --nproc_per_node="$NPROC" --master_port="$PORT" \
  "$DIR/tools/train.py" "$CONFIG" --launcher pytorch "${@:3}"
